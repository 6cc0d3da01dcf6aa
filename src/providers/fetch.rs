//! Page fetch for the research step: timeout, size cap, at most `per_host`
//! requests at once per host, and HTML turned into markdown (main content
//! only: `<main>` or `<article>` when present, chrome such as nav, header,
//! footer, aside, scripts and styles removed).
//!
//! Page URLs come from search results and plan text, so they are untrusted:
//! only public addresses are fetched unless `fetch.allow_private` is set
//! (see `netguard`). A page is cached by `Http` once it has been converted,
//! in its converted form, so a page that cannot be converted is never
//! replayed to a resumed run. Nesting is bounded before conversion (see
//! `nesting`), because the converter recurses once per level.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::Semaphore;

use super::http::{Http, Request, Response};
use super::{BoxFuture, Fetch, Page, ProviderError};

/// The cached form of a fetched page: a `Page` as JSON. The version changes
/// when conversion does, so older conversions are not replayed.
const PAGE_TAG: &str = "page-markdown/1";
const PAGE_CONTENT_TYPE: &str = "application/vnd.expand.page+json";

/// Tags dropped with their content before conversion.
const CHROME: &[&str] = &[
    "script", "style", "noscript", "nav", "header", "footer", "aside", "form", "iframe", "svg",
    "template", "button",
];

/// At most `fetch.per_host` pages at once from one host (scheme-less
/// `host:port`), whoever fetches them: this machine or Bright Data.
pub(super) struct HostPermits {
    per_host: usize,
    hosts: Mutex<HashMap<String, Arc<Semaphore>>>,
}

impl HostPermits {
    pub(super) fn new(per_host: usize) -> HostPermits {
        HostPermits {
            per_host: per_host.max(1),
            hosts: Mutex::new(HashMap::new()),
        }
    }

    /// The permits of `url`'s host.
    pub(super) fn of(&self, url: &reqwest::Url) -> Arc<Semaphore> {
        let host = format!(
            "{}:{}",
            url.host_str().unwrap_or(""),
            url.port_or_known_default().unwrap_or(0)
        );
        let mut map = self.hosts.lock().expect("host map lock");
        map.entry(host)
            .or_insert_with(|| Arc::new(Semaphore::new(self.per_host)))
            .clone()
    }
}

pub struct Fetcher {
    http: Arc<Http>,
    max_bytes: u64,
    timeout: Duration,
    /// `fetch.allow_private`: private addresses may be fetched too.
    allow_private: bool,
    hosts: HostPermits,
}

impl Fetcher {
    pub fn new(cfg: &crate::config::Fetch, http: Arc<Http>) -> Fetcher {
        Fetcher {
            http,
            max_bytes: cfg.max_bytes.max(1024),
            timeout: Duration::from_secs(cfg.timeout_s.max(1)),
            allow_private: cfg.allow_private,
            hosts: HostPermits::new(cfg.per_host),
        }
    }

    pub fn with_timeout(mut self, timeout: Duration) -> Fetcher {
        self.timeout = timeout;
        self
    }

    async fn run(&self, url: &str) -> Result<Page, ProviderError> {
        let parsed = reqwest::Url::parse(url).map_err(|e| ProviderError::BadResponse {
            what: "fetch".into(),
            message: format!("`{url}` is not a URL: {e}"),
        })?;
        if !matches!(parsed.scheme(), "http" | "https") {
            return Err(ProviderError::BadResponse {
                what: "fetch".into(),
                message: format!("`{url}`: only http and https pages are fetched"),
            });
        }
        let permits = self.hosts.of(&parsed);
        let resp = {
            let _permit = permits
                .acquire()
                .await
                .expect("the semaphore is never closed");
            let mut r = Request::get("fetch", parsed.as_str(), self.timeout)
                .header(
                    "accept",
                    "text/html,application/xhtml+xml,text/plain;q=0.9,*/*;q=0.5",
                )
                .max_bytes(self.max_bytes)
                .cache_tag(PAGE_TAG);
            if !self.allow_private {
                r = r.public_only();
            }
            self.http.send_then(&r, to_page).await?
        };
        serde_json::from_str(&resp.body).map_err(|e| ProviderError::BadResponse {
            what: "fetch".into(),
            message: format!("a cached page of `{url}` cannot be read: {e}"),
        })
    }
}

