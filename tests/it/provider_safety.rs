//! The safety of network providers, on loopback servers: untrusted page URLs
//! reach public addresses only (SSRF), credentials never follow a redirect to
//! another origin, keys echoed back in any shape are scrubbed before anything
//! is cut or shown, every body is capped while it streams, and a page nested
//! thousands deep converts (and is cached only once it has).

use crate::util::{count, files_under};
use std::net::SocketAddr;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::Engine as _;
use expand::config;
use expand::providers::anthropic::Anthropic;
use expand::providers::brave::Brave;
use expand::providers::command::CommandWriter;
use expand::providers::fetch::Fetcher;
use expand::providers::http::{Http, HttpOptions};
use expand::providers::openai::OpenAi;
use expand::providers::searxng::Searxng;
use expand::providers::tavily::Tavily;
use expand::providers::{Fetch, ProviderError, Search, WriteRequest, Writer};
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use wiremock::matchers::{any, header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::provider_runs::{
    log, prompt_of, run, run_env, state, target, upstream, workspace_full, Behaviour, WriterKind,
    CANARY, SLUG,
};
use crate::util::Ws;

const TIMEOUT: Duration = Duration::from_secs(5);

fn http_with(cache: Option<&Path>, opts: HttpOptions) -> Arc<Http> {
    Arc::new(
        Http::new(
            cache,
            HttpOptions {
                backoff_base: Duration::from_millis(5),
                backoff_max: Duration::from_millis(40),
                ..opts
            },
        )
        .unwrap(),
    )
}

fn http(cache: Option<&Path>) -> Arc<Http> {
    http_with(cache, HttpOptions::default())
}

fn request(prompt: &str) -> WriteRequest {
    expand::testing::write_request(prompt)
}

fn writer_cfg(kind: &str, base: String, key_env: Option<&str>) -> config::Writer {
    config::Writer {
        kind: kind.into(),
        base_url: Some(base),
        model: Some("test-model".into()),
        api_key_env: key_env.map(str::to_string),
        ..config::Writer::default()
    }
}

fn search_cfg(kind: &str, base: String, key_env: Option<&str>) -> config::Search {
    config::Search {
        kind: kind.into(),
        base_url: Some(base),
        api_key_env: key_env.map(str::to_string),
        ..config::Search::default()
    }
}

/// Every cache file of a workspace, concatenated.
fn cache_text(ws: &Ws) -> String {
    files_under(&ws.path().join(".expand/cache"))
        .iter()
        .map(|f| std::fs::read_to_string(f).unwrap())
        .collect()
}

fn refused(e: &ProviderError) -> bool {
    matches!(e, ProviderError::Refused { .. }) && !e.retryable()
}

// ---------- 13: untrusted URLs reach public addresses only ----------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ssrf_private_page_urls_are_fetched_only_with_allow_private() {
    for allow in [false, true] {
        let server = upstream(WriterKind::OpenAi, Behaviour::default()).await;
        // Plan text names a page as well as the search results.
        Mock::given(path("/doc/from-plan"))
            .respond_with(
                ResponseTemplate::new(200)
                    .set_body_raw("<main><p>PLAN-DOC body text.</p></main>", "text/html"),
            )
            .mount(&server)
            .await;
        let ws = workspace_full(&server, WriterKind::OpenAi, &[&[1, 2]], "", 30, allow);
        let plan = String::from_utf8(ws.read(&format!("plans/{SLUG}.md"))).unwrap();
        let plan = plan.replacen(
            "- [ ] Scrape top 2 results\n",
            &format!(
                "- [ ] Scrape top 2 results\n- [ ] Scrape: {}/doc/from-plan\n",
                server.uri()
            ),
            1,
        );
        ws.write(&format!("plans/{SLUG}.md"), plan);
        let out = run(&ws, &["run", SLUG, "--all"]).code(0);
        let l = log(&server).await;
        // `log` files every request that is neither a search nor a
        // `/page/` as the writer's; the plan's page is a GET.
        let prompts: String = l
            .writer
            .iter()
            .filter(|r| r.method.as_str() == "POST")
            .map(prompt_of)
            .collect();
        let plan_page = l
            .writer
            .iter()
            .filter(|r| r.method.as_str() == "GET")
            .count();
        let cache = cache_text(&ws);
        if allow {
            assert_eq!(l.fetch.len(), 4, "2 results per PART");
            assert_eq!(plan_page, 1, "and the plan's page");
            for text in ["PLAN-DOC", "PAGE-alpha-1", "PAGE-bravo-2"] {
                assert!(prompts.contains(&format!("{text} body text.")), "{text}");
                assert!(cache.contains(&format!("{text} body text.")), "{text}");
            }
        } else {
            // Not fetched, so in no prompt and no cache entry; the PARTs
            // still complete (a page that cannot be fetched is a gap).
            assert!(l.fetch.is_empty() && plan_page == 0, "{:?}", l.fetch);
            assert!(
                !prompts.contains("PAGE-") && !prompts.contains("PLAN-DOC"),
                "{prompts}"
            );
            assert!(
                !cache.contains("PAGE-") && !cache.contains("PLAN-DOC"),
                "{cache}"
            );
            assert!(
                out.stderr.contains("127.0.0.1 is a loopback address")
                    && out.stderr.contains("fetch.allow_private: true"),
                "{}",
                out.stderr
            );
            assert!(out.stderr.contains("/doc/from-plan"), "{}", out.stderr);
        }
        assert_eq!(state(&ws)["parts"]["1"]["status"], "done");
    }
}

