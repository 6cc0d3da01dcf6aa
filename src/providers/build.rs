//! Which provider runs, decided by config: the factories the runner calls.
//! `offline` yields `None` so the caller plugs in its offline provider.
//!
//! Config examples (for the README):
//!
//! ```yaml
//! # OpenAI
//! writer: { kind: openai, model: gpt-4o-mini, api_key_env: OPENAI_API_KEY }
//! # a local vLLM / llama.cpp / Ollama server (no key)
//! writer: { kind: openai, base_url: "http://localhost:11434/v1", model: llama3.1 }
//! # Anthropic (api_key_env defaults to ANTHROPIC_API_KEY)
//! writer: { kind: anthropic, model: claude-sonnet-4-5, max_tokens: 8000 }
//! # an agent CLI: prompt on stdin, file on stdout
//! writer: { kind: command, command: ["my-agent", "--print"], timeout_s: 900 }
//! search: { kind: searxng, base_url: "http://localhost:8888" }
//! search: { kind: brave, api_key_env: BRAVE_API_KEY }
//! search: { kind: tavily, api_key_env: TAVILY_API_KEY }
//! # Bright Data: SERP API searches, pages through the Web Unlocker
//! search: { kind: brightdata, zone: serp_api1, api_key_env: BRIGHTDATA_API_KEY }
//! fetch: { via: brightdata, zone: web_unlocker1 }
//! ```

use std::path::Path;
use std::sync::Arc;

use super::anthropic::Anthropic;
use super::brave::Brave;
use super::brightdata::{BrightDataSearch, Unlocker};
use super::command::CommandWriter;
use super::fetch::Fetcher;
use super::http::{Http, HttpOptions};
use super::openai::OpenAi;
use super::searxng::Searxng;
use super::tavily::Tavily;
use super::{Fetch, ProviderError, Search, Writer};
use crate::config::{Config, FetchVia};

pub const WRITER_KINDS: &[&str] = &["offline", "openai", "anthropic", "command"];
pub const SEARCH_KINDS: &[&str] = &["offline", "searxng", "brave", "tavily", "brightdata"];

/// One shared client (cache, concurrency cap, body cap) for every provider of a run.
pub fn shared_http(cfg: &Config, cache_dir: &Path) -> Result<Arc<Http>, ProviderError> {
    Ok(Arc::new(Http::new(
        Some(cache_dir),
        HttpOptions::for_config(cfg),
    )?))
}

/// The network writer for `cfg.writer.kind`, or `None` for `offline`.
pub fn network_writer(
    cfg: &Config,
    cache_dir: &Path,
) -> Result<Option<Arc<dyn Writer>>, ProviderError> {
    network_writer_with(cfg, shared_http(cfg, cache_dir)?)
}

/// The network search for `cfg.search.kind`, or `None` for `offline`.
pub fn network_search(
    cfg: &Config,
    cache_dir: &Path,
) -> Result<Option<Arc<dyn Search>>, ProviderError> {
    network_search_with(cfg, shared_http(cfg, cache_dir)?)
}

/// The page fetcher (`fetch.enabled` is the caller's to check).
pub fn fetcher(cfg: &Config, cache_dir: &Path) -> Result<Arc<dyn Fetch>, ProviderError> {
    fetcher_with(cfg, shared_http(cfg, cache_dir)?)
}

pub fn network_writer_with(
    cfg: &Config,
    http: Arc<Http>,
) -> Result<Option<Arc<dyn Writer>>, ProviderError> {
    let w = &cfg.writer;
    Ok(match w.kind.as_str() {
        "offline" => None,
        "openai" => Some(Arc::new(OpenAi::new(w, http)?)),
        "anthropic" => Some(Arc::new(Anthropic::new(w, http)?)),
        "command" => Some(Arc::new(CommandWriter::new(w)?)),
        other => return Err(unknown("writer.kind", other, WRITER_KINDS)),
    })
}

pub fn network_search_with(
    cfg: &Config,
    http: Arc<Http>,
) -> Result<Option<Arc<dyn Search>>, ProviderError> {
    let s = &cfg.search;
    Ok(match s.kind.as_str() {
        "offline" => None,
        "searxng" => Some(Arc::new(Searxng::new(s, http))),
        "brave" => Some(Arc::new(Brave::new(s, http)?)),
        "tavily" => Some(Arc::new(Tavily::new(s, http)?)),
        "brightdata" => Some(Arc::new(BrightDataSearch::new(s, http)?)),
        other => return Err(unknown("search.kind", other, SEARCH_KINDS)),
    })
}

/// The page fetcher `fetch.via` names.
pub fn fetcher_with(cfg: &Config, http: Arc<Http>) -> Result<Arc<dyn Fetch>, ProviderError> {
    Ok(match cfg.fetch.via {
        FetchVia::Direct => Arc::new(Fetcher::new(&cfg.fetch, http)),
        FetchVia::Brightdata => Arc::new(Unlocker::new(cfg, http)?),
    })
}

fn unknown(key: &str, kind: &str, valid: &[&str]) -> ProviderError {
    ProviderError::Config(format!(
        "unknown {key} `{kind}`; valid kinds: {}",
        valid.join(", ")
    ))
}

