//! Drawing the whole UI from `&App`: tab bar, the current screen, message line, status bar,
//! footer hints, then dialogs and overlays on top. Reads only.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::Modifier;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use crate::app::{App, Conn};
use crate::dialogs::{self, Dialog};
use crate::keys::{FooterContext, footer};
use crate::layout::{chrome, dialog_area};
use crate::screens::Screen;

/// The smallest terminal relui lays out; below it, a "terminal too small" screen.
pub const MIN_WIDTH: u16 = 60;
pub const MIN_HEIGHT: u16 = 20;

/// The status bar's fields, each with the form it takes when the line is short of room.
struct StatusFields {
    conn_long: String,
    conn_short: String,
    conn_style: ratatui::style::Style,
    user_long: String,
    user_short: String,
    /// Running work (verification spinner), never shortened.
    work: String,
    /// The last change: `│ 5m ago: ` and what happened.
    last: Option<(String, String)>,
}

/// The footer hints that fit in `width` columns: drop from the middle so the first (how to
/// move) and the last ones (`? help`, `q quit`) always stay.
pub fn fit_hints(
    hints: &[(&'static str, &'static str)],
    width: usize,
) -> Vec<(&'static str, &'static str)> {
    let cost = |h: &[(&str, &str)]| -> usize {
        1 + h
            .iter()
            .map(|(k, w)| k.chars().count() + w.chars().count() + 3)
            .sum::<usize>()
    };
    let mut v = hints.to_vec();
    // The last two are the ones to keep (help and quit) when there are more than three.
    while cost(&v) > width && v.len() > 3 {
        v.remove(v.len() - 3);
    }
    v
}

impl App {
    pub fn render(&self, f: &mut Frame) {
        self.render_unicode(f);
        if self.theme.ascii {
            crate::ascii::asciify(f.buffer_mut());
        }
    }

    fn render_unicode(&self, f: &mut Frame) {
        let area = f.area();
        if area.width < MIN_WIDTH || area.height < MIN_HEIGHT {
            self.render_too_small(f, area);
            return;
        }
        let c = chrome(area, self.message_rows());
        self.render_tabs(f, c.tabs);
        match self.screen {
            Screen::Releases => match &self.detail {
                Some(d) => d.render(f, c.main, self.theme, self.now, &self.data.envs),
                None => self.releases.render(
                    f,
                    c.main,
                    self.theme,
                    self.now,
                    self.data.release_total,
                    self.offline_text().as_deref(),
                    &self.data.envs,
                ),
            },
            Screen::Environments => self.envs.render(
                f,
                c.main,
                &self.data,
                &self.verifying,
                self.theme,
                self.now,
                self.offline_text().as_deref(),
            ),
            Screen::Logs => self.logs.render(f, c.main, self.theme, self.now),
            Screen::Requests => self.requests.render(f, c.main, self.theme, self.now),
        }
        self.render_message(f, c.message);
        self.render_status(f, c.status);
        self.render_footer(f, c.footer);
        let d_area = dialog_area(c.main);
        match &self.dialog {
            Some(Dialog::Create(d)) => d.render(f, d_area, self.theme),
            Some(Dialog::Actions(m)) => m.render(f, c.main, self.theme),
            Some(Dialog::Deploy(d)) => d.render(f, d_area, self.theme, self.now),
            Some(Dialog::Rollback(d)) => d.render(f, d_area, self.theme),
            Some(Dialog::Diff(d)) => d.render(f, d_area, self.theme),
            Some(Dialog::Verify(d)) => d.render(f, d_area, self.theme, self.now),
            Some(Dialog::Gov(d)) => d.render(f, c.main, self.theme),
            None => {}
        }
        if self.help {
            dialogs::help::render(f, area, self.theme, self.help_scroll);
        }
        if let Some(e) = &self.error {
            e.render(f, area, self.theme);
        }
    }

    /// Below 60×20 nothing fits honestly: say so (q still quits, resizing brings it back).
    fn render_too_small(&self, f: &mut Frame, area: Rect) {
        let w = usize::from(area.width.max(1));
        let text = format!(
            "Terminal too small: {}x{}. relui needs at least {MIN_WIDTH}x{MIN_HEIGHT}. Enlarge the window, or press q to quit.",
            area.width, area.height
        );
        let lines: Vec<Line> = crate::text::wrap_words(&text, w)
            .into_iter()
            .map(Line::raw)
            .collect();
        f.render_widget(Paragraph::new(lines).style(self.theme.warn()), area);
    }

