//! Change requests (`4`, issue 11): deploys waiting for approvals or for their time, newest
//! first. `a` approves the selected one, `x` rejects it with a reason, `t` shows closed ones
//! too, `/` filters. Paged from the daemon like the other lists.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Cell, Padding, Paragraph, Row, Table, Wrap};
use rel_domain::Timestamp;
use rel_domain::governance::{ChangeRequest, RequestStatus};
use rel_proto::Request;

use crate::gov::{approvals_text, request_state};
use crate::keys::{Move, apply_move, scroll_to};
use crate::msg::{Command, Purpose};
use crate::theme::Theme;
use crate::widgets::columns::{column_widths, fit, header};
use crate::widgets::{ListFilter, title_width};

pub const PAGE: u64 = 100;
const PREFETCH: usize = 20;

#[derive(Debug, Default)]
pub struct RequestsScreen {
    /// Loaded requests, newest first.
    pub rows: Vec<ChangeRequest>,
    shown: Vec<usize>,
    /// Index into the shown requests.
    pub selected: usize,
    pub offset: usize,
    pub exhausted: bool,
    pub loaded: bool,
    pending: Option<(u64, bool)>,
    /// Closed requests too (deployed, rejected, expired…), not only open ones.
    pub all: bool,
    /// Text filter over id, environment, release, requester and status.
    pub filter: ListFilter,
    pub error: Option<String>,
}

impl RequestsScreen {
    pub fn loading(&self) -> bool {
        self.pending.is_some()
    }

    pub fn shown_len(&self) -> usize {
        self.shown.len()
    }

    pub fn shown(&self) -> impl Iterator<Item = &ChangeRequest> {
        self.shown.iter().filter_map(|i| self.rows.get(*i))
    }

    pub fn selected_request(&self) -> Option<&ChangeRequest> {
        self.shown
            .get(self.selected)
            .and_then(|i| self.rows.get(*i))
    }

    fn passes(&self, r: &ChangeRequest) -> bool {
        let id = format!("#{}", r.id);
        self.filter.matches([
            id.as_str(),
            &r.env,
            &r.release,
            &r.requested_by,
            r.status.as_str(),
            r.kind.as_str(),
        ])
    }

    fn refilter(&mut self, keep: Option<u64>, rows_visible: usize) {
        self.shown = (0..self.rows.len())
            .filter(|i| self.passes(&self.rows[*i]))
            .collect();
        self.selected = keep
            .and_then(|id| self.shown.iter().rposition(|i| self.rows[*i].id >= id))
            .unwrap_or(0);
        self.fix_scroll(rows_visible);
    }

    pub fn filters_changed(&mut self, rows_visible: usize) {
        self.offset = 0;
        self.refilter(None, rows_visible);
    }

    fn request(&mut self, generation: u64, before_id: Option<u64>, append: bool) -> Command {
        self.pending = Some((generation, append));
        Command::call(
            Purpose::Requests { generation, append },
            Request::Requests {
                env: None,
                all: self.all,
                limit: PAGE,
                before_id,
            },
        )
    }

    pub fn reload(&mut self, generation: u64) -> Command {
        self.request(generation, None, false)
    }

    /// The next page when the selection nears the end; releasd cuts pages at its byte
    /// budget, so only an empty page ends the list.
    pub fn maybe_prefetch(&mut self, generation: u64) -> Option<Command> {
        if self.exhausted
            || self.pending.is_some()
            || !self.loaded
            || self.selected + PREFETCH < self.shown.len()
        {
            return None;
        }
        let before = self.rows.last().map(|r| r.id)?;
        Some(self.request(generation, Some(before), true))
    }

    pub fn on_page(
        &mut self,
        generation: u64,
        append: bool,
        page: Vec<ChangeRequest>,
        rows_visible: usize,
    ) -> bool {
        if self.pending != Some((generation, append)) {
            return false;
        }
        self.pending = None;
        self.loaded = true;
        self.error = None;
        self.exhausted = page.is_empty();
        let keep = self.selected_request().map(|r| r.id);
        if append {
            let last = self.rows.last().map(|r| r.id).unwrap_or(u64::MAX);
            self.rows.extend(page.into_iter().filter(|r| r.id < last));
        } else {
            self.rows = page;
        }
        self.refilter(keep, rows_visible);
        true
    }

    pub fn on_error(&mut self, generation: u64, message: String) {
        if self.pending.is_some_and(|(g, _)| g == generation) {
            self.pending = None;
            self.error = Some(message);
        }
    }

    fn place(&self, offset: usize, rows_visible: usize) -> usize {
        let offset = scroll_to(offset, self.selected, rows_visible);
        offset.min(self.shown.len().saturating_sub(rows_visible.max(1)))
    }

    pub fn fix_scroll(&mut self, rows_visible: usize) {
        self.selected = self.selected.min(self.shown.len().saturating_sub(1));
        self.offset = self.place(self.offset.min(self.selected), rows_visible);
    }

    pub fn move_selection(&mut self, m: Move, rows_visible: usize) {
        self.selected = apply_move(self.selected, self.shown.len(), rows_visible, m);
        self.offset = self.place(self.offset, rows_visible);
    }

