//! Step 2 of a runner, research: run each `Search:` query through the search
//! provider and fetch the pages the plan says to scrape. Providers cache every
//! response under `.expand/cache/`, so a retry or a resumed run repeats none.

use crate::plan::{ItemKind, Part};
use crate::providers::{Evidence, Fetch, ProviderError, Search};

#[derive(Clone, Debug, Default)]
pub struct Found {
    pub evidence: Vec<Evidence>,
    /// URLs (or knowledge locations, offline) the evidence came from.
    pub sources: Vec<String>,
    /// The queries sent to the search provider.
    pub queries: Vec<String>,
}

impl Found {
    /// The URLs retrieved, as the quality check compares them.
    pub fn seen_urls(&self) -> std::collections::BTreeSet<String> {
        self.sources
            .iter()
            .chain(self.evidence.iter().map(|e| &e.source))
            .filter(|s| crate::markdown::source::is_url(s))
            .map(|s| crate::quality::url_key(s))
            .collect()
    }
}

/// Pages fetched per PART at most.
const MAX_FETCH: usize = 8;

pub async fn run(
    search: &dyn Search,
    fetch: Option<&dyn Fetch>,
    part: &Part,
    results: usize,
) -> Result<Found, ProviderError> {
    let mut found = Found::default();
    let mut ranked_urls: Vec<String> = Vec::new();
    let n = part.number;
    for q in part.queries() {
        found.queries.push(q.to_string());
        let sent = crate::providers::meter::sent();
        let hits = search.search(q, results).await?;
        // Where the answer came from: the base itself (offline), a request
        // sent now, or the response cache of an earlier run.
        let from = match (
            search.name(),
            crate::providers::meter::sent().saturating_sub(sent),
        ) {
            ("offline", _) => "offline, from the knowledge base".to_string(),
            (name, 0) => format!("{name}, from the cache"),
            (name, k) => format!("{name}, {k} request(s) sent"),
        };
        tracing::info!(
            "PART {n}: search \"{q}\": {} result(s) ({from})",
            hits.len()
        );
        for h in hits {
            if !found.sources.contains(&h.url) {
                found.sources.push(h.url.clone());
            }
            if crate::markdown::source::is_url(&h.url) && !ranked_urls.contains(&h.url) {
                ranked_urls.push(h.url.clone());
            }
            found.evidence.push(Evidence {
                source: h.url,
                lines: None,
                title: Some(h.title),
                text: h.snippet,
            });
        }
    }
    let Some(fetch) = fetch else {
        if part
            .items()
            .any(|i| matches!(i.kind, ItemKind::Scrape { .. }))
        {
            tracing::info!("PART {n}: scrape: skipped, no page fetcher is configured (fetch.via)");
        }
        return Ok(found);
    };
    // What to scrape: explicit URLs, and the top N search results when asked.
    let mut to_fetch: Vec<String> = Vec::new();
    for item in part.items() {
        if let ItemKind::Scrape { what, top } = &item.kind {
            if let Some(url) = what
                .split_whitespace()
                .find(|w| w.starts_with("http://") || w.starts_with("https://"))
            {
                to_fetch.push(url.trim_end_matches([')', ',', '.']).to_string());
            } else {
                let n = top.unwrap_or(3) as usize;
                to_fetch.extend(ranked_urls.iter().take(n).cloned());
            }
        }
    }
    let mut seen = std::collections::BTreeSet::new();
    to_fetch.retain(|u| seen.insert(u.clone()));
    if to_fetch.len() > MAX_FETCH {
        tracing::info!(
            "PART {n}: scrape: {} page(s) skipped, {MAX_FETCH} fetched at most",
            to_fetch.len() - MAX_FETCH
        );
    }
    for url in to_fetch.into_iter().take(MAX_FETCH) {
        let sent = crate::providers::meter::sent();
        match fetch.fetch(&url).await {
            Ok(page) => {
                let from = match crate::providers::meter::sent().saturating_sub(sent) {
                    0 => "from the cache".to_string(),
                    k => format!("{k} request(s) sent"),
                };
                tracing::info!(
                    "PART {n}: fetch {url}: {} chars ({from})",
                    page.markdown.len()
                );
                if !found.sources.contains(&page.url) {
                    found.sources.push(page.url.clone());
                }
                found.evidence.push(Evidence {
                    source: page.url,
                    lines: None,
                    title: page.title,
                    text: page.markdown,
                });
            }
            // An account that cannot fetch (a refused key, a wrong zone)
            // would leave every page out: that fails the PART, loudly.
            Err(e) if e.setup_hint().is_some() => return Err(e),
            // A page that cannot be fetched leaves a gap, not a failed PART.
            Err(e) => tracing::warn!("skipping {url}: {e}"),
        }
    }
    Ok(found)
}
