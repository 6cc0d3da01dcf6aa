//! `expand new`: a plan drafted from an outline file or from a language
//! model on loopback, placed in the base, read back by `expand validate`;
//! the overlap check on the sample base and on the bench base.

use crate::util::errors;
use std::path::Path;
use std::sync::{Arc, Mutex};

use serde_json::{json, Value};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

use crate::util::{shared_root, Out, Ws};

/// A workspace holding the repository's sample knowledge base.
fn sample_ws(config: &str) -> Ws {
    let ws = Ws::new();
    ws.write("expand.yaml", config);
    let k = Path::new(env!("CARGO_MANIFEST_DIR")).join("knowledge");
    for e in walkdir::WalkDir::new(&k) {
        let e = e.unwrap();
        if e.file_type().is_file() {
            let rel = e.path().strip_prefix(&k).unwrap().to_string_lossy();
            ws.copy(e.path(), &format!("knowledge/{rel}"));
        }
    }
    std::fs::create_dir_all(ws.path().join("plans")).unwrap();
    ws
}

const OUTLINE: &str = "\
# Rust CLI polish

- Progress bars and terminal detection (~300 lines)
  - File: progress-bars.md
  - Why progress goes to stderr (~60 lines)
    - stdout carries data, stderr carries logs and progress
  - indicatif basics
  - Hiding bars when not a terminal
  - Search: \"indicatif ProgressBar hidden when not a tty\"
  - Search: \"console crate is_terminal stderr\"
  - Search: \"indicatif MultiProgress println\"
- Release packaging with cargo-dist
  - Building archives per target (~100 lines)
  - Installers and checksums (~80 lines)
  - Search: \"cargo-dist release archives\"
  - Search: \"cargo-dist installers checksums\"
  - Search: \"github actions release rust binaries\"
- Signal handling and clean shutdown ~250 lines
  - SIGINT and SIGTERM in tokio
  - Cancelling child processes
  - Search: \"tokio signal ctrl_c SIGTERM\"
  - Search: \"kill process group child tokio\"
  - Search: \"graceful shutdown cancellation token\"
";

fn validate_json(ws: &Ws, plan: &str, extra: &[&str]) -> Value {
    let mut args = vec!["--json", "validate", plan];
    args.extend_from_slice(extra);
    let out = ws.expand(&args);
    assert!(
        out.code == 0,
        "validate failed:\n{}\n{}",
        out.stdout,
        out.stderr
    );
    out.json()["plans"][0].clone()
}

fn codes<'a>(plan: &'a Value, code: &str) -> Vec<&'a Value> {
    plan["diagnostics"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|d| d["code"] == code)
        .collect()
}

fn strs(v: &Value) -> Vec<String> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_str().unwrap().to_string())
        .collect()
}

