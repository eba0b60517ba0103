//! Execution logs (`3`): runs as they happen, newest first, filtered by environment (on the
//! daemon), by text and to errors only (on the loaded rows); `Enter` shows one run with its
//! per-step results. Paged like the release list.

use ratatui::Frame;
use ratatui::layout::{Constraint, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Cell, Padding, Paragraph, Row, Table, Wrap};
use rel_domain::{ExecQuery, ExecStatus, Execution, Timestamp};
use rel_proto::Request;

use crate::keys::{Move, apply_move, scroll_to};
use crate::msg::{Command, Purpose};
use crate::theme::Theme;
use crate::widgets::columns::{column_widths, fit, header};
use crate::widgets::{ListFilter, match_count, title_width};

pub const PAGE: usize = 100;
const PREFETCH: usize = 20;
/// While a text or error filter hides most runs, pages are fetched on their own only up to
/// this many loaded runs; past it, moving to the end of the list fetches more.
pub const FILTER_SCAN: usize = 2_000;

#[derive(Debug, Default)]
pub struct LogsScreen {
    /// Every loaded run, newest first.
    pub rows: Vec<Execution>,
    /// Indices into `rows` of the runs the filters let through, in order.
    shown: Vec<usize>,
    /// Index into the shown runs.
    pub selected: usize,
    pub offset: usize,
    pub exhausted: bool,
    pub loaded: bool,
    pending: Option<(u64, bool)>,
    /// Only runs in this environment (None: all).
    pub env: Option<String>,
    /// Text filter over id, environment, endpoint, release, status, input and error.
    pub filter: ListFilter,
    /// Only failed runs (`e`).
    pub errors_only: bool,
    /// The run shown in full, and its scroll.
    pub detail: Option<u64>,
    pub detail_scroll: usize,
    pub error: Option<String>,
    /// A reload (reconnect) replaced the rows while the selection was on an older run than
    /// the newest page holds: pages are fetched until that run is back, then it is selected
    /// again (at most [`RESTORE_SCAN`] runs deep).
    restore: Option<u64>,
    /// The environment filter changed: the next newest page starts a new list at its top.
    fresh: bool,
}

/// How deep a reload looks for the run that was selected before it.
const RESTORE_SCAN: usize = 2_000;

pub fn status_text(s: ExecStatus) -> &'static str {
    match s {
        ExecStatus::Ok => "OK",
        ExecStatus::Error => "ERROR",
    }
}

fn status_style(s: ExecStatus, theme: Theme) -> ratatui::style::Style {
    match s {
        ExecStatus::Ok => theme.ok(),
        ExecStatus::Error => theme.bad(),
    }
}

impl LogsScreen {
    pub fn loading(&self) -> bool {
        self.pending.is_some()
    }

    /// A text filter or errors only is on: the shown runs are a subset of the loaded ones.
    pub fn filtered(&self) -> bool {
        self.errors_only || self.filter.active()
    }

    fn passes(&self, e: &Execution) -> bool {
        if self.errors_only && e.status != ExecStatus::Error {
            return false;
        }
        let id = format!("#{}", e.id);
        self.filter.matches([
            id.as_str(),
            &e.env,
            &e.endpoint,
            &e.release,
            status_text(e.status),
            &e.input,
            e.error.as_deref().unwrap_or(""),
        ])
    }

    /// The runs the filters let through, newest first.
    pub fn shown(&self) -> impl Iterator<Item = &Execution> {
        self.shown.iter().filter_map(|i| self.rows.get(*i))
    }

    pub fn shown_len(&self) -> usize {
        self.shown.len()
    }

    pub fn selected_run(&self) -> Option<&Execution> {
        self.shown
            .get(self.selected)
            .and_then(|i| self.rows.get(*i))
    }

    /// Apply the filters again, keeping the selection on run `keep` when it still shows
    /// (else the nearest newer one, else the top).
    fn refilter(&mut self, keep: Option<u64>, rows_visible: usize) {
        self.shown = (0..self.rows.len())
            .filter(|i| self.passes(&self.rows[*i]))
            .collect();
        self.selected = match keep {
            Some(id) => self
                .shown
                .iter()
                .rposition(|i| self.rows[*i].id >= id)
                .unwrap_or(0),
            None => 0,
        };
        self.fix_scroll(rows_visible);
    }

