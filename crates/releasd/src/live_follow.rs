//! On a store other daemons share (etcd), what this daemon serves follows the store's change
//! events, whoever committed them: a deploy through another daemon is published here as
//! soon as its event arrives through the watch. Publishing compiles (milliseconds), so it
//! runs on a thread of its own, off the store's event path, in event order. This daemon's
//! own deploys are also published before their answer (dispatch); the live table's
//! deployment-id guard makes the second publish a no-op.

use std::sync::mpsc::{Receiver, Sender, channel};
use std::sync::{Arc, Weak};

use rel_domain::model::{Change, ChangeEvent};

use crate::server::Shared;

pub enum Cmd {
    Publish { env: String, tag: String, id: u64 },
    ReloadAll,
}

/// The sending half, fed from the change sink.
#[derive(Clone)]
pub struct Feed(Sender<Cmd>);

impl Feed {
    pub fn new() -> (Feed, Receiver<Cmd>) {
        let (tx, rx) = channel();
        (Feed(tx), rx)
    }

    /// Queue what `changes` change in what is served (never blocks).
    pub fn changes(&self, changes: &[ChangeEvent]) {
        for c in changes {
            let cmd = match &c.change {
                Change::Deployed(d) | Change::RolledBack(d) => Cmd::Publish {
                    env: d.env.clone(),
                    tag: d.release.clone(),
                    id: d.id,
                },
                Change::Imported { .. } => Cmd::ReloadAll,
                _ => continue,
            };
            let _ = self.0.send(cmd);
        }
    }
}

/// Publish on a thread of its own until the daemon's shared state is gone.
pub fn start(rx: Receiver<Cmd>, shared: Weak<Shared>) {
    let spawned = std::thread::Builder::new()
        .name("live-follow".into())
        .spawn(move || {
            for cmd in rx {
                let Some(shared): Option<Arc<Shared>> = shared.upgrade() else {
                    return;
                };
                match cmd {
                    Cmd::Publish { env, tag, id } => {
                        shared.live.publish(shared.store.as_ref(), &env, &tag, id)
                    }
                    Cmd::ReloadAll => shared.live.reload_all(shared.store.as_ref()),
                }
            }
        });
    if let Err(e) = spawned {
        tracing::error!(error = %e, "cannot start the live-table follower; deploys through other daemons are served here only after a restart");
    }
}