#[test]
fn outline_file_gives_a_plan_that_validates_and_says_what_the_outline_said() {
    let ws = sample_ws("batch_size: 2\n");
    ws.write("outline.md", OUTLINE);
    let out = ws
        .expand(&["new", "Rust CLI polish", "--from", "outline.md"])
        .code(0);
    assert!(
        out.stdout.contains("wrote plans/rust-cli-polish.md"),
        "{}",
        out.stdout
    );
    assert!(out.stdout.contains("0 errors"), "{}", out.stdout);
    let plan = validate_json(&ws, "plans/rust-cli-polish.md", &[]);
    assert!(errors(&plan).is_empty(), "{plan:#}");
    assert!(codes(&plan, "declared-total").is_empty(), "{plan:#}");
    let parts = plan["parts"].as_array().unwrap();
    assert_eq!(parts.len(), 3);
    let titles: Vec<&str> = parts.iter().map(|p| p["title"].as_str().unwrap()).collect();
    assert_eq!(
        titles,
        [
            "Progress bars and terminal detection",
            "Release packaging with cargo-dist",
            "Signal handling and clean shutdown"
        ]
    );
    // Targets: in one folder, the outline's file name where it gave one.
    let targets: Vec<&str> = parts
        .iter()
        .map(|p| p["target"].as_str().unwrap())
        .collect();
    assert!(targets[0].ends_with("-progress-bars.md"), "{targets:?}");
    assert!(
        targets[1].ends_with("-release-packaging-with-cargo-dist.md"),
        "{targets:?}"
    );
    let folder = |t: &str| t.rsplit_once('/').unwrap().0.to_string();
    assert!(targets.iter().all(|t| folder(t) == folder(targets[0])));
    assert_eq!(
        strs(&parts[0]["sections"]),
        [
            "Why progress goes to stderr",
            "indicatif basics",
            "Hiding bars when not a terminal"
        ]
    );
    assert_eq!(
        strs(&parts[1]["sections"]),
        ["Building archives per target", "Installers and checksums"]
    );
    assert_eq!(
        strs(&parts[2]["queries"]),
        [
            "tokio signal ctrl_c SIGTERM",
            "kill process group child tokio",
            "graceful shutdown cancellation token"
        ]
    );
    assert_eq!(parts[0]["expected_lines"], 300);
    assert_eq!(parts[1]["expected_lines"], 180, "sections add up");
    assert_eq!(parts[2]["expected_lines"], 250);
    // Batches of --batch-size (config: 2), declared totals that match.
    let batches: Vec<Value> = plan["batches"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["parts"].clone())
        .collect();
    assert_eq!(batches, [json!([1, 2]), json!([3])]);
    assert_eq!(plan["declared"]["parts"], 3);
    assert_eq!(plan["declared"]["batches"], 2);
    assert_eq!(plan["declared"]["lines"], 730);
    // Step 0 reads the existing files that hold what a PART is about, each
    // resolved, and cites them: the terminal-output and cancellation files
    // for PARTs 1 and 3; the base has nothing on release packaging.
    let read = |n: usize| -> Vec<&str> {
        parts[n]["reads"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["ref"].as_str().unwrap())
            .collect()
    };
    assert!(
        read(0).contains(&"rust-cli/03-terminal-output.md"),
        "{:?}",
        read(0)
    );
    assert!(
        read(2).contains(&"async-runtime/02-blocking-work-and-cancellation.md"),
        "{:?}",
        read(2)
    );
    assert!(read(1).is_empty(), "{:?}", read(1));
    for p in parts {
        let reads = p["reads"].as_array().unwrap();
        for r in reads {
            let resolved = r["resolved"].as_str().unwrap_or_else(|| panic!("{r}"));
            assert!(ws.path().join("knowledge").join(resolved).is_file(), "{r}");
        }
    }
    let text = String::from_utf8(ws.read("plans/rust-cli-polish.md")).unwrap();
    assert!(text.contains("**CITE**: "), "{text}");
    assert!(text.contains("INFLUENTIAL FILES"), "{text}");

    // The runner takes it as it is: every target is what a dry run would write.
    let out = ws.expand(&["run", "rust-cli-polish", "--dry-run"]).code(0);
    for t in &targets {
        assert!(
            out.stdout.contains(&format!("write  knowledge/{t}")),
            "{t}: {}",
            out.stdout
        );
    }

    // Never over an existing plan: refused, the file kept byte for byte.
    let before = ws.snapshot();
    let out = ws
        .expand(&["new", "Rust CLI polish", "--from", "outline.md"])
        .code(2);
    assert!(out.stderr.contains("exists already"), "{}", out.stderr);
    assert_eq!(before, ws.snapshot());
}