/// A fetched answer as the page it holds (JSON in the body, the form that is
/// cached), or why it is not a page that can be read as text.
async fn to_page(resp: Response) -> Result<Response, ProviderError> {
    let ctype = resp
        .content_type
        .clone()
        .unwrap_or_default()
        .to_ascii_lowercase();
    let looks_html =
        ctype.contains("html") || (ctype.is_empty() && resp.body.trim_start().starts_with('<'));
    let page = if looks_html {
        let body = resp.body;
        // A panic in the converter fails this page only.
        let (title, markdown) = tokio::task::spawn_blocking(move || html_to_markdown(&body))
            .await
            .map_err(|e| ProviderError::BadResponse {
                what: "fetch".into(),
                message: format!("`{}`: html conversion failed: {e}", resp.url),
            })?;
        Page {
            url: resp.url.clone(),
            title,
            markdown,
        }
    } else if ctype.starts_with("text/") || ctype.contains("json") || ctype.contains("markdown") {
        Page {
            url: resp.url.clone(),
            title: None,
            markdown: resp.body,
        }
    } else {
        return Err(ProviderError::BadResponse {
            what: "fetch".into(),
            message: format!(
                "`{}` is `{ctype}`, not a page that can be read as text",
                resp.url
            ),
        });
    };
    Ok(Response {
        status: resp.status,
        url: resp.url,
        content_type: Some(PAGE_CONTENT_TYPE.to_string()),
        body: serde_json::to_string(&page).expect("a page serializes"),
        truncated: resp.truncated,
    })
}

/// Case-insensitive position of `needle` (ASCII) in `hay` from `from`.
fn find_ci(hay: &str, needle: &str, from: usize) -> Option<usize> {
    let h = hay.as_bytes();
    let n = needle.as_bytes();
    if from >= h.len() || n.is_empty() {
        return None;
    }
    h[from..]
        .windows(n.len())
        .position(|w| w.eq_ignore_ascii_case(n))
        .map(|p| p + from)
}

/// The inner HTML of the first `<tag ...>...</tag>`, if any.
fn element(html: &str, tag: &str) -> Option<String> {
    let open = format!("<{tag}");
    let mut at = 0;
    loop {
        let start = find_ci(html, &open, at)?;
        let after = start + open.len();
        // `<main>` or `<main class=..>`, not `<mainframe>`.
        match html.as_bytes().get(after) {
            Some(b'>') | Some(b' ') | Some(b'\t') | Some(b'\n') | Some(b'\r') | Some(b'/') => {}
            _ => {
                at = after;
                continue;
            }
        }
        let body_start = html[after..].find('>')? + after + 1;
        let end = find_ci(html, &format!("</{tag}"), body_start).unwrap_or(html.len());
        return Some(html[body_start..end].to_string());
    }
}

/// The few HTML entities text snippets carry, decoded.
pub(super) fn decode_entities(s: &str) -> String {
    s.replace("&amp;", "&")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&nbsp;", " ")
}

