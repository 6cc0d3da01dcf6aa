//! Bright Data, the research tool the seed plans were run with: web search
//! through its SERP API (`search.kind: brightdata`) and page fetch through
//! its Web Unlocker (`fetch.via: brightdata`), which gets past pages that
//! block ordinary clients and answers with the page as markdown.
//!
//! Both are one `POST {base_url}/request` with the key as a bearer token and
//! a JSON body naming the zone (the account's product configuration) and the
//! URL Bright Data should fetch. The body holds no secret, so it is the cache
//! key as it is; the key travels in the `authorization` header only.
//!
//! Searches ask Google with `brd_json=1`, which makes Bright Data answer
//! with the page parsed to JSON; `search.country` becomes Google's `gl`
//! parameter, the documented way to say which country's results to give
//! (Bright Data's `country` field only picks where its proxy stands).
//!
//! Pages are fetched by Bright Data, not from this machine, so nothing here
//! resolves their names; a URL naming a loopback, private or local host is
//! still refused before it is sent (see `netguard`): no internal address of
//! the user's leaves the machine inside a request.
//!
//! Bright Data answers a zone that does not exist with HTTP 400 and a body
//! such as `zone "serp_api1" not found`, and a key it refuses with 401 or
//! 403: those are `Setup` errors naming the zone and the key's variable
//! (never the key), since no retry can change them. Bright Data bills per
//! request; `meter` counts the ones sent.

use std::sync::Arc;
use std::time::Duration;

use serde_json::{json, Value};

use super::fetch::HostPermits;
use super::http::{api_key, Http, Request, Response};
use super::{base_url, netguard, BoxFuture, Fetch, Page, ProviderError, Search, SearchHit};
use crate::config::{Config, FetchVia};

pub const DEFAULT_BASE_URL: &str = "https://api.brightdata.com";
pub const DEFAULT_KEY_ENV: &str = "BRIGHTDATA_API_KEY";
/// The provider's name in errors, logs and request counts.
pub const NAME: &str = "brightdata";
/// Where searches are sent (through Bright Data).
const GOOGLE: &str = "https://www.google.com/search";

/// The account: where its API answers, and its key.
struct Api {
    http: Arc<Http>,
    base: String,
    key: String,
    /// The variable the key came from, for messages.
    key_var: String,
    timeout: Duration,
}

impl Api {
    fn new(
        http: Arc<Http>,
        base: Option<&str>,
        key_var: &str,
        key_setting: &str,
        timeout_s: u64,
    ) -> Result<Api, ProviderError> {
        Ok(Api {
            http,
            base: base_url(base, DEFAULT_BASE_URL),
            key: api_key(key_var, key_setting)?,
            key_var: key_var.to_string(),
            timeout: Duration::from_secs(timeout_s.max(1)),
        })
    }

    fn request(&self, body: &Value) -> Request {
        Request::post_json(NAME, &format!("{}/request", self.base), body, self.timeout)
            .secret_header("authorization", &format!("Bearer {}", self.key), &self.key)
    }

    /// What a failed request means: a refused key or a zone that cannot be
    /// used become `Setup` errors naming `zone` (set by `setting`), of the
    /// `product` it should be; anything else stays as it is.
    fn explain(&self, e: ProviderError, zone: &str, setting: &str, product: &str) -> ProviderError {
        let ProviderError::Http {
            status, message, ..
        } = &e
        else {
            return e;
        };
        match status {
            401 | 403 => ProviderError::Setup {
                what: NAME.into(),
                message: format!(
                    "HTTP {status}: the key in `{}` was refused for zone `{zone}` ({setting}): {message}",
                    self.key_var
                ),
                hint: format!(
                    "check that `{}` holds a current Bright Data API key that may use zone `{zone}`",
                    self.key_var
                ),
            },
            400 | 404 if message.to_ascii_lowercase().contains("zone") => {
                zone_error(zone, setting, product, &format!("HTTP {status}: {message}"))
            }
            _ => e,
        }
    }
}

/// A zone that does not exist, or is not of `product`.
fn zone_error(zone: &str, setting: &str, product: &str, why: &str) -> ProviderError {
    ProviderError::Setup {
        what: NAME.into(),
        message: format!("zone `{zone}` ({setting}) cannot be used: {why}"),
        hint: format!(
            "set {setting} to the name of an active {product} zone of the account \
             (Bright Data's control panel lists them under Proxies & Scraping)"
        ),
    }
}

