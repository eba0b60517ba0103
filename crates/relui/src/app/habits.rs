//! What people who live in k9s and lazygit press without thinking: the `:` command palette,
//! `y` to copy, `g`/`G`, `h`/`l`, and a word when a key means nothing.

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

use super::App;
use crate::keys::is_char;
use crate::msg::{Command, Purpose};
use crate::screens::Screen;
use crate::widgets::TextInput;
use rel_proto::Request;

/// The palette's commands: name, arguments, what it does (shown as completion hints).
pub const PALETTE: &[(&str, &str, &str)] = &[
    ("deploy", "TAG [ENV]", "open the deploy confirmation"),
    ("rollback", "ENV", "open the rollback confirmation"),
    ("verify", "ENV", "run the checks in ENV"),
    ("new", "", "create a release from the draft"),
    ("releases", "", "the Releases screen"),
    ("envs", "", "the Environments screen"),
    ("logs", "", "the Logs screen"),
    ("requests", "", "the Requests screen"),
    (
        "freeze",
        "ENV | --all REASON",
        "freeze ENV, or stop the line",
    ),
    (
        "unfreeze",
        "ENV | --all",
        "unfreeze ENV, or end the stopped line",
    ),
    ("help", "", "list every key"),
    ("q", "", "quit"),
];

/// What a key means once the vim-style aliases are applied: `g`/`G` are Home/End, `h` goes
/// back (Esc), `l` opens (Enter).
pub fn alias(key: KeyEvent) -> KeyEvent {
    let to = |code| KeyEvent::new(code, KeyModifiers::NONE);
    if is_char(&key, 'g') {
        to(KeyCode::Home)
    } else if key.code == KeyCode::Char('G') {
        to(KeyCode::End)
    } else if is_char(&key, 'h') {
        to(KeyCode::Esc)
    } else if is_char(&key, 'l') {
        to(KeyCode::Enter)
    } else {
        key
    }
}

/// Letters the main screens act on (anything else gets "unknown key").
const KNOWN: &str = "q?1234nsjkgGhldarpv/y:efutxFU";

impl App {
    /// `:` opened the palette; keys go to it until Enter or Esc.
    pub(super) fn palette_key(&mut self, key: KeyEvent) -> Vec<Command> {
        let words = self.completion_words();
        let Some(input) = self.palette.as_mut() else {
            return vec![];
        };
        match key.code {
            KeyCode::Esc => {
                self.palette = None;
                vec![]
            }
            KeyCode::Tab => {
                if let Some(done) = complete(input.text(), &words) {
                    *input = TextInput::with(&done);
                }
                vec![]
            }
            KeyCode::Enter => {
                let text = input.text().trim().to_string();
                self.palette = None;
                self.run_palette(&text)
            }
            _ => {
                input.handle(&key);
                vec![]
            }
        }
    }

