//! The rel RPC protocol (§4.2): messages, the framing codec, the version handshake and an
//! async client. Message enums only grow: new variants go at the end, never in between, so
//! that older peers keep decoding what they know.

pub mod client;
pub mod codec;
pub mod json;
pub mod messages;
pub mod paths;

pub use client::{Client, ClientError, EventStream, ResponseStream};
pub use codec::{CodecError, MAX_FRAME_BYTES, decode, encode};
pub use messages::*;

/// Bumped on any incompatible change of the messages. Both sides must agree.
pub const PROTOCOL_VERSION: u32 = 1;