#[tokio::test]
async fn ssrf_literal_and_local_hosts_are_refused_before_connecting() {
    let server = MockServer::start().await;
    Mock::given(any())
        .respond_with(ResponseTemplate::new(200).set_body_raw("<p>inside</p>", "text/html"))
        .mount(&server)
        .await;
    let port = server.address().port();
    let f = Fetcher::new(&config::Fetch::default(), http(None)).with_timeout(TIMEOUT);
    let mut urls: Vec<String> = [
        "127.0.0.1",
        "localhost",
        "LocalHost.",
        "app.localhost",
        "[::1]",
        "[::ffff:127.0.0.1]",
        "[::ffff:7f00:1]",
        "2130706433",
        "0x7f.0.0.1",
        "0177.0.0.1",
        "127.1",
        "0.0.0.0",
    ]
    .iter()
    .map(|h| format!("http://{h}:{port}/a"))
    .collect();
    // Cloud metadata and private networks: refused without a connection
    // attempt (which would hang here until the timeout).
    urls.extend(
        [
            "http://169.254.169.254/latest/meta-data/iam/",
            "http://[fd00:ec2::254]/latest/meta-data/",
            "http://metadata.google.internal/computeMetadata/v1/",
            "http://100.100.100.200/latest/meta-data/",
            "http://10.0.0.1/",
            "http://172.16.5.4/",
            "http://192.168.1.1/admin",
            "http://[fe80::1]/",
            "http://printer.local/",
            "http://intranet/",
        ]
        .map(String::from),
    );
    let t = Instant::now();
    for u in &urls {
        let e = f.fetch(u).await.unwrap_err();
        assert!(refused(&e), "{u}: {e:?}");
        assert!(e.to_string().contains("fetch.allow_private"), "{u}: {e}");
    }
    assert!(t.elapsed() < Duration::from_secs(2), "{:?}", t.elapsed());
    assert_eq!(count(&server).await, 0, "nothing reached the server");
}

