//! `/requests`: the "Forgot your password?", "Find your firm" and access requests that
//! failed every attempt and were set aside, and putting them back in their queue.

use chrono::{DateTime, Utc};
use poem::web::Data;
use poem_openapi::param::{Path, Query};
use poem_openapi::payload::Json;
use poem_openapi::{Enum, Object, OpenApi, Tags};
use service::cross_firm;
use service::processors::{self, Queue};
use uuid::Uuid;

use super::constraints::{Described, PageLimit};
use super::delivery::FirmNames;
use super::{ApiError, OperatorToken};
use crate::state::AppState;

#[derive(Tags)]
enum ApiTags {
    /// Requests the processors could not handle.
    Requests,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
#[oai(rename_all = "snake_case")]
pub enum QueueName {
    /// "Forgot your password?"
    ResetRequests,
    /// "Find your firm"
    FirmLookups,
    /// "Request your credential" (telling the firm's staff)
    AccessRequests,
}

impl From<Queue> for QueueName {
    fn from(queue: Queue) -> Self {
        match queue {
            Queue::ResetRequests => Self::ResetRequests,
            Queue::FirmLookups => Self::FirmLookups,
            Queue::AccessRequests => Self::AccessRequests,
        }
    }
}

/// A request set aside. Only the domain of the address is shown.
#[derive(Debug, Clone, Object)]
#[oai(rename_all = "snake_case")]
pub struct SetAsideView {
    pub id: Uuid,
    pub queue: QueueName,
    /// The firm's slug; null for platform requests ("Find your firm").
    #[oai(nullable)]
    pub firm: Option<String>,
    pub email_domain: String,
    pub requested_at: DateTime<Utc>,
    pub attempts: i32,
    pub last_error: String,
}

#[derive(Debug, Clone, Object)]
#[oai(rename_all = "snake_case")]
pub struct SetAsideList {
    /// Newest first.
    pub requests: Vec<SetAsideView>,
}

#[derive(Debug, Clone, Object)]
#[oai(rename_all = "snake_case")]
pub struct Requeued {
    pub id: Uuid,
    pub queue: QueueName,
}

pub struct RequestsApi;

#[OpenApi(prefix_path = "/requests")]
impl RequestsApi {
    /// Requests set aside after their last attempt failed, newest first.
    #[oai(path = "/", method = "get", tag = "ApiTags::Requests")]
    async fn list(
        &self,
        _token: OperatorToken,
        state: Data<&AppState>,
        /// 1 to 500 of each queue; 50 when left out.
        limit: Query<Option<Described<u64, PageLimit>>>,
    ) -> Result<Json<SetAsideList>, ApiError> {
        let limit = super::tenants::page_size(limit.0)?;
        let set_aside = cross_firm::set_aside_requests(&state.services, limit).await?;
        let mut names = FirmNames::new(&state);
        let mut requests = Vec::with_capacity(set_aside.len());
        for request in set_aside {
            requests.push(SetAsideView {
                id: request.id,
                queue: request.queue.into(),
                firm: names.slug(request.firm).await?,
                email_domain: request.email_domain,
                requested_at: request.requested_at,
                attempts: request.attempts,
                last_error: request.last_error,
            });
        }
        Ok(Json(SetAsideList { requests }))
    }

    /// Put a set-aside request back in its queue, with its attempts counted afresh.
    #[oai(path = "/:id/retry", method = "post", tag = "ApiTags::Requests")]
    async fn retry(
        &self,
        _token: OperatorToken,
        state: Data<&AppState>,
        id: Path<Uuid>,
    ) -> Result<Json<Requeued>, ApiError> {
        match processors::retry_request(&state.services, id.0).await? {
            Some(queue) => Ok(Json(Requeued {
                id: id.0,
                queue: queue.into(),
            })),
            None => Err(ApiError::not_found(
                "unknown_request",
                "There is no set-aside request with this id.",
            )),
        }
    }
}
