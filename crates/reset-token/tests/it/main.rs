//! Tokens against a real database (SQLite, or PostgreSQL when
//! `LATCHKEY_TEST_DATABASE_URL` is set).

use std::sync::Arc;

use chrono::{Duration, Utc};
use migrations::testing::fresh_database;
use reset_token::{
    RedeemError, TokenCheck, TokenKeys, TokenPurpose, TokenState, UrlToken, check_token,
    mint_token, redeem_token, revoke_tokens,
};
use tenancy::{NewTenant, Tenant, TenantSlug};
use uuid::Uuid;

async fn firm(db: &storage::Database, slug: &str) -> Tenant {
    let new = NewTenant::new(TenantSlug::parse(slug).unwrap(), slug, "admin@firm.test").unwrap();
    tenancy::create_tenant(db, new, Utc::now()).await.unwrap()
}

fn keys() -> TokenKeys {
    TokenKeys::new(b"test key of at least thirty-two bytes", &[])
}

const FIFTEEN: Duration = Duration::minutes(15);

#[tokio::test]
async fn a_token_is_checked_without_being_used_then_used_once() {
    let database = fresh_database().await;
    let db = &database.connection;
    let acme = firm(db, "acme").await;
    let now = Utc::now();
    let account = Uuid::now_v7();
    let minted = mint_token(
        db,
        &keys(),
        acme.id,
        TokenPurpose::Reset,
        "contact",
        account,
        FIFTEEN,
        now,
    )
    .await
    .unwrap();
    // PostgreSQL keeps microseconds, the clock has nanoseconds.
    assert!(
        (minted.record.expires_at - (now + FIFTEEN))
            .num_milliseconds()
            .abs()
            < 1
    );

    for _ in 0..3 {
        let check = check_token(
            db,
            &keys(),
            acme.id,
            TokenPurpose::Reset,
            &minted.token,
            now,
        )
        .await
        .unwrap();
        assert!(
            matches!(check, TokenCheck::Valid(_)),
            "checking changes nothing"
        );
    }
    let redeemed = redeem_token(
        db,
        &keys(),
        acme.id,
        TokenPurpose::Reset,
        &minted.token,
        now,
    )
    .await
    .unwrap();
    assert_eq!(redeemed.state, TokenState::Consumed);
    assert_eq!(redeemed.account_id, account);
    let again = redeem_token(
        db,
        &keys(),
        acme.id,
        TokenPurpose::Reset,
        &minted.token,
        now,
    )
    .await;
    assert!(matches!(again, Err(RedeemError::Used)));
    let check = check_token(
        db,
        &keys(),
        acme.id,
        TokenPurpose::Reset,
        &minted.token,
        now,
    )
    .await
    .unwrap();
    assert!(matches!(check, TokenCheck::Used(_)));
}

#[tokio::test]
async fn a_token_expires_with_a_moved_clock() {
    let database = fresh_database().await;
    let db = &database.connection;
    let acme = firm(db, "acme").await;
    let now = Utc::now();
    let minted = mint_token(
        db,
        &keys(),
        acme.id,
        TokenPurpose::Reset,
        "contact",
        Uuid::now_v7(),
        FIFTEEN,
        now,
    )
    .await
    .unwrap();
    let almost = now + FIFTEEN - Duration::seconds(1);
    assert!(matches!(
        check_token(
            db,
            &keys(),
            acme.id,
            TokenPurpose::Reset,
            &minted.token,
            almost
        )
        .await
        .unwrap(),
        TokenCheck::Valid(_)
    ));
    let late = now + FIFTEEN;
    assert!(matches!(
        check_token(
            db,
            &keys(),
            acme.id,
            TokenPurpose::Reset,
            &minted.token,
            late
        )
        .await
        .unwrap(),
        TokenCheck::Expired(_)
    ));
    let redeemed = redeem_token(
        db,
        &keys(),
        acme.id,
        TokenPurpose::Reset,
        &minted.token,
        late,
    )
    .await;
    assert!(matches!(redeemed, Err(RedeemError::Expired)));
}

