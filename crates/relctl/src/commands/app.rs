//! `relctl app apply | show | diff | validate`: the draft app config.

use std::path::Path;

use rel_domain::config::{AppConfigText, ConfigFormat};
use rel_domain::{AppConfig, ErrorCode, RelError, Snapshot};
use rel_proto::{ClientError, Request, Response};

use crate::cli::AppCmd;
use crate::session::{Session, out, read_input};
use crate::{json, reply, table};

pub async fn run(s: &Session, cmd: AppCmd) -> anyhow::Result<()> {
    match cmd {
        AppCmd::Apply { file } => apply(s, &file).await,
        AppCmd::Show => show(s).await,
        AppCmd::Diff { tag } => {
            let conn = s.connect().await?;
            let view = reply!(conn, Request::DraftDiff { tag }, Response::Diff(v) => v);
            s.show(|| table::diff(&view, s.ctx), || json::diff(&view))
        }
        AppCmd::Validate { file } => validate(s, &file),
        // No daemon needed: the same example relui loads into a fresh store.
        AppCmd::Example => out(rel_domain::config::EXAMPLE_APP_TOML),
    }
}

/// Read a config file into what the daemon parses, naming the file on failure.
pub fn config_text(path: &Path) -> anyhow::Result<AppConfigText> {
    let text = read_input(path)?;
    Ok(AppConfigText {
        format: ConfigFormat::from_path(&path.to_string_lossy()),
        text,
    })
}

/// The daemon's validation message prefixed with the file it came from, so a CI log says
/// `app.toml: pipelines.chat.stages[0].steps[1].tool: unknown tool "serch"`.
pub fn name_file(path: &Path, err: anyhow::Error) -> anyhow::Error {
    let rel = match err.downcast_ref::<ClientError>() {
        Some(ClientError::Rpc(e)) => Some(e),
        _ => err.downcast_ref::<RelError>(),
    };
    match rel {
        Some(e) if e.code == ErrorCode::Invalid => {
            RelError::invalid(format!("{}: {}", path.display(), e.message)).into()
        }
        _ => err,
    }
}

async fn apply(s: &Session, file: &Path) -> anyhow::Result<()> {
    let text = config_text(file)?;
    // An empty file would silently remove everything from the draft. Parse errors are left to
    // the daemon, which reports them the same way.
    if let Ok(cfg) = text.parse() {
        cfg.check_not_empty()
            .map_err(|e| name_file(file, e.into()))?;
    }
    let conn = s.connect().await?;
    let (digest, diff) = match conn.call(Request::DraftApply(text)).await {
        Ok(Response::DraftApplied { digest, diff }) => (digest, diff),
        Ok(other) => return Err(crate::session::unexpected(&other)),
        Err(e) => return Err(name_file(file, e)),
    };
    let name = file.display().to_string();
    s.show(
        || table::draft_applied(&name, &digest, &diff, s.ctx),
        || json::draft_applied(&name, &digest, &diff),
    )
}

async fn show(s: &Session) -> anyhow::Result<()> {
    let conn = s.connect().await?;
    let draft = reply!(conn, Request::DraftShow, Response::Draft(d) => d);
    let Some(draft) = draft else {
        return Err(RelError::not_found(
            "there is no draft yet: write an app config (relctl app example > app.toml gives a working one) and run relctl app apply app.toml",
        )
        .into());
    };
    if s.json() {
        // The config itself, so `relctl app show -o json > app.json` round-trips through apply.
        let value: serde_json::Value = serde_json::from_str(&draft.config_json).map_err(|e| {
            RelError::internal(format!("releasd sent a draft that is not JSON: {e}"))
        })?;
        return out(&format!("{}\n", json::pretty(&value)));
    }
    let cfg = AppConfig::from_json(&draft.config_json)?;
    out(&table::draft_toml(&draft.digest, &cfg))
}

/// Local only: CI can lint configs without a daemon.
fn validate(s: &Session, file: &Path) -> anyhow::Result<()> {
    let text = config_text(file)?;
    let cfg = text.parse().map_err(|e| name_file(file, e.into()))?;
    // The same checks the daemon runs on apply: jq expressions, templates and their filters.
    rel_pipeline::validate_app(&cfg).map_err(|e| name_file(file, e.into()))?;
    // What `app apply` refuses, validate refuses too: a CI check must not pass a file that
    // the deploy step then rejects.
    if cfg.is_empty() {
        return Err(name_file(
            file,
            RelError::invalid(
                "this config defines no tools, pipelines, endpoints or checks; relctl app apply would refuse it \
                 (check the file name, or that the file was not truncated)",
            )
            .into(),
        ));
    }
    let snap = Snapshot::of(cfg);
    let name = file.display().to_string();
    s.show(
        || table::valid(&name, &snap.digest, &snap.config),
        || json::valid(&name, &snap),
    )
}
