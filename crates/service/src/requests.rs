//! What the public forms ask for: "Forgot your password?", "Find your firm" and
//! "Request your credential". Each is only recorded here, within the limits of its
//! client address (and, for access requests, of the firm); the processors do the work
//! and send the email. Every form is counted, a refused one too, and the answer never
//! says whether an account exists.

use std::net::IpAddr;

use identity::{EmailAddress, NewAccessRequest, NewFirmLookup};
use reset_token::NewResetRequest;
use tenancy::Tenant;

use crate::attempts::limit_key;
use crate::intake::{self, BucketLimit, Intake, Record};
use crate::{ServiceError, Services};

/// "Forgot your password?" for `raw_email` at `tenant`. `None` when the address is
/// malformed: counted against the limit, recorded nowhere.
pub async fn request_reset(
    services: &Services,
    tenant: &Tenant,
    raw_email: &str,
    from: Option<IpAddr>,
) -> Result<Option<EmailAddress>, ServiceError> {
    request_email(
        "forgot",
        services,
        raw_email,
        from,
        |email, client_address| {
            Record::ResetRequest(NewResetRequest {
                tenant_id: tenant.id,
                email: email.as_str().to_owned(),
                client_address,
            })
        },
    )
    .await
}

/// "Find your firm" for `raw_email`. `None` when the address is malformed: counted
/// against the limit, recorded nowhere.
pub async fn request_firm_list(
    services: &Services,
    raw_email: &str,
    from: Option<IpAddr>,
) -> Result<Option<EmailAddress>, ServiceError> {
    request_email(
        "find-firm",
        services,
        raw_email,
        from,
        |email, client_address| {
            Record::FirmLookup(NewFirmLookup {
                email: email.clone(),
                client_address,
            })
        },
    )
    .await
}

/// A form that asks for an email to `raw_email`, counted against the `form`'s limit
/// of the client address; what `record` makes of a well-formed address is recorded
/// for a processor, which logs what came of it.
async fn request_email(
    form: &str,
    services: &Services,
    raw_email: &str,
    from: Option<IpAddr>,
    record: impl FnOnce(&EmailAddress, Option<String>) -> Record,
) -> Result<Option<EmailAddress>, ServiceError> {
    let email = EmailAddress::parse(raw_email).ok();
    let client_address = from.map(|address| address.to_string());
    let recorded = email.as_ref().map(|email| record(email, client_address));
    record_limited(services, form, from, Vec::new(), recorded).await?;
    if let Some(email) = &email {
        tracing::debug!(email_domain = email.domain(), form, "email requested");
    }
    Ok(email)
}

/// "Request your credential" at `tenant`: `checked` is the request, or the field it
/// was refused for. Refused forms count against the limits too; the firm takes at
/// most `limits.access_requests_per_firm_per_hour` from anyone, since each emails
/// every staff member text a stranger wrote.
pub async fn request_access(
    services: &Services,
    tenant: &Tenant,
    checked: Option<&NewAccessRequest>,
    from: Option<IpAddr>,
) -> Result<(), ServiceError> {
    let record = checked.map(|new| Record::AccessRequest(tenant.id, new.clone()));
    let per_firm = BucketLimit {
        bucket: format!("access-request:firm:{}", tenant.id),
        max: services.config.limits.access_requests_per_firm_per_hour,
        window: chrono::Duration::hours(1),
    };
    record_limited(services, "access-request", from, vec![per_firm], record).await?;
    if checked.is_some() {
        tracing::debug!("access requested");
    }
    Ok(())
}

/// Records `record` (if any) for a form posted from `from`, counted towards
/// `limits.forgot_per_address` per window in the `kind` bucket, and towards `also`;
/// refused past a limit. The counters are in the database, so the limits hold across
/// instances; the write joins the intake's group commit, and the processors are woken
/// once it has committed.
pub async fn record_limited(
    services: &Services,
    kind: &str,
    from: Option<IpAddr>,
    also: Vec<BucketLimit>,
    record: Option<Record>,
) -> Result<(), ServiceError> {
    let limits = &services.config.limits;
    let mut buckets = vec![BucketLimit {
        bucket: format!("{kind}:address:{}", limit_key(from)),
        // No address to count against (never the case behind a listener).
        max: match from {
            Some(_) => limits.forgot_per_address,
            None => u64::MAX,
        },
        window: limits.window(),
    }];
    buckets.extend(also);
    let recorded = record.is_some();
    intake::submit(
        &services.intake,
        Intake {
            limits: buckets,
            record,
        },
    )
    .await?;
    if recorded {
        services.reset_requests.notify_one();
    }
    Ok(())
}
