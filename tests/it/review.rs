//! `expand review` on what `expand run` really wrote (a `command` writer
//! answering like a model, or with a crafted file), and the agreement
//! between the run's outcome and review's verdict: one check decides both.

use crate::review_util::Ws;

#[test]
fn review_batch_passes_after_clean_run() {
    let w = Ws::new();
    w.run_all();
    let out = w
        .expand()
        .args(["--json", "review", "batch", "1", "p"])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["ok"], true);
    let parts = v["parts"].as_array().unwrap();
    assert_eq!(parts.len(), 2);
    assert_eq!(parts[0]["sections_found"], 2);
    assert_eq!(parts[0]["sections_filled"], 2);
    assert_eq!(parts[0]["knowledge_refs"], 1);
    assert_eq!(parts[0]["fabricated"], 0);
    assert!(parts[0]["verified"].as_u64().unwrap() > 0);
    assert!(parts[0]["input_tokens"].as_u64().unwrap() > 0);
}

#[test]
fn review_part_fails_on_placeholder_missing_section_and_failed_part() {
    let w = Ws::new();
    w.run_all();
    let f = w.path("knowledge/topic/00-alpha.md");
    let t = std::fs::read_to_string(&f)
        .unwrap()
        .replace("## Alpha Details", "## Other\n\nTODO [TIME]");
    std::fs::write(&f, t).unwrap();
    let out = w
        .expand()
        .args(["review", "part", "1", "p"])
        .output()
        .unwrap();
    let s = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{s}");
    assert!(s.contains("missing planned section `Alpha Details`"), "{s}");
    assert!(
        s.contains("placeholder `[TIME]` left") && s.contains("placeholder `TODO` left"),
        "{s}"
    );
    // PART 2 still passes on its own.
    w.expand()
        .args(["review", "part", "2", "p"])
        .assert()
        .code(0);
    w.expand()
        .args(["reset", "p", "--part", "2"])
        .assert()
        .code(0);
    w.failed_part(2, "writer timed out");
    let out = w
        .expand()
        .args(["review", "part", "2", "p"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stdout).contains("writer timed out"));
}

