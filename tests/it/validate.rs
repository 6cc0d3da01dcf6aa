//! Acceptance tests of issue 2: `validate`, `graph`, `init`, `fix-encoding`,
//! `completions` on the shared fixtures and on malformed plans.

use crate::util::errors;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::util::{all_fixtures, part_of, plan_of, plans_rel, real, seed, shared_or_skip, Out, Ws};

const SEED_000: &str = "000_59161f3f172345b1";
const SEED_001: &str = "001_a5903b0fc4ce0a52";

/// A workspace holding the given plans under `plans/` (file names kept).
fn ws_with(files: &[PathBuf]) -> (Ws, Vec<String>) {
    let ws = Ws::new();
    // A folder with a `knowledge/` folder is a workspace with every default.
    std::fs::create_dir(ws.path().join("knowledge")).unwrap();
    let mut rels = Vec::new();
    for f in files {
        let rel = plans_rel(f);
        ws.copy(f, &rel);
        rels.push(rel);
    }
    (ws, rels)
}

fn validate_json(ws: &Ws, rels: &[String], extra: &[&str]) -> Out {
    let mut args = vec!["validate", "--format", "json"];
    args.extend(rels.iter().map(String::as_str));
    args.extend(extra);
    ws.expand(&args)
}

fn numbers(v: &Value) -> Vec<u64> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_u64().unwrap())
        .collect()
}

#[cfg_attr(
    not(has_shared),
    ignore = "needs ../shared (or EXPAND_SHARED): the fixtures and the bench base"
)]
#[test]
fn every_fixture_validates_without_errors() {
    let shared = shared_or_skip!();
    let files = all_fixtures(&shared);
    assert!(files.len() >= 16, "{files:?}");
    let (ws, rels) = ws_with(&files);
    let out = validate_json(&ws, &rels, &[]).code(0);
    let v = out.json();
    assert_eq!(v["plans"].as_array().unwrap().len(), files.len());
    for p in v["plans"].as_array().unwrap() {
        assert!(errors(p).is_empty(), "{}: {:?}", p["path"], errors(p));
        assert!(!p["parts"].as_array().unwrap().is_empty(), "{}", p["path"]);
    }
    // Each on its own, too (no help from the other plans' targets).
    for rel in &rels {
        let v = validate_json(&ws, std::slice::from_ref(rel), &[])
            .code(0)
            .json();
        assert!(errors(&v["plans"][0]).is_empty(), "{rel}");
    }
}

/// PART numbers and lines as a person reads them: `## PART N:` headings,
/// `**PART N**:` paragraphs, `**Worker N:` paragraphs at the start of a line.
fn headers_in(text: &str) -> Vec<(u64, usize)> {
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let rest = if line.starts_with('#') {
            line.trim_start_matches('#').strip_prefix(" PART ")
        } else {
            line.strip_prefix("**PART ")
                .or_else(|| line.strip_prefix("**Worker "))
        };
        let Some(rest) = rest else { continue };
        let digits: String = rest.chars().take_while(|c| c.is_ascii_digit()).collect();
        let after = &rest[digits.len()..];
        if !digits.is_empty() && (after.starts_with(':') || after.starts_with("**")) {
            out.push((digits.parse().unwrap(), i + 1));
        }
    }
    out
}

/// Targets as a person reads them (SPEC §2: the first `Create <path>.md`):
/// from `## PART N: Create path.md` headings, else from status lines
/// `- [?] PART N: Create path.md …` → (N, path).
fn status_targets(text: &str) -> Vec<(u64, String)> {
    let mut out: Vec<(u64, String)> = Vec::new();
    for line in text.lines() {
        let rest = if line.starts_with('#') {
            line.trim_start_matches('#').strip_prefix(" PART ")
        } else {
            line.strip_prefix("- [")
                .and_then(|r| r.find("] PART ").map(|c| &r[c + "] PART ".len()..]))
        };
        let Some(rest) = rest else {
            continue;
        };
        let Some((n, after)) = rest.split_once(": Create ") else {
            continue;
        };
        let Ok(n) = n.parse() else { continue };
        let path = after.split_whitespace().next().unwrap_or("");
        if path.ends_with(".md") && !out.iter().any(|(m, _)| *m == n) {
            out.push((n, path.to_string()));
        }
    }
    out
}

