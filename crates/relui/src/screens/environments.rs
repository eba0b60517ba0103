//! Environments in promotion order: what is live, since when, by whom, its verification,
//! the rollback target; below, the selected environment's history.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Cell, Padding, Paragraph, Row, Table, Wrap};
use rel_domain::{Deployment, EnvironmentView, Timestamp};
use rel_proto::Request;

use crate::app::Data;
use crate::keys::{Move, apply_move};
use crate::msg::{Command, Purpose};
use crate::text::verification_text;
use crate::theme::Theme;
use crate::widgets::columns::{column_widths, fit, header};
use crate::widgets::{ListFilter, title_width};

/// History rows fetched for the selected environment.
pub const HISTORY_LIMIT: u64 = 50;

#[derive(Debug, Default)]
pub struct EnvironmentsScreen {
    /// Index into the environments the filter lets through.
    pub selected: usize,
    /// Text filter over name, description, live release and who deployed it.
    pub filter: ListFilter,
    /// The environment whose history is shown, and the rows.
    pub history_env: Option<String>,
    pub history: Vec<Deployment>,
    pub history_error: Option<String>,
    pub history_loading: bool,
}

/// The VERIFIED cell where "passed 2/2" does not fit.
fn short_verification(v: Option<&rel_domain::Verification>) -> &'static str {
    match v {
        None => "not run",
        Some(v) if v.passed => "passed",
        Some(_) => "FAILED",
    }
}