    /// The filters changed: show what matches from the top.
    pub fn filters_changed(&mut self, rows_visible: usize) {
        self.offset = 0;
        self.refilter(None, rows_visible);
    }

    fn request(&mut self, generation: u64, before_id: Option<u64>, append: bool) -> Command {
        self.pending = Some((generation, append));
        Command::call(
            Purpose::Logs { generation, append },
            Request::Logs(ExecQuery {
                env: self.env.clone(),
                endpoint: None,
                before_id,
                limit: PAGE,
            }),
        )
    }

    /// The newest page again (first visit, reconnect, filter change).
    pub fn reload(&mut self, generation: u64) -> Command {
        self.request(generation, None, false)
    }

    /// The next page when the selection nears the end of the shown runs. `auto`: not asked
    /// for by a key (after a page arrived), which stops at [`FILTER_SCAN`] loaded runs.
    pub fn maybe_prefetch(&mut self, generation: u64, auto: bool) -> Option<Command> {
        if self.exhausted || self.pending.is_some() || !self.loaded {
            return None;
        }
        if self.restore.is_some() && self.rows.len() < RESTORE_SCAN {
            let before = self.rows.last().map(|r| r.id)?;
            return Some(self.request(generation, Some(before), true));
        }
        if self.selected + PREFETCH < self.shown.len()
            || (auto && self.filtered() && self.rows.len() >= FILTER_SCAN)
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
        page: Vec<Execution>,
        rows_visible: usize,
    ) -> bool {
        if self.pending != Some((generation, append)) {
            return false;
        }
        self.pending = None;
        self.loaded = true;
        self.error = None;
        // A page cut at the daemon's byte budget is short but not the last: only an empty
        // page ends the list (the next one follows the last run's id).
        self.exhausted = page.is_empty();
        let keep = if std::mem::take(&mut self.fresh) {
            None
        } else {
            self.restore.or(self.selected_run().map(|r| r.id))
        };
        if append {
            let last = self.rows.last().map(|r| r.id).unwrap_or(u64::MAX);
            self.rows.extend(page.into_iter().filter(|r| r.id < last));
        } else {
            self.rows = page;
        }
        // The kept run is older than every loaded one: fetch on until it is loaded.
        self.restore = keep.filter(|id| {
            !self.exhausted
                && self.rows.len() < RESTORE_SCAN
                && self.rows.last().is_some_and(|r| r.id > *id)
        });
        self.refilter(keep, rows_visible);
        true
    }

    pub fn on_error(&mut self, generation: u64, message: String) {
        if self.pending.is_some_and(|(g, _)| g == generation) {
            self.pending = None;
            self.error = Some(message);
        }
    }

    /// Whether a finished run belongs in this list (then the app fetches it).
    pub fn wants(&self, env: &str) -> bool {
        self.loaded && self.env.as_deref().is_none_or(|e| e == env)
    }

    /// A run fetched after its `ExecutionFinished` event: on top; the selection follows the
    /// newest run when it was on the newest, else stays on its run.
    pub fn insert(&mut self, exec: Execution, rows_visible: usize) {
        if !self.wants(&exec.env) || self.rows.iter().any(|r| r.id == exec.id) {
            return;
        }
        if self.rows.first().is_some_and(|top| exec.id < top.id) {
            return;
        }
        // At the top the list follows new runs (a tail); scrolled down, the view stays put.
        let following = self.selected == 0 && self.offset == 0;
        let keep = self.selected_run().map(|r| r.id);
        let shows = self.passes(&exec);
        self.rows.insert(0, exec);
        if shows && !following && self.offset > 0 {
            self.offset += 1;
        }
        self.refilter(if following { None } else { keep }, rows_visible);
    }

    /// Next environment filter (`f`): all → each environment in promotion order → all.
    pub fn cycle_env(&mut self, envs: &[String]) {
        self.env = match &self.env {
            None => envs.first().cloned(),
            Some(cur) => envs.iter().skip_while(|e| *e != cur).nth(1).cloned(),
        };
        self.selected = 0;
        self.offset = 0;
        self.detail = None;
        self.restore = None;
        self.fresh = true;
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
        if let Some(id) = self.detail {
            // Header, blank, steps title, two lines per step: a bound for scrolling.
            let steps = self
                .rows
                .iter()
                .find(|r| r.id == id)
                .map(|r| r.steps.len())
                .unwrap_or(0);
            let max = (10 + 2 * steps).saturating_sub(rows_visible);
            self.detail_scroll = apply_move(self.detail_scroll.min(max), max + 1, rows_visible, m);
            return;
        }
        self.selected = apply_move(self.selected, self.shown.len(), rows_visible, m);
        self.offset = self.place(self.offset, rows_visible);
    }