#[tokio::test]
async fn a_new_token_supersedes_the_older_ones_of_every_purpose() {
    let database = fresh_database().await;
    let db = &database.connection;
    let acme = firm(db, "acme").await;
    let now = Utc::now();
    let account = Uuid::now_v7();
    let first = mint_token(
        db,
        &keys(),
        acme.id,
        TokenPurpose::Reset,
        "contact",
        account,
        FIFTEEN,
        now,
    )
    .await
    .unwrap();
    let invite = mint_token(
        db,
        &keys(),
        acme.id,
        TokenPurpose::Invite,
        "contact",
        account,
        FIFTEEN,
        now,
    )
    .await
    .unwrap();
    let second = mint_token(
        db,
        &keys(),
        acme.id,
        TokenPurpose::Reset,
        "contact",
        account,
        FIFTEEN,
        now,
    )
    .await
    .unwrap();
    assert_eq!(
        check_token(db, &keys(), acme.id, TokenPurpose::Reset, &first.token, now)
            .await
            .unwrap(),
        TokenCheck::Invalid
    );
    assert!(matches!(
        check_token(
            db,
            &keys(),
            acme.id,
            TokenPurpose::Reset,
            &second.token,
            now
        )
        .await
        .unwrap(),
        TokenCheck::Valid(_)
    ));
    assert_eq!(
        check_token(
            db,
            &keys(),
            acme.id,
            TokenPurpose::Invite,
            &invite.token,
            now
        )
        .await
        .unwrap(),
        TokenCheck::Invalid,
        "a newer link of another purpose ends an older invitation too"
    );
}

#[tokio::test]
async fn forged_foreign_and_revoked_tokens_are_all_just_invalid() {
    let database = fresh_database().await;
    let db = &database.connection;
    let acme = firm(db, "acme").await;
    let globex = firm(db, "globex").await;
    let now = Utc::now();
    let account = Uuid::now_v7();
    let minted = mint_token(
        db,
        &keys(),
        acme.id,
        TokenPurpose::Reset,
        "contact",
        account,
        FIFTEEN,
        now,
    )
    .await
    .unwrap();

    let check = |tenant, purpose, token: UrlToken| {
        let keys = keys();
        async move {
            check_token(db, &keys, tenant, purpose, &token, now)
                .await
                .unwrap()
        }
    };
    assert_eq!(
        check(globex.id, TokenPurpose::Reset, minted.token.clone()).await,
        TokenCheck::Invalid,
        "another firm"
    );
    assert_eq!(
        check(acme.id, TokenPurpose::Invite, minted.token.clone()).await,
        TokenCheck::Invalid,
        "another purpose"
    );
    let text = minted.token.expose();
    let (id, _) = text.split_once('.').unwrap();
    let forged = UrlToken::parse(&format!("{id}.{}", "A".repeat(43))).unwrap();
    assert_eq!(
        check(acme.id, TokenPurpose::Reset, forged).await,
        TokenCheck::Invalid,
        "right id, wrong secret"
    );
    assert_eq!(
        check(
            acme.id,
            TokenPurpose::Reset,
            UrlToken::parse(&format!("{}.{}", "A".repeat(22), "A".repeat(43))).unwrap()
        )
        .await,
        TokenCheck::Invalid
    );
    let wrong_key = TokenKeys::new(b"some other key entirely, 32 bytes+", &[]);
    assert_eq!(
        check_token(
            db,
            &wrong_key,
            acme.id,
            TokenPurpose::Reset,
            &minted.token,
            now
        )
        .await
        .unwrap(),
        TokenCheck::Invalid
    );

    assert_eq!(
        revoke_tokens(db, acme.id, "contact", account, None)
            .await
            .unwrap(),
        1
    );
    assert_eq!(
        check(acme.id, TokenPurpose::Reset, minted.token.clone()).await,
        TokenCheck::Invalid,
        "revoked"
    );
}

