//! jq expressions, compiled once with jaq (a maintained jq implementation) and run many times.
//!
//! Values cross the boundary as `serde_json::Value`: the run context is JSON, and so is
//! everything a step outputs. Filters that would reach outside the pipeline are left out of
//! the standard library: `env` (the daemon's environment may hold secrets), `halt` (would
//! exit the daemon) and `stderr` (would write into the daemon's log).

use jaq_core::box_iter::box_once;
use jaq_core::load::{Arena, File, Loader};
use jaq_core::{Compiler, Ctx, Error, Exn, Native, Vars, data};
use jaq_json::{Num, Val};
use serde::Deserialize;
use serde_json::Value;

type Data = data::JustLut<Val>;

/// Standard filters a pipeline may not call (see the module docs): left out, so using one
/// is a compile error naming it.
const DENIED: &[&str] = &["env", "input", "inputs"];

/// A compiled jq program. Immutable and `Send + Sync`; evaluation allocates only values.
pub struct JqProgram {
    source: String,
    filter: jaq_core::Filter<Data>,
}

impl std::fmt::Debug for JqProgram {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JqProgram")
            .field("source", &self.source)
            .finish()
    }
}

impl JqProgram {
    /// Parse and compile. The error is a one-line description (without a path; the caller
    /// knows where the expression came from), e.g. `expected closing parenthesis at column 9`.
    pub fn compile(code: &str) -> Result<JqProgram, String> {
        let defs = jaq_core::defs()
            .chain(jaq_std::defs())
            .chain(jaq_json::defs());
        let funs = jaq_core::funs::<Data>()
            .chain(jaq_std::funs::<Data>())
            .chain(jaq_json::funs::<Data>())
            .filter(|(name, _, _)| !DENIED.contains(name))
            .map(defuse);
        let loader = Loader::new(defs);
        let arena = Arena::default();
        let modules = loader
            .load(&arena, File { code, path: () })
            .map_err(|errs| describe_load_errors(code, errs))?;
        let filter = Compiler::default()
            .with_funs(funs)
            .compile(modules)
            .map_err(|errs| describe_compile_errors(code, errs))?;
        Ok(JqProgram {
            source: code.to_string(),
            filter,
        })
    }

    pub fn source(&self) -> &str {
        &self.source
    }

    /// The first value the program yields for `input`, or `None` when it yields nothing
    /// (`empty`). A run-time error is returned as its jq message.
    pub fn first(&self, input: &Value) -> Result<Option<Value>, String> {
        let input = to_val(input);
        let ctx = Ctx::<Data>::new(&self.filter.lut, Vars::new([]));
        let mut out = self.filter.id.run((ctx, input));
        match out.next() {
            None => Ok(None),
            Some(Ok(v)) => Ok(Some(from_val(&v))),
            Some(Err(exn)) => Err(match exn.get_err() {
                Ok(err) => err.to_string(),
                // Only `halt` raises a non-error exception, and it is not offered.
                Err(_) => "the program tried to halt".to_string(),
            }),
        }
    }
}

/// The standard library's own definitions call `halt` and `stderr_empty`, so those cannot
/// be left out; they are replaced: `halt` fails (instead of exiting the daemon) and
/// `stderr` writes nothing.
fn defuse(f: jaq_core::native::Fun<Data>) -> jaq_core::native::Fun<Data> {
    let (name, arity, native) = f;
    match name {
        "halt" => (
            name,
            arity,
            Native::new(|_| {
                box_once(Err(Exn::from(Error::str(
                    "halt is not available in rel pipelines",
                ))))
            }),
        ),
        "stderr_empty" => (name, arity, Native::new(|_| Box::new(core::iter::empty()))),
        _ => (name, arity, native),
    }
}

/// jq truthiness: everything except `false` and `null` is true.
pub fn truthy(v: &Value) -> bool {
    !matches!(v, Value::Null | Value::Bool(false))
}

/// serde_json → jaq. `Val` implements `Deserialize`, and a `Value` is a deserializer.
fn to_val(v: &Value) -> Val {
    Val::deserialize(v).unwrap_or(Val::Null)
}

/// jaq → serde_json. Written out because jaq's values are a superset of JSON (byte
/// strings, non-string keys, NaN): those are mapped the way `jq` prints them.
pub(crate) fn from_val(v: &Val) -> Value {
    match v {
        Val::Null => Value::Null,
        Val::Bool(b) => Value::Bool(*b),
        Val::Num(n) => num_to_json(n),
        Val::TStr(b) | Val::BStr(b) => Value::String(String::from_utf8_lossy(b).into_owned()),
        Val::Arr(items) => Value::Array(items.iter().map(from_val).collect()),
        Val::Obj(map) => Value::Object(
            map.iter()
                .map(|(k, v)| {
                    let key = match k {
                        Val::TStr(b) | Val::BStr(b) => String::from_utf8_lossy(b).into_owned(),
                        other => other.to_string(),
                    };
                    (key, from_val(v))
                })
                .collect(),
        ),
    }
}

fn num_to_json(n: &Num) -> Value {
    match n {
        Num::Int(i) => Value::from(*i as i64),
        Num::Float(f) => serde_json::Number::from_f64(*f).map_or(Value::Null, Value::Number),
        // Big integers and decimal literals: keep them exact when they fit, else as a float.
        other => {
            let text = other.to_string();
            serde_json::from_str::<serde_json::Number>(&text)
                .map(Value::Number)
                .or_else(|_| {
                    text.parse::<f64>()
                        .map(|f| serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number))
                })
                .unwrap_or(Value::Null)
        }
    }
}

