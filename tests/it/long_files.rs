//! Long cited files from language models that stream (issue #14), against
//! the loopback model server of `model_server`: answers that arrive in
//! small chunks with pauses, stop on a token cap, stall mid-stream, and
//! cite a URL nobody retrieved, in both wire formats; a PART of ~700 lines
//! in 8 sections written by section and as a whole under a 2,000-token cap.

use std::collections::BTreeSet;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use expand::config;
use expand::providers::anthropic::Anthropic;
use expand::providers::http::{Http, HttpOptions};
use expand::providers::openai::OpenAi;
use expand::providers::{Finish, ProviderError, WriteRequest, Writer};

use crate::model_server::{self, Model, ModelServer, Options, Wire};
use crate::util::Ws;

const KEY_VAR: &str = "LONG_CANARY_KEY";
const CANARY: &str = "sk-canary-long-7a1d94";
const SLUG: &str = "long-plan";
const FABRICATED: &str = "https://unretrieved.example/made-up-study";
const SECTIONS: [&str; 8] = [
    "Overview",
    "Installation",
    "Configuration",
    "Streaming Answers",
    "Error Handling",
    "Testing Strategy",
    "Performance Tuning",
    "Deployment Notes",
];
/// Lines planned for each section: 8 × 88 ≈ the PART's ~700.
const SECTION_LINES: usize = 88;

// ---------- the model ----------

/// A source in a prompt's evidence: `### [k] <source> (lines a-b) — title`.
fn evidence_in(prompt: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for l in prompt.lines() {
        let Some(rest) = l.strip_prefix("### [") else {
            continue;
        };
        let Some((_, rest)) = rest.split_once("] ") else {
            continue;
        };
        let source = rest.split(" — ").next().unwrap().trim();
        let cite = match source.split_once(" (lines ") {
            Some((path, lines)) => format!("`{path}` (lines {})", lines.trim_end_matches(')')),
            None if source.starts_with("http") => format!("[page]({source})"),
            None => format!("`{source}`"),
        };
        if !out.contains(&cite) {
            out.push(cite);
        }
    }
    out
}

/// `n` lines of body for section `title`, each citing the evidence in turn
/// (the first line of the first section cites `fabricate` instead, when set).
fn section_text(title: &str, n: usize, cites: &[String], fabricate: Option<&str>) -> String {
    let mut s = format!("## {title}\n\n");
    for i in 0..n {
        let cite = match fabricate {
            Some(url) if i == 0 => format!("[a study]({url})"),
            _ if cites.is_empty() => "`mock/00-base.md`".to_string(),
            _ => cites[i % cites.len()].clone(),
        };
        s.push_str(&format!(
            "- {title} point {}: what holds for {} here, as the source shows {cite}.\n",
            i + 1,
            title.to_lowercase()
        ));
    }
    s.push('\n');
    s
}

fn sources_list(cites: &[String], fabricate: Option<&str>) -> String {
    let mut s = String::from("## Sources\n\n");
    if let Some(url) = fabricate {
        s.push_str(&format!("- {url}\n"));
    }
    for c in cites {
        s.push_str(&format!("- {c}\n"));
    }
    s
}

/// A model that writes what it is asked: one planned section (a section
/// request) or the whole file (title, every planned section, Sources),
/// citing the evidence its prompt gives; with `fabricate`, the first
/// section also cites a URL no evidence holds.
fn writer_model(fabricate: Option<&'static str>) -> Model {
    Arc::new(move |prompt: &str| {
        let cites = evidence_in(prompt);
        let lines_of = |rest: &str| -> usize {
            rest.split_once("about ")
                .and_then(|(_, r)| r.split(' ').next())
                .and_then(|n| n.parse().ok())
                .unwrap_or(SECTION_LINES)
        };
        if let Some((_, rest)) = prompt.split_once("Write only the section `## ") {
            let (title, rest) = rest.split_once('`').unwrap();
            let first = title == SECTIONS[0];
            let fab = fabricate.filter(|_| first);
            let n = lines_of(rest.lines().next().unwrap());
            return format!(
                "{}{}",
                section_text(title, n, &cites, fab),
                sources_list(&cites, fab)
            );
        }
        let part_title = prompt
            .lines()
            .next()
            .and_then(|l| l.split_once(" — "))
            .map(|(_, t)| t.trim_end_matches('.'))
            .unwrap()
            .to_string();
        let (_, planned) = prompt.split_once("## Planned sections\n\n").unwrap();
        let mut s = format!("# {part_title}\n\n");
        for (i, l) in planned
            .lines()
            .take_while(|l| !l.is_empty())
            .filter(|l| l.starts_with("- "))
            .enumerate()
        {
            let (title, n) = match l[2..].split_once(" (~") {
                Some((t, n)) => (t, n.split(' ').next().unwrap().parse().unwrap()),
                None => (&l[2..], SECTION_LINES),
            };
            s.push_str(&section_text(
                title,
                n,
                &cites,
                fabricate.filter(|_| i == 0),
            ));
        }
        s.push_str(&sources_list(&cites, fabricate));
        s
    })
}

