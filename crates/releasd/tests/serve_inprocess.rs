//! `serve` as a library on a temp socket with a real SledStore: graceful shutdown returns
//! with idle and subscribed clients connected, and removes the socket.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::*;
use rel_domain::Store;
use rel_proto::{ClientError, Request};
use releasd::socket::{SocketPolicy, bind};
use releasd::{DaemonInfo, ServeOptions, serve};

#[tokio::test]
async fn serve_shuts_down_gracefully_with_clients_connected() {
    let dir = tempfile::tempdir().expect("tempdir");
    let socket = dir.path().join("run").join("releasd.sock");
    let store: Arc<dyn Store> =
        Arc::new(rel_store::SledStore::open(dir.path().join("data")).expect("open store"));
    let listener = bind(&socket, &SocketPolicy::default()).await.expect("bind");
    let info = DaemonInfo {
        socket: socket.clone(),
        data_dir: dir.path().join("data"),
        started_at: releasd::dispatch::now(),
        pid: std::process::id(),
        http: None,
    };
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(serve(
        listener,
        Arc::clone(&store),
        ServeOptions::new(info),
        async {
            let _ = stop_rx.await;
        },
    ));

    let c = connect(&socket).await;
    apply_example(&c).await;
    create(&c, "v1", Some("staging")).await.expect("create");
    let watcher = connect(&socket).await;
    let mut events = watcher.subscribe().await.expect("subscribe");
    let _idle = connect(&socket).await;

    stop_tx.send(()).expect("stop");
    tokio::time::timeout(Duration::from_secs(30), server)
        .await
        .expect("serve did not return with clients connected")
        .expect("serve task");
    assert!(!socket.exists(), "socket not removed");
    assert_eq!(
        tokio::time::timeout(Duration::from_secs(10), events.next())
            .await
            .expect("stream end"),
        None
    );
    assert!(matches!(
        c.call(Request::Ping).await,
        Err(ClientError::Disconnected(_))
    ));

    // What was acknowledged is in the store.
    assert_eq!(
        store.environment("staging").expect("env").live.as_deref(),
        Some("v1")
    );
}