#[cfg_attr(
    not(has_shared),
    ignore = "needs ../shared (or EXPAND_SHARED): the fixtures and the bench base"
)]
#[test]
fn part_numbers_and_targets_are_what_the_file_says() {
    let shared = shared_or_skip!();
    for f in all_fixtures(&shared) {
        let (ws, rels) = ws_with(std::slice::from_ref(&f));
        let v = validate_json(&ws, &rels, &[]).code(0).json();
        let plan = &v["plans"][0];
        // Mis-encoded seeds still carry ASCII headings and paths.
        let text = String::from_utf8_lossy(&std::fs::read(&f).unwrap()).into_owned();
        let mut want = headers_in(&text);
        // "**Worker 1-10 should fill this in**" is prose, not a PART.
        want.dedup_by_key(|(n, _)| *n);
        let got: Vec<(u64, usize)> = plan["parts"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| {
                (
                    p["number"].as_u64().unwrap(),
                    p["line"].as_u64().unwrap() as usize,
                )
            })
            .collect();
        assert_eq!(got, want, "{}", f.display());
        for (n, path) in status_targets(&text) {
            assert_eq!(
                part_of(plan, n)["target"],
                path.as_str(),
                "{} PART {n}",
                f.display()
            );
        }
    }
}

#[cfg_attr(
    not(has_shared),
    ignore = "needs ../shared (or EXPAND_SHARED): the fixtures and the bench base"
)]
#[test]
fn seed_part_and_batch_counts() {
    let shared = shared_or_skip!();
    let cases: [(&str, usize, Option<u64>, usize); 5] = [
        ("000", 24, Some(6), 6),
        ("001", 16, Some(4), 4),
        ("002", 16, None, 4),
        ("003", 4, None, 1),
        ("004", 4, None, 1),
    ];
    for (prefix, parts, declared_batches, batches) in cases {
        let (ws, rels) = ws_with(&[seed(&shared, prefix)]);
        let v = validate_json(&ws, &rels, &["--batch-size", "4"])
            .code(0)
            .json();
        let p = &v["plans"][0];
        assert_eq!(p["parts"].as_array().unwrap().len(), parts, "seed {prefix}");
        let nums: Vec<u64> = p["parts"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x["number"].as_u64().unwrap())
            .collect();
        assert_eq!(
            nums,
            (1..=parts as u64).collect::<Vec<_>>(),
            "seed {prefix}"
        );
        let b = p["batches"].as_array().unwrap();
        assert_eq!(b.len(), batches, "seed {prefix}");
        if let Some(d) = declared_batches {
            assert_eq!(p["declared"]["batches"], d, "seed {prefix}");
        }
        // Every PART in exactly one batch, at most 4 where the plan declares none.
        let mut all: Vec<u64> = b.iter().flat_map(|x| numbers(&x["parts"])).collect();
        all.sort();
        assert_eq!(all, nums, "seed {prefix}");
    }
}

#[cfg_attr(
    not(has_shared),
    ignore = "needs ../shared (or EXPAND_SHARED): the fixtures and the bench base"
)]
#[test]
fn seed_000_declares_six_batches_of_four() {
    let shared = shared_or_skip!();
    let (ws, rels) = ws_with(&[seed(&shared, "000")]);
    let v = validate_json(&ws, &rels, &[]).code(0).json();
    let p = &v["plans"][0];
    assert_eq!(p["declared"]["parts"], 24);
    assert_eq!(p["declared"]["batches"], 6);
    let b: Vec<Vec<u64>> = p["batches"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| numbers(&b["parts"]))
        .collect();
    let want: Vec<Vec<u64>> = (0..6).map(|k| (k * 4 + 1..=k * 4 + 4).collect()).collect();
    assert_eq!(b, want);
    assert_eq!(
        part_of(p, 1)["target"],
        "gcp-gpu/00-compute-engine-gpu-instances.md"
    );
    assert_eq!(
        part_of(p, 1)["title"],
        "Compute Engine GPU Instances Deep Dive"
    );
    assert_eq!(part_of(p, 1)["expected_lines"], 700);
    assert_eq!(part_of(p, 1)["batch"], 1);
    assert_eq!(part_of(p, 24)["batch"], 6);
    let t8 = part_of(p, 8)["target"].as_str().unwrap();
    assert!(t8.starts_with("gcp-gpu/07-"), "{t8}");
}

