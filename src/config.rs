//! `expand.yaml`, layered: defaults → file → `EXPAND_*` environment → flags.
//! Unknown keys are errors that name the key and its line.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    pub knowledge_dir: String,
    pub plans_dir: String,
    pub drops_dir: String,
    pub completed_dir: String,
    /// File name of an archived plan inside `completed/<slug>/` (`plan.md`; a
    /// hand-run base may use `ingestion.md`).
    pub completed_plan_name: String,
    pub batch_size: usize,
    pub retries: u32,
    /// `run --all` as one rolling window rather than batch after batch.
    pub window: bool,
    pub writer: Writer,
    pub search: Search,
    pub fetch: Fetch,
    pub budget: Budget,
    pub prices: BTreeMap<String, Price>,
    pub git: Git,
    pub index: Index,
    pub audit: Audit,
}

/// The knowledge folder of a workspace that does not name one.
pub const DEFAULT_KNOWLEDGE_DIR: &str = "knowledge";

impl Default for Config {
    fn default() -> Self {
        Config {
            knowledge_dir: DEFAULT_KNOWLEDGE_DIR.into(),
            plans_dir: "plans".into(),
            drops_dir: "drops".into(),
            completed_dir: "completed".into(),
            completed_plan_name: "plan.md".into(),
            batch_size: 4,
            retries: 1,
            window: false,
            writer: Writer::default(),
            search: Search::default(),
            fetch: Fetch::default(),
            budget: Budget::default(),
            prices: BTreeMap::new(),
            git: Git::default(),
            index: Index::default(),
            audit: Audit::default(),
        }
    }
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct Writer {
    /// offline | openai | anthropic | command
    pub kind: String,
    pub base_url: Option<String>,
    pub model: Option<String>,
    /// Name of the environment variable holding the API key (never the key itself).
    pub api_key_env: Option<String>,
    pub max_tokens: Option<u32>,
    pub temperature: Option<f32>,
    pub timeout_s: u64,
    /// For `command`: the program and its arguments.
    pub command: Option<Vec<String>>,
    /// Largest answer read from a writer (and any provider's API), in bytes;
    /// a larger one fails the request. A command writer's stdout too.
    pub max_bytes: u64,
    /// Stream answers as server-sent events (`openai`, `anthropic`).
    pub stream: bool,
    /// A streamed answer that sends nothing for this long fails the attempt
    /// (retried); `timeout_s` still bounds the whole request.
    pub idle_timeout_s: u64,
    /// auto | whole | sections: one request for the whole file, or one per
    /// planned section; `auto` writes by section when the planned length
    /// cannot fit in one answer of `max_tokens`.
    pub mode: String,
    /// Section requests of one PART in flight at once.
    pub parallel_sections: usize,
    /// Writer requests in flight at once across every runner.
    pub max_in_flight: usize,
    /// Times an answer that stopped on the token limit is continued.
    pub continuations: u32,
    /// `openai`: the name of the output-token limit in the request body:
    /// auto (`max_completion_tokens` for api.openai.com, else `max_tokens`)
    /// | max_tokens | max_completion_tokens.
    pub token_param: String,
    /// More request headers (OpenRouter's `HTTP-Referer`, a gateway's
    /// routing header). Not for keys: those come from `api_key_env`.
    pub headers: BTreeMap<String, String>,
    /// More fields merged into the request body (vLLM's `top_k`, a
    /// gateway's options); they replace fields expand sets.
    pub extra_body: BTreeMap<String, serde_json::Value>,
}

impl Default for Writer {
    fn default() -> Self {
        Writer {
            kind: "offline".into(),
            base_url: None,
            model: None,
            api_key_env: None,
            max_tokens: None,
            temperature: None,
            timeout_s: 600,
            command: None,
            max_bytes: crate::providers::http::DEFAULT_MAX_BODY,
            stream: true,
            idle_timeout_s: 120,
            mode: "auto".into(),
            parallel_sections: 4,
            max_in_flight: 8,
            continuations: 4,
            token_param: "auto".into(),
            headers: BTreeMap::new(),
            extra_body: BTreeMap::new(),
        }
    }
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct Search {
    /// offline | searxng | brave | tavily | brightdata
    pub kind: String,
    pub base_url: Option<String>,
    pub api_key_env: Option<String>,
    pub results: usize,
    pub timeout_s: u64,
    /// Bright Data: the SERP API zone the searches go through.
    pub zone: Option<String>,
    /// Bright Data: the two-letter country whose results Google gives
    /// (its `gl` parameter).
    pub country: Option<String>,
}

impl Default for Search {
    fn default() -> Self {
        Search {
            kind: "offline".into(),
            base_url: None,
            api_key_env: None,
            results: 5,
            timeout_s: 30,
            zone: None,
            country: None,
        }
    }
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct Fetch {
    pub enabled: bool,
    /// Who fetches a page: this machine, or Bright Data's Web Unlocker.
    pub via: FetchVia,
    /// Bright Data: the Web Unlocker zone pages are fetched through.
    pub zone: Option<String>,
    /// Bright Data: the variable holding the key; else the search's, when
    /// the search is Bright Data too, else `BRIGHTDATA_API_KEY`.
    pub api_key_env: Option<String>,
    /// Bright Data: the API's address; else the search's, when the search
    /// is Bright Data too, else `https://api.brightdata.com`.
    pub base_url: Option<String>,
    pub max_bytes: u64,
    pub timeout_s: u64,
    pub per_host: usize,
    /// Fetch pages on loopback, private and link-local addresses too (an
    /// intranet, tests). Off, only public addresses are fetched.
    pub allow_private: bool,
}

impl Default for Fetch {
    fn default() -> Self {
        Fetch {
            enabled: true,
            via: FetchVia::Direct,
            zone: None,
            api_key_env: None,
            base_url: None,
            max_bytes: 2_000_000,
            timeout_s: 30,
            per_host: 2,
            allow_private: false,
        }
    }
}

/// `fetch.via`. An enum, so that an unknown value is an error naming the
/// key and its line when the file is read, like an unknown key.
#[derive(Clone, Copy, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum FetchVia {
    /// From this machine (reqwest; public addresses only).
    #[default]
    Direct,
    /// Through Bright Data's Web Unlocker, which answers with markdown.
    Brightdata,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct Budget {
    pub max_cost: Option<f64>,
    pub max_tokens: Option<u64>,
    pub prompt_tokens: u64,
}

impl Default for Budget {
    fn default() -> Self {
        Budget {
            max_cost: None,
            max_tokens: None,
            prompt_tokens: 24_000,
        }
    }
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Default)]
#[serde(deny_unknown_fields)]
pub struct Price {
    pub input_per_mtok: f64,
    pub output_per_mtok: f64,
    /// Prompt tokens read from the provider's cache; the input price when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache_read_per_mtok: Option<f64>,
    /// Prompt tokens written to the provider's cache; the input price when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache_write_per_mtok: Option<f64>,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct Git {
    pub commit: bool,
    pub author_name: Option<String>,
    pub author_email: Option<String>,
}

impl Default for Git {
    fn default() -> Self {
        Git {
            commit: true,
            author_name: None,
            author_email: None,
        }
    }
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct Index {
    /// root: `knowledge/INDEX.md`; per-folder: `<folder>/INDEX.md`.
    pub mode: String,
}

impl Default for Index {
    fn default() -> Self {
        Index {
            mode: "root".into(),
        }
    }
}

/// Where `expand audit` looks besides the standard folders, for knowledge
/// bases that expand did not make. Globs are workspace-relative; `*` matches
/// within one path segment.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Default)]
#[serde(deny_unknown_fields, default)]
pub struct Audit {
    /// More plan files, e.g. `_ingest-auto/inprocess/*/ingestion.md`.
    pub plans: Vec<String>,
    /// More KNOWLEDGE-DROP files, e.g. `_KNOWLEDGE-DROPS/*.md`.
    pub drops: Vec<String>,
    /// Folders under the knowledge root that hold no knowledge, e.g. `_ingest`.
    pub exclude: Vec<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("failed to read `{path}`: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("`{path}`{at}: {message}")]
    Invalid {
        path: PathBuf,
        at: String,
        message: String,
    },
    #[error("environment variable `{var}`: {message}")]
    Env { var: String, message: String },
}

pub const FILE_NAME: &str = "expand.yaml";

impl Config {
    /// Load `root/expand.yaml` (if present) and apply `EXPAND_*` overrides from `env`.
    pub fn load(
        root: &Path,
        env: impl Iterator<Item = (String, String)>,
    ) -> Result<Config, ConfigError> {
        let path = root.join(FILE_NAME);
        let text = match std::fs::read_to_string(&path) {
            Ok(text) => Some(text),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(source) => return Err(ConfigError::Io { path, source }),
        };
        Config::from_text(&path, text.as_deref(), env)
    }

