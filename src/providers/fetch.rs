//! Page fetch for the research step: timeout, size cap, at most `per_host`
//! requests at once per host, and HTML turned into markdown (main content
//! only: `<main>` or `<article>` when present, chrome such as nav, header,
//! footer, aside, scripts and styles removed). Responses are cached by `Http`.
//!
//! Page URLs come from search results and plan text, so they are untrusted:
//! only public addresses are fetched unless `fetch.allow_private` is set
//! (see `netguard`).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::Semaphore;

use super::http::{Http, Request};
use super::{BoxFuture, Fetch, Page, ProviderError};

/// Tags dropped with their content before conversion.
const CHROME: &[&str] = &[
    "script", "style", "noscript", "nav", "header", "footer", "aside", "form", "iframe", "svg",
    "template", "button",
];

pub struct Fetcher {
    http: Arc<Http>,
    max_bytes: u64,
    timeout: Duration,
    per_host: usize,
    /// `fetch.allow_private`: private addresses may be fetched too.
    allow_private: bool,
    hosts: Mutex<HashMap<String, Arc<Semaphore>>>,
}

impl Fetcher {
    pub fn new(cfg: &crate::config::Fetch, http: Arc<Http>) -> Fetcher {
        Fetcher {
            http,
            max_bytes: cfg.max_bytes.max(1024),
            timeout: Duration::from_secs(cfg.timeout_s.max(1)),
            per_host: cfg.per_host.max(1),
            allow_private: cfg.allow_private,
            hosts: Mutex::new(HashMap::new()),
        }
    }

    pub fn with_timeout(mut self, timeout: Duration) -> Fetcher {
        self.timeout = timeout;
        self
    }

    fn host_permits(&self, host: &str) -> Arc<Semaphore> {
        let mut map = self.hosts.lock().expect("host map lock");
        map.entry(host.to_string())
            .or_insert_with(|| Arc::new(Semaphore::new(self.per_host)))
            .clone()
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
        let host = format!(
            "{}:{}",
            parsed.host_str().unwrap_or(""),
            parsed.port_or_known_default().unwrap_or(0)
        );
        let permits = self.host_permits(&host);
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
                .max_bytes(self.max_bytes);
            if !self.allow_private {
                r = r.public_only();
            }
            self.http.send(&r).await?
        };
        let ctype = resp
            .content_type
            .clone()
            .unwrap_or_default()
            .to_ascii_lowercase();
        let looks_html =
            ctype.contains("html") || (ctype.is_empty() && resp.body.trim_start().starts_with('<'));
        if looks_html {
            let body = resp.body;
            let (title, markdown) = tokio::task::spawn_blocking(move || html_to_markdown(&body))
                .await
                .map_err(|e| ProviderError::BadResponse {
                    what: "fetch".into(),
                    message: format!("html conversion failed: {e}"),
                })?;
            return Ok(Page {
                url: resp.url,
                title,
                markdown,
            });
        }
        if ctype.starts_with("text/") || ctype.contains("json") || ctype.contains("markdown") {
            return Ok(Page {
                url: resp.url,
                title: None,
                markdown: resp.body,
            });
        }
        Err(ProviderError::BadResponse {
            what: "fetch".into(),
            message: format!("`{url}` is `{ctype}`, not a page that can be read as text"),
        })
    }
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
}
