//! What the supervisor and a worker say to each other over the worker's stdin and stdout:
//! bincode messages, each preceded by its length as a big-endian `u32`. Both ends are this
//! binary, so the format only has to be compact and cheap, not stable across versions.
//! bincode cannot carry `serde_json::Value` or skipped fields, so run inputs travel as JSON
//! text and an app's configuration as JSON bytes (loads are rare; runs are the hot path).

use std::io::{Read, Write};

use rel_domain::config::AppConfig;
use rel_domain::model::Execution;
use rel_domain::{Digest, ErrorCode};
use serde::{Deserialize, Serialize};
use tokio::io::{AsyncRead, AsyncReadExt};

/// Largest message accepted from either side. Run inputs are at most 1 MiB (the HTTP
/// ingress's limit) or a frame of the Unix socket; outputs are bounded by the worker's
/// memory limit long before this.
pub const MAX_FRAME: usize = 256 << 20;

/// Supervisor → worker.
#[derive(Debug, Serialize, Deserialize)]
pub enum ToWorker {
    /// Compile and keep this release's app. No answer: a failure is the answer to the
    /// request that follows (`Failed`).
    Load {
        digest: Digest,
        tag: String,
        /// The `AppConfig` as JSON ([`config_json`], [`parse_config`]).
        config: Vec<u8>,
    },
    /// Run an endpoint of an app loaded earlier (`Missing` if it is not, or no longer, there).
    /// `seq` names the run in the step marker.
    Run {
        seq: u64,
        digest: Digest,
        endpoint: String,
        env: String,
        /// The run's input as JSON text, already checked to be JSON by the caller.
        input: String,
    },
    /// Run check number `index` of an app loaded earlier.
    Check {
        seq: u64,
        digest: Digest,
        env: String,
        index: usize,
    },
}

/// Worker → supervisor.
#[derive(Debug, Serialize, Deserialize)]
pub enum FromWorker {
    /// A step is starting: what to record should the supervisor have to stop it. Only from
    /// a worker without a step marker file ([`StepMark`] otherwise).
    Step {
        name: String,
        kind: String,
        limit_ms: u64,
        by_deadline: bool,
        timeout_reason: String,
    },
    /// The app is not loaded: send `Load`, then the request again.
    Missing,
    Ran {
        execution: Box<Execution>,
        deadline_exceeded: bool,
        /// A step ran past its limit and may still be computing: kill this worker.
        tainted: bool,
    },
    Checked {
        name: String,
        endpoint: String,
        passed: bool,
        message: String,
        execution: Box<Execution>,
        tainted: bool,
    },
    /// The request could not start (unknown endpoint, an app that does not compile).
    Failed { code: ErrorCode, message: String },
}

/// A step that started, as the worker marks it in its step-marker file (one record at
/// offset 0, rewritten per step): the supervisor reads it only when it needs to know (a run
/// that takes long, a crash), so a run costs one frame each way on the pipe.
#[derive(Debug, Serialize, Deserialize)]
pub struct StepMark {
    /// The run (`ToWorker::Run::seq`) it belongs to.
    pub seq: u64,
    /// When it started, in ms after the worker read the request.
    pub at_ms: u64,
    pub name: String,
    pub kind: String,
    pub limit_ms: u64,
    pub by_deadline: bool,
    pub timeout_reason: String,
}

/// `len` (u32 LE) + the first 8 bytes of the body's blake3: a record read while it is being
/// rewritten does not match and is read again.
const MARK_HEAD: usize = 12;
/// A marker record is a few hundred bytes; more is damage.
const MAX_MARK: usize = 64 << 10;

/// Write `mark` over the marker file's record.
pub fn write_mark(file: &std::fs::File, mark: &StepMark) -> std::io::Result<()> {
    use std::os::unix::fs::FileExt;
    let body = bincode::serde::encode_to_vec(mark, codec()).map_err(std::io::Error::other)?;
    let mut rec = Vec::with_capacity(MARK_HEAD + body.len());
    rec.extend_from_slice(&(body.len() as u32).to_le_bytes());
    rec.extend_from_slice(&blake3::hash(&body).as_bytes()[..8]);
    rec.extend_from_slice(&body);
    file.write_all_at(&rec, 0)
}