#[tokio::test]
async fn ssrf_a_redirect_to_a_private_address_is_refused() {
    let inside = MockServer::start().await;
    Mock::given(any())
        .respond_with(
            ResponseTemplate::new(200).set_body_raw("<p>INTERNAL-SECRET</p>", "text/html"),
        )
        .mount(&inside)
        .await;
    let port = inside.address().port();
    // `outside` plays a public site: the client treats its address as public.
    let outside = MockServer::start().await;
    let redirect = |status: u16, to: String| {
        ResponseTemplate::new(status).insert_header("location", to.as_str())
    };
    for (p, status, to) in [
        ("/to-ip", 302, format!("http://127.0.0.1:{port}/admin")),
        ("/to-name", 301, format!("http://localhost:{port}/admin")),
        (
            "/to-mapped",
            307,
            format!("http://[::ffff:127.0.0.1]:{port}/admin"),
        ),
        (
            "/to-metadata",
            302,
            "http://169.254.169.254/latest/meta-data/".into(),
        ),
        ("/to-self", 302, format!("{}/page", outside.uri())),
    ] {
        Mock::given(path(p))
            .respond_with(redirect(status, to))
            .mount(&outside)
            .await;
    }
    Mock::given(path("/page"))
        .respond_with(
            ResponseTemplate::new(200).set_body_raw("<main><p>PUBLIC-PAGE</p></main>", "text/html"),
        )
        .mount(&outside)
        .await;
    let cache = tempfile::tempdir().unwrap();
    let h = http_with(
        Some(cache.path()),
        HttpOptions {
            treat_as_public: vec![*outside.address()],
            ..HttpOptions::default()
        },
    );
    let f = Fetcher::new(&config::Fetch::default(), h).with_timeout(TIMEOUT);
    let t = Instant::now();
    for (p, hop) in [
        (
            "/to-ip",
            format!("a redirect to `http://127.0.0.1:{port}/admin`"),
        ),
        (
            "/to-name",
            format!("a redirect to `http://localhost:{port}/admin`"),
        ),
        (
            "/to-mapped",
            "::ffff:127.0.0.1 is a loopback address".into(),
        ),
        (
            "/to-metadata",
            "169.254.169.254 is a link-local address".into(),
        ),
    ] {
        let e = f.fetch(&format!("{}{p}", outside.uri())).await.unwrap_err();
        assert!(refused(&e), "{p}: {e:?}");
        assert!(e.to_string().contains(&hop), "{p}: {e}");
    }
    assert!(t.elapsed() < Duration::from_secs(2), "{:?}", t.elapsed());
    assert_eq!(count(&inside).await, 0, "no hop reached the private server");
    // A redirect that stays public is followed.
    let page = f
        .fetch(&format!("{}/to-self", outside.uri()))
        .await
        .unwrap();
    assert!(page.markdown.contains("PUBLIC-PAGE"), "{}", page.markdown);
    let files = files_under(cache.path());
    assert_eq!(files.len(), 1, "only the public page is cached");
    assert!(!std::fs::read_to_string(&files[0])
        .unwrap()
        .contains("INTERNAL-SECRET"));
}

// ---------- 14: credentials stay with their origin ----------

#[tokio::test]
async fn credentials_never_follow_a_redirect_to_another_origin() {
    const KEY: &str = "sk-redirect-7c1d9e2f4a6b";
    std::env::set_var("EXPAND_IT_REDIRECT_KEY", KEY);
    let key = Some("EXPAND_IT_REDIRECT_KEY");
    let elsewhere = MockServer::start().await;
    Mock::given(any())
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({})))
        .mount(&elsewhere)
        .await;
    let api = MockServer::start().await;
    let to = elsewhere.uri();
    Mock::given(any())
        .respond_with(move |req: &wiremock::Request| {
            ResponseTemplate::new(307).insert_header("location", format!("{to}{}", req.url.path()))
        })
        .mount(&api)
        .await;
    let h = http(None);
    let anthropic = Anthropic::new(&writer_cfg("anthropic", api.uri(), key), h.clone())
        .unwrap()
        .with_timeout(TIMEOUT);
    let openai = OpenAi::new(
        &writer_cfg("openai", format!("{}/v1", api.uri()), key),
        h.clone(),
    )
    .unwrap()
    .with_timeout(TIMEOUT);
    let brave = Brave::new(&search_cfg("brave", api.uri(), key), h.clone())
        .unwrap()
        .with_timeout(TIMEOUT);
    let tavily = Tavily::new(&search_cfg("tavily", api.uri(), key), h.clone())
        .unwrap()
        .with_timeout(TIMEOUT);
    let errors = vec![
        anthropic.write(&request("p")).await.unwrap_err(),
        openai.write(&request("p")).await.unwrap_err(),
        brave.search("q", 3).await.unwrap_err(),
        tavily.search("q", 3).await.unwrap_err(),
    ];
    for e in &errors {
        assert!(refused(e), "{e:?}");
        let shown = format!("{e} {e:?}");
        assert!(shown.contains("another origin"), "{shown}");
        assert!(!shown.contains(KEY), "{shown}");
    }
    assert_eq!(count(&api).await, 4, "one request each, none retried");
    assert!(
        elsewhere.received_requests().await.unwrap().is_empty(),
        "x-api-key, authorization, x-subscription-token and Tavily's body key all stayed home"
    );

    // A redirect within the origin is followed, with the credential.
    let moved = MockServer::start().await;
    Mock::given(path("/v1/messages"))
        .respond_with(ResponseTemplate::new(307).insert_header("location", "/v2/messages"))
        .mount(&moved)
        .await;
    Mock::given(method("POST"))
        .and(path("/v2/messages"))
        .and(header("x-api-key", KEY))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "content": [{"type": "text", "text": "# moved"}],
            "usage": {"input_tokens": 1, "output_tokens": 1}})))
        .expect(1)
        .mount(&moved)
        .await;
    let a = Anthropic::new(&writer_cfg("anthropic", moved.uri(), key), h)
        .unwrap()
        .with_timeout(TIMEOUT);
    assert_eq!(a.write(&request("p")).await.unwrap().text, "# moved");
}

