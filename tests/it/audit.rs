use std::path::PathBuf;

use crate::review_util::Ws;

fn audit_json(w: &Ws, extra: &[&str]) -> (i32, serde_json::Value) {
    let out = w
        .expand()
        .arg("--json")
        .arg("audit")
        .args(extra)
        .output()
        .unwrap();
    let v = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stderr)));
    (out.status.code().unwrap(), v)
}

fn kinds(v: &serde_json::Value) -> Vec<(String, String)> {
    v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["kind"].as_str().unwrap().to_string(),
                f["path"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

#[test]
fn audit_finds_deleted_file_and_hand_tick() {
    let w = Ws::new();
    w.run_all();
    w.expand()
        .args(["consolidate", "p", "--no-commit"])
        .assert()
        .code(0);
    let (code, v) = audit_json(&w, &[]);
    assert_eq!(code, 0, "{v}");
    std::fs::remove_file(w.path("knowledge/topic/01-beta.md")).unwrap();
    let (code, v) = audit_json(&w, &[]);
    assert_eq!(code, 1);
    let k = kinds(&v);
    assert!(
        k.contains(&("index-row-missing-file".into(), "knowledge/INDEX.md".into())),
        "{k:?}"
    );
    assert!(
        k.contains(&("ticked-missing".into(), "completed/p/plan.md".into())),
        "{k:?}"
    );
    assert!(k.iter().any(|(a, _)| a == "drop-missing-target"), "{k:?}");
    // A PART ticked done by hand, in a pending plan, whose file was never written.
    w.write(
        "plans/q.md",
        "# Q\n\n## PART 1: Gamma (~10 lines)\n\n- [✓] PART 1: Create topic/02-gamma.md\n",
    );
    let (_, v) = audit_json(&w, &[]);
    assert!(kinds(&v).contains(&("ticked-missing".into(), "plans/q.md".into())));
}

#[test]
fn audit_fix_adds_missing_rows_and_drops_managed_rows() {
    let w = Ws::new();
    w.write(
        "knowledge/old/01-y.md",
        "# Why\n\nSee [x](00-x.md) and [gone](../nowhere.md).\n",
    );
    w.write("knowledge/old/01-z.md", "# Zed\n");
    std::fs::remove_file(w.path("knowledge/old/00-x.md")).unwrap();
    let (code, v) = audit_json(&w, &[]);
    assert_eq!(code, 1);
    let k = kinds(&v);
    for want in [
        ("missing-from-index", "knowledge/old/01-y.md"),
        ("index-row-missing-file", "knowledge/INDEX.md"),
        ("broken-link", "knowledge/old/01-y.md"),
        ("duplicate-number", "knowledge/old"),
    ] {
        assert!(
            k.contains(&(want.0.into(), want.1.into())),
            "{want:?} in {k:?}"
        );
    }
    let (_, v) = audit_json(&w, &["--fix"]);
    let k = kinds(&v);
    assert!(
        !k.iter()
            .any(|(a, _)| a == "missing-from-index" || a == "index-row-missing-file"),
        "{k:?}"
    );
    let index = w.read("knowledge/INDEX.md");
    assert!(
        index.contains("| [01-y.md](old/01-y.md) | Why | 3 |") && !index.contains("(old/00-x.md)"),
        "{index}"
    );
    assert!(index.contains("Hand-written intro."));
}

#[test]
fn audit_finds_stranded_files_in_archive() {
    let w = Ws::new();
    w.write(
        "completed/old-plan/plan.md",
        "# Old\n\n## PART 1: A\n\n- [✓] PART 1: Create old/00-x.md\n",
    );
    w.write("completed/old-plan/topic/05-lost.md", "# Lost\n");
    // Runners have written into a hidden copy of the base inside the archive.
    w.write(
        "completed/old-plan/.claude/skills/kb/topic/06-hidden.md",
        "# Hidden\n",
    );
    let (_, v) = audit_json(&w, &[]);
    let k = kinds(&v);
    for lost in [
        "completed/old-plan/topic/05-lost.md",
        "completed/old-plan/.claude/skills/kb/topic/06-hidden.md",
    ] {
        assert!(
            k.contains(&("stranded".into(), lost.into())),
            "{lost}: {k:?}"
        );
    }
}

/// The bench base extracted into a temporary folder, or `None` with a
/// line saying that `test` is skipped when ../shared does not have it.
fn bench_base(test: &str) -> Option<(tempfile::TempDir, PathBuf)> {
    let t = crate::util::shared_root().join("bench/karpathy-deep-oracle.tar.gz");
    if !t.is_file() {
        eprintln!("skipping {test}: ../shared/bench/karpathy-deep-oracle.tar.gz is absent");
        return None;
    }
    Some(crate::util::extract_tarball(&t))
}

#[test]
fn audit_bench_base() {
    let Some((_d, root)) = bench_base("audit_bench_base") else {
        return;
    };
    std::fs::write(
        root.join("expand.yaml"),
        "knowledge_dir: \".\"\nplans_dir: _ingest-auto/inprocess\ndrops_dir: _KNOWLEDGE-DROPS\ncompleted_dir: _ingest-auto/completed\ncompleted_plan_name: ingestion.md\nindex:\n  mode: per-folder\naudit:\n  plans: [\"_ingest-auto/inprocess/*/ingestion.md\"]\n  exclude: [_ingest, _ingest-auto, _KNOWLEDGE-DROPS]\n",
    )
    .unwrap();
    let out = crate::util::expand_cmd()
        .arg("-C")
        .arg(&root)
        .args(["--json", "audit"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    eprintln!("bench audit counts: {}", v["counts"]);
    let ticked = &v["checked"]["ticked"];
    eprintln!("bench ticked PARTs: {ticked}");
    for k in [
        "stranded",
        "ticked-missing",
        "ticked-stranded",
        "missing-from-index",
        "folder-without-index",
    ] {
        assert!(v["counts"][k].as_u64().unwrap() > 0, "{k}: {}", v["counts"]);
    }
    // Issue #13: of 156 "ticked done but missing" findings, 127 were files
    // at the unique longer path, as validate resolves reads: present now.
    assert!(ticked["present"].as_u64().unwrap() > 400, "{ticked}");
    assert_eq!(
        ticked["stranded"].as_u64().unwrap() + ticked["missing"].as_u64().unwrap(),
        29,
        "{ticked}"
    );
    let k = kinds(&v);
    for want in [
        ("stranded", "_ingest-auto/completed/expansion-sam-general-2025-11-20/sam-general/24-Training-Strategy.md"),
        ("stranded", "_ingest-auto/completed/expansion-vllm-vectors-2025-02-02/vllm-knowledge/00-vllm-architecture-pagedattention.md"),
        ("ticked-stranded", "_ingest-auto/completed/expansion-sam-general-2025-11-20/ingestion.md"),
        ("ticked-missing", "_ingest-auto/completed/expansion-gradio-advanced-2025-01-31/ingestion.md"),
        ("index-row-missing-file", "sam-2/INDEX.md"),
        ("folder-without-index", "deepseek/codebases"),
    ] {
        assert!(k.contains(&(want.0.into(), want.1.into())), "{want:?}");
    }
    let messages = |kind: &str| -> Vec<String> {
        v["findings"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|f| f["kind"] == kind)
            .map(|f| f["message"].as_str().unwrap().to_string())
            .collect()
    };
    // At the unique longer path: not a finding.
    assert!(!messages("ticked-missing")
        .iter()
        .any(|m| m.contains("cognitive-foundations/06-statistical-learning-theory.md")));
    assert!(messages("ticked-stranded")
        .iter()
        .any(|m| m.contains("`sam-general/05-three-stage-data-engine.md` is only outside")));
    // Links read by the markdown model: no percent-encoded or parenthesised
    // link that exists is reported.
    for m in messages("broken-link") {
        assert!(!m.contains("%20"), "{m}");
    }
    // Index rows come from tables and lists only.
    for m in messages("index-row-missing-file") {
        assert!(m.contains(".md`"), "{m}");
    }
}

/// A small base run by hand, the way the bench base is laid out (its root
/// is the knowledge tree, per-folder indexes, plans archived in folders of
/// their own): every finding is a real problem, and every real problem is
/// found.
#[test]
fn audit_on_a_small_hand_run_base_says_only_what_is_wrong() {
    let w = crate::util::Ws::new();
    w.write(
        "expand.yaml",
        "knowledge_dir: \".\"\nplans_dir: _ingest-auto/inprocess\ndrops_dir: _KNOWLEDGE-DROPS\n\
         completed_dir: _ingest-auto/completed\nindex: { mode: per-folder }\n\
         audit: { exclude: [_ingest-auto, _KNOWLEDGE-DROPS] }\n",
    )
    // A folder index that hands a subfolder to its own index, and lists
    // its files in backticks, as links with %20 and with parentheses.
    .write(
        "topic/INDEX.md",
        "# Topic\n\nProse mentions `99-not-a-row.md`, which is no row.\n\n\
         | File | What |\n|---|---|\n| `00-a.md` | a |\n| [My File](01-my%20file.md) | b |\n\
         | [c](02-c_(v2).md) | c |\n\n- [deep/](deep/) the deep ones\n",
    )
    .write(
        "topic/00-a.md",
        "# A\n\nSee [b](01-my%20file.md) and [c](<02-c_(v2).md>) and [gone](03-gone.md).\n",
    )
    .write("topic/01-my file.md", "# B\n")
    .write("topic/02-c_(v2).md", "# C\n")
    .write("topic/04-unlisted.md", "# Unlisted\n")
    .write("topic/deep/00-d.md", "# D\n")
    // A folder with no index at all.
    .write("loose/00-e.md", "# E\n")
    .write("loose/01-f.md", "# F\n")
    // The bench's layout: a file at a longer path than the plan names.
    .write("karpathy/practical/38-long.md", "# Long\n")
    .write("karpathy/INDEX.md", "# K\n\n- [practical/](practical/)\n")
    .write(
        "_ingest-auto/completed/exp-one/ingestion.md",
        "# One\n\n## PART 1: Long\n\n- [✓] PART 1: Create practical/38-long.md\n\n\
         ## PART 2: Lost\n\n- [✓] PART 2: Create topic/05-lost.md\n\n\
         ## PART 3: Moved\n\n- [✓] PART 3: Create other/00-a.md\n\n\
         ## PART 4: Gone\n\n- [✓] PART 4: Create topic/06-gone.md\n",
    )
    .write(
        "_ingest-auto/completed/exp-one/topic/05-lost.md",
        "# Lost\n",
    )
    // A drop naming its file with a repository prefix.
    .write(
        "_ingest-auto/completed/exp-one/KNOWLEDGE-DROP-long-2025-11-14-1200.md",
        "# Drop\n\n- **File Created**: `.claude/skills/kb/karpathy/practical/38-long.md`\n",
    );
    let out = w.expand(&["--json", "audit"]).code(1);
    let v = out.json();
    let mut got: Vec<(String, String)> = kinds(&v);
    got.sort();
    let want: Vec<(&str, &str)> = vec![
        ("broken-link", "topic/00-a.md"),
        ("folder-without-index", "karpathy/practical"),
        ("folder-without-index", "loose"),
        ("folder-without-index", "topic/deep"),
        ("missing-from-index", "topic/04-unlisted.md"),
        (
            "stranded",
            "_ingest-auto/completed/exp-one/topic/05-lost.md",
        ),
        (
            "ticked-misplaced",
            "_ingest-auto/completed/exp-one/ingestion.md",
        ),
        (
            "ticked-missing",
            "_ingest-auto/completed/exp-one/ingestion.md",
        ),
        (
            "ticked-stranded",
            "_ingest-auto/completed/exp-one/ingestion.md",
        ),
    ];
    let mut want: Vec<(String, String)> = want
        .into_iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect();
    want.sort();
    assert_eq!(got, want, "{:#}", v["findings"]);
    let broken: Vec<&str> = v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["kind"] == "broken-link")
        .map(|f| f["message"].as_str().unwrap())
        .collect();
    assert_eq!(broken, ["link to `03-gone.md` points nowhere"]);
    assert_eq!(
        v["checked"]["ticked"],
        serde_json::json!({"present": 1, "misplaced": 1, "stranded": 1, "missing": 1})
    );
    let text = w.expand(&["audit"]).code(1).stdout;
    assert!(
        text.contains("PARTs ticked done: 1 present, 1 misplaced, 1 stranded, 1 missing"),
        "{text}"
    );
    assert!(
        text.contains("is not there but at `topic/00-a.md`"),
        "{text}"
    );
}

/// Every file of the bench base is outlined by `heading_lines` as the
/// full markdown model reads it (the line scan, where it is used, agrees
/// with the parser on 1,842 hand-written files).
#[test]
fn heading_lines_of_the_bench_base_are_its_headings() {
    let Some((_d, root)) = bench_base("heading_lines_of_the_bench_base_are_its_headings") else {
        return;
    };
    let mut files = 0;
    for e in walkdir::WalkDir::new(&root) {
        let e = e.unwrap();
        if e.path().extension().is_none_or(|x| x != "md") {
            continue;
        }
        let Ok(text) = std::fs::read_to_string(e.path()) else {
            continue;
        };
        let want: Vec<(u8, usize)> = expand::markdown::Doc::parse(&text)
            .headings
            .iter()
            .map(|h| (h.level, h.line))
            .collect();
        assert_eq!(
            expand::markdown::heading_lines(&text),
            want,
            "{}",
            e.path().display()
        );
        files += 1;
    }
    assert!(files > 1_000, "{files} files");
}
