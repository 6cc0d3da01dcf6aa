//! Whole plans run by the real binary against network providers on loopback
//! (wiremock): an OpenAI-compatible or Anthropic writer, SearXNG search and
//! page fetch. Faults and retries, resume without repeated requests, the
//! canary key, usage and cost per PART, and the budget.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::json;
use wiremock::matchers::{method, path, path_regex};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

use crate::util::{Out, Ws};

/// The variable `api_key_env` names, and the key it holds: a value that must
/// never reach a file or an output.
pub(crate) const KEY_VAR: &str = "PROVRUN_CANARY_KEY";
pub(crate) const CANARY: &str = "sk-canary-5e1f0c9a7d3b";
pub(crate) const SLUG: &str = "mock-plan";
const TOPICS: [&str; 4] = ["alpha", "bravo", "charlie", "delta"];
/// Every writer answer reports this usage: $0.002 at the configured prices.
const USAGE_IN: u64 = 1000;
const USAGE_OUT: u64 = 500;

#[derive(Clone, Copy, PartialEq)]
pub(crate) enum WriterKind {
    OpenAi,
    Anthropic,
}

pub(crate) fn topic(n: u32) -> &'static str {
    TOPICS[n as usize - 1]
}

fn title(n: u32) -> String {
    let t = topic(n);
    format!("{}{} Topic", t[..1].to_uppercase(), &t[1..])
}

pub(crate) fn target(n: u32) -> String {
    format!("mock/0{n}-{}.md", topic(n))
}

/// A plan of PARTs 1-4 in the given batches; each PART reads a knowledge
/// file, runs one search, fetches the top two results and plans two sections.
pub(crate) fn plan_text(batches: &[&[u32]]) -> String {
    let mut s = String::from("# Knowledge Expansion: Mock Topics\n\n## EXECUTION PLAN\n\n");
    for (i, b) in batches.iter().enumerate() {
        s.push_str(&format!(
            "- **Batch {}**: PARTs {}-{}\n",
            i + 1,
            b[0],
            b[b.len() - 1]
        ));
    }
    for (i, b) in batches.iter().enumerate() {
        s.push_str(&format!("\n# BATCH {}: Group {}\n\n", i + 1, i + 1));
        for &n in *b {
            let t = topic(n);
            s.push_str(&format!(
                "## PART {n}: {} (~60 lines)\n\n\
                 - [ ] PART {n}: Create {}\n\n\
                 **Step 0: Check Existing Knowledge**\n\
                 - [ ] Read mock/00-base.md (what the base says)\n\n\
                 **Step 1: Web Research**\n\
                 - [ ] Search: \"{t} topic query\"\n\
                 - [ ] Scrape top 2 results\n\n\
                 **Step 2: Create Knowledge File**\n\
                 - [ ] Section 1: Overview (~30 lines)\n\
                 - [ ] Section 2: Details (~30 lines)\n\n\
                 **Step 3: Create KNOWLEDGE DROP**\n\
                 - [ ] Create KNOWLEDGE-DROP-{t}-2025-01-01-[TIME].md\n\n---\n\n",
                title(n),
                target(n),
            ));
        }
    }
    s
}

/// What the server does besides answering.
#[derive(Clone, Default)]
pub(crate) struct Behaviour {
    /// Fail the first attempts of a share of distinct requests.
    pub(crate) faults: Option<Arc<Faults>>,
    /// The writer answers 500 to every request for this PART.
    pub(crate) failing_part: Option<u32>,
    pub(crate) writer_delay: Duration,
    /// This PART's writer requests take this long instead.
    pub(crate) slow_part: Option<(u32, Duration)>,
    /// The body of the page at `/page/<name>` instead of the usual one.
    pub(crate) page: Option<fn(&str) -> String>,
}

/// One kind of fault a request's attempt meets.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Fault {
    TooMany,
    ServerError,
    Hang,
}

/// Per distinct request (method, URL, body), in the order they first arrive,
/// the 1st gets no fault, the 2nd a 429 with `Retry-After`, the 3rd two 500s,
/// the 4th a hang past the client's timeout, the 5th none again, and so on:
/// at most two failures each, within the client's four attempts.
#[derive(Default)]
pub(crate) struct Faults {
    /// Request key → (its schedule, attempts seen).
    seen: Mutex<HashMap<String, (usize, u32)>>,
    fired: Mutex<Vec<Fault>>,
}

