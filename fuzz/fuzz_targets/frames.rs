//! Arbitrary bytes as a stream of client frames: the incremental frame reader and the
//! bincode decoder must never panic or allocate by a claimed length; every request that
//! decodes is then sent to an in-process daemon, which must answer it (or refuse it) without
//! dying. Trigger and Verify are left out: they run pipelines, fuzzed by `app_config`.
//! DaemonStop is left out too: stopping is its documented answer (the fuzz caller is the
//! daemon's own uid, an admin), and a stopped daemon would end the run as a false crash.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rel_proto::codec::{CodecError, FrameReader};
use rel_proto::{Client, ClientFrame, Request, ServerFrame};
use tokio::sync::Mutex;

static CLIENT: Mutex<Option<Client>> = Mutex::const_new(None);

fuzz_target!(|data: &[u8]| {
    // Whole payloads, both directions: decode must be total.
    let _ = rel_proto::decode::<ClientFrame>(data);
    let _ = rel_proto::decode::<ServerFrame>(data);
    let d = rel_fuzz::daemon();
    d.rt.block_on(async {
        let mut reader = FrameReader::new(data);
        let mut requests = Vec::new();
        loop {
            match reader.next::<ClientFrame>().await {
                Ok(ClientFrame::Request { request, .. }) => requests.push(request),
                Ok(ClientFrame::Hello(_)) => {}
                Err(CodecError::Decode(_)) => continue,
                Err(_) => break,
            }
            if requests.len() >= 8 {
                break;
            }
        }
        for request in requests {
            if matches!(
                request,
                Request::Trigger { .. } | Request::Verify { .. } | Request::DaemonStop
            ) {
                continue;
            }
            // Re-encoding what decoded must work and decode to the same.
            let frame = ClientFrame::Request {
                id: 1,
                request: request.clone(),
            };
            if let Ok(bytes) = rel_proto::encode(&frame) {
                let back: ClientFrame = rel_proto::decode(&bytes).expect("re-decode");
                assert_eq!(back, frame);
            }
            let mut guard = CLIENT.lock().await;
            if guard.is_none() {
                *guard = Some(
                    Client::connect(&d.socket, "fuzz")
                        .await
                        .expect("the daemon must still accept connections"),
                );
            }
            let Some(client) = guard.as_ref() else { return };
            match client.call(request).await {
                Ok(_) | Err(rel_proto::ClientError::Rpc(_)) => {}
                Err(e) => {
                    // A lost connection is fine (e.g. an answer the daemon refused to send);
                    // a daemon that no longer answers is not.
                    *guard = None;
                    let c = Client::connect(&d.socket, "fuzz")
                        .await
                        .unwrap_or_else(|e2| panic!("daemon gone after {e}: {e2}"));
                    c.call(Request::Ping)
                        .await
                        .expect("ping after a lost connection");
                    *guard = Some(c);
                }
            }
        }
    });
});
