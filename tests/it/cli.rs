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
