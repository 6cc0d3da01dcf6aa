//! Bright Data (issue #17) against a loopback server that speaks its API:
//! `POST /request` with a bearer key, parsed SERP JSON for Google searches
//! with `brd_json=1`, markdown pages from the Web Unlocker, 401 for a key it
//! refuses, 429 with `Retry-After`, and `zone "…" not found` (HTTP 400) for
//! a zone the account does not have. Wire formats first, then whole runs of
//! a plan by the real binary.

use std::sync::Arc;
use std::time::{Duration, Instant};

use expand::config::{self, Config, FetchVia};
use expand::providers::brightdata::{BrightDataSearch, Unlocker};
use expand::providers::http::{Http, HttpOptions};
use expand::providers::meter::Meter;
use expand::providers::{Fetch, ProviderError, Search};
use serde_json::{json, Value};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

use crate::provider_runs::{
    assert_all_done, assert_in_no_file, counts, drop_of, page_in, part_in, plan_text, prompt_of,
    run_env, state, topic, writer_answer, WriterKind, CANARY, KEY_VAR, SLUG,
};
use crate::util::{Out, Ws};

/// The variable holding the Bright Data key, and the key: it must reach no
/// file and no output.
const BD_VAR: &str = "EXPAND_IT_BD_KEY";
const BD_KEY: &str = "bd-canary-93c1f07e5a2d";
const SERP_ZONE: &str = "serp_it";
const UNLOCKER_ZONE: &str = "unlocker_it";

/// A request's JSON body.
fn body(req: &Request) -> Value {
    serde_json::from_slice(&req.body).expect("a JSON body")
}

/// Bright Data's `/request`, as far as expand uses it. Searches answer three
/// organic results on example.com; pages answer markdown.
fn answer(req: &Request) -> ResponseTemplate {
    let auth = req
        .headers
        .get("authorization")
        .and_then(|v| v.to_str().ok());
    if auth != Some(&format!("Bearer {BD_KEY}")) {
        return ResponseTemplate::new(401).set_body_string("Unauthorized");
    }
    let b = body(req);
    let zone = b["zone"].as_str().unwrap_or("");
    let url = reqwest::Url::parse(b["url"].as_str().expect("a url")).expect("a URL");
    assert_eq!(b["format"], "raw");
    match zone {
        SERP_ZONE => {
            assert_eq!(url.host_str(), Some("www.google.com"));
            let q: std::collections::HashMap<String, String> =
                url.query_pairs().into_owned().collect();
            assert_eq!(q.get("brd_json").map(String::as_str), Some("1"));
            let t = q["q"].split(' ').next().unwrap().to_string();
            let organic: Vec<Value> = (1..=3)
                .map(|i| {
                    json!({"link": format!("https://example.com/page/{t}-{i}"),
                           "title": format!("{t} page {i}"),
                           "description": format!("snippet of {t} {i}"), "rank": i})
                })
                .collect();
            ResponseTemplate::new(200).set_body_json(json!({
                "general": {"search_engine": "google", "query": q["q"]},
                "organic": organic}))
        }
        UNLOCKER_ZONE => {
            assert_eq!(b["data_format"], "markdown");
            let name = url.path().trim_start_matches("/page/").to_string();
            ResponseTemplate::new(200).set_body_raw(
                format!("# {name}\n\nPAGE-{name} body text.\n"),
                "text/plain; charset=utf-8",
            )
        }
        other => ResponseTemplate::new(400).set_body_string(format!("zone \"{other}\" not found")),
    }
}

async fn bright_data() -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/request"))
        .respond_with(answer)
        .mount(&server)
        .await;
    server
}

fn http(cache: Option<&std::path::Path>) -> Arc<Http> {
    Arc::new(
        Http::new(
            cache,
            HttpOptions {
                backoff_base: Duration::from_millis(5),
                backoff_max: Duration::from_millis(40),
                max_retry_after: Duration::from_secs(3),
                ..HttpOptions::default()
            },
        )
        .unwrap(),
    )
}

fn config(server: &MockServer, serp: &str, unlocker: &str) -> Config {
    Config {
        search: config::Search {
            kind: "brightdata".into(),
            base_url: Some(server.uri()),
            api_key_env: Some(BD_VAR.into()),
            zone: Some(serp.into()),
            country: Some("US".into()),
            ..config::Search::default()
        },
        fetch: config::Fetch {
            via: FetchVia::Brightdata,
            zone: Some(unlocker.into()),
            ..config::Fetch::default()
        },
        ..Config::default()
    }
}

