//! Network providers against real HTTP servers on loopback (wiremock): wire
//! formats, faults and retries, the response cache, secret hygiene, and the
//! agent-command writer.

use crate::util::{count, files_under};
use std::io::Write as _;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use expand::config;
use expand::providers::anthropic::Anthropic;
use expand::providers::brave::Brave;
use expand::providers::command::CommandWriter;
use expand::providers::fetch::Fetcher;
use expand::providers::http::{Http, HttpOptions};
use expand::providers::openai::OpenAi;
use expand::providers::searxng::Searxng;
use expand::providers::tavily::Tavily;
use expand::providers::{Fetch, ProviderError, Search, Usage, WriteRequest, Writer};
use serde_json::json;
use wiremock::matchers::{body_partial_json, header, method, path, query_param};
use wiremock::{Mock, MockServer, ResponseTemplate};

const TIMEOUT: Duration = Duration::from_millis(400);

fn http(cache: Option<&Path>) -> Arc<Http> {
    Arc::new(
        Http::new(
            cache,
            HttpOptions {
                max_attempts: 4,
                backoff_base: Duration::from_millis(5),
                backoff_max: Duration::from_millis(40),
                max_retry_after: Duration::from_secs(3),
                concurrency: 8,
                ..HttpOptions::default()
            },
        )
        .unwrap(),
    )
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
        max_tokens: Some(100),
        temperature: Some(0.2),
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

fn openai_answer(text: &str) -> serde_json::Value {
    json!({"id": "x", "model": "test-model",
           "choices": [{"index": 0, "message": {"role": "assistant", "content": text}}],
           "usage": {"prompt_tokens": 11, "completion_tokens": 22}})
}

fn searxng_answer() -> serde_json::Value {
    json!({"query": "q", "results": [
        {"url": "https://a.example/1", "title": "One", "content": "first"},
        {"url": "https://a.example/2", "title": "Two", "content": "second"},
        {"url": "https://a.example/3", "title": "Three", "content": "third"}]})
}

// ---------- wire formats ----------

#[tokio::test]
async fn openai_wire_format() {
    std::env::set_var("EXPAND_IT_OPENAI_KEY", "sk-openai-wire");
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/chat/completions"))
        .and(header("authorization", "Bearer sk-openai-wire"))
        .and(body_partial_json(json!({
            "model": "test-model", "max_tokens": 100,
            "messages": [{"role": "user", "content": "write it"}]})))
        .respond_with(ResponseTemplate::new(200).set_body_json(openai_answer("# Args\n")))
        .expect(1)
        .mount(&server)
        .await;
    let cfg = writer_cfg(
        "openai",
        format!("{}/v1", server.uri()),
        Some("EXPAND_IT_OPENAI_KEY"),
    );
    let w = OpenAi::new(&cfg, http(None)).unwrap().with_timeout(TIMEOUT);
    let out = w.write(&request("write it")).await.unwrap();
    assert_eq!(out.text, "# Args\n");
    assert_eq!(out.usage, Usage::new(11, 22));
    assert_eq!(w.name(), "openai");
}

#[tokio::test]
async fn openai_local_server_needs_no_key() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/chat/completions"))
        .respond_with(ResponseTemplate::new(200).set_body_json(openai_answer("ok")))
        .mount(&server)
        .await;
    let cfg = writer_cfg("openai", format!("{}/v1/", server.uri()), None);
    let w = OpenAi::new(&cfg, http(None)).unwrap().with_timeout(TIMEOUT);
    w.write(&request("p")).await.unwrap();
    let reqs = server.received_requests().await.unwrap();
    assert!(reqs[0].headers.get("authorization").is_none());
}

