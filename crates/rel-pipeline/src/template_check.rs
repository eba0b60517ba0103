//! Unknown filters and tests in a template. minijinja resolves `| name` and `is name` only
//! when the template renders, so a misspelt filter would pass `app apply`, `release create`
//! and a deploy and then fail every request. We walk the compiled instructions (minijinja's
//! `unstable_machinery`: the version is pinned by Cargo.lock) and ask the environment about
//! every name, so the draft is refused with the step's path instead.

use minijinja::machinery::{Instruction, Instructions, get_compiled_template};
use minijinja::{Environment, ErrorKind};

/// The first filter or test in template `name` that `env` does not know, as
/// `unknown filter "nofilter" (line 1)`. `None` when every name resolves.
pub(crate) fn unknown_filter_or_test(env: &Environment<'_>, name: &str) -> Option<String> {
    let tmpl = env.get_template(name).ok()?;
    let compiled = get_compiled_template(&tmpl);
    std::iter::once(&compiled.instructions)
        .chain(compiled.blocks.values())
        .find_map(|instrs| first_unknown(env, instrs))
}

fn first_unknown(env: &Environment<'_>, instrs: &Instructions<'_>) -> Option<String> {
    let state = env.empty_state();
    (0..instrs.len() as u32).find_map(|idx| {
        let (what, name, known) = match instrs.get(idx)? {
            // Applying with no arguments only ever fails for a known filter or test (missing
            // argument); builtins have no side effects.
            Instruction::ApplyFilter(name, ..) => (
                "filter",
                *name,
                !is_kind(
                    state.apply_filter(name, &[]).err(),
                    ErrorKind::UnknownFilter,
                ),
            ),
            Instruction::PerformTest(name, ..) => (
                "test",
                *name,
                !is_kind(state.perform_test(name, &[]).err(), ErrorKind::UnknownTest),
            ),
            _ => return None,
        };
        if known {
            return None;
        }
        let line = instrs
            .get_line(idx)
            .map(|l| format!(" (line {l})"))
            .unwrap_or_default();
        Some(format!("unknown {what} {name:?}{line}"))
    })
}

fn is_kind(err: Option<minijinja::Error>, kind: ErrorKind) -> bool {
    err.is_some_and(|e| e.kind() == kind)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(source: &str) -> Option<String> {
        let mut env = Environment::new();
        env.add_template_owned("t", source.to_string())
            .expect("parses");
        unknown_filter_or_test(&env, "t")
    }

    #[test]
    fn known_filters_and_tests_pass() {
        assert_eq!(check("{{ input.message | upper | length }}"), None);
        assert_eq!(
            check("{% if x is defined and x is number %}{{ x | default(1) }}{% endif %}"),
            None
        );
        assert_eq!(check("{% filter upper %}hi{% endfilter %}"), None);
        assert_eq!(check("plain text"), None);
    }

    #[test]
    fn unknown_filter_is_named_with_its_line() {
        assert_eq!(
            check("{{ input.message | nofilter }}"),
            Some("unknown filter \"nofilter\" (line 1)".to_string())
        );
        assert_eq!(
            check("a\n{% for x in xs %}{{ x | upper | shout }}{% endfor %}"),
            Some("unknown filter \"shout\" (line 2)".to_string())
        );
    }

    #[test]
    fn unknown_test_and_unknown_in_macro_and_filter_block() {
        assert_eq!(
            check("{% if x is nottest %}y{% endif %}"),
            Some("unknown test \"nottest\" (line 1)".to_string())
        );
        assert_eq!(
            check("{% macro m(v) %}{{ v | nope }}{% endmacro %}{{ m(1) }}"),
            Some("unknown filter \"nope\" (line 1)".to_string())
        );
        assert_eq!(
            check("{% filter nofilter %}hi{% endfilter %}"),
            Some("unknown filter \"nofilter\" (line 1)".to_string())
        );
    }
}