// ---------- wire format ----------

#[tokio::test]
async fn search_and_page_wire_format_cache_and_count() {
    std::env::set_var(BD_VAR, BD_KEY);
    let server = bright_data().await;
    let cfg = config(&server, SERP_ZONE, UNLOCKER_ZONE);
    let cache = tempfile::tempdir().unwrap();
    let h = http(Some(cache.path()));
    let search = BrightDataSearch::new(&cfg.search, h.clone()).unwrap();
    // The fetch takes the search's key variable and base URL.
    let unlocker = Unlocker::new(&cfg, h).unwrap();
    let meter = Arc::new(Meter::default());
    let (hits, page) = meter
        .scope(async {
            let hits = search.search("clap derive", 2).await.unwrap();
            let page = unlocker.fetch(&hits[0].url).await.unwrap();
            // Again: both from the cache, sent and counted once.
            assert_eq!(search.search("clap derive", 2).await.unwrap(), hits);
            unlocker.fetch(&hits[0].url).await.unwrap();
            (hits, page)
        })
        .await;
    assert_eq!(hits.len(), 2, "at most search.results");
    assert_eq!(hits[0].url, "https://example.com/page/clap-1");
    assert_eq!(hits[1].title, "clap page 2");
    assert_eq!(hits[0].snippet, "snippet of clap 1");
    assert_eq!(page.url, "https://example.com/page/clap-1");
    assert_eq!(page.title.as_deref(), Some("clap-1"));
    assert_eq!(page.markdown, "# clap-1\n\nPAGE-clap-1 body text.\n");

    let reqs = server.received_requests().await.unwrap();
    assert_eq!(reqs.len(), 2);
    assert_eq!(
        body(&reqs[0]),
        json!({"zone": SERP_ZONE, "format": "raw",
               "url": "https://www.google.com/search?q=clap+derive&brd_json=1&gl=us"})
    );
    assert_eq!(
        body(&reqs[1]),
        json!({"zone": UNLOCKER_ZONE, "url": "https://example.com/page/clap-1",
               "format": "raw", "data_format": "markdown"})
    );
    assert_eq!(meter.take()["brightdata"], 2, "cache hits are not billed");
    for f in walkdir::WalkDir::new(cache.path()) {
        let f = f.unwrap();
        if f.file_type().is_file() {
            let text = std::fs::read_to_string(f.path()).unwrap();
            assert!(!text.contains(BD_KEY), "{}", f.path().display());
        }
    }
}

#[tokio::test]
async fn pages_are_capped_and_local_urls_never_sent() {
    std::env::set_var(BD_VAR, BD_KEY);
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/request"))
        .respond_with(ResponseTemplate::new(200).set_body_string("# Big\n".repeat(5000)))
        .mount(&server)
        .await;
    let mut cfg = config(&server, SERP_ZONE, UNLOCKER_ZONE);
    cfg.fetch.max_bytes = 4096;
    let f = Unlocker::new(&cfg, http(None)).unwrap();
    let p = f.fetch("https://example.com/big").await.unwrap();
    assert_eq!(
        p.markdown.len(),
        4096,
        "fetch.max_bytes, as for direct fetches"
    );
    for u in [
        "http://127.0.0.1:8080/x",
        "http://[::1]/",
        "http://169.254.169.254/latest/meta-data/",
        "http://10.0.0.8/",
        "http://localhost:3000/",
        "http://printer.local/",
        "http://intranet/",
        "file:///etc/passwd",
    ] {
        let e = f.fetch(u).await.unwrap_err();
        assert!(
            matches!(e, ProviderError::Refused { .. }) && !e.retryable(),
            "{u}: {e:?}"
        );
    }
    assert_eq!(server.received_requests().await.unwrap().len(), 1);
}