    /// The configuration from the text of `path` (`None`: no file) and the
    /// `EXPAND_*` overrides in `env`.
    pub fn from_text(
        path: &Path,
        text: Option<&str>,
        env: impl Iterator<Item = (String, String)>,
    ) -> Result<Config, ConfigError> {
        let path = path.to_path_buf();
        let mut value = match text {
            Some(text) if text.trim().is_empty() => serde_yaml::Value::Mapping(Default::default()),
            Some(text) => {
                let v = serde_yaml::from_str::<serde_yaml::Value>(text)
                    .map_err(|e| invalid(&path, &e))?;
                // Validate the file alone first, so errors carry its line numbers.
                serde_yaml::from_str::<Config>(text).map_err(|e| invalid(&path, &e))?;
                v
            }
            None => serde_yaml::Value::Mapping(Default::default()),
        };
        if value.is_null() {
            value = serde_yaml::Value::Mapping(Default::default());
        }
        let mut env: Vec<(String, String)> = env
            .filter(|(k, _)| k.starts_with("EXPAND_") && k.len() > 7)
            .collect();
        env.sort();
        let known: std::collections::BTreeSet<String> = match serde_yaml::to_value(Config::default())
        {
            Ok(serde_yaml::Value::Mapping(m)) => m
                .keys()
                .filter_map(|k| k.as_str().map(str::to_string))
                .collect(),
            _ => Default::default(),
        };
        for (var, raw) in env {
            let key = var["EXPAND_".len()..].to_lowercase();
            // Only variables that name a config key (EXPAND_LOG, EXPAND_FAULT,
            // EXPAND_SHARED … belong to other parts of the tool).
            let top = key.split("__").next().unwrap_or("");
            if !known.contains(top) {
                continue;
            }
            let parts: Vec<&str> = key.split("__").collect();
            let parsed: serde_yaml::Value =
                serde_yaml::from_str(&raw).unwrap_or(serde_yaml::Value::String(raw.clone()));
            set_path(&mut value, &parts, parsed);
            serde_yaml::from_value::<Config>(value.clone()).map_err(|e| ConfigError::Env {
                var: var.clone(),
                message: e.to_string(),
            })?;
        }
        let cfg: Config = serde_yaml::from_value(value).map_err(|e| invalid(&path, &e))?;
        cfg.check().map_err(|(key, message)| ConfigError::Invalid {
            at: text
                .and_then(|t| line_of(t, key))
                .map(|l| format!(":{l}"))
                .unwrap_or_default(),
            path: shown(&path),
            message,
        })?;
        Ok(cfg)
    }

