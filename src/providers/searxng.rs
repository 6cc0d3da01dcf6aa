//! Search through a self-hosted SearXNG instance's JSON API
//! (`/search?q=..&format=json`; the instance must enable the json format).

use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;

use super::http::{Http, Request};
use super::{base_url, BoxFuture, ProviderError, Search, SearchHit};

pub const DEFAULT_BASE_URL: &str = "http://localhost:8888";

pub struct Searxng {
    http: Arc<Http>,
    base: String,
    timeout: Duration,
}

impl Searxng {
    pub fn new(cfg: &crate::config::Search, http: Arc<Http>) -> Searxng {
        Searxng {
            http,
            base: base_url(cfg.base_url.as_deref(), DEFAULT_BASE_URL),
            timeout: Duration::from_secs(cfg.timeout_s.max(1)),
        }
    }

    pub fn with_timeout(mut self, timeout: Duration) -> Searxng {
        self.timeout = timeout;
        self
    }

    async fn run(&self, query: &str, results: usize) -> Result<Vec<SearchHit>, ProviderError> {
        let url = reqwest::Url::parse_with_params(
            &format!("{}/search", self.base),
            &[("q", query), ("format", "json")],
        )
        .map_err(|e| ProviderError::Config(format!("search.base_url `{}`: {e}", self.base)))?;
        let r = Request::get("searxng", url.as_str(), self.timeout)
            .header("accept", "application/json");
        let v: Value = self.http.send(&r).await?.json("searxng")?;
        SearchHit::from_results(&v, "searxng", results)
    }
}

impl Search for Searxng {
    fn name(&self) -> &str {
        "searxng"
    }
    fn search<'a>(
        &'a self,
        query: &'a str,
        results: usize,
    ) -> BoxFuture<'a, Result<Vec<SearchHit>, ProviderError>> {
        Box::pin(self.run(query, results))
    }
}
