//! Governance in the app (issue 11): opening the freeze / unfreeze / approve / reject
//! confirmations and what their answers change.

use rel_domain::governance::{ChangeRequest, RequestKind};
use rel_proto::{ClientError, Request};

use super::App;
use crate::dialogs::{Dialog, GovDialog, GovKind};
use crate::msg::{Command, Purpose};
use crate::screens::Screen;

/// The approve (or reject) confirmation of `r`, saying what approving would do, what its
/// environment runs now and anything that will stop it (a freeze), and whether it was forced.
pub fn request_dialog(
    r: ChangeRequest,
    approve: bool,
    env: Option<&rel_domain::EnvironmentView>,
    now: rel_domain::Timestamp,
) -> GovDialog {
    let what = format!(
        "Request #{} by {}: deploy {} to {}{}.",
        r.id,
        r.requested_by,
        r.release,
        r.env,
        r.expect
            .as_deref()
            .map(|e| format!(" (expects {e} live there)"))
            .unwrap_or_default()
    );
    let got = r.approvals.len();
    let needed = usize::try_from(r.approvals_needed).unwrap_or(usize::MAX);
    let effect = if !approve {
        "Rejecting ends it: nothing is deployed. The reason is shown to the requester and audited."
            .to_string()
    } else if r.kind == RequestKind::Scheduled {
        "A scheduled deploy fires at its time; approving it does not change when.".to_string()
    } else if got + 1 >= needed {
        format!(
            "Yours is the last approval needed ({}/{needed}): it deploys {} to {} now, as {}.",
            got + 1,
            r.release,
            r.env,
            r.requested_by
        )
    } else {
        format!(
            "Approvals {}/{needed} after yours: it still waits for {} more.",
            got + 1,
            needed - got - 1
        )
    };
    let kind = if approve {
        GovKind::Approve {
            request: Box::new(r.clone()),
        }
    } else {
        GovKind::Reject {
            request: Box::new(r.clone()),
        }
    };
    let mut about = vec![what];
    if let Some(v) = env {
        about.push(format!(
            "{} runs {} now.",
            v.env.name,
            v.live.as_deref().unwrap_or("nothing")
        ));
        if approve && let Some(f) = &v.governance.frozen {
            about.push(format!(
                "{} It is refused while that lasts (a request's --force does not pass a freeze).",
                crate::gov::freeze_banner(f, now)
            ));
        }
    }
    if let Some(reason) = &r.force_reason {
        about.push(format!(
            "Forced by {}: {reason}. It overrides the promotion policy when carried out, never a freeze.",
            r.requested_by
        ));
    }
    about.push(effect);
    GovDialog::new(kind, about)
}

impl App {
    pub(super) fn open_freeze(&mut self, env: &str) {
        let frozen = self
            .data
            .envs
            .iter()
            .find(|e| e.env.name == env)
            .and_then(|e| e.governance.frozen.as_ref());
        if let Some(f) = frozen {
            self.warn(format!(
                "{env} is frozen already: {}. Press u to unfreeze it.",
                crate::gov::freeze_banner(f, self.now)
            ));
            return;
        }
        self.dialog = Some(Dialog::Gov(GovDialog::new(
            GovKind::Freeze { env: env.into() },
            vec![format!(
                "Deploys to {env} will be refused, naming you, the reason and the end; rollbacks still work. An admin may override with a reason (audited)."
            )],
        )));
    }

    pub(super) fn open_unfreeze(&mut self, env: &str) {
        let Some(f) = self
            .data
            .envs
            .iter()
            .find(|e| e.env.name == env)
            .and_then(|e| e.governance.frozen.clone())
        else {
            self.warn(format!("{env} is not frozen: nothing to unfreeze."));
            return;
        };
        let mut about = vec![crate::gov::freeze_banner(&f, self.now)];
        about.push(match f.scope {
            rel_domain::governance::FreezeScope::Env => {
                format!("Unfreezing lets deploys to {env} through again.")
            }
            rel_domain::governance::FreezeScope::All => {
                "The whole line is stopped: unfreezing here ends the freeze of this environment only if it has its own; U (or :unfreeze --all) ends the stop for every environment.".to_string()
            }
            rel_domain::governance::FreezeScope::Window => {
                "This is a recurring freeze window: it ends by itself; an admin removes windows with relctl env freeze-window remove.".to_string()
            }
        });
        self.dialog = Some(Dialog::Gov(GovDialog::new(
            GovKind::Unfreeze { env: env.into() },
            about,
        )));
    }

    /// Stop the line: every environment refuses deploys until it is restarted. `reason`
    /// comes from the palette (`:freeze --all REASON`); the confirmation still asks.
    pub(super) fn open_freeze_all(&mut self, reason: &str) {
        if let Some(f) = crate::gov::line_stop(&self.data.envs) {
            self.warn(format!(
                "The line is stopped already: {}. Press U to end it.",
                crate::gov::freeze_banner(f, self.now)
            ));
            return;
        }
        let mut d = GovDialog::new(
            GovKind::FreezeAll,
            vec![format!(
                "Deploys to every environment ({}) will be refused, naming you, the reason and the end; rollbacks still work. An admin may override one deploy with a reason (audited), and ends the stop with U.",
                self.env_names().join(", ")
            )],
        );
        if !reason.is_empty() {
            d.reason = crate::widgets::TextInput::with(reason);
            // The reason is given: Enter stops the line (Tab goes back to it).
            d.focus = crate::dialogs::gov::GovFocus::Button;
        }
        self.dialog = Some(Dialog::Gov(d));
    }

    pub(super) fn open_unfreeze_all(&mut self) {
        let Some(f) = crate::gov::line_stop(&self.data.envs).cloned() else {
            self.warn("The line is not stopped: nothing to unfreeze for every environment (u unfreezes one).");
            return;
        };
        self.dialog = Some(Dialog::Gov(GovDialog::new(
            GovKind::UnfreezeAll,
            vec![
                crate::gov::freeze_banner(&f, self.now),
                "Ending it lets deploys through again everywhere; an environment frozen on its own (f) stays frozen. The daemon lets only an admin do this.".to_string(),
            ],
        )));
    }

    /// A governance answer came back: close the dialog, say what happened, reload.
    pub(super) fn on_gov_done(&mut self, text: String) -> Vec<Command> {
        if matches!(self.dialog, Some(Dialog::Gov(_))) {
            self.dialog = None;
        }
        self.info(text);
        let mut cmds = vec![Command::call(Purpose::Environments, Request::EnvList)];
        if self.requests.loaded || self.screen == Screen::Requests {
            let g = self.next_gen();
            cmds.push(self.requests.reload(g));
        }
        cmds
    }

    /// The requests again (after a refused approval, which the request records).
    pub(super) fn on_gov_reload(&mut self) -> Vec<Command> {
        if !self.requests.loaded {
            return vec![];
        }
        let g = self.next_gen();
        vec![self.requests.reload(g)]
    }

    /// A governance request failed: the dialog may be submitted again; the modal says why.
    pub(super) fn on_gov_failed(&mut self, context: String, e: &ClientError) {
        if let Some(Dialog::Gov(d)) = &mut self.dialog {
            d.on_failed();
        }
        self.error = Some(crate::dialogs::ErrorModal {
            title: crate::text::error_title(e).to_string(),
            message: crate::text::error_message(e),
            context,
            hint: None,
        });
    }
}