#[tokio::test]
async fn anthropic_wire_format() {
    std::env::set_var("EXPAND_IT_ANTHROPIC_KEY", "ak-anthropic-wire");
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/messages"))
        .and(header("x-api-key", "ak-anthropic-wire"))
        .and(header("anthropic-version", "2023-06-01"))
        .and(body_partial_json(json!({
            "model": "test-model", "max_tokens": 100,
            "messages": [{"role": "user", "content": "write it"}]})))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "id": "msg", "type": "message", "role": "assistant", "model": "test-model",
            "content": [{"type": "text", "text": "# A\n"}, {"type": "text", "text": "body\n"}],
            "usage": {"input_tokens": 7, "output_tokens": 9}})))
        .expect(1)
        .mount(&server)
        .await;
    let cfg = writer_cfg("anthropic", server.uri(), Some("EXPAND_IT_ANTHROPIC_KEY"));
    let w = Anthropic::new(&cfg, http(None))
        .unwrap()
        .with_timeout(TIMEOUT);
    let out = w.write(&request("write it")).await.unwrap();
    assert_eq!(out.text, "# A\nbody\n");
    assert_eq!(out.usage, Usage::new(7, 9));
}

#[tokio::test]
async fn searxng_wire_format() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/search"))
        .and(query_param("q", "rust clap & derive"))
        .and(query_param("format", "json"))
        .respond_with(ResponseTemplate::new(200).set_body_json(searxng_answer()))
        .expect(1)
        .mount(&server)
        .await;
    let s =
        Searxng::new(&search_cfg("searxng", server.uri(), None), http(None)).with_timeout(TIMEOUT);
    let hits = s.search("rust clap & derive", 2).await.unwrap();
    assert_eq!(hits.len(), 2);
    assert_eq!(hits[0].url, "https://a.example/1");
    assert_eq!(hits[1].snippet, "second");
}

#[tokio::test]
async fn brave_wire_format() {
    std::env::set_var("EXPAND_IT_BRAVE_KEY", "brave-key-wire");
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/res/v1/web/search"))
        .and(query_param("q", "tokio"))
        .and(query_param("count", "3"))
        .and(header("x-subscription-token", "brave-key-wire"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "type": "search",
            "web": {"results": [{"title": "<strong>Tokio</strong>", "url": "https://tokio.rs",
                                 "description": "An <strong>async</strong> runtime"}]}})))
        .expect(1)
        .mount(&server)
        .await;
    let s = Brave::new(
        &search_cfg("brave", server.uri(), Some("EXPAND_IT_BRAVE_KEY")),
        http(None),
    )
    .unwrap()
    .with_timeout(TIMEOUT);
    let hits = s.search("tokio", 3).await.unwrap();
    assert_eq!(hits.len(), 1);
    assert_eq!(hits[0].title, "Tokio");
    assert_eq!(hits[0].snippet, "An async runtime");
}

#[tokio::test]
async fn tavily_wire_format_keeps_key_out_of_cache() {
    std::env::set_var("EXPAND_IT_TAVILY_KEY", "tvly-key-wire");
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/search"))
        .and(body_partial_json(json!({"api_key": "tvly-key-wire", "query": "serde", "max_results": 2})))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "query": "serde",
            "results": [{"title": "Serde", "url": "https://serde.rs", "content": "framework", "score": 0.9}]})))
        .expect(1)
        .mount(&server)
        .await;
    let cache = tempfile::tempdir().unwrap();
    let cfg = search_cfg("tavily", server.uri(), Some("EXPAND_IT_TAVILY_KEY"));
    let s = Tavily::new(&cfg, http(Some(cache.path())))
        .unwrap()
        .with_timeout(TIMEOUT);
    let hits = s.search("serde", 2).await.unwrap();
    assert_eq!(hits[0].url, "https://serde.rs");
    // Answered again from the cache, and the cache never holds the key.
    let again = s.search("serde", 2).await.unwrap();
    assert_eq!(again, hits);
    let files = files_under(cache.path());
    assert_eq!(files.len(), 1);
    for f in files {
        assert!(!std::fs::read_to_string(f)
            .unwrap()
            .contains("tvly-key-wire"));
    }
}

