//! Lists read page by page: releasd cuts a page at a byte budget as well as at the count
//! asked for, so a page may hold fewer items than asked. Continue from the last item's
//! cursor until the user's `--limit` is reached or a page comes back empty.

/// The daemon's cap on one page's count.
const MAX_PAGE: usize = 10_000;

/// The line under a list cut at `--limit`; `also` adds a tip of the list's own.
pub fn more_hint(shown: usize, also: Option<&str>) -> String {
    let also = also.map(|a| format!(", {a}")).unwrap_or_default();
    format!("(the newest {shown}; pass --limit N to see more or --limit 0 for all{also})")
}

/// Up to `limit` items (0: everything), fetched with `fetch(before, count)`; `cursor` is the
/// item's seq or id (lists are newest first).
pub async fn collect<T>(
    limit: usize,
    fetch: impl AsyncFnMut(Option<u64>, usize) -> anyhow::Result<Vec<T>>,
    cursor: impl Fn(&T) -> u64,
) -> anyhow::Result<Vec<T>> {
    Ok(collect_more(limit, fetch, cursor).await?.0)
}

/// [`collect`], and whether more items exist past `limit`: one extra item is asked for, so
/// "pass --limit N to see more" is said only when there is more to see.
pub async fn collect_more<T>(
    limit: usize,
    mut fetch: impl AsyncFnMut(Option<u64>, usize) -> anyhow::Result<Vec<T>>,
    cursor: impl Fn(&T) -> u64,
) -> anyhow::Result<(Vec<T>, bool)> {
    // 0 asks for everything: still page by page, since the daemon cuts pages by bytes.
    let limit = if limit == 0 { usize::MAX } else { limit };
    let target = limit.saturating_add(1);
    let mut out: Vec<T> = Vec::new();
    let mut before: Option<u64> = None;
    while out.len() < target {
        let want = (target - out.len()).min(MAX_PAGE);
        let page = fetch(before, want).await?;
        let Some(next) = page.last().map(&cursor) else {
            break;
        };
        // Cursors only go down; anything else would loop forever.
        if before.is_some_and(|b| next >= b) {
            break;
        }
        before = Some(next);
        out.extend(page);
    }
    let more = out.len() > limit;
    out.truncate(limit);
    Ok((out, more))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn short_pages_are_followed_until_the_limit_or_the_end() {
        let all: Vec<u64> = (1..=25).rev().collect();
        let mut calls = 0;
        let got = collect(
            20,
            async |before: Option<u64>, n: usize| {
                calls += 1;
                // At most 3 per page, like a byte budget would cut.
                Ok(all
                    .iter()
                    .copied()
                    .filter(|s| before.is_none_or(|b| *s < b))
                    .take(n.min(3))
                    .collect())
            },
            |s| *s,
        )
        .await
        .expect("collect");
        assert_eq!(got, (6..=25).rev().collect::<Vec<u64>>());
        assert_eq!(calls, 7);
        let got = collect(
            100,
            async |before: Option<u64>, n: usize| {
                Ok(all
                    .iter()
                    .copied()
                    .filter(|s| before.is_none_or(|b| *s < b))
                    .take(n.min(7))
                    .collect())
            },
            |s| *s,
        )
        .await
        .expect("collect");
        assert_eq!(got.len(), 25);
    }

    #[tokio::test]
    async fn more_is_said_only_when_items_are_left() {
        let all: Vec<u64> = (1..=5).rev().collect();
        let page = async |before: Option<u64>, n: usize| {
            Ok(all
                .iter()
                .copied()
                .filter(|s| before.is_none_or(|b| *s < b))
                .take(n.min(2))
                .collect())
        };
        let (got, more) = collect_more(5, page, |s| *s).await.expect("collect");
        assert_eq!((got.len(), more), (5, false));
        let (got, more) = collect_more(4, page, |s| *s).await.expect("collect");
        assert_eq!((got, more), (vec![5, 4, 3, 2], true));
        let (got, more) = collect_more(0, page, |s| *s).await.expect("collect");
        assert_eq!((got.len(), more), (5, false));
    }
}
