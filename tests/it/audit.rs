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
        k.contains(&("ticked-missing-target".into(), "completed/p/plan.md".into())),
        "{k:?}"
    );
    assert!(k.iter().any(|(a, _)| a == "drop-missing-target"), "{k:?}");
    // A PART ticked done by hand, in a pending plan, whose file was never written.
    w.write(
        "plans/q.md",
        "# Q\n\n## PART 1: Gamma (~10 lines)\n\n- [✓] PART 1: Create topic/02-gamma.md\n",
    );
    let (_, v) = audit_json(&w, &[]);
    assert!(kinds(&v).contains(&("ticked-missing-target".into(), "plans/q.md".into())));
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

fn bench_tarball() -> Option<PathBuf> {
    let t = crate::util::shared_root().join("bench/karpathy-deep-oracle.tar.gz");
    t.is_file().then_some(t)
}

#[test]
fn audit_bench_base() {
    let Some(tar) = bench_tarball() else {
        eprintln!(
            "skipping audit_bench_base: ../shared/bench/karpathy-deep-oracle.tar.gz is absent"
        );
        return;
    };
    let d = tempfile::tempdir().unwrap();
    let st = std::process::Command::new("tar")
        .arg("xzf")
        .arg(&tar)
        .arg("-C")
        .arg(d.path())
        .status()
        .unwrap();
    assert!(st.success());
    let root = d.path().join("karpathy-deep-oracle");
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
    for k in ["stranded", "ticked-missing-target", "missing-from-index"] {
        assert!(v["counts"][k].as_u64().unwrap() > 0, "{k}: {}", v["counts"]);
    }
    let k = kinds(&v);
    for want in [
        ("stranded", "_ingest-auto/completed/expansion-sam-general-2025-11-20/sam-general/24-Training-Strategy.md"),
        ("stranded", "_ingest-auto/completed/expansion-vllm-vectors-2025-02-02/vllm-knowledge/00-vllm-architecture-pagedattention.md"),
        ("ticked-missing-target", "_ingest-auto/completed/expansion-cognitive-research-foundations-2025-11-14/ingestion.md"),
        ("index-row-missing-file", "sam-2/INDEX.md"),
    ] {
        assert!(k.contains(&(want.0.into(), want.1.into())), "{want:?}");
    }
    assert!(v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .any(|f| f["kind"] == "ticked-missing-target"
            && f["message"]
                .as_str()
                .unwrap()
                .contains("cognitive-foundations/06-statistical-learning-theory.md")));
}