#[cfg_attr(
    not(has_shared),
    ignore = "needs ../shared (or EXPAND_SHARED): the fixtures and the bench base"
)]
#[test]
fn seed_002_without_declared_batches_gets_four_of_four() {
    let shared = shared_or_skip!();
    let (ws, rels) = ws_with(&[seed(&shared, "002")]);
    let v = validate_json(&ws, &rels, &["--batch-size", "4"])
        .code(0)
        .json();
    let p = &v["plans"][0];
    assert_eq!(p["declared"]["batches"], Value::Null);
    let b: Vec<Vec<u64>> = p["batches"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| numbers(&b["parts"]))
        .collect();
    assert_eq!(b.len(), 4);
    assert!(b.iter().all(|x| x.len() == 4), "{b:?}");
    assert_eq!(
        part_of(p, 1)["target"],
        "karpathy/distributed-training/00-deepspeed-zero-optimizer.md"
    );
    assert_eq!(part_of(p, 1)["line"], 11);
}

#[cfg_attr(
    not(has_shared),
    ignore = "needs ../shared (or EXPAND_SHARED): the fixtures and the bench base"
)]
#[test]
fn seeds_003_and_004_have_four_parts_each() {
    let shared = shared_or_skip!();
    let (ws, rels) = ws_with(&[seed(&shared, "003"), seed(&shared, "004")]);
    let v = validate_json(&ws, &rels, &[]).code(0).json();
    let p3 = plan_of(&v, "003_");
    assert_eq!(
        part_of(p3, 1)["target"],
        "karpathy/vertex-ai-production/00-multi-gpu-distributed-training.md"
    );
    assert_eq!(part_of(p3, 1)["line"], 22);
    let p4 = plan_of(&v, "004_");
    assert_eq!(
        part_of(p4, 1)["target"],
        "karpathy/aws-sagemaker/00-distributed-inference-optimization.md"
    );
    for p in [p3, p4] {
        assert_eq!(p["parts"].as_array().unwrap().len(), 4);
    }
    // 004: every item ticked.
    for part in p4["parts"].as_array().unwrap() {
        assert_eq!(part["status"], "done");
    }
}

/// (seed prefix, original's name fragment, reported encoding)
const REPAIRED: [(&str, &str, &str); 3] = [
    ("000", "gcp-gpu-cloud-ai", "mac-roman-repaired"),
    ("001", "performance-optimization", "mac-roman-repaired"),
    ("003", "vertex-ai-advanced", "windows-1252-repaired"),
];

#[cfg_attr(
    not(has_shared),
    ignore = "needs ../shared (or EXPAND_SHARED): the fixtures and the bench base"
)]
#[test]
fn repaired_seeds_validate_like_their_originals() {
    let shared = shared_or_skip!();
    for (prefix, original, encoding) in REPAIRED {
        let one = |f: PathBuf| {
            let (ws, rels) = ws_with(&[f]);
            let mut v = validate_json(&ws, &rels, &[]).code(0).json();
            v["plans"][0].take()
        };
        let s = one(seed(&shared, prefix));
        let o = one(real(&shared, original));
        assert_eq!(s["encoding"], encoding, "seed {prefix}");
        assert_eq!(o["encoding"], "utf-8", "{original}");
        let codes: Vec<&str> = s["diagnostics"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| d["code"].as_str().unwrap())
            .collect();
        assert!(codes.contains(&"mis-encoded"), "seed {prefix}: {codes:?}");
        for key in ["title", "declared", "parts", "batches"] {
            assert_eq!(s[key], o[key], "seed {prefix}: `{key}` differs");
        }
    }
}