    /// Values serde cannot check: `Err((key path, message))`.
    fn check(&self) -> Result<(), (&'static str, String)> {
        if self.batch_size == 0 || self.batch_size > 64 {
            return Err((
                "batch_size",
                format!(
                    "batch_size must be between 1 and 64, not {}",
                    self.batch_size
                ),
            ));
        }
        use crate::providers::build::{SEARCH_KINDS, WRITER_KINDS};
        for (key, kind, valid) in [
            ("writer.kind", &self.writer.kind, WRITER_KINDS),
            ("search.kind", &self.search.kind, SEARCH_KINDS),
        ] {
            if !valid.contains(&kind.as_str()) {
                let near = crate::report::nearest(kind, valid.iter().copied())
                    .map(|n| format!("did you mean `{n}`? "))
                    .unwrap_or_default();
                return Err((
                    key,
                    format!(
                        "unknown {key} `{kind}`: {near}the kinds are {}",
                        valid.join(", ")
                    ),
                ));
            }
        }
        for (k, v) in [
            ("knowledge_dir", &self.knowledge_dir),
            ("plans_dir", &self.plans_dir),
            ("drops_dir", &self.drops_dir),
            ("completed_dir", &self.completed_dir),
        ] {
            if v != "." {
                crate::fsutil::check_relative(v).map_err(|e| (k, format!("{k} `{v}` {e}")))?;
            }
        }
        self.check_writer()?;
        if !matches!(self.index.mode.as_str(), "root" | "per-folder") {
            return Err((
                "index.mode",
                format!(
                    "index.mode must be `root` or `per-folder`, not `{}`",
                    self.index.mode
                ),
            ));
        }
        Ok(())
    }
}

impl Config {
    fn check_writer(&self) -> Result<(), (&'static str, String)> {
        let w = &self.writer;
        if !matches!(w.mode.as_str(), "auto" | "whole" | "sections") {
            return Err((
                "writer.mode",
                format!(
                    "writer.mode must be `auto`, `whole` or `sections`, not `{}`",
                    w.mode
                ),
            ));
        }
        if !matches!(
            w.token_param.as_str(),
            "auto" | "max_tokens" | "max_completion_tokens"
        ) {
            return Err((
                "writer.token_param",
                format!(
                    "writer.token_param must be `auto`, `max_tokens` or `max_completion_tokens`, not `{}`",
                    w.token_param
                ),
            ));
        }
        for (k, v) in [
            ("writer.parallel_sections", w.parallel_sections),
            ("writer.max_in_flight", w.max_in_flight),
        ] {
            if v == 0 || v > 256 {
                return Err((k, format!("{k} must be between 1 and 256, not {v}")));
            }
        }
        if w.continuations > 20 {
            return Err((
                "writer.continuations",
                format!(
                    "writer.continuations must be at most 20, not {}",
                    w.continuations
                ),
            ));
        }
        Ok(())
    }
}

fn invalid(path: &Path, e: &serde_yaml::Error) -> ConfigError {
    let at = e
        .location()
        .map(|l| format!(":{}", l.line()))
        .unwrap_or_default();
    let message = e.to_string();
    // serde_yaml appends " at line N column M"; the location is already in `at`.
    let message = match message.find(" at line ") {
        Some(p) => message[..p].to_string(),
        None => message,
    };
    ConfigError::Invalid {
        path: shown(path),
        at,
        message: suggest(&message),
    }
}

/// serde's "unknown field `batch_sise`, expected one of `a`, `b`, …" (and
/// "unknown variant"): the nearest name when one is near, else the list.
fn suggest(message: &str) -> String {
    for (what, say) in [("unknown field `", "key"), ("unknown variant `", "value")] {
        let Some(rest) = message.strip_prefix(what) else {
            continue;
        };
        let Some((typed, rest)) = rest.split_once('`') else {
            continue;
        };
        let valid: Vec<&str> = rest.split('`').skip(1).step_by(2).collect();
        if let Some(near) = crate::report::nearest(typed, valid.iter().copied()) {
            return format!("unknown {say} `{typed}`: did you mean `{near}`?");
        }
        return format!(
            "unknown {say} `{typed}`; {}",
            rest.trim_start_matches([',', ' '])
        );
    }
    message.to_string()
}

/// The line of `text` that sets `key` (`writer.kind`: the first `kind:`
/// after a line `writer:`), 1-based.
fn line_of(text: &str, key: &str) -> Option<usize> {
    let mut parts = key.split('.').peekable();
    let mut want = parts.next()?;
    for (i, line) in text.lines().enumerate() {
        let t = line.trim_start();
        if t.starts_with('#') {
            continue;
        }
        let sets = t
            .strip_prefix(want)
            .is_some_and(|r| r.trim_start().starts_with(':'))
            || t.contains(&format!("{{ {want}:"))
            || t.contains(&format!(", {want}:"));
        if sets {
            match parts.next() {
                None => return Some(i + 1),
                Some(next) => {
                    // `writer: { kind: x }` on one line.
                    if t.contains(&format!("{next}:")) && t.contains('{') {
                        return Some(i + 1);
                    }
                    want = next;
                }
            }
        }
    }
    None
}

/// A path as the user would type it: relative to the current folder when
/// inside it.
fn shown(path: &Path) -> PathBuf {
    std::env::current_dir()
        .ok()
        .and_then(|cwd| path.strip_prefix(&cwd).ok().map(Path::to_path_buf))
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or_else(|| path.to_path_buf())
}

fn set_path(v: &mut serde_yaml::Value, parts: &[&str], new: serde_yaml::Value) {
    if parts.is_empty() {
        *v = new;
        return;
    }
    if !v.is_mapping() {
        *v = serde_yaml::Value::Mapping(Default::default());
    }
    let map = v.as_mapping_mut().expect("a mapping");
    let key = serde_yaml::Value::String(parts[0].to_string());
    let entry = map.entry(key).or_insert(serde_yaml::Value::Null);
    set_path(entry, &parts[1..], new);
}

/// The text `expand init` writes: every key, commented.
pub const TEMPLATE: &str = r#"# expand.yaml: every key is optional; a value shown is the default, unless it says "e.g." or "required".
# Environment variables override the file: EXPAND_BATCH_SIZE=2, EXPAND_WRITER__MODEL=gpt-4o.

# knowledge_dir: knowledge      # "." when the base's root is the knowledge tree
# plans_dir: plans
# drops_dir: drops
# completed_dir: completed      # e.g. _ingest-auto/completed for a hand-run base
# completed_plan_name: plan.md  # e.g. ingestion.md
# batch_size: 4                 # runners at once (and PARTs per batch when a plan declares none)
# retries: 1                    # extra attempts for a failed PART
# window: false                 # run --all as a rolling window: a PART starts as soon as a
#                               # runner is free and its dependencies are done, no wait
#                               # between batches (and no review between them)

# writer:
#   kind: offline               # offline | openai | anthropic | command
#   base_url: https://api.openai.com/v1
#   model: gpt-4o-mini          # required for openai and anthropic (no default), e.g. gpt-4o-mini
#   api_key_env: OPENAI_API_KEY # the variable's NAME; keys never go in this file
#   max_tokens: 8000
#   temperature: 0.2
#   timeout_s: 600
#   command: ["my-agent", "--print"]   # for kind: command
#   max_bytes: 4194304          # largest answer (or command stdout) accepted; more fails the request
#   stream: true                # openai/anthropic: stream the answer (server-sent events)
#   idle_timeout_s: 120         # a stream that sends nothing this long is retried (timeout_s bounds the whole)
#   mode: auto                  # auto | whole | sections (one request per planned section; auto: when
#                               # the planned length cannot fit in one answer of max_tokens)
#   parallel_sections: 4        # section requests of one PART at once
#   max_in_flight: 8            # writer requests at once across all runners
#   continuations: 4            # an answer cut at max_tokens is continued at most this often
#   token_param: auto           # openai: max_tokens | max_completion_tokens (auto: the latter for api.openai.com)
#   headers: {}                 # more request headers, e.g. { HTTP-Referer: "https://example.org" }
#   extra_body: {}              # more request body fields, e.g. { top_k: 20 }

# search:
#   kind: offline               # offline | searxng | brave | tavily | brightdata
#   base_url: http://localhost:8888
#   api_key_env: BRAVE_API_KEY
#   results: 5
#   timeout_s: 30
#   zone: serp_api1             # brightdata: the SERP API zone
#   country: us                 # brightdata: results as Google gives them in this country (gl)

# fetch:
#   enabled: true
#   via: direct                 # direct | brightdata (pages through the Web Unlocker, as markdown)
#   zone: web_unlocker1         # via brightdata: the Web Unlocker zone
#   api_key_env: BRIGHTDATA_API_KEY  # via brightdata: default the search's key when it is brightdata too
#   base_url: https://api.brightdata.com  # via brightdata: default the search's base_url likewise
#   max_bytes: 2000000
#   timeout_s: 30
#   per_host: 2
#   allow_private: false        # true also fetches loopback/private/link-local addresses (intranets)

# budget:
#   max_cost: null              # stop starting PARTs past this many dollars (every run of a plan counts)
#   max_tokens: null            # the same in writer tokens, in and out
#   prompt_tokens: 24000

# prices:
#   gpt-4o-mini: { input_per_mtok: 0.15, output_per_mtok: 0.60 }
#   claude-sonnet-4-5: { input_per_mtok: 3.0, output_per_mtok: 15.0, cache_read_per_mtok: 0.30, cache_write_per_mtok: 3.75 }

# git:
#   commit: true
#   author_name: null           # default: git config user.name
#   author_email: null

# index:
#   mode: root                  # root: knowledge/INDEX.md; per-folder: <folder>/INDEX.md

# audit:                        # extra places for `expand audit` (workspace-relative globs)
#   plans: []                   # e.g. ["_ingest-auto/inprocess/*/ingestion.md"]
#   drops: []                   # e.g. ["_KNOWLEDGE-DROPS/*.md"]
#   exclude: []                 # knowledge-root folders that are not knowledge, e.g. ["_ingest"]
"#;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_template_and_env() {
        let d = tempfile::tempdir().unwrap();
        std::fs::write(d.path().join(FILE_NAME), TEMPLATE).unwrap();
        let c = Config::load(d.path(), std::iter::empty()).unwrap();
        assert_eq!(c, Config::default());
        // Safe unless asked: public pages only, answers capped.
        assert!(!c.fetch.allow_private);
        assert_eq!(c.writer.max_bytes, 4 * 1024 * 1024);
        let env = vec![
            ("EXPAND_BATCH_SIZE".to_string(), "2".to_string()),
            ("EXPAND_WRITER__MODEL".to_string(), "m".to_string()),
        ];
        let c = Config::load(d.path(), env.into_iter()).unwrap();
        assert_eq!(c.batch_size, 2);
        assert_eq!(c.writer.model.as_deref(), Some("m"));
    }