const SCHEDULES: [&[Fault]; 4] = [
    &[],
    &[Fault::TooMany],
    &[Fault::ServerError, Fault::ServerError],
    &[Fault::Hang],
];
/// The client times out after 1 s (`timeout_s: 1`); a hang lasts longer.
const HANG: Duration = Duration::from_secs(3);

impl Faults {
    fn respond(&self, req: &Request, ok: ResponseTemplate) -> ResponseTemplate {
        let fault = {
            let mut seen = self.seen.lock().unwrap();
            let next = seen.len();
            let entry = seen.entry(key(req)).or_insert((next % SCHEDULES.len(), 0));
            entry.1 += 1;
            SCHEDULES[entry.0].get(entry.1 as usize - 1).copied()
        };
        let Some(f) = fault else { return ok };
        self.fired.lock().unwrap().push(f);
        match f {
            Fault::TooMany => ResponseTemplate::new(429)
                .insert_header("retry-after", "1")
                .set_body_string("slow down"),
            Fault::ServerError => ResponseTemplate::new(500).set_body_string("try again later"),
            Fault::Hang => ok.set_delay(HANG),
        }
    }
}

fn key(req: &Request) -> String {
    format!(
        "{} {} {}",
        req.method,
        req.url,
        String::from_utf8_lossy(&req.body)
    )
}

/// The prompt of a writer request (both wire formats put it in `messages[0]`).
pub(crate) fn prompt_of(req: &Request) -> String {
    let v: serde_json::Value = serde_json::from_slice(&req.body).expect("writer body is JSON");
    v["messages"][0]["content"]
        .as_str()
        .expect("a user message")
        .to_string()
}

/// The PART number a prompt is for, from its first line (`…: PART 3 — Title.`).
pub(crate) fn part_in(prompt: &str) -> u32 {
    let at = prompt.find(": PART ").expect("the prompt names its PART") + 7;
    prompt[at..]
        .split(|c: char| !c.is_ascii_digit())
        .next()
        .unwrap()
        .parse()
        .unwrap()
}

/// The file a well-behaved model writes: the planned sections, inline
/// citations of what it was given (the knowledge file, the first page its
/// prompt's evidence holds) and a Sources section, so no repair follows.
fn article(n: u32, url: &str) -> String {
    format!(
        "# {}\n\n## Overview\n\nMOCK-WRITER PART {n}: what `mock/00-base.md` says, extended [1].\n\n\
         ## Details\n\nMore on {} from the web ({url}).\n\n## Sources\n\n- [1] mock/00-base.md\n- [2] {url}\n",
        title(n),
        topic(n)
    )
}

/// The first page of the research evidence in a prompt.
pub(crate) fn page_in(prompt: &str) -> String {
    let at = prompt
        .find("/page/")
        .expect("the prompt holds a fetched page");
    let start = prompt[..at].rfind("http").expect("a URL");
    let end = prompt[at..]
        .find(|c: char| c.is_whitespace())
        .map_or(prompt.len(), |e| at + e);
    prompt[start..end].to_string()
}

pub(crate) fn writer_answer(kind: WriterKind, n: u32, url: &str) -> serde_json::Value {
    let usage_openai = json!({"prompt_tokens": USAGE_IN, "completion_tokens": USAGE_OUT});
    let usage_anthropic = json!({"input_tokens": USAGE_IN, "output_tokens": USAGE_OUT});
    match kind {
        WriterKind::OpenAi => json!({"id": "c", "model": "mock-model",
            "choices": [{"index": 0, "message": {"role": "assistant", "content": article(n, url)}}],
            "usage": usage_openai}),
        WriterKind::Anthropic => json!({"id": "m", "type": "message", "model": "mock-model",
            "content": [{"type": "text", "text": article(n, url)}], "usage": usage_anthropic}),
    }
}