    pub fn render(&self, f: &mut Frame, area: Rect, theme: Theme, now: Timestamp) {
        let mut title = vec![
            Span::styled(" Requests ", theme.title()),
            Span::styled(if self.all { "· all " } else { "· open " }, theme.dim()),
        ];
        let avail = usize::from(area.width.saturating_sub(4)).saturating_sub(title_width(&title));
        title.extend(
            self.filter
                .title_spans(self.shown.len(), !self.exhausted, avail, theme),
        );
        if self.loading() {
            title.push(Span::styled("· loading… ", theme.dim()));
        }
        let block = Block::default()
            .borders(Borders::ALL)
            .title(Line::from(title));
        if self.shown.is_empty() {
            let text = match (&self.error, self.loaded) {
                (Some(e), _) => format!("Cannot load the requests: {e}"),
                (None, false) => "Loading requests…".into(),
                (None, true) if self.filter.active() => format!(
                    "No request matches \"{}\".\nPress / to change the filter, Esc to clear it.",
                    self.filter.text()
                ),
                (None, true) => "No open requests. A deploy to an environment that needs approvals opens one here (relctl env set ENV --approvals N); relctl deploy --at TIME schedules one.\n\nt shows closed requests too.".into(),
            };
            f.render_widget(
                Paragraph::new(text)
                    .wrap(Wrap { trim: false })
                    .block(block.padding(Padding::new(2, 2, 1, 0))),
                area,
            );
            return;
        }
        let [list, detail] =
            Layout::vertical([Constraint::Min(4), Constraint::Length(5)]).areas(area);
        let h = usize::from(list.height.saturating_sub(3)).max(1);
        let offset = self.place(self.offset, h);
        let wide = area.width >= 110;
        // Below 80 columns the narrow columns give way so names and the state keep room.
        let narrow = area.width < 80;
        let widths = [
            Constraint::Length(1),
            Constraint::Length(if narrow { 4 } else { 5 }),
            Constraint::Length(if narrow { 8 } else { 9 }),
            Constraint::Length(if wide {
                14
            } else if narrow {
                10
            } else {
                11
            }),
            Constraint::Length(if wide {
                14
            } else if narrow {
                8
            } else {
                9
            }),
            Constraint::Length(if wide {
                12
            } else if narrow {
                6
            } else {
                7
            }),
            Constraint::Length(if narrow { 3 } else { 5 }),
            Constraint::Min(8),
        ];
        let cw = column_widths(list.width.saturating_sub(2), &widths);
        let col = |i: usize| cw.get(i).copied().unwrap_or(0);
        let head = Row::new([
            String::new(),
            header("ID", "ID", col(1)),
            header("KIND", "KIND", col(2)),
            header("ENV", "ENV", col(3)),
            header("RELEASE", "REL", col(4)),
            header("BY", "BY", col(5)),
            header("OK", "OK", col(6)),
            header("STATE", "STATE", col(7)),
        ])
        .style(theme.header());
        let rows = self.shown().enumerate().skip(offset).take(h).map(|(i, r)| {
            let sel = i == self.selected;
            let state_style = match r.status {
                RequestStatus::Pending => theme.warn(),
                RequestStatus::Deployed => theme.ok(),
                _ => theme.bad(),
            };
            let row = Row::new([
                Cell::from(if sel { "▶" } else { " " }),
                Cell::from(fit(&format!("#{}", r.id), col(1))),
                Cell::from(fit(r.kind.as_str(), col(2))),
                Cell::from(fit(&r.env, col(3))),
                Cell::from(fit(&r.release, col(4))),
                Cell::from(fit(&r.requested_by, col(5))),
                Cell::from(fit(&approvals_text(r), col(6))),
                Cell::from(Span::styled(
                    header(&request_state(r, now), &short_state(r, now), col(7)),
                    state_style,
                )),
            ]);
            if sel {
                row.style(theme.selected())
            } else {
                row
            }
        });
        f.render_widget(
            Table::new(rows, widths)
                .header(head)
                .block(block)
                .column_spacing(1),
            list,
        );
        self.render_selected(f, detail, theme, now);
    }

    /// The selected request in words: who asked, who approved, what happened.
    fn render_selected(&self, f: &mut Frame, area: Rect, theme: Theme, now: Timestamp) {
        let Some(r) = self.selected_request() else {
            return;
        };
        let mut lines = vec![Line::raw(format!(
            "deploy {} to {} · asked by {} {} ago{}",
            r.release,
            r.env,
            r.requested_by,
            r.requested_at.age(now),
            r.expect
                .as_deref()
                .map(|e| format!(" · expects {e} live"))
                .unwrap_or_default()
        ))];
        let approvers: Vec<&str> = r.approvals.iter().map(|a| a.by.as_str()).collect();
        lines.push(Line::styled(
            if approvers.is_empty() {
                format!("approvals {}: none yet", approvals_text(r))
            } else {
                format!("approvals {}: {}", approvals_text(r), approvers.join(", "))
            },
            theme.dim(),
        ));
        if let Some(o) = &r.outcome {
            lines.push(Line::styled(
                format!(
                    "{} by {}: {o}",
                    r.status.as_str(),
                    r.decided_by.as_deref().unwrap_or("?")
                ),
                theme.dim(),
            ));
        }
        f.render_widget(
            Paragraph::new(lines).wrap(Wrap { trim: false }).block(
                Block::default()
                    .borders(Borders::ALL)
                    .title(Span::styled(format!(" Request #{} ", r.id), theme.title()))
                    .padding(Padding::horizontal(1)),
            ),
            area,
        );
    }
}

/// The STATE cell where "expires in 23h" does not fit: "exp in 23h".
fn short_state(r: &rel_domain::governance::ChangeRequest, now: Timestamp) -> String {
    match (r.status, r.expires_at) {
        (RequestStatus::Pending, Some(e))
            if r.kind == rel_domain::governance::RequestKind::Approval =>
        {
            format!("exp {}", crate::gov::until_text(e, now))
        }
        _ => request_state(r, now),
    }
}
