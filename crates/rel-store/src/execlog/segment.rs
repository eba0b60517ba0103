//! The frames of an execution-log segment file. A frame is `len` (u32 LE, of the body),
//! `check` (the first 8 bytes of the body's blake3) and the body; a batch of frames is
//! appended with one write. Reading stops at the first frame that is cut short or does not
//! match its check: that is where a crash interrupted a write, and the rest is dropped.
//!
//! Bodies:
//! - `1`, id (u64 LE), env length (u16 LE), env, the execution record (`records::enc`);
//! - `2`, floor (u64 LE), env length (u16 LE), env: the environment's logs below `floor`
//!   were trimmed by the retention.

use std::path::Path;

const KIND_EXEC: u8 = 1;
const KIND_FLOOR: u8 = 2;
/// `len` + `check`.
const HEAD: usize = 12;
/// A body longer than this is damage, not a record (records are capped far below).
const MAX_BODY: usize = 64 << 20;

/// The file name of segment `n` (sorts in number order).
pub fn file_name(n: u64) -> String {
    format!("{n:016}.seg")
}

/// The segment numbers in `dir`, ascending.
pub fn list(dir: &Path) -> std::io::Result<Vec<u64>> {
    crate::wal::numbered_files(dir, ".seg")
}

/// Append an execution's frame to `buf`; returns where its record starts in `buf` and its
/// length.
pub fn push_exec(buf: &mut Vec<u8>, id: u64, env: &str, record: &[u8]) -> (usize, u32) {
    let env = env_bytes(env);
    let start = buf.len();
    buf.extend_from_slice(&[0u8; HEAD]);
    buf.push(KIND_EXEC);
    buf.extend_from_slice(&id.to_le_bytes());
    buf.extend_from_slice(&(env.len() as u16).to_le_bytes());
    buf.extend_from_slice(env);
    let at = buf.len();
    buf.extend_from_slice(record);
    seal(buf, start);
    (at, record.len() as u32)
}

/// Append a retention floor's frame to `buf`.
pub fn push_floor(buf: &mut Vec<u8>, env: &str, floor: u64) {
    let env = env_bytes(env);
    let start = buf.len();
    buf.extend_from_slice(&[0u8; HEAD]);
    buf.push(KIND_FLOOR);
    buf.extend_from_slice(&floor.to_le_bytes());
    buf.extend_from_slice(&(env.len() as u16).to_le_bytes());
    buf.extend_from_slice(env);
    seal(buf, start);
}

/// Environment names are short (validated at creation); never let one break the framing.
fn env_bytes(env: &str) -> &[u8] {
    let b = env.as_bytes();
    &b[..b.len().min(u16::MAX as usize)]
}

fn seal(buf: &mut [u8], start: usize) {
    let body = &buf[start + HEAD..];
    let len = body.len() as u32;
    let check = blake3::hash(body);
    buf[start..start + 4].copy_from_slice(&len.to_le_bytes());
    buf[start + 4..start + HEAD].copy_from_slice(&check.as_bytes()[..8]);
}

#[derive(Debug, PartialEq, Eq)]
pub enum Frame<'a> {
    /// `record` is `record_len` bytes at `record_at` of the scanned bytes.
    Exec {
        id: u64,
        env: &'a str,
        record_at: usize,
        record_len: u32,
    },
    Floor {
        env: &'a str,
        floor: u64,
    },
}

/// The frames of a segment's bytes, and the length of the intact prefix they fill.
pub fn scan(bytes: &[u8]) -> (Vec<Frame<'_>>, usize) {
    let mut frames = Vec::new();
    let mut at = 0;
    while let Some((frame, next)) = frame_at(bytes, at) {
        if let Some(f) = frame {
            frames.push(f);
        }
        at = next;
    }
    (frames, at)
}

/// The frame at `at` (`None` inside: a kind this build does not know, skipped) and where
/// the next one starts; `None` when there is no intact frame there.
fn frame_at(bytes: &[u8], at: usize) -> Option<(Option<Frame<'_>>, usize)> {
    let head = bytes.get(at..at + HEAD)?;
    let len = u32::from_le_bytes(head[..4].try_into().ok()?) as usize;
    if len == 0 || len > MAX_BODY {
        return None;
    }
    let body = bytes.get(at + HEAD..at + HEAD + len)?;
    if blake3::hash(body).as_bytes()[..8] != head[4..HEAD] {
        return None;
    }
    let next = at + HEAD + len;
    let kind = body[0];
    let num = u64::from_le_bytes(body.get(1..9)?.try_into().ok()?);
    let env_len = u16::from_le_bytes(body.get(9..11)?.try_into().ok()?) as usize;
    let env = std::str::from_utf8(body.get(11..11 + env_len)?).ok()?;
    let frame = match kind {
        KIND_EXEC => {
            let record_at = at + HEAD + 11 + env_len;
            Some(Frame::Exec {
                id: num,
                env,
                record_at,
                record_len: (next - record_at) as u32,
            })
        }
        KIND_FLOOR => Some(Frame::Floor { env, floor: num }),
        _ => None,
    };
    Some((frame, next))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_round_trip_and_a_torn_tail_is_dropped() {
        let mut buf = Vec::new();
        let (at, len) = push_exec(&mut buf, 7, "staging", b"record");
        push_floor(&mut buf, "production", 3);
        let whole = buf.len();
        push_exec(&mut buf, 8, "staging", b"cut short");
        buf.truncate(buf.len() - 2);
        let (frames, intact) = scan(&buf);
        assert_eq!(intact, whole);
        assert_eq!(
            frames,
            vec![
                Frame::Exec {
                    id: 7,
                    env: "staging",
                    record_at: at,
                    record_len: len
                },
                Frame::Floor {
                    env: "production",
                    floor: 3
                }
            ]
        );
        assert_eq!(&buf[at..at + len as usize], b"record");
        // A flipped byte ends the intact prefix there.
        let mut bad = buf[..whole].to_vec();
        bad[at] ^= 1;
        assert_eq!(scan(&bad).1, 0);
    }
}
