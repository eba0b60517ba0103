//! Reading and verifying the audit log.

use rel_domain::RelResult;
use rel_domain::audit::Verifier;
use rel_domain::model::{AuditEntry, AuditReport};

use crate::keys::*;
use crate::read;
use crate::records::*;
use crate::trees::{T, Trees, storage_error};

/// Newest first, below `before_seq`.
pub fn list(trees: &Trees, limit: usize, before_seq: Option<u64>) -> RelResult<Vec<AuditEntry>> {
    let limit = if limit == 0 { usize::MAX } else { limit };
    let mut out = Vec::new();
    for item in trees
        .tree(T::Audit)
        .range(..u64k(before_seq.unwrap_or(u64::MAX)))
        .rev()
    {
        let (_, v) = item.map_err(storage_error)?;
        out.push(dec("audit", &v)?);
        if out.len() >= limit {
            break;
        }
    }
    Ok(out)
}

/// Walk the whole chain, oldest first, then compare its end with the head kept in `meta`
/// (which catches entries cut off the end). An undecodable entry counts as edited.
pub fn verify(trees: &Trees) -> RelResult<AuditReport> {
    let mut v = Verifier::new();
    for item in trees.tree(T::Audit).iter() {
        let (k, val) = item.map_err(storage_error)?;
        match dec::<AuditEntry>("audit", &val) {
            Ok(e) => {
                let key_seq = read_u64(&k).unwrap_or(0);
                if key_seq != e.seq {
                    v.fail(key_seq, format!("it is stored as entry #{key_seq} but says it is #{}: the log was edited", e.seq));
                }
                v.push(&e);
            }
            Err(_) => v.fail(
                read_u64(&k).unwrap_or(0),
                "it cannot be decoded: the stored bytes were edited or damaged",
            ),
        }
    }
    let head = read::audit_head(trees)?;
    if head != v.head() {
        match head {
            Some((seq, _)) => {
                let seen = v.head().map(|h| h.0).unwrap_or(0);
                if seen < seq {
                    v.fail(seen + 1, format!(
                        "the log ends at entry #{seen} but the store recorded #{seq} as its newest: entries were removed from the end"
                    ));
                } else {
                    v.fail(seq, "the newest entry does not match the head the store recorded: the log was edited");
                }
            }
            None => v.fail(
                1,
                "the log has entries the store never recorded writing: the log was edited",
            ),
        }
    }
    Ok(v.finish())
}
