//! Search through the Brave Search API (`/res/v1/web/search`, key in the
//! `X-Subscription-Token` header).

use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;

use super::http::{api_key, Http, Request};
use super::{base_url, BoxFuture, ProviderError, Search, SearchHit};

pub const DEFAULT_BASE_URL: &str = "https://api.search.brave.com";
pub const DEFAULT_KEY_ENV: &str = "BRAVE_API_KEY";

pub struct Brave {
    http: Arc<Http>,
    base: String,
    key: String,
    timeout: Duration,
}

impl Brave {
    pub fn new(cfg: &crate::config::Search, http: Arc<Http>) -> Result<Brave, ProviderError> {
        let var = cfg.api_key_env.as_deref().unwrap_or(DEFAULT_KEY_ENV);
        Ok(Brave {
            http,
            base: base_url(cfg.base_url.as_deref(), DEFAULT_BASE_URL),
            key: api_key(var, "search.api_key_env")?,
            timeout: Duration::from_secs(cfg.timeout_s.max(1)),
        })
    }

    pub fn with_timeout(mut self, timeout: Duration) -> Brave {
        self.timeout = timeout;
        self
    }

    async fn run(&self, query: &str, results: usize) -> Result<Vec<SearchHit>, ProviderError> {
        let count = results.clamp(1, 20).to_string();
        let url = reqwest::Url::parse_with_params(
            &format!("{}/res/v1/web/search", self.base),
            &[("q", query), ("count", count.as_str())],
        )
        .map_err(|e| ProviderError::Config(format!("search.base_url `{}`: {e}", self.base)))?;
        let r = Request::get("brave", url.as_str(), self.timeout)
            .header("accept", "application/json")
            .secret_header("x-subscription-token", &self.key, &self.key);
        let v: Value = self.http.send(&r).await?.json("brave")?;
        Ok(parse(&v, results))
    }
}

fn parse(v: &Value, results: usize) -> Vec<SearchHit> {
    // An answer without web results (news only, nothing found) is an empty list.
    let items = v["web"]["results"].as_array().map(|a| a.as_slice());
    SearchHit::from_json(
        items.unwrap_or(&[]),
        "url",
        "description",
        results,
        strip_tags,
    )
}

/// Brave marks matches with `<strong>`; snippets should be plain text.
fn strip_tags(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut in_tag = false;
    for c in s.chars() {
        match c {
            '<' => in_tag = true,
            '>' if in_tag => in_tag = false,
            _ if !in_tag => out.push(c),
            _ => {}
        }
    }
    super::fetch::decode_entities(&out)
}

impl Search for Brave {
    fn name(&self) -> &str {
        "brave"
    }
    fn search<'a>(
        &'a self,
        query: &'a str,
        results: usize,
    ) -> BoxFuture<'a, Result<Vec<SearchHit>, ProviderError>> {
        Box::pin(self.run(query, results))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strips_match_markup() {
        assert_eq!(
            strip_tags("use <strong>clap</strong> &amp; co"),
            "use clap & co"
        );
    }
}
