//! Endpoint runs, verification, execution logs and tokens (§3.6, §4.5): requests that belong
//! to the pipeline work. Until that lands they are answered `Unavailable` with a message that
//! says so; the pipeline work replaces [`handle`] with the real thing, in this module.

use std::sync::Arc;

use rel_domain::{Caller, RelError, RelResult};
use rel_proto::{Request, Response};

use crate::server::Shared;

/// Whether `request` is one of this module's.
pub fn handles(request: &Request) -> bool {
    matches!(
        request,
        Request::Trigger { .. }
            | Request::Verify { .. }
            | Request::Logs(_)
            | Request::LogShow { .. }
            | Request::TokenCreate { .. }
            | Request::TokenList
            | Request::TokenRevoke { .. }
    )
}

pub async fn handle(
    _shared: &Arc<Shared>,
    _caller: &Caller,
    request: Request,
) -> RelResult<Response> {
    let what = crate::dispatch::request_name(&request);
    Err(RelError::unavailable(format!(
        "{what}: running endpoints, verification, execution logs and tokens are not available in this releasd build yet; \
         releases, deploys and rollbacks work"
    )))
}
