//! `expand init` inside a knowledge base run by hand: it finds the layout,
//! writes an expand.yaml that describes it, ignores .expand/ in git, and
//! creates nothing the base does not use; the audit then finds the
//! archived plans without a key a user would have to guess.

use crate::util::Ws;

/// A base laid out like the bench's: the root is the knowledge tree,
/// per-folder indexes, plans in `_ingest-auto/inprocess/<slug>/ingestion.md`,
/// archives in `_ingest-auto/completed/<slug>/`, a plan template, drops.
fn hand_run_base() -> Ws {
    let ws = Ws::new();
    ws.write("SKILL.md", "# Skill\n\nA base run by hand.\n")
        .write(
            "topic/INDEX.md",
            "# Topic\n\n- `00-a.md` first\n- `01-b.md` second\n",
        )
        .write("topic/00-a.md", "# A\n\nAlpha.\n")
        .write("topic/01-b.md", "# B\n\nBeta.\n")
        .write(
            "_ingest-auto/inprocess/expansion-next/ingestion.md",
            "# Next\n\n## PART 1: C\n\n- [ ] PART 1: Create topic/02-c.md\n",
        )
        .write(
            "_ingest-auto/completed/expansion-first/ingestion.md",
            "# First\n\n## PART 1: A\n\n- [✓] PART 1: Create topic/00-a.md\n\n\
             ## PART 2: Z\n\n- [✓] PART 2: Create topic/09-z.md\n",
        )
        .write(
            "_ingest-auto/completed/expansion-first/STATUS.md",
            "# Status\n\nAll done.\n",
        )
        .write(
            "_ingest-auto/TEMPLATE-PLAN/ingestion.md",
            "# Template\n\n## PART 1: Title\n\n- [ ] PART 1: Create folder/00-x.md\n",
        )
        .write(
            "_KNOWLEDGE-DROPS/KNOWLEDGE-DROP-b-2025-01-01-1200.md",
            "# Drop\n\n- **File**: `topic/01-b.md`\n",
        );
    ws
}

#[test]
fn init_adopts_a_hand_run_base_and_audit_finds_its_archive() {
    let ws = hand_run_base();
    let before: Vec<_> = ws.snapshot().into_keys().collect();
    let out = ws.expand_bare(&["init"]).code(0);
    assert!(
        out.stdout.contains("adopted the knowledge base"),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout.contains("1 pending") && out.stdout.contains("1 archived"),
        "{}",
        out.stdout
    );
    // Nothing created but the config and .gitignore.
    let after: Vec<_> = ws.snapshot().into_keys().collect();
    let added: Vec<String> = after
        .iter()
        .filter(|p| !before.contains(p))
        .map(|p| p.to_string_lossy().into_owned())
        .collect();
    assert_eq!(added, [".gitignore", "expand.yaml"]);
    assert_eq!(
        String::from_utf8(ws.read(".gitignore")).unwrap(),
        ".expand/\n"
    );
    let cfg = String::from_utf8(ws.read("expand.yaml")).unwrap();
    for want in [
        "knowledge_dir: \".\"",
        "plans_dir: _ingest-auto/inprocess",
        "completed_dir: _ingest-auto/completed",
        "drops_dir: _KNOWLEDGE-DROPS",
        "index: { mode: per-folder }",
    ] {
        assert!(cfg.contains(want), "{want} in {cfg}");
    }
    assert!(
        !cfg.contains("\ncompleted_plan_name:"),
        "found without it: {cfg}"
    );
    // The audit reads the archived plan (its STATUS.md is no plan), and
    // never the template.
    let v = ws.expand(&["--json", "audit"]).code(1).json();
    assert_eq!(v["checked"]["plans"], 2, "{v:#}");
    assert_eq!(v["checked"]["ticked"]["present"], 1);
    assert_eq!(v["checked"]["ticked"]["missing"], 1);
    let findings = v["findings"].to_string();
    assert!(!findings.contains("TEMPLATE"), "{findings}");
    // The plan kept in a folder of its own goes by the folder's name.
    let out = ws.expand(&["run", "expansion-next", "--dry-run"]).code(0);
    assert!(
        out.stdout.contains("write  topic/02-c.md"),
        "{}",
        out.stdout
    );
    assert!(
        !out.stdout.contains("/topic/"),
        "no leading slash: {}",
        out.stdout
    );
    // Run twice: already a workspace, nothing changes.
    let snap = ws.snapshot();
    ws.expand_bare(&["init"]).code(0);
    assert_eq!(snap, ws.snapshot());
}

#[test]
fn init_adopts_the_bench_base() {
    let shared = crate::util::shared_or_skip!();
    let d = tempfile::tempdir().unwrap();
    let st = std::process::Command::new("tar")
        .arg("xzf")
        .arg(shared.join("bench/karpathy-deep-oracle.tar.gz"))
        .arg("-C")
        .arg(d.path())
        .status()
        .unwrap();
    assert!(st.success());
    let root = d.path().join("karpathy-deep-oracle");
    let out = crate::util::expand_cmd()
        .arg("init")
        .arg(&root)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}");
    eprintln!("{stdout}");
    assert!(stdout.contains("62 archived"), "{stdout}");
    let out = crate::util::expand_cmd()
        .arg("-C")
        .arg(&root)
        .args(["--json", "audit"])
        .output()
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["checked"]["plans"], 62, "{}", v["checked"]);
    assert!(v["checked"]["ticked"]["present"].as_u64().unwrap() > 400);
}
