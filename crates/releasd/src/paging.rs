//! Pages by bytes as well as by count (issue 7): no answer may outgrow one frame. A list
//! answer is cut where its encoded size would pass the budget; the client sees fewer items
//! than it asked for and continues from the last one's cursor (`before_seq` / `before_id`),
//! so every list can be read whole, whatever its size.

use rel_proto::Response;
use serde::Serialize;

/// Default byte budget of one page: well inside the 16 MiB frame, small enough that a page
/// of any list costs the daemon little memory.
pub const DEFAULT_PAGE_BYTES: usize = 4 * 1024 * 1024;

/// Cut a cursor-paged list answer to `budget` bytes (always keeping at least one item, so a
/// reader makes progress). Answers that are not cursor-paged lists pass unchanged.
pub fn fit(response: Response, budget: usize) -> Response {
    match response {
        Response::Releases(v) => Response::Releases(trim(v, budget)),
        Response::History(v) => Response::History(trim(v, budget)),
        Response::Audit(v) => Response::Audit(trim(v, budget)),
        Response::Executions(v) => Response::Executions(trim(v, budget)),
        Response::Requests(v) => Response::Requests(trim(v, budget)),
        other => other,
    }
}

fn trim<T: Serialize>(mut items: Vec<T>, budget: usize) -> Vec<T> {
    let mut used = 0usize;
    for (i, item) in items.iter().enumerate() {
        let size = rel_proto::encode(item).map_or(usize::MAX, |b| b.len());
        if i > 0 && used.saturating_add(size) > budget {
            items.truncate(i);
            break;
        }
        used = used.saturating_add(size);
    }
    items
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_page_stops_at_the_budget_but_keeps_one_item() {
        let items: Vec<String> = (0..10).map(|i| format!("{i}").repeat(1000)).collect();
        assert_eq!(trim(items.clone(), 3500).len(), 3);
        assert_eq!(trim(items.clone(), 10).len(), 1);
        assert_eq!(trim(items, usize::MAX).len(), 10);
    }
}
