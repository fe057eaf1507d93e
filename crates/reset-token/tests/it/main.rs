//! Tokens against a real database (SQLite, or PostgreSQL when
//! `LATCHKEY_TEST_DATABASE_URL` is set).

use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use migrations::testing::{TestDatabase, fresh_database};
use reset_token::{
    MintedToken, RedeemError, TokenCheck, TokenKeys, TokenPurpose, TokenRecord, TokenState,
    UrlToken, check_token, mint_token, redeem_token, revoke_tokens,
};
use storage::Database;
use tenancy::{AccountRef, ContactId, NewTenant, StaffUserId, TenantId, TenantSlug};

fn keys() -> TokenKeys {
    TokenKeys::new(b"test key of at least thirty-two bytes", &[])
}

const FIFTEEN: Duration = Duration::minutes(15);

fn a_contact() -> AccountRef {
    AccountRef::Contact(ContactId::generate())
}

/// A firm's tokens as the tests use them: living fifteen minutes, under
/// `keys`.
struct Firm {
    db: Database,
    id: TenantId,
    keys: TokenKeys,
}

impl Firm {
    async fn create(db: &Database, slug: &str) -> Self {
        let new =
            NewTenant::new(TenantSlug::parse(slug).unwrap(), slug, "admin@firm.test").unwrap();
        let tenant = tenancy::create_tenant(db, new, Utc::now()).await.unwrap();
        Self {
            db: db.clone(),
            id: tenant.id,
            keys: keys(),
        }
    }

    /// The same firm's tokens under other keys.
    fn with_keys(&self, keys: TokenKeys) -> Self {
        Self {
            db: self.db.clone(),
            id: self.id,
            keys,
        }
    }

    async fn mint(
        &self,
        purpose: TokenPurpose,
        account: AccountRef,
        at: DateTime<Utc>,
    ) -> MintedToken {
        mint_token(&self.db, &self.keys, self.id, purpose, account, FIFTEEN, at)
            .await
            .unwrap()
    }

    async fn check(
        &self,
        purpose: TokenPurpose,
        token: &UrlToken,
        at: DateTime<Utc>,
    ) -> TokenCheck {
        check_token(&self.db, &self.keys, self.id, purpose, token, at)
            .await
            .unwrap()
    }

    async fn redeem(
        &self,
        purpose: TokenPurpose,
        token: &UrlToken,
        at: DateTime<Utc>,
    ) -> Result<TokenRecord, RedeemError> {
        redeem_token(&self.db, &self.keys, self.id, purpose, token, at).await
    }
}

/// A fresh database with a firm for each of `slugs`, and the time to mint tokens at.
async fn firms<const N: usize>(slugs: [&str; N]) -> (TestDatabase, [Firm; N], DateTime<Utc>) {
    let database = fresh_database().await;
    let mut firms = Vec::with_capacity(N);
    for slug in slugs {
        firms.push(Firm::create(&database.connection, slug).await);
    }
    let Ok(firms) = firms.try_into() else {
        unreachable!("one firm a slug")
    };
    (database, firms, Utc::now())
}

#[tokio::test]
async fn a_token_is_checked_without_being_used_then_used_once() {
    let (_database, [acme], now) = firms(["acme"]).await;
    let account = a_contact();
    let minted = acme.mint(TokenPurpose::Reset, account, now).await;
    // PostgreSQL keeps microseconds, the clock has nanoseconds.
    assert!(
        (minted.record.expires_at - (now + FIFTEEN))
            .num_milliseconds()
            .abs()
            < 1
    );

    for _ in 0..3 {
        let check = acme.check(TokenPurpose::Reset, &minted.token, now).await;
        assert!(
            matches!(check, TokenCheck::Valid(_)),
            "checking changes nothing"
        );
    }
    let redeemed = acme
        .redeem(TokenPurpose::Reset, &minted.token, now)
        .await
        .unwrap();
    assert_eq!(redeemed.state, TokenState::Consumed);
    assert_eq!(redeemed.account, account);
    let again = acme.redeem(TokenPurpose::Reset, &minted.token, now).await;
    assert!(matches!(again, Err(RedeemError::Used)));
    let check = acme.check(TokenPurpose::Reset, &minted.token, now).await;
    assert!(matches!(check, TokenCheck::Used(_)));
}

#[tokio::test]
async fn a_token_expires_with_a_moved_clock() {
    let (_database, [acme], now) = firms(["acme"]).await;
    let minted = acme.mint(TokenPurpose::Reset, a_contact(), now).await;
    let almost = now + FIFTEEN - Duration::seconds(1);
    assert!(matches!(
        acme.check(TokenPurpose::Reset, &minted.token, almost).await,
        TokenCheck::Valid(_)
    ));
    let late = now + FIFTEEN;
    assert!(matches!(
        acme.check(TokenPurpose::Reset, &minted.token, late).await,
        TokenCheck::Expired(_)
    ));
    let redeemed = acme.redeem(TokenPurpose::Reset, &minted.token, late).await;
    assert!(matches!(redeemed, Err(RedeemError::Expired)));
}