/// A loopback server speaking the writer's wire format, SearXNG's JSON API
/// and plain HTML pages (the search results point back at it).
pub(crate) async fn upstream(kind: WriterKind, b: Behaviour) -> MockServer {
    let server = MockServer::start().await;
    let uri = server.uri();
    let writer_path = match kind {
        WriterKind::OpenAi => "/v1/chat/completions",
        WriterKind::Anthropic => "/v1/messages",
    };
    let wb = b.clone();
    Mock::given(method("POST"))
        .and(path(writer_path))
        .respond_with(move |req: &Request| {
            let prompt = prompt_of(req);
            let n = part_in(&prompt);
            if wb.failing_part == Some(n) {
                return ResponseTemplate::new(500).set_body_string("upstream exploded");
            }
            let delay = match wb.slow_part {
                Some((slow, d)) if slow == n => d,
                _ => wb.writer_delay,
            };
            let ok = ResponseTemplate::new(200)
                .set_body_json(writer_answer(kind, n, &page_in(&prompt)))
                .set_delay(delay);
            match &wb.faults {
                Some(f) => f.respond(req, ok),
                None => ok,
            }
        })
        .mount(&server)
        .await;
    let sb = b.clone();
    Mock::given(method("GET"))
        .and(path("/search"))
        .respond_with(move |req: &Request| {
            let q: HashMap<String, String> = req.url.query_pairs().into_owned().collect();
            assert_eq!(q.get("format").map(String::as_str), Some("json"));
            let t = q["q"].split(' ').next().unwrap().to_string();
            let results: Vec<serde_json::Value> = (1..=3)
                .map(|i| json!({"url": format!("{uri}/page/{t}-{i}"), "title": format!("{t} page {i}"), "content": format!("snippet of {t} {i}")}))
                .collect();
            let ok = ResponseTemplate::new(200)
                .set_body_json(json!({"query": q["q"], "results": results}));
            match &sb.faults {
                Some(f) => f.respond(req, ok),
                None => ok,
            }
        })
        .mount(&server)
        .await;
    let pb = b;
    Mock::given(method("GET"))
        .and(path_regex("^/page/"))
        .respond_with(move |req: &Request| {
            let name = req.url.path().trim_start_matches("/page/").to_string();
            let html = match pb.page {
                Some(page) => page(&name),
                None => format!(
                    "<html><head><title>{name}</title></head><body><nav>NAV</nav>\
                     <main><h1>{name}</h1><p>PAGE-{name} body text.</p></main></body></html>"
                ),
            };
            let ok = ResponseTemplate::new(200).set_body_raw(html, "text/html; charset=utf-8");
            match &pb.faults {
                Some(f) => f.respond(req, ok),
                None => ok,
            }
        })
        .mount(&server)
        .await;
    server
}

/// A workspace whose `expand.yaml` points every provider at `server`.
pub(crate) fn workspace(
    server: &MockServer,
    kind: WriterKind,
    batches: &[&[u32]],
    extra: &str,
) -> Ws {
    workspace_with(server, kind, batches, extra, 30)
}

pub(crate) fn workspace_with(
    server: &MockServer,
    kind: WriterKind,
    batches: &[&[u32]],
    extra: &str,
    timeout_s: u64,
) -> Ws {
    // The pages are on loopback like everything else, which only
    // `fetch.allow_private` lets a fetch reach.
    workspace_full(server, kind, batches, extra, timeout_s, true)
}

pub(crate) fn workspace_full(
    server: &MockServer,
    kind: WriterKind,
    batches: &[&[u32]],
    extra: &str,
    timeout_s: u64,
    allow_private: bool,
) -> Ws {
    let uri = server.uri();
    // Without the key, as a user's config would be: the default applies.
    let private = if allow_private {
        "  allow_private: true\n"
    } else {
        ""
    };
    let (wkind, base) = match kind {
        WriterKind::OpenAi => ("openai", format!("{uri}/v1")),
        WriterKind::Anthropic => ("anthropic", uri.clone()),
    };
    let ws = Ws::new();
    ws.write(
        "expand.yaml",
        format!(
            "batch_size: 2\nretries: 1\n\
             writer:\n  kind: {wkind}\n  base_url: \"{base}\"\n  model: mock-model\n  api_key_env: {KEY_VAR}\n  max_tokens: 2000\n  timeout_s: {timeout_s}\n\
             search:\n  kind: searxng\n  base_url: \"{uri}\"\n  results: 3\n  timeout_s: {timeout_s}\n\
             fetch:\n  enabled: true\n  timeout_s: {timeout_s}\n{private}\
             prices:\n  mock-model: {{ input_per_mtok: 1.0, output_per_mtok: 2.0 }}\n{extra}"
        ),
    )
    .write(
        "knowledge/mock/00-base.md",
        "# Mock base\n\nWhat the base knows about mock topics.\n\n## Facts\n\nAlpha, bravo, charlie and delta are topics.\n",
    )
    .write(&format!("plans/{SLUG}.md"), plan_text(batches));
    ws
}

pub(crate) fn run(ws: &Ws, args: &[&str]) -> Out {
    run_env(ws, args, &[])
}

pub(crate) fn run_env(ws: &Ws, args: &[&str], env: &[(&str, &str)]) -> Out {
    let mut all = vec![(KEY_VAR, CANARY)];
    all.extend_from_slice(env);
    ws.expand_env(args, &all)
}

