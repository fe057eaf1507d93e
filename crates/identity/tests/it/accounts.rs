//! Accounts are found only with their firm, by normalised email.

use chrono::Utc;
use identity::{
    EmailAddress, IdentityError, NewContact, RateLimit, clear_events, count_events, create_client,
    create_contact, find_client, find_contact, find_contact_by_email, import_contacts,
    list_clients, record_event,
};
use migrations::testing::fresh_database;

use crate::firm;

#[tokio::test]
async fn another_firms_records_do_not_exist() {
    let database = fresh_database().await;
    let db = &database.connection;
    let acme = firm(db, "acme").await;
    let globex = firm(db, "globex").await;
    let now = Utc::now();
    let client = create_client(db, acme.id, "John A. Teague", now)
        .await
        .unwrap();
    let new = NewContact {
        client_id: client.id,
        name: "Body Boom".into(),
        email: EmailAddress::parse("body.boom@acme.test").unwrap(),
        locale: "en".into(),
        password_hash: None,
    };
    let contact = create_contact(db, acme.id, new.clone(), now).await.unwrap();

    assert!(
        find_client(db, globex.id, client.id)
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        find_contact(db, globex.id, contact.id)
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        find_contact_by_email(db, globex.id, &contact.email)
            .await
            .unwrap()
            .is_none()
    );
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
    let database = fresh_database().await;
    let db = &database.connection;
    let acme = firm(db, "acme").await;
    let globex = firm(db, "globex").await;
    let now = Utc::now();
    let contact = |client_id, email: &str| NewContact {
        client_id,
        name: "Body Boom".into(),
        email: EmailAddress::parse(email).unwrap(),
        locale: "en".into(),
        password_hash: None,
    };
    let acme_client = create_client(db, acme.id, "A", now).await.unwrap();
    let globex_client = create_client(db, globex.id, "G", now).await.unwrap();
    create_contact(
        db,
        acme.id,
        contact(acme_client.id, "Body.Boom@Example.com"),
        now,
    )
    .await
    .unwrap();
    let again = create_contact(
        db,
        acme.id,
        contact(acme_client.id, " body.boom@example.COM"),
        now,
    )
    .await;
    assert!(matches!(again, Err(IdentityError::EmailTaken)));
    create_contact(
        db,
        globex.id,
        contact(globex_client.id, "body.boom@example.com"),
        now,
    )
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
async fn rate_limit_windows_slide_with_the_clock() {
    let database = fresh_database().await;
    let db = &database.connection;
    let limit = RateLimit {
        max: 3,
        window: chrono::Duration::minutes(15),
    };
    let start = Utc::now();
    for minute in [0, 1, 2] {
        record_event(db, "bucket", start + chrono::Duration::minutes(minute))
            .await
            .unwrap();
    }
    let limited = count_events(db, "bucket", limit, start + chrono::Duration::minutes(5))
        .await
        .unwrap();
    assert_eq!(limited.unwrap_err().retry_after_seconds, 10 * 60);
    assert_eq!(
        count_events(db, "other", limit, start).await.unwrap(),
        Ok(0)
    );
    let later = count_events(
        db,
        "bucket",
        limit,
        start + chrono::Duration::minutes(15) + chrono::Duration::seconds(30),
    );
    assert_eq!(later.await.unwrap(), Ok(2));
    clear_events(db, "bucket", start).await.unwrap();
    assert_eq!(
        count_events(db, "bucket", limit, start + chrono::Duration::minutes(5))
            .await
            .unwrap(),
        Ok(0)
    );
}

#[tokio::test]
async fn an_import_creates_every_contact_or_none() {
    let database = fresh_database().await;
    let db = &database.connection;
    let acme = firm(db, "acme").await;
    let globex = firm(db, "globex").await;
    let now = Utc::now();
    let client = create_client(db, acme.id, "Importer", now).await.unwrap();
    let person = |n: usize| NewContact {
        client_id: client.id,
        name: format!("Person {n}"),
        email: EmailAddress::parse(&format!("person.{n}@import.test")).unwrap(),
        locale: "it".into(),
        password_hash: None,
    };
    // More than one statement's worth of rows.
    let people: Vec<_> = (0..2500).map(person).collect();
    assert_eq!(
        import_contacts(db, acme.id, client.id, people, now)
            .await
            .unwrap(),
        2500
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