#[tokio::test]
async fn a_new_token_supersedes_the_older_ones_of_every_purpose() {
    let (_database, [acme], now) = firms(["acme"]).await;
    let account = a_contact();
    let first = acme.mint(TokenPurpose::Reset, account, now).await;
    let invite = acme.mint(TokenPurpose::Invite, account, now).await;
    // A staff user whose id happens to equal the contact's is another account.
    let staff = AccountRef::Staff(StaffUserId::from_uuid(account.as_uuid()));
    let staff_link = acme.mint(TokenPurpose::Reset, staff, now).await;
    let second = acme.mint(TokenPurpose::Reset, account, now).await;
    let older = acme.check(TokenPurpose::Reset, &first.token, now).await;
    assert_eq!(older, TokenCheck::Invalid);
    let newest = acme.check(TokenPurpose::Reset, &second.token, now).await;
    assert!(matches!(newest, TokenCheck::Valid(_)));
    let invitation = acme.check(TokenPurpose::Invite, &invite.token, now).await;
    assert_eq!(
        invitation,
        TokenCheck::Invalid,
        "a newer link of another purpose ends an older invitation too"
    );
    let other_kind = acme
        .check(TokenPurpose::Reset, &staff_link.token, now)
        .await;
    assert!(
        matches!(other_kind, TokenCheck::Valid(_)),
        "another kind of account's link stays"
    );
}

#[tokio::test]
async fn forged_foreign_and_revoked_tokens_are_all_just_invalid() {
    let (database, [acme, globex], now) = firms(["acme", "globex"]).await;
    let db = &database.connection;
    let account = a_contact();
    let minted = acme.mint(TokenPurpose::Reset, account, now).await;

    let text = minted.token.expose();
    let (id, _) = text.split_once('.').unwrap();
    let forged = UrlToken::parse(&format!("{id}.{}", "A".repeat(43))).unwrap();
    let unknown = UrlToken::parse(&format!("{}.{}", "A".repeat(22), "A".repeat(43))).unwrap();
    let wrong_key = acme.with_keys(TokenKeys::new(b"some other key entirely, 32 bytes+", &[]));
    let cases = [
        ("another firm", &globex, TokenPurpose::Reset, &minted.token),
        (
            "another purpose",
            &acme,
            TokenPurpose::Invite,
            &minted.token,
        ),
        (
            "right id, wrong secret",
            &acme,
            TokenPurpose::Reset,
            &forged,
        ),
        ("an unknown id", &acme, TokenPurpose::Reset, &unknown),
        (
            "another key",
            &wrong_key,
            TokenPurpose::Reset,
            &minted.token,
        ),
    ];
    for (case, firm, purpose, token) in cases {
        let check = firm.check(purpose, token, now).await;
        assert_eq!(check, TokenCheck::Invalid, "{case}");
    }

    let revoked = revoke_tokens(db, acme.id, account, None).await;
    assert_eq!(revoked.unwrap(), 1);
    let check = acme.check(TokenPurpose::Reset, &minted.token, now).await;
    assert_eq!(check, TokenCheck::Invalid, "revoked");
}

#[tokio::test]
async fn tokens_survive_a_key_rotation() {
    let database = fresh_database().await;
    let acme = Firm::create(&database.connection, "acme").await;
    let old = acme.with_keys(TokenKeys::new(b"old key, thirty-two bytes or more!", &[]));
    let now = Utc::now();
    let minted = old.mint(TokenPurpose::Reset, a_contact(), now).await;
    let rotated = acme.with_keys(TokenKeys::new(
        b"new key, thirty-two bytes or more!",
        &[b"old key, thirty-two bytes or more!"],
    ));
    assert!(
        rotated
            .redeem(TokenPurpose::Reset, &minted.token, now)
            .await
            .is_ok()
    );
}

#[tokio::test]
async fn of_fifty_concurrent_redemptions_exactly_one_wins() {
    let database = fresh_database().await;
    let db = Arc::new(database.connection.clone());
    let acme = Firm::create(&db, "acme").await;
    let now = Utc::now();
    let minted = acme.mint(TokenPurpose::Reset, a_contact(), now).await;
    let tenant = acme.id;
    let attempts: Vec<_> = (0..50)
        .map(|_| {
            let db = db.clone();
            let token = minted.token.clone();
            tokio::spawn(async move {
                redeem_token(&*db, &keys(), tenant, TokenPurpose::Reset, &token, now).await
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
    let (database, [acme, other], now) = firms(["acme", "other"]).await;
    let db = &database.connection;
    // Two hours ago: one link used, one left to expire.
    let two_hours_ago = now - Duration::hours(2);
    let used = acme
        .mint(TokenPurpose::Reset, a_contact(), two_hours_ago)
        .await;
    acme.redeem(TokenPurpose::Reset, &used.token, two_hours_ago)
        .await
        .unwrap();
    acme.mint(TokenPurpose::TemporaryPassword, a_contact(), two_hours_ago)
        .await;
    // Still alive, an invitation (not a reset), one from two days ago, another firm's.
    for (firm, purpose, at) in [
        (&acme, TokenPurpose::Reset, now - Duration::minutes(1)),
        (&acme, TokenPurpose::Invite, now - Duration::hours(3)),
        (&acme, TokenPurpose::Reset, now - Duration::days(2)),
        (&other, TokenPurpose::Reset, now - Duration::hours(1)),
    ] {
        firm.mint(purpose, a_contact(), at).await;
    }

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
