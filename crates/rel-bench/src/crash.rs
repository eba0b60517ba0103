//! `relbench crash ROUNDS`: the crash harness. One real `releasd` (built by rel-testkit) under
//! mixed load — release creates, deploys with and without `--expect`, rollbacks, reads,
//! triggers — SIGKILLed at a random instant each round, then restarted and checked:
//!
//! - every acknowledged create, deploy and rollback is there, as acknowledged;
//! - every deployment id any client saw (in an answer, a read or a history page) is there,
//!   with the same environment and release: nothing seen was lost, no id was handed out twice;
//! - nothing is half-applied: each environment's live release is its newest history record;
//! - the audit chain verifies.
//!
//! Exits non-zero on the first violation, naming it.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use rel_domain::config::{AppConfigText, ConfigFormat, EXAMPLE_APP_TOML};
use rel_domain::model::*;
use rel_proto::{Client, ClientError, Request, Response};
use rel_testkit::TestDaemon;

const ENVS: usize = 3;
const CLIENTS: usize = 6;

/// Everything clients were told: deployment id -> (env, release).
#[derive(Default)]
struct Seen {
    ids: BTreeMap<u64, (String, String)>,
    /// Tags whose creation was acknowledged.
    tags: Vec<String>,
    /// A violation found while the load ran (an id reported twice with different content).
    bad: Option<String>,
}

impl Seen {
    fn id(&mut self, id: u64, env: &str, release: &str) {
        match self.ids.get(&id) {
            Some((e, r)) if e != env || r != release => {
                self.bad.get_or_insert(format!(
                    "deployment #{id} was seen as {e}:{r} and later as {env}:{release} (an id reused)"
                ));
            }
            Some(_) => {}
            None => {
                self.ids.insert(id, (env.to_string(), release.to_string()));
            }
        }
    }
}

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        // xorshift64*: plenty for picking operations.
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}

fn env(i: usize) -> String {
    format!("crash-{i}")
}

pub async fn run(rounds: u64) -> Result<()> {
    let started = Instant::now();
    let mut d = TestDaemon::start();
    let c = Client::connect(d.socket(), "relbench-crash").await?;
    c.call(Request::DraftApply(AppConfigText {
        format: ConfigFormat::Toml,
        text: EXAMPLE_APP_TOML.to_string(),
    }))
    .await?;
    for i in 0..ENVS {
        c.call(Request::EnvCreate(Environment {
            name: env(i),
            description: String::new(),
            protected: false,
            requires: vec![],
            created_at: releasd::dispatch::now(),
        }))
        .await?;
    }
    drop(c);
    let seen = Arc::new(Mutex::new(Seen::default()));
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15 ^ started.elapsed().as_nanos() as u64);
    let (mut acked_total, mut reads_total) = (0u64, 0u64);
    for round in 0..rounds {
        let kill_after = Duration::from_millis(50 + rng.below(350));
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let mut tasks = tokio::task::JoinSet::new();
        for k in 0..CLIENTS {
            let socket = d.socket().to_path_buf();
            let seen = Arc::clone(&seen);
            let stop = Arc::clone(&stop);
            let seed = rng.next() | 1;
            tasks.spawn(async move { load(&socket, k, round, seed, seen, stop).await });
        }
        tokio::time::sleep(kill_after).await;
        d.kill9();
        stop.store(true, std::sync::atomic::Ordering::SeqCst);
        while let Some(r) = tasks.join_next().await {
            let (a, rd) = r.context("load task")??;
            acked_total += a;
            reads_total += rd;
        }
        d.restart();
        check(&d, &seen, round).await?;
    }
    let s = seen.lock().map_err(|_| anyhow::anyhow!("poisoned"))?;
    println!(
        "crash: {rounds} kill -9 rounds in {:.1}s: {acked_total} acknowledged changes, {reads_total} reads, {} distinct deployment ids seen, {} releases; all present after every restart, no id reused, audit verified",
        started.elapsed().as_secs_f64(),
        s.ids.len(),
        s.tags.len()
    );
    Ok(())
}

