//! The release list: paged from the daemon (newest first), rendered virtually (only the
//! visible rows become widgets), filtered on the daemon side.

use ratatui::Frame;
use ratatui::layout::{Constraint, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Cell, Padding, Paragraph, Row, Table, Wrap};
use rel_domain::{Deployment, ReleaseQuery, ReleaseState, ReleaseView, Timestamp};
use rel_proto::Request;

use crate::keys::{Move, apply_move, scroll_to};
use crate::msg::{Command, Purpose};
use crate::text::{first_line, live_and_held_text, thousands};
use crate::theme::{HELD_BADGE, Theme, held_in, state_badge};
use crate::widgets::columns::{column_widths, fit, header};
use crate::widgets::{ListFilter, title_width};

/// Rows per request. The daemon answers a page in well under 10 ms at 100k releases.
pub const PAGE: usize = 200;
/// Fetch the next page when the selection comes this close to the end of what is loaded.
pub const PREFETCH: usize = 50;
/// A full reload (reconnect, lagged events) asks for at most this many rows at once.
pub const RELOAD_MAX: usize = 2_000;

#[derive(Debug, Default)]
pub struct ReleasesScreen {
    /// Loaded rows, newest first: the pages fetched so far, never the whole history.
    pub rows: Vec<ReleaseView>,
    pub selected: usize,
    pub offset: usize,
    /// The daemon has no rows older than the last loaded one.
    pub exhausted: bool,
    pub loaded: bool,
    /// Generation of the request whose answer is awaited (stale answers are dropped).
    pending: Option<(u64, bool)>,
    /// Applied by the daemon (tag, author, notes): a change asks again.
    pub filter: ListFilter,
    /// The filter the loaded rows were fetched with.
    active_filter: String,
}

impl ReleasesScreen {
    pub fn selected(&self) -> Option<&ReleaseView> {
        self.rows.get(self.selected)
    }

    pub fn selected_tag(&self) -> Option<String> {
        self.selected().map(|r| r.release.tag.clone())
    }

    pub fn loading(&self) -> bool {
        self.pending.is_some()
    }

    pub fn filter_active(&self) -> bool {
        !self.active_filter.is_empty()
    }

    pub fn active_filter(&self) -> &str {
        &self.active_filter
    }

    fn request(
        &mut self,
        generation: u64,
        before_seq: Option<u64>,
        limit: usize,
        append: bool,
    ) -> Command {
        self.pending = Some((generation, append));
        let filter = self.filter.text().to_string();
        self.active_filter = filter.clone();
        Command::call(
            Purpose::Releases { generation, append },
            Request::ReleaseList(ReleaseQuery {
                state: None,
                filter: (!filter.is_empty()).then_some(filter),
                before_seq,
                limit,
            }),
        )
    }

    /// Load from the top again, as many rows as are loaded now (bounded), keeping the
    /// selection by tag when the answer arrives.
    pub fn reload(&mut self, generation: u64) -> Command {
        let limit = self.rows.len().clamp(PAGE, RELOAD_MAX);
        self.request(generation, None, limit, false)
    }

    /// The next page, if the selection is near the end of what is loaded.
    pub fn maybe_prefetch(&mut self, generation: u64) -> Option<Command> {
        if self.exhausted || self.pending.is_some() || !self.loaded {
            return None;
        }
        if self.selected + PREFETCH < self.rows.len() {
            return None;
        }
        let before = self.rows.last().map(|r| r.release.seq)?;
        Some(self.request(generation, Some(before), PAGE, true))
    }

    /// An answer to a list request. Returns false when it was stale and ignored.
    pub fn on_page(
        &mut self,
        generation: u64,
        append: bool,
        page: Vec<ReleaseView>,
        rows_visible: usize,
    ) -> bool {
        if self.pending != Some((generation, append)) {
            return false;
        }
        self.pending = None;
        self.loaded = true;
        // The daemon cuts a page at its byte budget (--page-bytes) as well as at the count,
        // so a short page is not the end: only an empty one is. The next page follows the
        // last row's cursor, as relctl's paging does.
        self.exhausted = page.is_empty();
        if append {
            let last = self.rows.last().map(|r| r.release.seq).unwrap_or(u64::MAX);
            self.rows
                .extend(page.into_iter().filter(|r| r.release.seq < last));
        } else {
            let keep = self.selected_tag();
            self.rows = page;
            self.selected = keep
                .and_then(|t| self.rows.iter().position(|r| r.release.tag == t))
                .unwrap_or(self.selected)
                .min(self.rows.len().saturating_sub(1));
        }
        self.offset = self.place(self.offset.min(self.selected), rows_visible);
        true
    }

