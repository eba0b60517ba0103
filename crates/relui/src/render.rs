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

impl App {
    pub fn render(&self, f: &mut Frame) {
        let area = f.area();
        let c = chrome(area, self.message_rows());
        self.render_tabs(f, c.tabs);
        match self.screen {
            Screen::Releases => match &self.detail {
                Some(d) => d.render(f, c.main, self.theme, self.now),
                None => self.releases.render(
                    f,
                    c.main,
                    self.theme,
                    self.now,
                    self.data.release_total,
                    self.offline_text().as_deref(),
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
        }
        self.render_message(f, c.message);
        self.render_status(f, c.status);
        self.render_footer(f, c.footer);
        let d_area = dialog_area(c.main);
        match &self.dialog {
            Some(Dialog::Create(d)) => d.render(f, d_area, self.theme),
            Some(Dialog::Actions(m)) => m.render(f, c.main, self.theme),
            Some(Dialog::Deploy(d)) => d.render(f, d_area, self.theme),
            Some(Dialog::Rollback(d)) => d.render(f, d_area, self.theme),
            Some(Dialog::Diff(d)) => d.render(f, d_area, self.theme),
            Some(Dialog::Verify(d)) => d.render(f, d_area, self.theme, self.now),
            None => {}
        }
        if self.help {
            dialogs::help::render(f, area, self.theme);
        }
        if let Some(e) = &self.error {
            e.render(f, area, self.theme);
        }
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
        let left = Line::from(vec![
            Span::styled(" rel ", t.title()),
            Span::raw("│"),
            tab("1", "Releases", Screen::Releases),
            Span::raw("│"),
            tab("2", "Environments", Screen::Environments),
            Span::raw("│"),
            tab("3", "Logs", Screen::Logs),
            Span::raw("│"),
        ]);
        f.render_widget(Paragraph::new(left), area);
        let right = Line::from(vec![Span::styled("? help ", t.dim())]).right_aligned();
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

    fn render_status(&self, f: &mut Frame, area: Rect) {
        let t = self.theme;
        let (conn, style) = match &self.conn {
            Conn::Connecting => (format!(" … connecting to {} ", self.socket), t.status_bar()),
            Conn::Starting { .. } => (" … starting releasd ".to_string(), t.status_bar()),
            Conn::Connected(w) if area.width >= 110 => (
                format!(" ● releasd {} (pid {}) ", w.daemon_version, w.pid),
                t.status_bar(),
            ),
            Conn::Connected(w) if self.started.is_some() => (
                format!(" ● connected (relui started it, pid {}) ", w.pid),
                t.status_bar(),
            ),
            Conn::Connected(_) => (" ● connected ".to_string(), t.status_bar()),
            Conn::Denied { .. } => (" ✗ PERMISSION DENIED ".to_string(), t.disconnected()),
            Conn::Disconnected { retry_in_ms, .. } => (
                format!(
                    " ✗ DISCONNECTED, retry in {:.1}s ",
                    *retry_in_ms as f64 / 1000.0
                ),
                t.disconnected(),
            ),
        };
        let verifying = if self.verifying.is_empty() {
            String::new()
        } else {
            format!("│ ⟳ verifying {}… ", self.verifying.join(", "))
        };
        let user_long = match &self.data.caller {
            Some(c) => format!("│ {} ({}) ", c.actor.name, c.role.as_str()),
            // Who we are is known once connected; until then the status says why not.
            None => String::new(),
        };
        let width = |s: &str| s.chars().count();
        let (user, last) = match &self.last_event {
            Some((text, at)) => {
                let age = at.age(self.now);
                let fixed = width(&conn) + width(&verifying) + 1;
                let long_head = format!("│ {age} ago: ");
                if fixed + width(&user_long) + width(&long_head) + width(text)
                    <= usize::from(area.width)
                {
                    (user_long, format!("{long_head}{text} "))
                } else {
                    // Narrow: the role and "ago" go first, then the event is abbreviated at a
                    // word (details in parentheses first), never cut mid-word.
                    let user = match &self.data.caller {
                        Some(c) => format!("│ {} ", c.actor.name),
                        None => String::new(),
                    };
                    let head = format!("│ {age}: ");
                    let room = usize::from(area.width)
                        .saturating_sub(fixed + width(&user) + width(&head))
                        .max(8);
                    (
                        user,
                        format!("{head}{} ", crate::text::fit_words(text, room)),
                    )
                }
            }
            None => (user_long, "│ no events yet ".to_string()),
        };
        let line = Line::from(vec![
            Span::styled(conn, style),
            Span::styled(user, t.status_bar()),
            Span::styled(verifying, t.status_bar().add_modifier(Modifier::BOLD)),
            Span::styled(last, t.status_bar()),
        ]);
        f.render_widget(Paragraph::new(line).style(t.status_bar()), area);
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
                _ => FooterContext::Dialog,
            }
        } else {
            match self.screen {
                Screen::Releases if self.detail.is_some() => FooterContext::Detail,
                Screen::Releases if self.releases.filter_editing => FooterContext::Filter,
                Screen::Releases => FooterContext::Releases,
                Screen::Environments => FooterContext::Environments,
                Screen::Logs if self.logs.detail.is_some() => FooterContext::LogDetail,
                Screen::Logs => FooterContext::Logs,
            }
        }
    }

    fn render_footer(&self, f: &mut Frame, area: Rect) {
        let t = self.theme;
        let mut spans = vec![Span::raw(" ")];
        for (k, what) in footer(self.footer_context()) {
            spans.push(Span::styled(*k, t.key()));
            spans.push(Span::raw(format!(" {what}  ")));
        }
        f.render_widget(Paragraph::new(Line::from(spans)), area);
    }
}
