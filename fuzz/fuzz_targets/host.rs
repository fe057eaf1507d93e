//! A `Host` header, as `HostDispatch` reads it, down to the slug the resolver looks up.
//!
//! Properties, for any text:
//! - `HostName::from_header` and `HostName::parse` never panic;
//! - an accepted host is what `HostName` promises: 1 to 253 bytes of `[a-z0-9.-]`, no
//!   trailing dot, labels of 1 to 63 bytes with no hyphen at either end;
//! - it is a fixed point: parsed again, as a header or as a bare name, it is itself,
//!   so the resolver's cache never holds two spellings of one host;
//! - ASCII case changes nothing, accepted or refused;
//! - a bare name accepted by `parse` is the same host as a header;
//! - `single_label_under` gives back exactly the first label when the rest is the
//!   parent, and nothing otherwise, for every parent the host ends in; the slug the
//!   resolver then parses is that label, unchanged.

#![no_main]

use libfuzzer_sys::fuzz_target;
use tenancy::{HostName, TenantSlug};

/// Base domains as configured in development and in production-like setups.
const BASES: [&str; 3] = ["localhost", "example.com", "latchkey.example.co.uk"];

fuzz_target!(|raw: &str| {
    let from_header = HostName::from_header(raw);
    let bare = HostName::parse(raw);

    assert_eq!(
        HostName::from_header(&raw.to_ascii_uppercase()),
        from_header,
        "case changed the answer for {raw:?}"
    );
    if let Ok(host) = &bare {
        assert_eq!(from_header.as_ref(), Ok(host), "{raw:?}");
    }
    if !raw.contains(':') {
        assert_eq!(bare, from_header, "no port, yet {raw:?} differs");
    }

    let Ok(host) = from_header else {
        return;
    };
    let name = host.as_str();
    assert!(!name.is_empty() && name.len() <= 253, "{name:?}");
    assert!(
        name.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'.'),
        "{name:?}"
    );
    assert!(!name.ends_with('.'), "{name:?}");
    for label in name.split('.') {
        assert!(!label.is_empty() && label.len() <= 63, "{name:?}");
        assert!(!label.starts_with('-') && !label.ends_with('-'), "{name:?}");
    }
    assert_eq!(HostName::from_header(name).as_ref(), Ok(&host));
    assert_eq!(HostName::parse(name).as_ref(), Ok(&host));

    // Every parent the host ends in, at a label boundary, is a host too.
    let labels: Vec<&str> = name.split('.').collect();
    for start in 1..labels.len() {
        let parent = HostName::parse(&labels[start..].join("."))
            .expect("a host's suffix at a label boundary is a host");
        let expected = (start == 1).then_some(labels[0]);
        assert_eq!(host.single_label_under(&parent), expected, "{name:?}");
    }
    assert_eq!(host.single_label_under(&host), None, "{name:?}");

    for base in BASES {
        let base = HostName::parse(base).expect("a valid base domain");
        let Some(label) = host.single_label_under(&base) else {
            continue;
        };
        assert_eq!(format!("{label}.{base}"), name);
        if let Ok(slug) = TenantSlug::parse(label) {
            assert_eq!(slug.as_str(), label);
        }
    }
});