/// The zone named by `setting`, which must be set.
fn zone_of(
    zone: Option<&str>,
    setting: &str,
    kind: &str,
    product: &str,
) -> Result<String, ProviderError> {
    match zone.map(str::trim) {
        Some(z) if !z.is_empty() => Ok(z.to_string()),
        _ => Err(ProviderError::Config(format!(
            "{kind} needs `{setting}`, the name of a {product} zone of the Bright Data account"
        ))),
    }
}

/// Search through the SERP API.
pub struct BrightDataSearch {
    api: Api,
    zone: String,
    /// Google's `gl`: two lowercase letters.
    country: Option<String>,
}

impl BrightDataSearch {
    pub fn new(
        cfg: &crate::config::Search,
        http: Arc<Http>,
    ) -> Result<BrightDataSearch, ProviderError> {
        let zone = zone_of(
            cfg.zone.as_deref(),
            "search.zone",
            "search.kind: brightdata",
            "SERP API",
        )?;
        let country = match cfg.country.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(c) if c.len() == 2 && c.bytes().all(|b| b.is_ascii_alphabetic()) => {
                Some(c.to_ascii_lowercase())
            }
            Some(c) => {
                return Err(ProviderError::Config(format!(
                    "search.country `{c}` is not a two-letter country code (such as us, gb, de)"
                )))
            }
        };
        let var = cfg.api_key_env.as_deref().unwrap_or(DEFAULT_KEY_ENV);
        Ok(BrightDataSearch {
            api: Api::new(
                http,
                cfg.base_url.as_deref(),
                var,
                "search.api_key_env",
                cfg.timeout_s,
            )?,
            zone,
            country,
        })
    }

    pub fn with_timeout(mut self, timeout: Duration) -> BrightDataSearch {
        self.api.timeout = timeout;
        self
    }

    /// The Google URL Bright Data fetches for `query`.
    fn google_url(&self, query: &str) -> String {
        let mut params = vec![("q", query), ("brd_json", "1")];
        if let Some(c) = &self.country {
            params.push(("gl", c));
        }
        reqwest::Url::parse_with_params(GOOGLE, &params)
            .expect("a constant base URL")
            .to_string()
    }

    async fn run(&self, query: &str, results: usize) -> Result<Vec<SearchHit>, ProviderError> {
        let body = json!({"zone": self.zone, "url": self.google_url(query), "format": "raw"});
        let r = self.api.request(&body).header("accept", "application/json");
        // An answer that is not JSON is a page Bright Data did not parse:
        // the zone is of another product. It is not cached, so a fixed
        // zone is asked again.
        let zone = self.zone.clone();
        let resp = self
            .api
            .http
            .send_then(&r, |resp: Response| async move {
                match serde_json::from_str::<Value>(&resp.body) {
                    Ok(_) => Ok(resp),
                    Err(_) => Err(zone_error(
                        &zone,
                        "search.zone",
                        "SERP API",
                        "the answer is not parsed search results (JSON); is it a SERP API zone?",
                    )),
                }
            })
            .await
            .map_err(|e| self.api.explain(e, &self.zone, "search.zone", "SERP API"))?;
        let v: Value = resp.json(NAME)?;
        Ok(parse(&v, results))
    }
}

/// Hits from the parsed SERP: its `organic` results (`link`, `title`,
/// `description`). No `organic` list is a search that found nothing.
fn parse(v: &Value, results: usize) -> Vec<SearchHit> {
    let items = v["organic"].as_array().map(|a| a.as_slice());
    SearchHit::from_json(items.unwrap_or(&[]), "link", "description", results, |s| {
        s.trim().to_string()
    })
}

impl Search for BrightDataSearch {
    fn name(&self) -> &str {
        NAME
    }
    fn search<'a>(
        &'a self,
        query: &'a str,
        results: usize,
    ) -> BoxFuture<'a, Result<Vec<SearchHit>, ProviderError>> {
        Box::pin(self.run(query, results))
    }
}

/// Page fetch through the Web Unlocker, answered as markdown.
pub struct Unlocker {
    api: Api,
    zone: String,
    max_bytes: u64,
    hosts: HostPermits,
}