    /// The list request failed; allow retrying.
    pub fn on_error(&mut self, generation: u64) {
        if self.pending.is_some_and(|(g, _)| g == generation) {
            self.pending = None;
        }
    }

    /// The first visible row for `offset`: the selection in view, and no empty space below
    /// the last row while earlier rows are hidden.
    fn place(&self, offset: usize, rows_visible: usize) -> usize {
        let offset = scroll_to(offset, self.selected, rows_visible);
        offset.min(self.rows.len().saturating_sub(rows_visible.max(1)))
    }

    pub fn move_selection(&mut self, m: Move, rows_visible: usize) {
        self.selected = apply_move(self.selected, self.rows.len(), rows_visible, m);
        self.offset = self.place(self.offset, rows_visible);
    }

    pub fn fix_scroll(&mut self, rows_visible: usize) {
        self.selected = self.selected.min(self.rows.len().saturating_sub(1));
        self.offset = self.place(self.offset.min(self.selected), rows_visible);
    }

    pub fn select_tag(&mut self, tag: &str, rows_visible: usize) {
        if let Some(i) = self.rows.iter().position(|r| r.release.tag == tag) {
            self.selected = i;
            self.offset = self.place(self.offset, rows_visible);
        }
    }

    /// A release was created by anyone: show it at the top without reloading (unless a
    /// filter is active: then the daemon decides whether it matches).
    pub fn insert_created(&mut self, view: ReleaseView, rows_visible: usize) -> bool {
        if self.filter_active() || !self.loaded {
            return false;
        }
        if self.rows.iter().any(|r| r.release.seq == view.release.seq) {
            return true;
        }
        let top = self.rows.first().map(|r| r.release.seq).unwrap_or(0);
        if view.release.seq < top {
            return false;
        }
        let had_rows = !self.rows.is_empty();
        self.rows.insert(0, view);
        if had_rows {
            // Keep the same release selected; a view scrolled down stays put, a view at the
            // top shows the new release.
            self.selected += 1;
            if self.offset > 0 {
                self.offset += 1;
            }
        }
        self.fix_scroll(rows_visible);
        true
    }

    /// A deploy or rollback changed what serves `d.env`: patch the two releases involved in
    /// place (O(1) in history). `order` is the promotion order of environment names.
    pub fn apply_deployment(&mut self, d: &Deployment, order: &[String]) {
        let rank = |e: &String| order.iter().position(|o| o == e).unwrap_or(usize::MAX);
        for row in &mut self.rows {
            let tag = &row.release.tag;
            if *tag == d.release {
                if !row.live_in.contains(&d.env) {
                    row.live_in.push(d.env.clone());
                    row.live_in.sort_by_key(rank);
                }
                row.state = ReleaseState::Deployed;
            } else if d.previous.as_deref() == Some(tag.as_str()) {
                row.live_in.retain(|e| e != &d.env);
                if row.live_in.is_empty() {
                    row.state = ReleaseState::Superseded;
                }
            }
        }
    }