    pub fn open(&mut self) {
        if let Some(id) = self.selected_run().map(|r| r.id) {
            self.detail = Some(id);
            self.detail_scroll = 0;
        }
    }

    pub fn render(&self, f: &mut Frame, area: Rect, theme: Theme, now: Timestamp) {
        if let Some(exec) = self
            .detail
            .and_then(|id| self.rows.iter().find(|r| r.id == id))
        {
            return render_detail(exec, self.detail_scroll, f, area, theme, now);
        }
        let env = match &self.env {
            Some(e) => format!("env {e}"),
            None => "all envs".into(),
        };
        // Narrow: the short name leaves room for the filters and their count.
        let name = if area.width >= 80 {
            " Execution logs "
        } else {
            " Logs "
        };
        let mut title = vec![
            Span::styled(name, theme.title()),
            Span::styled(format!("· {env} "), theme.dim()),
        ];
        if self.errors_only {
            title.push(Span::styled("· errors only ", theme.bad()));
        }
        let more = !self.exhausted;
        let avail = usize::from(area.width.saturating_sub(4)).saturating_sub(title_width(&title));
        title.extend(
            self.filter
                .title_spans(self.shown.len(), more, avail, theme),
        );
        if self.errors_only && !self.filter.active() {
            title.push(Span::styled(
                format!("· {} ", match_count(self.shown.len(), more)),
                theme.dim(),
            ));
        }
        if self.loading() {
            title.push(Span::styled("· loading… ", theme.dim()));
        }
        let block = Block::default()
            .borders(Borders::ALL)
            .title(Line::from(title));
        if self.shown.is_empty() {
            let text = match (&self.error, self.loaded) {
                (Some(e), _) => format!("Cannot load the execution logs: {e}"),
                (None, false) => "Loading execution logs…".into(),
                (None, true) if self.filtered() => {
                    let what = match (self.errors_only, self.filter.active()) {
                        (true, true) => format!("No failed run matches \"{}\"", self.filter.text()),
                        (true, false) => "No run failed".to_string(),
                        (false, _) => format!("No run matches \"{}\"", self.filter.text()),
                    };
                    let mut keys = Vec::new();
                    if self.filter.active() {
                        keys.push("/ to change the text");
                    }
                    if self.errors_only {
                        keys.push("e to show every status");
                    }
                    keys.push("Esc to clear");
                    format!(
                        "{what} among the {} loaded.\nPress {}.",
                        crate::text::thousands(self.rows.len() as u64),
                        keys.join(", ")
                    )
                }
                (None, true) => "No runs yet. They appear here as they happen: run one with\n`relctl trigger ENDPOINT --env ENV` or `relctl verify --env ENV`.".into(),
            };
            f.render_widget(
                Paragraph::new(text)
                    .wrap(Wrap { trim: false })
                    .block(block.padding(Padding::new(2, 2, 1, 0))),
                area,
            );
            return;
        }
        let h = usize::from(area.height.saturating_sub(3)).max(1);
        let offset = self.place(self.offset, h);
        let end = (offset + h).min(self.shown.len());
        let wide = area.width >= 110;
        // Below 80 columns the ids, times and input get less room so names keep theirs.
        let narrow = area.width < 80;
        let widths = [
            Constraint::Length(1),
            Constraint::Length(if narrow { 5 } else { 7 }),
            Constraint::Length(if wide { 12 } else { 10 }),
            Constraint::Length(if wide {
                14
            } else if narrow {
                8
            } else {
                10
            }),
            Constraint::Length(if wide {
                14
            } else if narrow {
                8
            } else {
                10
            }),
            Constraint::Length(if narrow { 5 } else { 6 }),
            Constraint::Length(if narrow { 6 } else { 7 }),
            Constraint::Length(if narrow { 3 } else { 4 }),
            Constraint::Min(if narrow { 3 } else { 6 }),
        ];
        let cw = column_widths(area.width.saturating_sub(2), &widths);
        let col = |i: usize| cw.get(i).copied().unwrap_or(0);
        let header = Row::new([
            String::new(),
            header("ID", "ID", col(1)),
            header("ENV", "ENV", col(2)),
            header("ENDPOINT", "EP", col(3)),
            header("RELEASE", "REL", col(4)),
            header("STATUS", "STAT", col(5)),
            header("TIME", "TIME", col(6)),
            header("AGE", "AGE", col(7)),
            header("INPUT", "IN", col(8)),
        ])
        .style(theme.header());
        let rows = self
            .shown()
            .skip(offset)
            .take(end.saturating_sub(offset))
            .enumerate()
            .map(|(i, r)| {
                let sel = offset + i == self.selected;
                let row = Row::new([
                    Cell::from(if sel { "▶" } else { " " }),
                    Cell::from(fit(&format!("#{}", r.id), col(1))),
                    Cell::from(fit(&r.env, col(2))),
                    Cell::from(fit(&r.endpoint, col(3))),
                    Cell::from(fit(&r.release, col(4))),
                    Cell::from(Span::styled(
                        fit(status_text(r.status), col(5)),
                        status_style(r.status, theme),
                    )),
                    Cell::from(fit(&rel_proto::present::duration(r.duration_ms), col(6))),
                    Cell::from(r.started_at.age(now)),
                    Cell::from(fit(&r.input, col(8))),
                ]);
                if sel {
                    row.style(theme.selected())
                } else {
                    row
                }
            });
        f.render_widget(
            Table::new(rows, widths)
                .header(header)
                .block(block)
                .column_spacing(1),
            area,
        );
    }
}

