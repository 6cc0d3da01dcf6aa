//! Providers: who writes a knowledge file (`Writer`), who answers a web search
//! (`Search`), who fetches a page (`Fetch`). The scheduler and the steps only
//! see these traits; which provider runs is decided by config in `build`.

pub mod anthropic;
pub mod brave;
pub mod build;
pub mod command;
pub mod cost;
pub mod fetch;
pub mod http;
pub mod nesting;
pub mod netguard;
pub mod offline;
pub mod openai;
pub mod prompt;
pub mod scrub;
pub mod searxng;
pub mod sse;
pub mod tavily;
pub mod tokens;

pub use build::{
    fetcher, fetcher_with, network_search, network_search_with, network_writer,
    network_writer_with, shared_http,
};

use std::future::Future;
use std::pin::Pin;

use serde::{Deserialize, Serialize};

pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// One passage of evidence given to a writer: where it comes from and what it says.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Evidence {
    /// A knowledge path (`rust-cli/00-x.md`) or a URL.
    pub source: String,
    /// 1-based inclusive line range within `source`, when it is a knowledge file.
    pub lines: Option<(usize, usize)>,
    pub title: Option<String>,
    pub text: String,
}

/// What a writer is asked to produce.
#[derive(Clone, Debug, Serialize)]
pub struct WriteRequest {
    pub plan_title: String,
    pub part: u32,
    pub title: String,
    /// Knowledge-relative path of the file to write.
    pub target: String,
    /// The PART's text from the plan, verbatim.
    pub part_text: String,
    pub sections: Vec<SectionBrief>,
    pub expected_lines: Option<u32>,
    /// Knowledge evidence, then research evidence, most relevant first.
    pub evidence: Vec<Evidence>,
    /// The full prompt for language-model writers (built by `steps::write`).
    pub prompt: String,
}

#[derive(Clone, Debug, Serialize)]
pub struct SectionBrief {
    pub title: String,
    pub expected_lines: Option<u32>,
    pub brief: Vec<String>,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct Usage {
    pub input_tokens: u64,
    pub output_tokens: u64,
}

impl Usage {
    /// Tokens in and out: what budgets and summaries count.
    pub fn total(&self) -> u64 {
        self.input_tokens + self.output_tokens
    }

    /// The usage of two calls together (a write and its repair).
    pub fn plus(&self, other: &Usage) -> Usage {
        Usage {
            input_tokens: self.input_tokens + other.input_tokens,
            output_tokens: self.output_tokens + other.output_tokens,
        }
    }
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Written {
    pub text: String,
    pub usage: Usage,
    pub model: String,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct SearchHit {
    pub title: String,
    pub url: String,
    pub snippet: String,
}

impl SearchHit {
    /// Hits from a search API's JSON result objects (`url`, `title` and the
    /// snippet under `snippet_key`), at most `results`, `clean` applied to
    /// the title and snippet. Results without a URL are skipped.
    pub(crate) fn from_json(
        items: &[serde_json::Value],
        snippet_key: &str,
        results: usize,
        clean: fn(&str) -> String,
    ) -> Vec<SearchHit> {
        items
            .iter()
            .filter_map(|r| {
                Some(SearchHit {
                    url: r["url"].as_str()?.to_string(),
                    title: clean(r["title"].as_str().unwrap_or("")),
                    snippet: clean(r[snippet_key].as_str().unwrap_or("")),
                })
            })
            .take(results)
            .collect()
    }

    /// Hits from an answer whose `results` array holds objects with a
    /// `content` snippet (SearXNG, Tavily); no such array is a bad answer
    /// from `what`.
    pub(crate) fn from_results(
        v: &serde_json::Value,
        what: &str,
        results: usize,
    ) -> Result<Vec<SearchHit>, ProviderError> {
        let items = v["results"]
            .as_array()
            .ok_or_else(|| ProviderError::BadResponse {
                what: what.into(),
                message: "no `results` array in the answer".into(),
            })?;
        Ok(Self::from_json(items, "content", results, str::to_string))
    }
}

/// A provider's base URL: the configured one, else its default, without a
/// trailing slash.
pub(crate) fn base_url(configured: Option<&str>, default: &str) -> String {
    configured
        .unwrap_or(default)
        .trim_end_matches('/')
        .to_string()
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Page {
    pub url: String,
    pub title: Option<String>,
    /// Main content as markdown, size-capped.
    pub markdown: String,
}

/// Why a provider call failed. `retryable` errors are retried with backoff.
#[derive(Debug, Clone, thiserror::Error)]
pub enum ProviderError {
    #[error("HTTP {status} from {what}: {message}")]
    Http {
        what: String,
        status: u16,
        message: String,
        retry_after: Option<u64>,
    },
    #[error("{what} timed out after {secs} s")]
    Timeout { what: String, secs: u64 },
    #[error("cannot reach {what}: {message}")]
    Network { what: String, message: String },
    #[error("unexpected answer from {what}: {message}")]
    BadResponse { what: String, message: String },
    #[error("`{program}` exited with {code}: {stderr_tail}")]
    Command {
        program: String,
        code: String,
        stderr_tail: String,
    },
    #[error("{0}")]
    Config(String),
    #[error("budget reached: {0}")]
    Budget(String),
    /// A request expand will not make: an untrusted URL that is not public,
    /// a credential redirected to another origin. Never retried.
    #[error("{what} refused: {message}")]
    Refused { what: String, message: String },
}

impl ProviderError {
    pub fn retryable(&self) -> bool {
        match self {
            ProviderError::Http { status, .. } => *status == 429 || *status >= 500,
            ProviderError::Timeout { .. } | ProviderError::Network { .. } => true,
            _ => false,
        }
    }
}

pub trait Writer: Send + Sync {
    /// Provider name for drops and status (`offline`, `openai`, ...).
    fn name(&self) -> &str;
    fn model(&self) -> &str;
    fn write<'a>(&'a self, req: &'a WriteRequest) -> BoxFuture<'a, Result<Written, ProviderError>>;
}

pub trait Search: Send + Sync {
    fn name(&self) -> &str;
    fn search<'a>(
        &'a self,
        query: &'a str,
        results: usize,
    ) -> BoxFuture<'a, Result<Vec<SearchHit>, ProviderError>>;
}

pub trait Fetch: Send + Sync {
    fn fetch<'a>(&'a self, url: &'a str) -> BoxFuture<'a, Result<Page, ProviderError>>;
}

/// Prompt budget used when a request arrives without a built prompt.
pub use build::build;
