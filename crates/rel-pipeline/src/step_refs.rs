//! References to other steps' outputs (`steps.NAME` in a template, `.steps.NAME` in jq) that
//! cannot resolve. A step sees only the outputs of the steps before it; a misspelt or later
//! step's name reads as null/empty at run time and the run still says "ok", so the draft is
//! refused at apply time instead, naming the path and the steps it could use.
//!
//! Run inputs cannot be checked this way (they have no declared shape).

/// The first step name that `names` refers to and `earlier` does not hold, as an error
/// message; `None` when all resolve.
fn first_unresolved<'a>(
    names: impl IntoIterator<Item = &'a str>,
    earlier: &[&str],
    later: &[&str],
    written: impl Fn(&str) -> String,
) -> Option<String> {
    for name in names {
        if earlier.contains(&name) {
            continue;
        }
        let known = if earlier.is_empty() {
            "none: this is the first step".to_string()
        } else {
            earlier
                .iter()
                .map(|n| format!("{n:?}"))
                .collect::<Vec<_>>()
                .join(", ")
        };
        let what = if later.contains(&name) {
            format!("step {name:?} runs after this one, so its output is not there yet")
        } else {
            format!("unknown step {name:?}")
        };
        return Some(format!(
            "{} refers to {what} (steps before this one: {known})",
            written(name)
        ));
    }
    None
}

/// Step names a template reads (`steps.NAME`, also `steps.NAME.field`), from minijinja's
/// own list of the variables it does not set itself.
pub(crate) fn template(
    env: &minijinja::Environment<'_>,
    name: &str,
    earlier: &[&str],
    later: &[&str],
) -> Option<String> {
    let tmpl = env.get_template(name).ok()?;
    let vars = tmpl.undeclared_variables(true);
    let mut names: Vec<&str> = vars
        .iter()
        .filter_map(|v| v.strip_prefix("steps."))
        .map(|rest| rest.split('.').next().unwrap_or(rest))
        .collect();
    names.sort_unstable();
    names.dedup();
    first_unresolved(names, earlier, later, |n| format!("steps.{n}"))
}

/// Step names a jq program reads as `.steps.NAME` or `.steps["NAME"]` (outside string
/// literals). Dynamic access (`.steps[$k]`) is left alone.
pub(crate) fn jq(code: &str, earlier: &[&str], later: &[&str]) -> Option<String> {
    let names = jq_step_names(code);
    first_unresolved(names.iter().map(String::as_str), earlier, later, |n| {
        format!(".steps.{n}")
    })
}

fn jq_step_names(code: &str) -> Vec<String> {
    let bytes = code.as_bytes();
    let mut names = Vec::new();
    let mut i = 0;
    let mut in_string = false;
    while i < bytes.len() {
        let b = bytes[i];
        if in_string {
            match b {
                b'\\' => i += 1,
                b'"' => in_string = false,
                _ => {}
            }
            i += 1;
            continue;
        }
        if b == b'"' {
            in_string = true;
            i += 1;
            continue;
        }
        if b == b'#' {
            // A comment runs to the end of the line.
            while i < bytes.len() && bytes[i] != b'\n' {
                i += 1;
            }
            continue;
        }
        let preceded_ok = i == 0 || !is_ident(bytes[i - 1]);
        if b == b'.' && code[i + 1..].starts_with("steps") && preceded_ok {
            let after = i + 1 + "steps".len();
            let rest = &code[after..];
            if let Some(r) = rest.strip_prefix('.') {
                let len = r.bytes().take_while(|c| is_ident(*c)).count();
                if len > 0 {
                    names.push(r[..len].to_string());
                }
            } else if let Some(r) = rest.strip_prefix("[\"")
                && let Some(end) = r.find('"')
                && r[end..].starts_with("\"]")
            {
                names.push(r[..end].to_string());
            }
            i = after;
            continue;
        }
        i += 1;
    }
    names.sort();
    names.dedup();
    names
}

fn is_ident(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_' || b == b'-'
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jq_finds_field_and_index_access_outside_strings() {
        assert_eq!(
            jq_step_names(r#"{a: .steps.greet, b: .steps["other-one"].x, c: ".steps.nope"}"#),
            vec!["greet".to_string(), "other-one".to_string()]
        );
        assert!(jq_step_names(".steps[$k] # .steps.commented").is_empty());
        assert!(jq_step_names(".mysteps.x | .input.steps").is_empty());
    }

    #[test]
    fn jq_unknown_and_later_steps_are_named() {
        let earlier = ["greet"];
        assert_eq!(jq("{reply: .steps.greet}", &earlier, &[]), None);
        let e = jq("{reply: .steps.gret}", &earlier, &[]).expect("refused");
        assert!(
            e.contains(".steps.gret refers to unknown step \"gret\"") && e.contains("\"greet\""),
            "{e}"
        );
        let e = jq(".steps.shape", &earlier, &["shape"]).expect("refused");
        assert!(e.contains("runs after this one"), "{e}");
    }

    #[test]
    fn template_unknown_step_is_named_and_locals_are_not_steps() {
        let mut env = minijinja::Environment::new();
        env.add_template_owned("t", "{{ steps.nothere }}|{{ input.x }}".to_string())
            .expect("parses");
        env.add_template_owned(
            "ok",
            "{{ steps.greet.text }}{% set steps = 1 %}".to_string(),
        )
        .expect("parses");
        let e = template(&env, "t", &["greet"], &[]).expect("refused");
        assert!(e.contains("steps.nothere refers to unknown step"), "{e}");
        assert_eq!(template(&env, "ok", &["greet"], &[]), None);
    }
}