/// The marker file's record, if there is a whole one.
pub fn read_mark(file: &std::fs::File) -> Option<StepMark> {
    use std::os::unix::fs::FileExt;
    for _ in 0..3 {
        let mut head = [0u8; MARK_HEAD];
        file.read_exact_at(&mut head, 0).ok()?;
        let len = u32::from_le_bytes(head[..4].try_into().ok()?) as usize;
        if len == 0 || len > MAX_MARK {
            return None;
        }
        let mut body = vec![0u8; len];
        file.read_exact_at(&mut body, MARK_HEAD as u64).ok()?;
        if blake3::hash(&body).as_bytes()[..8] == head[4..] {
            return decode(&body).ok();
        }
    }
    None
}

/// The frame for `msg`: length, then bincode.
pub fn encode<T: Serialize>(msg: &T) -> Vec<u8> {
    let mut out = Vec::with_capacity(256);
    out.extend_from_slice(&[0u8; 4]);
    // Encoding these types cannot fail (no skipped fields, no custom impls that error);
    // should it, the peer gets an empty message and reports a broken frame.
    if let Ok(body) = bincode::serde::encode_to_vec(msg, codec()) {
        out.extend_from_slice(&body);
    }
    let len = u32::try_from(out.len() - 4).unwrap_or(u32::MAX);
    out[..4].copy_from_slice(&len.to_be_bytes());
    out
}

/// An app configuration for [`ToWorker::Load`].
pub fn config_json(config: &AppConfig) -> Vec<u8> {
    // An `AppConfig` is plain data: serialising it cannot fail.
    serde_json::to_vec(config).unwrap_or_default()
}

pub fn parse_config(bytes: &[u8]) -> Result<AppConfig, String> {
    serde_json::from_slice(bytes)
        .map_err(|e| format!("the app configuration sent to the worker is not readable: {e}"))
}

fn codec() -> impl bincode::config::Config {
    bincode::config::standard().with_limit::<MAX_FRAME>()
}

fn decode<T: for<'de> Deserialize<'de>>(bytes: &[u8]) -> std::io::Result<T> {
    let (msg, used) = bincode::serde::decode_from_slice(bytes, codec()).map_err(invalid)?;
    if used != bytes.len() {
        return Err(invalid(format!(
            "{} bytes left over after a worker message",
            bytes.len() - used
        )));
    }
    Ok(msg)
}

/// Read one frame (blocking; the worker side). `Ok(None)` at a clean end of input.
pub fn read_blocking<T: for<'de> Deserialize<'de>>(
    r: &mut impl Read,
) -> std::io::Result<Option<T>> {
    let mut len = [0u8; 4];
    match r.read_exact(&mut len) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(None),
        Err(e) => return Err(e),
    }
    let len = checked_len(len)?;
    let mut buf = vec![0u8; len];
    r.read_exact(&mut buf)?;
    decode(&buf).map(Some)
}

/// Write one frame and flush (blocking; the worker side).
pub fn write_blocking<T: Serialize>(w: &mut impl Write, msg: &T) -> std::io::Result<()> {
    w.write_all(&encode(msg))?;
    w.flush()
}

/// Read one frame (the supervisor side). An end of input is an `UnexpectedEof` error: a
/// worker never closes its stdout while it is asked something.
pub async fn read<T: for<'de> Deserialize<'de>>(
    r: &mut (impl AsyncRead + Unpin),
) -> std::io::Result<T> {
    let mut len = [0u8; 4];
    r.read_exact(&mut len).await?;
    let len = checked_len(len)?;
    let mut buf = vec![0u8; len];
    r.read_exact(&mut buf).await?;
    decode(&buf)
}

fn checked_len(len: [u8; 4]) -> std::io::Result<usize> {
    let len = u32::from_be_bytes(len) as usize;
    if len > MAX_FRAME {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!("a worker frame of {len} bytes is over the limit of {MAX_FRAME}"),
        ));
    }
    Ok(len)
}

fn invalid(e: impl std::fmt::Display) -> std::io::Error {
    std::io::Error::new(std::io::ErrorKind::InvalidData, e.to_string())
}