#[cfg_attr(
    not(has_shared),
    ignore = "needs ../shared (or EXPAND_SHARED): the fixtures and the bench base"
)]
#[test]
fn repaired_seeds_parse_to_the_same_model_as_their_originals() {
    use expand::plan::parse::parse_bytes;
    let shared = shared_or_skip!();
    for (prefix, original, _) in REPAIRED {
        let sf = seed(&shared, prefix);
        let of = real(&shared, original);
        let s = parse_bytes(Path::new("plan.md"), &std::fs::read(&sf).unwrap()).unwrap();
        let o = parse_bytes(Path::new("plan.md"), &std::fs::read(&of).unwrap()).unwrap();
        assert_ne!(s.encoding, o.encoding, "seed {prefix}");
        assert_eq!(s.text, o.text, "seed {prefix}: repaired text");
        assert_eq!(s.title, o.title);
        assert_eq!(s.declared, o.declared);
        assert_eq!(s.metadata, o.metadata);
        assert_eq!(s.influential, o.influential);
        assert_eq!(s.batches, o.batches, "seed {prefix}: batches");
        assert_eq!(s.parts.len(), o.parts.len());
        for (a, b) in s.parts.iter().zip(&o.parts) {
            let who = format!("seed {prefix} PART {}", a.number);
            assert_eq!(a.number, b.number, "{who}");
            assert_eq!(a.title, b.title, "{who}");
            assert_eq!(a.line, b.line, "{who}");
            assert_eq!(a.target, b.target, "{who}");
            assert_eq!(a.status, b.status, "{who}");
            assert_eq!(a.marker, b.marker, "{who}");
            assert_eq!(a.completed_at, b.completed_at, "{who}");
            assert_eq!(a.expected_lines, b.expected_lines, "{who}");
            assert_eq!(a.heading_batch, b.heading_batch, "{who}");
            let steps = |p: &expand::plan::Part| {
                p.steps
                    .iter()
                    .map(|s| (s.name.clone(), s.kind, s.line))
                    .collect::<Vec<_>>()
            };
            assert_eq!(steps(a), steps(b), "{who}: steps");
            let items = |p: &expand::plan::Part| {
                p.items()
                    .map(|i| (i.text.clone(), i.kind.clone(), i.marker.clone(), i.line))
                    .collect::<Vec<_>>()
            };
            assert_eq!(items(a), items(b), "{who}: items");
        }
    }
}

#[cfg_attr(
    not(has_shared),
    ignore = "needs ../shared (or EXPAND_SHARED): the fixtures and the bench base"
)]
#[test]
fn seed_001_part_16_depends_on_1_to_15() {
    let shared = shared_or_skip!();
    let (ws, rels) = ws_with(&[seed(&shared, "001")]);
    let v = validate_json(&ws, &rels, &[]).code(0).json();
    let p = &v["plans"][0];
    assert_eq!(
        numbers(&part_of(p, 16)["depends_on"]),
        (1..=15).collect::<Vec<u64>>()
    );
    assert_eq!(part_of(p, 16)["batch"], 4);
    let warn = p["diagnostics"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["code"] == "dependency-in-batch")
        .expect("a dependency-in-batch warning");
    assert_eq!(warn["severity"], "warning");
    assert_eq!(warn["line"], part_of(p, 16)["line"]);
    let msg = warn["message"].as_str().unwrap();
    for n in ["13", "14", "15"] {
        assert!(msg.contains(n), "{msg}");
    }
    // Batch 4 starts 13, 14, 15 before 16 (run --dry-run is not built yet:
    // the graph shows the same order).
    assert_eq!(numbers(&p["batches"][3]["parts"]), vec![13, 14, 15, 16]);
    let text = ws.expand(&["graph", &rels[0]]).code(0).stdout;
    let b4 = text
        .split("batch 4")
        .nth(1)
        .expect("batch 4 in graph output");
    let pos = |n: u32| {
        b4.find(&format!("PART {n}: "))
            .unwrap_or_else(|| panic!("PART {n} in batch 4:\n{b4}"))
    };
    assert!(pos(13) < pos(16) && pos(14) < pos(16) && pos(15) < pos(16));
}

#[cfg_attr(
    not(has_shared),
    ignore = "needs ../shared (or EXPAND_SHARED): the fixtures and the bench base"
)]
#[test]
fn seeds_000_and_001_together_wait_across_plans() {
    let shared = shared_or_skip!();
    let (ws, rels) = ws_with(&[seed(&shared, "000"), seed(&shared, "001")]);
    let v = validate_json(&ws, &rels, &[]).code(0).json();
    let p0 = plan_of(&v, SEED_000);
    let p1 = plan_of(&v, SEED_001);
    assert!(part_of(p0, 8)["target"]
        .as_str()
        .unwrap()
        .starts_with("gcp-gpu/07-"));
    assert_eq!(
        part_of(p1, 11)["waits_on"],
        serde_json::json!([{"plan": SEED_000, "part": 8}])
    );
    // The text report says it too, at the PART's line.
    let mut args = vec!["validate"];
    args.extend(rels.iter().map(String::as_str));
    let text = ws.expand(&args).code(0).stdout;
    assert!(
        text.lines()
            .any(|l| l.contains(":419: PART 11 waits on 000_59161f3f172345b1 PART 8")),
        "{text}"
    );
    // Alone, nothing to wait on.
    let (ws, rels) = ws_with(&[seed(&shared, "001")]);
    let v = validate_json(&ws, &rels, &[]).code(0).json();
    assert_eq!(
        part_of(&v["plans"][0], 11)["waits_on"],
        serde_json::json!([])
    );
}