    fn run_palette(&mut self, text: &str) -> Vec<Command> {
        let words: Vec<&str> = text.split_whitespace().collect();
        let env_known = |app: &App, env: &str| app.data.envs.iter().any(|e| e.env.name == env);
        match words.as_slice() {
            [] => vec![],
            ["q" | "quit"] => vec![Command::Quit],
            ["help"] => {
                self.help = true;
                vec![]
            }
            ["new" | "create"] => {
                self.open_create();
                vec![]
            }
            ["releases"] => self.go(Screen::Releases),
            ["envs" | "environments"] => self.go(Screen::Environments),
            ["logs"] => self.go(Screen::Logs),
            ["requests"] => self.go(Screen::Requests),
            ["freeze", "--all", reason @ ..] => {
                self.open_freeze_all(&reason.join(" "));
                vec![]
            }
            ["unfreeze", "--all"] => {
                self.open_unfreeze_all();
                vec![]
            }
            ["freeze" | "unfreeze", env] => {
                if !env_known(self, env) {
                    let text = self.no_env_text(env);
                    self.palette_warn(text);
                    return vec![];
                }
                if words[0] == "freeze" {
                    self.open_freeze(env);
                } else {
                    self.open_unfreeze(env);
                }
                vec![]
            }
            ["deploy", tag, rest @ ..] if rest.len() <= 1 => {
                // Tag and environment are checked before any dialog opens, so a typo reads
                // the same whichever of the two it is in: one line, with the close name.
                if let Some(env) = rest.first().filter(|e| !env_known(self, e)) {
                    let text = self.no_env_text(env);
                    self.palette_warn(text);
                    return vec![];
                }
                if let Err(e) = rel_domain::names::validate_tag(tag) {
                    self.palette_warn(e.message);
                    return vec![];
                }
                let env = rest.first().map(|e| e.to_string());
                let release = self
                    .releases
                    .rows
                    .iter()
                    .find(|r| r.release.tag == *tag)
                    .cloned();
                match release {
                    Some(r) => self.open_deploy(tag.to_string(), Some(r), env),
                    // Every release is loaded: it does not exist.
                    None if self
                        .data
                        .release_total
                        .is_some_and(|t| self.releases.rows.len() as u64 >= t) =>
                    {
                        let text = self.no_release_text(tag);
                        self.palette_warn(text);
                        vec![]
                    }
                    // Not among the pages loaded: the daemon knows.
                    None => vec![Command::call(
                        Purpose::PaletteDeploy {
                            tag: tag.to_string(),
                            env,
                        },
                        Request::ReleaseShow {
                            tag: tag.to_string(),
                        },
                    )],
                }
            }
            ["rollback", env] | ["verify", env] => {
                if !env_known(self, env) {
                    let text = self.no_env_text(env);
                    self.palette_warn(text);
                    return vec![];
                }
                if words[0] == "rollback" {
                    self.open_rollback(vec![env.to_string()], 0)
                } else {
                    self.start_verify(env.to_string())
                }
            }
            [cmd, ..] => {
                let usage = PALETTE
                    .iter()
                    .find(|(name, _, _)| name == cmd)
                    .map(|(name, args, _)| format!("Usage: :{name} {args}"));
                self.palette_warn(usage.unwrap_or_else(|| {
                    format!(
                        "Unknown command :{cmd}. Try :deploy TAG ENV, :rollback ENV, :verify ENV, :new or :q (Tab completes)."
                    )
                }));
                vec![]
            }
        }
    }

    fn go(&mut self, screen: Screen) -> Vec<Command> {
        let key = match screen {
            Screen::Releases => '1',
            Screen::Environments => '2',
            Screen::Logs => '3',
            Screen::Requests => '4',
        };
        self.on_key(KeyEvent::new(KeyCode::Char(key), KeyModifiers::NONE))
    }

    /// A palette mistake: said in the message line until the next key (a stale "Unknown
    /// command" must not linger over what the user does next).
    pub(super) fn palette_warn(&mut self, text: impl Into<String>) {
        self.warn(text);
        self.palette_message = true;
    }

    /// "No environment named prod: did you mean production?", else the list.
    fn no_env_text(&self, env: &str) -> String {
        let names = self.env_names();
        // A unique prefix (prod → production) first, then a near spelling (stagin).
        let mut prefixed = names.iter().filter(|n| n.starts_with(env));
        let close = match (prefixed.next(), prefixed.next()) {
            (Some(one), None) => Some(one.as_str()),
            _ => rel_domain::names::did_you_mean(env, &names),
        };
        match close {
            Some(c) => format!("No environment named {env}: did you mean {c}?"),
            None => format!("No environment named {env}: {}", self.env_list()),
        }
    }

    /// "No release tagged v9 (the newest is v1.30.0)".
    pub(super) fn no_release_text(&self, tag: &str) -> String {
        match self.releases.rows.first() {
            Some(r) => format!(
                "No release tagged {tag}: the newest is {} (Tab completes tags).",
                r.release.tag
            ),
            None => format!("No release tagged {tag}: there are no releases yet (n creates one)."),
        }
    }

    fn env_list(&self) -> String {
        let names = self.env_names();
        if names.is_empty() {
            "no environments are loaded".into()
        } else {
            format!("there are {}", names.join(", "))
        }
    }

    /// Candidates for the word being typed: commands first, then tags and environments.
    fn completion_words(&self) -> Completions {
        Completions {
            tags: self
                .releases
                .rows
                .iter()
                .map(|r| r.release.tag.clone())
                .collect(),
            envs: self.env_names(),
        }
    }

