//! `EmailAddress::parse`, which normalises every address typed into a form before it
//! is stored or compared.
//!
//! Properties, for any text:
//! - parsing never panics;
//! - an accepted address is what `EmailAddress` promises: trimmed, Unicode NFKC and
//!   lower-case, with one `@` before a dotted domain;
//! - it is a fixed point: parsed again it is itself, so an address copied from a page
//!   or an email finds the same account (the mismatch behind CVE-2019-19844);
//! - ASCII case changes nothing, accepted or refused;
//! - lettre, which sends our email, accepts it (as the proptest beside the parser
//!   checks on a narrower alphabet);
//! - `Debug` shows only the domain.

#![no_main]

use std::str::FromStr;

use identity::EmailAddress;
use libfuzzer_sys::fuzz_target;
use unicode_normalization::is_nfkc;

fuzz_target!(|raw: &str| {
    let parsed = EmailAddress::parse(raw);
    assert_eq!(
        EmailAddress::parse(&raw.to_ascii_uppercase()),
        parsed,
        "case changed the answer for {raw:?}"
    );
    let Ok(address) = parsed else {
        return;
    };
    let text = address.as_str();
    assert_eq!(text.trim(), text, "{raw:?} became {text:?}");
    assert!(is_nfkc(text), "{raw:?} became {text:?}, which is not NFKC");
    assert_eq!(
        text.to_lowercase(),
        text,
        "{raw:?} became {text:?}, which is not lower-case"
    );
    assert_eq!(
        EmailAddress::parse(text).as_ref(),
        Ok(&address),
        "{raw:?} became {text:?}, which does not parse to itself"
    );
    assert!(
        lettre::Address::from_str(text).is_ok(),
        "{raw:?} became {text:?}, which lettre refuses"
    );

    let (local, domain) = text.rsplit_once('@').expect("an address has an @");
    assert!(!local.is_empty() && !local.contains('@'), "{text:?}");
    assert_eq!(address.domain(), domain);
    assert!(domain.contains('.'), "{text:?}");
    assert_eq!(format!("{address:?}"), format!("EmailAddress(…@{domain})"));
});