    #[test]
    fn unknown_key_names_key_and_line() {
        let d = tempfile::tempdir().unwrap();
        std::fs::write(
            d.path().join(FILE_NAME),
            "batch_size: 3\nwriter:\n  modle: x\n",
        )
        .unwrap();
        let e = Config::load(d.path(), std::iter::empty())
            .unwrap_err()
            .to_string();
        assert!(e.contains("modle") && e.contains(":3"), "{e}");
    }

    #[test]
    fn fetch_via_takes_known_values_and_names_an_unknown_one() {
        let d = tempfile::tempdir().unwrap();
        let write = |text: &str| std::fs::write(d.path().join(FILE_NAME), text).unwrap();
        write("fetch:\n  via: brightdata\n  zone: unlocker\n");
        let c = Config::load(d.path(), std::iter::empty()).unwrap();
        assert_eq!(c.fetch.via, FetchVia::Brightdata);
        assert_eq!(c.fetch.zone.as_deref(), Some("unlocker"));
        write("batch_size: 2\nfetch:\n  enabled: true\n  via: proxy\n");
        let e = Config::load(d.path(), std::iter::empty())
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("fetch.via") && e.contains("`proxy`") && e.contains(":4"),
            "{e}"
        );
        assert!(e.contains("direct") && e.contains("brightdata"), "{e}");
        let env = vec![("EXPAND_FETCH__VIA".to_string(), "brightdata".to_string())];
        write("");
        let c = Config::load(d.path(), env.into_iter()).unwrap();
        assert_eq!(c.fetch.via, FetchVia::Brightdata);
    }
}
