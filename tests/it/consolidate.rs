use crate::review_util::{commit_count, head_paths, Ws};

#[test]
fn consolidate_commits_exactly_the_touched_paths_once() {
    let w = Ws::new();
    let repo = w.git_init();
    w.run_all();
    // An unrelated dirty file must stay out of the commit.
    w.write("notes.txt", "scratch\n");
    w.write("knowledge/old/00-x.md", "# X\n\nEdited by hand.\n");
    let before = commit_count(&repo);
    let out = w.expand().args(["consolidate", "p"]).output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(commit_count(&repo), before + 1);
    assert_eq!(
        head_paths(&repo),
        [
            "completed/p/drops/KNOWLEDGE-DROP-00-alpha-2025-11-21-1405.md",
            "completed/p/drops/KNOWLEDGE-DROP-01-beta-2025-11-21-1405.md",
            "completed/p/plan.md",
            "knowledge/INDEX.md",
            "knowledge/SKILL.md",
            "knowledge/topic/00-alpha.md",
            "knowledge/topic/01-beta.md",
            "plans/p.md",
        ]
    );
    let head = repo.head().unwrap().peel_to_commit().unwrap();
    let msg = head.message().unwrap();
    assert!(
        msg.starts_with("Knowledge Expansion: Test Topics (2 runners in 1 batch) (2 files)"),
        "{msg}"
    );
    assert!(
        msg.contains("- topic/00-alpha.md (") && msg.contains("Plan: completed/p/plan.md"),
        "{msg}"
    );
    // Dirty files stay dirty and uncommitted.
    let st = repo
        .status_file(std::path::Path::new("knowledge/old/00-x.md"))
        .unwrap();
    assert!(st.contains(git2::Status::WT_MODIFIED));
    assert!(repo
        .status_file(std::path::Path::new("notes.txt"))
        .unwrap()
        .contains(git2::Status::WT_NEW));
    // Index rows, hand text and skill section.
    let index = w.read("knowledge/INDEX.md");
    assert!(
        index.contains("Hand-written intro.")
            && index.contains("| [00-x.md](old/00-x.md) | old file | 3 |")
    );
    assert!(
        index.contains("## topic/")
            && index.contains("| [00-alpha.md](topic/00-alpha.md) | Alpha Basics |"),
        "{index}"
    );
    assert!(index.find("00-alpha.md").unwrap() < index.find("01-beta.md").unwrap());
    let skill = w.read("knowledge/SKILL.md");
    assert!(
        skill.contains("- `topic/` (2 files) — Test Topics"),
        "{skill}"
    );
    assert!(!w.path("plans/p.md").exists() && w.path("completed/p/plan.md").exists());
    // Twice: no change, no commit.
    let out = w.expand().args(["consolidate", "p"]).output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(commit_count(&repo), before + 1, "{:?}", head_paths(&repo));
    assert_eq!(w.read("knowledge/INDEX.md"), index);
    // Review still finds the drops after the archive.
    w.expand()
        .args(["review", "batch", "1", "p"])
        .assert()
        .code(0);
    // The archived plan keeps its slug: status and run find its state, and a
    // re-run has nothing to do (it would be slug "plan" from the file stem).
    let out = w.expand().args(["status", "p", "--json"]).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("\"plan\":\"p\""), "{stdout}");
    assert!(stdout.contains("\"done\""), "{stdout}");
    let out = w.expand().args(["run", "p", "--all"]).output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("expand consolidate p"), "{stdout}");
    assert_eq!(commit_count(&repo), before + 1);
    // And the audit of a clean run finds nothing.
    let out = w.expand().args(["audit"]).output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
}

#[test]
fn consolidate_refuses_failed_part_unless_allow_partial() {
    let w = Ws::new();
    let repo = w.git_init();
    w.done(1);
    w.failed_part(2, "writer timed out");
    let out = w.expand().args(["consolidate", "p"]).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("PART 2") && err.contains("--allow-partial"),
        "{err}"
    );
    assert!(w.path("plans/p.md").exists());
    let out = w
        .expand()
        .args(["consolidate", "p", "--allow-partial"])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let msg = repo
        .head()
        .unwrap()
        .peel_to_commit()
        .unwrap()
        .message()
        .unwrap()
        .to_string();
    assert!(
        msg.contains("(1 file)") && msg.contains("PART 2: Beta Details (writer timed out)"),
        "{msg}"
    );
}

#[test]
fn consolidate_refuses_pending_and_skips_commit_outside_repo() {
    let w = Ws::new();
    w.done(1);
    let out = w.expand().args(["consolidate", "p"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("PART 2 has not run"));
    w.done(2);
    let out = w.expand().args(["consolidate", "p"]).output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&out.stdout).contains("not inside a git repository"));
}

/// consolidate counts a PART done by the rule `expand run` uses: a PART run
/// would start again (interrupted, or "FILE EXISTS" with no file) is pending,
/// whatever its marker says.
#[test]
fn consolidate_agrees_with_run_on_what_is_done() {
    let w = Ws::new();
    w.done(1);
    w.done(2);
    w.interrupted_part(2);
    let before = w.read("plans/p.md");
    let out = w.expand().args(["consolidate", "p"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("PART 2 has not run"));
    assert_eq!(w.read("plans/p.md"), before, "nothing changed");

    let w = Ws::new();
    let plan = w.read("plans/p.md").replace(
        "- [ ] PART 2: Create topic/01-beta.md",
        "- [✓] PART 2: Create topic/01-beta.md (FILE EXISTS - 2.1 KB)",
    );
    w.write("plans/p.md", &plan);
    w.done(1);
    let out = w.expand().args(["consolidate", "p"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("PART 2 has not run"));
}

#[test]
fn consolidate_per_folder_index() {
    let w = Ws::new();
    w.write(
        "expand.yaml",
        "index:\n  mode: per-folder\ngit:\n  commit: false\n",
    );
    w.run_all();
    w.expand().args(["consolidate", "p"]).assert().code(0);
    let idx = w.read("knowledge/topic/INDEX.md");
    assert!(
        idx.contains("| [00-alpha.md](00-alpha.md) | Alpha Basics |"),
        "{idx}"
    );
    assert!(!w.read("knowledge/INDEX.md").contains("alpha"));
}

#[test]
fn commit_author_is_git_config_else_expand_yaml() {
    // No global or system git identity: HOME and XDG point at an empty folder.
    let home = tempfile::tempdir().unwrap();
    let author = |w: &Ws, repo: &git2::Repository| {
        let out = w
            .expand()
            .env("HOME", home.path())
            .env("XDG_CONFIG_HOME", home.path())
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .args(["consolidate", "p"])
            .output()
            .unwrap();
        assert_eq!(
            out.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let head = repo.head().unwrap().peel_to_commit().unwrap();
        let a = head.author();
        (
            a.name().unwrap().to_string(),
            a.email().unwrap().to_string(),
        )
    };
    let w = Ws::new();
    let repo = w.git_init();
    w.run_all();
    assert_eq!(
        author(&w, &repo),
        ("Test".to_string(), "test@example.com".to_string())
    );

    let w = Ws::new();
    let repo = w.git_init();
    let mut cfg = repo.config().unwrap();
    cfg.set_str("user.name", "Repo Person").unwrap();
    cfg.set_str("user.email", "repo@example.com").unwrap();
    w.run_all();
    assert_eq!(
        author(&w, &repo),
        ("Repo Person".to_string(), "repo@example.com".to_string())
    );
}
