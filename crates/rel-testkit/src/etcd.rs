//! A real etcd cluster for tests: N members of Debian's `etcd` on free loopback ports in a
//! temp dir, optionally serving clients over TLS (certificates generated here), killed on drop.
//!
//! ```no_run
//! let c = rel_testkit::etcd::EtcdCluster::start(3);
//! let url = c.store_url("rel-test");
//! # let _ = url;
//! ```
//!
//! Readiness is `etcdctl endpoint health` answering (a linearizable read that needs a
//! leader), polled against a deadline; never a sleep.

use std::fs::File;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use crate::{wait_deadline, wait_until};

/// How long a cluster (or a restarted member) may take to answer a health check. A deadline,
/// not a sleep: the machine is shared and elections after a restart take a few timeouts.
const READY_DEADLINE: Duration = Duration::from_secs(60);

/// What a fresh Debian machine must install for these tests (the README's test command and
/// `.ci/run` do it).
const INSTALL_HINT: &str = "install Debian's etcd-server and etcd-client packages (apt-get install -y etcd-server etcd-client); .ci/run does it";

/// PEM files for a TLS cluster: a CA, the members' server certificate and a client certificate.
#[derive(Debug, Clone)]
pub struct TlsFiles {
    pub ca: PathBuf,
    pub server_cert: PathBuf,
    pub server_key: PathBuf,
    pub client_cert: PathBuf,
    pub client_key: PathBuf,
}

struct Member {
    name: String,
    client_port: u16,
    peer_port: u16,
    child: Option<Child>,
}

/// A running etcd cluster; every member is SIGKILLed when it is dropped.
pub struct EtcdCluster {
    dir: tempfile::TempDir,
    members: Vec<Member>,
    tls: Option<TlsFiles>,
    /// `user:password` for etcdctl once [`EtcdCluster::enable_auth`] ran.
    root: Option<String>,
}

impl EtcdCluster {
    /// Start `n` members over plain HTTP and wait until the cluster is healthy.
    ///
    /// # Panics
    /// If etcd is not installed or the cluster does not become healthy; the panic quotes the
    /// members' logs.
    pub fn start(n: usize) -> EtcdCluster {
        Self::start_inner(n, false)
    }

    /// Like [`EtcdCluster::start`], but clients must speak TLS and present a certificate
    /// signed by the test CA ([`EtcdCluster::tls`]).
    pub fn start_tls(n: usize) -> EtcdCluster {
        Self::start_inner(n, true)
    }

    fn start_inner(n: usize, tls: bool) -> EtcdCluster {
        assert!(n > 0, "a cluster needs at least one member");
        require_binary("etcd");
        require_binary("etcdctl");
        // Ports are picked by binding port 0 and releasing it; another process may take one
        // in between, so a cluster that fails to start is retried on fresh ports.
        let mut last = String::new();
        for _ in 0..3 {
            let dir = tempfile::Builder::new()
                .prefix("rel-etcd-")
                .tempdir()
                .expect("create a temp dir for etcd");
            let tls = tls.then(|| write_tls_files(dir.path()));
            let ports = free_ports(2 * n);
            let members = (0..n)
                .map(|i| Member {
                    name: format!("m{i}"),
                    client_port: ports[2 * i],
                    peer_port: ports[2 * i + 1],
                    child: None,
                })
                .collect();
            let mut c = EtcdCluster {
                dir,
                members,
                tls,
                root: None,
            };
            for i in 0..n {
                c.spawn(i);
            }
            match c.wait_healthy_all() {
                Ok(()) => return c,
                Err(e) => last = e,
            }
        }
        panic!("rel-testkit: etcd cluster did not become healthy: {last}");
    }

    fn member_dir(&self, i: usize) -> PathBuf {
        self.dir.path().join(&self.members[i].name)
    }

    fn log_path(&self, i: usize) -> PathBuf {
        self.dir
            .path()
            .join(format!("{}.log", self.members[i].name))
    }

