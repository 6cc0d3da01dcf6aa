//! The command line as a newcomer meets it (issue #18): where it is, what
//! it says when it cannot work, what its help teaches.

use crate::util::Ws;

#[test]
fn outside_a_workspace_every_command_says_so_and_changes_nothing() {
    let ws = Ws::new();
    let before = ws.snapshot();
    for args in [
        &["audit"][..],
        &["status"],
        &["validate", "x.md"],
        &["run", "x"],
        &["consolidate"],
        &["review", "batch", "1"],
    ] {
        let out = ws.expand(args).code(2);
        assert!(
            out.stderr
                .contains("not inside a workspace: no `expand.yaml` in")
                && out.stderr.contains("expand init"),
            "{args:?}: {}",
            out.stderr
        );
        assert!(out.stdout.is_empty(), "{args:?}: {}", out.stdout);
    }
    assert_eq!(ws.snapshot(), before);
    // init and completions need no workspace.
    ws.expand(&["completions", "bash"]).code(0);
    ws.expand(&["init"]).code(0);
    ws.expand(&["audit"]).code(0);
}

#[test]
fn a_folder_with_a_knowledge_folder_is_a_workspace_with_the_defaults() {
    let ws = Ws::new();
    ws.write("knowledge/rust/00-a.md", "# A\n");
    let out = ws.expand(&["status"]).code(0);
    assert!(out.stdout.contains("no plans"), "{}", out.stdout);
    // From a folder inside it, and with -C from elsewhere.
    let cfg = Ws::new();
    cfg.write("expand.yaml", "knowledge_dir: kb\n");
    cfg.write("kb/x/deep/keep.md", "# K\n");
    let inside = crate::util::expand_cmd()
        .arg("status")
        .current_dir(cfg.path().join("kb/x/deep"))
        .output()
        .unwrap();
    assert!(inside.status.success(), "{inside:?}");
    let elsewhere = Ws::new();
    let out = elsewhere.expand_bare(&["-C", cfg.path().to_str().unwrap(), "status"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(out.stdout.contains("no plans in `"), "{}", out.stdout);
}

/// A mistyped plan, config key or kind gets the nearest name, and a
/// config error its file and line.
#[test]
fn did_you_mean_for_plans_config_keys_and_kinds() {
    let ws = Ws::new();
    ws.write("knowledge/a/00-x.md", "# X\n");
    ws.write(
        "plans/garden.md",
        "# Knowledge Expansion: G\n\n## PART 1: A\n\n- [ ] PART 1: Create a/01-y.md\n",
    );
    ws.write(
        "plans/rust-cli.md",
        "# Knowledge Expansion: R\n\n## PART 1: A\n\n- [ ] PART 1: Create a/02-z.md\n",
    );
    let before = ws.snapshot();
    let out = ws.expand(&["run", "gardn"]).code(2);
    assert!(
        out.stderr.contains("no plan `gardn`") && out.stderr.contains("did you mean `garden`?"),
        "{}",
        out.stderr
    );
    let out = ws.expand(&["run", "zzzzzz"]).code(2);
    assert!(
        out.stderr
            .contains("the plans in `plans`: `garden`, `rust-cli`"),
        "{}",
        out.stderr
    );

    ws.write("expand.yaml", "retries: 1\nbatch_sise: 3\n");
    let out = ws.expand(&["status"]).code(2);
    assert!(
        out.stderr
            .contains("`expand.yaml`:2: unknown key `batch_sise`: did you mean `batch_size`?"),
        "{}",
        out.stderr
    );
    ws.write(
        "expand.yaml",
        "retries: 1\nwriter:\n  model: m\n  kind: openia\n",
    );
    let out = ws.expand(&["status"]).code(2);
    assert!(
        out.stderr
            .contains("`expand.yaml`:4: unknown writer.kind `openia`: did you mean `openai`?"),
        "{}",
        out.stderr
    );
    // Nothing was written but the config this test wrote.
    let mut after = ws.snapshot();
    after.remove(std::path::Path::new("expand.yaml"));
    assert_eq!(after, before);
}

/// `--part` takes what people type: lists and ranges.
#[test]
fn part_lists_and_ranges() {
    let ws = Ws::new();
    ws.write("knowledge/a/00-x.md", "# X\n");
    let mut plan = String::from("# Knowledge Expansion: P\n\n");
    for n in 1..=5 {
        plan.push_str(&format!(
            "## PART {n}: T{n}\n\n- [ ] PART {n}: Create a/1{n}-t.md\n\n"
        ));
    }
    ws.write("plans/p.md", &plan);
    let out = ws
        .expand(&["run", "p", "--dry-run", "--part", "1,3-4"])
        .code(0);
    let runs: Vec<&str> = out
        .stdout
        .lines()
        .filter(|l| l.trim_start().starts_with("run  PART"))
        .collect();
    assert_eq!(runs.len(), 3, "{}", out.stdout);
    assert!(
        runs[0].contains("PART 1:") && runs[1].contains("PART 3:") && runs[2].contains("PART 4:"),
        "{runs:?}"
    );
    let out = ws.expand(&["run", "p", "--part", "4-2"]).code(2);
    assert!(
        out.stderr.contains("`4-2` is an empty range: write 2-4"),
        "{}",
        out.stderr
    );
}
