//! Accounts are found only with their firm, by normalised email.

use identity::{
    Client, EmailAddress, IdentityError, RateLimit, WindowHits, clear_bucket, create_client,
    create_contact, find_client, find_contact, find_contact_by_email, find_contacts_by_emails,
    hit_buckets, import_contacts, list_clients, purge_rate_limit_counters,
};
use migrations::testing::fresh_database;
use tenancy::Tenant;

use crate::{firms, invited};

#[tokio::test]
async fn another_firms_records_do_not_exist() {
    let (database, [acme, globex], now) = firms(["acme", "globex"]).await;
    let db = &database.connection;
    let client = create_client(db, acme.id, "John A. Teague", now)
        .await
        .unwrap();
    let new = invited(client.id, "Body Boom", "body.boom@acme.test", "en");
    let contact = create_contact(db, acme.id, new.clone(), now).await.unwrap();

    let client_there = find_client(db, globex.id, client.id).await.unwrap();
    assert!(client_there.is_none(), "the client by id");
    let contact_there = find_contact(db, globex.id, contact.id).await.unwrap();
    assert!(contact_there.is_none(), "the contact by id");
    let by_email = find_contact_by_email(db, globex.id, &contact.email).await;
    assert!(by_email.unwrap().is_none(), "the contact by email");
    assert_eq!(
        list_clients(db, globex.id, None, 1, 50)
            .await
            .unwrap()
            .total,
        0
    );
    // A contact cannot be put under another firm's client.
    assert!(matches!(
        create_contact(db, globex.id, new, now).await,
        Err(IdentityError::NotFound)
    ));
}

#[tokio::test]
async fn emails_are_unique_per_firm_after_normalisation() {
    let (database, [acme, globex], now) = firms(["acme", "globex"]).await;
    let db = &database.connection;
    let acme_client = create_client(db, acme.id, "A", now).await.unwrap();
    let globex_client = create_client(db, globex.id, "G", now).await.unwrap();
    let add = |firm: &Tenant, client: &Client, email: &str| {
        let new = invited(client.id, "Body Boom", email, "en");
        create_contact(db, firm.id, new, now)
    };
    add(&acme, &acme_client, "Body.Boom@Example.com")
        .await
        .unwrap();
    let again = add(&acme, &acme_client, " body.boom@example.COM").await;
    assert!(matches!(again, Err(IdentityError::EmailTaken)));
    add(&globex, &globex_client, "body.boom@example.com")
        .await
        .unwrap();
    let typed = EmailAddress::parse("BODY.BOOM@EXAMPLE.COM").unwrap();
    assert!(
        find_contact_by_email(db, acme.id, &typed)
            .await
            .unwrap()
            .is_some()
    );
}

#[tokio::test]
async fn rate_limit_counters_add_up_across_buckets_and_windows() {
    let database = fresh_database().await;
    let db = &database.connection;
    let window = chrono::Duration::minutes(15);
    let limit = RateLimit { max: 3, window };
    // The start of a window, so the arithmetic below is plain.
    let start = chrono::DateTime::from_timestamp(900 * 2_000_000, 0).unwrap();

    // One call counts several buckets; a name given twice counts twice.
    let hits = hit_buckets(db, &[("a", 1), ("b", 2), ("a", 1)], window, start)
        .await
        .unwrap();
    let current = |hits: &[WindowHits]| hits.iter().map(|h| h.current).collect::<Vec<_>>();
    assert_eq!(current(&hits), [2, 2, 2]);
    let hits = hit_buckets(
        db,
        &[("a", 1)],
        window,
        start + chrono::Duration::minutes(5),
    )
    .await
    .unwrap();
    assert_eq!(
        hits[0],
        WindowHits {
            previous: 0,
            current: 3
        }
    );
    let refused = would_allow(db, "a", limit, start + chrono::Duration::minutes(5))
        .await
        .unwrap_err();
    // Ten minutes to the window's end, then half the next for the four hits (three
    // made, one asked for) to weigh two, leaving room for one.
    assert_eq!(refused.retry_after_seconds, 10 * 60 + 15 * 60 / 2);
    assert_eq!(would_allow(db, "b", limit, start).await, Ok(()));
    assert_eq!(would_allow(db, "other", limit, start).await, Ok(()));

    // In the next window, the previous one counts while it slides out.
    let next = start + window + chrono::Duration::minutes(1);
    let hits = hit_buckets(db, &[("a", 1)], window, next).await.unwrap();
    assert_eq!(
        hits[0],
        WindowHits {
            previous: 3,
            current: 1
        }
    );
    assert!(would_allow(db, "a", limit, next).await.is_err());
    assert_eq!(
        would_allow(
            db,
            "a",
            limit,
            start + window * 2 - chrono::Duration::minutes(1)
        )
        .await,
        Ok(())
    );

    clear_bucket(db, "a").await.unwrap();
    assert_eq!(would_allow(db, "a", limit, next).await, Ok(()));
    // Old windows are purged; the current one stays.
    assert_eq!(purge_rate_limit_counters(db, next).await.unwrap(), 1);
    assert_eq!(
        hit_buckets(db, &[("b", 1)], window, start).await.unwrap()[0].current,
        1,
        "b's old window is gone"
    );
}