impl EnvironmentsScreen {
    /// The environments the filter lets through, in promotion order.
    pub fn shown<'a>(&self, envs: &'a [EnvironmentView]) -> Vec<&'a EnvironmentView> {
        envs.iter()
            .filter(|e| {
                self.filter.matches([
                    e.env.name.as_str(),
                    &e.env.description,
                    e.live.as_deref().unwrap_or(""),
                    e.by.as_deref().unwrap_or(""),
                ])
            })
            .collect()
    }

    pub fn selected<'a>(&self, envs: &'a [EnvironmentView]) -> Option<&'a EnvironmentView> {
        self.shown(envs).get(self.selected).copied()
    }

    pub fn move_selection(&mut self, m: Move, envs: &[EnvironmentView]) {
        let len = self.shown(envs).len();
        self.selected = apply_move(self.selected, len, len, m);
    }

    /// Keep the selection on the same environment (by name) after the list or the filter
    /// changed.
    pub fn reselect(&mut self, envs: &[EnvironmentView], name: Option<&str>) {
        let shown = self.shown(envs);
        if let Some(i) = name.and_then(|n| shown.iter().position(|e| e.env.name == n)) {
            self.selected = i;
        }
        self.selected = self.selected.min(shown.len().saturating_sub(1));
    }

    /// Ask for the history of the selected environment.
    pub fn load_history(&mut self, envs: &[EnvironmentView]) -> Option<Command> {
        let env = self.selected(envs)?.env.name.clone();
        if self.history_env.as_deref() != Some(env.as_str()) {
            self.history.clear();
        }
        self.history_env = Some(env.clone());
        self.history_loading = true;
        Some(Command::call(
            Purpose::EnvHistory { env: env.clone() },
            Request::EnvHistory {
                env,
                limit: HISTORY_LIMIT,
                before_id: None,
            },
        ))
    }

    pub fn on_history(&mut self, env: &str, rows: Vec<Deployment>) {
        if self.history_env.as_deref() == Some(env) {
            self.history = rows;
            self.history_loading = false;
            self.history_error = None;
        }
    }

    pub fn on_history_error(&mut self, env: &str, message: String) {
        if self.history_env.as_deref() == Some(env) {
            self.history_loading = false;
            self.history_error = Some(message);
        }
    }

    // Everything it reads is passed in, so rendering stays a pure function of the state.
    #[allow(clippy::too_many_arguments)]
    pub fn render(
        &self,
        f: &mut Frame,
        area: Rect,
        data: &Data,
        verifying: &[String],
        theme: Theme,
        now: Timestamp,
        offline: Option<&str>,
    ) {
        let envs = &data.envs[..];
        let shown = self.shown(envs);
        if envs.is_empty() {
            let text = match (data.envs_loaded, offline) {
                (true, _) => "No environments. Create one with `relctl env create NAME`.",
                // No daemon: say so and how to get one, not "Loading…" forever.
                (false, Some(o)) => o,
                (false, None) => "Loading environments…",
            };
            let block = Block::default()
                .borders(Borders::ALL)
                .title(Span::styled(" Environments ", theme.title()))
                .padding(Padding::new(2, 2, 1, 0));
            f.render_widget(
                Paragraph::new(text)
                    .block(block)
                    .wrap(ratatui::widgets::Wrap { trim: false }),
                area,
            );
            return;
        }
        // The stopped line first, above every environment it covers.
        let area = match crate::gov::line_stop(&data.envs) {
            Some(stop) => {
                let text = format!(
                    "LINE STOPPED {}. Every deploy is refused; rollbacks work. An admin ends it with U.",
                    crate::gov::freeze_banner(stop, now)
                        .trim_start_matches("FROZEN (the line is stopped for every environment) ")
                );
                let lines = crate::text::labeled(
                    Span::raw(" "),
                    &text,
                    theme.bad().add_modifier(ratatui::style::Modifier::BOLD),
                    area.width.saturating_sub(1),
                );
                let h = u16::try_from(lines.len()).unwrap_or(1).min(3);
                let [banner, rest] =
                    Layout::vertical([Constraint::Length(h), Constraint::Min(0)]).areas(area);
                f.render_widget(Paragraph::new(lines), banner);
                rest
            }
            None => area,
        };
        let rows_h = u16::try_from(shown.len().max(1)).unwrap_or(u16::MAX);
        let table_h = rows_h.saturating_add(3).min(area.height / 2).max(4);
        let [top, bottom] =
            Layout::vertical([Constraint::Length(table_h), Constraint::Min(3)]).areas(area);
        let wide = area.width >= 110;
        let widths = [
            Constraint::Length(1),
            Constraint::Length(if wide { 14 } else { 11 }),
            Constraint::Length(if wide { 18 } else { 12 }),
            Constraint::Length(5),
            Constraint::Length(if wide { 12 } else { 8 }),
            Constraint::Length(if wide { 16 } else { 12 }),
            Constraint::Min(8),
        ];
        let cw = column_widths(top.width.saturating_sub(2), &widths);
        let col = |i: usize| cw.get(i).copied().unwrap_or(0);
        let head = Row::new([
            String::new(),
            header("ENV", "ENV", col(1)),
            header("LIVE", "LIVE", col(2)),
            header("SINCE", "AGE", col(3)),
            header("BY", "BY", col(4)),
            header("VERIFIED", "CHECKS", col(5)),
            header("ROLLBACK TO", "ROLLBACK", col(6)),
        ])
        .style(theme.header());
        let rows = shown.iter().enumerate().map(|(i, e)| {
            let sel = i == self.selected;
            let name = if e.env.protected {
                format!("{}*", e.env.name)
            } else {
                e.env.name.clone()
            };
            // A frozen environment reads as refused at a glance (and without colour, in the
            // VERIFIED column, which says FROZEN while it is); the banner below says who, why
            // and until when.
            let frozen = e.governance.frozen.is_some();
            let name = fit(&name, col(1));
            let name = if frozen {
                Span::styled(name, theme.bad())
            } else {
                Span::raw(name)
            };
            let (ver, ver_style) = if frozen {
                ("FROZEN".to_string(), theme.bad())
            } else if verifying.contains(&e.env.name) {
                (header("verifying…", "checking", col(5)), theme.warn())
            } else {
                let style = match &e.verification {
                    Some(v) if v.passed => theme.ok(),
                    Some(_) => theme.bad(),
                    None => theme.dim(),
                };
                (
                    header(
                        &verification_text(e.verification.as_ref()),
                        short_verification(e.verification.as_ref()),
                        col(5),
                    ),
                    style,
                )
            };
            let row = Row::new([
                Cell::from(if sel { "▶" } else { " " }),
                Cell::from(name),
                Cell::from(fit(e.live.as_deref().unwrap_or("(nothing)"), col(2))),
                Cell::from(e.since.map(|s| s.age(now)).unwrap_or_else(|| "—".into())),
                Cell::from(fit(e.by.as_deref().unwrap_or("—"), col(4))),
                Cell::from(Span::styled(ver, ver_style)),
                Cell::from(fit(e.rollback_to.as_deref().unwrap_or("—"), col(6))),
            ]);
            if sel {
                row.style(theme.selected())
            } else {
                row
            }
        });
        // Narrow: "in promotion order" goes so a filter and its count fit.
        let legend = if area.width >= 80 {
            "in promotion order · * protected "
        } else {
            "· * protected "
        };
        let mut title = vec![
            Span::styled(" Environments ", theme.title()),
            Span::styled(legend, theme.dim()),
        ];
        // Every environment is loaded: the count is exact.
        let avail = usize::from(area.width.saturating_sub(4)).saturating_sub(title_width(&title));
        title.extend(self.filter.title_spans(shown.len(), false, avail, theme));
        let title = Line::from(title);
        f.render_widget(
            Table::new(rows, widths)
                .header(head)
                .block(Block::default().borders(Borders::ALL).title(title)),
            top,
        );
        self.render_selected(f, bottom, envs, theme, now);
    }

    fn render_selected(
        &self,
        f: &mut Frame,
        area: Rect,
        envs: &[EnvironmentView],
        theme: Theme,
        now: Timestamp,
    ) {
        let Some(e) = self.selected(envs) else {
            let text = format!(
                "No environment matches \"{}\" (name, description, live release or who deployed it).\nPress / to change the filter, Esc to clear it.",
                self.filter.text()
            );
            f.render_widget(
                Paragraph::new(text).wrap(Wrap { trim: false }).block(
                    Block::default()
                        .borders(Borders::ALL)
                        .padding(Padding::horizontal(1)),
                ),
                area,
            );
            return;
        };
        let mut lines = Vec::new();
        if let Some(fr) = &e.governance.frozen {
            lines.extend(crate::text::labeled(
                Span::raw(""),
                &format!(
                    "{}. Deploys are refused; rollback works ({}).",
                    crate::gov::freeze_banner(fr, now),
                    match fr.scope {
                        rel_domain::governance::FreezeScope::All => "U ends the stopped line",
                        rel_domain::governance::FreezeScope::Window => "the window ends by itself",
                        rel_domain::governance::FreezeScope::Env => "u unfreezes",
                    }
                ),
                theme.bad().add_modifier(ratatui::style::Modifier::BOLD),
                area.width.saturating_sub(4),
            ));
        }
        let mut facts = vec![];
        if e.env.protected {
            facts.push("protected: deploys need the name typed".to_string());
        }
        if !e.env.requires.is_empty() {
            facts.push(format!("requires {}", e.env.requires.join(", ")));
        }
        let g = &e.governance;
        if g.approvals > 0 {
            facts.push(format!(
                "deploys need {}{}",
                crate::text::count(u64::from(g.approvals), "approval", "approvals"),
                match g.pending_requests {
                    0 => String::new(),
                    n => format!(
                        ", {} (4)",
                        crate::text::count(n, "open request", "open requests")
                    ),
                }
            ));
        }
        if !g.windows.is_empty() {
            facts.push(crate::text::count(
                g.windows.len() as u64,
                "freeze window",
                "freeze windows",
            ));
        }
        if !e.env.description.is_empty() {
            facts.insert(0, e.env.description.clone());
        }
        if !facts.is_empty() {
            lines.push(Line::styled(facts.join(" · "), theme.dim()));
        }
        if !e.held.is_empty() {
            lines.push(Line::from(vec![
                Span::styled("held: ", theme.warn()),
                Span::raw(format!(
                    "{} (rolled back here; redeploying needs an admin's override)",
                    e.held.join(", ")
                )),
            ]));
        }
        if let Some(err) = &self.history_error {
            lines.push(Line::styled(
                format!("cannot load history: {err}"),
                theme.bad(),
            ));
        } else if self.history.is_empty() {
            let t = if self.history_loading {
                "loading history…"
            } else {
                "no deployments yet"
            };
            lines.push(Line::styled(t, theme.dim()));
        }
        for h in &self.history {
            let from = h.previous.as_deref().unwrap_or("nothing");
            let reason = h
                .reason
                .as_deref()
                .map(|r| format!(" \"{r}\""))
                .unwrap_or_default();
            let kind_style = if h.kind == rel_domain::DeploymentKind::Rollback {
                theme.warn()
            } else {
                Style::default()
            };
            let verified = match &h.verification {
                Some(v) if v.passed => Span::styled(" ✓ verified", theme.ok()),
                Some(_) => Span::styled(" ✗ checks failed", theme.bad()),
                None => Span::raw(""),
            };
            lines.push(Line::from(vec![
                Span::raw(format!("#{:<5} ", h.id)),
                Span::styled(format!("{:<8} ", h.kind.as_str()), kind_style),
                Span::raw(format!(
                    "{} ← {from}  {} {} ago{}{reason}",
                    h.release,
                    h.actor,
                    h.at.age(now),
                    if h.forced { " FORCED" } else { "" }
                )),
                verified,
            ]));
        }
        let title = Line::from(vec![Span::styled(
            format!(" History: {} ", e.env.name),
            theme.title(),
        )]);
        f.render_widget(
            Paragraph::new(lines).wrap(Wrap { trim: false }).block(
                Block::default()
                    .borders(Borders::ALL)
                    .title(title)
                    .padding(Padding::horizontal(1)),
            ),
            area,
        );
    }
}
