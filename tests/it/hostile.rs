//! Hostile plans and workspaces (SPEC §10): paths that try to leave the
//! workspace, symbolic links out of it, control characters, huge lines, a
//! 100 MB plan, deep nesting. Each is refused or handled with a clear
//! diagnostic, and nothing is written outside the workspace.

use std::path::Path;

use crate::util::{Out, Ws};

const CONFIG: &str = "batch_size: 4\nwriter:\n  kind: offline\nsearch:\n  kind: offline\n";

fn base() -> Ws {
    let ws = Ws::new();
    ws.write("expand.yaml", CONFIG)
        .write("knowledge/INDEX.md", "# Index\n")
        .write(
            "knowledge/topic/00-basics.md",
            "# Basics\n\nTokio runs async tasks on a thread pool.\n",
        );
    ws
}

fn plan(parts: &[(u32, &str)]) -> String {
    let mut s = String::from("# Knowledge Expansion: Hostile\n\n");
    for (n, target) in parts {
        s.push_str(&format!(
            "## PART {n}: Part {n} (~50 lines)\n\n- [ ] PART {n}: Create {target}\n\n\
             **Step 1: Read**\n- [ ] Read topic/00-basics.md\n\n"
        ));
    }
    s
}

#[cfg(unix)]
fn symlink(target: &Path, link: &Path) {
    std::os::unix::fs::symlink(target, link).expect("create symlink");
}

fn is_empty_dir(p: &Path) -> bool {
    std::fs::read_dir(p)
        .map(|mut d| d.next().is_none())
        .unwrap_or(true)
}

#[cfg(unix)]
#[test]
fn target_through_a_symlink_out_of_knowledge_is_refused() {
    let outside = tempfile::tempdir().unwrap();
    let ws = base();
    symlink(outside.path(), &ws.path().join("knowledge/evil"));
    ws.write(
        "plans/p.md",
        plan(&[(1, "topic/01-fine.md"), (2, "evil/00-escape.md")]),
    );
    let before = ws.snapshot();
    let out = ws.expand(&["validate", "plans/p.md"]).code(2);
    assert!(
        out.stdout.contains("plans/p.md:") && out.stdout.contains("error[target-outside]"),
        "{}",
        out.stdout
    );
    assert!(out.stdout.contains("symbolic link"), "{}", out.stdout);
    ws.expand(&["run", "plans/p.md", "--all"]).code(2);
    ws.expand(&["run", "plans/p.md", "--dry-run"]).code(2);
    assert!(is_empty_dir(outside.path()), "wrote outside the workspace");
    assert_eq!(before, ws.snapshot(), "a refused run changed the workspace");
}

#[cfg(unix)]
#[test]
fn configured_folders_that_are_symlinks_out_of_the_workspace_are_refused() {
    for folder in ["drops", "knowledge", "completed", ".expand"] {
        let outside = tempfile::tempdir().unwrap();
        let ws = Ws::new();
        ws.write("expand.yaml", CONFIG)
            .write("plans/p.md", plan(&[(1, "topic/00-new.md")]));
        if folder != "knowledge" {
            ws.write("knowledge/topic/00-basics.md", "# Basics\n\nText.\n");
        }
        symlink(outside.path(), &ws.path().join(folder));
        let before = ws.snapshot();
        let out = ws.expand(&["run", "plans/p.md", "--all"]).code(2);
        assert!(
            out.stderr
                .contains("symbolic link leading outside the workspace"),
            "{folder}: {}",
            out.stderr
        );
        assert!(out.stderr.contains("hint:"), "{folder}: {}", out.stderr);
        assert!(is_empty_dir(outside.path()), "{folder}: wrote outside");
        assert_eq!(before, ws.snapshot(), "{folder}: changed the workspace");
    }
}

#[test]
fn dotdot_and_absolute_targets_and_reads_never_leave_the_workspace() {
    let ws = base();
    let mut text = plan(&[(1, "../outside/00-up.md"), (2, "/tmp/00-abs.md")]);
    // A read that tries to leave: it must not resolve to anything.
    text.push_str(
        "## PART 3: Reader (~50 lines)\n\n- [ ] PART 3: Create topic/03-reader.md\n\n\
         **Step 1: Read**\n- [ ] Read ../../../../etc/passwd\n- [ ] Read /etc/passwd\n",
    );
    ws.write("plans/p.md", &text);
    let before = ws.snapshot();
    let out = ws.expand(&["validate", "plans/p.md"]).code(2);
    assert!(
        out.stdout.contains("plans/p.md:5: error[target-outside]"),
        "{}",
        out.stdout
    );
    assert!(out.stdout.contains("absolute path"), "{}", out.stdout);
    ws.expand(&["run", "plans/p.md", "--all"]).code(2);
    assert_eq!(before, ws.snapshot());
    assert!(!ws.path().join("../outside").exists());

    // Alone, the reader PART runs, and nothing from /etc reaches its file.
    let only_reader = text[text.find("## PART 3").unwrap()..].to_string();
    ws.write(
        "plans/p.md",
        format!("# Knowledge Expansion: Reader\n\n{only_reader}"),
    );
    let out = ws.expand(&["validate", "plans/p.md"]).code(0);
    assert!(
        out.stdout
            .contains("plans/p.md:8: warning[reference-outside]")
            && out
                .stdout
                .contains("plans/p.md:9: warning[reference-outside]"),
        "{}",
        out.stdout
    );
    // The one-file base has nothing to cite for it: the file is written and
    // needs review (exit 1), and holds nothing from /etc.
    let out = ws.expand(&["run", "plans/p.md", "--all"]).code(1);
    assert!(out.stdout.contains("needs review"), "{}", out.stdout);
    let written = String::from_utf8(ws.read("knowledge/topic/03-reader.md")).unwrap();
    assert!(!written.contains("root:x:"), "{written}");
}

