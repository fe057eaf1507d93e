//! Form bodies and query strings, decoded as poem's `Form<T>` and `Query<T>` decode
//! them (`serde_urlencoded`), into the pairs `gateway::http::forms::single` reads and into
//! every typed form and query struct the pages take.
//!
//! Properties, for any bytes:
//! - decoding never panics, as pairs or as any page's struct;
//! - `single` gives a field's value when the field is sent once, and refuses it when it
//!   is missing or sent twice or more (two `email` values were GitLab's CVE-2023-7028);
//! - a typed form refuses a body that sends any of its fields twice, so no page can
//!   act on one copy of a field while another part of it reads the other.

#![no_main]

use std::collections::BTreeMap;

use gateway::http::extractors::NoFields;
use gateway::http::forms::single;
use gateway::http::session::SignInForm;
use gateway::portal::{account, request_access, reset};
use gateway::staff::{access_requests, clients, contacts, settings, team};
use libfuzzer_sys::fuzz_target;
use serde::de::{self, DeserializeOwned, Deserializer, Visitor};

fuzz_target!(|data: &[u8]| {
    let pairs: Result<Vec<(String, String)>, _> = serde_urlencoded::from_bytes(data);
    let counts = pairs.as_ref().map(|pairs| occurrences(pairs)).ok();
    if let Ok(pairs) = &pairs {
        check_single(pairs);
    }

    let counts = counts.as_ref();
    typed::<request_access::AccessForm>(data, counts);
    typed::<access_requests::DecisionForm>(data, counts);
    typed::<SignInForm>(data, counts);
    typed::<NoFields>(data, counts);
    typed::<account::ChangePasswordForm>(data, counts);
    typed::<reset::NewPasswordForm>(data, counts);
    typed::<reset::LinkForm>(data, counts);
    typed::<settings::SettingsForm>(data, counts);
    typed::<settings::SavedQuery>(data, counts);
    typed::<clients::ClientForm>(data, counts);
    typed::<contacts::ContactForm>(data, counts);
    typed::<team::InviteForm>(data, counts);
    typed::<clients::ListQuery>(data, counts);
    typed::<contacts::ContactsQuery>(data, counts);
});

/// How many times each field name was sent.
fn occurrences(pairs: &[(String, String)]) -> BTreeMap<&str, usize> {
    let mut counts = BTreeMap::new();
    for (key, _) in pairs {
        *counts.entry(key.as_str()).or_insert(0) += 1;
    }
    counts
}

fn check_single(pairs: &[(String, String)]) {
    // The names the forgot-password and find-my-firm pages read, sent or not.
    let read_by_pages = ["email", "csrf_token"];
    let counts = occurrences(pairs);
    let names = counts.keys().copied().chain(read_by_pages);
    for name in names {
        let sent: Vec<&str> = pairs
            .iter()
            .filter(|(key, _)| key == name)
            .map(|(_, value)| value.as_str())
            .collect();
        match (single(pairs, name), sent.as_slice()) {
            (Ok(value), [only]) => assert_eq!(value, *only),
            (Err(_), [] | [_, _, ..]) => {}
            (answer, sent) => panic!("single({name:?}) gave {answer:?} for {sent:?}"),
        }
    }
}

/// Decodes `data` as `T` and holds it to refusing a field sent twice.
fn typed<T: DeserializeOwned>(data: &[u8], counts: Option<&BTreeMap<&str, usize>>) {
    let decoded = serde_urlencoded::from_bytes::<T>(data);
    let Some(counts) = counts else {
        return;
    };
    if let Some(twice) = field_names::<T>()
        .iter()
        .find(|name| counts.get(*name).is_some_and(|&count| count > 1))
    {
        assert!(
            decoded.is_err(),
            "{} accepted `{twice}` sent twice",
            std::any::type_name::<T>()
        );
    }
}

/// The fields `T` reads, as its `Deserialize` implementation names them (none for a
/// form that is only a button).
fn field_names<T: DeserializeOwned>() -> &'static [&'static str] {
    let mut fields = None;
    // Fails by design once the names are seen; only the names matter.
    let _ = T::deserialize(FieldNames(&mut fields));
    fields.unwrap_or_else(|| panic!("{} is not a struct", std::any::type_name::<T>()))
}

/// A deserializer that records the field list a struct asks for and yields nothing.
struct FieldNames<'a>(&'a mut Option<&'static [&'static str]>);

impl<'de> Deserializer<'de> for FieldNames<'_> {
    type Error = de::value::Error;

    fn deserialize_any<V: Visitor<'de>>(self, _: V) -> Result<V::Value, Self::Error> {
        Err(de::Error::custom("only a struct's field names are read"))
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _: &'static str,
        fields: &'static [&'static str],
        _: V,
    ) -> Result<V::Value, Self::Error> {
        *self.0 = Some(fields);
        Err(de::Error::custom("field names read"))
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes
        byte_buf option unit unit_struct newtype_struct seq tuple tuple_struct map enum
        identifier ignored_any
    }
}