#[test]
fn numbering_continues_the_folder_and_skips_numbers_other_plans_take() {
    let ws = sample_ws("");
    ws.write("outline.md", OUTLINE);
    // rust-cli/ holds 00-03; a pending plan takes 04.
    ws.write(
        "plans/other.md",
        "# Other\n\n## PART 1: Completions\n\n- [ ] PART 1: Create rust-cli/04-completions.md\n\n**Step 2: Create Knowledge File**\n- [ ] Section 1: A\n",
    );
    ws.expand(&[
        "new",
        "Rust CLI polish",
        "--from",
        "outline.md",
        "--folder",
        "rust-cli",
        "--batch-size",
        "1",
    ])
    .code(0);
    let v = ws.expand(&["--json", "validate"]).code(0).json();
    let plan = crate::util::plan_of(&v, "rust-cli-polish");
    let targets: Vec<&str> = plan["parts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["target"].as_str().unwrap())
        .collect();
    assert_eq!(
        targets,
        [
            "rust-cli/05-progress-bars.md",
            "rust-cli/06-release-packaging-with-cargo-dist.md",
            "rust-cli/07-signal-handling-and-clean-shutdown.md"
        ]
    );
    assert!(codes(plan, "number-taken").is_empty(), "{plan:#}");
    assert!(errors(plan).is_empty(), "{plan:#}");
    assert_eq!(plan["batches"].as_array().unwrap().len(), 3);
    assert_eq!(plan["declared"]["batches"], 3);
}

#[test]
fn bad_outline_names_its_line_and_changes_nothing() {
    let ws = sample_ws("");
    ws.write(
        "outline.md",
        "- Good part\n  - A section\n- Second\n  - File: some/where.md\n",
    );
    let before = ws.snapshot();
    let out = ws
        .expand(&["new", "Anything", "--from", "outline.md"])
        .code(2);
    assert!(out.stderr.contains("outline.md:4:"), "{}", out.stderr);
    assert!(out.stderr.contains("folder"), "{}", out.stderr);
    assert_eq!(before, ws.snapshot());
    // A title the plan format would read as something else (`Create x.md`
    // names a PART's target) is caught by reading the draft back.
    ws.write(
        "outline.md",
        "- Good part\n  - A section\n- Create README.md templates\n  - Another section\n",
    );
    let before = ws.snapshot();
    let out = ws
        .expand(&["new", "Anything", "--from", "outline.md"])
        .code(2);
    assert!(
        out.stderr.contains("outline.md:3: PART 2: target"),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr.contains("reads back as `README.md`"),
        "{}",
        out.stderr
    );
    assert_eq!(before, ws.snapshot());
    // Offline and no outline: say to pass --from.
    let out = ws.expand(&["new", "Anything"]).code(2);
    assert!(out.stderr.contains("--from"), "{}", out.stderr);
    assert_eq!(before, ws.snapshot());
    // A dry run prints the plan and writes nothing.
    ws.write("o2.md", OUTLINE);
    let before = ws.snapshot();
    let out = ws
        .expand(&["new", "Rust CLI polish", "--from", "o2.md", "--dry-run"])
        .code(0);
    assert!(
        out.stdout.contains("## PART 3: Signal handling"),
        "{}",
        out.stdout
    );
    assert!(out.stdout.contains("would write plans/rust-cli-polish.md"));
    assert_eq!(before, ws.snapshot());
}

#[test]
fn overlaps_are_written_warned_and_skipped_on_request() {
    let ws = sample_ws("");
    // PART 1 repeats rust-cli/02-configuration-layering.md; PART 2 is new.
    ws.write(
        "outline.md",
        "- Configuration layering\n  - Defaults, config file, environment variables and flags\n  - Unknown keys reported with their line\n- Sourdough starter maintenance\n  - Feeding schedule and flour ratios\n  - Wild yeast and lactobacilli\n",
    );
    let out = ws
        .expand(&["new", "Config and bread", "--from", "outline.md"])
        .code(0);
    assert!(
        out.stdout.contains("warning[overlap]: PART 1:")
            && out
                .stdout
                .contains("`rust-cli/02-configuration-layering.md` ("),
        "{}",
        out.stdout
    );
    assert!(
        !out.stdout.contains("PART 2: existing files"),
        "{}",
        out.stdout
    );
    let text = String::from_utf8(ws.read("plans/config-and-bread.md")).unwrap();
    let line = text
        .lines()
        .find(|l| l.starts_with("**Overlaps**:"))
        .expect("an Overlaps line");
    assert!(
        line.contains("`rust-cli/02-configuration-layering.md` (0."),
        "{line}"
    );
    assert_eq!(text.matches("**Overlaps**:").count(), 1);
    // The parser reads the line as a note, not as a step; validate is clean
    // of it unless asked, and --overlaps finds the same file.
    let plan = validate_json(&ws, "plans/config-and-bread.md", &[]);
    assert!(codes(&plan, "unknown-step").is_empty(), "{plan:#}");
    assert!(codes(&plan, "overlap").is_empty(), "{plan:#}");
    let plan = validate_json(&ws, "plans/config-and-bread.md", &["--overlaps"]);
    let o = codes(&plan, "overlap");
    assert_eq!(o.len(), 1, "{plan:#}");
    assert!(o[0]["message"]
        .as_str()
        .unwrap()
        .contains("rust-cli/02-configuration-layering.md"));

    // --skip-covered leaves PART 1 out.
    let out = ws
        .expand(&[
            "new",
            "Config and bread 2",
            "--from",
            "outline.md",
            "--skip-covered",
        ])
        .code(0);
    assert!(
        out.stdout
            .contains("left out (--skip-covered): Configuration layering"),
        "{}",
        out.stdout
    );
    let plan = validate_json(&ws, "plans/config-and-bread-2.md", &[]);
    let parts = plan["parts"].as_array().unwrap();
    assert_eq!(parts.len(), 1);
    assert_eq!(parts[0]["title"], "Sourdough starter maintenance");
    assert!(errors(&plan).is_empty());
}

#[test]
fn validate_overlaps_checks_a_hand_written_plan() {
    let ws = sample_ws("");
    ws.write(
        "plans/hand.md",
        "# Hand plan (2 runners in 1 batch)\n\n## PART 1: Terminal output (~200 lines)\n\n- [ ] PART 1: Create rust-cli/09-terminal.md\n\n**Step 2: Create Knowledge File**\n- [ ] Section 1: stdout for data and stderr for messages\n- [ ] Section 2: Colors and NO_COLOR\n- [ ] Section 3: Progress bars\n\n## PART 2: Bread (~200 lines)\n\n- [ ] PART 2: Create bread/00-bread.md\n\n**Step 2: Create Knowledge File**\n- [ ] Section 1: Sourdough starter feeding\n- [ ] Section 2: Baguette scoring\n",
    );
    let out = ws.expand(&["validate", "--overlaps", "hand"]).code(0);
    assert!(
        out.stdout.contains("plans/hand.md:3: warning[overlap]: PART 1: existing files already cover it: `rust-cli/03-terminal-output.md` ("),
        "{}",
        out.stdout
    );
    assert!(!out.stdout.contains("PART 2: existing"), "{}", out.stdout);
    let out = ws.expand(&["validate", "hand"]).code(0);
    assert!(!out.stdout.contains("overlap"), "{}", out.stdout);
}

// ---------------------------------------------------------------------------
// A language-model writer on loopback drafts the outline.

const KEY_VAR: &str = "EXPAND_NEW_TEST_KEY";
const KEY: &str = "sk-new-canary-7f3a";

fn model_ws(server: &MockServer) -> Ws {
    sample_ws(&format!(
        "batch_size: 2\nwriter:\n  kind: openai\n  base_url: \"{}/v1\"\n  model: mock-model\n  api_key_env: {KEY_VAR}\n  timeout_s: 10\n",
        server.uri()
    ))
}

fn good_outline() -> Value {
    json!({"title": "Rust CLI polish", "parts": [
        {"title": "Progress bars and terminal detection", "file": "progress-bars.md", "lines": 240,
         "sections": [{"title": "Why progress goes to stderr", "brief": "stdout carries data"},
                      {"title": "Hiding bars off a terminal", "brief": "is_terminal checks", "lines": 80}],
         "queries": ["indicatif progress bar", "is_terminal stderr", "indicatif hidden draw target"]},
        {"title": "Release packaging", "file": "release-packaging.md",
         "sections": [{"title": "Archives per target", "brief": "tar.gz and zip per triple"},
                      {"title": "Checksums", "brief": "sha256 files beside archives"}],
         "queries": ["cargo-dist", "release checksums sha256", "github release rust binary", "cross compile rust targets"]}
    ]})
}

fn chat(content: &str) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_json(json!({
        "id": "c", "model": "mock-model",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": content}}],
        "usage": {"prompt_tokens": 10, "completion_tokens": 10}
    }))
}