/// `(title, markdown)` of a page's main content.
pub fn html_to_markdown(html: &str) -> (Option<String>, String) {
    let title = element(html, "title")
        .map(|t| decode_entities(t.split_whitespace().collect::<Vec<_>>().join(" ").as_str()))
        .filter(|t| !t.is_empty());
    let main = element(html, "main")
        .or_else(|| element(html, "article"))
        .or_else(|| element(html, "body"))
        .unwrap_or_else(|| html.to_string());
    let main = super::nesting::bound(&main);
    let converter = htmd::HtmlToMarkdown::builder()
        .skip_tags(CHROME.to_vec())
        .build();
    let md = converter.convert(&main).unwrap_or_default();
    // Collapse runs of blank lines left where chrome was removed.
    let mut out = String::with_capacity(md.len());
    let mut blank = 0;
    for line in md.lines() {
        if line.trim().is_empty() {
            blank += 1;
            if blank > 1 {
                continue;
            }
        } else {
            blank = 0;
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    (title, out.trim().to_string() + "\n")
}

impl Fetch for Fetcher {
    fn fetch<'a>(&'a self, url: &'a str) -> BoxFuture<'a, Result<Page, ProviderError>> {
        Box::pin(self.run(url))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn main_content_without_chrome() {
        let html = r#"<html><head><title>Clap &amp; you</title><style>.x{}</style></head>
<body><header>SITE HEADER</header><nav><a href="/">Home</a></nav>
<main class="c"><h1>Parsing</h1><p>Use <a href="https://docs.rs/clap">clap</a>.</p>
<aside>ADS</aside><script>alert(1)</script></main>
<footer>COPYRIGHT</footer></body></html>"#;
        let (title, md) = html_to_markdown(html);
        assert_eq!(title.as_deref(), Some("Clap & you"));
        assert!(md.contains("# Parsing"), "{md}");
        assert!(md.contains("[clap](https://docs.rs/clap)"), "{md}");
        for junk in ["SITE HEADER", "Home", "ADS", "alert", "COPYRIGHT", ".x{}"] {
            assert!(!md.contains(junk), "{junk} in {md}");
        }
    }

    #[test]
    fn article_then_body_fallback() {
        let (_, md) =
            html_to_markdown("<body><nav>N</nav><article><p>A</p></article><p>B</p></body>");
        assert_eq!(md.trim(), "A");
        let (_, md) = html_to_markdown("<body><nav>N</nav><p>B</p><footer>F</footer></body>");
        assert_eq!(md.trim(), "B");
        assert!(element("<mainframe>x</mainframe>", "main").is_none());
    }

    #[test]
    fn deep_nesting_converts_on_a_default_thread_stack() {
        // Each pattern 5,000 levels deep (tables four elements a level),
        // converted on a thread with the default 2 MiB stack: unbounded,
        // the converter's recursion overflows it and aborts the process.
        let patterns = [
            ("<div>", "</div>"),
            ("<ul><li>", "</li></ul>"),
            ("<table><tr><td>", "</td></tr></table>"),
            ("<blockquote>", "</blockquote>"),
            ("<b>", "</b>"),
            ("<em><strong>", "</strong></em>"),
            ("<ol><li><p>", "</p></li></ol>"),
        ];
        for (open, close) in patterns {
            let html = format!(
                "<html><body><main><h1>Top</h1>{}<p>DEEP text</p>{}<p>after</p></main></body></html>",
                open.repeat(5000),
                close.repeat(5000)
            );
            let md = std::thread::Builder::new()
                .stack_size(2 * 1024 * 1024)
                .spawn(move || html_to_markdown(&html).1)
                .unwrap()
                .join()
                .unwrap_or_else(|_| panic!("{open}: conversion panicked"));
            assert!(md.contains("# Top"), "{open}: {md:.200}");
            assert!(md.contains("DEEP text"), "{open}");
            assert!(md.contains("after"), "{open}");
        }
        // Formatting elements closed out of order are reopened by the
        // parser (each `<b>` here reopens every earlier one): nesting, and
        // elements, that grow with the square of the tags unless bounded.
        let reopened: String = (0..5000)
            .map(|i| format!("<div><b id=\"b{i}\"></div>"))
            .collect();
        let html = format!("<body><main>{reopened}<p>DEEP text</p></main></body>");
        let t = std::time::Instant::now();
        let md = std::thread::Builder::new()
            .stack_size(2 * 1024 * 1024)
            .spawn(move || html_to_markdown(&html).1)
            .unwrap()
            .join()
            .expect("reopened formatting elements convert");
        assert!(md.contains("DEEP text"));
        assert!(
            t.elapsed() < std::time::Duration::from_secs(10),
            "{:?}",
            t.elapsed()
        );
    }
}
