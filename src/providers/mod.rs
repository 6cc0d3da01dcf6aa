//! Providers: who writes a knowledge file (`Writer`), who answers a web search
//! (`Search`), who fetches a page (`Fetch`). The scheduler and the steps only
//! see these traits; which provider runs is decided by config in `build`.

pub mod anthropic;
pub mod brave;
pub mod brightdata;
pub mod build;
pub mod command;
pub mod cost;
pub mod fetch;
pub mod http;
pub mod meter;
pub mod nesting;
pub mod netguard;
pub mod offline;
pub mod openai;
pub mod prompt;
pub mod respcache;
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
    /// How many bytes at the start of `prompt` other requests for the same
    /// PART repeat word for word (its section requests, its continuations):
    /// a writer that can cache a prompt prefix caches that much. 0: none.
    pub shared_prefix: usize,
    /// The answer so far, when it stopped on the writer's token limit: the
    /// writer sends it back and asks the model to go on from its last word.
    pub so_far: Option<String>,
    /// Knowledge files the plan's CITE lines name (`CITE: Files 1,5,9
    /// explicitly`): the file must cite each one it can see.
    pub must_cite: Vec<String>,
}

impl WriteRequest {
    /// The prompt's cacheable prefix and the rest (see `shared_prefix`).
    pub fn split_prompt(&self) -> (&str, &str) {
        let at = self.shared_prefix.min(self.prompt.len());
        match self.prompt.is_char_boundary(at) {
            true => self.prompt.split_at(at),
            false => ("", self.prompt.as_str()),
        }
    }
}

#[derive(Clone, Debug, Serialize)]
pub struct SectionBrief {
    pub title: String,
    pub expected_lines: Option<u32>,
    pub brief: Vec<String>,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct Usage {
    /// Every prompt token, cached or not.
    pub input_tokens: u64,
    pub output_tokens: u64,
    /// Of `input_tokens`, those read from the provider's prompt cache
    /// (priced at `cache_read_per_mtok`).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub cache_read_tokens: u64,
    /// Of `input_tokens`, those written to the provider's prompt cache
    /// (priced at `cache_write_per_mtok`).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub cache_write_tokens: u64,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

impl Usage {
    /// Tokens in and out, as the provider reports them (no cache field).
    pub fn new(input_tokens: u64, output_tokens: u64) -> Usage {
        Usage {
            input_tokens,
            output_tokens,
            ..Usage::default()
        }
    }

    /// Tokens in and out: what budgets and summaries count.
    pub fn total(&self) -> u64 {
        self.input_tokens + self.output_tokens
    }

    /// The usage of two calls together (a write and its repair).
    pub fn plus(&self, other: &Usage) -> Usage {
        Usage {
            input_tokens: self.input_tokens + other.input_tokens,
            output_tokens: self.output_tokens + other.output_tokens,
            cache_read_tokens: self.cache_read_tokens + other.cache_read_tokens,
            cache_write_tokens: self.cache_write_tokens + other.cache_write_tokens,
        }
    }
}

/// Why a writer's answer ended.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Finish {
    /// The model finished (or the writer cannot tell: a command).
    #[default]
    Stop,
    /// It stopped on the token limit (OpenAI `finish_reason: "length"`,
    /// Anthropic `stop_reason: "max_tokens"`): the answer is cut off.
    Length,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Written {
    pub text: String,
    pub usage: Usage,
    pub model: String,
    #[serde(default)]
    pub finish: Finish,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct SearchHit {
    pub title: String,
    pub url: String,
    pub snippet: String,
}

impl SearchHit {
    /// Hits from a search API's JSON result objects (the URL under
    /// `url_key`, `title` and the snippet under `snippet_key`), at most
    /// `results`, `clean` applied to the title and snippet. Results without
    /// a URL are skipped.
    pub(crate) fn from_json(
        items: &[serde_json::Value],
        url_key: &str,
        snippet_key: &str,
        results: usize,
        clean: fn(&str) -> String,
    ) -> Vec<SearchHit> {
        items
            .iter()
            .filter_map(|r| {
                Some(SearchHit {
                    url: r[url_key].as_str()?.to_string(),
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
        Ok(Self::from_json(
            items,
            "url",
            "content",
            results,
            str::to_string,
        ))
    }
}

/// `writer.headers` as a request sends them, in name order.
pub(crate) fn extra_headers(
    headers: &std::collections::BTreeMap<String, String>,
) -> Vec<(String, String)> {
    headers
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
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
    /// A streamed answer stopped sending (`writer.idle_timeout_s`).
    #[error("{what} sent nothing for {secs} s (writer.idle_timeout_s)")]
    Stalled { what: String, secs: u64 },
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
    /// The account behind a provider is not set up for what config asks:
    /// its key refused, a zone that does not exist or is of another
    /// product. No retry changes that, so the PART fails at once and the
    /// run exits 3 (environment), showing `hint`.
    #[error("{what}: {message}")]
    Setup {
        what: String,
        message: String,
        hint: String,
    },
}

impl ProviderError {
    /// A 400 (or 413) saying the prompt is longer than the model's context:
    /// the same request with less evidence may fit. The wordings of OpenAI,
    /// Anthropic, vLLM, llama.cpp and OpenRouter.
    pub fn context_overflow(&self) -> bool {
        let ProviderError::Http {
            status: 400 | 413,
            message,
            ..
        } = self
        else {
            return false;
        };
        let m = message.to_lowercase();
        [
            "context_length_exceeded",
            "maximum context length",
            "context length",
            "context window",
            "prompt is too long",
            "exceeds the available context",
            "too many tokens",
            "input is too long",
        ]
        .iter()
        .any(|p| m.contains(p))
    }

    pub fn retryable(&self) -> bool {
        match self {
            ProviderError::Http { status, .. } => *status == 429 || *status >= 500,
            ProviderError::Timeout { .. }
            | ProviderError::Stalled { .. }
            | ProviderError::Network { .. } => true,
            _ => false,
        }
    }

    /// The way out of a `Setup` error.
    pub fn setup_hint(&self) -> Option<&str> {
        match self {
            ProviderError::Setup { hint, .. } => Some(hint),
            _ => None,
        }
    }
}

pub trait Writer: Send + Sync {
    /// Provider name for drops and status (`offline`, `openai`, ...).
    fn name(&self) -> &str;
    fn model(&self) -> &str;
    fn write<'a>(&'a self, req: &'a WriteRequest) -> BoxFuture<'a, Result<Written, ProviderError>>;
    /// The most tokens one answer may hold (`writer.max_tokens`), for a
    /// language-model API that says when it stopped on it; `None` for a
    /// writer that never does (a command, the offline writer), which is
    /// always asked for the whole file at once.
    fn output_limit(&self) -> Option<u32> {
        None
    }
    /// Tokens in `text` as this writer's model counts them (estimated).
    fn count_tokens(&self, text: &str) -> u64 {
        prompt::estimate_tokens(text)
    }
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

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub(crate) fn request(prompt: &str) -> WriteRequest {
        crate::testing::write_request(prompt)
    }
}