/// Malformed plans in tests/fixtures/malformed: (file, code, line). An empty
/// code means the file cannot be read as text (stderr names file:line).
const MALFORMED: [(&str, &str, usize); 10] = [
    ("no-parts.md", "no-parts", 1),
    ("empty.md", "no-parts", 1),
    ("duplicate-part.md", "duplicate-part", 11),
    ("duplicate-target.md", "duplicate-target", 9),
    ("target-dotdot.md", "target-outside", 9),
    ("target-absolute.md", "target-outside", 5),
    ("batch-missing-part.md", "batch-missing-part", 6),
    ("cycle.md", "dependency-cycle", 3),
    ("binary.md", "", 4),
    ("invalid-utf8.md", "", 3),
];

fn malformed(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/malformed")
        .join(name)
}

/// A workspace with every malformed plan, a knowledge base and a config.
fn malformed_ws() -> Ws {
    let ws = Ws::new();
    ws.write("expand.yaml", "batch_size: 4\n")
        .write("knowledge/INDEX.md", "# Index\n")
        .write("knowledge/loop/README.md", "x\n");
    for (name, _, _) in MALFORMED {
        ws.copy(&malformed(name), &format!("plans/{name}"));
    }
    ws
}

#[test]
fn malformed_plans_exit_2_with_file_line_and_change_nothing() {
    let ws = malformed_ws();
    let before = ws.snapshot();
    for (name, code, line) in MALFORMED {
        let rel = format!("plans/{name}");
        let out = ws.expand(&["validate", &rel]).code(2);
        let at = format!("{rel}:{line}:");
        if code.is_empty() {
            assert!(
                out.stderr.contains(&at),
                "{name}: want `{at}` in\n{}",
                out.stderr
            );
        } else {
            let want = format!("{at} error[{code}]");
            assert!(
                out.stdout.contains(&want),
                "{name}: want `{want}` in\n{}",
                out.stdout
            );
            let v = ws
                .expand(&["validate", "--format", "json", &rel])
                .code(2)
                .json();
            let e = errors(&v["plans"][0]);
            assert!(
                e.iter().any(|d| d["code"] == code && d["line"] == line),
                "{name}: {e:?}"
            );
        }
        // Graph refuses them the same way.
        ws.expand(&["graph", &rel]).code(2);
    }
    // All together: still 2, and the good diagnostics of each file.
    let mut args = vec!["validate".to_string()];
    args.extend(
        MALFORMED
            .iter()
            .filter(|m| !m.1.is_empty())
            .map(|m| format!("plans/{}", m.0)),
    );
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    ws.expand(&args).code(2);
    assert_eq!(before, ws.snapshot(), "validate changed the workspace");
}

#[test]
fn github_format_prints_workflow_commands() {
    let ws = malformed_ws();
    let out = ws
        .expand(&[
            "validate",
            "--format",
            "github",
            "plans/duplicate-target.md",
        ])
        .code(2);
    let line = out
        .stdout
        .lines()
        .find(|l| l.starts_with("::error "))
        .unwrap_or_else(|| panic!("an ::error line in\n{}", out.stdout));
    assert!(
        line.starts_with("::error file=plans/duplicate-target.md,line=9,"),
        "{line}"
    );
    assert!(line.contains("::PARTs 1 and 2 both create"), "{line}");
    // Warnings become ::warning commands.
    let out = ws
        .expand(&["validate", "--format", "github", "plans/cycle.md"])
        .code(2);
    assert!(
        out.stdout.contains("::error file=plans/cycle.md,line=3,"),
        "{}",
        out.stdout
    );
}

fn keys(v: &Value) -> BTreeSet<&str> {
    v.as_object()
        .unwrap_or_else(|| panic!("object: {v}"))
        .keys()
        .map(String::as_str)
        .collect()
}

fn set<'a>(k: &[&'a str]) -> BTreeSet<&'a str> {
    k.iter().copied().collect()
}

