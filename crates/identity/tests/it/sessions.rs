//! Sessions with a moved clock.

use chrono::{Duration, Utc};
use identity::{
    AccountKind, SessionLifetime, authenticate_session, create_session, revoke_all_sessions,
    revoke_session,
};
use migrations::testing::fresh_database;
use uuid::Uuid;

use crate::firm;

const LIFETIME: SessionLifetime = SessionLifetime {
    idle: Duration::minutes(30),
    absolute: Duration::hours(12),
};

#[tokio::test]
async fn a_session_ends_when_idle_and_at_its_absolute_limit() {
    let database = fresh_database().await;
    let db = &database.connection;
    let acme = firm(db, "acme").await;
    let account = Uuid::now_v7();
    let start = Utc::now();
    let (token, _) = create_session(db, acme.id, AccountKind::Contact, account, LIFETIME, start)
        .await
        .unwrap();

    let check = |at| authenticate_session(db, acme.id, AccountKind::Contact, &token, LIFETIME, at);
    assert!(
        check(start + Duration::minutes(29))
            .await
            .unwrap()
            .is_some()
    );
    // Activity every 25 minutes keeps it alive until the absolute limit.
    let mut now = start + Duration::minutes(29);
    while now < start + Duration::hours(11) {
        now += Duration::minutes(25);
        assert!(
            check(now).await.unwrap().is_some(),
            "alive at {}",
            now - start
        );
    }
    assert!(
        check(start + Duration::hours(12)).await.unwrap().is_none(),
        "absolute expiry"
    );

    let (token, _) = create_session(db, acme.id, AccountKind::Contact, account, LIFETIME, start)
        .await
        .unwrap();
    let idle = authenticate_session(
        db,
        acme.id,
        AccountKind::Contact,
        &token,
        LIFETIME,
        start + Duration::minutes(31),
    );
    assert!(idle.await.unwrap().is_none(), "idle expiry");
    let later = authenticate_session(
        db,
        acme.id,
        AccountKind::Contact,
        &token,
        LIFETIME,
        start + Duration::minutes(1),
    );
    assert!(
        later.await.unwrap().is_none(),
        "an expired session is gone, not just hidden"
    );
}

#[tokio::test]
async fn a_session_belongs_to_one_firm_and_one_kind() {
    let database = fresh_database().await;
    let db = &database.connection;
    let acme = firm(db, "acme").await;
    let globex = firm(db, "globex").await;
    let now = Utc::now();
    let (token, _) = create_session(
        db,
        acme.id,
        AccountKind::Staff,
        Uuid::now_v7(),
        LIFETIME,
        now,
    )
    .await
    .unwrap();
    assert!(
        authenticate_session(db, acme.id, AccountKind::Staff, &token, LIFETIME, now)
            .await
            .unwrap()
            .is_some()
    );
    assert!(
        authenticate_session(db, globex.id, AccountKind::Staff, &token, LIFETIME, now)
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        authenticate_session(db, acme.id, AccountKind::Contact, &token, LIFETIME, now)
            .await
            .unwrap()
            .is_none()
    );
}

#[tokio::test]
async fn sessions_are_revoked_one_by_one_or_all_at_once() {
    let database = fresh_database().await;
    let db = &database.connection;
    let acme = firm(db, "acme").await;
    let account = Uuid::now_v7();
    let now = Utc::now();
    let (first, _) = create_session(db, acme.id, AccountKind::Contact, account, LIFETIME, now)
        .await
        .unwrap();
    let (second, kept) = create_session(db, acme.id, AccountKind::Contact, account, LIFETIME, now)
        .await
        .unwrap();
    let (third, _) = create_session(db, acme.id, AccountKind::Contact, account, LIFETIME, now)
        .await
        .unwrap();
    assert_ne!(first, second, "every sign-in gets a new id");

    revoke_session(db, acme.id, &first).await.unwrap();
    let alive =
        |token| authenticate_session(db, acme.id, AccountKind::Contact, token, LIFETIME, now);
    assert!(alive(&first).await.unwrap().is_none());
    assert!(alive(&third).await.unwrap().is_some());

    let ended = revoke_all_sessions(db, acme.id, AccountKind::Contact, account, Some(kept.id))
        .await
        .unwrap();
    assert_eq!(ended, 1);
    assert!(alive(&second).await.unwrap().is_some());
    assert!(alive(&third).await.unwrap().is_none());
}

#[tokio::test]
async fn only_a_hash_of_the_session_id_is_stored() {
    use sea_orm::{ConnectionTrait, Statement};
    let database = fresh_database().await;
    let db = &database.connection;
    let acme = firm(db, "acme").await;
    let (token, _) = create_session(
        db,
        acme.id,
        AccountKind::Staff,
        Uuid::now_v7(),
        LIFETIME,
        Utc::now(),
    )
    .await
    .unwrap();
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