#[tokio::test]
async fn a_refused_key_and_an_unknown_zone_are_setup_errors() {
    let server = bright_data().await;
    // The wrong key: its variable and the zone are named, the key never.
    std::env::set_var("EXPAND_IT_BD_WRONG_KEY", "bd-wrong-key-4f1e2d3c");
    let mut cfg = config(&server, SERP_ZONE, UNLOCKER_ZONE);
    cfg.search.api_key_env = Some("EXPAND_IT_BD_WRONG_KEY".into());
    let s = BrightDataSearch::new(&cfg.search, http(None)).unwrap();
    let e = s.search("q", 3).await.unwrap_err();
    let shown = format!("{e} {e:?}");
    assert!(
        shown.contains("EXPAND_IT_BD_WRONG_KEY") && shown.contains(SERP_ZONE),
        "{shown}"
    );
    assert!(!shown.contains("bd-wrong-key-4f1e2d3c"), "{shown}");
    assert!(e.setup_hint().is_some() && !e.retryable(), "{e:?}");

    std::env::set_var(BD_VAR, BD_KEY);
    let cfg = config(&server, "serp_nope", "unlocker_nope");
    let e = BrightDataSearch::new(&cfg.search, http(None))
        .unwrap()
        .search("q", 3)
        .await
        .unwrap_err();
    assert!(
        e.to_string().contains("zone `serp_nope` (search.zone)")
            && e.to_string().contains("not found"),
        "{e}"
    );
    assert!(e.setup_hint().unwrap().contains("SERP API zone"), "{e:?}");
    let e = Unlocker::new(&cfg, http(None))
        .unwrap()
        .fetch("https://example.com/a")
        .await
        .unwrap_err();
    assert!(
        e.to_string().contains("zone `unlocker_nope` (fetch.zone)"),
        "{e}"
    );
    assert!(
        e.setup_hint().unwrap().contains("Web Unlocker zone"),
        "{e:?}"
    );
    // Not retried: one request each, three in all.
    assert_eq!(server.received_requests().await.unwrap().len(), 3);

    // A zone of another product answers a search with a page, not JSON.
    let html = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200).set_body_raw("<html>…</html>", "text/html"))
        .mount(&html)
        .await;
    let cache = tempfile::tempdir().unwrap();
    let cfg = config(&html, UNLOCKER_ZONE, UNLOCKER_ZONE);
    let s = BrightDataSearch::new(&cfg.search, http(Some(cache.path()))).unwrap();
    let e = s.search("q", 3).await.unwrap_err();
    assert!(e.setup_hint().is_some(), "{e:?}");
    assert!(e.to_string().contains("SERP API zone?"), "{e}");
    assert!(
        walkdir::WalkDir::new(cache.path())
            .into_iter()
            .filter_map(Result::ok)
            .all(|f| !f.file_type().is_file()),
        "an answer that cannot be used is not cached"
    );
}

#[tokio::test]
async fn too_many_requests_waits_for_retry_after() {
    std::env::set_var(BD_VAR, BD_KEY);
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(429).insert_header("retry-after", "1"))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/request"))
        .respond_with(answer)
        .mount(&server)
        .await;
    let cfg = config(&server, SERP_ZONE, UNLOCKER_ZONE);
    let s = BrightDataSearch::new(&cfg.search, http(None))
        .unwrap()
        .with_timeout(Duration::from_secs(5));
    let meter = Arc::new(Meter::default());
    let t = Instant::now();
    let hits = meter.scope(s.search("tokio", 5)).await.unwrap();
    assert_eq!(hits.len(), 3);
    assert!(
        t.elapsed() >= Duration::from_millis(950),
        "{:?}",
        t.elapsed()
    );
    assert_eq!(server.received_requests().await.unwrap().len(), 2);
    assert_eq!(meter.take()["brightdata"], 1, "the 429 is not billed");
}

// ---------- whole runs ----------

/// A loopback server answering as Bright Data, and as an OpenAI-compatible
/// writer that cites the first page its prompt holds.
async fn upstream() -> MockServer {
    let server = bright_data().await;
    Mock::given(method("POST"))
        .and(path("/v1/chat/completions"))
        .respond_with(|req: &Request| {
            let prompt = prompt_of(req);
            let n = part_in(&prompt);
            ResponseTemplate::new(200).set_body_json(writer_answer(
                WriterKind::OpenAi,
                n,
                &page_in(&prompt),
            ))
        })
        .mount(&server)
        .await;
    server
}