/// A server answering the outline requests with `answers` in turn,
/// recording each prompt.
async fn model_server(answers: Vec<String>) -> (MockServer, Arc<Mutex<Vec<String>>>) {
    let server = MockServer::start().await;
    let prompts = Arc::new(Mutex::new(Vec::new()));
    let seen = Arc::clone(&prompts);
    Mock::given(method("POST"))
        .and(path("/v1/chat/completions"))
        .respond_with(move |req: &Request| {
            let body: Value = serde_json::from_slice(&req.body).unwrap();
            let prompt = body["messages"][0]["content"].as_str().unwrap().to_string();
            let mut p = seen.lock().unwrap();
            p.push(prompt);
            let i = (p.len() - 1).min(answers.len() - 1);
            chat(&answers[i])
        })
        .mount(&server)
        .await;
    (server, prompts)
}

fn run_new(ws: &Ws, args: &[&str]) -> Out {
    let mut all = vec!["new"];
    all.extend_from_slice(args);
    ws.expand_env(&all, &[(KEY_VAR, KEY)])
}

fn check_model_plan(ws: &Ws) {
    let plan = validate_json(ws, "plans/rust-cli-polish.md", &[]);
    assert!(errors(&plan).is_empty(), "{plan:#}");
    let parts = plan["parts"].as_array().unwrap();
    assert_eq!(parts.len(), 2);
    assert_eq!(parts[0]["title"], "Progress bars and terminal detection");
    assert!(parts[0]["target"]
        .as_str()
        .unwrap()
        .ends_with("-progress-bars.md"));
    assert_eq!(parts[0]["expected_lines"], 240);
    assert_eq!(
        strs(&parts[1]["queries"]),
        [
            "cargo-dist",
            "release checksums sha256",
            "github release rust binary",
            "cross compile rust targets"
        ]
    );
    assert_eq!(
        strs(&parts[1]["sections"]),
        ["Archives per target", "Checksums"]
    );
    let text = String::from_utf8(ws.read("plans/rust-cli-polish.md")).unwrap();
    assert!(text.contains("  - tar.gz and zip per triple"), "{text}");
    // The key travels in a header only: never in the plan or the cache.
    for (p, _) in ws.snapshot() {
        let f = ws.path().join(&p);
        if f.is_file() {
            let b = std::fs::read(&f).unwrap();
            assert!(
                !String::from_utf8_lossy(&b).contains(KEY),
                "{}",
                p.display()
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_model_on_loopback_drafts_the_outline() {
    let answer = format!("```json\n{}\n```", good_outline());
    let (server, prompts) = model_server(vec![answer]).await;
    let ws = model_ws(&server);
    let out = run_new(&ws, &["Rust CLI polish", "--parts", "2"]).code(0);
    assert!(
        out.stdout.contains("wrote plans/rust-cli-polish.md"),
        "{}",
        out.stdout
    );
    check_model_plan(&ws);
    let prompts = prompts.lock().unwrap();
    assert_eq!(prompts.len(), 1, "one request");
    assert!(prompts[0].contains("exactly 2 parts"), "{}", prompts[0]);
    // It was told what the base already has on the topic.
    assert!(prompts[0].contains("rust-cli/"), "{}", prompts[0]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_outline_answer_is_repaired_once() {
    let mut bad = good_outline();
    bad["parts"][0]["queries"] = json!(["only one"]);
    bad["parts"][1]["file"] = json!("Release Packaging");
    let (server, prompts) = model_server(vec![bad.to_string(), good_outline().to_string()]).await;
    let ws = model_ws(&server);
    let out = ws
        .expand_env(
            &["-vv", "new", "Rust CLI polish", "--parts", "2"],
            &[(KEY_VAR, KEY)],
        )
        .code(0);
    assert!(
        out.stderr.contains("asking once for a repair"),
        "{}",
        out.stderr
    );
    // The key is in no output, debug logs included.
    assert!(!out.stdout.contains(KEY) && !out.stderr.contains(KEY));
    check_model_plan(&ws);
    let prompts = prompts.lock().unwrap();
    assert_eq!(prompts.len(), 2, "the request and one repair");
    assert!(
        prompts[1].contains("parts[0].queries must hold 3 or 4"),
        "{}",
        prompts[1]
    );
    assert!(prompts[1].contains("parts[1].file"), "{}", prompts[1]);
    assert!(
        prompts[1].contains("only one"),
        "the previous answer is quoted"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_answer_still_bad_after_the_repair_fails_and_writes_nothing() {
    let (server, prompts) = model_server(vec!["I cannot do that.".into()]).await;
    let ws = model_ws(&server);
    let out = run_new(&ws, &["Rust CLI polish", "--parts", "2"]).code(1);
    assert!(out.stderr.contains("after one repair"), "{}", out.stderr);
    assert!(out.stderr.contains("--from"), "{}", out.stderr);
    assert!(!ws.path().join("plans/rust-cli-polish.md").exists());
    assert_eq!(prompts.lock().unwrap().len(), 2);
}

// ---------------------------------------------------------------------------
// The bench base (../shared/bench): overlaps found where the base covers the
// outline, none on a new topic.

#[cfg_attr(
    not(has_shared),
    ignore = "needs ../shared (or EXPAND_SHARED): the fixtures and the bench base"
)]
#[test]
fn bench_base_flags_repeated_topics_and_not_new_ones() {
    let tar = shared_root().join("bench/karpathy-deep-oracle.tar.gz");
    if !tar.is_file() {
        eprintln!(
            "skipped bench_base_flags_repeated_topics_and_not_new_ones: {} is absent",
            tar.display()
        );
        return;
    }
    let (d, root) = crate::util::extract_tarball(&tar);
    std::fs::write(
        root.join("expand.yaml"),
        "knowledge_dir: \".\"\nplans_dir: _ingest-auto/inprocess\ndrops_dir: _KNOWLEDGE-DROPS\ncompleted_dir: _ingest-auto/completed\naudit:\n  exclude: [_ingest, _ingest-auto, _KNOWLEDGE-DROPS]\n",
    )
    .unwrap();
    let covered = d.path().join("covered.md");
    std::fs::write(
        &covered,
        "- SAM 2 streaming memory architecture\n  - Hiera image encoder\n  - Memory bank structure and memory update strategy\n  - Memory attention with cross-attention to past frames\n  - Streaming versus offline video processing\n- Ovis 2.5 phase P1 VET pre-training\n  - Configuration and data\n  - Resolution\n  - Training the visual embedding table\n",
    )
    .unwrap();
    let fresh = d.path().join("fresh.md");
    std::fs::write(
        &fresh,
        "- Sourdough starter maintenance\n  - Feeding schedule and flour ratios\n  - Wild yeast and lactobacilli balance\n- Baguette shaping and scoring\n  - Preshaping the dough\n  - Scoring angles and oven spring\n",
    )
    .unwrap();
    let run = |topic: &str, outline: &Path| -> Value {
        let out = crate::util::expand_cmd()
            .arg("-C")
            .arg(&root)
            .args(["--json", "new", topic, "--from"])
            .arg(outline)
            .output()
            .unwrap();
        assert_eq!(
            out.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).unwrap()
    };
    let v = run("SAM 2 and Ovis recap", &covered);
    assert!(errors(&v["plan"]).is_empty(), "{:#}", v["plan"]);
    let overlaps = v["overlaps"].as_array().unwrap();
    let files = |n: u64| -> Vec<String> {
        overlaps
            .iter()
            .find(|o| o["part"] == n)
            .map(|o| {
                o["files"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|f| {
                        assert!(f["score"].as_f64().unwrap() >= 0.5, "{f}");
                        f["path"].as_str().unwrap().to_string()
                    })
                    .collect()
            })
            .unwrap_or_default()
    };
    let p1 = files(1);
    assert!(
        p1.contains(&"sam-2/00-sam2-overview.md".to_string()),
        "{p1:?}"
    );
    let p2 = files(2);
    assert!(
        p2.contains(&"ovis-2-5/training/01-phase-p1-vet.md".to_string()),
        "{p2:?}"
    );
    // The draft is written with its Overlaps lines, and validates.
    let text = std::fs::read_to_string(root.join("_ingest-auto/inprocess/sam-2-and-ovis-recap.md"))
        .unwrap();
    assert_eq!(text.matches("**Overlaps**:").count(), 2);
    assert_eq!(v["plan"]["parts"].as_array().unwrap().len(), 2);

    let v = run("Sourdough bread baking", &fresh);
    assert!(errors(&v["plan"]).is_empty(), "{:#}", v["plan"]);
    assert_eq!(v["overlaps"], json!([]), "{:#}", v["overlaps"]);
    assert!(codes(&v["plan"], "overlap").is_empty());
    assert_eq!(v["folder_reason"], "new");
}

#[test]
fn help_teaches_with_an_outline_that_works() {
    let ws = sample_ws("");
    let out = ws.expand(&["new", "--help"]).code(0);
    let lines: Vec<&str> = out.stdout.lines().collect();
    let at = lines
        .iter()
        .position(|l| *l == "Example outline (outline.md):")
        .unwrap_or_else(|| panic!("{}", out.stdout));
    let outline: String = lines[at + 1..]
        .iter()
        .take_while(|l| !l.trim().is_empty())
        .map(|l| format!("{}\n", l.strip_prefix("  ").unwrap()))
        .collect();
    assert!(
        outline.contains("\n  - File: cancellation-safety.md\n"),
        "{outline}"
    );
    // The example is an outline `expand new` takes as it stands.
    ws.write("outline.md", &outline);
    let out = ws
        .expand(&[
            "new",
            "Rust async runtimes",
            "--from",
            "outline.md",
            "--dry-run",
        ])
        .code(0);
    assert!(
        out.stdout
            .contains("## PART 2: Structured concurrency with JoinSet (~300 lines)"),
        "{}",
        out.stdout
    );
    assert!(out.stdout.contains("0 errors"), "{}", out.stdout);
}

/// Every output people and tools read is pinned: the draft with its
/// validation, and the JSON report. The clock is fixed for the date.
#[test]
fn snapshots_of_the_draft_and_the_json_report() {
    let ws = sample_ws("batch_size: 2\n");
    ws.write("outline.md", OUTLINE);
    let clock = [("EXPAND_CLOCK", "2026-11-21T14:05:00Z")];
    let out = ws
        .expand_env(
            &[
                "new",
                "Rust CLI polish",
                "--from",
                "outline.md",
                "--dry-run",
            ],
            &clock,
        )
        .code(0);
    insta::assert_snapshot!("new_dry_run_text", out.stdout);
    let out = ws
        .expand_env(
            &["--json", "new", "Rust CLI polish", "--from", "outline.md"],
            &clock,
        )
        .code(0);
    insta::assert_json_snapshot!("new_json", out.json());
}

#[test]
fn parts_keeps_the_first_n_and_bad_flags_are_usage_errors() {
    let ws = sample_ws("");
    ws.write("outline.md", OUTLINE);
    ws.expand(&[
        "new",
        "Rust CLI polish",
        "--from",
        "outline.md",
        "--parts",
        "2",
    ])
    .code(0);
    let plan = validate_json(&ws, "plans/rust-cli-polish.md", &[]);
    assert_eq!(plan["parts"].as_array().unwrap().len(), 2);
    assert_eq!(plan["declared"]["parts"], 2);
    ws.write("completed/old-topic/plan.md", "# Old topic\n");
    let before = ws.snapshot();
    for (args, says) in [
        (
            vec!["new", "X", "--from", "outline.md", "--parts", "9"],
            "has only 3 PARTs",
        ),
        (
            vec!["new", "Y", "--from", "outline.md", "--folder", "../out"],
            "folder `../out`",
        ),
        (
            vec!["new", "!!!", "--from", "outline.md"],
            "no letters or digits",
        ),
        (vec!["new", "Z", "--from", "missing.md"], "missing.md"),
        (
            vec!["new", "Old topic", "--from", "outline.md"],
            "has run here already",
        ),
    ] {
        let out = ws.expand(&args).code(2);
        assert!(out.stderr.contains(says), "{args:?}: {}", out.stderr);
    }
    assert_eq!(before, ws.snapshot());
}