#[cfg_attr(
    not(has_shared),
    ignore = "needs ../shared (or EXPAND_SHARED): the fixtures and the bench base"
)]
#[test]
fn json_output_has_the_spec_shape() {
    let shared = shared_or_skip!();
    let (ws, rels) = ws_with(&[seed(&shared, "000"), real(&shared, "sam21")]);
    let v = validate_json(&ws, &rels, &[]).code(0).json();
    assert_eq!(keys(&v), set(&["plans"]));
    for p in v["plans"].as_array().unwrap() {
        assert!(keys(p).is_superset(&set(&[
            "path",
            "title",
            "encoding",
            "declared",
            "parts",
            "batches",
            "diagnostics"
        ])));
        assert!(p["path"].as_str().unwrap().starts_with("plans/"));
        assert!(["utf-8", "mac-roman-repaired", "windows-1252-repaired"]
            .contains(&p["encoding"].as_str().unwrap()));
        assert_eq!(keys(&p["declared"]), set(&["parts", "batches", "lines"]));
        for part in p["parts"].as_array().unwrap() {
            assert!(keys(part).is_superset(&set(&[
                "number",
                "title",
                "line",
                "target",
                "status",
                "expected_lines",
                "batch",
                "depends_on",
                "reads",
                "queries",
                "sections"
            ])));
            assert!(part["number"].is_u64() && part["line"].is_u64());
            assert!(part["target"].is_string() || part["target"].is_null());
            assert!(["pending", "done", "partial"].contains(&part["status"].as_str().unwrap()));
            assert!(part["depends_on"].is_array() && part["queries"].is_array());
            for r in part["reads"].as_array().unwrap() {
                assert_eq!(keys(r), set(&["ref", "resolved", "kind"]));
                assert!(["read", "cite", "influence"].contains(&r["kind"].as_str().unwrap()));
            }
        }
        for b in p["batches"].as_array().unwrap() {
            assert_eq!(keys(b), set(&["number", "title", "parts"]));
        }
        for d in p["diagnostics"].as_array().unwrap() {
            assert!(keys(d).is_superset(&set(&["severity", "line", "code", "message"])));
            assert!(["error", "warning", "info"].contains(&d["severity"].as_str().unwrap()));
        }
    }
    // The 000 example of the SPEC.
    let p = plan_of(&v, SEED_000);
    assert_eq!(p["declared"]["lines"], 16800);
    assert!(!part_of(p, 1)["queries"].as_array().unwrap().is_empty());
    assert!(!part_of(p, 1)["sections"].as_array().unwrap().is_empty());
}

#[cfg_attr(
    not(has_shared),
    ignore = "needs ../shared (or EXPAND_SHARED): the fixtures and the bench base"
)]
#[test]
fn graph_dot_and_mermaid_are_well_formed() {
    let shared = shared_or_skip!();
    let (ws, rels) = ws_with(&[seed(&shared, "001")]);
    let dot = ws
        .expand(&["graph", "--format", "dot", &rels[0]])
        .code(0)
        .stdout;
    assert!(dot.starts_with("digraph "), "{dot}");
    assert_eq!(dot.matches('{').count(), dot.matches('}').count());
    assert_eq!(dot.trim_end().chars().last(), Some('}'));
    assert_eq!(dot.matches("subgraph cluster_").count(), 4);
    assert_eq!(dot.matches('"').count() % 2, 0);
    let declared: BTreeSet<&str> = dot
        .lines()
        .filter(|l| l.contains("[label="))
        .map(|l| l.trim().split(' ').next().unwrap())
        .filter(|n| n.starts_with('p'))
        .collect();
    assert_eq!(declared.len(), 16);
    let mut edges = 0;
    for l in dot.lines().filter(|l| l.contains(" -> ")) {
        let (a, b) = l.trim().trim_end_matches(';').split_once(" -> ").unwrap();
        assert!(declared.contains(a) && declared.contains(b), "{l}");
        edges += 1;
    }
    assert!(edges >= 15, "PART 16's 15 dependencies at least");
    assert!(dot.contains("p13 -> p16;"));

    let mm = ws
        .expand(&["graph", "--format", "mermaid", &rels[0]])
        .code(0)
        .stdout;
    assert!(mm.starts_with("flowchart "), "{mm}");
    let opens = mm
        .lines()
        .filter(|l| l.trim_start().starts_with("subgraph "))
        .count();
    let ends = mm.lines().filter(|l| l.trim() == "end").count();
    assert_eq!((opens, ends), (4, 4));
    assert!(mm.contains("p15 --> p16"));
    for l in mm.lines().filter(|l| l.contains("[\"")) {
        assert!(l.trim_end().ends_with("\"]"), "{l}");
        assert_eq!(l.matches('"').count(), 2, "{l}");
    }
}

