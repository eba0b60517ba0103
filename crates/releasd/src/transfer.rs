//! Streaming export and import (issue 7): the store moves in pieces of bounded frames, so
//! neither side is limited by one frame and the daemon never holds the whole export in
//! memory.
//!
//! Export: the document is written from the trees (under the read gate, so it is one
//! consistent state) to an unnamed spool file in the data dir, then sent in pieces; a slow
//! reader holds only its spool file, never the store's gate. Import: the pieces a connection
//! sends are appended to its own spool file; `ImportCommit` imports them in one transaction.
//! Spool files have no name: they vanish when closed, even after kill -9.

use std::io::{Read, Seek, Write};
use std::sync::Arc;

use rel_domain::{Caller, RelError, RelResult};
use rel_proto::{Request, Response, ServerFrame};
use tokio::sync::mpsc;

use crate::server::Shared;

/// Bytes of the document per export piece: well inside a frame.
pub const CHUNK_BYTES: usize = 1024 * 1024;

fn spool(shared: &Shared) -> RelResult<std::fs::File> {
    tempfile::tempfile_in(&shared.info.data_dir).map_err(|e| {
        RelError::unavailable(format!(
            "cannot create a spool file in {}: {e}; check free space there",
            shared.info.data_dir.display()
        ))
    })
}

fn io_err(what: &str, e: std::io::Error) -> RelError {
    RelError::unavailable(format!("{what}: {e}"))
}

/// Answer `ExportStream` request `id`: pieces (`Response::Export`), then `Done`; or one error.
pub async fn export(shared: Arc<Shared>, caller: Caller, id: u64, out: mpsc::Sender<ServerFrame>) {
    let send = |result: RelResult<Response>| {
        let out = out.clone();
        async move { out.send(ServerFrame::Response { id, result }).await.is_ok() }
    };
    if let Err(e) = crate::auth::authorize(&caller, &Request::ExportStream) {
        send(Err(e)).await;
        return;
    }
    let writer = Arc::clone(&shared);
    let file = tokio::task::spawn_blocking(move || -> RelResult<std::fs::File> {
        let mut file = spool(&writer)?;
        {
            let mut w = std::io::BufWriter::new(&mut file);
            writer.store.export_to(&mut w)?;
            w.flush()
                .map_err(|e| io_err("export: cannot write the spool file", e))?;
        }
        file.rewind()
            .map_err(|e| io_err("export: cannot read the spool file", e))?;
        Ok(file)
    })
    .await
    .unwrap_or_else(|e| Err(RelError::internal(format!("export failed: {e}"))));
    let mut file = match file {
        Ok(f) => f,
        Err(e) => {
            tracing::warn!(actor = %caller.actor.name, "export failed: {}", e.message);
            send(Err(e)).await;
            return;
        }
    };
    let mut sent: u64 = 0;
    let mut carry: Vec<u8> = Vec::new();
    loop {
        let read = tokio::task::spawn_blocking(move || {
            let mut buf = carry;
            let start = buf.len();
            buf.resize(start + CHUNK_BYTES, 0);
            let n = file.read(&mut buf[start..]);
            (file, buf, start, n)
        })
        .await;
        let Ok((f, mut buf, start, n)) = read else {
            send(Err(RelError::internal(
                "export: reading the spool file failed",
            )))
            .await;
            return;
        };
        file = f;
        let n = match n {
            Ok(n) => n,
            Err(e) => {
                send(Err(io_err("export: cannot read the spool file", e))).await;
                return;
            }
        };
        buf.truncate(start + n);
        if buf.is_empty() {
            break;
        }
        // Cut on a character boundary; the rest starts the next piece.
        let valid = match std::str::from_utf8(&buf) {
            Ok(_) => buf.len(),
            Err(e) if e.error_len().is_none() && n > 0 => e.valid_up_to(),
            Err(e) => {
                send(Err(RelError::internal(format!("export: not UTF-8: {e}")))).await;
                return;
            }
        };
        carry = buf.split_off(valid);
        sent += buf.len() as u64;
        let piece = String::from_utf8(buf).unwrap_or_default();
        if !send(Ok(Response::Export { dump: piece })).await {
            return;
        }
    }
    tracing::info!(actor = %caller.actor.name, bytes = sent, "export streamed");
    send(Ok(Response::Done)).await;
}

/// The pieces of an import one connection has sent so far.
#[derive(Default)]
pub struct Upload {
    file: Option<std::fs::File>,
    bytes: u64,
}

impl Upload {
    /// Append one piece (`ImportChunk`), after checking the caller may import.
    pub async fn append(
        &mut self,
        shared: &Arc<Shared>,
        caller: &Caller,
        data: String,
    ) -> RelResult<Response> {
        crate::auth::authorize(caller, &Request::ImportCommit)?;
        let mut file = match self.file.take() {
            Some(f) => f,
            None => spool(shared)?,
        };
        let (file, written) = tokio::task::spawn_blocking(move || {
            let r = file.write_all(data.as_bytes()).map(|()| data.len());
            (file, r)
        })
        .await
        .map_err(|e| RelError::internal(format!("import: writing the spool file failed: {e}")))?;
        let n = written.map_err(|e| io_err("import: cannot write the spool file", e))?;
        self.file = Some(file);
        self.bytes += n as u64;
        Ok(Response::Done)
    }

    /// The whole document sent so far (`ImportCommit`), ready to import; the upload is reset.
    pub async fn take(&mut self) -> RelResult<String> {
        let Some(mut file) = self.file.take() else {
            return Err(RelError::invalid(
                "import: nothing was sent before ImportCommit; send the export in ImportChunk pieces first",
            ));
        };
        self.bytes = 0;
        tokio::task::spawn_blocking(move || {
            file.rewind()
                .map_err(|e| io_err("import: cannot read the spool file", e))?;
            let mut text = String::new();
            file.read_to_string(&mut text).map_err(|e| {
                RelError::invalid(format!(
                    "the export is not UTF-8 text ({e}); nothing was imported"
                ))
            })?;
            Ok(text)
        })
        .await
        .map_err(|e| RelError::internal(format!("import: reading the spool file failed: {e}")))?
    }
}