// ---------- 15: no 8 characters of a key in any output ----------

/// Does `text` hold 8 consecutive characters of `key`: as they are, in any
/// case, behind `\u`/percent escapes, or inside base64?
fn leaks(text: &str, key: &str) -> bool {
    let mut decoded = String::new();
    let b = text.as_bytes();
    let mut i = 0;
    while i < b.len() {
        let hex = |from: usize, n: usize| {
            text.get(from..from + n)
                .and_then(|h| u8::from_str_radix(h, 16).ok())
        };
        if b[i] == b'\\' && b.get(i + 1) == Some(&b'u') && b.get(i + 2..i + 4) == Some(b"00") {
            if let Some(c) = hex(i + 4, 2) {
                decoded.push(c as char);
                i += 6;
                continue;
            }
        }
        if b[i] == b'%' {
            if let Some(c) = hex(i + 1, 2) {
                decoded.push(c as char);
                i += 3;
                continue;
            }
        }
        decoded.push(b[i] as char);
        i += 1;
    }
    let lower = key.to_ascii_lowercase();
    let folded = [text.to_ascii_lowercase(), decoded.to_ascii_lowercase()];
    if lower.as_bytes().windows(8).any(|w| {
        let w = std::str::from_utf8(w).unwrap();
        folded.iter().any(|t| t.contains(w))
    }) {
        return true;
    }
    (0..3).any(|skip| {
        let tail = &key.as_bytes()[skip..];
        let enc =
            base64::engine::general_purpose::STANDARD_NO_PAD.encode(&tail[..tail.len() / 3 * 3]);
        enc.as_bytes()
            .windows(8)
            .any(|w| text.contains(std::str::from_utf8(w).unwrap()))
    })
}

/// An error body that echoes `key` in every shape, the plain echo placed so
/// that a 300-character cut falls after 19 of its characters.
fn echo_body(key: &str) -> String {
    let lead = "invalid api key ";
    let pad = ".".repeat(300 - lead.len() - 19);
    let escaped: String = key
        .chars()
        .map(|c| format!("\\u{:04x}", c as u32))
        .collect();
    let percent: String = key.bytes().map(|c| format!("%{c:02X}")).collect();
    let basic = base64::engine::general_purpose::STANDARD.encode(format!("user:{key}"));
    format!(
        "{lead}{pad}{key} upper {} escaped {escaped} percent {percent} basic {basic}",
        key.to_uppercase()
    )
}

