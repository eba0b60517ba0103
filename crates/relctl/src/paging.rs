//! Lists read page by page: releasd cuts a page at a byte budget as well as at the count
//! asked for, so a page may hold fewer items than asked. Continue from the last item's
//! cursor until the user's `--limit` is reached or a page comes back empty.

/// The daemon's cap on one page's count.
const MAX_PAGE: usize = 10_000;

/// Up to `limit` items (0: one page of the daemon's default size), fetched with
/// `fetch(before, count)`; `cursor` is the item's seq or id (lists are newest first).
pub async fn collect<T>(
    limit: usize,
    mut fetch: impl AsyncFnMut(Option<u64>, usize) -> anyhow::Result<Vec<T>>,
    cursor: impl Fn(&T) -> u64,
) -> anyhow::Result<Vec<T>> {
    // 0 asks for everything: still page by page, since the daemon cuts pages by bytes.
    let limit = if limit == 0 { usize::MAX } else { limit };
    let mut out: Vec<T> = Vec::new();
    let mut before: Option<u64> = None;
    while out.len() < limit {
        let want = (limit - out.len()).min(MAX_PAGE);
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
    out.truncate(limit);
    Ok(out)
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
}
