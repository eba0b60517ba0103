//! Subscribers hear what other clients change.

mod common;

use std::time::Duration;

use common::*;
use rel_domain::{DeploymentKind, RollbackRequest};
use rel_proto::{Event, EventStream, Request, Response};
use rel_testkit::TestDaemon;

async fn next_matching(events: &mut EventStream, mut want: impl FnMut(&Event) -> bool) -> Event {
    let wait = async {
        loop {
            match events.next().await {
                Some(e) if want(&e) => return e,
                Some(_) => continue,
                None => panic!("the event stream ended"),
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(30), wait)
        .await
        .expect("event did not arrive within 30s")
}

#[tokio::test]
async fn subscriber_receives_deploys_and_rollbacks_from_another_client() {
    let d = TestDaemon::start();
    let watcher = connect(d.socket()).await;
    let mut events = watcher.subscribe().await.expect("subscribe");
    let actor = connect(d.socket()).await;

    apply_variant(&actor, 1).await;
    let e = next_matching(&mut events, |e| matches!(e, Event::DraftApplied { .. })).await;
    assert!(
        matches!(e, Event::DraftApplied { ref actor, .. } if !actor.is_empty()),
        "{e:?}"
    );

    create(&actor, "v1", Some("staging"))
        .await
        .expect("create v1");
    let e = next_matching(&mut events, |e| matches!(e, Event::ReleaseCreated { .. })).await;
    assert!(
        matches!(e, Event::ReleaseCreated { ref release, .. } if release.release.tag == "v1"),
        "{e:?}"
    );
    let e = next_matching(&mut events, |e| matches!(e, Event::Deployed(_))).await;
    assert!(
        matches!(e, Event::Deployed(ref d) if d.release == "v1" && d.env == "staging"),
        "{e:?}"
    );

    apply_variant(&actor, 2).await;
    create(&actor, "v2", None).await.expect("create v2");
    deploy(&actor, "v2", "staging", Some("v1"))
        .await
        .expect("deploy v2");
    let e = next_matching(&mut events, |e| matches!(e, Event::Deployed(_))).await;
    match e {
        Event::Deployed(d) => {
            assert_eq!(
                (d.release.as_str(), d.previous.as_deref()),
                ("v2", Some("v1"))
            );
            assert_eq!(d.kind, DeploymentKind::Deploy);
        }
        other => panic!("{other:?}"),
    }

    // An idempotent redeploy changes nothing and announces nothing; the rollback is next.
    let same = deploy(&actor, "v2", "staging", None)
        .await
        .expect("redeploy");
    assert!(!same.changed);
    let r = actor
        .call(Request::Rollback(RollbackRequest {
            env: "staging".into(),
            to: None,
            expect: Some("v2".into()),
            reason: None,
        }))
        .await
        .expect("rollback");
    assert!(matches!(r, Response::Deployed(ref o) if o.changed), "{r:?}");
    let e = next_matching(&mut events, |e| {
        matches!(e, Event::Deployed(_) | Event::RolledBack(_))
    })
    .await;
    match e {
        Event::RolledBack(d) => {
            assert_eq!(
                (d.release.as_str(), d.previous.as_deref()),
                ("v1", Some("v2"))
            );
            assert_eq!(d.kind, DeploymentKind::Rollback);
        }
        other => panic!("expected RolledBack, got {other:?}"),
    }

    // Requests still work on the subscribed connection.
    assert_eq!(
        watcher.call(Request::Ping).await.expect("ping"),
        Response::Pong
    );
}

#[tokio::test]
async fn the_event_stream_ends_when_the_daemon_goes_away() {
    let mut d = TestDaemon::start();
    let c = connect(d.socket()).await;
    let mut events = c.subscribe().await.expect("subscribe");
    d.kill9();
    let end = tokio::time::timeout(Duration::from_secs(30), events.next())
        .await
        .expect("stream did not end");
    assert_eq!(end, None);
    let e = c
        .call(Request::Ping)
        .await
        .expect_err("call on a dead connection");
    assert!(
        matches!(e, rel_proto::ClientError::Disconnected(_)),
        "{e:?}"
    );
}