/// A workspace whose search and fetch go through Bright Data on `server`
/// (zones as given), the writer too.
fn workspace(server: &MockServer, serp: &str, unlocker: &str) -> Ws {
    let uri = server.uri();
    let ws = Ws::new();
    ws.write(
        "expand.yaml",
        format!(
            "batch_size: 2\nretries: 1\n\
             writer:\n  kind: openai\n  base_url: \"{uri}/v1\"\n  model: mock-model\n  api_key_env: {KEY_VAR}\n  max_tokens: 2000\n\
             search:\n  kind: brightdata\n  base_url: \"{uri}\"\n  api_key_env: {BD_VAR}\n  zone: {serp}\n  country: us\n  results: 3\n\
             fetch:\n  via: brightdata\n  zone: {unlocker}\n\
             prices:\n  mock-model: {{ input_per_mtok: 1.0, output_per_mtok: 2.0 }}\n"
        ),
    )
    .write(
        "knowledge/mock/00-base.md",
        "# Mock base\n\nWhat the base knows about mock topics.\n\n## Facts\n\nAlpha, bravo, charlie and delta are topics.\n",
    )
    .write(&format!("plans/{SLUG}.md"), plan_text(&[&[1, 2], &[3, 4]]));
    ws
}

fn run(ws: &Ws, args: &[&str]) -> Out {
    run_with(ws, args, &[])
}

fn run_with(ws: &Ws, args: &[&str], env: &[(&str, &str)]) -> Out {
    let mut all = vec![(BD_VAR, BD_KEY)];
    all.extend_from_slice(env);
    run_env(ws, args, &all)
}

/// The Bright Data requests the server received: (searches, pages).
async fn sent(server: &MockServer) -> (Vec<Value>, Vec<Value>) {
    let bodies: Vec<Value> = server
        .received_requests()
        .await
        .unwrap()
        .iter()
        .filter(|r| r.url.path() == "/request")
        .map(body)
        .collect();
    bodies.into_iter().partition(|b| b["zone"] == SERP_ZONE)
}