/// Where in `code` a slice returned by the lexer/parser starts, as `line L, column C`
/// (1-based) — or `at the end` when the slice is empty at the end of the input.
fn position(code: &str, at: &str) -> String {
    let start = (at.as_ptr() as usize).wrapping_sub(code.as_ptr() as usize);
    if start > code.len() {
        return String::new();
    }
    if start == code.len() {
        return " at the end of the expression".to_string();
    }
    let Some(before) = code.get(..start) else {
        return String::new();
    };
    let line = before.matches('\n').count() + 1;
    let col = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    if code.contains('\n') {
        format!(" at line {line}, column {col}")
    } else {
        format!(" at column {col}")
    }
}

/// The start of `at`, to show what the lexer tripped over.
fn near(at: &str) -> String {
    let text: String = at.chars().take(12).collect();
    if text.is_empty() {
        String::new()
    } else {
        format!(" (near {text:?})")
    }
}

fn describe_load_errors(code: &str, errs: jaq_core::load::Errors<&str, ()>) -> String {
    use jaq_core::load::Error;
    let mut msgs = Vec::new();
    for (_file, err) in errs {
        match err {
            Error::Io(items) => {
                for (path, e) in items {
                    msgs.push(format!("cannot import {path:?}: {e}"));
                }
            }
            Error::Lex(items) => {
                for (expect, at) in items {
                    let mut msg = format!("expected {}{}", expect.as_str(), position(code, at));
                    // Point at the bracket or quote that was never closed.
                    if let jaq_core::load::lex::Expect::Delim(open) = &expect {
                        msg.push_str(&format!(" to match the {open:?}{}", position(code, open)));
                    } else {
                        msg.push_str(&near(at));
                    }
                    msgs.push(msg);
                }
            }
            Error::Parse(items) => {
                for (expect, at) in items {
                    let found = if at.is_empty() {
                        " but the expression ended".to_string()
                    } else {
                        format!(" but found {at:?}{}", position(code, at))
                    };
                    msgs.push(format!("expected {}{found}", expect.as_str()));
                }
            }
        }
    }
    join(msgs, "syntax error")
}

fn describe_compile_errors(code: &str, errs: jaq_core::compile::Errors<&str, ()>) -> String {
    use jaq_core::compile::Undefined;
    let mut msgs = Vec::new();
    for (_file, items) in errs {
        for (name, undefined) in items {
            let what = match undefined {
                Undefined::Filter(arity) => {
                    let hint = if DENIED.contains(&name) {
                        " (not available in rel pipelines)"
                    } else {
                        ""
                    };
                    format!("undefined filter {name}/{arity}{hint}")
                }
                other => format!("undefined {} {name}", other.as_str()),
            };
            msgs.push(format!("{what}{}", position(code, name)));
        }
    }
    join(msgs, "does not compile")
}

fn join(msgs: Vec<String>, fallback: &str) -> String {
    if msgs.is_empty() {
        fallback.to_string()
    } else {
        msgs.join("; ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn eval(code: &str, input: Value) -> Value {
        JqProgram::compile(code)
            .expect("compiles")
            .first(&input)
            .expect("runs")
            .expect("yields")
    }

    #[test]
    fn spec_example_expressions() {
        let ctx = json!({"input": {"message": "ping"}, "steps": {"greet": "You said: ping"}});
        assert_eq!(
            eval(
                "{reply: .steps.greet, length: (.input.message | length)}",
                ctx
            ),
            json!({"reply": "You said: ping", "length": 4})
        );
        assert_eq!(
            eval(
                r#".reply | contains("ping")"#,
                json!({"reply": "You said: ping"})
            ),
            json!(true)
        );
        assert_eq!(
            eval(
                r#".reply | contains("pong")"#,
                json!({"reply": "You said: ping"})
            ),
            json!(false)
        );
    }

    #[test]
    fn std_library_and_numbers() {
        assert_eq!(eval("map(. * 2) | add", json!([1, 2, 3])), json!(12));
        assert_eq!(
            eval("[.[] | select(. > 1)]", json!([1, 2, 3])),
            json!([2, 3])
        );
        assert_eq!(eval(". / 2", json!(3)), json!(1.5));
        assert_eq!(eval("keys", json!({"b": 1, "a": 2})), json!(["a", "b"]));
        assert_eq!(eval("ascii_upcase", json!("abc")), json!("ABC"));
        assert_eq!(
            eval("12345678901234567890", Value::Null),
            json!(12345678901234567890u64)
        );
        assert_eq!(
            JqProgram::compile("empty").expect("ok").first(&Value::Null),
            Ok(None)
        );
    }

    #[test]
    fn errors_are_readable() {
        let e = JqProgram::compile("{reply: .steps.greet").expect_err("unclosed");
        assert_eq!(
            e,
            r#"expected closing brace at the end of the expression to match the "{" at column 1"#
        );
        let e = JqProgram::compile("nosuchfilter(1)").expect_err("undefined");
        assert!(e.contains("undefined filter nosuchfilter/1"), "{e}");
        let e = JqProgram::compile("env").expect_err("denied");
        assert!(e.contains("not available in rel"), "{e}");
        let e = JqProgram::compile("halt")
            .expect("compiles")
            .first(&json!(1))
            .expect_err("no halt");
        assert!(e.contains("halt is not available"), "{e}");
        assert_eq!(
            JqProgram::compile("stderr").expect("ok").first(&json!(1)),
            Ok(Some(json!(1)))
        );
        let e = JqProgram::compile("1 +").expect_err("syntax");
        assert!(e.contains("expected term but the expression ended"), "{e}");
        let e = JqProgram::compile(".a")
            .expect("ok")
            .first(&json!(1))
            .expect_err("runtime");
        assert!(e.contains("cannot index"), "{e}");
    }

    #[test]
    fn program_is_send_and_sync() {
        fn assert_send_sync<T: Send + Sync>() {}
        assert_send_sync::<JqProgram>();
    }
}