#[test]
fn control_characters_in_targets_are_refused_and_shown_escaped() {
    let ws = base();
    ws.write(
        "plans/p.md",
        plan(&[
            (1, "topic/01-esc\u{1b}.md"),
            (2, "topic/02-bell\u{7}.md"),
            // Every message quoting the target, such as the duplicate one.
            (3, "topic/01-esc\u{1b}.md"),
        ]),
    );
    let before = ws.snapshot();
    let out = ws.expand(&["validate", "plans/p.md"]).code(2);
    assert!(out.stdout.contains("control characters"), "{}", out.stdout);
    assert!(out.stdout.contains("both create"), "{}", out.stdout);
    // No raw escape sequence reaches the terminal.
    assert!(!out.stdout.contains('\u{1b}') && !out.stdout.contains('\u{7}'));
    assert!(!out.stderr.contains('\u{1b}') && !out.stderr.contains('\u{7}'));
    let gh = ws
        .expand(&["validate", "--format", "github", "plans/p.md"])
        .code(2);
    assert!(!gh.stdout.contains('\u{1b}'), "{}", gh.stdout);
    ws.expand(&["run", "plans/p.md", "--all"]).code(2);
    assert_eq!(before, ws.snapshot());
}

#[test]
fn plan_file_names_that_cannot_be_a_slug_are_refused() {
    let ws = base();
    ws.write("plans/..md", plan(&[(1, "topic/01-dots.md")]));
    ws.write("plans/.hidden.md", plan(&[(1, "topic/01-hidden.md")]));
    let before = ws.snapshot();
    for name in ["plans/..md", "plans/.hidden.md"] {
        let out = ws.expand(&["run", name, "--all"]).code(2);
        assert!(
            out.stderr.contains("cannot name its drops"),
            "{}",
            out.stderr
        );
    }
    assert_eq!(before, ws.snapshot());
}

#[test]
fn a_100_mb_plan_is_refused_before_it_is_read() {
    let ws = base();
    let path = ws.path().join("plans/huge.md");
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    // Sparse: the size check must come before reading, so this stays cheap.
    let f = std::fs::File::create(&path).unwrap();
    f.set_len(100 * 1024 * 1024).unwrap();
    drop(f);
    for args in [
        &["validate", "plans/huge.md"][..],
        &["run", "plans/huge.md", "--dry-run"],
        &["graph", "plans/huge.md"],
    ] {
        let out: Out = ws.expand(args).code(2);
        assert!(
            out.stderr.contains("plans/huge.md") && out.stderr.contains("16 MiB"),
            "{args:?}: {}",
            out.stderr
        );
    }
}

#[test]
fn huge_lines_and_deep_nesting_parse_without_harm() {
    let ws = base();
    let mut text = plan(&[(1, "topic/01-long.md"), (2, "topic/02-deep.md")]);
    // A 4 MB line of prose inside PART 1's body.
    text.push_str(&"word ".repeat(800_000));
    text.push('\n');
    // 20,000 nested list markers and blockquotes on single lines.
    text.push_str(&"- ".repeat(20_000));
    text.push_str("deep\n\n");
    text.push_str(&"> ".repeat(20_000));
    text.push_str("quote\n\n");
    // 2,000 lines each nested one level deeper.
    for i in 0..2_000 {
        text.push_str(&"  ".repeat(i));
        text.push_str("- x\n");
    }
    ws.write("plans/p.md", &text);
    let out = ws.expand(&["validate", "--format", "json", "plans/p.md"]);
    assert!(out.code == 0 || out.code == 2, "crashed: {}", out.stderr);
    let v = out.json();
    let parts = v["plans"][0]["parts"].as_array().unwrap();
    assert_eq!(parts.len(), 2, "{}", out.stdout);
    assert_eq!(parts[1]["target"], "topic/02-deep.md");
}

#[test]
fn a_target_over_an_existing_symlinked_file_is_refused() {
    // A symlink *file* inside knowledge/ pointing out must not be written through.
    #[cfg(unix)]
    {
        let outside = tempfile::tempdir().unwrap();
        let victim = outside.path().join("victim.md");
        std::fs::write(&victim, "keep me\n").unwrap();
        let ws = base();
        symlink(&victim, &ws.path().join("knowledge/topic/05-link.md"));
        ws.write("plans/p.md", plan(&[(1, "topic/05-link.md")]));
        let out = ws.expand(&["run", "plans/p.md", "--all"]);
        assert_ne!(out.code, 0, "{}", out.stdout);
        assert_eq!(std::fs::read_to_string(&victim).unwrap(), "keep me\n");
    }
}