/// One client's mixed load until its connection dies. Returns (acknowledged changes, reads).
async fn load(
    socket: &std::path::Path,
    k: usize,
    round: u64,
    seed: u64,
    seen: Arc<Mutex<Seen>>,
    stop: Arc<std::sync::atomic::AtomicBool>,
) -> Result<(u64, u64)> {
    let Ok(c) = Client::connect(socket, "relbench-crash").await else {
        return Ok((0, 0));
    };
    let mut rng = Rng(seed);
    let (mut acked, mut reads) = (0u64, 0u64);
    let mut n = 0u64;
    while !stop.load(std::sync::atomic::Ordering::SeqCst) {
        n += 1;
        let e = env(rng.below(ENVS as u64) as usize);
        let op = rng.below(10);
        let tags = seen.lock().map(|s| s.tags.clone()).unwrap_or_default();
        let pick = |r: &mut Rng| tags.get(r.below(tags.len() as u64) as usize).cloned();
        let req = match op {
            0 | 1 => Request::ReleaseCreate(NewRelease {
                tag: format!("c{round}-{k}-{n}"),
                description: String::new(),
                config: None,
                deploy_to: if op == 0 { Some(e.clone()) } else { None },
            }),
            2..=4 => match pick(&mut rng) {
                Some(tag) => Request::Deploy(DeployRequest {
                    tag,
                    env: e.clone(),
                    expect: if op == 4 { pick(&mut rng) } else { None },
                    force_reason: Some("crash harness".into()),
                }),
                None => continue,
            },
            5 => Request::Rollback(RollbackRequest {
                env: e.clone(),
                to: None,
                expect: None,
                reason: None,
            }),
            6 | 7 => Request::EnvShow { name: e.clone() },
            8 => Request::EnvHistory {
                env: e.clone(),
                limit: 5,
                before_id: None,
            },
            _ => Request::Trigger {
                endpoint: "chat".into(),
                env: e.clone(),
                input: r#"{"message":"crash"}"#.into(),
            },
        };
        let r = c.call(req).await;
        let mut s = seen.lock().map_err(|_| anyhow::anyhow!("poisoned"))?;
        match r {
            Ok(Response::Created(out)) => {
                acked += 1;
                s.tags.push(out.release.release.tag.clone());
                if let Some(d) = out.deployment {
                    s.id(d.deployment.id, &d.deployment.env, &d.deployment.release);
                }
            }
            Ok(Response::Deployed(out)) => {
                acked += 1;
                let d = out.deployment;
                s.id(d.id, &d.env, &d.release);
            }
            Ok(Response::Environment(v)) => {
                reads += 1;
                if let (Some(id), Some(live)) = (v.deployment_id, &v.live) {
                    s.id(id, &v.env.name, live);
                }
            }
            Ok(Response::History(h)) => {
                reads += 1;
                for d in h {
                    s.id(d.id, &d.env, &d.release);
                }
            }
            Ok(_) => reads += 1,
            // Refusals (nothing to roll back, conflicts) are answers too; a dead connection
            // ends the client (the daemon was killed).
            Err(ClientError::Rpc(_)) => {}
            Err(_) => break,
        }
    }
    Ok((acked, reads))
}

async fn check(d: &TestDaemon, seen: &Arc<Mutex<Seen>>, round: u64) -> Result<()> {
    let c = Client::connect(d.socket(), "relbench-crash-check").await?;
    let (ids, tags) = {
        let s = seen.lock().map_err(|_| anyhow::anyhow!("poisoned"))?;
        if let Some(bad) = &s.bad {
            bail!("round {round}: {bad}");
        }
        (s.ids.clone(), s.tags.clone())
    };
    // Only the ids not yet checked in an earlier round need the round trip; but an id
    // checked before must stay, so check them all (it is cheap: one point read each).
    for (id, (env, release)) in &ids {
        let h = match c
            .call(Request::EnvHistory {
                env: env.clone(),
                limit: 1,
                before_id: Some(id + 1),
            })
            .await?
        {
            Response::History(h) => h,
            other => bail!("history answered {other:?}"),
        };
        match h.first() {
            Some(dep) if dep.id == *id && &dep.release == release => {}
            other => bail!(
                "round {round}: deployment #{id} ({env}: {release}) was seen by a client but after the restart {env}'s history has {other:?}"
            ),
        }
    }
    for tag in tags.iter().rev().take(200) {
        match c.call(Request::ReleaseShow { tag: tag.clone() }).await {
            Ok(Response::Release(_)) => {}
            other => bail!(
                "round {round}: acknowledged release {tag} is missing after the restart: {other:?}"
            ),
        }
    }
    for i in 0..ENVS {
        let e = env(i);
        let v = match c.call(Request::EnvShow { name: e.clone() }).await? {
            Response::Environment(v) => v,
            other => bail!("env show answered {other:?}"),
        };
        let newest = match c
            .call(Request::EnvHistory {
                env: e.clone(),
                limit: 1,
                before_id: None,
            })
            .await?
        {
            Response::History(h) => h.into_iter().next(),
            other => bail!("history answered {other:?}"),
        };
        if v.deployment_id != newest.as_ref().map(|d| d.id)
            || v.live != newest.as_ref().map(|d| d.release.clone())
        {
            bail!(
                "round {round}: {e} is half-applied: live {:?} by deployment {:?}, newest history record {newest:?}",
                v.live,
                v.deployment_id
            );
        }
    }
    match c.call(Request::AuditVerify).await? {
        Response::AuditReport(r) if r.ok => {}
        other => bail!("round {round}: audit does not verify after the restart: {other:?}"),
    }
    Ok(())
}
