//! The outcome of `Request::Verify`: every check with ✓/✗, its name and message, and the
//! overall PASSED / FAILED, with what to do next. Scrollable when there are many checks.

use crossterm::event::{KeyCode, KeyEvent};
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;
use rel_domain::Timestamp;
use rel_proto::VerifyOutcome;

use super::{Action, frame};
use crate::keys::{Move, movement};
use crate::text::{checks_count, labeled};
use crate::theme::Theme;

/// Names longer than this wrap their message onto the next line instead of pushing it right.
const NAME_COLUMN_MAX: usize = 24;

#[derive(Debug)]
pub struct VerifyDialog {
    pub outcome: VerifyOutcome,
    /// The environment after this one in promotion order, for the "promote next" hint.
    pub next_env: Option<String>,
    pub scroll: usize,
}

impl VerifyDialog {
    pub fn new(outcome: VerifyOutcome, next_env: Option<String>) -> VerifyDialog {
        VerifyDialog {
            outcome,
            next_env,
            scroll: 0,
        }
    }

    pub fn passed(&self) -> bool {
        self.outcome.verification.passed
    }

    pub fn handle_key(&mut self, key: &KeyEvent) -> Action {
        if matches!(key.code, KeyCode::Esc | KeyCode::Enter) {
            return Action::Close;
        }
        // The bound is applied when drawing (it depends on the width); keep the raw value
        // from running away.
        let max = self.outcome.verification.checks.len() * 4 + 10;
        self.scroll = match movement(key) {
            Some(Move::Up) => self.scroll.saturating_sub(1),
            Some(Move::Down) => (self.scroll + 1).min(max),
            Some(Move::PageUp) => self.scroll.saturating_sub(10),
            Some(Move::PageDown) => (self.scroll + 10).min(max),
            Some(Move::Home) => 0,
            Some(Move::End) => max,
            None => self.scroll,
        };
        Action::None
    }

    /// Every line of the body at `width` columns (wrapped here, so the height is exact).
    fn lines(&self, width: u16, theme: Theme, now: Timestamp) -> Vec<Line<'static>> {
        let o = &self.outcome;
        let v = &o.verification;
        let label = |s: &str| Span::styled(format!("  {s:<10}"), theme.dim());
        let mut out = vec![];
        out.extend(labeled(
            label("Release"),
            &format!(
                "{} in {}, deployment #{} ({} by {})",
                o.release,
                o.env,
                o.deployment.id,
                o.deployment.kind.as_str(),
                o.deployment.actor
            ),
            Default::default(),
            width,
        ));
        let (verdict, style) = if v.passed {
            ("✓ PASSED", theme.ok())
        } else {
            ("✗ FAILED", theme.bad())
        };
        out.push(Line::from(vec![
            label("Result"),
            Span::styled(verdict, style),
            Span::raw(format!("  {}", checks_count(v))),
        ]));
        out.push(Line::from(vec![
            label("Verified"),
            Span::raw(format!("by {}, {} ago", v.by, v.at.age(now))),
        ]));
        out.push(Line::raw(""));
        if v.checks.is_empty() {
            out.extend(labeled(
                Span::raw("  "),
                "The release's app config defines no checks, so there was nothing to run: it \
                 counts as verified. Add [[checks]] to app.toml to smoke-test endpoints here.",
                theme.dim(),
                width,
            ));
        }
        let name_w = v
            .checks
            .iter()
            .map(|c| c.name.chars().count())
            .filter(|n| *n <= NAME_COLUMN_MAX)
            .max()
            .unwrap_or(0);
        for c in &v.checks {
            let (mark, style) = if c.passed {
                ("✓", theme.ok())
            } else {
                ("✗", theme.bad())
            };
            let run = c
                .execution_id
                .map(|id| format!(" (run #{id})"))
                .unwrap_or_default();
            let message = format!("{}{run}", c.message);
            let name = c.name.clone();
            if name.chars().count() <= NAME_COLUMN_MAX {
                let head = Span::styled(format!("  {mark} {name:<name_w$}  "), style);
                out.extend(labeled(head, &message, Default::default(), width));
            } else {
                out.push(Line::styled(format!("  {mark} {name}"), style));
                out.extend(labeled(
                    Span::raw("      "),
                    &message,
                    Default::default(),
                    width,
                ));
            }
        }
        out.push(Line::raw(""));
        let next = if v.passed {
            match &self.next_env {
                Some(next) => format!(
                    "{} may go on to {next}: press p on the Environments screen to promote it.",
                    o.release
                ),
                None => format!("{} passed its checks in {}.", o.release, o.env),
            }
        } else {
            format!(
                "Look at the failed runs on the Logs screen (3). Fix the app config and ship a \
                 new release, or press r to roll {} back.",
                o.env
            )
        };
        out.extend(labeled(
            label("Next"),
            &next,
            if v.passed { theme.ok() } else { theme.warn() },
            width,
        ));
        out
    }

    pub fn render(&self, f: &mut Frame, area: Rect, theme: Theme, now: Timestamp) {
        // The width `centered` will grant, so the lines wrap to exactly what is drawn.
        let width = crate::layout::centered(area, 90, 1).width;
        let lines = self.lines(width.saturating_sub(2), theme, now);
        // Body, a blank row, the key hint, the border.
        let want = u16::try_from(lines.len())
            .unwrap_or(u16::MAX)
            .saturating_add(4);
        let rect = crate::layout::centered(area, width, want);
        let verdict = if self.passed() { "PASSED" } else { "FAILED" };
        let inner = frame(
            f,
            rect,
            &format!("Verify {}: {verdict}", self.outcome.env),
            theme,
        );
        let body_h = inner.height.saturating_sub(2);
        let max = lines.len().saturating_sub(usize::from(body_h));
        let scroll = self.scroll.min(max);
        let body = Rect {
            height: body_h,
            ..inner
        };
        f.render_widget(
            Paragraph::new(lines).scroll((u16::try_from(scroll).unwrap_or(u16::MAX), 0)),
            body,
        );
        let more = if max > 0 { "↑↓ scroll · " } else { "" };
        let hint = Rect {
            y: inner.y + inner.height.saturating_sub(1),
            height: 1.min(inner.height),
            ..inner
        };
        f.render_widget(
            Paragraph::new(Line::styled(
                format!("  {more}Enter/Esc closes · each check's run is on the Logs screen (3)"),
                theme.dim(),
            )),
            hint,
        );
    }
}
