//! What the daemon builds itself: config parsed at the boundary with path-precise errors,
//! release detail, diffs by tag or `draft`, and the events of each kind of change.

mod common;

use std::time::Duration;

use common::*;
use rel_domain::config::{AppConfigText, ConfigFormat, EXAMPLE_APP_TOML};
use rel_domain::{DeployRequest, Environment, ErrorCode, NewRelease, Timestamp};
use rel_proto::{Event, EventStream, Request, Response};
use rel_testkit::TestDaemon;

async fn next_event(events: &mut EventStream) -> Event {
    tokio::time::timeout(Duration::from_secs(30), events.next())
        .await
        .expect("no event within 30s")
        .expect("stream ended")
}

#[tokio::test]
async fn config_errors_name_the_path_and_nothing_is_stored() {
    let d = TestDaemon::start();
    let c = connect(d.socket()).await;
    let bad = EXAMPLE_APP_TOML.replace("pipeline = \"chat\"", "pipeline = \"caht\"");
    let text = AppConfigText {
        format: ConfigFormat::Toml,
        text: bad,
    };
    let e = rpc_err(c.call(Request::Validate(text.clone())).await);
    assert_eq!(e.code, ErrorCode::Invalid);
    assert!(
        e.message.contains("endpoints.chat.pipeline"),
        "{}",
        e.message
    );
    let e = rpc_err(c.call(Request::DraftApply(text.clone())).await);
    assert!(
        e.message.contains("endpoints.chat.pipeline"),
        "{}",
        e.message
    );
    assert_eq!(
        c.call(Request::DraftShow).await.expect("show"),
        Response::Draft(None),
        "nothing stored"
    );
    // `release create --from FILE` with a bad file: same message, no release.
    let e = rpc_err(
        c.call(Request::ReleaseCreate(NewRelease {
            tag: "v1".into(),
            description: String::new(),
            config: Some(text),
            deploy_to: None,
        }))
        .await,
    );
    assert!(
        e.message.contains("endpoints.chat.pipeline"),
        "{}",
        e.message
    );
    assert_eq!(
        rpc_err(c.call(Request::ReleaseShow { tag: "v1".into() }).await).code,
        ErrorCode::NotFound
    );

    let ok = AppConfigText {
        format: ConfigFormat::Toml,
        text: EXAMPLE_APP_TOML.into(),
    };
    assert!(matches!(
        c.call(Request::Validate(ok)).await,
        Ok(Response::Valid { .. })
    ));
}

#[tokio::test]
async fn diffs_need_a_draft_and_accept_tags_or_draft() {
    let d = TestDaemon::start();
    let c = connect(d.socket()).await;
    let e = rpc_err(c.call(Request::DraftDiff { tag: None }).await);
    assert_eq!(e.code, ErrorCode::NotFound);
    assert!(e.message.contains("relctl app apply"), "{}", e.message);

    apply_example(&c).await;
    // No release yet: the draft diffs against nothing, all additions.
    match c
        .call(Request::DraftDiff { tag: None })
        .await
        .expect("diff")
    {
        Response::Diff(v) => {
            assert_eq!(v.to, "draft");
            assert!(v.from_digest.is_none());
            assert!(!v.diff.is_empty());
        }
        other => panic!("{other:?}"),
    }
    create(&c, "v1", None).await.expect("v1");
    apply_variant(&c, 2).await;
    create(&c, "v2", None).await.expect("v2");
    apply_variant(&c, 3).await;

    match c
        .call(Request::Diff {
            from: "v1".into(),
            to: "v2".into(),
        })
        .await
        .expect("diff")
    {
        Response::Diff(v) => {
            assert_eq!((v.from.as_str(), v.to.as_str()), ("v1", "v2"));
            assert!(
                v.diff
                    .changes
                    .iter()
                    .any(|ch| ch.path.starts_with("pipelines.chat")),
                "{:?}",
                v.diff
            );
        }
        other => panic!("{other:?}"),
    }
    match c
        .call(Request::Diff {
            from: "v2".into(),
            to: "draft".into(),
        })
        .await
        .expect("diff")
    {
        Response::Diff(v) => {
            assert_eq!(v.to, "draft");
            assert!(!v.diff.is_empty());
        }
        other => panic!("{other:?}"),
    }
    // Default base of the draft diff is the newest release (v2).
    match c
        .call(Request::DraftDiff { tag: None })
        .await
        .expect("diff")
    {
        Response::Diff(v) => assert_eq!(v.from, "v2"),
        other => panic!("{other:?}"),
    }
    match c
        .call(Request::Diff {
            from: "v1".into(),
            to: "v1".into(),
        })
        .await
        .expect("diff")
    {
        Response::Diff(v) => assert!(v.diff.is_empty()),
        other => panic!("{other:?}"),
    }
    assert_eq!(
        rpc_err(
            c.call(Request::Diff {
                from: "v9".into(),
                to: "draft".into()
            })
            .await
        )
        .code,
        ErrorCode::NotFound
    );
}