#[tokio::test]
async fn key_echoes_are_scrubbed_before_the_error_is_cut() {
    const KEY: &str = "sk-echo-9f8e7d6c5b4a3921";
    std::env::set_var("EXPAND_IT_ECHO_KEY", KEY);
    let key = Some("EXPAND_IT_ECHO_KEY");
    let server = MockServer::start().await;
    let body = echo_body(KEY);
    let shapes: Vec<(&str, String)> = vec![
        ("cut", body.clone()),
        (
            "upper",
            format!("{{\"error\": \"bad key {}\"}}", KEY.to_uppercase()),
        ),
        (
            "escaped",
            body[body.find(" escaped ").unwrap()..].to_string(),
        ),
        (
            "percent",
            body[body.find(" percent ").unwrap()..].to_string(),
        ),
        ("basic", body[body.find(" basic ").unwrap()..].to_string()),
    ];
    for (name, text) in &shapes {
        Mock::given(path(format!("/{name}/v1/chat/completions")))
            .respond_with(ResponseTemplate::new(401).set_body_string(text.clone()))
            .mount(&server)
            .await;
    }
    for (name, text) in &shapes {
        assert!(leaks(text, KEY), "{name}: the test body echoes the key");
        let w = OpenAi::new(
            &writer_cfg("openai", format!("{}/{name}/v1", server.uri()), key),
            http(None),
        )
        .unwrap()
        .with_timeout(TIMEOUT);
        let e = w.write(&request("p")).await.unwrap_err();
        let shown = format!("{e} {e:?}");
        assert!(!leaks(&shown, KEY), "{name}: {shown}");
        assert!(shown.contains("[redact"), "{name}: {shown}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_echoed_key_reaches_no_output_state_or_file() {
    let server = upstream(WriterKind::OpenAi, Behaviour::default()).await;
    // Every writer call fails with the key echoed back in every shape.
    Mock::given(method("POST"))
        .and(path("/v1/chat/completions"))
        .respond_with(ResponseTemplate::new(401).set_body_string(echo_body(CANARY)))
        .with_priority(1)
        .mount(&server)
        .await;
    let ws = workspace_full(&server, WriterKind::OpenAi, &[&[1, 2]], "", 30, true);
    let mut outs = vec![run(&ws, &["-vv", "run", SLUG, "--all", "--keep-going"]).code(1)];
    let st = state(&ws);
    let err = st["parts"]["1"]["error"].as_str().unwrap().to_string();
    assert!(err.contains("HTTP 401") && err.contains("[redact"), "{err}");
    outs.push(run(&ws, &["status", SLUG]));
    outs.push(run(&ws, &["--json", "status", SLUG]));
    outs.push(run(&ws, &["review", "batch", "1", SLUG]));
    outs.push(run(&ws, &["--json", "review", "batch", "1", SLUG]));
    for o in &outs {
        assert!(!leaks(&o.stdout, CANARY), "{}", o.stdout);
        assert!(!leaks(&o.stderr, CANARY), "{}", o.stderr);
    }
    assert!(
        outs[1].stdout.contains("HTTP 401"),
        "status shows the error: {}",
        outs[1].stdout
    );
    for f in files_under(ws.path()) {
        let text = String::from_utf8_lossy(&std::fs::read(&f).unwrap()).into_owned();
        assert!(!leaks(&text, CANARY), "{}: {text}", f.display());
    }
}

// ---------- 16: every body is capped while it streams ----------

/// A server that answers every request with `status` and a chunked body
/// that never ends; the counter holds the bytes it managed to send.
async fn endless(status: u16, ctype: &'static str) -> (SocketAddr, Arc<AtomicUsize>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let sent = Arc::new(AtomicUsize::new(0));
    let total = Arc::clone(&sent);
    tokio::spawn(async move {
        loop {
            let Ok((mut sock, _)) = listener.accept().await else {
                return;
            };
            let total = Arc::clone(&total);
            tokio::spawn(async move {
                let mut buf = vec![0u8; 16 * 1024];
                let mut seen = Vec::new();
                while !seen.windows(4).any(|w| w == b"\r\n\r\n") {
                    match sock.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => seen.extend_from_slice(&buf[..n]),
                    }
                }
                let head = format!(
                    "HTTP/1.1 {status} Endless\r\ncontent-type: {ctype}\r\ntransfer-encoding: chunked\r\n\r\n"
                );
                if sock.write_all(head.as_bytes()).await.is_err() {
                    return;
                }
                let chunk = format!("4000\r\n{}\r\n", "y".repeat(0x4000));
                while sock.write_all(chunk.as_bytes()).await.is_ok() {
                    total.fetch_add(chunk.len(), Ordering::Relaxed);
                }
            });
        }
    });
    (addr, sent)
}

#[tokio::test]
async fn endless_bodies_are_cut_while_they_stream() {
    // An error body: a few KB are read for the message, then the request
    // fails as an HTTP error (reading it whole would end in the timeout).
    let (addr, _) = endless(500, "text/plain").await;
    let w = OpenAi::new(
        &writer_cfg("openai", format!("http://{addr}/v1"), None),
        http(None),
    )
    .unwrap()
    .with_timeout(TIMEOUT);
    let t = Instant::now();
    let e = w.write(&request("p")).await.unwrap_err();
    assert!(
        matches!(e, ProviderError::Http { status: 500, .. }),
        "{e:?}"
    );
    assert!(e.to_string().len() < 400, "{e}");
    assert!(t.elapsed() < Duration::from_secs(3), "{:?}", t.elapsed());

    // An answer: over the cap is an error, not a truncated answer.
    let (addr, _) = endless(200, "application/json").await;
    let h = http_with(
        None,
        HttpOptions {
            max_body: 256 * 1024,
            ..HttpOptions::default()
        },
    );
    let s = Searxng::new(&search_cfg("searxng", format!("http://{addr}"), None), h)
        .with_timeout(TIMEOUT);
    let e = s.search("q", 3).await.unwrap_err();
    assert!(
        matches!(e, ProviderError::BadResponse { .. })
            && e.to_string()
                .contains("larger than 262144 bytes (writer.max_bytes)"),
        "{e:?}"
    );
    assert!(!e.retryable());

    // A page: cut at fetch.max_bytes and kept.
    let (addr, _) = endless(200, "text/plain").await;
    let cfg = config::Fetch {
        max_bytes: 100_000,
        allow_private: true,
        ..config::Fetch::default()
    };
    let f = Fetcher::new(&cfg, http(None)).with_timeout(TIMEOUT);
    let page = f.fetch(&format!("http://{addr}/page")).await.unwrap();
    assert_eq!(page.markdown.len(), 100_000);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_writer_answer_over_max_bytes_fails_the_part_and_writes_nothing() {
    let server = upstream(WriterKind::OpenAi, Behaviour::default()).await;
    let huge = format!("# Big\n\n{}\n", "lorem ipsum ".repeat(200_000));
    Mock::given(method("POST"))
        .and(path("/v1/chat/completions"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "model": "mock-model",
            "choices": [{"index": 0, "message": {"role": "assistant", "content": huge}}],
            "usage": {"prompt_tokens": 1, "completion_tokens": 1}})))
        .with_priority(1)
        .mount(&server)
        .await;
    let ws = workspace_full(&server, WriterKind::OpenAi, &[&[1, 2]], "", 30, true);
    let out = run_env(
        &ws,
        &["run", SLUG, "--all", "--keep-going"],
        &[("EXPAND_WRITER__MAX_BYTES", "1000000")],
    )
    .code(1);
    assert!(
        out.stdout
            .contains("larger than 1000000 bytes (writer.max_bytes)"),
        "{}",
        out.stdout
    );
    let st = state(&ws);
    for n in [1u32, 2] {
        assert_eq!(st["parts"][n.to_string()]["status"], "failed", "PART {n}");
        assert!(!ws.path().join("knowledge").join(target(n)).exists());
    }
    assert!(
        !cache_text(&ws).contains("lorem ipsum lorem"),
        "the answer is not cached"
    );
}

