//! Garbage, truncated and oversized frames close that connection only: the daemon stays up
//! and other clients keep working.

mod common;

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::time::Duration;

use common::*;
use rel_proto::codec::{MAX_FRAME_BYTES, frame};
use rel_proto::{ClientFrame, Hello, PROTOCOL_VERSION, Request, Response, ServerFrame};
use rel_testkit::TestDaemon;

/// Connect raw, optionally say Hello (and read the Welcome), then send `bytes` and return
/// whether the daemon closed the connection (EOF) without answering.
fn daemon_closes_after(socket: &std::path::Path, hello: bool, bytes: &[u8]) -> bool {
    let mut s = UnixStream::connect(socket).expect("connect raw");
    s.set_read_timeout(Some(Duration::from_secs(30)))
        .expect("timeout");
    if hello {
        let h = frame(&ClientFrame::Hello(Hello {
            protocol: PROTOCOL_VERSION,
            client: "raw".into(),
        }))
        .expect("frame");
        s.write_all(&h).expect("send hello");
        let mut len = [0u8; 4];
        s.read_exact(&mut len).expect("welcome length");
        let mut payload = vec![0u8; u32::from_be_bytes(len) as usize];
        s.read_exact(&mut payload).expect("welcome");
        let w: ServerFrame = rel_proto::decode(&payload).expect("decode welcome");
        assert!(matches!(w, ServerFrame::Welcome(Ok(_))), "{w:?}");
    }
    // The daemon may close before reading everything: a write error is fine.
    let _ = s.write_all(bytes);
    let _ = s.shutdown(std::net::Shutdown::Write);
    let mut rest = Vec::new();
    match s.read_to_end(&mut rest) {
        Ok(_) => rest.is_empty(),
        // Reset by peer also means closed.
        Err(e) => e.kind() == std::io::ErrorKind::ConnectionReset,
    }
}

fn tiny_frame_claiming_1tib_string() -> Vec<u8> {
    // ClientFrame::Request { id 1, Request::Import { dump: <2^40 bytes> } }
    let mut payload = vec![0x01, 0x01, 22, 0xfd];
    payload.extend_from_slice(&(1u64 << 40).to_le_bytes());
    let mut out = (payload.len() as u32).to_be_bytes().to_vec();
    out.extend_from_slice(&payload);
    out
}

#[tokio::test]
async fn hostile_frames_close_only_their_connection() {
    let d = TestDaemon::start();
    let good = connect(d.socket()).await;
    assert_eq!(
        good.call(Request::Ping).await.expect("ping"),
        Response::Pong
    );

    let oversized = (u32::try_from(MAX_FRAME_BYTES).expect("fits") + 1)
        .to_be_bytes()
        .to_vec();
    let mut truncated = 100u32.to_be_bytes().to_vec();
    truncated.extend_from_slice(&[0x01, 0x02, 0x03]);
    let garbage = b"\x00\x00\x00\x08\xff\xff\xff\xff\xff\xff\xff\xff".to_vec();
    let http = b"GET / HTTP/1.1\r\nHost: x\r\n\r\n".to_vec();
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("oversized length prefix", oversized),
        ("truncated frame", truncated),
        ("garbage payload", garbage),
        ("an HTTP request", http),
        ("a 1 TiB string claim", tiny_frame_claiming_1tib_string()),
    ];
    let socket = d.socket().to_path_buf();
    for (what, bytes) in cases {
        for hello in [false, true] {
            let (s, b) = (socket.clone(), bytes.clone());
            let closed = tokio::task::spawn_blocking(move || daemon_closes_after(&s, hello, &b))
                .await
                .expect("join");
            assert!(
                closed,
                "{what} (after hello: {hello}): the daemon answered instead of closing"
            );
            // The established client is unaffected, and so is a new one.
            assert_eq!(
                good.call(Request::Ping).await.expect("ping after {what}"),
                Response::Pong,
                "{what}"
            );
        }
    }
    let fresh = connect(d.socket()).await;
    assert!(matches!(
        fresh.call(Request::Status).await,
        Ok(Response::Status(_))
    ));
    let log = d.stderr_log();
    assert!(
        log.contains("larger than"),
        "oversized frame not logged:\n{log}"
    );
}

#[tokio::test]
async fn a_request_before_hello_or_a_second_hello_closes_the_connection() {
    let d = TestDaemon::start();
    let req = frame(&ClientFrame::Request {
        id: 1,
        request: Request::Ping,
    })
    .expect("frame");
    let s = d.socket().to_path_buf();
    let closed = tokio::task::spawn_blocking(move || daemon_closes_after(&s, false, &req))
        .await
        .expect("join");
    assert!(closed, "a request before Hello was answered");
    let hello = frame(&ClientFrame::Hello(Hello {
        protocol: PROTOCOL_VERSION,
        client: "x".into(),
    }))
    .expect("frame");
    let s = d.socket().to_path_buf();
    let closed = tokio::task::spawn_blocking(move || daemon_closes_after(&s, true, &hello))
        .await
        .expect("join");
    assert!(closed, "a second Hello was accepted");
    let c = connect(d.socket()).await;
    assert_eq!(c.call(Request::Ping).await.expect("ping"), Response::Pong);
}