/// A run's writer, search and (when fetching is on) page fetcher.
pub type Providers = (Arc<dyn Writer>, Arc<dyn Search>, Option<Arc<dyn Fetch>>);

/// The writer, search and fetcher of a run: offline ones over the knowledge
/// base's index (made by `index`, called only when an offline provider is
/// used), or the network ones from config. `writer_override` is `--provider`.
pub fn build(
    cfg: &Config,
    writer_override: Option<&str>,
    index: impl FnOnce() -> crate::knowledge::bm25::Bm25,
    cache_dir: &Path,
) -> anyhow::Result<Providers> {
    use super::offline::{OfflineSearch, OfflineWriter};
    let mut cfg = cfg.clone();
    if let Some(w) = writer_override {
        cfg.writer.kind = w.to_string();
    }
    let bad = |e: ProviderError| crate::error::bad_input(e.to_string());
    let needs_index = cfg.writer.kind == "offline" || cfg.search.kind == "offline";
    let index = needs_index.then(|| Arc::new(index()));
    let http =
        shared_http(&cfg, cache_dir).map_err(|e| crate::error::environment(e.to_string()))?;
    let writer: Arc<dyn Writer> = match network_writer_with(&cfg, Arc::clone(&http)).map_err(bad)? {
        Some(w) => w,
        None => Arc::new(OfflineWriter::new(Arc::clone(
            index.as_ref().expect("offline needs the index"),
        ))),
    };
    let search: Arc<dyn Search> = match network_search_with(&cfg, Arc::clone(&http)).map_err(bad)? {
        Some(s) => s,
        None => Arc::new(OfflineSearch::new(Arc::clone(
            index.as_ref().expect("offline needs the index"),
        ))),
    };
    // Offline research reads the knowledge base; there is nothing to fetch.
    let fetch = match cfg.fetch.enabled && cfg.search.kind != "offline" {
        true => Some(fetcher_with(&cfg, http).map_err(bad)?),
        false => None,
    };
    Ok((writer, search, fetch))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offline_is_none_and_unknown_kinds_are_named() {
        let d = tempfile::tempdir().unwrap();
        let cfg = Config::default();
        assert!(network_writer(&cfg, d.path()).unwrap().is_none());
        assert!(network_search(&cfg, d.path()).unwrap().is_none());
        let mut bad = Config::default();
        bad.writer.kind = "gpt".into();
        let e = network_writer(&bad, d.path()).err().unwrap().to_string();
        assert!(e.contains("`gpt`") && e.contains("anthropic"), "{e}");
        bad.search.kind = "google".into();
        let e = network_search(&bad, d.path()).err().unwrap().to_string();
        assert!(e.contains("`google`") && e.contains("searxng"), "{e}");
    }

    #[test]
    fn missing_model_or_key_is_a_config_error() {
        let d = tempfile::tempdir().unwrap();
        let mut cfg = Config::default();
        cfg.writer.kind = "openai".into();
        let e = network_writer(&cfg, d.path()).err().unwrap().to_string();
        assert!(e.contains("writer.model"), "{e}");
        cfg.writer.model = Some("m".into());
        cfg.writer.api_key_env = Some("EXPAND_TEST_SURELY_UNSET_VAR_42".into());
        let e = network_writer(&cfg, d.path()).err().unwrap().to_string();
        assert!(e.contains("EXPAND_TEST_SURELY_UNSET_VAR_42"), "{e}");
        cfg.writer.kind = "command".into();
        assert!(network_writer(&cfg, d.path()).is_err());
    }

    #[test]
    fn bright_data_fetch_needs_its_zone_and_takes_the_search_key() {
        let d = tempfile::tempdir().unwrap();
        let mut cfg = Config::default();
        cfg.fetch.via = FetchVia::Brightdata;
        let e = fetcher(&cfg, d.path()).err().unwrap().to_string();
        assert!(e.contains("fetch.zone"), "{e}");
        cfg.fetch.zone = Some("unlocker".into());
        // One account: the search's key variable, when it is Bright Data too.
        cfg.search.kind = "brightdata".into();
        cfg.search.zone = Some("serp".into());
        cfg.search.api_key_env = Some("EXPAND_TEST_SURELY_UNSET_BD_43".into());
        let e = fetcher(&cfg, d.path()).err().unwrap().to_string();
        assert!(
            e.contains("EXPAND_TEST_SURELY_UNSET_BD_43") && e.contains("search.api_key_env"),
            "{e}"
        );
        let e = network_search(&cfg, d.path()).err().unwrap().to_string();
        assert!(e.contains("EXPAND_TEST_SURELY_UNSET_BD_43"), "{e}");
        // Another search's key is not Bright Data's.
        cfg.search.kind = "brave".into();
        cfg.fetch.api_key_env = Some("EXPAND_TEST_SURELY_UNSET_BD_44".into());
        let e = fetcher(&cfg, d.path()).err().unwrap().to_string();
        assert!(
            e.contains("EXPAND_TEST_SURELY_UNSET_BD_44") && e.contains("fetch.api_key_env"),
            "{e}"
        );
    }
}