    /// The hint under the palette: what can come next.
    pub fn palette_hint(&self) -> String {
        let Some(input) = &self.palette else {
            return String::new();
        };
        let text = input.text();
        let words: Vec<&str> = text.split_whitespace().collect();
        let typing_new = text.is_empty() || text.ends_with(' ');
        let c = self.completion_words();
        match (words.as_slice(), typing_new) {
            ([], _) | ([_], false) => {
                let prefix = words.first().copied().unwrap_or("");
                let m: Vec<String> = PALETTE
                    .iter()
                    .filter(|(n, _, _)| n.starts_with(prefix))
                    .map(|(n, a, _)| format!("{n} {a}").trim_end().to_string())
                    .collect();
                if m.is_empty() {
                    "no such command".into()
                } else {
                    m.join(" · ")
                }
            }
            ([cmd, ..], _) => {
                let arg = if typing_new {
                    words.len()
                } else {
                    words.len() - 1
                };
                let prefix = if typing_new {
                    ""
                } else {
                    words.last().copied().unwrap_or("")
                };
                let pool = match (*cmd, arg) {
                    ("deploy", 1) => &c.tags,
                    ("deploy", 2) | ("rollback" | "verify" | "freeze" | "unfreeze", 1) => &c.envs,
                    _ => return "Enter runs it, Esc cancels".into(),
                };
                let m: Vec<&String> = pool
                    .iter()
                    .filter(|w| w.starts_with(prefix))
                    .take(6)
                    .collect();
                if m.is_empty() {
                    "no match".into()
                } else {
                    m.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(" · ")
                }
            }
        }
    }

    /// Keys the main screens do not know: say so once instead of doing nothing silently.
    pub(super) fn unknown_key(&mut self, key: &KeyEvent) {
        if let KeyCode::Char(c) = key.code
            && !key.modifiers.contains(KeyModifiers::CONTROL)
            && !KNOWN.contains(c)
        {
            self.info(format!("Unknown key {c} — press ? for help"));
        }
    }

    /// `y`: the selected release's tag (its digest in the detail view), the environment's
    /// live tag, or the run id.
    pub(super) fn copy_selected(&mut self) -> Vec<Command> {
        let what = match self.screen {
            Screen::Releases => match &self.detail {
                Some(d) => d.view().map(|v| ("digest", v.release.digest.to_string())),
                None => self
                    .releases
                    .selected()
                    .map(|r| ("tag", r.release.tag.clone())),
            },
            Screen::Environments => self
                .envs
                .selected(&self.data.envs)
                .and_then(|e| e.live.clone())
                .map(|t| ("tag", t)),
            Screen::Logs => self
                .logs
                .selected_run()
                .map(|e| ("run id", e.id.to_string())),
            Screen::Requests => self
                .requests
                .selected_request()
                .map(|r| ("request id", r.id.to_string())),
        };
        match what {
            Some((kind, text)) => {
                self.info(format!("Copied {kind} {text} to the clipboard (OSC 52)."));
                vec![Command::Copy(text)]
            }
            None => {
                self.info("Nothing selected to copy.");
                vec![]
            }
        }
    }
}

pub struct Completions {
    pub tags: Vec<String>,
    pub envs: Vec<String>,
}

/// Tab: complete the word being typed when exactly one candidate fits.
fn complete(text: &str, c: &Completions) -> Option<String> {
    let words: Vec<&str> = text.split_whitespace().collect();
    if text.ends_with(' ') || words.is_empty() {
        return None;
    }
    let last = *words.last()?;
    let candidates: Vec<String> = if words.len() == 1 {
        PALETTE.iter().map(|(n, _, _)| n.to_string()).collect()
    } else {
        match (words[0], words.len() - 1) {
            ("deploy", 1) => c.tags.clone(),
            ("deploy", 2) | ("rollback" | "verify" | "freeze" | "unfreeze", 1) => c.envs.clone(),
            _ => vec![],
        }
    };
    let m: Vec<&String> = candidates.iter().filter(|w| w.starts_with(last)).collect();
    let [only] = m.as_slice() else {
        return None;
    };
    let head = &text[..text.len() - last.len()];
    Some(format!("{head}{only} "))
}