    #[allow(clippy::too_many_arguments)] // render stays a pure function of what it shows
    pub fn render(
        &self,
        f: &mut Frame,
        area: Rect,
        theme: Theme,
        now: Timestamp,
        total: Option<u64>,
        offline: Option<&str>,
        envs: &[rel_domain::EnvironmentView],
    ) {
        let mut title = vec![Span::styled(" Releases ", theme.title())];
        if let (Some(t), false) = (total, self.filter_active()) {
            title.push(Span::styled(format!("{} ", thousands(t)), theme.dim()));
        }
        // Rows the daemon has not sent yet may match too until it says the list ended.
        let avail = usize::from(area.width.saturating_sub(4)).saturating_sub(title_width(&title));
        title.extend(
            self.filter
                .title_spans(self.rows.len(), !self.exhausted, avail, theme),
        );
        if self.loading() {
            title.push(Span::styled("· loading… ", theme.dim()));
        }
        let block = Block::default()
            .borders(Borders::ALL)
            .title(Line::from(title));
        if self.rows.is_empty() {
            let text = if let (false, Some(o)) = (self.loaded, offline) {
                // No daemon: say so and how to get one, not "Loading…" forever.
                o.to_string()
            } else if !self.loaded {
                "Loading releases…".to_string()
            } else if self.filter_active() {
                format!(
                    "No release matches \"{}\" (tag, author or notes).\nPress / to change the filter, Esc to clear it.",
                    self.active_filter
                )
            } else {
                "No releases yet.\n\nA release freezes the draft app config under a tag.\nPress n to create the first one."
                    .to_string()
            };
            f.render_widget(
                Paragraph::new(text)
                    .block(block.padding(Padding::new(2, 2, 1, 0)))
                    .wrap(Wrap { trim: false }),
                area,
            );
            return;
        }
        let inner_h = usize::from(area.height.saturating_sub(3)).max(1);
        let wide = area.width >= 110;
        let narrow = area.width < 80;
        // LIVE IN holds "staging; HELD in production" on wide terminals and the HELD mark
        // at least from 60 columns up.
        let widths = if wide {
            [
                Constraint::Length(1),
                Constraint::Length(20),
                Constraint::Length(10),
                Constraint::Length(28),
                Constraint::Length(4),
                Constraint::Length(12),
                Constraint::Min(10),
            ]
        } else if narrow {
            [
                Constraint::Length(1),
                Constraint::Length(10),
                Constraint::Length(10),
                Constraint::Length(20),
                Constraint::Length(4),
                Constraint::Min(7),
                // No room for notes below 80 columns (Enter shows them).
                Constraint::Length(0),
            ]
        } else {
            [
                Constraint::Length(1),
                Constraint::Length(14),
                Constraint::Length(10),
                // "HELD in production" whole; the notes keep 15 columns.
                Constraint::Length(19),
                Constraint::Length(4),
                Constraint::Length(9),
                Constraint::Min(6),
            ]
        };
        let cw = column_widths(area.width.saturating_sub(2), &widths);
        let col = |i: usize| cw.get(i).copied().unwrap_or(0);
        let live_w = col(3);
        let columns = if narrow { 6 } else { 7 };
        let header = Row::new(
            [
                String::new(),
                header("TAG", "TAG", col(1)),
                header("STATE", "STATE", col(2)),
                header("LIVE IN", "LIVE", col(3)),
                header("AGE", "AGE", col(4)),
                header("AUTHOR", "BY", col(5)),
                header("NOTES", "NOTES", col(6)),
            ]
            .into_iter()
            .take(columns),
        )
        .style(theme.header());
        // Normally `offset` already keeps the selection visible; this only matters for the
        // frame in which the available height just changed.
        let offset = self.place(self.offset, inner_h);
        let end = (offset + inner_h).min(self.rows.len());
        let rows = self.rows[offset.min(end)..end]
            .iter()
            .enumerate()
            .map(|(i, r)| {
                let idx = offset + i;
                let sel = idx == self.selected;
                let held = held_in(envs, &r.release.tag);
                // Live somewhere and held elsewhere says both (DEPLOYED alone hid the hold).
                let live = live_and_held_text(&r.live_in, &held, live_w);
                let badge = if r.state == rel_domain::ReleaseState::Superseded && !held.is_empty() {
                    Span::styled(HELD_BADGE, theme.held())
                } else {
                    Span::styled(state_badge(r.state), theme.state(r.state))
                };
                let row = Row::new(
                    [
                        Cell::from(if sel { "▶" } else { " " }),
                        Cell::from(fit(&r.release.tag, col(1))),
                        Cell::from(badge),
                        Cell::from(live),
                        Cell::from(r.release.created_at.age(now)),
                        Cell::from(fit(&r.release.created_by, col(5))),
                        Cell::from(fit(first_line(&r.release.description), col(6))),
                    ]
                    .into_iter()
                    .take(columns),
                );
                if sel {
                    row.style(theme.selected())
                } else {
                    row
                }
            });
        let table = Table::new(rows, widths.into_iter().take(columns))
            .header(header)
            .block(block)
            .column_spacing(1);
        f.render_widget(table, area);
    }
}