pub(crate) fn state(ws: &Ws) -> serde_json::Value {
    let st = expand::run::state::PlanState::load(&ws.jail(), SLUG).unwrap();
    serde_json::to_value(st).unwrap()
}

pub(crate) fn drops(ws: &Ws) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(ws.path().join("drops").join(SLUG))
        .map(|r| {
            r.map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

pub(crate) fn drop_of(ws: &Ws, n: u32) -> String {
    let name = drops(ws)
        .into_iter()
        .find(|d| d.contains(&format!("-{}-", topic(n))))
        .unwrap_or_else(|| panic!("a drop for PART {n}"));
    String::from_utf8(ws.read(&format!("drops/{SLUG}/{name}"))).unwrap()
}

/// Requests the server received, by kind.
#[derive(Default, Debug)]
pub(crate) struct Log {
    pub(crate) writer: Vec<Request>,
    pub(crate) search: Vec<Request>,
    pub(crate) fetch: Vec<Request>,
}

pub(crate) async fn log(server: &MockServer) -> Log {
    let mut l = Log::default();
    for r in server.received_requests().await.unwrap() {
        match r.url.path() {
            "/search" => l.search.push(r),
            p if p.starts_with("/page/") => l.fetch.push(r),
            _ => l.writer.push(r),
        }
    }
    l
}

/// How often each distinct request (method, URL, body) arrived.
pub(crate) async fn counts(server: &MockServer) -> BTreeMap<String, usize> {
    let mut m = BTreeMap::new();
    for r in server.received_requests().await.unwrap() {
        *m.entry(key(&r)).or_insert(0) += 1;
    }
    m
}

/// Every file under the workspace, `.expand/` included, holds no `needle`.
pub(crate) fn assert_in_no_file(ws: &Ws, needle: &str) {
    let mut files = 0;
    for e in walkdir::WalkDir::new(ws.path()) {
        let e = e.unwrap();
        if !e.file_type().is_file() {
            continue;
        }
        files += 1;
        let bytes = std::fs::read(e.path()).unwrap();
        assert!(
            !bytes.windows(needle.len()).any(|w| w == needle.as_bytes()),
            "the key is in {}",
            e.path().display()
        );
    }
    assert!(
        ws.path().join(".expand/cache").is_dir(),
        "the cache was walked too"
    );
    assert!(files > 10, "{files} files walked");
}

/// Everything a finished run leaves: each PART's file from the writer, its
/// drop with usage and cost, `done` in state with usage, the plan ticked.
pub(crate) fn assert_all_done(ws: &Ws, provider: &str) {
    let st = state(ws);
    for n in 1..=4u32 {
        let text = String::from_utf8(ws.read(&format!("knowledge/{}", target(n)))).unwrap();
        assert!(text.contains(&format!("MOCK-WRITER PART {n}:")), "{text}");
        let p = &st["parts"][n.to_string()];
        assert_eq!(p["status"], "done", "PART {n}: {p}");
        assert_eq!(p["provider"], provider);
        assert_eq!(p["usage"]["input_tokens"], USAGE_IN);
        assert_eq!(p["usage"]["output_tokens"], USAGE_OUT);
        assert!((p["cost"].as_f64().unwrap() - 0.002).abs() < 1e-9, "{p}");
        let sources: Vec<&str> = p["sources"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s.as_str().unwrap())
            .collect();
        assert!(sources.contains(&"mock/00-base.md"), "{sources:?}");
        assert!(
            sources
                .iter()
                .any(|s| s.ends_with(&format!("/page/{}-1", topic(n)))),
            "{sources:?}"
        );
        let d = drop_of(ws, n);
        assert!(d.contains(&format!("- **Runner**: PART {n}\n")), "{d}");
        assert!(
            d.contains(&format!("- **Provider**: {provider} (model: mock-model)")),
            "{d}"
        );
        assert!(
            d.contains(&format!("- **Tokens**: {USAGE_IN} in / {USAGE_OUT} out")),
            "{d}"
        );
        assert!(d.contains("- **Cost**: $0.0020"), "{d}");
    }
    assert_eq!(drops(ws).len(), 4, "{:?}", drops(ws));
    let plan = String::from_utf8(ws.read(&format!("plans/{SLUG}.md"))).unwrap();
    assert!(!plan.contains("- [ ]"), "every box ticked:\n{plan}");
    assert_eq!(plan.matches("(Completed ").count(), 4);
}

/// The server saw, per PART, one search for its query, one fetch of each of
/// the top two results and one writer call whose prompt holds the PART text
/// verbatim and the fetched pages.
async fn assert_requests(server: &MockServer, kind: WriterKind) {
    let l = log(server).await;
    assert_eq!(l.writer.len(), 4, "one writer call per PART");
    assert_eq!(l.search.len(), 4, "one search per PART");
    assert_eq!(l.fetch.len(), 8, "two pages per PART");
    let plan = plan_text(&[&[1, 2], &[3, 4]]);
    for n in 1..=4u32 {
        let t = topic(n);
        let w = l
            .writer
            .iter()
            .find(|r| part_in(&prompt_of(r)) == n)
            .unwrap_or_else(|| panic!("a writer call for PART {n}"));
        let prompt = prompt_of(w);
        let start = plan.find(&format!("## PART {n}:")).unwrap();
        let end = plan[start..].find("\n---").unwrap() + start;
        assert!(
            prompt.contains(plan[start..end].trim()),
            "PART {n} text verbatim in:\n{prompt}"
        );
        assert!(
            prompt.contains(&format!("PAGE-{t}-1 body text.")),
            "{prompt}"
        );
        assert!(
            prompt.contains(&format!("PAGE-{t}-2 body text.")),
            "{prompt}"
        );
        assert!(!prompt.contains("NAV"), "page chrome is dropped");
        assert!(
            prompt.contains("Alpha, bravo, charlie and delta"),
            "{prompt}"
        );
        let auth = match kind {
            WriterKind::OpenAi => w.headers.get("authorization").unwrap().to_str().unwrap(),
            WriterKind::Anthropic => w.headers.get("x-api-key").unwrap().to_str().unwrap(),
        };
        assert!(auth.ends_with(CANARY), "the key from {KEY_VAR} is sent");
        if kind == WriterKind::Anthropic {
            assert!(w.headers.get("anthropic-version").is_some());
        }
        assert!(
            l.search.iter().any(|r| r
                .url
                .query_pairs()
                .any(|(k, v)| k == "q" && v == format!("{t} topic query"))),
            "search for PART {n}"
        );
        for i in 1..=2 {
            let p = format!("/page/{t}-{i}");
            assert_eq!(
                l.fetch.iter().filter(|r| r.url.path() == p).count(),
                1,
                "{p}"
            );
        }
        assert!(
            !l.fetch
                .iter()
                .any(|r| r.url.path() == format!("/page/{t}-3")),
            "only the top two results are fetched"
        );
    }
}

async fn full_run(kind: WriterKind, provider: &str) {
    let server = upstream(kind, Behaviour::default()).await;
    let ws = workspace(&server, kind, &[&[1, 2], &[3, 4]], "");
    // `-vvv`: everything expand traces, and still never the key.
    let out = run(&ws, &["-vvv", "run", SLUG, "--all"]).code(0);
    assert!(
        out.stdout.contains("batch 1: 2 done, 0 failed")
            && out.stdout.contains("batch 2: 2 done, 0 failed"),
        "{}",
        out.stdout
    );
    // Usage and cost per PART and in total, in the summary.
    for n in 1..=4 {
        let line = out
            .stdout
            .lines()
            .find(|l| l.contains(&format!("PART {n:>3}  ")))
            .unwrap_or_else(|| panic!("PART {n} in\n{}", out.stdout));
        assert!(line.contains("1500 tokens, $0.0020"), "{line}");
    }
    assert!(
        out.stdout.contains("tokens: 6000  cost: $0.0080"),
        "{}",
        out.stdout
    );
    assert!(out.stderr.contains("http request"), "-vv logs requests");
    assert_all_done(&ws, provider);
    assert_requests(&server, kind).await;

    let status = run(&ws, &["-vv", "status", SLUG]).code(0);
    assert!(
        status
            .stdout
            .contains("batch 1: 2 done, 0 failed, 0 pending")
            && status.stdout.contains("3000 tokens, $0.0040"),
        "{}",
        status.stdout
    );
    for n in 1..=4 {
        assert!(
            status
                .stdout
                .contains(&format!("PART {n}: 1500 tokens, $0.0020")),
            "{}",
            status.stdout
        );
    }
    let js = run(&ws, &["--json", "status", SLUG]).code(0).json();
    assert_eq!(js["plans"][0]["batches"][1]["usage"][0]["part"], 3);
    assert_eq!(js["plans"][0]["batches"][1]["usage"][0]["tokens"], 1500);

    // A finished plan run again sends nothing.
    let before = server.received_requests().await.unwrap().len();
    let again = run(&ws, &["-vv", "run", SLUG, "--all"]).code(0);
    assert!(again.stdout.contains("nothing to run"), "{}", again.stdout);
    assert_eq!(server.received_requests().await.unwrap().len(), before);

    // `-v` says where each search's answer came from: the network first,
    // the response cache when the PART runs again.
    assert!(
        out.stderr.contains(
            "PART 1: search \"alpha topic query\": 3 result(s) (searxng, 1 request(s) sent)"
        ),
        "{}",
        out.stderr
    );
    run(&ws, &["reset", SLUG, "--part", "1"]).code(0);
    let cached = run(&ws, &["-v", "run", SLUG, "--part", "1"]).code(0);
    assert!(
        cached.stderr.contains(
            "PART 1: search \"alpha topic query\": 3 result(s) (searxng, from the cache)"
        ),
        "{}",
        cached.stderr
    );

    // The canary key: in no file, in no output of any of these runs.
    assert_in_no_file(&ws, CANARY);
    for o in [&out, &status, &again, &cached] {
        assert!(!o.stdout.contains(CANARY) && !o.stderr.contains(CANARY));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn full_run_with_openai_searxng_and_fetch() {
    full_run(WriterKind::OpenAi, "openai").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn full_run_with_anthropic_searxng_and_fetch() {
    full_run(WriterKind::Anthropic, "anthropic").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn faults_are_retried_and_every_part_completes() {
    let faults = Arc::new(Faults::default());
    let server = upstream(
        WriterKind::OpenAi,
        Behaviour {
            faults: Some(Arc::clone(&faults)),
            ..Behaviour::default()
        },
    )
    .await;
    let ws = workspace_with(&server, WriterKind::OpenAi, &[&[1, 2], &[3, 4]], "", 1);
    let out = run(&ws, &["-vv", "run", SLUG, "--all"]).code(0);
    assert_all_done(&ws, "openai");
    let st = state(&ws);
    for n in 1..=4 {
        assert_eq!(
            st["parts"][n.to_string()]["attempts"],
            1,
            "PART {n}: HTTP retries absorbed the faults"
        );
    }
    let mut fired = faults.fired.lock().unwrap().clone();
    fired.sort();
    fired.dedup();
    assert_eq!(
        fired,
        vec![Fault::TooMany, Fault::ServerError, Fault::Hang],
        "each fault met"
    );
    assert!(out.stderr.contains("HTTP 429"), "{}", out.stderr);
    assert!(out.stderr.contains("HTTP 500"), "{}", out.stderr);
    assert!(out.stderr.contains("timed out after 1 s"), "{}", out.stderr);
    // Only what failed was sent again, and only as often as it failed.
    let seen = faults.seen.lock().unwrap().clone();
    let got = counts(&server).await;
    assert_eq!(got.len(), 16, "4 PARTs × (search, 2 pages, writer)");
    for (k, n) in &got {
        let (schedule, _) = seen[k];
        assert_eq!(*n, 1 + SCHEDULES[schedule].len(), "{k}");
    }
    assert_in_no_file(&ws, CANARY);
    assert!(!out.stderr.contains(CANARY) && !out.stdout.contains(CANARY));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_writer_that_always_fails_fails_its_part_only() {
    let server = upstream(
        WriterKind::OpenAi,
        Behaviour {
            failing_part: Some(2),
            ..Behaviour::default()
        },
    )
    .await;
    let ws = workspace(&server, WriterKind::OpenAi, &[&[1, 2], &[3, 4]], "");
    let out = run(&ws, &["run", SLUG, "--all", "--keep-going"]).code(1);
    let line = out
        .stdout
        .lines()
        .find(|l| l.contains("PART   2"))
        .unwrap_or_else(|| panic!("{}", out.stdout));
    assert!(
        line.contains("failed after 2 attempts")
            && line.contains("HTTP 500 from openai")
            && line.contains("upstream exploded"),
        "{line}"
    );
    let st = state(&ws);
    let p2 = &st["parts"]["2"];
    assert_eq!(p2["status"], "failed");
    assert_eq!(p2["attempts"], 2);
    assert!(
        p2["error"]
            .as_str()
            .unwrap()
            .contains("HTTP 500 from openai"),
        "{p2}"
    );
    assert!(!ws.path().join("knowledge").join(target(2)).exists());
    for n in [1, 3, 4] {
        assert_eq!(st["parts"][n.to_string()]["status"], "done", "PART {n}");
        assert!(ws.path().join("knowledge").join(target(n)).is_file());
    }
    assert_eq!(drops(&ws).len(), 3);
    let status = run(&ws, &["status", SLUG]).code(0);
    assert!(
        status
            .stdout
            .contains("PART 2 failed: write: HTTP 500 from openai"),
        "{}",
        status.stdout
    );
    // Two PART attempts of four HTTP attempts each; the search and the pages
    // came from the cache the second time.
    let l = log(&server).await;
    let for_2 = l
        .writer
        .iter()
        .filter(|r| part_in(&prompt_of(r)) == 2)
        .count();
    assert_eq!(for_2, 8);
    assert_eq!(l.search.len(), 4);
    assert_eq!(l.fetch.len(), 8);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_resumed_run_repeats_no_answered_request() {
    for step in ["research", "write"] {
        let server = upstream(WriterKind::OpenAi, Behaviour::default()).await;
        let ws = workspace(&server, WriterKind::OpenAi, &[&[1, 2], &[3, 4]], "");
        // One runner at a time, so nothing is in flight when PART 3 crashes.
        let crashed = run_env(
            &ws,
            &["run", SLUG, "--all", "--batch-size", "1"],
            &[("EXPAND_FAULT", &format!("{step}:3"))],
        );
        assert_ne!(crashed.code, 0, "{step}: the fault hook aborts");
        assert_eq!(state(&ws)["parts"]["3"]["status"], "running", "{step}");
        let before = log(&server).await;
        assert_eq!(before.search.len(), 3, "{step}");
        assert_eq!(before.writer.len(), if step == "write" { 3 } else { 2 });

        run(&ws, &["run", SLUG, "--all", "--batch-size", "1"]).code(0);
        assert_all_done(&ws, "openai");
        assert_eq!(state(&ws)["parts"]["3"]["attempts"], 2, "{step}");
        for (k, n) in counts(&server).await {
            assert_eq!(n, 1, "{step}: sent {n} times: {k}");
        }
        let after = log(&server).await;
        assert_eq!(
            (after.writer.len(), after.search.len(), after.fetch.len()),
            (4, 4, 8),
            "{step}"
        );
    }
}

/// The (start, end) position of each PART in a `--json` event stream.
fn part_spans(stdout: &str) -> HashMap<u32, (usize, usize)> {
    let mut spans: HashMap<u32, (usize, usize)> = HashMap::new();
    for (i, line) in stdout.lines().enumerate() {
        let e: serde_json::Value = serde_json::from_str(line).expect("one JSON event a line");
        let part = e["part"].as_u64().map(|p| p as u32);
        match (e["event"].as_str(), part) {
            (Some("part_started"), Some(p)) => {
                spans.entry(p).or_insert((i, usize::MAX)).0 = i;
            }
            (Some("part_done"), Some(p)) => {
                spans.entry(p).or_insert((0, i)).1 = i;
            }
            _ => {}
        }
    }
    spans
}

/// Batches 1-2 and 3-4 on two runners; PART 1 is slow and PART 4 reads
/// the file PART 1 writes. In a rolling window PART 3 takes the runner PART
/// 2 frees while PART 1 still runs; PART 4 still waits for PART 1. Without
/// the window, batch 2 waits for all of batch 1. Checked by the order of
/// the events, not by timings.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rolling_window_starts_later_batches_early_and_keeps_dependencies() {
    let server = upstream(
        WriterKind::OpenAi,
        Behaviour {
            slow_part: Some((1, Duration::from_millis(1500))),
            ..Behaviour::default()
        },
    )
    .await;
    let mut spans = Vec::new();
    for window in [true, false] {
        let ws = workspace(&server, WriterKind::OpenAi, &[&[1, 2], &[3, 4]], "");
        let plan = String::from_utf8(ws.read(&format!("plans/{SLUG}.md"))).unwrap();
        let at = plan.find("## PART 4").unwrap();
        let (head, tail) = plan.split_at(at);
        let tail = tail.replacen("Read mock/00-base.md", &format!("Read {}", target(1)), 1);
        ws.write(&format!("plans/{SLUG}.md"), format!("{head}{tail}"));
        let mut args = vec!["--json", "run", SLUG, "--all"];
        if window {
            args.push("--window");
        }
        let out = run(&ws, &args).code(0);
        let st = state(&ws);
        for n in 1..=4 {
            assert_eq!(st["parts"][n.to_string()]["status"], "done", "PART {n}");
        }
        // The event stream says which: one window, or the plan's batches.
        let started: Vec<serde_json::Value> = out
            .stdout
            .lines()
            .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
            .filter(|v| v["event"] == "batch_started")
            .collect();
        if window {
            assert!(
                started.len() == 1 && started[0]["window"] == true,
                "{started:?}"
            );
        } else {
            assert!(
                started.len() == 2 && started.iter().all(|v| v.get("window").is_none()),
                "{started:?}"
            );
        }
        spans.push(part_spans(&out.stdout));
    }
    let (win, batches) = (&spans[0], &spans[1]);
    assert!(
        win[&3].0 < win[&1].1,
        "PART 3 starts before PART 1 ends: {win:?}"
    );
    assert!(win[&1].1 < win[&4].0, "PART 4 waits for PART 1: {win:?}");
    for later in [3, 4] {
        for earlier in [1, 2] {
            assert!(
                batches[&earlier].1 < batches[&later].0,
                "batches: PART {later} after PART {earlier}: {batches:?}"
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cost_budget_stops_starting_parts() {
    // One batch of four, two at a time. Each PART costs $0.002: the first to
    // finish reaches the budget, the other one running finishes, the last two
    // never start. The writer is slow so both first PARTs are running by then.
    let server = upstream(
        WriterKind::OpenAi,
        Behaviour {
            writer_delay: Duration::from_millis(300),
            ..Behaviour::default()
        },
    )
    .await;
    let ws = workspace(
        &server,
        WriterKind::OpenAi,
        &[&[1, 2, 3, 4]],
        "budget:\n  max_cost: 0.001\n",
    );
    let out = run(&ws, &["run", SLUG]).code(1);
    assert!(
        out.stdout.contains("batch 1: 2 done, 0 failed"),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout.contains(
            "budget reached (spent $0.0040 of max_cost $0.0010): stopped before PART 3, 4"
        ),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout.contains("raise budget.max_cost")
            && out.stdout.contains(&format!("expand run {SLUG} --all")),
        "{}",
        out.stdout
    );
    let st = state(&ws);
    for n in [1, 2] {
        assert_eq!(st["parts"][n.to_string()]["status"], "done");
    }
    for n in [3, 4] {
        assert!(st["parts"].get(n.to_string()).is_none(), "PART {n} pending");
        assert!(!ws.path().join("knowledge").join(target(n)).exists());
    }
    assert_eq!(log(&server).await.writer.len(), 2);
    let status = run(&ws, &["status", SLUG]).code(0);
    assert!(
        status.stdout.contains("2 done, 0 failed, 2 pending"),
        "{}",
        status.stdout
    );

    // The budget counts the plan's earlier runs: nothing starts, nothing is sent.
    let n = server.received_requests().await.unwrap().len();
    let again = run(&ws, &["--json", "run", SLUG]).code(1);
    let summary: serde_json::Value =
        serde_json::from_str(again.stdout.lines().last().unwrap()).unwrap();
    assert_eq!(summary["budget_reached"]["not_started"], json!([3, 4]));
    assert_eq!(server.received_requests().await.unwrap().len(), n);

    // Raised, the run goes on with the PARTs left.
    let out = run_env(
        &ws,
        &["run", SLUG, "--all"],
        &[("EXPAND_BUDGET__MAX_COST", "1.0")],
    )
    .code(0);
    assert!(
        out.stdout.contains("batch 1: 2 done, 0 failed"),
        "{}",
        out.stdout
    );
    assert_all_done(&ws, "openai");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_token_budget_stops_before_the_next_batch() {
    let server = upstream(WriterKind::OpenAi, Behaviour::default()).await;
    let ws = workspace(
        &server,
        WriterKind::OpenAi,
        &[&[1, 2], &[3, 4]],
        "budget:\n  max_tokens: 3000\n",
    );
    let out = run(&ws, &["run", SLUG, "--all", "--batch-size", "1"]).code(1);
    assert!(
        out.stdout.contains("batch 1: 2 done, 0 failed"),
        "{}",
        out.stdout
    );
    assert!(!out.stdout.contains("batch 2:"), "{}", out.stdout);
    assert!(
        out.stdout
            .contains("budget reached (used 3000 of max_tokens 3000): stopped before PART 3, 4"),
        "{}",
        out.stdout
    );
    assert_eq!(log(&server).await.writer.len(), 2);
    let st = state(&ws);
    assert!(st["parts"].get("3").is_none() && st["parts"].get("4").is_none());
}
