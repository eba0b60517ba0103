//! One in-process releasd per fuzz process (temp store, Unix socket and HTTP port), shared by
//! every input, so the targets exercise the real connection, dispatch and HTTP code.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::OnceLock;

use releasd::{DaemonInfo, ServeOptions};

pub struct Daemon {
    pub rt: tokio::runtime::Runtime,
    pub socket: PathBuf,
    pub http: SocketAddr,
    _dir: tempfile::TempDir,
}

pub fn daemon() -> &'static Daemon {
    static D: OnceLock<Daemon> = OnceLock::new();
    D.get_or_init(start)
}

fn start() -> Daemon {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let dir = tempfile::tempdir().expect("temp dir");
    let socket = dir.path().join("run").join("releasd.sock");
    let data_dir = dir.path().join("data");
    std::fs::create_dir_all(&data_dir).expect("data dir");
    let store: std::sync::Arc<dyn rel_domain::Store> =
        std::sync::Arc::new(rel_store::SledStore::open(&data_dir).expect("store"));
    let (listener, tcp) = rt.block_on(async {
        let l = releasd::socket::bind(&socket, &Default::default())
            .await
            .expect("bind socket");
        let t = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind http");
        (l, t)
    });
    let http = tcp.local_addr().expect("http addr");
    let info = DaemonInfo {
        socket: socket.clone(),
        data_dir,
        started_at: releasd::dispatch::now(),
        pid: std::process::id(),
        http: None,
    };
    let mut opts = ServeOptions::new(info);
    opts.http = Some(tcp);
    rt.spawn(releasd::serve(
        listener,
        store,
        opts,
        std::future::pending::<()>(),
    ));
    Daemon {
        rt,
        socket,
        http,
        _dir: dir,
    }
}
