//! HTTP shared by every network provider: reqwest (rustls) clients, a global
//! concurrency cap, bounded retries with exponential backoff and jitter that
//! honour `Retry-After`, and a response cache on disk (`.expand/cache/`) so a
//! retry or a resumed run never repeats a request that was answered.
//!
//! Secrets travel only in headers marked secret or in bodies whose cache stand-in
//! leaves them out; they are scrubbed from errors, answers and cache files, and
//! request logs show headers redacted and never show bodies. A request that
//! carries a secret never follows a redirect to another origin.
//!
//! Three clients, one per kind of destination: configured `base_url`s without
//! credentials (ordinary redirects), configured `base_url`s with credentials
//! (same-origin redirects only), and untrusted URLs (public addresses only,
//! checked at connect time and on every redirect hop; see `netguard`).
//!
//! Every body is capped while it streams: an answer over the cap is an error
//! (or, for a request that sets `max_bytes`, cut there), an error body is
//! read to a few KB at most.
//!
//! A writer's answer may stream as server-sent events (`send_stream`): the
//! events are read under an idle timeout (no bytes for that long fails the
//! attempt, apart from the request's total timeout) and the same cap, then
//! assembled by the provider into the answer a non-streaming request would
//! have had. The assembled answer is what the cache keeps, keyed as any
//! request, so a resumed run repeats no streamed request either.

use std::future::Future;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rand::Rng;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use tokio::sync::Semaphore;

use super::netguard::{self, NotPublic, PublicResolver};
pub use super::scrub::scrub;
use super::sse;
use super::ProviderError;
use crate::workspace::jail::Jail;

/// Default cap on an answer's body (`writer.max_bytes`).
pub const DEFAULT_MAX_BODY: u64 = 4 * 1024 * 1024;
/// How much of an error answer is read: enough for its message.
const ERROR_BODY_MAX: usize = 4096;
/// How much of an error answer an error message shows.
const ERROR_SNIPPET_CHARS: usize = 300;
/// Redirects followed at most, as reqwest's default policy.
const MAX_REDIRECTS: usize = 10;

/// Retry and concurrency knobs; tests shrink the backoff to milliseconds.
#[derive(Clone, Debug)]
pub struct HttpOptions {
    /// Attempts per request, the first included.
    pub max_attempts: u32,
    /// Backoff before the second attempt; doubles each attempt up to `backoff_max`.
    pub backoff_base: Duration,
    pub backoff_max: Duration,
    /// A server's `Retry-After` is honoured up to this long.
    pub max_retry_after: Duration,
    /// Requests in flight at once across every provider sharing this client.
    pub concurrency: usize,
    /// Cap on an answer's body when the request sets no `max_bytes`; a
    /// larger answer is an error, never a truncated file.
    pub max_body: u64,
    /// Socket addresses a public-only request treats as public: for tests,
    /// whose "public" servers run on loopback. Literal addresses only.
    #[doc(hidden)]
    pub treat_as_public: Vec<SocketAddr>,
}

impl Default for HttpOptions {
    fn default() -> Self {
        HttpOptions {
            max_attempts: 4,
            backoff_base: Duration::from_millis(500),
            backoff_max: Duration::from_secs(30),
            max_retry_after: Duration::from_secs(120),
            concurrency: 16,
            max_body: DEFAULT_MAX_BODY,
            treat_as_public: Vec::new(),
        }
    }
}

impl HttpOptions {
    /// The defaults with the body cap from `writer.max_bytes`.
    pub fn for_config(cfg: &crate::config::Config) -> HttpOptions {
        HttpOptions {
            max_body: cfg.writer.max_bytes.max(1),
            ..HttpOptions::default()
        }
    }
}

/// Header names whose values are credentials.
const SECRET_HEADERS: &[&str] = &[
    "authorization",
    "proxy-authorization",
    "x-api-key",
    "api-key",
    "x-subscription-token",
    "cookie",
];

pub fn is_secret_header(name: &str) -> bool {
    SECRET_HEADERS.iter().any(|h| h.eq_ignore_ascii_case(name))
}