    fn scheme(&self) -> &'static str {
        if self.tls.is_some() { "https" } else { "http" }
    }

    fn spawn(&mut self, i: usize) {
        let initial_cluster = self
            .members
            .iter()
            .map(|m| format!("{}=http://127.0.0.1:{}", m.name, m.peer_port))
            .collect::<Vec<_>>()
            .join(",");
        let m = &self.members[i];
        let client_url = format!("{}://127.0.0.1:{}", self.scheme(), m.client_port);
        let peer_url = format!("http://127.0.0.1:{}", m.peer_port);
        let log = File::options()
            .create(true)
            .append(true)
            .open(self.log_path(i))
            .expect("open an etcd log file");
        let mut cmd = Command::new("etcd");
        cmd.arg("--name")
            .arg(&m.name)
            .arg("--data-dir")
            .arg(self.member_dir(i))
            .args(["--listen-client-urls", &client_url])
            .args(["--advertise-client-urls", &client_url])
            .args(["--listen-peer-urls", &peer_url])
            .args(["--initial-advertise-peer-urls", &peer_url])
            .args(["--initial-cluster", &initial_cluster])
            .args(["--initial-cluster-state", "new"])
            // One token per cluster (its first peer port is unique while it runs): members of
            // two clusters that picked a colliding port can never join each other.
            .args([
                "--initial-cluster-token",
                &format!("rel-test-{}", self.members[0].peer_port),
            ])
            // Short raft timers: a killed leader is replaced in about a second, not ten.
            .args(["--heartbeat-interval", "50", "--election-timeout", "500"])
            // As docs/SCALE-OUT.md recommends: an import is one transaction of many keys.
            .args(["--max-txn-ops", "1024", "--max-request-bytes", "10485760"])
            .args(["--logger", "zap", "--log-outputs", "stderr"]);
        if let Some(t) = &self.tls {
            cmd.arg("--cert-file")
                .arg(&t.server_cert)
                .arg("--key-file")
                .arg(&t.server_key)
                .arg("--trusted-ca-file")
                .arg(&t.ca)
                .arg("--client-cert-auth");
        }
        let child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| panic!("rel-testkit: cannot start etcd ({e}); {INSTALL_HINT}"));
        self.members[i].child = Some(child);
    }

    /// The members' client addresses, `127.0.0.1:PORT`, in member order.
    pub fn endpoints(&self) -> Vec<String> {
        self.members
            .iter()
            .map(|m| format!("127.0.0.1:{}", m.client_port))
            .collect()
    }

    /// `etcd://HOST:PORT,…/PREFIX`, the value of `releasd --store`.
    pub fn store_url(&self, prefix: &str) -> String {
        format!("etcd://{}/{prefix}", self.endpoints().join(","))
    }

    /// The certificates of a TLS cluster.
    pub fn tls(&self) -> Option<&TlsFiles> {
        self.tls.as_ref()
    }

    /// The temp dir holding the members' data dirs, logs and certificates.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// Every member's log so far, each under a header (for assertion messages).
    pub fn logs(&self) -> String {
        let mut out = String::new();
        for i in 0..self.members.len() {
            let text = std::fs::read_to_string(self.log_path(i)).unwrap_or_default();
            let tail: Vec<&str> = text.lines().rev().take(40).collect();
            out.push_str(&format!("--- etcd {} ---\n", self.members[i].name));
            for l in tail.into_iter().rev() {
                out.push_str(l);
                out.push('\n');
            }
        }
        out
    }

    /// `etcdctl` (v3 API) against every running member (etcdctl 3.4 does not move on from a
    /// dead first endpoint), with the cluster's TLS files and credentials.
    pub fn etcdctl(&self) -> Command {
        let running: Vec<String> = self
            .members
            .iter()
            .filter(|m| m.child.is_some())
            .map(|m| format!("127.0.0.1:{}", m.client_port))
            .collect();
        self.etcdctl_on(&running)
    }

    fn etcdctl_on(&self, endpoints: &[String]) -> Command {
        let mut cmd = Command::new("etcdctl");
        cmd.env("ETCDCTL_API", "3")
            .arg("--endpoints")
            .arg(
                endpoints
                    .iter()
                    .map(|e| format!("{}://{e}", self.scheme()))
                    .collect::<Vec<_>>()
                    .join(","),
            )
            .args(["--dial-timeout", "2s", "--command-timeout", "5s"])
            .stdin(Stdio::null());
        if let Some(t) = &self.tls {
            cmd.arg("--cacert")
                .arg(&t.ca)
                .arg("--cert")
                .arg(&t.client_cert)
                .arg("--key")
                .arg(&t.client_key);
        }
        if let Some(root) = &self.root {
            cmd.arg("--user").arg(root);
        }
        cmd
    }

    /// Run etcdctl with `args`; its stdout on success.
    ///
    /// # Panics
    /// If etcdctl fails; the panic quotes its stderr and the members' logs.
    pub fn ctl(&self, args: &[&str]) -> String {
        let out =
            self.etcdctl().args(args).output().unwrap_or_else(|e| {
                panic!("rel-testkit: cannot run etcdctl ({e}); {INSTALL_HINT}")
            });
        assert!(
            out.status.success(),
            "etcdctl {args:?} failed: {}\n{}",
            String::from_utf8_lossy(&out.stderr),
            self.logs()
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Member `i` answers healthy on its client port, and it is ours: the member list there
    /// names its peer port. Ports are picked by binding port 0 and releasing it, so another
    /// test's etcd could hold the same client port; a test talking to that one would see
    /// another store's keys.
    fn healthy(&self, i: usize) -> bool {
        let endpoint = [format!("127.0.0.1:{}", self.members[i].client_port)];
        let health = self
            .etcdctl_on(&endpoint)
            .args(["endpoint", "health"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if !health {
            return false;
        }
        let peer = format!("127.0.0.1:{}", self.members[i].peer_port);
        self.etcdctl_on(&endpoint)
            .args(["member", "list"])
            .stderr(Stdio::null())
            .output()
            .is_ok_and(|o| o.status.success() && String::from_utf8_lossy(&o.stdout).contains(&peer))
    }

    fn wait_healthy(&mut self, i: usize) -> Result<(), String> {
        let mut exited = None;
        let ok = wait_until(READY_DEADLINE, || {
            if let Some(Ok(Some(status))) = self.members[i].child.as_mut().map(Child::try_wait) {
                exited = Some(status);
                return true;
            }
            self.healthy(i)
        });
        match (ok, exited) {
            (true, None) => Ok(()),
            (_, Some(status)) => {
                self.members[i].child = None;
                Err(format!(
                    "etcd {} exited ({status})\n{}",
                    self.members[i].name,
                    self.logs()
                ))
            }
            (false, None) => Err(format!(
                "etcd {} not healthy within {READY_DEADLINE:?}\n{}",
                self.members[i].name,
                self.logs()
            )),
        }
    }

    fn wait_healthy_all(&mut self) -> Result<(), String> {
        for i in 0..self.members.len() {
            if self.members[i].child.is_some() {
                self.wait_healthy(i)?;
            }
        }
        Ok(())
    }

    /// SIGKILL member `i` (its data dir stays, as after a crash).
    pub fn kill(&mut self, i: usize) {
        if let Some(mut child) = self.members[i].child.take() {
            let _ = child.kill();
            let _ = child.wait();
            // If the killed member led, the rest need an election before they take writes
            // (seconds on a loaded machine): wait for it while a quorum is still running,
            // so the caller's next request is not racing the election.
            let running = self.members.iter().filter(|m| m.child.is_some()).count();
            if running > self.members.len() / 2 {
                self.wait_healthy_all()
                    .unwrap_or_else(|e| panic!("rel-testkit: after a kill: {e}"));
            }
        }
    }

    /// Start member `i` again on its data dir and wait until it is healthy.
    ///
    /// # Panics
    /// If it does not become healthy.
    pub fn restart(&mut self, i: usize) {
        self.kill(i);
        self.spawn(i);
        self.wait_healthy(i)
            .unwrap_or_else(|e| panic!("rel-testkit: restart: {e}"));
    }

    /// SIGTERM every member and wait for them to exit (data dirs stay).
    pub fn stop_all(&mut self) {
        for m in &mut self.members {
            if let Some(mut child) = m.child.take() {
                if let Ok(pid) = i32::try_from(child.id()) {
                    let _ = nix::sys::signal::kill(
                        nix::unistd::Pid::from_raw(pid),
                        nix::sys::signal::Signal::SIGTERM,
                    );
                }
                if wait_deadline(&mut child, Duration::from_secs(30)).is_none() {
                    let _ = child.kill();
                    let _ = child.wait();
                }
            }
        }
    }

    /// Start every stopped member and wait until all are healthy (they need each other for
    /// a quorum, so all are spawned before the first health check).
    ///
    /// # Panics
    /// If the cluster does not become healthy.
    pub fn start_all(&mut self) {
        for i in 0..self.members.len() {
            if self.members[i].child.is_none() {
                self.spawn(i);
            }
        }
        self.wait_healthy_all()
            .unwrap_or_else(|e| panic!("rel-testkit: start_all: {e}"));
    }

    /// The cluster's current revision.
    pub fn revision(&self) -> i64 {
        let out = self.ctl(&["endpoint", "status", "-w", "json"]);
        let v: serde_json::Value = serde_json::from_str(&out)
            .unwrap_or_else(|e| panic!("etcdctl endpoint status: not JSON ({e}): {out}"));
        v.as_array()
            .and_then(|a| a.first())
            .and_then(|s| s["Status"]["header"]["revision"].as_i64())
            .unwrap_or_else(|| panic!("etcdctl endpoint status: no revision in {out}"))
    }

    /// Compact the history up to the current revision (what etcd's auto-compaction does);
    /// returns that revision.
    pub fn compact(&self) -> i64 {
        let rev = self.revision();
        self.ctl(&["compact", &rev.to_string(), "--physical"]);
        rev
    }

    /// Turn on etcd authentication with a `root` user; returns the password file releasd
    /// reads (`--etcd-user root --etcd-password-file FILE`). etcdctl uses it from now on.
    pub fn enable_auth(&mut self, password: &str) -> PathBuf {
        self.ctl(&["user", "add", &format!("root:{password}")]);
        self.ctl(&["auth", "enable"]);
        self.root = Some(format!("root:{password}"));
        let path = self.dir.path().join("etcd-password");
        std::fs::write(&path, format!("{password}\n")).expect("write the password file");
        path
    }
}

impl Drop for EtcdCluster {
    fn drop(&mut self) {
        for i in 0..self.members.len() {
            self.kill(i);
        }
    }
}

fn require_binary(name: &str) {
    let found = std::env::var_os("PATH")
        .is_some_and(|path| std::env::split_paths(&path).any(|dir| dir.join(name).is_file()));
    assert!(
        found,
        "rel-testkit: `{name}` is not on PATH; {INSTALL_HINT}"
    );
}

/// `n` distinct free loopback ports (all bound at once so they differ, then released).
fn free_ports(n: usize) -> Vec<u16> {
    let listeners: Vec<TcpListener> = (0..n)
        .map(|_| TcpListener::bind("127.0.0.1:0").expect("bind a loopback port"))
        .collect();
    listeners
        .iter()
        .map(|l| l.local_addr().expect("local addr").port())
        .collect()
}

/// A CA, a server certificate for 127.0.0.1/localhost and a client certificate, as PEM files
/// in `dir`.
fn write_tls_files(dir: &Path) -> TlsFiles {
    use rcgen::{
        BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer,
        KeyPair, KeyUsagePurpose,
    };
    let mut ca_params = CertificateParams::new(Vec::new()).expect("CA params");
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "rel test CA");
    ca_params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    let ca_key = KeyPair::generate().expect("CA key");
    let ca_cert = ca_params.self_signed(&ca_key).expect("CA certificate");
    let issuer = Issuer::new(ca_params, ca_key);

    let leaf = |names: Vec<String>, cn: &str, eku: Vec<ExtendedKeyUsagePurpose>| {
        let mut p = CertificateParams::new(names).expect("leaf params");
        p.distinguished_name.push(DnType::CommonName, cn);
        p.extended_key_usages = eku;
        p.key_usages = vec![
            KeyUsagePurpose::DigitalSignature,
            KeyUsagePurpose::KeyEncipherment,
        ];
        let key = KeyPair::generate().expect("leaf key");
        let cert = p.signed_by(&key, &issuer).expect("leaf certificate");
        (cert.pem(), key.serialize_pem())
    };
    let (server_pem, server_key) = leaf(
        vec!["127.0.0.1".into(), "localhost".into()],
        "etcd",
        vec![
            ExtendedKeyUsagePurpose::ServerAuth,
            ExtendedKeyUsagePurpose::ClientAuth,
        ],
    );
    let (client_pem, client_key) = leaf(
        Vec::new(),
        "releasd",
        vec![ExtendedKeyUsagePurpose::ClientAuth],
    );
    let files = TlsFiles {
        ca: dir.join("ca.pem"),
        server_cert: dir.join("server.pem"),
        server_key: dir.join("server-key.pem"),
        client_cert: dir.join("client.pem"),
        client_key: dir.join("client-key.pem"),
    };
    for (path, text) in [
        (&files.ca, ca_cert.pem()),
        (&files.server_cert, server_pem),
        (&files.server_key, server_key),
        (&files.client_cert, client_pem),
        (&files.client_key, client_key),
    ] {
        std::fs::write(path, text).expect("write a PEM file");
    }
    files
}
