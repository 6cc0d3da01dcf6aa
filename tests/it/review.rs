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
    assert_eq!(parts[0]["urls"], 1);
    assert_eq!(parts[0]["input_tokens"], 1200);
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
    assert!(s.contains("sections: missing: Alpha Details"), "{s}");
    assert!(s.contains("placeholders: left: [TIME], TODO"), "{s}");
    // PART 2 still passes on its own.
    w.expand()
        .args(["review", "part", "2", "p"])
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