/// `name: value` pairs for a log line, with credential values replaced.
pub fn redact_headers(headers: &[(String, String)]) -> String {
    headers
        .iter()
        .map(|(k, v)| {
            if is_secret_header(k) {
                format!("{k}: [redacted]")
            } else {
                format!("{k}: {v}")
            }
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// Read an API key from the environment variable named in config.
pub fn api_key(var: &str, setting: &str) -> Result<String, ProviderError> {
    match std::env::var(var) {
        Ok(v) if !v.trim().is_empty() => Ok(v.trim().to_string()),
        _ => Err(ProviderError::Config(format!(
            "environment variable `{var}` (from `{setting}`) is not set\nhint: export {var}=... before running"
        ))),
    }
}

/// One request. Build with `get` / `post_json` and the chained setters.
#[derive(Clone)]
pub struct Request {
    /// Who is asking, for errors and logs (`openai`, `searxng`, `fetch`).
    pub what: String,
    pub method: reqwest::Method,
    pub url: String,
    pub headers: Vec<(String, String)>,
    pub body: Option<Vec<u8>>,
    /// Stand-in for the body in the cache key, when the body holds a secret.
    pub cache_body: Option<String>,
    pub timeout: Duration,
    /// Keep at most this many bytes of the body and cut the rest (a page);
    /// without it, a body over the client's `max_body` is an error.
    pub max_bytes: Option<u64>,
    /// Values scrubbed from errors, answers and cached bodies. A request with
    /// any never follows a redirect to another origin.
    pub secrets: Vec<String>,
    /// The URL is untrusted (a search result, plan text): only public
    /// addresses are connected to, on the first request and every redirect.
    pub public_only: bool,
    /// What the cache holds for this request when it is not the raw answer
    /// (see `Http::send_then`); part of the cache key.
    pub cache_tag: Option<&'static str>,
}

impl std::fmt::Debug for Request {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Request")
            .field("what", &self.what)
            .field("method", &self.method)
            .field("url", &scrub(&self.url, &self.secrets))
            .field("headers", &redact_headers(&self.headers))
            .field("body_bytes", &self.body.as_ref().map(|b| b.len()))
            .finish()
    }
}

impl Request {
    pub fn get(what: &str, url: &str, timeout: Duration) -> Request {
        Request {
            what: what.to_string(),
            method: reqwest::Method::GET,
            url: url.to_string(),
            headers: Vec::new(),
            body: None,
            cache_body: None,
            timeout,
            max_bytes: None,
            secrets: Vec::new(),
            public_only: false,
            cache_tag: None,
        }
    }

    pub fn post_json(
        what: &str,
        url: &str,
        body: &serde_json::Value,
        timeout: Duration,
    ) -> Request {
        let mut r = Request::get(what, url, timeout);
        r.method = reqwest::Method::POST;
        r.body = Some(serde_json::to_vec(body).expect("a JSON value serializes"));
        r.header("content-type", "application/json")
    }

    pub fn header(mut self, name: &str, value: &str) -> Request {
        self.headers.push((name.to_string(), value.to_string()));
        self
    }

    /// A header carrying a credential: redacted in logs, scrubbed from errors.
    pub fn secret_header(mut self, name: &str, value: &str, secret: &str) -> Request {
        self.secrets.push(secret.to_string());
        self.header(name, value)
    }

    pub fn secret(mut self, secret: &str) -> Request {
        self.secrets.push(secret.to_string());
        self
    }

    pub fn cache_body(mut self, stand_in: String) -> Request {
        self.cache_body = Some(stand_in);
        self
    }

    pub fn max_bytes(mut self, n: u64) -> Request {
        self.max_bytes = Some(n);
        self
    }

    /// Connect to public addresses only (see `netguard`).
    pub fn public_only(mut self) -> Request {
        self.public_only = true;
        self
    }

    pub fn cache_tag(mut self, tag: &'static str) -> Request {
        self.cache_tag = Some(tag);
        self
    }

    /// sha256 of method, URL and body (or its stand-in), and of what limits
    /// and shapes the answer; headers are left out, so credentials never
    /// reach the key. A public-only request has its own entries, so a page
    /// cached while private addresses were allowed is not served once they
    /// are not.
    pub fn cache_key(&self) -> String {
        let mut h = Sha256::new();
        h.update(self.method.as_str().as_bytes());
        h.update(b"\n");
        h.update(self.url.as_bytes());
        h.update(b"\n");
        match (&self.cache_body, &self.body) {
            (Some(s), _) => h.update(s.as_bytes()),
            (None, Some(b)) => h.update(b),
            (None, None) => {}
        }
        if let Some(m) = self.max_bytes {
            h.update(format!("\nmax_bytes={m}").as_bytes());
        }
        if self.public_only {
            h.update(b"\npublic_only");
        }
        if let Some(t) = self.cache_tag {
            h.update(format!("\ntag={t}").as_bytes());
        }
        h.finalize().iter().map(|b| format!("{b:02x}")).collect()
    }
}

/// A successful (2xx) answer, from the network or the cache.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Response {
    pub status: u16,
    /// The final URL, after redirects.
    pub url: String,
    pub content_type: Option<String>,
    pub body: String,
    /// The body was cut at the request's `max_bytes`.
    pub truncated: bool,
}

impl Response {
    pub fn json<T: serde::de::DeserializeOwned>(&self, what: &str) -> Result<T, ProviderError> {
        serde_json::from_str(&self.body).map_err(|e| ProviderError::BadResponse {
            what: what.to_string(),
            message: format!("invalid JSON: {e}"),
        })
    }
}

/// What a streamed request's server sent: its events, or its whole body
/// when it answered without streaming (a server or proxy that ignores
/// `stream: true` answers with plain JSON).
#[derive(Debug)]
pub enum Streamed {
    Events(Vec<sse::Event>),
    Body(String),
}

/// Turns what a stream sent into the body to return and cache, or says why
/// it cannot be used (an error event, a stream cut short). Called on every
/// attempt, so an error met mid-stream is retried like any other.
pub type Assemble<'a> = &'a (dyn Fn(Streamed) -> Result<String, ProviderError> + Send + Sync);

/// The shared client. Clone the `Arc` to share the concurrency cap.
pub struct Http {
    /// Configured base URLs, no credentials: redirects as usual.
    trusted: reqwest::Client,
    /// Configured base URLs with a credential: same-origin redirects only.
    credentialed: reqwest::Client,
    /// Untrusted URLs: public addresses only, at every connect and hop.
    public: reqwest::Client,
    permits: Arc<Semaphore>,
    /// The response cache, confined to its folder.
    cache: Option<super::respcache::ResponseCache>,
    opts: HttpOptions,
}

/// A redirect that a credentialed request refuses to follow.
#[derive(Debug, thiserror::Error)]
#[error("the server redirected to another origin ({to}), and a request carrying credentials never follows one")]
struct CrossOrigin {
    to: String,
}

#[derive(Debug, thiserror::Error)]
#[error("more than {MAX_REDIRECTS} redirects")]
struct TooManyRedirects;

/// A redirect hop that an untrusted fetch may not follow, and where it led.
#[derive(Debug, thiserror::Error)]
#[error("a redirect to `{to}`: {why}")]
struct PrivateHop {
    to: String,
    #[source]
    why: NotPublic,
}

fn builder() -> reqwest::ClientBuilder {
    reqwest::Client::builder().user_agent(concat!("expand/", env!("CARGO_PKG_VERSION")))
}

/// A credential is for the origin it was configured with (scheme, host,
/// port): a redirect elsewhere is an error, not a request without it, so a
/// moved API is noticed rather than silently answered by someone else.
fn same_origin_policy() -> reqwest::redirect::Policy {
    reqwest::redirect::Policy::custom(|attempt| {
        if attempt.previous().len() >= MAX_REDIRECTS {
            return attempt.error(TooManyRedirects);
        }
        let first = attempt.previous().first().map(|u| u.origin());
        let next = attempt.url().origin();
        if first.as_ref() == Some(&next) {
            attempt.follow()
        } else {
            let to = next.ascii_serialization();
            attempt.error(CrossOrigin { to })
        }
    })
}

/// Every hop of an untrusted fetch is judged like its first URL; a literal
/// address is connected to without the resolver, so it is judged here.
fn public_policy(exempt: Vec<SocketAddr>) -> reqwest::redirect::Policy {
    reqwest::redirect::Policy::custom(move |attempt| {
        if attempt.previous().len() >= MAX_REDIRECTS {
            return attempt.error(TooManyRedirects);
        }
        match netguard::check_url(attempt.url(), &exempt) {
            Ok(()) => attempt.follow(),
            Err(why) => {
                let to = attempt.url().to_string();
                attempt.error(PrivateHop { to, why })
            }
        }
    })
}

impl Http {
    /// `cache_dir` is usually `<workspace>/.expand/cache` (made when
    /// missing; the caller has checked it lies in the workspace); `None`
    /// disables the cache.
    pub fn new(cache_dir: Option<&Path>, opts: HttpOptions) -> Result<Http, ProviderError> {
        let cache = match cache_dir {
            None => None,
            Some(d) => {
                let open = || -> std::io::Result<Jail> {
                    std::fs::create_dir_all(d)?;
                    Jail::open(&d.canonicalize()?)
                };
                Some(
                    open()
                        .map(super::respcache::ResponseCache::open)
                        .map_err(|e| {
                            ProviderError::Config(format!(
                                "cannot open the response cache `{}`: {e}",
                                d.display()
                            ))
                        })?,
                )
            }
        };
        let build = |b: reqwest::ClientBuilder| {
            b.build()
                .map_err(|e| ProviderError::Config(format!("cannot build the HTTP client: {e}")))
        };
        let trusted = build(builder())?;
        let credentialed = build(builder().redirect(same_origin_policy()))?;
        // A proxy resolves names itself, where the resolver below cannot
        // judge the address, so untrusted fetches connect directly.
        let public = build(
            builder()
                .no_proxy()
                .dns_resolver(Arc::new(PublicResolver))
                .redirect(public_policy(opts.treat_as_public.clone())),
        )?;
        Ok(Http {
            trusted,
            credentialed,
            public,
            permits: Arc::new(Semaphore::new(opts.concurrency.max(1))),
            cache,
            opts,
        })
    }

    /// Send `req`, answering from the cache when it can, retrying what is retryable.
    pub async fn send(&self, req: &Request) -> Result<Response, ProviderError> {
        self.send_then(req, |resp| async move { Ok(resp) }).await
    }

    /// `send`, with `finish` turning a network answer into what is returned
    /// and cached: the cache holds only answers `finish` accepted, in the
    /// form it gave them, so an answer that cannot be used is never replayed
    /// to a resumed run. Requests whose cached form is not the raw answer
    /// set a `cache_tag`.
    pub async fn send_then<F, Fut>(
        &self,
        req: &Request,
        finish: F,
    ) -> Result<Response, ProviderError>
    where
        F: FnOnce(Response) -> Fut,
        Fut: Future<Output = Result<Response, ProviderError>>,
    {
        self.send_inner(req, None, finish).await
    }

    /// Send `req`, whose answer streams as server-sent events, and return
    /// the body `assemble` makes of them (from the cache when it holds it).
    /// `idle` bounds the wait for each next bytes; `req.timeout` the whole.
    /// The stream is capped as any body (`max_body`).
    pub async fn send_stream(
        &self,
        req: &Request,
        idle: Duration,
        assemble: Assemble<'_>,
    ) -> Result<Response, ProviderError> {
        self.send_inner(req, Some((idle, assemble)), |r| async move { Ok(r) })
            .await
    }

    async fn send_inner<F, Fut>(
        &self,
        req: &Request,
        stream: Option<(Duration, Assemble<'_>)>,
        finish: F,
    ) -> Result<Response, ProviderError>
    where
        F: FnOnce(Response) -> Fut,
        Fut: Future<Output = Result<Response, ProviderError>>,
    {
        if req.public_only {
            // Before the cache too: a refused URL is refused however it was
            // answered before.
            let url = reqwest::Url::parse(&req.url).map_err(|e| ProviderError::BadResponse {
                what: req.what.clone(),
                message: format!("`{}` is not a URL: {e}", scrub(&req.url, &req.secrets)),
            })?;
            netguard::check_url(&url, &self.opts.treat_as_public)
                .map_err(|e| refused(req, &e.to_string()))?;
        }
        let cache_path = self.cache.as_ref().map(|c| (c, req.cache_key()));
        if let Some((cache, path)) = &cache_path {
            if let Some(resp) = read_cache(cache, path) {
                tracing::debug!(what = %req.what, url = %scrub(&req.url, &req.secrets), "http cache hit");
                return Ok(resp);
            }
        }
        let mut attempt = 0;
        let resp = loop {
            attempt += 1;
            let result = {
                let _permit = self
                    .permits
                    .acquire()
                    .await
                    .expect("the semaphore is never closed");
                self.once(req, stream).await
            };
            match result {
                Ok(resp) => {
                    // An answer delivered is what per-request billing counts.
                    super::meter::count(&req.what);
                    break resp;
                }
                Err(e) if e.retryable() && attempt < self.opts.max_attempts => {
                    let delay = self.delay(attempt, &e);
                    tracing::warn!(
                        what = %req.what,
                        attempt,
                        delay_ms = delay.as_millis() as u64,
                        "retrying: {e}"
                    );
                    tokio::time::sleep(delay).await;
                }
                Err(e) => {
                    if attempt > 1 {
                        tracing::warn!(what = %req.what, attempt, "giving up: {e}");
                    }
                    return Err(e);
                }
            }
        };
        let resp = finish(resp).await?;
        if let Some((cache, path)) = &cache_path {
            write_cache(cache, path, &resp);
        }
        Ok(resp)
    }

    fn delay(&self, attempt: u32, e: &ProviderError) -> Duration {
        if let ProviderError::Http {
            retry_after: Some(s),
            ..
        } = e
        {
            return Duration::from_secs(*s).min(self.opts.max_retry_after);
        }
        let exp = self
            .opts
            .backoff_base
            .saturating_mul(1u32 << (attempt - 1).min(16))
            .min(self.opts.backoff_max);
        // Equal jitter: half fixed, half random, so parallel runners spread out.
        exp.mul_f64(0.5 + rand::thread_rng().gen::<f64>() * 0.5)
    }

    fn client(&self, req: &Request) -> &reqwest::Client {
        debug_assert!(
            !req.public_only || req.secrets.is_empty(),
            "untrusted URLs are fetched without credentials"
        );
        if req.public_only {
            &self.public
        } else if !req.secrets.is_empty() {
            &self.credentialed
        } else {
            &self.trusted
        }
    }

    async fn once(
        &self,
        req: &Request,
        stream: Option<(Duration, Assemble<'_>)>,
    ) -> Result<Response, ProviderError> {
        // Method, URL (credentials scrubbed) and size only: headers carry
        // keys, and -vv output is pasted into bug reports.
        tracing::debug!(
            what = %req.what,
            method = %req.method,
            url = %scrub(&req.url, &req.secrets),
            body_bytes = req.body.as_ref().map(|b| b.len()).unwrap_or(0),
            "http request"
        );
        let sent_at = Instant::now();
        let mut rb = self
            .client(req)
            .request(req.method.clone(), &req.url)
            .timeout(req.timeout);
        for (k, v) in &req.headers {
            rb = rb.header(k.as_str(), v.as_str());
        }
        if let Some(b) = &req.body {
            rb = rb.body(b.clone());
        }
        let idle = stream.map(|(d, _)| d);
        let stalled = |d: Duration| ProviderError::Stalled {
            what: req.what.clone(),
            secs: d.as_secs_f64().ceil() as u64,
        };
        let mut resp = match idle {
            // Headers are bytes too: a server that never starts answering
            // is as stalled as one that stops.
            Some(d) => tokio::time::timeout(d, rb.send())
                .await
                .map_err(|_| stalled(d))?,
            None => rb.send().await,
        }
        .map_err(|e| map_reqwest(req, e))?;
        let status = resp.status().as_u16();
        let header = |name: reqwest::header::HeaderName| {
            resp.headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string)
        };
        let retry_after =
            header(reqwest::header::RETRY_AFTER).and_then(|s| s.trim().parse::<u64>().ok());
        let content_type = header(reqwest::header::CONTENT_TYPE);
        let url = resp.url().to_string();
        let ok = (200..300).contains(&status);
        // What may be read: an error's message, a page up to its size, or an
        // answer up to the cap (past which it is refused, not cut).
        let (limit, cut) = match (ok, req.max_bytes) {
            (false, _) => (ERROR_BODY_MAX, true),
            (true, Some(m)) => (usize::try_from(m).unwrap_or(usize::MAX), true),
            (true, None) => (
                usize::try_from(self.opts.max_body).unwrap_or(usize::MAX),
                false,
            ),
        };
        let too_large = || ProviderError::BadResponse {
            what: req.what.clone(),
            message: format!(
                "the answer is larger than {limit} bytes (writer.max_bytes); \
                 raise writer.max_bytes if such answers are expected"
            ),
        };
        if !cut && resp.content_length().is_some_and(|n| n > limit as u64) {
            return Err(too_large());
        }
        let mut body: Vec<u8> = Vec::new();
        let mut truncated = false;
        // Events are parsed as they arrive and the raw bytes dropped; the
        // cap counts the raw bytes all the same.
        let events = ok
            && stream.is_some()
            && content_type
                .as_deref()
                .is_some_and(|t| t.trim_start().starts_with("text/event-stream"));
        let mut parser = sse::Parser::default();
        let mut seen = 0usize;
        let mut got: Vec<sse::Event> = Vec::new();
        loop {
            let chunk = match idle {
                Some(d) => tokio::time::timeout(d, resp.chunk())
                    .await
                    .map_err(|_| stalled(d))?,
                None => resp.chunk().await,
            }
            .map_err(|e| map_reqwest(req, e))?;
            let Some(chunk) = chunk else { break };
            if events {
                seen += chunk.len();
                if seen > limit {
                    return Err(too_large());
                }
                parser.feed(&chunk);
                got.extend(parser.take());
                continue;
            }
            let room = limit.saturating_sub(body.len());
            if chunk.len() > room {
                if !cut {
                    return Err(too_large());
                }
                body.extend_from_slice(&chunk[..room]);
                truncated = true;
                break;
            }
            body.extend_from_slice(&chunk);
        }
        // Dropping the response here closes the connection on whatever was
        // not read.
        drop(resp);
        let body = String::from_utf8_lossy(&body).into_owned();
        tracing::debug!(
            what = %req.what,
            status,
            bytes = body.len(),
            truncated,
            ms = sent_at.elapsed().as_millis() as u64,
            "http response"
        );
        if !ok {
            // Scrub the whole body first: a key cut in two by the snippet's
            // end would otherwise keep the part before the cut.
            let clean = scrub(&body, &req.secrets);
            let snippet: String = clean.split_whitespace().collect::<Vec<_>>().join(" ");
            let snippet: String = snippet.chars().take(ERROR_SNIPPET_CHARS).collect();
            return Err(ProviderError::Http {
                what: req.what.clone(),
                status,
                message: if snippet.is_empty() {
                    "(empty body)".to_string()
                } else {
                    snippet
                },
                retry_after,
            });
        }
        let body = match stream {
            Some((_, assemble)) => {
                let streamed = if events {
                    got.extend(parser.finish());
                    tracing::debug!(what = %req.what, events = got.len(), bytes = seen, "http stream");
                    for e in &mut got {
                        e.data = scrub(&e.data, &req.secrets);
                    }
                    Streamed::Events(got)
                } else {
                    Streamed::Body(scrub(&body, &req.secrets))
                };
                assemble(streamed)?
            }
            None => body,
        };
        Ok(Response {
            status,
            url: scrub(&url, &req.secrets),
            content_type,
            body: scrub(&body, &req.secrets),
            truncated,
        })
    }
}

/// The error for a URL an untrusted request may not reach, `why` saying
/// which address or hop it was.
fn refused(req: &Request, why: &str) -> ProviderError {
    ProviderError::Refused {
        what: req.what.clone(),
        message: format!(
            "{}; set fetch.allow_private: true to fetch private addresses",
            scrub(why, &req.secrets)
        ),
    }
}

fn map_reqwest(req: &Request, e: reqwest::Error) -> ProviderError {
    if e.is_timeout() {
        return ProviderError::Timeout {
            what: req.what.clone(),
            secs: req.timeout.as_secs_f64().ceil() as u64,
        };
    }
    // A refusal by the resolver or a redirect policy arrives as the source
    // of reqwest's error; it is final, not a network fault to retry.
    let mut source = std::error::Error::source(&e);
    while let Some(s) = source {
        if let Some(hop) = s.downcast_ref::<PrivateHop>() {
            return refused(req, &hop.to_string());
        }
        if let Some(np) = s.downcast_ref::<NotPublic>() {
            return refused(req, &np.to_string());
        }
        if let Some(co) = s.downcast_ref::<CrossOrigin>() {
            return ProviderError::Refused {
                what: req.what.clone(),
                message: scrub(
                    &format!("{co}; set the base_url to the address that answers"),
                    &req.secrets,
                ),
            };
        }
        source = s.source();
    }
    // reqwest's own message is terse; the source chain says what really failed.
    let e = e.without_url();
    let mut message = e.to_string();
    let mut source = std::error::Error::source(&e);
    while let Some(s) = source {
        message.push_str(": ");
        message.push_str(&s.to_string());
        source = s.source();
    }
    ProviderError::Network {
        what: req.what.clone(),
        message: scrub(&message, &req.secrets),
    }
}

fn read_cache(cache: &super::respcache::ResponseCache, key: &str) -> Option<Response> {
    serde_json::from_slice(&cache.get(key)?).ok()
}

/// `resp` is already scrubbed (`once` scrubs every answer of a request with
/// secrets).
fn write_cache(cache: &super::respcache::ResponseCache, key: &str, resp: &Response) {
    let bytes = serde_json::to_vec(resp).expect("a response serializes");
    if let Err(e) = cache.put(key, &bytes) {
        tracing::warn!("cannot write the cache entry `{key}`: {e}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redaction_hides_credentials_only() {
        let h = vec![
            ("Authorization".to_string(), "Bearer sk-123456".to_string()),
            ("x-api-key".to_string(), "ak-999999".to_string()),
            ("X-Subscription-Token".to_string(), "tok-1".to_string()),
            ("accept".to_string(), "application/json".to_string()),
        ];
        let s = redact_headers(&h);
        assert!(
            !s.contains("sk-123456") && !s.contains("ak-999999") && !s.contains("tok-1"),
            "{s}"
        );
        assert!(s.contains("accept: application/json"), "{s}");
        assert!(s.contains("Authorization: [redacted]"), "{s}");
    }

    #[test]
    fn cache_key_ignores_headers_and_uses_stand_in() {
        let t = Duration::from_secs(1);
        let a =
            Request::get("x", "http://h/a", t).secret_header("authorization", "Bearer k1", "k1");
        let b =
            Request::get("x", "http://h/a", t).secret_header("authorization", "Bearer k2", "k2");
        assert_eq!(a.cache_key(), b.cache_key());
        let body1 = serde_json::json!({"api_key": "k1", "q": "x"});
        let body2 = serde_json::json!({"api_key": "k2", "q": "x"});
        let c = Request::post_json("x", "http://h/s", &body1, t).cache_body("q=x".into());
        let d = Request::post_json("x", "http://h/s", &body2, t).cache_body("q=x".into());
        assert_eq!(c.cache_key(), d.cache_key());
        assert_ne!(a.cache_key(), c.cache_key());
        assert!(!format!("{a:?}").contains("k1"));
    }

    #[tokio::test]
    async fn the_public_client_connects_to_public_addresses_only() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let http = Http::new(None, HttpOptions::default()).unwrap();
        // `once` skips the URL check `send` makes first, so a refusal here
        // comes from the resolver, when the connection is made.
        let url = format!("http://localhost:{port}/");
        let req = Request::get("fetch", &url, Duration::from_secs(2)).public_only();
        let e = http.once(&req, None).await.unwrap_err();
        assert!(
            matches!(e, ProviderError::Refused { .. })
                && e.to_string().contains("resolves to no public address"),
            "{e:?}"
        );
        assert!(!e.retryable());
        let accepted = tokio::time::timeout(Duration::from_millis(100), listener.accept()).await;
        assert!(accepted.is_err(), "nothing connected");
    }

    #[test]
    fn backoff_grows_and_honours_retry_after() {
        let http = Http::new(
            None,
            HttpOptions {
                backoff_base: Duration::from_millis(100),
                backoff_max: Duration::from_millis(300),
                max_retry_after: Duration::from_secs(5),
                ..HttpOptions::default()
            },
        )
        .unwrap();
        let net = ProviderError::Network {
            what: "x".into(),
            message: "m".into(),
        };
        let d1 = http.delay(1, &net);
        assert!(d1 >= Duration::from_millis(50) && d1 <= Duration::from_millis(100));
        let d5 = http.delay(5, &net);
        assert!(d5 >= Duration::from_millis(150) && d5 <= Duration::from_millis(300));
        let ra = ProviderError::Http {
            what: "x".into(),
            status: 429,
            message: "m".into(),
            retry_after: Some(60),
        };
        assert_eq!(http.delay(1, &ra), Duration::from_secs(5));
    }
}