#[tokio::test]
async fn an_import_creates_every_contact_or_none() {
    let (database, [acme, globex], now) = firms(["acme", "globex"]).await;
    let db = &database.connection;
    let client = create_client(db, acme.id, "Importer", now).await.unwrap();
    let person = |n: usize| {
        invited(
            client.id,
            &format!("Person {n}"),
            &format!("person.{n}@import.test"),
            "it",
        )
    };
    // More than one statement's worth of rows.
    let people: Vec<_> = (0..2500).map(person).collect();
    assert_eq!(
        import_contacts(db, acme.id, client.id, people, now)
            .await
            .unwrap(),
        2500
    );
    let some: Vec<EmailAddress> = [7, 2499, 9999]
        .map(|n| person(n).email)
        .into_iter()
        .collect();
    let mut many = find_contacts_by_emails(db, acme.id, &some.iter().collect::<Vec<_>>())
        .await
        .unwrap();
    many.sort_by(|a, b| a.name.cmp(&b.name));
    let names: Vec<&str> = many.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(
        names,
        ["Person 2499", "Person 7"],
        "unknown addresses are left out"
    );
    assert!(
        find_contacts_by_emails(db, globex.id, &some.iter().collect::<Vec<_>>())
            .await
            .unwrap()
            .is_empty(),
        "another firm's contacts do not exist"
    );
    let found = find_contact_by_email(db, acme.id, &person(2499).email)
        .await
        .unwrap()
        .expect("the last imported contact");
    assert_eq!(
        (found.name.as_str(), found.locale.as_str()),
        ("Person 2499", "it")
    );

    // A taken address fails the whole import.
    let repeat = vec![person(5000), person(1)];
    assert!(matches!(
        import_contacts(db, acme.id, client.id, repeat, now).await,
        Err(IdentityError::EmailTaken)
    ));
    assert!(
        find_contact_by_email(db, acme.id, &person(5000).email)
            .await
            .unwrap()
            .is_none(),
        "nothing of a failed import stays"
    );
    // Another firm's client takes no imports.
    assert!(matches!(
        import_contacts(db, globex.id, client.id, vec![person(6000)], now).await,
        Err(IdentityError::NotFound)
    ));
}

/// A page number past the end (even `u64::MAX`, which once overflowed the offset)
/// shows the last page.
#[tokio::test]
async fn a_page_past_the_end_shows_the_last_page() {
    let (database, [acme], now) = firms(["acme"]).await;
    let db = &database.connection;
    for name in ["Alpha", "Bravo", "Charlie"] {
        create_client(db, acme.id, name, now).await.unwrap();
    }

    for asked in [3, 1_000, u64::MAX] {
        let page = list_clients(db, acme.id, None, asked, 2).await.unwrap();
        assert_eq!(
            (page.page, page.pages(), page.total),
            (2, 2, 3),
            "page {asked}"
        );
        let names: Vec<&str> = page
            .clients
            .iter()
            .map(|client| client.name.as_str())
            .collect();
        assert_eq!(names, ["Charlie"], "page {asked}");
    }
    let empty = list_clients(db, acme.id, Some("nobody"), u64::MAX, 2)
        .await
        .unwrap();
    assert_eq!((empty.page, empty.total), (1, 0));
    assert!(empty.clients.is_empty());
}

/// Whether one more hit of `bucket` would be allowed at `now`, without counting it:
/// the judgement the gateway makes on the hits its own hit returned.
async fn would_allow(
    db: &impl sea_orm::ConnectionTrait,
    bucket: &str,
    limit: RateLimit,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<(), identity::RateLimited> {
    let hits = identity::window_hits(db, bucket, limit, now).await.unwrap();
    limit.judge(hits.plus(1), now)
}
