//! Arbitrary app-config text (TOML or JSON by the first byte): parse, validate (every jq
//! expression and template compiled, as `relctl app apply` does) and compile it as a release
//! would be. Errors are fine; panics, aborts and stack overflows are not.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rel_domain::config::{AppConfig, ConfigFormat};
use rel_domain::snapshot::Snapshot;

fuzz_target!(|data: &[u8]| {
    let Some((&first, rest)) = data.split_first() else {
        return;
    };
    let Ok(text) = std::str::from_utf8(rest) else {
        return;
    };
    let format = if first & 1 == 0 {
        ConfigFormat::Toml
    } else {
        ConfigFormat::Json
    };
    let Ok(config) = AppConfig::parse(text, format) else {
        return;
    };
    if rel_pipeline::validate_app(&config).is_err() {
        return;
    }
    let snapshot = Snapshot::of(config);
    let _ = rel_pipeline::CompiledApp::compile(&snapshot, "fuzz");
});