// ---------- the workspace ----------

fn plan_text(parts: &[(u32, &str)]) -> String {
    let mut s = format!(
        "# Knowledge Expansion: Long Files\n\n## EXECUTION PLAN\n\n- **Batch 1**: PARTs 1-{}\n\n# BATCH 1: Long\n\n",
        parts.len()
    );
    for &(n, topic) in parts {
        s.push_str(&format!(
            "## PART {n}: {} Guide (~700 lines)\n\n\
             - [ ] PART {n}: Create long/0{n}-{topic}.md\n\n\
             **Step 0: Check Existing Knowledge**\n\
             - [ ] Read long/00-base.md (what the base says)\n\n\
             **Step 1: Web Research**\n\
             - [ ] Search: \"{topic} guide query\"\n\
             - [ ] Scrape top 2 results\n\n\
             **Step 2: Create Knowledge File**\n",
            topic[..1].to_uppercase() + &topic[1..],
        ));
        for (i, t) in SECTIONS.iter().enumerate() {
            s.push_str(&format!(
                "- [ ] Section {}: {t} (~{SECTION_LINES} lines)\n  - what to say about {}\n",
                i + 1,
                t.to_lowercase()
            ));
        }
        s.push_str(&format!(
            "\n**Step 3: Create KNOWLEDGE DROP**\n\
             - [ ] Create KNOWLEDGE-DROP-{topic}-2025-01-01-[TIME].md\n\n---\n\n"
        ));
    }
    s
}

fn workspace(server: &ModelServer, wire: Wire, parts: &[(u32, &str)], writer_extra: &str) -> Ws {
    let base = match wire {
        Wire::OpenAi => format!("{}/v1", server.uri),
        Wire::Anthropic => server.uri.clone(),
    };
    let ws = Ws::new();
    ws.write(
        "expand.yaml",
        format!(
            "batch_size: 2\nretries: 0\n\
             writer:\n  kind: {}\n  base_url: \"{base}\"\n  model: mock-model\n  api_key_env: {KEY_VAR}\n  \
             max_tokens: 2000\n  timeout_s: 120\n  idle_timeout_s: 10\n{writer_extra}\
             search:\n  kind: searxng\n  base_url: \"{}\"\n  results: 3\n\
             fetch:\n  enabled: true\n  allow_private: true\n\
             budget:\n  prompt_tokens: 24000\n\
             prices:\n  mock-model: {{ input_per_mtok: 3.0, output_per_mtok: 15.0, cache_read_per_mtok: 0.3, cache_write_per_mtok: 3.75 }}\n",
            wire.kind(),
            server.uri
        ),
    )
    .write(
        "knowledge/long/00-base.md",
        "# Long base\n\nWhat the base knows.\n\n## Facts\n\nStreaming answers arrive in pieces.\nA token cap cuts an answer short.\n",
    )
    .write(&format!("plans/{SLUG}.md"), plan_text(parts));
    ws
}

fn run(ws: &Ws, args: &[&str]) -> crate::util::Out {
    ws.expand_env(args, &[(KEY_VAR, CANARY)])
}

fn drop_of(ws: &Ws, topic: &str) -> String {
    let dir = ws.path().join("drops").join(SLUG);
    let name = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .find(|d| d.contains(&format!("-{topic}-")))
        .unwrap_or_else(|| panic!("a drop for {topic}"));
    String::from_utf8(ws.read(&format!("drops/{SLUG}/{name}"))).unwrap()
}

fn state(ws: &Ws) -> serde_json::Value {
    let st = expand::run::state::PlanState::load(&ws.jail(), SLUG).unwrap();
    serde_json::to_value(st).unwrap()
}

