//! The one encode/decode pair every byte on the wire goes through, and the framing: a 4-byte
//! big-endian length, then a bincode 2.0 (serde) payload. The length is checked against
//! [`MAX_FRAME_BYTES`] before anything is allocated, and bincode decodes with the same byte
//! limit, so a few hostile bytes cannot claim a 1 TiB string.

use serde::Serialize;
use serde::de::DeserializeOwned;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

/// Default and hard maximum size of one frame's payload.
pub const MAX_FRAME_BYTES: usize = 16 * 1024 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum CodecError {
    #[error("frame of {0} bytes is larger than the {MAX_FRAME_BYTES}-byte limit")]
    TooLarge(usize),
    #[error("cannot encode message: {0}")]
    Encode(String),
    #[error("cannot decode message: {0}")]
    Decode(String),
    #[error("connection closed")]
    Closed,
    #[error("connection closed in the middle of a frame: {got} of {expected} bytes arrived")]
    Truncated { expected: usize, got: usize },
    #[error("i/o: {0}")]
    Io(#[from] std::io::Error),
}

fn config() -> impl bincode::config::Config {
    bincode::config::standard().with_limit::<MAX_FRAME_BYTES>()
}

/// Encode one message (payload only, no length prefix).
pub fn encode<T: Serialize>(msg: &T) -> Result<Vec<u8>, CodecError> {
    let bytes = bincode::serde::encode_to_vec(msg, config())
        .map_err(|e| CodecError::Encode(e.to_string()))?;
    if bytes.len() > MAX_FRAME_BYTES {
        return Err(CodecError::TooLarge(bytes.len()));
    }
    Ok(bytes)
}

/// Decode one message; trailing bytes are an error (a frame is exactly one message).
pub fn decode<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, CodecError> {
    if bytes.len() > MAX_FRAME_BYTES {
        return Err(CodecError::TooLarge(bytes.len()));
    }
    let (msg, used) = bincode::serde::decode_from_slice(bytes, config())
        .map_err(|e| CodecError::Decode(e.to_string()))?;
    if used != bytes.len() {
        return Err(CodecError::Decode(format!(
            "{} trailing bytes after the message",
            bytes.len() - used
        )));
    }
    Ok(msg)
}

/// One complete frame (length prefix + payload) in a buffer, for writers that must not be
/// interrupted half-way (a cancelled `write_all` would leave a torn frame on the stream).
pub fn frame<T: Serialize>(msg: &T) -> Result<Vec<u8>, CodecError> {
    let payload = encode(msg)?;
    let len = u32::try_from(payload.len()).map_err(|_| CodecError::TooLarge(payload.len()))?;
    let mut buf = Vec::with_capacity(4 + payload.len());
    buf.extend_from_slice(&len.to_be_bytes());
    buf.extend_from_slice(&payload);
    Ok(buf)
}

/// Write one length-prefixed frame.
pub async fn write_frame<W: AsyncWrite + Unpin, T: Serialize>(
    w: &mut W,
    msg: &T,
) -> Result<(), CodecError> {
    let buf = frame(msg)?;
    w.write_all(&buf).await?;
    w.flush().await?;
    Ok(())
}

/// Read one length-prefixed frame. `Closed` on a clean EOF before a frame starts.
///
/// The payload buffer grows as bytes actually arrive (capped by the length prefix, which is
/// checked first), so a peer that announces 16 MiB and sends 10 bytes costs 10 bytes.
pub async fn read_frame<R: AsyncRead + Unpin, T: DeserializeOwned>(
    r: &mut R,
) -> Result<T, CodecError> {
    let mut len_buf = [0u8; 4];
    match r.read_exact(&mut len_buf).await {
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Err(CodecError::Closed),
        Err(e) => return Err(e.into()),
    }
    let len = u32::from_be_bytes(len_buf) as usize;
    if len > MAX_FRAME_BYTES {
        return Err(CodecError::TooLarge(len));
    }
    let mut payload = Vec::with_capacity(len.min(INITIAL_READ_CAPACITY));
    (&mut *r).take(len as u64).read_to_end(&mut payload).await?;
    if payload.len() < len {
        return Err(CodecError::Truncated {
            expected: len,
            got: payload.len(),
        });
    }
    decode(&payload)
}

/// How much a frame read reserves up front, whatever its length prefix says.
const INITIAL_READ_CAPACITY: usize = 64 * 1024;
