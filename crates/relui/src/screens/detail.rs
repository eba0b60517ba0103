//! One release in full: notes, digest, snapshot outline, the diff from the previous release
//! and its deployment history (`Request::ReleaseShow`).

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Padding, Paragraph};
use rel_domain::{ReleaseView, Timestamp};
use rel_proto::ReleaseDetail;

use crate::keys::{Move, apply_move};
use crate::text::{diff_lines, diff_summary, outline};
use crate::theme::{Theme, held_in, state_badge};
use rel_domain::EnvironmentView;

#[derive(Debug)]
pub struct DetailScreen {
    pub tag: String,
    pub detail: Option<ReleaseDetail>,
    /// Computed once when the detail arrives (parsing the snapshot is not render work).
    pub outline: Vec<String>,
    pub error: Option<String>,
    pub scroll: usize,
    /// Lines in the body as last drawn (the HELD line wraps with the width), to bound
    /// scrolling.
    body_len: std::cell::Cell<usize>,
}

impl DetailScreen {
    pub fn new(tag: String) -> DetailScreen {
        DetailScreen {
            tag,
            detail: None,
            outline: Vec::new(),
            error: None,
            scroll: 0,
            body_len: std::cell::Cell::new(1),
        }
    }

    pub fn set(&mut self, detail: ReleaseDetail) {
        self.outline = outline(&detail.config_json);
        self.detail = Some(detail);
        self.error = None;
        self.body_len
            .set(self.body(Theme::plain(), Timestamp(0), &[], u16::MAX).len());
    }

    pub fn view(&self) -> Option<&ReleaseView> {
        self.detail.as_ref().map(|d| &d.view)
    }

    /// Scroll by a movement; `page` is the number of visible body lines.
    pub fn scroll(&mut self, m: Move, page: usize) {
        let max = self.body_len.get().saturating_sub(page);
        self.scroll = apply_move(self.scroll.min(max), max + 1, page, m);
    }

    fn body(
        &self,
        theme: Theme,
        now: Timestamp,
        envs: &[EnvironmentView],
        width: u16,
    ) -> Vec<Line<'static>> {
        let Some(d) = &self.detail else {
            let text = match &self.error {
                Some(e) => format!("Cannot load {}: {e}", self.tag),
                None => format!("Loading {}…", self.tag),
            };
            return vec![Line::raw(text)];
        };
        let r = &d.view.release;
        let label = |s: &str| Span::styled(format!("{s:<9}"), theme.dim());
        let held = held_in(envs, &r.tag);
        // As in the list: rolled back out and live nowhere reads HELD, not SUPERSEDED.
        let badge = if d.view.state == rel_domain::ReleaseState::Superseded && !held.is_empty() {
            Span::styled(crate::theme::HELD_BADGE, theme.held())
        } else {
            Span::styled(state_badge(d.view.state), theme.state(d.view.state))
        };
        let mut out = vec![Line::from(vec![
            label("State"),
            badge,
            Span::raw(if d.view.live_in.is_empty() {
                String::new()
            } else {
                format!("  live in {}", d.view.live_in.join(", "))
            }),
        ])];
        // Its own line, wrapped: it is the longest thing said about the state.
        if !held.is_empty() {
            out.extend(crate::text::labeled(
                label("Held"),
                &format!(
                    "HELD in {} (rolled back out; redeploying needs an admin's override)",
                    held.join(", ")
                ),
                theme.held(),
                width,
            ));
        }
        out.extend([
            Line::from(vec![
                label("Digest"),
                Span::raw(format!("{}   seq {}", r.digest, r.seq)),
            ]),
            Line::from(vec![
                label("Created"),
                Span::raw(format!(
                    "{} ({} ago) by {}",
                    r.created_at,
                    r.created_at.age(now),
                    r.created_by
                )),
            ]),
            Line::raw(""),
            Line::styled("Notes", theme.header()),
        ]);
        if r.description.trim().is_empty() {
            out.push(Line::styled("  (no notes)", theme.dim()));
        } else {
            out.extend(r.description.lines().map(|l| Line::raw(format!("  {l}"))));
        }
        out.push(Line::raw(""));
        out.push(Line::styled("Snapshot", theme.header()));
        out.extend(self.outline.iter().map(|l| Line::raw(format!("  {l}"))));
        out.push(Line::raw(""));
        match &d.previous {
            Some(p) => {
                out.push(Line::styled(
                    format!(
                        "Changes since {p} ({})",
                        diff_summary(&d.diff_from_previous)
                    ),
                    theme.header(),
                ));
                out.extend(diff_lines(&d.diff_from_previous, theme));
            }
            None => out.push(Line::styled(
                "Changes: the first release, nothing to compare with",
                theme.header(),
            )),
        }
        out.push(Line::raw(""));
        out.push(Line::styled(
            format!("Deployments ({})", d.history.len()),
            theme.header(),
        ));
        if d.history.is_empty() {
            out.push(Line::styled("  never deployed", theme.dim()));
        }
        for h in &d.history {
            let from = h.previous.as_deref().unwrap_or("nothing");
            let reason = h
                .reason
                .as_deref()
                .map(|r| format!("  \"{r}\""))
                .unwrap_or_default();
            out.push(Line::raw(format!(
                "  #{:<5} {:<8} {:<12} (was {from})  {} {} ago{}{reason}",
                h.id,
                h.kind.as_str(),
                h.env,
                h.actor,
                h.at.age(now),
                if h.forced { " FORCED" } else { "" },
            )));
        }
        out
    }

    pub fn render(
        &self,
        f: &mut Frame,
        area: Rect,
        theme: Theme,
        now: Timestamp,
        envs: &[EnvironmentView],
    ) {
        let body = self.body(theme, now, envs, area.width.saturating_sub(4));
        self.body_len.set(body.len());
        let height = usize::from(area.height.saturating_sub(2)).max(1);
        let max_scroll = body.len().saturating_sub(height);
        let scroll = self.scroll.min(max_scroll);
        let more = if body.len() > scroll + height {
            " ↓ more "
        } else {
            ""
        };
        let title = Line::from(vec![
            Span::styled(format!(" Release {} ", self.tag), theme.title()),
            Span::styled(more, theme.dim()),
        ]);
        let visible: Vec<Line> = body.into_iter().skip(scroll).take(height).collect();
        f.render_widget(
            Paragraph::new(visible).block(
                Block::default()
                    .borders(Borders::ALL)
                    .title(title)
                    .padding(Padding::horizontal(1)),
            ),
            area,
        );
    }
}
