//! Sessions with a moved clock.

use chrono::{DateTime, Duration, Utc};
use identity::{
    Session, SessionLifetime, SessionToken, authenticate_session, create_session,
    revoke_all_sessions, revoke_session,
};
use migrations::testing::TestDatabase;
use storage::Database;
use tenancy::{AccountKind, AccountRef, ContactId, StaffUserId, Tenant, TenantId};

use crate::firms;

const LIFETIME: SessionLifetime = SessionLifetime {
    idle: Duration::minutes(30),
    absolute: Duration::hours(12),
};

async fn sign_in(
    db: &Database,
    tenant: TenantId,
    account: AccountRef,
    at: DateTime<Utc>,
) -> (SessionToken, Session) {
    create_session(db, tenant, account, LIFETIME, at)
        .await
        .unwrap()
}

/// A fresh database with the firm `acme`, one of its contacts, and the time.
async fn acme_and_contact() -> (TestDatabase, Tenant, AccountRef, DateTime<Utc>) {
    let (database, [acme], now) = firms(["acme"]).await;
    (
        database,
        acme,
        AccountRef::Contact(ContactId::generate()),
        now,
    )
}

/// Whether `token` opens a live session of the firm for this kind of account at `at`.
async fn alive(
    db: &Database,
    tenant: TenantId,
    kind: AccountKind,
    token: &SessionToken,
    at: DateTime<Utc>,
) -> bool {
    authenticate_session(db, tenant, kind, token, LIFETIME, at)
        .await
        .unwrap()
        .is_some()
}

#[tokio::test]
async fn a_session_ends_when_idle_and_at_its_absolute_limit() {
    let (database, acme, account, start) = acme_and_contact().await;
    let db = &database.connection;
    let (token, _) = sign_in(db, acme.id, account, start).await;

    let check = |at| alive(db, acme.id, AccountKind::Contact, &token, at);
    assert!(check(start + Duration::minutes(29)).await);
    // Activity every 25 minutes keeps it alive until the absolute limit.
    let mut now = start + Duration::minutes(29);
    while now < start + Duration::hours(11) {
        now += Duration::minutes(25);
        assert!(check(now).await, "alive at {}", now - start);
    }
    assert!(!check(start + Duration::hours(12)).await, "absolute expiry");

    let (token, _) = sign_in(db, acme.id, account, start).await;
    let check = |at| alive(db, acme.id, AccountKind::Contact, &token, at);
    assert!(!check(start + Duration::minutes(31)).await, "idle expiry");
    assert!(
        !check(start + Duration::minutes(1)).await,
        "an expired session is gone, not just hidden"
    );
}

#[tokio::test]
async fn a_session_belongs_to_one_firm_and_one_kind() {
    let (database, [acme, globex], now) = firms(["acme", "globex"]).await;
    let db = &database.connection;
    let (token, _) = sign_in(db, acme.id, AccountRef::Staff(StaffUserId::generate()), now).await;
    assert!(alive(db, acme.id, AccountKind::Staff, &token, now).await);
    assert!(!alive(db, globex.id, AccountKind::Staff, &token, now).await);
    assert!(!alive(db, acme.id, AccountKind::Contact, &token, now).await);
}

#[tokio::test]
async fn sessions_are_revoked_one_by_one_or_all_at_once() {
    let (database, acme, account, now) = acme_and_contact().await;
    let db = &database.connection;
    let (first, _) = sign_in(db, acme.id, account, now).await;
    let (second, kept) = sign_in(db, acme.id, account, now).await;
    let (third, _) = sign_in(db, acme.id, account, now).await;
    assert_ne!(first, second, "every sign-in gets a new id");

    revoke_session(db, acme.id, &first).await.unwrap();
    let alive = |token| alive(db, acme.id, AccountKind::Contact, token, now);
    assert!(!alive(&first).await);
    assert!(alive(&third).await);

    let ended = revoke_all_sessions(db, acme.id, account, Some(kept.id))
        .await
        .unwrap();
    assert_eq!(ended, 1);
    assert!(alive(&second).await);
    assert!(!alive(&third).await);
}

#[tokio::test]
async fn only_a_hash_of_the_session_id_is_stored() {
    use sea_orm::{ConnectionTrait, Statement};
    let (database, [acme], now) = firms(["acme"]).await;
    let db = &database.connection;
    let (token, _) = sign_in(db, acme.id, AccountRef::Staff(StaffUserId::generate()), now).await;
    let rows = db
        .query_all_raw(Statement::from_string(
            db.get_database_backend(),
            "SELECT token_hash FROM sessions",
        ))
        .await
        .unwrap();
    let stored: String = rows[0].try_get("", "token_hash").unwrap();
    assert_eq!(stored.len(), 64);
    assert_ne!(stored, token.expose());
}
