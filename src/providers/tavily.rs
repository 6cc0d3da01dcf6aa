//! Search through the Tavily API (`POST /search`). Tavily takes its key inside
//! the JSON body, so the cache key is built from a stand-in without it.

use std::sync::Arc;
use std::time::Duration;

use serde_json::{json, Value};

use super::http::{api_key, Http, Request};
use super::{base_url, BoxFuture, ProviderError, Search, SearchHit};

pub const DEFAULT_BASE_URL: &str = "https://api.tavily.com";
pub const DEFAULT_KEY_ENV: &str = "TAVILY_API_KEY";

pub struct Tavily {
    http: Arc<Http>,
    base: String,
    key: String,
    timeout: Duration,
}

impl Tavily {
    pub fn new(cfg: &crate::config::Search, http: Arc<Http>) -> Result<Tavily, ProviderError> {
        let var = cfg.api_key_env.as_deref().unwrap_or(DEFAULT_KEY_ENV);
        Ok(Tavily {
            http,
            base: base_url(cfg.base_url.as_deref(), DEFAULT_BASE_URL),
            key: api_key(var, "search.api_key_env")?,
            timeout: Duration::from_secs(cfg.timeout_s.max(1)),
        })
    }

    pub fn with_timeout(mut self, timeout: Duration) -> Tavily {
        self.timeout = timeout;
        self
    }

    async fn run(&self, query: &str, results: usize) -> Result<Vec<SearchHit>, ProviderError> {
        let public = json!({"query": query, "max_results": results});
        let mut body = public.clone();
        body["api_key"] = json!(self.key);
        let r = Request::post_json(
            "tavily",
            &format!("{}/search", self.base),
            &body,
            self.timeout,
        )
        .cache_body(public.to_string())
        .secret(&self.key);
        let v: Value = self.http.send(&r).await?.json("tavily")?;
        SearchHit::from_results(&v, "tavily", results)
    }
}

impl Search for Tavily {
    fn name(&self) -> &str {
        "tavily"
    }
    fn search<'a>(
        &'a self,
        query: &'a str,
        results: usize,
    ) -> BoxFuture<'a, Result<Vec<SearchHit>, ProviderError>> {
        Box::pin(self.run(query, results))
    }
}
