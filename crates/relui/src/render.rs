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
            // Nothing happened since relui started: the newest change it knows of instead
            // of "no events yet" on a store with history.
            None => (user_long, self.last_change_text()),
        };
        let line = Line::from(vec![
            Span::styled(conn, style),
            Span::styled(user, t.status_bar()),
            Span::styled(verifying, t.status_bar().add_modifier(Modifier::BOLD)),
            Span::styled(last, t.status_bar()),
        ]);
        f.render_widget(Paragraph::new(line).style(t.status_bar()), area);
    }

    /// `│ 5m ago: v1.2.0 live in staging (alice) `, from the environments; or nothing yet.
    fn last_change_text(&self) -> String {
        let newest = self
            .data
            .envs
            .iter()
            .filter_map(|e| Some((e.since?, e.live.as_deref()?, e)))
            .max_by_key(|(since, _, _)| since.0);
        match newest {
            Some((since, live, e)) => format!(
                "│ {} ago: {live} live in {}{} ",
                since.age(self.now),
                e.env.name,
                e.by.as_deref()
                    .map(|b| format!(" ({b})"))
                    .unwrap_or_default()
            ),
            None if self.data.envs_loaded => "│ nothing deployed yet ".to_string(),
            None => String::new(),
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
        let hints = fit_hints(footer(self.footer_context()), usize::from(area.width));
        let mut spans = vec![Span::raw(" ")];
        for (k, what) in hints {
            spans.push(Span::styled(k, t.key()));
            spans.push(Span::raw(format!(" {what}  ")));
        }
        f.render_widget(Paragraph::new(Line::from(spans)), area);
    }
}