#[tokio::test]
async fn fetch_converts_main_content_and_caps_size() {
    let server = MockServer::start().await;
    let page = format!(
        "<html><head><title>Guide</title><script>var k=1;</script></head><body>\
         <nav>MENU</nav><main><h2>Intro</h2><p>Read <a href=\"https://x.example\">this</a>.</p>\
         <p>{}</p></main><footer>FOOT</footer></body></html>",
        "filler ".repeat(10)
    );
    Mock::given(method("GET"))
        .and(path("/guide"))
        .respond_with(ResponseTemplate::new(200).set_body_raw(page, "text/html; charset=utf-8"))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/big"))
        .respond_with(ResponseTemplate::new(200).set_body_raw("a".repeat(50_000), "text/plain"))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/pdf"))
        .respond_with(ResponseTemplate::new(200).set_body_raw(vec![0u8; 10], "application/pdf"))
        .mount(&server)
        .await;
    // The pages are on loopback, which only `allow_private` fetches.
    let cfg = config::Fetch {
        max_bytes: 4096,
        allow_private: true,
        ..config::Fetch::default()
    };
    let f = Fetcher::new(&cfg, http(None)).with_timeout(TIMEOUT);
    let p = f.fetch(&format!("{}/guide", server.uri())).await.unwrap();
    assert_eq!(p.title.as_deref(), Some("Guide"));
    assert!(
        p.markdown.contains("## Intro") && p.markdown.contains("[this](https://x.example)"),
        "{}",
        p.markdown
    );
    assert!(
        !p.markdown.contains("MENU")
            && !p.markdown.contains("FOOT")
            && !p.markdown.contains("var k")
    );
    let big = f.fetch(&format!("{}/big", server.uri())).await.unwrap();
    assert_eq!(big.markdown.len(), 4096);
    let e = f.fetch(&format!("{}/pdf", server.uri())).await.unwrap_err();
    assert!(e.to_string().contains("application/pdf"), "{e}");
    assert!(f.fetch("file:///etc/passwd").await.is_err());
}

#[tokio::test]
async fn fetch_is_polite_per_host() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_raw("<p>x</p>", "text/html")
                .set_delay(Duration::from_millis(150)),
        )
        .mount(&server)
        .await;
    let cfg = config::Fetch {
        per_host: 1,
        allow_private: true,
        ..config::Fetch::default()
    };
    let f = Fetcher::new(&cfg, http(None)).with_timeout(Duration::from_secs(2));
    let (a, b) = (format!("{}/a", server.uri()), format!("{}/b", server.uri()));
    let t = Instant::now();
    let (ra, rb) = tokio::join!(f.fetch(&a), f.fetch(&b));
    ra.unwrap();
    rb.unwrap();
    assert!(
        t.elapsed() >= Duration::from_millis(300),
        "{:?}",
        t.elapsed()
    );
}

// ---------- faults and retries ----------

#[tokio::test]
async fn retry_after_429_is_honoured() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(429).insert_header("retry-after", "1"))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(200).set_body_json(searxng_answer()))
        .mount(&server)
        .await;
    let s =
        Searxng::new(&search_cfg("searxng", server.uri(), None), http(None)).with_timeout(TIMEOUT);
    let t = Instant::now();
    let hits = s.search("q", 5).await.unwrap();
    assert_eq!(hits.len(), 3);
    assert!(
        t.elapsed() >= Duration::from_millis(950),
        "{:?}",
        t.elapsed()
    );
    assert_eq!(count(&server).await, 2);
}

#[tokio::test]
async fn server_errors_and_hangs_are_retried_within_budget() {
    let server = MockServer::start().await;
    // Of twelve requests, two hang past the timeout and two fail with 500.
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200).set_delay(Duration::from_secs(3)))
        .up_to_n_times(2)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(500).set_body_string("overloaded"))
        .up_to_n_times(2)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200).set_body_json(openai_answer("# ok")))
        .mount(&server)
        .await;
    let cfg = writer_cfg("openai", format!("{}/v1", server.uri()), None);
    let w = Arc::new(
        OpenAi::new(&cfg, http(None))
            .unwrap()
            .with_timeout(Duration::from_millis(300)),
    );
    let t = Instant::now();
    let tasks: Vec<_> = (0..8)
        .map(|i| {
            let w = w.clone();
            tokio::spawn(async move { w.write(&request(&format!("prompt {i}"))).await })
        })
        .collect();
    for t in tasks {
        assert_eq!(t.await.unwrap().unwrap().text, "# ok");
    }
    assert_eq!(count(&server).await, 12);
    assert!(t.elapsed() < Duration::from_secs(3), "{:?}", t.elapsed());
}