#[tokio::test]
async fn tokens_survive_a_key_rotation() {
    let database = fresh_database().await;
    let db = &database.connection;
    let acme = firm(db, "acme").await;
    let now = Utc::now();
    let old = TokenKeys::new(b"old key, thirty-two bytes or more!", &[]);
    let minted = mint_token(
        db,
        &old,
        acme.id,
        TokenPurpose::Reset,
        "contact",
        Uuid::now_v7(),
        FIFTEEN,
        now,
    )
    .await
    .unwrap();
    let rotated = TokenKeys::new(
        b"new key, thirty-two bytes or more!",
        &[b"old key, thirty-two bytes or more!"],
    );
    assert!(
        redeem_token(
            db,
            &rotated,
            acme.id,
            TokenPurpose::Reset,
            &minted.token,
            now
        )
        .await
        .is_ok()
    );
}

#[tokio::test]
async fn of_fifty_concurrent_redemptions_exactly_one_wins() {
    let database = fresh_database().await;
    let db = Arc::new(database.connection.clone());
    let acme = firm(&db, "acme").await;
    let now = Utc::now();
    let minted = mint_token(
        &*db,
        &keys(),
        acme.id,
        TokenPurpose::Reset,
        "contact",
        Uuid::now_v7(),
        FIFTEEN,
        now,
    )
    .await
    .unwrap();
    let attempts: Vec<_> = (0..50)
        .map(|_| {
            let db = db.clone();
            let token = minted.token.clone();
            tokio::spawn(async move {
                redeem_token(&*db, &keys(), acme.id, TokenPurpose::Reset, &token, now).await
            })
        })
        .collect();
    let mut wins = 0;
    for attempt in attempts {
        match attempt.await.unwrap() {
            Ok(_) => wins += 1,
            Err(RedeemError::Used | RedeemError::Invalid) => {}
            // SQLite may report a busy writer under this much contention; that is a
            // refusal too, never a second success.
            Err(RedeemError::Store(_)) => {}
            Err(other) => panic!("unexpected: {other}"),
        }
    }
    assert_eq!(wins, 1);
    drop(database);
}

#[tokio::test]
async fn reset_activity_counts_requested_completed_and_expired_in_the_window() {
    let database = fresh_database().await;
    let db = &database.connection;
    let acme = firm(db, "acme").await;
    let other = firm(db, "other").await;
    let now = Utc::now();
    let mint = |tenant: tenancy::TenantId, purpose: TokenPurpose, at: chrono::DateTime<Utc>| {
        let keys = keys();
        async move {
            mint_token(
                db,
                &keys,
                tenant,
                purpose,
                "contact",
                Uuid::now_v7(),
                FIFTEEN,
                at,
            )
            .await
            .unwrap()
        }
    };
    // Two hours ago: one link used, one left to expire.
    let used = mint(acme.id, TokenPurpose::Reset, now - Duration::hours(2)).await;
    redeem_token(
        db,
        &keys(),
        acme.id,
        TokenPurpose::Reset,
        &used.token,
        now - Duration::hours(2),
    )
    .await
    .unwrap();
    mint(
        acme.id,
        TokenPurpose::TemporaryPassword,
        now - Duration::hours(2),
    )
    .await;
    // Still alive, an invitation (not a reset), one from two days ago, another firm's.
    mint(acme.id, TokenPurpose::Reset, now - Duration::minutes(1)).await;
    mint(acme.id, TokenPurpose::Invite, now - Duration::hours(3)).await;
    mint(acme.id, TokenPurpose::Reset, now - Duration::days(2)).await;
    mint(other.id, TokenPurpose::Reset, now - Duration::hours(1)).await;

    let activity = reset_token::reset_activity(db, acme.id, now - Duration::hours(24), now)
        .await
        .unwrap();
    assert_eq!(
        activity,
        reset_token::ResetActivity {
            requested: 3,
            completed: 1,
            expired: 1,
        }
    );
}