    fn render_tabs(&self, f: &mut Frame, area: Rect) {
        let t = self.theme;
        let tab = |n: &str, name: &str, s: Screen| {
            let style = if self.screen == s {
                t.tab_active()
            } else {
                Default::default()
            };
            Span::styled(format!(" {n} {name} "), style)
        };
        // Open requests are counted in the tab; narrow terminals get the short name only.
        let pending = crate::gov::pending_total(&self.data.envs);
        let requests_tab = match (area.width >= 80, pending) {
            (false, _) => "Req".to_string(),
            (true, 0) => "Requests".to_string(),
            (true, n) => format!("Requests ({n})"),
        };
        let left = Line::from(vec![
            Span::styled(" rel ", t.title()),
            Span::raw("│"),
            tab("1", "Releases", Screen::Releases),
            Span::raw("│"),
            tab("2", "Environments", Screen::Environments),
            Span::raw("│"),
            tab("3", "Logs", Screen::Logs),
            Span::raw("│"),
            tab("4", &requests_tab, Screen::Requests),
            Span::raw("│"),
        ]);
        let left_w = left.width();
        f.render_widget(Paragraph::new(left), area);
        // A stopped line is said on every screen, in the longest form that fits.
        let avail = usize::from(area.width).saturating_sub(left_w);
        let right = if crate::gov::line_stop(&self.data.envs).is_some() {
            let mark = [" LINE STOPPED ", " STOPPED ", " STOP "]
                .into_iter()
                .find(|m| m.len() <= avail)
                .unwrap_or("");
            let mut spans = vec![Span::styled(mark, t.disconnected())];
            if mark.len() + 8 <= avail {
                spans.push(Span::styled(" ? help ", t.dim()));
            }
            Line::from(spans)
        } else {
            Line::from(vec![Span::styled("? help ", t.dim())])
        }
        .right_aligned();
        f.render_widget(Paragraph::new(right), area);
    }

    fn render_message(&self, f: &mut Frame, area: Rect) {
        let t = self.theme;
        let Some((text, bad)) = self.message_text() else {
            return;
        };
        let style = if bad { t.bad() } else { Default::default() };
        let width = usize::from(area.width.saturating_sub(2)).max(10);
        let lines: Vec<Line> = crate::text::wrap_words(&text, width)
            .into_iter()
            .map(|l| Line::styled(format!(" {l}"), style))
            .collect();
        f.render_widget(Paragraph::new(lines), area);
    }

    /// One format at every width: connection, user, running work, last change, in that
    /// order. When the last change does not fit, the line is shortened in a fixed order:
    /// the change's details in parentheses go, then the daemon's version and pid, then the
    /// role; then the change is cut at a word, and left
    /// out when fewer than 12 columns remain.
    fn render_status(&self, f: &mut Frame, area: Rect) {
        let t = self.theme;
        let fields = self.status_fields();
        let width = usize::from(area.width);
        let w = |s: &str| crate::text::width(s);
        let mut conn = fields.conn_long.clone();
        let mut user = fields.user_long.clone();
        let mut last = fields.last.clone();
        let used = |conn: &str, user: &str| w(conn) + w(user) + w(&fields.work);
        // Room for the last change's text at the current shortening step.
        let room = |conn: &str, user: &str| {
            let h = fields.last.as_ref().map_or(0, |(head, _)| w(head) + 1);
            width.saturating_sub(used(conn, user) + h)
        };
        const MIN_TEXT: usize = 12;
        // The change without its details in parentheses (they go first, see `fit_words`).
        let need = fields
            .last
            .as_ref()
            .map_or(0, |(_, text)| w(crate::text::without_details(text)));
        if room(&conn, &user) < need {
            conn = fields.conn_short.clone();
        }
        if room(&conn, &user) < need {
            user = fields.user_short.clone();
        }
        if room(&conn, &user) < MIN_TEXT {
            last = None;
        }
        let last = match last {
            Some((head, text)) => format!(
                "{head}{} ",
                crate::text::fit_words(&text, room(&conn, &user))
            ),
            None => String::new(),
        };
        let line = Line::from(vec![
            Span::styled(conn, fields.conn_style),
            Span::styled(user, t.status_bar()),
            Span::styled(fields.work, t.status_bar().add_modifier(Modifier::BOLD)),
            Span::styled(last, t.status_bar()),
        ]);
        f.render_widget(Paragraph::new(line).style(t.status_bar()), area);
    }