#[test]
fn init_creates_a_workspace_and_is_idempotent() {
    let ws = Ws::new();
    let out = ws.expand_bare(&["init", "kb"]).code(0);
    assert!(out.stdout.contains("created"), "{}", out.stdout);
    for f in [
        "kb/expand.yaml",
        "kb/knowledge/INDEX.md",
        "kb/knowledge/SKILL.md",
        "kb/.gitignore",
    ] {
        assert!(ws.path().join(f).is_file(), "{f}");
    }
    for d in ["kb/plans", "kb/drops", "kb/completed", "kb/.git"] {
        assert!(ws.path().join(d).is_dir(), "{d}");
    }
    let gi = String::from_utf8(ws.read("kb/.gitignore")).unwrap();
    assert!(gi.lines().any(|l| l == ".expand/"), "{gi}");
    // Every config line is a comment or blank: all keys default.
    let cfg = String::from_utf8(ws.read("kb/expand.yaml")).unwrap();
    for key in [
        "knowledge_dir",
        "plans_dir",
        "batch_size",
        "writer",
        "search",
        "git",
    ] {
        assert!(cfg.contains(key), "{key} in expand.yaml");
    }
    let before = ws.snapshot();
    let again = ws.expand_bare(&["init", "kb"]).code(0);
    assert!(again.stdout.contains("nothing to do"), "{}", again.stdout);
    assert_eq!(before, ws.snapshot(), "a second init changed files");
    // The new workspace validates an (absent) plan set with a clear message.
    let kb = Ws::new();
    kb.expand(&["init"]).code(0);
    let out = kb.expand(&["validate"]).code(2);
    assert!(out.stderr.contains("no plans"), "{}", out.stderr);
}

#[cfg_attr(
    not(has_shared),
    ignore = "needs ../shared (or EXPAND_SHARED): the fixtures and the bench base"
)]
#[test]
fn fix_encoding_restores_the_original_bytes() {
    let shared = shared_or_skip!();
    let (ws, rels) = ws_with(&[seed(&shared, "000")]);
    let rel = &rels[0];
    let before = ws.snapshot();
    let out = ws.expand(&["fix-encoding", rel]).code(0);
    assert!(out.stdout.contains("mac-roman-repaired"), "{}", out.stdout);
    let original = std::fs::read(real(&shared, "gcp-gpu-cloud-ai")).unwrap();
    assert!(
        ws.read(rel) == original,
        "repaired bytes differ from the original"
    );
    // Atomic: only that one file changed, no temp file left behind (the
    // workspace lock's folder aside).
    let mut after = ws.snapshot();
    after.retain(|p, _| !p.starts_with(".expand"));
    assert_eq!(
        before.keys().collect::<Vec<_>>(),
        after.keys().collect::<Vec<_>>()
    );
    let changed: Vec<_> = before
        .iter()
        .filter(|(k, v)| after.get(*k) != Some(v))
        .map(|(k, _)| k.clone())
        .collect();
    assert_eq!(changed, vec![PathBuf::from(rel)]);
    let again = ws.expand(&["fix-encoding", rel]).code(0);
    assert!(again.stdout.contains("nothing to do"), "{}", again.stdout);
    let mut again = ws.snapshot();
    again.retain(|p, _| !p.starts_with(".expand"));
    assert_eq!(after, again);
    // Now it reads as plain UTF-8.
    let v = validate_json(&ws, &rels, &[]).code(0).json();
    assert_eq!(v["plans"][0]["encoding"], "utf-8");
}

#[test]
fn completions_bash_prints_a_script() {
    let ws = Ws::new();
    let out = ws.expand_bare(&["completions", "bash"]).code(0);
    assert!(out.stdout.contains("_expand()"), "{}", out.stdout);
    assert!(out.stdout.contains("complete -F"));
    assert!(out.stdout.contains("validate"));
}

#[test]
fn help_shows_the_typical_week_one_command_per_line() {
    let ws = Ws::new();
    for flag in ["-h", "--help"] {
        let out = ws.expand_bare(&[flag]).code(0);
        let lines: Vec<&str> = out.stdout.lines().collect();
        let at = lines
            .iter()
            .position(|l| *l == "Typical week:")
            .expect("the section");
        let cmds: Vec<&str> = lines[at + 1..]
            .iter()
            .take_while(|l| l.starts_with("  expand "))
            .map(|l| l.split_whitespace().nth(1).unwrap())
            .collect();
        assert_eq!(
            cmds,
            [
                "new",
                "validate",
                "run",
                "review",
                "run",
                "consolidate",
                "audit"
            ],
            "{}",
            out.stdout
        );
    }
}