#[tokio::test]
async fn exhausted_retries_fail_with_the_reason() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(503).set_body_string("upstream down"))
        .mount(&server)
        .await;
    let cfg = writer_cfg("openai", format!("{}/v1", server.uri()), None);
    let w = OpenAi::new(&cfg, http(None)).unwrap().with_timeout(TIMEOUT);
    let e = w.write(&request("p")).await.unwrap_err();
    assert!(
        matches!(e, ProviderError::Http { status: 503, .. }),
        "{e:?}"
    );
    assert!(e.to_string().contains("upstream down"), "{e}");
    assert_eq!(count(&server).await, 4);
}

#[tokio::test]
async fn hanging_server_fails_as_timeout_when_budget_is_spent() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(200).set_delay(Duration::from_secs(5)))
        .mount(&server)
        .await;
    let s = Searxng::new(&search_cfg("searxng", server.uri(), None), http(None))
        .with_timeout(Duration::from_millis(200));
    let t = Instant::now();
    let e = s.search("q", 3).await.unwrap_err();
    assert!(matches!(e, ProviderError::Timeout { .. }), "{e:?}");
    assert!(t.elapsed() < Duration::from_secs(2), "{:?}", t.elapsed());
    assert_eq!(count(&server).await, 4);
}

#[tokio::test]
async fn client_errors_are_not_retried() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(400).set_body_string("bad model"))
        .mount(&server)
        .await;
    let cfg = writer_cfg("openai", format!("{}/v1", server.uri()), None);
    let w = OpenAi::new(&cfg, http(None)).unwrap().with_timeout(TIMEOUT);
    let e = w.write(&request("p")).await.unwrap_err();
    assert!(!e.retryable() && e.to_string().contains("HTTP 400"), "{e}");
    assert_eq!(count(&server).await, 1);
}

#[tokio::test]
async fn unreachable_server_is_a_network_error() {
    // Bind then drop a listener: the port is closed.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let s = Searxng::new(
        &search_cfg("searxng", format!("http://127.0.0.1:{port}"), None),
        http(None),
    )
    .with_timeout(TIMEOUT);
    let e = s.search("q", 3).await.unwrap_err();
    assert!(matches!(e, ProviderError::Network { .. }), "{e:?}");
}

// ---------- cache ----------

#[tokio::test]
async fn repeated_requests_are_answered_from_cache() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200).set_body_json(openai_answer("# cached")))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(200).set_body_json(searxng_answer()))
        .mount(&server)
        .await;
    let cache = tempfile::tempdir().unwrap();
    let wcfg = writer_cfg("openai", format!("{}/v1", server.uri()), None);
    let scfg = search_cfg("searxng", server.uri(), None);
    {
        let h = http(Some(cache.path()));
        let w = OpenAi::new(&wcfg, h.clone()).unwrap().with_timeout(TIMEOUT);
        let s = Searxng::new(&scfg, h).with_timeout(TIMEOUT);
        w.write(&request("p")).await.unwrap();
        s.search("q", 3).await.unwrap();
        assert_eq!(count(&server).await, 2);
    }
    // A resumed run: a new client over the same cache sends nothing already answered.
    let h = http(Some(cache.path()));
    let w = OpenAi::new(&wcfg, h.clone()).unwrap().with_timeout(TIMEOUT);
    let s = Searxng::new(&scfg, h).with_timeout(TIMEOUT);
    assert_eq!(w.write(&request("p")).await.unwrap().text, "# cached");
    assert_eq!(s.search("q", 3).await.unwrap().len(), 3);
    assert_eq!(count(&server).await, 2);
    s.search("another query", 3).await.unwrap();
    assert_eq!(count(&server).await, 3);
}

#[tokio::test]
async fn failures_are_not_cached() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(404))
        .mount(&server)
        .await;
    let cache = tempfile::tempdir().unwrap();
    let s = Searxng::new(
        &search_cfg("searxng", server.uri(), None),
        http(Some(cache.path())),
    )
    .with_timeout(TIMEOUT);
    assert!(s.search("q", 3).await.is_err());
    assert!(s.search("q", 3).await.is_err());
    assert_eq!(count(&server).await, 2);
    assert!(files_under(cache.path()).is_empty());
}