    fn status_fields(&self) -> StatusFields {
        let t = self.theme;
        let (conn_long, conn_short, conn_style) = match &self.conn {
            Conn::Connecting => {
                let s = format!(" … connecting to {} ", self.socket);
                (s.clone(), s, t.status_bar())
            }
            Conn::Starting { .. } => {
                let s = " … starting releasd ".to_string();
                (s.clone(), s, t.status_bar())
            }
            Conn::Connected(w) => {
                let (ours, ours_short) = if self.daemon_is_ours() {
                    (", started by relui", " (started by relui)")
                } else {
                    ("", "")
                };
                (
                    format!(
                        " ● connected to releasd {} (pid {}{ours}) ",
                        w.daemon_version, w.pid
                    ),
                    format!(" ● connected{ours_short} "),
                    t.status_bar(),
                )
            }
            Conn::Denied { .. } => {
                let s = " ✗ PERMISSION DENIED ".to_string();
                (s.clone(), s, t.disconnected())
            }
            Conn::Disconnected { retry_in_ms, .. } => {
                let s = format!(
                    " ✗ DISCONNECTED, retry in {:.1}s ",
                    *retry_in_ms as f64 / 1000.0
                );
                (s.clone(), s, t.disconnected())
            }
        };
        let work = if self.verifying.is_empty() {
            String::new()
        } else {
            // A spinner that moves with the clock, the elapsed time and what is running.
            const FRAMES: [&str; 10] = ["⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏"];
            let secs = self
                .verifying_since
                .map(|t| self.now.0.saturating_sub(t.0).max(0) / 1000)
                .unwrap_or(0);
            let frame = FRAMES[usize::try_from(secs).unwrap_or(0) % FRAMES.len()];
            format!(
                "│ {frame} verifying {}: running the checks, {secs} s ",
                self.verifying.join(", ")
            )
        };
        // Who we are is known once connected; until then the connection field says why not.
        let (user_long, user_short) = match &self.data.caller {
            Some(c) => (
                format!("│ {} ({}) ", c.actor.name, c.role.as_str()),
                format!("│ {} ", c.actor.name),
            ),
            None => (String::new(), String::new()),
        };
        let last = match &self.last_event {
            Some((text, at)) => Some((format!("│ {} ago: ", at.age(self.now)), text.clone())),
            // Nothing happened since relui started: the newest change it knows of instead
            // of "no events yet" on a store with history.
            None => self.last_change(),
        };
        StatusFields {
            conn_long,
            conn_short,
            conn_style,
            user_long,
            user_short,
            work,
            last,
        }
    }

    /// The newest deployment the environments show (age, `v1.2.0 live in staging (alice)`),
    /// or "nothing deployed yet" on a store without one.
    fn last_change(&self) -> Option<(String, String)> {
        let newest = self
            .data
            .envs
            .iter()
            .filter_map(|e| Some((e.since?, e.live.as_deref()?, e)))
            .max_by_key(|(since, _, _)| since.0);
        match newest {
            Some((since, live, e)) => Some((
                format!("│ {} ago: ", since.age(self.now)),
                format!(
                    "{live} live in {}{}",
                    e.env.name,
                    e.by.as_deref()
                        .map(|b| format!(" ({b})"))
                        .unwrap_or_default()
                ),
            )),
            None if self.data.envs_loaded => {
                Some(("│ ".to_string(), "nothing deployed yet".to_string()))
            }
            None => None,
        }
    }

    pub fn footer_context(&self) -> FooterContext {
        if self.error.is_some() {
            FooterContext::Modal
        } else if self.help {
            FooterContext::Help
        } else if let Some(d) = &self.dialog {
            match d {
                Dialog::Actions(_) => FooterContext::Menu,
                Dialog::Diff(_) => FooterContext::Modal,
                Dialog::Verify(_) => FooterContext::VerifyResult,
                Dialog::Rollback(r) if r.refused() => FooterContext::Info,
                _ => FooterContext::Dialog,
            }
        } else {
            match self.screen {
                Screen::Releases if self.detail.is_some() => FooterContext::Detail,
                Screen::Releases if self.releases.filter.editing => FooterContext::Filter,
                Screen::Releases => FooterContext::Releases,
                Screen::Environments if self.envs.filter.editing => FooterContext::Filter,
                Screen::Environments => FooterContext::Environments,
                Screen::Logs if self.logs.detail.is_some() => FooterContext::LogDetail,
                Screen::Logs if self.logs.filter.editing => FooterContext::Filter,
                Screen::Requests if self.requests.filter.editing => FooterContext::Filter,
                Screen::Requests => FooterContext::Requests,
                Screen::Logs => FooterContext::Logs,
            }
        }
    }

    fn render_footer(&self, f: &mut Frame, area: Rect) {
        let t = self.theme;
        if let Some(input) = &self.palette {
            let hint = format!("  {}", self.palette_hint());
            let room = usize::from(area.width).saturating_sub(crate::text::width(&hint) + 2);
            let mut spans = vec![Span::styled(":", t.key())];
            spans.extend(input.line(true, room.clamp(10, 40), t).spans);
            spans.push(Span::styled(hint, t.dim()));
            f.render_widget(Paragraph::new(Line::from(spans)), area);
            return;
        }
        let hints = fit_hints(footer(self.footer_context()), usize::from(area.width));
        let mut spans = vec![Span::raw(" ")];
        for (k, what) in hints {
            spans.push(Span::styled(k, t.key()));
            spans.push(Span::raw(format!(" {what}  ")));
        }
        f.render_widget(Paragraph::new(Line::from(spans)), area);
    }
}
