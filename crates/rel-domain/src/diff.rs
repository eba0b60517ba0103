//! Structural diff of two app configs (§3.7): tools, pipelines, stages, steps, endpoints and
//! checks added, removed or changed, with the changed fields.
//!
//! Named things (stages, steps, checks) are matched by name, not position, so inserting a
//! step reads as one added step rather than every later step "changed". A change in the
//! *order* of surviving items is reported as an `order of …` field on the parent, because
//! order is part of the content (and of the digest): the diff is empty exactly when the two
//! configs are equal.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::config::AppConfig;
use crate::snapshot::canonical_json;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ChangeOp {
    Added,
    Removed,
    Changed,
}

impl ChangeOp {
    /// The one-character marker used in text output: `+`, `-`, `~`.
    pub fn marker(self) -> char {
        match self {
            ChangeOp::Added => '+',
            ChangeOp::Removed => '-',
            ChangeOp::Changed => '~',
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FieldChange {
    pub field: String,
    /// Compact JSON of the old value; `None` when the field was absent.
    pub before: Option<String>,
    pub after: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Change {
    /// Where, e.g. `pipelines.chat.stages[prepare].steps[greet]`, `tools.shout`, `checks[chat replies]`.
    pub path: String,
    pub op: ChangeOp,
    /// For `Changed`: which fields, with before and after.
    pub fields: Vec<FieldChange>,
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Diff {
    pub changes: Vec<Change>,
}

impl Diff {
    pub fn is_empty(&self) -> bool {
        self.changes.is_empty()
    }

    /// How many things were added, removed and changed.
    pub fn counts(&self) -> (usize, usize, usize) {
        let n = |op| self.changes.iter().filter(|c| c.op == op).count();
        (
            n(ChangeOp::Added),
            n(ChangeOp::Removed),
            n(ChangeOp::Changed),
        )
    }
}

/// The changes that turn `from` into `to`, in a stable order: tools, pipelines (each followed
/// by its stages and their steps), endpoints, checks.
pub fn diff(from: &AppConfig, to: &AppConfig) -> Diff {
    let mut out = Vec::new();
    keyed(&mut out, "tools", &from.tools, &to.tools, &[]);
    for (name, before, after) in union(&from.pipelines, &to.pipelines) {
        let path = format!("pipelines.{name}");
        match (before, after) {
            (Some(_), None) => out.push(removed(path)),
            (None, Some(_)) => out.push(added(path)),
            (Some(a), Some(b)) => {
                let (va, vb) = (to_value(a), to_value(b));
                let mut fields = field_changes(&va, &vb, &["stages"]);
                let names = |s: &[crate::config::Stage]| {
                    s.iter().map(|x| x.name.clone()).collect::<Vec<_>>()
                };
                if let Some(f) =
                    order_change("order of stages", &names(&a.stages), &names(&b.stages))
                {
                    fields.push(f);
                }
                push_changed(&mut out, path.clone(), fields);
                stages(&mut out, &path, &a.stages, &b.stages);
            }
            (None, None) => {}
        }
    }
    keyed(&mut out, "endpoints", &from.endpoints, &to.endpoints, &[]);
    named_list(
        &mut out,
        "checks",
        &from
            .checks
            .iter()
            .map(|c| (c.name.clone(), to_value(c)))
            .collect::<Vec<_>>(),
        &to.checks
            .iter()
            .map(|c| (c.name.clone(), to_value(c)))
            .collect::<Vec<_>>(),
        "order of checks",
    );
    Diff { changes: out }
}

fn stages(
    out: &mut Vec<Change>,
    pipeline_path: &str,
    from: &[crate::config::Stage],
    to: &[crate::config::Stage],
) {
    let find = |list: &[crate::config::Stage], name: &str| list.iter().position(|s| s.name == name);
    for s in from {
        if find(to, &s.name).is_none() {
            out.push(removed(format!("{pipeline_path}.stages[{}]", s.name)));
        }
    }
    for s in to {
        let path = format!("{pipeline_path}.stages[{}]", s.name);
        let Some(i) = find(from, &s.name) else {
            out.push(added(path));
            continue;
        };
        let old = &from[i];
        let mut fields = field_changes(&to_value(old), &to_value(s), &["steps", "name"]);
        let names =
            |st: &[crate::config::Step]| st.iter().map(|x| x.name.clone()).collect::<Vec<_>>();
        if let Some(f) = order_change("order of steps", &names(&old.steps), &names(&s.steps)) {
            fields.push(f);
        }
        push_changed(out, path.clone(), fields);
        let steps_from: Vec<(String, Value)> = old
            .steps
            .iter()
            .map(|x| (x.name.clone(), to_value(x)))
            .collect();
        let steps_to: Vec<(String, Value)> = s
            .steps
            .iter()
            .map(|x| (x.name.clone(), to_value(x)))
            .collect();
        named_items(out, &format!("{path}.steps"), &steps_from, &steps_to);
    }
}

/// A map section (`tools`, `endpoints`): `section.NAME` added, removed or changed.
fn keyed<T: Serialize>(
    out: &mut Vec<Change>,
    section: &str,
    from: &std::collections::BTreeMap<String, T>,
    to: &std::collections::BTreeMap<String, T>,
    skip: &[&str],
) {
    for (name, a, b) in union(from, to) {
        let path = format!("{section}.{name}");
        match (a, b) {
            (Some(_), None) => out.push(removed(path)),
            (None, Some(_)) => out.push(added(path)),
            (Some(a), Some(b)) => {
                push_changed(out, path, field_changes(&to_value(a), &to_value(b), skip))
            }
            (None, None) => {}
        }
    }
}

/// A top-level list of named items (`checks`): `section[NAME]`, plus an order change.
fn named_list(
    out: &mut Vec<Change>,
    section: &str,
    from: &[(String, Value)],
    to: &[(String, Value)],
    order_field: &str,
) {
    let names = |l: &[(String, Value)]| l.iter().map(|(n, _)| n.clone()).collect::<Vec<_>>();
    if let Some(f) = order_change(order_field, &names(from), &names(to)) {
        out.push(Change {
            path: section.to_string(),
            op: ChangeOp::Changed,
            fields: vec![f],
        });
    }
    named_items(out, section, from, to);
}

/// Items matched by name under `prefix[NAME]`: removed first (old order), then added or
/// changed (new order).
fn named_items(
    out: &mut Vec<Change>,
    prefix: &str,
    from: &[(String, Value)],
    to: &[(String, Value)],
) {
    let find =
        |l: &[(String, Value)], n: &str| l.iter().find(|(m, _)| m == n).map(|(_, v)| v.clone());
    for (name, _) in from {
        if find(to, name).is_none() {
            out.push(removed(format!("{prefix}[{name}]")));
        }
    }
    for (name, v) in to {
        let path = format!("{prefix}[{name}]");
        match find(from, name) {
            None => out.push(added(path)),
            Some(old) => push_changed(out, path, field_changes(&old, v, &["name"])),
        }
    }
}

fn union<'a, T>(
    a: &'a std::collections::BTreeMap<String, T>,
    b: &'a std::collections::BTreeMap<String, T>,
) -> Vec<(&'a String, Option<&'a T>, Option<&'a T>)> {
    let mut names: Vec<&String> = a.keys().chain(b.keys()).collect();
    names.sort();
    names.dedup();
    names.into_iter().map(|n| (n, a.get(n), b.get(n))).collect()
}

fn to_value<T: Serialize>(x: &T) -> Value {
    serde_json::to_value(x).unwrap_or(Value::Null)
}

/// Top-level fields of two JSON objects that differ, sorted by field name, ignoring `skip`.
fn field_changes(a: &Value, b: &Value, skip: &[&str]) -> Vec<FieldChange> {
    let empty = Map::new();
    let ma = a.as_object().unwrap_or(&empty);
    let mb = b.as_object().unwrap_or(&empty);
    let mut keys: Vec<&String> = ma
        .keys()
        .chain(mb.keys())
        .filter(|k| !skip.contains(&k.as_str()))
        .collect();
    keys.sort();
    keys.dedup();
    keys.into_iter()
        .filter_map(|k| {
            let (x, y) = (ma.get(k), mb.get(k));
            (x != y).then(|| FieldChange {
                field: k.clone(),
                before: x.map(canonical_json),
                after: y.map(canonical_json),
            })
        })
        .collect()
}

/// The relative order of the names present on both sides, if it changed.
fn order_change(field: &str, from: &[String], to: &[String]) -> Option<FieldChange> {
    let kept_from: Vec<&String> = from.iter().filter(|n| to.contains(n)).collect();
    let kept_to: Vec<&String> = to.iter().filter(|n| from.contains(n)).collect();
    (kept_from != kept_to).then(|| FieldChange {
        field: field.to_string(),
        before: Some(canonical_json(&to_value(&kept_from))),
        after: Some(canonical_json(&to_value(&kept_to))),
    })
}

fn push_changed(out: &mut Vec<Change>, path: String, fields: Vec<FieldChange>) {
    if !fields.is_empty() {
        out.push(Change {
            path,
            op: ChangeOp::Changed,
            fields,
        });
    }
}

fn added(path: String) -> Change {
    Change {
        path,
        op: ChangeOp::Added,
        fields: Vec::new(),
    }
}

fn removed(path: String) -> Change {
    Change {
        path,
        op: ChangeOp::Removed,
        fields: Vec::new(),
    }
}

/// The diff as human text, one line per addition, removal or changed field:
/// `+ tools.search`, `- endpoints.old`,
/// `~ pipelines.chat.stages[prepare].steps[greet]: template "a" → "b"`.
/// Empty for an empty diff (callers print their own "no changes").
pub fn render_lines(diff: &Diff) -> Vec<String> {
    render_lines_max(diff, usize::MAX)
}

/// Like [`render_lines`], but values longer than `max_value_chars` characters are cut with `…`
/// (for narrow terminals).
pub fn render_lines_max(diff: &Diff, max_value_chars: usize) -> Vec<String> {
    let show = |v: &Option<String>| match v {
        None => "(none)".to_string(),
        Some(s) if s.chars().count() > max_value_chars => {
            let cut: String = s.chars().take(max_value_chars.saturating_sub(1)).collect();
            format!("{cut}…")
        }
        Some(s) => s.clone(),
    };
    let mut lines = Vec::new();
    for c in &diff.changes {
        let m = c.op.marker();
        if c.fields.is_empty() {
            lines.push(format!("{m} {}", c.path));
        }
        for f in &c.fields {
            lines.push(format!(
                "{m} {}: {} {} → {}",
                c.path,
                f.field,
                show(&f.before),
                show(&f.after)
            ));
        }
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{ConfigFormat, EXAMPLE_APP_TOML};

    fn example() -> AppConfig {
        AppConfig::parse(EXAMPLE_APP_TOML, ConfigFormat::Toml).expect("example")
    }

    #[test]
    fn identical_is_empty() {
        assert!(diff(&example(), &example()).is_empty());
        assert!(render_lines(&diff(&example(), &example())).is_empty());
    }

    #[test]
    fn field_change_in_a_step() {
        let a = example();
        let mut b = example();
        b.pipelines.get_mut("chat").expect("chat").stages[0].steps[0].template = Some("b".into());
        let d = diff(&a, &b);
        assert_eq!(d.changes.len(), 1);
        assert_eq!(
            d.changes[0].path,
            "pipelines.chat.stages[prepare].steps[greet]"
        );
        assert_eq!(d.changes[0].op, ChangeOp::Changed);
        assert_eq!(
            render_lines(&d),
            vec![
                r#"~ pipelines.chat.stages[prepare].steps[greet]: template "You said: {{ input.message }}" → "b""#
            ]
        );
    }

    #[test]
    fn added_removed_and_ordered() {
        let a = example();
        let mut b = example();
        b.tools.insert(
            "search".into(),
            crate::config::Tool {
                kind: crate::config::ToolKind::Http,
                argv: None,
                url: Some("http://127.0.0.1:9000/search".into()),
                method: None,
                headers: Default::default(),
                timeout_ms: Some(2000),
            },
        );
        b.tools.get_mut("shout").expect("shout").timeout_ms = None;
        b.endpoints.remove("chat");
        b.endpoints
            .insert("talk".into(), a.endpoints["chat"].clone());
        b.checks[0].input = serde_json::json!({"message": "pong"});
        let p = b.pipelines.get_mut("chat").expect("chat");
        p.stages[0].steps.swap(0, 1);
        let d = diff(&a, &b);
        let lines = render_lines(&d);
        assert_eq!(
            lines,
            vec![
                "+ tools.search",
                "~ tools.shout: timeout_ms 2000 → (none)",
                r#"~ pipelines.chat.stages[prepare]: order of steps ["greet","shape"] → ["shape","greet"]"#,
                "- endpoints.chat",
                "+ endpoints.talk",
                r#"~ checks[chat replies]: input {"message":"ping"} → {"message":"pong"}"#,
            ]
        );
        assert_eq!(d.counts(), (2, 1, 3));
        // The reverse diff mirrors additions and removals.
        let back = diff(&b, &a);
        assert!(
            back.changes
                .iter()
                .any(|c| c.path == "tools.search" && c.op == ChangeOp::Removed)
        );
        assert!(
            back.changes
                .iter()
                .any(|c| c.path == "endpoints.chat" && c.op == ChangeOp::Added)
        );
    }

    #[test]
    fn whole_pipeline_and_stage_changes() {
        let a = example();
        let mut b = example();
        let mut p2 = b.pipelines["chat"].clone();
        p2.description = String::new();
        b.pipelines.insert("echo".into(), p2);
        let p = b.pipelines.get_mut("chat").expect("chat");
        let mut st = p.stages[0].clone();
        st.name = "finish".into();
        p.stages.push(st);
        p.stages[0].steps.remove(1);
        p.description = "new".into();
        let lines = render_lines(&diff(&a, &b));
        assert_eq!(
            lines,
            vec![
                r#"~ pipelines.chat: description "answer a chat message" → "new""#,
                "- pipelines.chat.stages[prepare].steps[shape]",
                "+ pipelines.chat.stages[finish]",
                "+ pipelines.echo",
            ]
        );
    }

    #[test]
    fn long_values_are_cut_when_asked() {
        let a = example();
        let mut b = example();
        b.pipelines.get_mut("chat").expect("chat").description = "x".repeat(100);
        let lines = render_lines_max(&diff(&a, &b), 10);
        assert_eq!(
            lines,
            vec![r#"~ pipelines.chat: description "answer a… → "xxxxxxxx…"#]
        );
    }

    mod prop {
        use super::super::*;
        use crate::config::*;
        use proptest::prelude::*;
        use std::collections::BTreeMap;

        fn names(pool: &'static [&'static str]) -> impl Strategy<Value = Vec<String>> {
            proptest::sample::subsequence(pool, 0..=pool.len())
                .prop_shuffle()
                .prop_map(|v| v.into_iter().map(String::from).collect())
        }

        type GenStep = (StepKind, Option<String>, Option<u64>);

        fn step() -> impl Strategy<Value = GenStep> {
            (
                prop_oneof![
                    Just(StepKind::Template),
                    Just(StepKind::Transform),
                    Just(StepKind::Assert)
                ],
                proptest::option::of("[a-c]{0,2}"),
                proptest::option::of(1u64..3),
            )
        }

        fn stage() -> impl Strategy<Value = Vec<(String, GenStep)>> {
            names(&["s1", "s2", "s3"]).prop_flat_map(|ns| {
                let n = ns.len();
                (Just(ns), proptest::collection::vec(step(), n))
                    .prop_map(|(ns, steps)| ns.into_iter().zip(steps).collect())
            })
        }

        fn config() -> impl Strategy<Value = AppConfig> {
            let tools = proptest::collection::btree_map(
                prop_oneof![Just("t1".to_string()), Just("t2".to_string())],
                (proptest::option::of(1u64..3), proptest::bool::ANY),
                0..=2,
            );
            let pipelines = proptest::collection::btree_map(
                prop_oneof![Just("p1".to_string()), Just("p2".to_string())],
                (
                    "[ab]{0,1}",
                    names(&["a", "b", "c"]),
                    proptest::collection::vec(stage(), 3),
                ),
                0..=2,
            );
            let endpoints = proptest::collection::btree_map(
                prop_oneof![Just("e1".to_string()), Just("e2".to_string())],
                prop_oneof![Just("p1".to_string()), Just("p2".to_string())],
                0..=2,
            );
            let checks = (
                names(&["c1", "c2", "c3"]),
                proptest::collection::vec(0i64..2, 3),
            );
            (tools, pipelines, endpoints, checks).prop_map(
                |(tools, pipelines, endpoints, (cn, inputs))| AppConfig {
                    tools: tools
                        .into_iter()
                        .map(|(k, (t, http))| {
                            let tool = Tool {
                                kind: if http {
                                    ToolKind::Http
                                } else {
                                    ToolKind::Command
                                },
                                argv: (!http).then(|| vec!["cat".to_string()]),
                                url: http.then(|| "http://x".to_string()),
                                method: None,
                                headers: BTreeMap::new(),
                                timeout_ms: t,
                            };
                            (k, tool)
                        })
                        .collect(),
                    pipelines: pipelines
                        .into_iter()
                        .map(|(k, (desc, stage_names, stage_steps))| {
                            let stages = stage_names
                                .into_iter()
                                .zip(stage_steps)
                                .map(|(name, steps)| Stage {
                                    name,
                                    steps: steps
                                        .into_iter()
                                        .map(|(name, (kind, text, timeout_ms))| Step {
                                            name,
                                            kind,
                                            template: text
                                                .clone()
                                                .filter(|_| kind == StepKind::Template),
                                            expr: text.filter(|_| kind != StepKind::Template),
                                            tool: None,
                                            input: None,
                                            message: None,
                                            timeout_ms,
                                        })
                                        .collect(),
                                })
                                .collect();
                            (
                                k,
                                Pipeline {
                                    description: desc,
                                    stages,
                                },
                            )
                        })
                        .collect(),
                    endpoints: endpoints
                        .into_iter()
                        .map(|(k, p)| {
                            (
                                k,
                                Endpoint {
                                    pipeline: p,
                                    description: String::new(),
                                    deadline_ms: None,
                                },
                            )
                        })
                        .collect(),
                    checks: cn
                        .into_iter()
                        .zip(inputs)
                        .map(|(name, i)| Check {
                            name,
                            endpoint: "e1".into(),
                            input: serde_json::json!({ "n": i }),
                            expect: "true".into(),
                        })
                        .collect(),
                },
            )
        }

        proptest! {
            #[test]
            fn empty_exactly_when_equal(a in config(), b in config()) {
                prop_assert!(diff(&a, &a).is_empty());
                let d = diff(&a, &b);
                prop_assert_eq!(d.is_empty(), a == b);
                // Digests agree with the diff: different content, different digest.
                prop_assert_eq!(d.is_empty(), crate::Snapshot::of(a.clone()).digest == crate::Snapshot::of(b.clone()).digest);
                // Reversing swaps additions and removals.
                let r = diff(&b, &a);
                let paths = |d: &Diff, op| d.changes.iter().filter(|c| c.op == op).map(|c| c.path.clone()).collect::<std::collections::BTreeSet<_>>();
                prop_assert_eq!(paths(&d, ChangeOp::Added), paths(&r, ChangeOp::Removed));
                prop_assert_eq!(paths(&d, ChangeOp::Changed), paths(&r, ChangeOp::Changed));
                // Deterministic.
                prop_assert_eq!(d, diff(&a, &b));
            }
        }
    }
}