fn no_key_in(outs: &[&Out]) {
    for o in outs {
        for key in [BD_KEY, CANARY] {
            assert!(!o.stdout.contains(key) && !o.stderr.contains(key));
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_plan_runs_with_bright_data_search_and_scrapes() {
    let server = upstream().await;
    // The first request meets a 429 and waits as told.
    Mock::given(method("POST"))
        .and(path("/request"))
        .respond_with(ResponseTemplate::new(429).insert_header("retry-after", "1"))
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&server)
        .await;
    let ws = workspace(&server, SERP_ZONE, UNLOCKER_ZONE);
    let out = run(&ws, &["-vv", "run", SLUG, "--all"]).code(0);
    assert!(out.stderr.contains("HTTP 429"), "{}", out.stderr);
    assert_all_done(&ws, "openai");

    // Per PART one search and the top two pages, through Bright Data only.
    let (searches, pages) = sent(&server).await;
    assert_eq!(searches.len(), 4 + 1, "one per PART, and the 429's retry");
    assert_eq!(pages.len(), 8);
    let st = state(&ws);
    for n in 1..=4u32 {
        let t = topic(n);
        assert!(searches.iter().any(|b| b["url"]
            == format!("https://www.google.com/search?q={t}+topic+query&brd_json=1&gl=us")));
        for i in 1..=2 {
            let url = format!("https://example.com/page/{t}-{i}");
            assert_eq!(pages.iter().filter(|b| b["url"] == url).count(), 1, "{url}");
        }
        let p = &st["parts"][n.to_string()];
        assert_eq!(p["requests"]["brightdata"], 3, "PART {n}: {p}");
        let d = drop_of(&ws, n);
        assert!(d.contains("- **Bright Data requests**: 3\n"), "{d}");
        assert!(
            d.contains(&format!("\"{t} topic query\" (brightdata)")),
            "{d}"
        );
    }
    let text = std::fs::read_to_string(ws.path().join("knowledge/mock/01-alpha.md")).unwrap();
    assert!(text.contains("https://example.com/page/alpha-1"), "{text}");

    let status = run(&ws, &["status", SLUG]).code(0);
    assert!(
        status
            .stdout
            .contains("3000 tokens, $0.0040, 6 Bright Data requests)"),
        "{}",
        status.stdout
    );
    for n in 1..=4 {
        assert!(
            status.stdout.contains(&format!(
                "PART {n}: 1500 tokens, $0.0020, 3 Bright Data requests\n"
            )),
            "{}",
            status.stdout
        );
    }
    let js = run(&ws, &["--json", "status", SLUG]).code(0).json();
    let b1 = &js["plans"][0]["batches"][0];
    assert_eq!(b1["requests"]["brightdata"], 6, "{b1}");
    assert_eq!(b1["usage"][1]["part"], 2);
    assert_eq!(b1["usage"][1]["requests"]["brightdata"], 3, "{b1}");

    // Done: run again, nothing is sent.
    let before = server.received_requests().await.unwrap().len();
    let again = run(&ws, &["run", SLUG, "--all"]).code(0);
    assert_eq!(server.received_requests().await.unwrap().len(), before);
    assert_in_no_file(&ws, BD_KEY);
    assert_in_no_file(&ws, CANARY);
    no_key_in(&[&out, &status, &again]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_resumed_run_repeats_no_bright_data_request() {
    let server = upstream().await;
    let ws = workspace(&server, SERP_ZONE, UNLOCKER_ZONE);
    let crashed = run_with(
        &ws,
        &["run", SLUG, "--all", "--batch-size", "1"],
        &[("EXPAND_FAULT", "research:3")],
    );
    assert_ne!(crashed.code, 0, "the fault hook aborts");
    let st = state(&ws);
    assert_eq!(st["parts"]["3"]["status"], "running");
    // Counted before the crash: they were sent, and billed.
    assert_eq!(st["parts"]["3"]["requests"]["brightdata"], 3, "{st}");

    let out = run(&ws, &["run", SLUG, "--all", "--batch-size", "1"]).code(0);
    assert_all_done(&ws, "openai");
    for (k, n) in counts(&server).await {
        assert_eq!(n, 1, "sent {n} times: {k}");
    }
    let (searches, pages) = sent(&server).await;
    assert_eq!((searches.len(), pages.len()), (4, 8));
    assert_eq!(state(&ws)["parts"]["3"]["requests"]["brightdata"], 3);
    assert!(drop_of(&ws, 3).contains("- **Bright Data requests**: 3\n"));
    assert_in_no_file(&ws, BD_KEY);
    no_key_in(&[&crashed, &out]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_zone_or_key_fails_the_part_and_exits_3_with_a_hint() {
    let server = upstream().await;
    let cases = [
        (
            "serp_typo",
            UNLOCKER_ZONE,
            BD_KEY,
            "zone `serp_typo` (search.zone)",
            "hint: set search.zone",
        ),
        (
            SERP_ZONE,
            "unlocker_typo",
            BD_KEY,
            "zone `unlocker_typo` (fetch.zone)",
            "hint: set fetch.zone",
        ),
        (
            SERP_ZONE,
            UNLOCKER_ZONE,
            "bd-wrong-key-77aa01",
            BD_VAR,
            "hint: check that",
        ),
    ];
    for (serp, unlocker, key, error, hint) in cases {
        let ws = workspace(&server, serp, unlocker);
        let out = run_env(&ws, &["run", SLUG], &[(BD_VAR, key)]).code(3);
        assert!(out.stdout.contains(error), "{error}: {}", out.stdout);
        assert!(out.stdout.contains(hint), "{error}: {}", out.stdout);
        assert!(
            out.stdout.contains("failed after 1 attempt:"),
            "not retried: {}",
            out.stdout
        );
        let st = state(&ws);
        for n in [1, 2] {
            assert_eq!(st["parts"][n.to_string()]["status"], "failed", "{error}");
        }
        assert!(!ws.path().join("knowledge/mock/01-alpha.md").exists());
        let status = run_env(&ws, &["status", SLUG], &[(BD_VAR, key)]).code(0);
        assert!(status.stdout.contains(error), "{}", status.stdout);
        for o in [&out, &status] {
            assert!(
                !o.stdout.contains(key) && !o.stderr.contains(key),
                "{error}"
            );
        }
        let js = run_env(&ws, &["--json", "run", SLUG], &[(BD_VAR, key)]).code(3);
        let summary: Value = serde_json::from_str(js.stdout.lines().last().unwrap()).unwrap();
        let hint = &summary["batches"][0]["parts"][0]["hint"];
        assert!(hint.is_string(), "{summary}");
    }
}