#[test]
fn unknown_config_key_is_named_with_its_line() {
    let ws = malformed_ws();
    ws.write("expand.yaml", "batch_size: 4\n\nbogus_key: 1\n");
    let out = ws.expand(&["validate", "plans/cycle.md"]).code(2);
    assert!(out.stderr.contains("bogus_key"), "{}", out.stderr);
    assert!(out.stderr.contains(":3"), "line 3 in: {}", out.stderr);
    ws.write("expand.yaml", "writer:\n  kind: offline\n  modle: x\n");
    let out = ws.expand(&["validate", "plans/cycle.md"]).code(2);
    assert!(out.stderr.contains("modle"), "{}", out.stderr);
    assert!(out.stderr.contains(":3"), "line 3 in: {}", out.stderr);
}

/// A hand-run plan's ways of naming knowledge: influential files listed in
/// groups (a list that starts at 3 continues the paragraph above it),
/// "Influenced by: Files 1, 3", "CITE: Files 2 explicitly", a section's
/// "(File 4: …)", a file behind an extra folder; prose with a slash and a
/// web address are not references, and "Search existing files for" is a
/// search of the knowledge base.
#[test]
fn influential_files_and_hand_run_references_are_read() {
    let ws = Ws::new();
    for (p, t) in [
        (
            "knowledge/k/training/00-zero.md",
            "# ZeRO\n\nsharded optimizer states\n",
        ),
        (
            "knowledge/k/training/01-pipe.md",
            "# Pipe\n\npipeline stages\n",
        ),
        ("knowledge/k/serving/00-trt.md", "# TRT\n\nengine builds\n"),
        (
            "knowledge/k/serving/01-triton.md",
            "# Triton\n\nmodel repository\n",
        ),
        (
            "knowledge/k/impl/bench/55-latency.md",
            "# Latency\n\np99 under load\n",
        ),
    ] {
        ws.write(p, t);
    }
    ws.write(
        "plans/p.md",
        "# Knowledge Expansion: Hand run (1 runner)\n\n\
         ## THE 4 INFLUENTIAL FILES\n\n\
         **Training (2 files)**:\n1. `training/00-zero.md` - memory\n2. `training/01-pipe.md` - stages\n\n\
         **Serving (2 files)**:\n3. `serving/00-trt.md` - engines\n4. `serving/01-triton.md` - repository\n\n\
         ## PART 1: Topic (~100 lines)\n\n\
         - [ ] PART 1: Create new/00-topic.md\n\n\
         **Step 0: Check Existing Knowledge**\n\
         - [ ] Read impl/55-latency.md (benchmarks)\n\
         - [ ] Search existing files for \"p99\" and \"tail latency\"\n\n\
         **Influenced by**: Files 1, 3 (memory, engines)\n\n\
         **Step 2: Create Knowledge File**\n\
         - [ ] Section 1: Serving (File 4: model repository)\n\
         - [ ] **CITE**: Files 2 explicitly; PyTorch/TF (distributed); arxiv.org/abs/2401.01234\n",
    );
    let out = ws.expand(&["validate", "plans/p.md"]).code(0);
    assert!(
        out.stdout.contains("0 errors, 0 warnings"),
        "{}",
        out.stdout
    );
    let v = ws
        .expand(&["run", "plans/p.md", "--dry-run", "--json"])
        .code(0)
        .json();
    let part = &v["batches"][0]["parts"][0];
    let reads: Vec<(String, String)> = part["reads"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["resolved"].as_str().unwrap_or("-").to_string(),
                r["kind"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let want: Vec<(String, String)> = [
        ("k/impl/bench/55-latency.md", "read"),
        ("k/training/01-pipe.md", "cite"),
        ("k/serving/01-triton.md", "influence"),
        ("k/training/00-zero.md", "influence"),
        ("k/serving/00-trt.md", "influence"),
    ]
    .iter()
    .map(|(a, b)| (a.to_string(), b.to_string()))
    .collect();
    let mut got = reads.clone();
    got.sort();
    let mut want_sorted = want.clone();
    want_sorted.sort();
    assert_eq!(got, want_sorted, "{reads:?}");
    let greps = part["greps"].to_string();
    assert!(greps.contains("p99"), "{greps}");
    let queries = part["queries"].to_string();
    assert!(!queries.contains("existing files"), "{queries}");
    // Run offline: what the CITE line names is cited, and the check holds
    // the file to it.
    ws.expand(&["run", "plans/p.md"]).code(0);
    let written = String::from_utf8(ws.read("knowledge/new/00-topic.md")).unwrap();
    assert!(written.contains("k/training/01-pipe.md"), "{written}");
}