/// The file has one `# ` title, every planned section in plan order, one
/// Sources list with no source twice, and at least `min_lines` lines.
fn assert_complete(text: &str, min_lines: usize) {
    let lines: Vec<&str> = text.lines().collect();
    assert!(lines.len() >= min_lines, "{} lines", lines.len());
    assert_eq!(
        lines.iter().filter(|l| l.starts_with("# ")).count(),
        1,
        "one title"
    );
    let headings: Vec<&str> = lines.iter().filter_map(|l| l.strip_prefix("## ")).collect();
    let mut want: Vec<&str> = SECTIONS.to_vec();
    want.push("Sources");
    assert_eq!(headings, want, "every section, in plan order, one Sources");
    for t in SECTIONS {
        let last = format!("- {t} point {SECTION_LINES}:");
        assert!(
            text.contains(&last),
            "section {t} is complete (has its line {SECTION_LINES})"
        );
    }
    let at = lines.iter().position(|l| *l == "## Sources").unwrap();
    let items: Vec<&str> = lines[at + 1..]
        .iter()
        .filter(|l| l.starts_with("- "))
        .copied()
        .collect();
    let unique: BTreeSet<&str> = items.iter().copied().collect();
    assert!(!items.is_empty());
    assert_eq!(unique.len(), items.len(), "no source twice: {items:?}");
}

// ---------- a ~700-line PART, 8 sections, 2,000 output tokens per reply ----------

