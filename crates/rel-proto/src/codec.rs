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
    #[error("a frame did not arrive whole within {limit:?}: {got} of {expected} bytes came")]
    FrameTimeout {
        limit: std::time::Duration,
        expected: usize,
        got: usize,
    },
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
/// Not cancel-safe (a cancelled read loses what it consumed); for a reader that is raced
/// against timers use [`FrameReader`].
pub async fn read_frame<R: AsyncRead + Unpin, T: DeserializeOwned>(
    r: &mut R,
) -> Result<T, CodecError> {
    FrameReader::new(r).next().await
}

/// How much a read reserves beyond the bytes already buffered, whatever the length prefix
/// claims: a peer that announces 16 MiB and sends 10 bytes costs 10 bytes plus this.
const READ_CHUNK: usize = 64 * 1024;

/// Reads frames incrementally into its own buffer, so that [`FrameReader::next`] is
/// cancel-safe (bytes read before a cancellation stay buffered for the next call) and a
/// caller can see whether a frame is in progress (to give it a deadline). The buffer grows as
/// bytes arrive, never by the claimed length.
pub struct FrameReader<R> {
    r: R,
    buf: Vec<u8>,
    /// When the first byte of the frame in progress arrived.
    started: Option<tokio::time::Instant>,
    frame_timeout: Option<std::time::Duration>,
}

impl<R: AsyncRead + Unpin> FrameReader<R> {
    pub fn new(r: R) -> FrameReader<R> {
        FrameReader {
            r,
            buf: Vec::new(),
            started: None,
            frame_timeout: None,
        }
    }

    /// A frame that has started must be complete within `limit` (slowloris), else
    /// [`CodecError::FrameTimeout`]. Waiting for a frame to start has no limit here.
    pub fn with_frame_timeout(mut self, limit: std::time::Duration) -> FrameReader<R> {
        self.frame_timeout = Some(limit);
        self
    }

    /// Bytes of a frame that has started but not yet fully arrived.
    pub fn partial(&self) -> usize {
        self.buf.len()
    }

    /// Bytes this reader holds in memory (its buffer's capacity).
    pub fn held(&self) -> usize {
        self.buf.capacity()
    }

    /// The next frame. Cancel-safe.
    pub async fn next<T: DeserializeOwned>(&mut self) -> Result<T, CodecError> {
        loop {
            if let Some(len) = self.complete_len()? {
                let result = decode(&self.buf[4..4 + len]);
                self.buf.drain(..4 + len);
                self.started = None;
                // Do not keep a large buffer around for an idle connection.
                if self.buf.capacity() > 2 * READ_CHUNK && self.buf.len() < READ_CHUNK {
                    self.buf.shrink_to(READ_CHUNK);
                }
                return result;
            }
            let want = match self.claimed_len() {
                Some(len) => (4 + len - self.buf.len()).min(READ_CHUNK),
                None => 4 - self.buf.len(),
            };
            self.buf.reserve(want);
            let spare = self.buf.capacity() - self.buf.len();
            let mut limited = (&mut self.r).take(spare.min(want.max(1)) as u64);
            let read = limited.read_buf(&mut self.buf);
            let n = match (self.started, self.frame_timeout) {
                (Some(t0), Some(limit)) => match tokio::time::timeout_at(t0 + limit, read).await {
                    Ok(n) => n?,
                    Err(_) => {
                        return Err(CodecError::FrameTimeout {
                            limit,
                            expected: self.claimed_len().map_or(4, |l| l + 4),
                            got: self.buf.len(),
                        });
                    }
                },
                _ => read.await?,
            };
            if n > 0 && self.started.is_none() {
                self.started = Some(tokio::time::Instant::now());
            }
            if n == 0 {
                // EOF inside the length prefix counts as a close, as before a frame.
                return Err(match self.claimed_len() {
                    None => CodecError::Closed,
                    Some(expected) => CodecError::Truncated {
                        expected,
                        got: self.buf.len() - 4,
                    },
                });
            }
        }
    }

    fn claimed_len(&self) -> Option<usize> {
        let prefix: [u8; 4] = self.buf.get(..4)?.try_into().ok()?;
        Some(u32::from_be_bytes(prefix) as usize)
    }

    /// The payload length once the whole frame is buffered; an error as soon as the prefix
    /// claims more than the limit.
    fn complete_len(&self) -> Result<Option<usize>, CodecError> {
        match self.claimed_len() {
            Some(len) if len > MAX_FRAME_BYTES => Err(CodecError::TooLarge(len)),
            Some(len) if self.buf.len() >= 4 + len => Ok(Some(len)),
            _ => Ok(None),
        }
    }
}