// ---------- secrets ----------

#[derive(Clone)]
struct Buf(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Buf {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn canary_key_appears_in_no_cache_file_log_or_error() {
    const CANARY: &str = "canary-7f3a9c1e-secret-value";
    std::env::set_var("EXPAND_IT_CANARY_KEY", CANARY);
    let logs = Buf(Arc::new(Mutex::new(Vec::new())));
    let sink = logs.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_ansi(false)
        .with_writer(move || sink.clone())
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let server = MockServer::start().await;
    // An error answer that echoes the key back must not leak it either.
    Mock::given(method("POST"))
        .and(path("/fail/v1/chat/completions"))
        .respond_with(ResponseTemplate::new(401).set_body_string(format!("invalid key {CANARY}")))
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/v1/chat/completions"))
        .respond_with(ResponseTemplate::new(200).set_body_json(openai_answer("# ok")))
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/v1/messages"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "content": [{"type": "text", "text": "# ok"}], "usage": {"input_tokens": 1, "output_tokens": 1}})))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/res/v1/web/search"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"web": {"results": []}})))
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/search"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"results": [
            {"title": "t", "url": "https://echo.example", "content": format!("echo {CANARY}")}]})))
        .mount(&server)
        .await;

    let cache = tempfile::tempdir().unwrap();
    let h = http(Some(cache.path()));
    let key = Some("EXPAND_IT_CANARY_KEY");
    let openai = OpenAi::new(
        &writer_cfg("openai", format!("{}/v1", server.uri()), key),
        h.clone(),
    )
    .unwrap();
    let anthropic = Anthropic::new(&writer_cfg("anthropic", server.uri(), key), h.clone()).unwrap();
    let brave = Brave::new(&search_cfg("brave", server.uri(), key), h.clone()).unwrap();
    let tavily = Tavily::new(&search_cfg("tavily", server.uri(), key), h.clone()).unwrap();
    let failing = OpenAi::new(
        &writer_cfg("openai", format!("{}/fail/v1", server.uri()), key),
        h,
    )
    .unwrap();
    // Other tests may have registered these callsites, without a subscriber,
    // while this one was being installed; recompute so none stays muted.
    tracing::callsite::rebuild_interest_cache();
    openai.write(&request("p")).await.unwrap();
    anthropic.write(&request("p")).await.unwrap();
    brave.search("q", 3).await.unwrap();
    tavily.search("q", 3).await.unwrap();
    let e = failing.write(&request("p")).await.unwrap_err();
    let shown = format!("{e} {e:?}");
    assert!(!shown.contains(CANARY), "{shown}");
    assert!(shown.contains("[redacted]"), "{shown}");

    let logs = String::from_utf8(logs.0.lock().unwrap().clone()).unwrap();
    assert!(
        logs.contains("http request"),
        "debug logs were captured: {logs}"
    );
    assert!(!logs.contains(CANARY), "{logs}");
    // Four answers cached, as four records of the one response log.
    let files = files_under(cache.path());
    assert_eq!(files.len(), 1, "{files:?}");
    for f in files {
        let text = std::fs::read_to_string(&f).unwrap();
        assert_eq!(text.matches("expand-http1 ").count(), 4, "{text}");
        assert!(!text.contains(CANARY), "{}: {text}", f.display());
    }
}

// ---------- command writer ----------

fn script(dir: &Path, body: &str) -> String {
    let p = dir.join("agent.sh");
    let mut f = std::fs::File::create(&p).unwrap();
    writeln!(f, "#!/bin/sh\n{body}").unwrap();
    drop(f);
    p.to_string_lossy().into_owned()
}

fn command_cfg(argv: Vec<String>) -> config::Writer {
    config::Writer {
        kind: "command".into(),
        command: Some(argv),
        ..config::Writer::default()
    }
}