#[test]
fn review_show_prints_the_drop_and_bad_batch_is_usage_error() {
    let w = Ws::new();
    w.run_all();
    let out = w
        .expand()
        .args(["review", "batch", "1", "p", "--show"])
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&out.stdout).contains("# KNOWLEDGE DROP: Alpha Basics"));
    let out = w
        .expand()
        .args(["review", "batch", "9", "p"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no batch 9"));
}

/// Answers a model might give for PART 1 ("Overview", "Alpha Details"),
/// and whether the one check takes them. For each, the run's outcome, its
/// drop's status and review's verdict must say the same.
const CRAFTED: &[(&str, &str, bool)] = &[
    (
        "good",
        "# Alpha\n\n## Overview\n\nAlpha is old news, per `old/00-x.md` line 3.\n\n\
         ## 2. Alpha details in practice\n\nMore of it, citing [x](../old/00-x.md#L1-L3) here.\n\n\
         ## Bibliography\n\n- `old/00-x.md`\n",
        true,
    ),
    (
        "a heading that is a prefix of the planned title",
        "# Alpha\n\n## Overview\n\nAlpha, per `old/00-x.md` line 3 of it all.\n\n\
         ## Alpha\n\nDetails in a section named too briefly, `old/00-x.md`.\n\n## Sources\n\n- `old/00-x.md`\n",
        false,
    ),
    (
        "a fence inside a fence hides nothing",
        "# Alpha\n\n## Overview\n\nAlpha, per `old/00-x.md` line 3 of the base.\n\n\
         ```text\n~~~\n## Not a heading\n```\n\n## Alpha Details\n\nDetails here, per `old/00-x.md` again.\n\n\
         ## Sources\n\n- `old/00-x.md`\n",
        true,
    ),
    (
        "no sources section",
        "# Alpha\n\n## Overview\n\nAlpha, per `old/00-x.md` line 3 of it.\n\n\
         ## Alpha Details\n\nDetails here, per `old/00-x.md` once more.\n",
        false,
    ),
    (
        "a citation of a file that does not exist",
        "# Alpha\n\n## Overview\n\nAlpha, per `old/07-made-up.md` line 3 of it.\n\n\
         ## Alpha Details\n\nDetails here, per `old/00-x.md` once more.\n\n## Sources\n\n- `old/00-x.md`\n",
        false,
    ),
    (
        "a URL nobody retrieved",
        "# Alpha\n\n## Overview\n\nAlpha, see https://made-up.example/alpha for all of it.\n\n\
         ## Alpha Details\n\nDetails here, per `old/00-x.md` once more.\n\n## Sources\n\n- https://made-up.example/alpha\n",
        false,
    ),
    (
        "an empty section",
        "# Alpha\n\n## Overview\n\n## Alpha Details\n\nDetails here, per `old/00-x.md` once more.\n\n\
         ## Sources\n\n- `old/00-x.md`\n",
        false,
    ),
];

#[test]
fn the_run_the_drop_and_review_agree_on_every_crafted_answer() {
    for (what, text, passes) in CRAFTED {
        let w = Ws::new();
        w.craft(1, text);
        let out = w.run_part(1);
        let run = String::from_utf8_lossy(&out.stdout).into_owned();
        let state = std::fs::read_to_string(w.path(".expand/state/p.json")).unwrap();
        let st: serde_json::Value = serde_json::from_str(&state).unwrap();
        let status = st["parts"]["1"]["status"].as_str().unwrap().to_string();
        let drop_path = st["parts"]["1"]["drop"].as_str().unwrap().to_string();
        let drop = w.read(&drop_path);
        let review = w
            .expand()
            .args(["--json", "review", "part", "1", "p"])
            .output()
            .unwrap();
        let rv: serde_json::Value = serde_json::from_slice(&review.stdout).unwrap();
        let plan = w.read("plans/p.md");
        if *passes {
            assert_eq!(out.status.code(), Some(0), "{what}: {run}");
            assert_eq!(status, "done", "{what}");
            assert!(drop.contains("**Status**: ✓ COMPLETE"), "{what}: {drop}");
            assert_eq!(rv["ok"], true, "{what}: {rv:#}");
            assert!(plan.contains("- [✓] PART 1"), "{what}");
        } else {
            assert_eq!(out.status.code(), Some(1), "{what}: {run}");
            assert_eq!(status, "needs-review", "{what}");
            assert!(run.contains("needs review"), "{what}: {run}");
            assert!(!drop.contains("COMPLETE"), "{what}: {drop}");
            assert!(drop.contains("NEEDS REVIEW"), "{what}: {drop}");
            assert_eq!(rv["ok"], false, "{what}: {rv:#}");
            assert!(plan.contains("- [ ] PART 1"), "{what}: never ticked");
        }
        // The same problems, word for word, from the run and from review.
        let at_run: Vec<String> = st["parts"]["1"]["problems"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p.as_str().unwrap().to_string())
            .collect();
        let at_review: Vec<String> = rv["parts"][0]["checks"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|c| c["name"] == "check" && c["level"] == "fail")
            .map(|c| c["detail"].as_str().unwrap().to_string())
            .collect();
        assert_eq!(at_run, at_review, "{what}");
    }
}

/// A PART that needs review blocks consolidate until a person accepts it;
/// accepting ticks the plan and lets it through.
#[test]
fn a_part_that_needs_review_is_accepted_by_a_person() {
    let w = Ws::new();
    w.craft(1, CRAFTED[1].1);
    w.run_part(1);
    w.done(2);
    let out = w
        .expand()
        .args(["consolidate", "p", "--no-commit"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("needs review") && err.contains("--accept"),
        "{err}"
    );
    let out = w
        .expand()
        .args(["review", "part", "1", "p", "--accept"])
        .output()
        .unwrap();
    let s = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{s}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(s.contains("accepted"), "{s}");
    assert!(w.read("plans/p.md").contains("- [✓] PART 1"));
    // Its problems stay visible, as warnings, with who accepted it and when.
    let rv: serde_json::Value = serde_json::from_slice(
        &w.expand()
            .args(["--json", "review", "part", "1", "p"])
            .output()
            .unwrap()
            .stdout,
    )
    .unwrap();
    assert_eq!(rv["ok"], true);
    assert!(rv["parts"][0]["accepted_at"].is_string());
    w.expand()
        .args(["consolidate", "p", "--no-commit"])
        .assert()
        .code(0);
    assert!(w.path("completed/p/plan.md").exists());
}