fn render_detail(
    e: &Execution,
    scroll: usize,
    f: &mut Frame,
    area: Rect,
    theme: Theme,
    now: Timestamp,
) {
    let label = |s: &str| Span::styled(format!("{s:<9}"), theme.dim());
    let mut lines = vec![
        Line::from(vec![
            label("Status"),
            Span::styled(status_text(e.status), status_style(e.status, theme)),
            Span::raw(format!(
                "  in {}",
                rel_proto::present::duration(e.duration_ms)
            )),
        ]),
        Line::from(vec![
            label("Endpoint"),
            Span::raw(format!("{} in {}", e.endpoint, e.env)),
        ]),
        Line::from(vec![
            label("Release"),
            Span::raw(format!("{} ({})", e.release, e.digest)),
        ]),
        Line::from(vec![
            label("Started"),
            Span::raw(format!("{} ({} ago)", e.started_at, e.started_at.age(now))),
        ]),
        Line::from(vec![label("Input"), Span::raw(e.input.clone())]),
        Line::from(vec![label("Output"), Span::raw(e.output.clone())]),
    ];
    if let Some(err) = &e.error {
        // Wrapped lines stay under the value, not back at column 0.
        lines.extend(crate::text::labeled(
            label("Error"),
            err,
            theme.bad(),
            area.width.saturating_sub(4),
        ));
    }
    lines.push(Line::raw(""));
    lines.push(Line::styled(
        format!("Steps ({})", e.steps.len()),
        theme.header(),
    ));
    for s in &e.steps {
        lines.push(Line::from(vec![
            Span::raw(format!("  {:<16} {:<10} ", s.name, s.kind)),
            Span::styled(
                format!("{:<6}", status_text(s.status)),
                status_style(s.status, theme),
            ),
            Span::raw(format!(
                "{:>8}",
                rel_proto::present::duration(s.duration_ms)
            )),
        ]));
        match &s.error {
            Some(err) => lines.extend(crate::text::labeled(
                Span::styled("      error: ", theme.bad()),
                err,
                theme.bad(),
                area.width.saturating_sub(4),
            )),
            None => lines.push(Line::styled(
                format!("      output: {}", s.output),
                theme.dim(),
            )),
        }
    }
    let title = Line::from(Span::styled(format!(" Run #{} ", e.id), theme.title()));
    let max = crate::text::wrapped_height(&lines, area.width.saturating_sub(4))
        .saturating_sub(area.height.saturating_sub(2));
    let scroll = u16::try_from(scroll).unwrap_or(u16::MAX).min(max);
    f.render_widget(
        Paragraph::new(lines)
            .wrap(Wrap { trim: false })
            .scroll((scroll, 0))
            .block(
                Block::default()
                    .borders(Borders::ALL)
                    .title(title)
                    .padding(Padding::horizontal(1)),
            ),
        area,
    );
}