#[cfg(unix)]
#[tokio::test]
async fn command_writer_reads_stdin_and_writes_stdout() {
    let d = tempfile::tempdir().unwrap();
    let s = script(d.path(), "echo '# From agent'\ncat");
    let w = CommandWriter::new(&command_cfg(vec!["sh".into(), s])).unwrap();
    let out = w.write(&request("the prompt text")).await.unwrap();
    assert_eq!(out.text, "# From agent\nthe prompt text");
    assert!(out.usage.input_tokens > 0 && out.usage.output_tokens > 0);
}

#[cfg(unix)]
#[tokio::test]
async fn command_writer_failure_carries_stderr_tail() {
    let d = tempfile::tempdir().unwrap();
    let s = script(
        d.path(),
        "cat >/dev/null\ni=0; while [ $i -lt 300 ]; do echo \"noise line $i\" >&2; i=$((i+1)); done\necho 'fatal: model refused' >&2\nexit 3",
    );
    let w = CommandWriter::new(&command_cfg(vec!["sh".into(), s])).unwrap();
    let e = w.write(&request("p")).await.unwrap_err();
    match &e {
        ProviderError::Command {
            code, stderr_tail, ..
        } => {
            assert_eq!(code, "3");
            assert!(
                stderr_tail.ends_with("fatal: model refused"),
                "{stderr_tail}"
            );
            assert!(stderr_tail.len() <= 2100 && !stderr_tail.contains("noise line 0\n"));
        }
        other => panic!("{other:?}"),
    }
}

#[cfg(unix)]
#[tokio::test]
async fn command_writer_is_killed_on_timeout() {
    let d = tempfile::tempdir().unwrap();
    let s = script(d.path(), "sleep 10\necho late");
    let w = CommandWriter::new(&command_cfg(vec!["sh".into(), s]))
        .unwrap()
        .with_timeout(Duration::from_millis(300));
    let t = Instant::now();
    let e = w.write(&request("p")).await.unwrap_err();
    assert!(matches!(e, ProviderError::Timeout { .. }), "{e:?}");
    assert!(t.elapsed() < Duration::from_secs(3), "{:?}", t.elapsed());
}

#[tokio::test]
async fn missing_command_is_reported() {
    let w = CommandWriter::new(&command_cfg(vec!["/nonexistent/agent-xyz".into()])).unwrap();
    let e = w.write(&request("p")).await.unwrap_err();
    assert!(e.to_string().contains("agent-xyz"), "{e}");
}

// ---------- prompt checks and the one repair ----------

#[tokio::test]
async fn failed_check_sends_one_repair_request() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(body_partial_json(
            json!({"messages": [{"role": "user", "content": "p"}]}),
        ))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(openai_answer("# Args\n\nno sections, no sources\n")),
        )
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200).set_body_json(openai_answer(
            "# Args\n\n## Clap\n\nDerive it ([docs](https://docs.rs/clap)).\n\n## Sources\n\n- https://docs.rs/clap\n",
        )))
        .mount(&server)
        .await;
    let cfg = writer_cfg("openai", format!("{}/v1", server.uri()), None);
    let w = OpenAi::new(&cfg, http(None)).unwrap().with_timeout(TIMEOUT);
    let req = request("p");
    let planned: Vec<&str> = req.sections.iter().map(|s| s.title.as_str()).collect();
    let seen = std::collections::BTreeSet::from(["https://docs.rs/clap".to_string()]);
    let nothing = |_: &str| None;
    let judge = |t: &str| {
        expand::quality::check(
            &planned,
            None,
            t,
            &expand::quality::Context {
                target: &req.target,
                knowledge: &nothing,
                seen_urls: Some(&seen),
                pages: None,
                must_cite: &[],
            },
        )
    };
    let opts = expand::steps::write::Options::default();
    let checked = expand::steps::write::run(&w, &req, judge, &opts)
        .await
        .unwrap();
    assert!(checked.verdict.passes(), "{:?}", checked.verdict.problems);
    assert!(checked.repaired);
    let out = checked.written;
    assert!(out.text.contains("## Sources"));
    assert_eq!(out.usage, Usage::new(22, 44));
    let reqs = server.received_requests().await.unwrap();
    assert_eq!(reqs.len(), 2);
    let second = String::from_utf8_lossy(&reqs[1].body).into_owned();
    assert!(
        second.contains("missing planned section") && second.contains("no sources"),
        "{second}"
    );
}