#[cfg(target_os = "linux")]
#[tokio::test]
async fn a_command_writer_past_max_bytes_is_killed_with_its_group() {
    let d = tempfile::tempdir().unwrap();
    let pidfile = d.path().join("helper.pid");
    let script = d.path().join("agent.sh");
    std::fs::write(
        &script,
        format!(
            "#!/bin/sh\nsleep 60 &\necho $! > '{}'\nexec yes\n",
            pidfile.display()
        ),
    )
    .unwrap();
    let cfg = config::Writer {
        kind: "command".into(),
        command: Some(vec!["sh".into(), script.to_string_lossy().into_owned()]),
        max_bytes: 1_000_000,
        timeout_s: 30,
        ..config::Writer::default()
    };
    let w = CommandWriter::new(&cfg).unwrap();
    let t = Instant::now();
    let e = w.write(&request("p")).await.unwrap_err();
    assert!(t.elapsed() < Duration::from_secs(10), "{:?}", t.elapsed());
    assert!(
        e.to_string()
            .contains("more than 1000000 bytes (writer.max_bytes) on stdout"),
        "{e}"
    );
    // The helper it left in the background went with the group.
    let pid = std::fs::read_to_string(&pidfile)
        .unwrap()
        .trim()
        .to_string();
    let dead = || match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Err(_) => true,
        // A killed process nobody has reaped yet is a zombie (`Z`).
        Ok(stat) => stat
            .rsplit(')')
            .next()
            .unwrap_or("")
            .trim_start()
            .starts_with('Z'),
    };
    let until = Instant::now() + Duration::from_secs(3);
    while !dead() && Instant::now() < until {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(dead(), "helper {pid} still runs");
}