#[tokio::test]
async fn release_show_has_config_previous_diff_and_history() {
    let d = TestDaemon::start();
    let c = connect(d.socket()).await;
    apply_example(&c).await;
    create(&c, "v1", Some("staging")).await.expect("v1");
    apply_variant(&c, 2).await;
    create(&c, "v2", Some("staging")).await.expect("v2");
    // The example app has checks, so promotion needs a verification; override as admin.
    let forced = DeployRequest {
        tag: "v2".into(),
        env: "production".into(),
        expect: None,
        force_reason: Some("test: no verification yet".into()),
    };
    assert!(matches!(
        c.call(Request::Deploy(forced)).await,
        Ok(Response::Deployed(_))
    ));

    match c
        .call(Request::ReleaseShow { tag: "v2".into() })
        .await
        .expect("show")
    {
        Response::Release(r) => {
            assert_eq!(r.view.release.tag, "v2");
            assert_eq!(r.previous.as_deref(), Some("v1"));
            assert!(r.config_json.contains("variant 2"), "{}", r.config_json);
            assert!(!r.diff_from_previous.is_empty());
            let envs: Vec<&str> = r.history.iter().map(|h| h.env.as_str()).collect();
            assert_eq!(envs, vec!["production", "staging"], "newest first");
        }
        other => panic!("{other:?}"),
    }
    match c
        .call(Request::ReleaseShow { tag: "v1".into() })
        .await
        .expect("show")
    {
        Response::Release(r) => {
            assert_eq!(r.previous, None);
            assert!(
                !r.diff_from_previous.is_empty(),
                "the first release diffs against nothing"
            );
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn changes_announce_themselves() {
    let d = TestDaemon::start();
    let watcher = connect(d.socket()).await;
    let mut events = watcher.subscribe().await.expect("subscribe");
    let c = connect(d.socket()).await;

    c.call(Request::EnvCreate(Environment {
        name: "qa".into(),
        description: "QA".into(),
        protected: false,
        requires: vec![],
        created_at: Timestamp::from_millis(0),
    }))
    .await
    .expect("env create");
    assert!(
        matches!(next_event(&mut events).await, Event::EnvironmentCreated { ref name, .. } if name == "qa")
    );

    for i in 0..3 {
        apply_variant(&c, i).await;
        assert!(matches!(
            next_event(&mut events).await,
            Event::DraftApplied { .. }
        ));
        create(&c, &format!("p{i}"), None).await.expect("create");
        assert!(matches!(
            next_event(&mut events).await,
            Event::ReleaseCreated { .. }
        ));
    }
    match c
        .call(Request::ReleasePrune {
            keep: 1,
            dry_run: true,
        })
        .await
        .expect("dry run")
    {
        Response::Pruned(r) => assert!(r.dry_run && r.removed.len() == 2, "{r:?}"),
        other => panic!("{other:?}"),
    }
    match c
        .call(Request::ReleasePrune {
            keep: 1,
            dry_run: false,
        })
        .await
        .expect("prune")
    {
        Response::Pruned(r) => assert_eq!(r.removed.len(), 2, "{r:?}"),
        other => panic!("{other:?}"),
    }
    // The dry run announced nothing; the real prune did.
    match next_event(&mut events).await {
        Event::ReleasesPruned { removed, .. } => assert_eq!(removed.len(), 2),
        other => panic!("expected ReleasesPruned, got {other:?}"),
    }

    // Export, then import into a fresh daemon: Imported is announced there.
    let dump = match c.call(Request::Export).await.expect("export") {
        Response::Export { dump } => dump,
        other => panic!("{other:?}"),
    };
    let d2 = TestDaemon::start();
    let w2 = connect(d2.socket()).await;
    let mut ev2 = w2.subscribe().await.expect("subscribe");
    let c2 = connect(d2.socket()).await;
    assert!(matches!(
        c2.call(Request::Import { dump }).await,
        Ok(Response::Imported(_))
    ));
    assert!(matches!(next_event(&mut ev2).await, Event::Imported { .. }));
    assert!(matches!(
        c2.call(Request::ReleaseShow { tag: "p2".into() }).await,
        Ok(Response::Release(_))
    ));
}

#[tokio::test]
async fn an_empty_config_is_refused_and_the_draft_is_kept() {
    let d = TestDaemon::start();
    let c = connect(d.socket()).await;
    let example = AppConfigText {
        format: ConfigFormat::Toml,
        text: EXAMPLE_APP_TOML.to_string(),
    };
    c.call(Request::DraftApply(example)).await.expect("apply");
    let before = c.call(Request::DraftShow).await.expect("show");
    for (format, text) in [(ConfigFormat::Toml, ""), (ConfigFormat::Json, "{}")] {
        let e = rpc_err(
            c.call(Request::DraftApply(AppConfigText {
                format,
                text: text.into(),
            }))
            .await,
        );
        assert_eq!(e.code, ErrorCode::Invalid);
        assert!(e.message.contains("nothing applied"), "{}", e.message);
    }
    assert_eq!(c.call(Request::DraftShow).await.expect("show"), before);
}