impl Unlocker {
    /// From `fetch.*`; the key variable and base URL default to the
    /// search's when the search is Bright Data too, so one account's
    /// settings are written once.
    pub fn new(cfg: &Config, http: Arc<Http>) -> Result<Unlocker, ProviderError> {
        let f = &cfg.fetch;
        debug_assert_eq!(f.via, FetchVia::Brightdata);
        let zone = zone_of(
            f.zone.as_deref(),
            "fetch.zone",
            "fetch.via: brightdata",
            "Web Unlocker",
        )?;
        let search = (cfg.search.kind == NAME).then_some(&cfg.search);
        let (var, setting) = match (&f.api_key_env, search.and_then(|s| s.api_key_env.as_ref())) {
            (Some(v), _) => (v.as_str(), "fetch.api_key_env"),
            (None, Some(v)) => (v.as_str(), "search.api_key_env"),
            (None, None) => (DEFAULT_KEY_ENV, "fetch.api_key_env"),
        };
        let base = f
            .base_url
            .as_deref()
            .or(search.and_then(|s| s.base_url.as_deref()));
        Ok(Unlocker {
            api: Api::new(http, base, var, setting, f.timeout_s)?,
            zone,
            max_bytes: f.max_bytes.max(1024),
            hosts: HostPermits::new(f.per_host),
        })
    }

    pub fn with_timeout(mut self, timeout: Duration) -> Unlocker {
        self.api.timeout = timeout;
        self
    }

    async fn run(&self, url: &str) -> Result<Page, ProviderError> {
        let parsed = reqwest::Url::parse(url).map_err(|e| ProviderError::BadResponse {
            what: NAME.into(),
            message: format!("`{url}` is not a URL: {e}"),
        })?;
        // Literal addresses and local names only: the name is resolved by
        // Bright Data, never here.
        netguard::check_url(&parsed, &[]).map_err(|why| ProviderError::Refused {
            what: NAME.into(),
            message: format!(
                "`{parsed}`: {why}; pages fetched through Bright Data must be on the public internet"
            ),
        })?;
        let permits = self.hosts.of(&parsed);
        let _permit = permits
            .acquire()
            .await
            .expect("the semaphore is never closed");
        let body = json!({
            "zone": self.zone,
            "url": parsed.as_str(),
            "format": "raw",
            "data_format": "markdown",
        });
        let r = self.api.request(&body).max_bytes(self.max_bytes);
        let shown = parsed.to_string();
        let resp = self
            .api
            .http
            .send_then(&r, |resp: Response| async move {
                // Nothing to read, and nothing worth replaying to a resumed run.
                if resp.body.trim().is_empty() {
                    return Err(ProviderError::BadResponse {
                        what: NAME.into(),
                        message: format!("`{shown}`: the page came back empty"),
                    });
                }
                Ok(resp)
            })
            .await
            .map_err(|e| {
                self.api
                    .explain(e, &self.zone, "fetch.zone", "Web Unlocker")
            })?;
        Ok(Page {
            url: parsed.to_string(),
            title: crate::markdown::title(&resp.body),
            markdown: resp.body,
        })
    }
}

impl Fetch for Unlocker {
    fn fetch<'a>(&'a self, url: &'a str) -> BoxFuture<'a, Result<Page, ProviderError>> {
        Box::pin(self.run(url))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn organic_results_are_the_hits() {
        let v = json!({"general": {"query": "q"}, "organic": [
            {"link": "https://a.example/1", "title": "One", "description": " first ", "rank": 1},
            {"title": "no link"},
            {"link": "https://a.example/2", "title": "Two", "rank": 2},
            {"link": "https://a.example/3", "title": "Three", "description": "third"}]});
        let hits = parse(&v, 2);
        assert_eq!(hits.len(), 2);
        assert_eq!(hits[0].url, "https://a.example/1");
        assert_eq!(hits[0].snippet, "first");
        assert_eq!(hits[1].title, "Two");
        assert_eq!(hits[1].snippet, "");
        assert!(parse(&json!({"general": {}}), 5).is_empty());
    }

    #[test]
    fn a_zone_is_required_and_a_country_is_two_letters() {
        let http = Arc::new(Http::new(None, Default::default()).unwrap());
        std::env::set_var("EXPAND_BD_UNIT_KEY", "bd-unit-key-123");
        let mut cfg = crate::config::Search {
            kind: NAME.into(),
            api_key_env: Some("EXPAND_BD_UNIT_KEY".into()),
            ..Default::default()
        };
        let e = BrightDataSearch::new(&cfg, http.clone()).err().unwrap();
        assert!(e.to_string().contains("search.zone"), "{e}");
        cfg.zone = Some("serp1".into());
        cfg.country = Some("usa".into());
        let e = BrightDataSearch::new(&cfg, http.clone()).err().unwrap();
        assert!(e.to_string().contains("search.country `usa`"), "{e}");
        cfg.country = Some("DE".into());
        let s = BrightDataSearch::new(&cfg, http).unwrap();
        assert_eq!(
            s.google_url("rust & clap"),
            "https://www.google.com/search?q=rust+%26+clap&brd_json=1&gl=de"
        );
    }
}
