//! The async client every program uses to talk to `releasd`.
//!
//! API contract (the daemon helper implements the bodies; relctl and relui code against it):
//! - `Client::connect(socket, "relctl 0.1.0")` connects, sends `Hello`, checks `Welcome`.
//!   Unreachable socket ⇒ `ClientError::Unreachable`; version mismatch ⇒ `ClientError::Version`
//!   naming both versions.
//! - `call(&self, Request)` may be used concurrently from several tasks (requests are
//!   pipelined; a background reader matches responses by id).
//! - `subscribe(&self)` sends `Request::Subscribe` and returns a stream of `Event`s; the
//!   stream ends (`None`) when the daemon goes away.

use std::path::{Path, PathBuf};

use rel_domain::RelError;

use crate::messages::{Event, Request, Response, Welcome};

#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("cannot reach releasd at {}: {reason}. Start it with `releasd` (or check --socket / RELEASD_SOCKET)", socket.display())]
    Unreachable { socket: PathBuf, reason: String },
    #[error("protocol version mismatch: this client speaks v{client}, releasd speaks v{daemon}; upgrade the older one")]
    Version { client: u32, daemon: u32 },
    #[error("{0}")]
    Rpc(RelError),
    #[error("connection to releasd lost: {0}")]
    Disconnected(String),
    #[error("protocol error: {0}")]
    Protocol(String),
}

pub struct Client {
    _private: (),
}

pub struct EventStream {
    _private: (),
}

impl Client {
    pub async fn connect(socket: &Path, client_name: &str) -> Result<Client, ClientError> {
        let _ = (socket, client_name);
        Err(ClientError::Protocol("client not implemented yet".into()))
    }

    pub fn welcome(&self) -> &Welcome {
        unimplemented!()
    }

    pub async fn call(&self, request: Request) -> Result<Response, ClientError> {
        let _ = request;
        Err(ClientError::Protocol("client not implemented yet".into()))
    }

    pub async fn subscribe(&self) -> Result<EventStream, ClientError> {
        Err(ClientError::Protocol("client not implemented yet".into()))
    }
}

impl EventStream {
    /// The next event, or `None` when the connection is gone.
    pub async fn next(&mut self) -> Option<Event> {
        None
    }
}