// ---------- 17: deep pages convert, and only converted pages are cached ----------

/// 5,000 nested elements (about 55 KB) around the page's text.
fn deep_page(name: &str) -> String {
    format!(
        "<html><head><title>{name}</title></head><body><main>{}<p>DEEP-{name} text.</p>{}</main></body></html>",
        "<div>".repeat(5000),
        "</div>".repeat(5000)
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_page_nested_5000_deep_converts_and_its_part_completes() {
    let server = upstream(
        WriterKind::OpenAi,
        Behaviour {
            page: Some(deep_page),
            ..Behaviour::default()
        },
    )
    .await;
    assert!(deep_page("x").len() > 55_000);
    let ws = workspace_full(&server, WriterKind::OpenAi, &[&[1, 2]], "", 30, true);
    run(&ws, &["run", SLUG, "--all"]).code(0);
    let st = state(&ws);
    for n in [1, 2] {
        assert_eq!(st["parts"][n.to_string()]["status"], "done", "PART {n}");
    }
    let l = log(&server).await;
    let prompts: String = l.writer.iter().map(prompt_of).collect();
    assert!(prompts.contains("DEEP-alpha-1 text."), "{prompts}");
    // The cache holds the converted page, not the markup.
    let cache = cache_text(&ws);
    assert!(cache.contains("DEEP-alpha-1 text."));
    assert!(!cache.contains("<div><div>"), "raw markup cached");
}

#[tokio::test]
async fn only_pages_that_converted_are_cached() {
    let server = MockServer::start().await;
    Mock::given(path("/doc.pdf"))
        .respond_with(ResponseTemplate::new(200).set_body_raw(vec![0u8; 64], "application/pdf"))
        .mount(&server)
        .await;
    Mock::given(path("/deep"))
        .respond_with(ResponseTemplate::new(200).set_body_raw(deep_page("x"), "text/html"))
        .mount(&server)
        .await;
    let cache = tempfile::tempdir().unwrap();
    let cfg = config::Fetch {
        allow_private: true,
        ..config::Fetch::default()
    };
    let f = Fetcher::new(&cfg, http(Some(cache.path()))).with_timeout(TIMEOUT);
    let pdf = format!("{}/doc.pdf", server.uri());
    assert!(f.fetch(&pdf).await.is_err());
    assert!(f.fetch(&pdf).await.is_err());
    assert_eq!(count(&server).await, 2, "a page that failed is asked again");
    assert!(files_under(cache.path()).is_empty(), "and never cached");

    let deep = format!("{}/deep", server.uri());
    let page = f.fetch(&deep).await.unwrap();
    assert!(page.markdown.contains("DEEP-x text."), "{}", page.markdown);
    assert_eq!(page.title.as_deref(), Some("x"));
    // A resumed run reads the converted page from the cache.
    let again = Fetcher::new(&cfg, http(Some(cache.path())))
        .fetch(&deep)
        .await
        .unwrap();
    assert_eq!(again.markdown, page.markdown);
    assert_eq!(count(&server).await, 3);
}