async fn by_sections(wire: Wire) {
    let server = model_server::start(wire, Options::default(), writer_model(None)).await;
    let ws = workspace(
        &server,
        wire,
        &[(1, "alpha"), (2, "bravo")],
        // auto: 700 planned lines cannot fit in 2,000 tokens.
        "  mode: auto\n  parallel_sections: 4\n  max_in_flight: 3\n",
    );
    let out = run(&ws, &["run", &format!("plans/{SLUG}.md")]);
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    for (n, topic) in [(1, "alpha"), (2, "bravo")] {
        let text = String::from_utf8(ws.read(&format!("knowledge/long/0{n}-{topic}.md"))).unwrap();
        assert_complete(&text, 600);
        // It cites pages the research step fetched, and they verify.
        assert!(
            text.contains(&format!("{}/page/{topic}-1", server.uri)),
            "{text}"
        );
        let drop = drop_of(&ws, topic);
        assert!(
            drop.contains("- **Writing**: section by section ("),
            "{drop}"
        );
        assert!(drop.contains("- **Status**: ✓ COMPLETE"), "{drop}");
        assert!(drop.contains(" verified, 0 fabricated"), "{drop}");
        assert_eq!(state(&ws)["parts"][n.to_string()]["status"], "done");
    }
    let reqs = server.requests();
    // Each PART: one request per section at least (a section cut at the
    // cap is continued), never more than max_in_flight across both PARTs.
    assert!(reqs.len() >= 16, "{} requests", reqs.len());
    let max = server
        .max_in_flight
        .load(std::sync::atomic::Ordering::SeqCst);
    assert!(
        (2..=3).contains(&max),
        "at most 3 requests at once, saw {max}"
    );
    for r in &reqs {
        assert_eq!(r.body["stream"], true);
        let limit = match wire {
            Wire::OpenAi => &r.body["max_tokens"],
            Wire::Anthropic => &r.body["max_tokens"],
        };
        assert_eq!(*limit, 2000);
    }
    // Every section asked for once, with its own evidence after a prefix
    // every section request of the PART shares.
    let firsts: Vec<_> = reqs.iter().filter(|r| r.so_far().is_none()).collect();
    for t in SECTIONS {
        let asked = firsts
            .iter()
            .filter(|r| {
                r.prompt()
                    .contains(&format!("Write only the section `## {t}`"))
            })
            .count();
        assert_eq!(asked, 2, "{t}: once per PART");
    }
    if wire == Wire::Anthropic {
        let prefixes: BTreeSet<String> = firsts
            .iter()
            .filter(|r| r.prompt().contains("PART 1 —"))
            .map(|r| {
                let block = &r.body["messages"][0]["content"][0];
                assert_eq!(block["cache_control"]["type"], "ephemeral");
                block["text"].as_str().unwrap().to_string()
            })
            .collect();
        assert_eq!(prefixes.len(), 1, "one cached prefix for the PART");
        // The cache counts read from the stream reach the state, the drop
        // and the cost, at the cache's own rates.
        let st = state(&ws);
        let p = &st["parts"]["1"];
        let n = |k: &str| p["usage"][k].as_u64().unwrap_or(0) as f64;
        let (input, read, write, output) = (
            n("input_tokens"),
            n("cache_read_tokens"),
            n("cache_write_tokens"),
            n("output_tokens"),
        );
        assert!(read > 0.0 && write > 0.0, "{p}");
        let want = ((input - read - write) * 3.0 + read * 0.3 + write * 3.75 + output * 15.0) / 1e6;
        let cost = p["cost"].as_f64().unwrap();
        assert!((cost - want).abs() < 1e-9, "{cost} vs {want}");
        let drop = drop_of(&ws, "alpha");
        let said = format!(
            "({} of the input read from the prompt cache, {} written to it)",
            read as u64, write as u64
        );
        assert!(drop.contains(&said), "{drop}");
    }
    // The key went only into the request headers.
    let key_header = match wire {
        Wire::OpenAi => ("authorization", format!("Bearer {CANARY}")),
        Wire::Anthropic => ("x-api-key", CANARY.to_string()),
    };
    assert!(reqs[0]
        .headers
        .iter()
        .any(|(k, v)| k == key_header.0 && *v == key_header.1));
    for e in walkdir::WalkDir::new(ws.path()) {
        let e = e.unwrap();
        if e.file_type().is_file() {
            let bytes = std::fs::read(e.path()).unwrap();
            assert!(
                !bytes.windows(CANARY.len()).any(|w| w == CANARY.as_bytes()),
                "the key is in {}",
                e.path().display()
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_700_line_part_is_written_by_section_under_a_2000_token_cap_openai() {
    by_sections(Wire::OpenAi).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_700_line_part_is_written_by_section_under_a_2000_token_cap_anthropic() {
    by_sections(Wire::Anthropic).await;
}

async fn whole_is_continued(wire: Wire) {
    let server = model_server::start(wire, Options::default(), writer_model(None)).await;
    let ws = workspace(
        &server,
        wire,
        &[(1, "alpha")],
        "  mode: whole\n  continuations: 20\n",
    );
    let out = run(&ws, &["run", &format!("plans/{SLUG}.md")]);
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    let text = String::from_utf8(ws.read("knowledge/long/01-alpha.md")).unwrap();
    assert_complete(&text, 600);
    let capped = server.capped.load(std::sync::atomic::Ordering::SeqCst);
    assert!(capped >= 4, "the file took several replies: {capped} cut");
    let reqs = server.requests();
    assert_eq!(reqs.len(), capped + 1, "every cut reply was continued once");
    assert!(reqs[1..].iter().all(|r| r.so_far().is_some()));
    // The answer rebuilt from the stream is the model's answer, byte for byte.
    let model = writer_model(None);
    assert_eq!(text, model(&reqs[0].prompt()));
    let drop = drop_of(&ws, "alpha");
    let said =
        format!("- **Writing**: {capped} answers stopped on the token limit and were continued");
    assert!(drop.contains(&said), "{drop}");

    // With too few continuations the file is never accepted cut off.
    let server = model_server::start(wire, Options::default(), writer_model(None)).await;
    let ws = workspace(
        &server,
        wire,
        &[(1, "alpha")],
        "  mode: whole\n  continuations: 1\n",
    );
    let out = run(&ws, &["run", &format!("plans/{SLUG}.md")]);
    assert_eq!(out.code, 1, "{}\n{}", out.stdout, out.stderr);
    assert!(!ws.path().join("knowledge/long/01-alpha.md").exists());
    let st = state(&ws);
    assert_eq!(st["parts"]["1"]["status"], "failed");
    assert!(
        st["parts"]["1"]["error"]
            .as_str()
            .unwrap()
            .contains("still stopped on the token limit"),
        "{st}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn whole_file_mode_is_continued_not_accepted_cut_off_openai() {
    whole_is_continued(Wire::OpenAi).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn whole_file_mode_is_continued_not_accepted_cut_off_anthropic() {
    whole_is_continued(Wire::Anthropic).await;
}

// ---------- a citation nobody retrieved ----------

async fn fabricated(wire: Wire) {
    let server =
        model_server::start(wire, Options::default(), writer_model(Some(FABRICATED))).await;
    let ws = workspace(&server, wire, &[(1, "alpha")], "  mode: sections\n");
    let out = run(&ws, &["run", &format!("plans/{SLUG}.md")]);
    assert_eq!(out.code, 1, "needs review: {}\n{}", out.stdout, out.stderr);
    let st = state(&ws);
    let p = &st["parts"]["1"];
    assert_eq!(p["status"], "needs-review", "{st}");
    let (verified, fabricated) = (
        p["verified"].as_u64().unwrap(),
        p["fabricated"].as_u64().unwrap(),
    );
    assert!(verified > 0 && fabricated > 0, "{p}");
    // The repair: only the section that cited it is asked again, naming it.
    let repairs: Vec<_> = server
        .requests()
        .into_iter()
        .filter(|r| r.prompt().contains("Your previous answer") && r.so_far().is_none())
        .collect();
    assert_eq!(
        repairs.len(),
        1,
        "one repair, for the one section: {:?}",
        repairs
            .iter()
            .map(|r| r
                .prompt()
                .rsplit("has these problems:")
                .next()
                .unwrap()
                .to_string())
            .collect::<Vec<_>>()
    );
    let ask = repairs[0].prompt();
    let problems = ask.rsplit("has these problems:").next().unwrap();
    assert!(
        problems.contains(FABRICATED) && problems.contains("points nowhere"),
        "{problems}"
    );
    assert_eq!(
        problems.matches(FABRICATED).count(),
        1,
        "named once: {problems}"
    );
    assert!(ask.contains(&format!("Write only the section `## {}`", SECTIONS[0])));
    // The repair kept it: counted in the drop, review and status alike.
    let line = format!("{verified} verified, {fabricated} fabricated");
    let drop = drop_of(&ws, "alpha");
    assert!(drop.contains(&format!("- **Citations**: {line}")), "{drop}");
    assert!(
        drop.contains(&format!("- {FABRICATED} (points nowhere)")),
        "{drop}"
    );
    let review = run(&ws, &["review", "part", "1", SLUG]);
    assert!(
        review.stdout.contains(&format!("citations: {line}")),
        "{}",
        review.stdout
    );
    let status = run(&ws, &["status"]);
    assert!(
        status
            .stdout
            .contains(&format!("citations: {line} (the plan's total)")),
        "{}",
        status.stdout
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fabricated_url_is_named_in_the_repair_and_counted_everywhere_openai() {
    fabricated(Wire::OpenAi).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fabricated_url_is_named_in_the_repair_and_counted_everywhere_anthropic() {
    fabricated(Wire::Anthropic).await;
}

// ---------- the writers against the stream itself ----------

fn http(max_body: u64) -> Arc<Http> {
    Arc::new(
        Http::new(
            None::<&Path>,
            HttpOptions {
                max_attempts: 3,
                backoff_base: Duration::from_millis(5),
                backoff_max: Duration::from_millis(20),
                max_body,
                ..HttpOptions::default()
            },
        )
        .unwrap(),
    )
}

fn request(prompt: &str) -> WriteRequest {
    expand::testing::write_request(prompt)
}

fn writer(wire: Wire, uri: &str, max_tokens: u32, h: Arc<Http>, idle: Duration) -> Box<dyn Writer> {
    writer_within(wire, uri, max_tokens, h, idle, Duration::from_secs(20))
}

fn writer_within(
    wire: Wire,
    uri: &str,
    max_tokens: u32,
    h: Arc<Http>,
    idle: Duration,
    total: Duration,
) -> Box<dyn Writer> {
    std::env::set_var(KEY_VAR, CANARY);
    let cfg = config::Writer {
        kind: wire.kind().into(),
        base_url: Some(match wire {
            Wire::OpenAi => format!("{uri}/v1"),
            Wire::Anthropic => uri.to_string(),
        }),
        model: Some("mock-model".into()),
        api_key_env: Some(KEY_VAR.into()),
        max_tokens: Some(max_tokens),
        ..config::Writer::default()
    };
    match wire {
        Wire::OpenAi => Box::new(
            OpenAi::new(&cfg, h)
                .unwrap()
                .with_timeout(total)
                .with_idle_timeout(idle),
        ),
        Wire::Anthropic => Box::new(
            Anthropic::new(&cfg, h)
                .unwrap()
                .with_timeout(total)
                .with_idle_timeout(idle),
        ),
    }
}

fn fixed(text: &'static str) -> Model {
    Arc::new(move |_: &str| text.to_string())
}

const ANSWER: &str = "# Args\n\n## Clap\n\nclap parses arguments ([docs](https://docs.rs/clap)).\n\
    Derive or builder, both are fine; the derive API reads best.\n\n## Sources\n\n- https://docs.rs/clap\n";

#[tokio::test]
async fn streams_in_small_chunks_with_pauses_and_usage_from_the_stream() {
    for wire in [Wire::OpenAi, Wire::Anthropic] {
        let opts = Options {
            chunk: 7,
            pause: Duration::from_millis(3),
            ..Options::default()
        };
        let server = model_server::start(wire, opts, fixed(ANSWER)).await;
        let w = writer(
            wire,
            &server.uri,
            2000,
            http(1 << 20),
            Duration::from_secs(2),
        );
        let out = w.write(&request("write it")).await.unwrap();
        assert_eq!(out.text, ANSWER, "{wire:?}");
        assert_eq!(out.finish, Finish::Stop);
        assert_eq!(out.model, "mock-model");
        // The server's own counts, read from the stream's usage event.
        assert_eq!(out.usage.input_tokens, ("write it".len() / 4) as u64);
        assert_eq!(out.usage.output_tokens, (ANSWER.len() / 4) as u64);
        let reqs = server.requests();
        assert_eq!(reqs.len(), 1);
        assert_eq!(reqs[0].body["stream"], true);
        if wire == Wire::OpenAi {
            assert_eq!(reqs[0].body["stream_options"]["include_usage"], true);
        }

        // A reply cut at the cap says so.
        let opts = Options {
            cap_tokens: 10,
            ..Options::default()
        };
        let server = model_server::start(wire, opts, fixed(ANSWER)).await;
        let w = writer(wire, &server.uri, 10, http(1 << 20), Duration::from_secs(2));
        let out = w.write(&request("write it")).await.unwrap();
        assert_eq!(out.finish, Finish::Length, "{wire:?}");
        assert_eq!(out.text, ANSWER[..40]);
    }
}

#[tokio::test]
async fn a_stalled_stream_ends_on_the_idle_timeout_and_a_trickling_one_on_the_total() {
    for wire in [Wire::OpenAi, Wire::Anthropic] {
        // The first reply stops halfway for 5 s: the idle timeout (300 ms),
        // not the total one (20 s), ends it, and the retry gets the answer.
        let opts = Options {
            stalls: 1,
            ..Options::default()
        };
        let server = model_server::start(wire, opts, fixed(ANSWER)).await;
        let w = writer(
            wire,
            &server.uri,
            2000,
            http(1 << 20),
            Duration::from_millis(300),
        );
        let t = Instant::now();
        let out = w.write(&request("write it")).await.unwrap();
        assert_eq!(out.text, ANSWER, "{wire:?}");
        assert!(t.elapsed() < Duration::from_secs(3), "{:?}", t.elapsed());
        assert_eq!(server.requests().len(), 2);

        // Always stalling: the attempts run out, each on the idle timeout.
        let opts = Options {
            stalls: 10,
            ..Options::default()
        };
        let server = model_server::start(wire, opts, fixed(ANSWER)).await;
        let w = writer(
            wire,
            &server.uri,
            2000,
            http(1 << 20),
            Duration::from_millis(300),
        );
        let t = Instant::now();
        let e = w.write(&request("write it")).await.unwrap_err();
        assert!(matches!(e, ProviderError::Stalled { .. }), "{e:?}");
        assert!(e.to_string().contains("writer.idle_timeout_s"), "{e}");
        assert!(t.elapsed() < Duration::from_secs(4), "{:?}", t.elapsed());
        assert_eq!(server.requests().len(), 3, "every attempt");

        // Never idle, never done: a trickle of a byte every 20 ms keeps
        // the idle timeout (500 ms) away; the total one (600 ms) ends it.
        let opts = Options {
            chunk: 1,
            pause: Duration::from_millis(20),
            ..Options::default()
        };
        let server = model_server::start(wire, opts, fixed(ANSWER)).await;
        let w = writer_within(
            wire,
            &server.uri,
            2000,
            http(1 << 20),
            Duration::from_millis(500),
            Duration::from_millis(600),
        );
        let t = Instant::now();
        let e = w.write(&request("write it")).await.unwrap_err();
        assert!(
            matches!(e, ProviderError::Timeout { .. }),
            "{wire:?}: {e:?}"
        );
        assert!(t.elapsed() < Duration::from_secs(4), "{:?}", t.elapsed());
    }
}

#[tokio::test]
async fn the_body_cap_applies_while_the_answer_streams() {
    for wire in [Wire::OpenAi, Wire::Anthropic] {
        let big: &'static str =
            Box::leak("- a line of a long answer\n".repeat(2_000).into_boxed_str());
        let server = model_server::start(
            wire,
            Options {
                cap_tokens: 1 << 20,
                chunk: 4096,
                pause: Duration::from_millis(0),
                ..Options::default()
            },
            fixed(big),
        )
        .await;
        let w = writer(
            wire,
            &server.uri,
            1 << 20,
            http(16 * 1024),
            Duration::from_secs(2),
        );
        let e = w.write(&request("write it")).await.unwrap_err();
        assert!(
            e.to_string().contains("larger than 16384 bytes"),
            "{wire:?}: {e}"
        );
        assert_eq!(
            server.requests().len(),
            1,
            "a too-large answer is not retried"
        );
    }
}

// ---------- real endpoints' quirks (wiremock: whole answers suffice) ----------

fn openai_answer(text: &str) -> serde_json::Value {
    serde_json::json!({"id": "x", "model": "mock-model",
           "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
           "usage": {"prompt_tokens": 11, "completion_tokens": 22}})
}

fn body_of(r: &wiremock::Request) -> serde_json::Value {
    serde_json::from_slice(&r.body).unwrap()
}

#[tokio::test]
async fn headers_extra_body_and_max_completion_tokens_reach_the_wire() {
    use wiremock::matchers::{header, method};
    use wiremock::{Mock, MockServer, ResponseTemplate};
    for wire in [Wire::OpenAi, Wire::Anthropic] {
        let server = MockServer::start().await;
        let answer = match wire {
            Wire::OpenAi => openai_answer(ANSWER),
            Wire::Anthropic => serde_json::json!({"model": "mock-model", "stop_reason": "end_turn",
                "content": [{"type": "text", "text": ANSWER}], "usage": {"input_tokens": 1, "output_tokens": 2}}),
        };
        Mock::given(method("POST"))
            .and(header("http-referer", "https://example.org"))
            .and(header("x-gateway-route", "fast"))
            .respond_with(ResponseTemplate::new(200).set_body_json(answer))
            .expect(1)
            .mount(&server)
            .await;
        std::env::set_var(KEY_VAR, CANARY);
        let cfg = config::Writer {
            kind: wire.kind().into(),
            base_url: Some(match wire {
                Wire::OpenAi => format!("{}/v1", server.uri()),
                Wire::Anthropic => server.uri(),
            }),
            model: Some("mock-model".into()),
            api_key_env: Some(KEY_VAR.into()),
            max_tokens: Some(300),
            temperature: Some(0.2),
            token_param: "max_completion_tokens".into(),
            headers: [
                (
                    "HTTP-Referer".to_string(),
                    "https://example.org".to_string(),
                ),
                ("X-Gateway-Route".to_string(), "fast".to_string()),
            ]
            .into(),
            // A field expand sets is replaced; a new one is added.
            extra_body: [
                ("temperature".to_string(), serde_json::json!(0.7)),
                ("top_k".to_string(), serde_json::json!(20)),
            ]
            .into(),
            ..config::Writer::default()
        };
        let h = http(1 << 20);
        let w: Box<dyn Writer> = match wire {
            Wire::OpenAi => Box::new(OpenAi::new(&cfg, h).unwrap()),
            Wire::Anthropic => Box::new(Anthropic::new(&cfg, h).unwrap()),
        };
        let out = w.write(&request("write it")).await.unwrap();
        assert_eq!(out.text, ANSWER);
        let reqs = server.received_requests().await.unwrap();
        let body = body_of(&reqs[0]);
        assert_eq!(body["temperature"], 0.7, "{wire:?}");
        assert_eq!(body["top_k"], 20);
        assert_eq!(body["stream"], true);
        match wire {
            Wire::OpenAi => {
                assert_eq!(body["max_completion_tokens"], 300);
                assert!(body.get("max_tokens").is_none(), "{body}");
            }
            // Anthropic has one name for it.
            Wire::Anthropic => assert_eq!(body["max_tokens"], 300),
        }
    }
}

#[tokio::test]
async fn a_server_that_refuses_max_tokens_gets_max_completion_tokens() {
    use wiremock::matchers::{body_partial_json, method};
    use wiremock::{Mock, MockServer, ResponseTemplate};
    let server = MockServer::start().await;
    // OpenAI's answer to a newer model asked with `max_tokens`.
    Mock::given(method("POST"))
        .and(body_partial_json(serde_json::json!({"max_tokens": 300})))
        .respond_with(ResponseTemplate::new(400).set_body_json(serde_json::json!({"error": {
            "message": "Unsupported parameter: 'max_tokens' is not supported with this model. Use 'max_completion_tokens' instead.",
            "type": "invalid_request_error", "param": "max_tokens", "code": "unsupported_parameter"}})))
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(body_partial_json(
            serde_json::json!({"max_completion_tokens": 300}),
        ))
        .respond_with(ResponseTemplate::new(200).set_body_json(openai_answer(ANSWER)))
        .mount(&server)
        .await;
    let cfg = config::Writer {
        kind: "openai".into(),
        base_url: Some(format!("{}/v1", server.uri())),
        model: Some("mock-model".into()),
        max_tokens: Some(300),
        ..config::Writer::default()
    };
    let w = OpenAi::new(&cfg, http(1 << 20)).unwrap();
    assert_eq!(w.write(&request("one")).await.unwrap().text, ANSWER);
    assert_eq!(w.write(&request("two")).await.unwrap().text, ANSWER);
    let sent: Vec<bool> = server
        .received_requests()
        .await
        .unwrap()
        .iter()
        .map(|r| body_of(r).get("max_completion_tokens").is_some())
        .collect();
    // Refused once, then the other name from then on.
    assert_eq!(sent, [false, true, true]);
}

#[tokio::test]
async fn a_prompt_too_long_for_the_context_is_sent_again_once_with_less_evidence() {
    use wiremock::matchers::method;
    use wiremock::{Mock, MockServer, ResponseTemplate};
    const ROOM: usize = 60_000;
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(|r: &wiremock::Request| {
            if r.body.len() > ROOM {
                return ResponseTemplate::new(400).set_body_json(serde_json::json!({"error": {
                    "message": "This model's maximum context length is 16384 tokens. However, your messages resulted in 24100 tokens.",
                    "type": "invalid_request_error", "code": "context_length_exceeded"}}));
            }
            ResponseTemplate::new(200).set_body_json(openai_answer(ANSWER))
        })
        .mount(&server)
        .await;
    let cfg = config::Writer {
        kind: "openai".into(),
        base_url: Some(format!("{}/v1", server.uri())),
        model: Some("mock-model".into()),
        max_tokens: Some(4000),
        ..config::Writer::default()
    };
    let w = OpenAi::new(&cfg, http(1 << 20)).unwrap();
    let mut req = request("");
    req.evidence = (0..40)
        .map(|i| expand::providers::Evidence {
            source: format!("https://docs.rs/clap/{i}"),
            lines: None,
            title: None,
            text: format!("clap passage {i}: ").repeat(200),
        })
        .collect();
    let opts = expand::steps::write::Options::default();
    req.prompt = expand::providers::prompt::build_prompt(&req, opts.budget_tokens, &|t: &str| {
        w.count_tokens(t)
    });
    let seen: BTreeSet<String> = BTreeSet::from(["https://docs.rs/clap".to_string()]);
    let nothing = |_: &str| None;
    let planned = ["Clap"];
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
    let checked = expand::steps::write::run(&w, &req, judge, &opts)
        .await
        .unwrap();
    assert!(checked.stats.shrunk);
    assert!(checked.verdict.passes(), "{:?}", checked.verdict.problems);
    let reqs = server.received_requests().await.unwrap();
    assert_eq!(reqs.len(), 2);
    assert!(reqs[0].body.len() > ROOM && reqs[1].body.len() <= ROOM);
    let second = body_of(&reqs[1])["messages"][0]["content"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        second.contains("evidence passages were left out"),
        "less evidence"
    );

    // Still too long: sent again once only, and the error is the server's.
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(400).set_body_json(serde_json::json!({"error": {
            "message": "prompt is too long: 250000 tokens > 200000 maximum", "type": "invalid_request_error"}})))
        .mount(&server)
        .await;
    let cfg = config::Writer {
        base_url: Some(format!("{}/v1", server.uri())),
        ..cfg
    };
    let w = OpenAi::new(&cfg, http(1 << 20)).unwrap();
    let e = match expand::steps::write::run(&w, &req, judge, &opts).await {
        Err(e) => e,
        Ok(_) => panic!("a prompt that never fits fails"),
    };
    assert!(e.context_overflow(), "{e}");
    assert_eq!(server.received_requests().await.unwrap().len(), 2);
}
