//! Helpers shared by the releasd integration tests.
#![allow(dead_code)]

pub mod inproc;

use std::path::Path;

use rel_domain::config::{AppConfigText, ConfigFormat, EXAMPLE_APP_TOML};
use rel_domain::{DeployOutcome, DeployRequest, NewRelease, RelError};
use rel_proto::{Client, ClientError, Request, Response};

pub async fn connect(socket: &Path) -> Client {
    Client::connect(socket, "releasd-tests")
        .await
        .expect("connect to the test daemon")
}

/// Unwrap an RPC error (tests want its code and message).
pub fn rpc_err(r: Result<Response, ClientError>) -> RelError {
    match r {
        Err(ClientError::Rpc(e)) => e,
        other => panic!("expected an RPC error, got {other:?}"),
    }
}

pub async fn apply_example(c: &Client) {
    let r = c
        .call(Request::DraftApply(AppConfigText {
            format: ConfigFormat::Toml,
            text: EXAMPLE_APP_TOML.to_string(),
        }))
        .await
        .expect("apply the example draft");
    assert!(matches!(r, Response::DraftApplied { .. }), "{r:?}");
}

/// Apply a draft whose content differs per `n` (so each release has its own digest).
pub async fn apply_variant(c: &Client, n: u64) {
    let text = EXAMPLE_APP_TOML.replace(
        "answer a chat message",
        &format!("answer a chat message (variant {n})"),
    );
    c.call(Request::DraftApply(AppConfigText {
        format: ConfigFormat::Toml,
        text,
    }))
    .await
    .expect("apply draft");
}

pub async fn create(
    c: &Client,
    tag: &str,
    deploy_to: Option<&str>,
) -> Result<Response, ClientError> {
    c.call(Request::ReleaseCreate(NewRelease {
        tag: tag.to_string(),
        description: format!("release {tag}"),
        config: None,
        deploy_to: deploy_to.map(str::to_string),
    }))
    .await
}

pub async fn deploy(
    c: &Client,
    tag: &str,
    env: &str,
    expect: Option<&str>,
) -> Result<DeployOutcome, ClientError> {
    let r = c
        .call(Request::Deploy(DeployRequest {
            tag: tag.to_string(),
            env: env.to_string(),
            expect: expect.map(str::to_string),
            force_reason: None,
        }))
        .await?;
    match r {
        Response::Deployed(out) => Ok(out),
        other => panic!("deploy answered {other:?}"),
    }
}

pub async fn live(c: &Client, env: &str) -> Option<String> {
    match c
        .call(Request::EnvShow {
            name: env.to_string(),
        })
        .await
        .expect("env show")
    {
        Response::Environment(v) => v.live,
        other => panic!("env show answered {other:?}"),
    }
}
