//! Arbitrary bytes sent to the HTTP ingress of an in-process daemon as one request: hyper's
//! parsing, routing, authentication, environment and body handling. The daemon must answer
//! or close, and keep answering a well-formed request afterwards.
#![no_main]

use std::time::Duration;

use libfuzzer_sys::fuzz_target;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

fuzz_target!(|data: &[u8]| {
    let d = rel_fuzz::daemon();
    d.rt.block_on(async {
        let mut s = tokio::net::TcpStream::connect(d.http)
            .await
            .expect("the HTTP port must accept");
        let _ = s.write_all(data).await;
        let _ = s.shutdown().await;
        let mut answer = Vec::new();
        let read = tokio::time::timeout(Duration::from_secs(20), s.read_to_end(&mut answer));
        assert!(
            read.await.is_ok(),
            "the daemon neither answered nor closed within 20s"
        );
    });
});
