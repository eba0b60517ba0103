//! Dialogs and overlays. Each owns its state, turns keys into an [`Action`] for the app,
//! and renders from `&self` on top of the screen.

pub mod actions;
pub mod create;
pub mod deploy;
pub mod diff;
pub mod gov;
pub mod help;
pub mod modal;
pub mod rollback;
pub mod verify;

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Clear};
use rel_domain::{Caller, EnvironmentView, ReleaseView, Role, Timestamp};
use rel_proto::Request;

pub use actions::ActionsMenu;
pub use create::CreateDialog;
pub use deploy::DeployDialog;
pub use diff::DiffDialog;
pub use gov::{GovDialog, GovKind};
pub use modal::ErrorModal;
pub use rollback::RollbackDialog;
pub use verify::VerifyDialog;

use crate::msg::Purpose;
use crate::theme::Theme;

// At most one dialog exists at a time: its size does not matter, boxing would only add noise.
#[allow(clippy::large_enum_variant)]
pub enum Dialog {
    Create(CreateDialog),
    Actions(ActionsMenu),
    Deploy(DeployDialog),
    Rollback(RollbackDialog),
    Diff(DiffDialog),
    /// The checks' outcome after a verify.
    Verify(VerifyDialog),
    /// Freeze, unfreeze, approve or reject (issue 11).
    Gov(GovDialog),
}

/// What a dialog asks the app to do after a key.
#[derive(Debug, PartialEq)]
pub enum Action {
    None,
    Close,
    /// Send a request (a submit).
    Call(Purpose, Request),
    /// Ask (again) for the deploy plan of the dialog's current target.
    PlanDeploy,
    PlanRollback,
    OpenDeploy {
        tag: String,
    },
    OpenRollback {
        env: String,
    },
    /// Close this and send a diff request.
    Diff(Purpose, Request),
    /// Close this and run the checks against what is live in `env`.
    Verify {
        env: String,
    },
}

/// What dialogs may read from the app while handling keys or rendering.
pub struct Ctx<'a> {
    pub envs: &'a [EnvironmentView],
    pub releases: &'a [ReleaseView],
    pub caller: Option<&'a Caller>,
    pub theme: Theme,
    pub now: Timestamp,
}

impl Ctx<'_> {
    pub fn is_admin(&self) -> bool {
        self.caller.is_some_and(|c| c.role == Role::Admin)
    }

    pub fn env(&self, name: &str) -> Option<&EnvironmentView> {
        self.envs.iter().find(|e| e.env.name == name)
    }
}

/// Clear `area` and draw a titled frame; returns the inner area.
pub fn frame(f: &mut Frame, area: Rect, title: &str, theme: Theme) -> Rect {
    f.render_widget(Clear, area);
    let block = Block::default()
        .borders(Borders::ALL)
        .title(Line::from(Span::styled(
            format!(" {title} "),
            theme.title(),
        )));
    let inner = block.inner(area);
    f.render_widget(block, area);
    inner
}

/// The typed-name confirmation every dialog that changes a protected environment shows:
/// `type NAME : [input] ✓`. One widget, so deploy, rollback and release & deploy read alike.
pub fn confirm_line<'a>(
    label: Span<'a>,
    env: &str,
    input: &crate::widgets::TextInput,
    focused: bool,
    theme: Theme,
) -> Line<'a> {
    let mut l = vec![label, Span::raw(format!("type {env} : "))];
    l.extend(input.line(focused, 24, theme).spans);
    if input.text() == env {
        l.push(Span::styled("  ✓", theme.ok()));
    }
    Line::from(l)
}

/// The hint when the name has not been typed (yet).
pub fn confirm_hint(env: &str) -> String {
    format!("{env} is protected: type its name, {env:?}, to confirm")
}
