use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

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
            "completed/p/drops/KNOWLEDGE-DROP-topic-00-alpha-2025-11-21-1405.md",
            "completed/p/drops/KNOWLEDGE-DROP-topic-01-beta-2025-11-21-1405.md",
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
    // Consolidated: nothing to run, and no `expand consolidate` to suggest.
    assert!(
        stdout.contains("is archived (its run was consolidated): nothing to run"),
        "{stdout}"
    );
    assert!(!stdout.contains("expand consolidate"), "{stdout}");
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
        msg.contains("(1 file)")
            && msg.contains("PART 2: Beta Details (")
            && msg.contains("writer timed out)"),
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
    w.run_all();
    w.write(
        "expand.yaml",
        "index:\n  mode: per-folder\ngit:\n  commit: false\n",
    );
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

// ---- consolidate as a transaction (issue #11, items 1, 4 and 5) ----

/// What a consolidation of `PLAN` commits: the new files, the index and
/// skill, the archived plan and drops, and the plan's removal from plans/.
const CONSOLIDATED: [&str; 8] = [
    "completed/p/drops/KNOWLEDGE-DROP-topic-00-alpha-2025-11-21-1405.md",
    "completed/p/drops/KNOWLEDGE-DROP-topic-01-beta-2025-11-21-1405.md",
    "completed/p/plan.md",
    "knowledge/INDEX.md",
    "knowledge/SKILL.md",
    "knowledge/topic/00-alpha.md",
    "knowledge/topic/01-beta.md",
    "plans/p.md",
];

/// A fresh handle: git2 caches the index of an open repository.
fn reopen(w: &Ws) -> git2::Repository {
    git2::Repository::open(w.root()).unwrap()
}

/// Paths whose index entry differs from HEAD (what `git commit` would commit).
fn staged(w: &Ws) -> BTreeSet<String> {
    let repo = reopen(w);
    let mut o = git2::StatusOptions::new();
    o.include_untracked(false);
    let st = repo.statuses(Some(&mut o)).unwrap();
    st.iter()
        .filter(|e| {
            e.status().intersects(
                git2::Status::INDEX_NEW
                    | git2::Status::INDEX_MODIFIED
                    | git2::Status::INDEX_DELETED
                    | git2::Status::INDEX_RENAMED
                    | git2::Status::INDEX_TYPECHANGE,
            )
        })
        .map(|e| e.path().unwrap().to_string())
        .collect()
}

/// Paths among `paths` whose working-tree file differs from the index.
fn unstaged(w: &Ws, paths: &[&str]) -> Vec<String> {
    let repo = reopen(w);
    paths
        .iter()
        .filter(|p| {
            repo.status_file(Path::new(p))
                .map(|s| {
                    s.intersects(
                        git2::Status::WT_MODIFIED | git2::Status::WT_DELETED | git2::Status::WT_NEW,
                    )
                })
                .unwrap_or(false)
        })
        .map(|p| p.to_string())
        .collect()
}

/// Stage `rel` the way `git add` does: the user's own staged change.
fn user_stages(w: &Ws, rel: &str, text: &str) {
    w.write(rel, text);
    let repo = reopen(w);
    let mut idx = repo.index().unwrap();
    idx.add_path(Path::new(rel)).unwrap();
    idx.write().unwrap();
}

/// Every file of the workspace but `.git/` and the lock expand takes on
/// each run: to prove that a refused consolidation changed nothing.
fn files(w: &Ws) -> BTreeMap<String, Vec<u8>> {
    let mut out = BTreeMap::new();
    for e in walkdir::WalkDir::new(w.root()) {
        let e = e.unwrap();
        let rel = e
            .path()
            .strip_prefix(w.root())
            .unwrap()
            .to_string_lossy()
            .replace('\\', "/");
        if rel.starts_with(".git/") || rel == ".git" || rel.starts_with(".expand/lock") {
            continue;
        }
        let bytes = if e.file_type().is_file() {
            std::fs::read(e.path()).unwrap()
        } else {
            b"<dir>".to_vec()
        };
        out.insert(rel, bytes);
    }
    out
}

fn head_id(w: &Ws) -> git2::Oid {
    reopen(w).head().unwrap().target().unwrap()
}

fn journal(w: &Ws) -> PathBuf {
    w.path(".expand/consolidate/p.json")
}

/// A workspace whose plan has run, in a repository, with an unrelated file
/// the user staged and another left dirty.
fn ready() -> (Ws, usize) {
    let w = Ws::new();
    let repo = w.git_init();
    w.run_all();
    user_stages(&w, "notes.txt", "staged by the user\n");
    w.write("knowledge/old/00-x.md", "# X\n\nEdited by hand.\n");
    let n = commit_count(&repo);
    (w, n)
}

/// After a successful consolidation: one commit of every path, the user's
/// staged file still staged and out of it, the index agreeing with HEAD.
#[track_caller]
fn assert_consolidated(w: &Ws, commits_before: usize) {
    let repo = reopen(w);
    assert_eq!(commit_count(&repo), commits_before + 1);
    assert_eq!(head_paths(&repo), CONSOLIDATED);
    let head = repo.head().unwrap().peel_to_commit().unwrap();
    let msg = head.message().unwrap();
    assert!(
        msg.starts_with("Knowledge Expansion: Test Topics (2 runners in 1 batch) (2 files)")
            && msg.contains("Plan: completed/p/plan.md"),
        "{msg}"
    );
    assert_eq!(staged(w), BTreeSet::from(["notes.txt".to_string()]));
    assert!(
        unstaged(w, &CONSOLIDATED).is_empty(),
        "{:?}",
        unstaged(w, &CONSOLIDATED)
    );
    assert!(head
        .tree()
        .unwrap()
        .get_path(Path::new("notes.txt"))
        .is_err());
    assert!(!journal(w).exists(), "the journal goes with the commit");
    assert!(!w.path("plans/p.md").exists() && !w.path("drops/p").exists());
    // The state follows the plan into the archive.
    // filed under the archive's key, leaving the name `p` to a new plan.
    assert!(!w.path(".expand/state/p.json").exists());
    let state = std::fs::read_to_string(w.path(".expand/state/completed/p.json")).unwrap();
    assert!(
        state.contains("\"plan_path\": \"completed/p/plan.md\"")
            && state.contains("completed/p/drops/KNOWLEDGE-DROP-topic-00-alpha"),
        "{state}"
    );
}

/// Issue #11 item 4: with `.git/index.lock` there, consolidate used to
/// commit, fail to update the index (exit 3), and leave an index whose next
/// `git commit` deleted the new files. Now it refuses before anything moves.
#[test]
fn index_lock_refuses_before_anything_moves() {
    let (w, before) = ready();
    let lock = w.path(".git/index.lock");
    std::fs::write(&lock, "").unwrap();
    let head = head_id(&w);
    let files_before = files(&w);
    let out = w.expand().args(["consolidate", "p"]).output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{err}");
    assert!(err.contains("index.lock") && err.contains("hint:"), "{err}");
    assert!(err.contains("expand consolidate p"), "{err}");
    assert_eq!(files(&w), files_before, "nothing moved, no journal");
    assert_eq!(head_id(&w), head);
    assert_eq!(staged(&w), BTreeSet::from(["notes.txt".to_string()]));

    std::fs::remove_file(&lock).unwrap();
    let out = w.expand().args(["consolidate", "p"]).output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_consolidated(&w, before);
}

/// Issue #11 item 5: no author used to fail at the commit, after the files
/// had moved; the retry then committed without the moves.
#[test]
fn no_author_refuses_before_anything_moves() {
    let (w, before) = ready();
    w.write("expand.yaml", "git:\n  commit: true\n");
    let home = tempfile::tempdir().unwrap();
    let files_before = files(&w);
    let no_identity = |c: &mut assert_cmd::Command| {
        c.env("HOME", home.path())
            .env("XDG_CONFIG_HOME", home.path())
            .env("GIT_CONFIG_GLOBAL", home.path().join("none"))
            .env("GIT_CONFIG_NOSYSTEM", "1");
    };
    let mut c = w.expand();
    no_identity(&mut c);
    let out = c.args(["consolidate", "p"]).output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{err}");
    assert!(
        err.contains("no commit author") && err.contains("git.author_name"),
        "{err}"
    );
    assert_eq!(files(&w), files_before);

    w.write(
        "expand.yaml",
        "git:\n  author_name: Test\n  author_email: test@example.com\n",
    );
    let mut c = w.expand();
    no_identity(&mut c);
    let out = c.args(["consolidate", "p"]).output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_consolidated(&w, before);
}

#[test]
fn a_merge_in_progress_refuses_before_anything_moves() {
    let (w, _) = ready();
    let head = head_id(&w);
    std::fs::write(w.path(".git/MERGE_HEAD"), format!("{head}\n")).unwrap();
    let files_before = files(&w);
    let out = w.expand().args(["consolidate", "p"]).output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{err}");
    assert!(err.contains("merge is in progress"), "{err}");
    assert_eq!(files(&w), files_before);
    assert_eq!(head_id(&w), head);
}

/// Issue #11 item 5: a crash at any step of a consolidation, then
/// `expand consolidate` again, makes the one commit a clean run makes, with
/// every path; at no point does git's index stage a deletion of a file the
/// consolidation made, or anything at all the user did not stage, except in
/// the moment between writing the index and moving HEAD, when it stages the
/// consolidation itself (a `git commit` then would commit, not delete, it).
#[test]
fn a_crash_at_each_step_then_retry_makes_the_same_commit() {
    for (i, step) in expand::consolidate::FAULTS.iter().enumerate() {
        let (w, before) = ready();
        let head = head_id(&w);
        let out = w
            .expand()
            .env("EXPAND_FAULT", step)
            .args(["consolidate", "p"])
            .output()
            .unwrap();
        assert!(!out.status.success(), "{step}: the fault hook stops it");
        assert!(journal(&w).exists(), "{step}: the crash leaves the journal");
        let user_only = BTreeSet::from(["notes.txt".to_string()]);
        match *step {
            "consolidate-git-index" => {
                assert_eq!(head_id(&w), head, "{step}");
                let mut want: BTreeSet<String> =
                    CONSOLIDATED.iter().map(|s| s.to_string()).collect();
                want.insert("notes.txt".into());
                assert_eq!(staged(&w), want, "{step}");
                let idx = reopen(&w).index().unwrap();
                for p in CONSOLIDATED.iter().filter(|p| w.path(p).exists()) {
                    assert!(idx.get_path(Path::new(p), 0).is_some(), "{step}: {p}");
                }
            }
            "consolidate-head" => {
                assert_ne!(head_id(&w), head, "{step}");
                assert_eq!(staged(&w), user_only, "{step}");
            }
            _ => {
                assert_eq!(head_id(&w), head, "{step}");
                assert_eq!(staged(&w), user_only, "{step}");
            }
        }
        // Retry by slug, by the plan's old path or its new one, or with no
        // name at all.
        let moved = w.path("completed/p/plan.md").exists();
        let args: &[&str] = match i % 4 {
            1 => &["consolidate", "plans/p.md"],
            2 => &["consolidate"],
            3 if moved => &["consolidate", "completed/p/plan.md"],
            _ => &["consolidate", "p"],
        };
        let out = w.expand().args(args).output().unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert_eq!(
            out.status.code(),
            Some(0),
            "{step}: {stdout}{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(
            stdout.contains("finishing the consolidation an earlier run began"),
            "{step}: {stdout}"
        );
        assert_consolidated(&w, before);
        // And once more: nothing to do.
        let out = w.expand().args(["consolidate", "p"]).output().unwrap();
        assert_eq!(out.status.code(), Some(0), "{step}");
        assert_eq!(commit_count(&reopen(&w)), before + 1, "{step}");
    }
}

/// Item 5 again, with a failure instead of a crash: exit 3 with a hint to
/// run it again, git's index as the user left it (a failure after the
/// index is written puts it back), and the retry finishes the commit.
#[test]
fn a_failure_at_each_step_then_retry_makes_the_same_commit() {
    for step in expand::consolidate::FAULTS {
        let (w, before) = ready();
        let head = head_id(&w);
        let out = w
            .expand()
            .env("EXPAND_FAULT", format!("error@{step}"))
            .args(["consolidate", "p"])
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(3), "{step}: {err}");
        assert!(
            err.contains("EXPAND_FAULT")
                && err.contains("run `expand consolidate p` again: it finishes"),
            "{step}: {err}"
        );
        assert_eq!(
            staged(&w),
            BTreeSet::from(["notes.txt".to_string()]),
            "{step}"
        );
        if step != "consolidate-head" {
            assert_eq!(head_id(&w), head, "{step}");
        }
        let out = w
            .expand()
            .args(["--json", "consolidate", "p"])
            .output()
            .unwrap();
        assert_eq!(
            out.status.code(),
            Some(0),
            "{step}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        let plan = &v["plans"][0];
        assert_eq!(plan["resumed"], true, "{step}: {v}");
        let status = if step == "consolidate-head" {
            "committed-earlier"
        } else {
            "committed"
        };
        assert_eq!(plan["commit_status"], status, "{step}: {v}");
        assert_eq!(
            plan["commit"].as_str(),
            Some(head_id(&w).to_string().as_str())
        );
        assert_consolidated(&w, before);
    }
}

/// Issue #11 item 1 (the consolidate half): a plan name used again must not
/// overwrite the first plan's archive.
#[test]
fn a_plan_name_used_again_gets_its_own_archive_folder() {
    let w = Ws::new();
    let repo = w.git_init();
    w.run_all();
    w.expand().args(["consolidate", "p"]).assert().code(0);
    let first: BTreeMap<String, Vec<u8>> = files(&w)
        .into_iter()
        .filter(|(k, _)| k.starts_with("completed/p/"))
        .collect();
    assert!(first.contains_key("completed/p/plan.md"));
    let before = commit_count(&repo);

    // A new, different plan under the same name, run to the end: the first
    // plan's state went with it into the archive, so this one starts afresh.
    let plan2 = crate::review_util::PLAN
        .replace("Test Topics", "Second Topics")
        .replace("topic/00-alpha.md", "second/00-gamma.md")
        .replace("topic/01-beta.md", "second/01-delta.md");
    w.write("plans/p.md", &plan2);
    assert!(!w.path(".expand/state/p.json").exists());
    w.done_part(
        1,
        "second/00-gamma.md",
        "Gamma",
        &["Overview", "Alpha Details"],
    );
    w.done_part(
        2,
        "second/01-delta.md",
        "Delta",
        &["Overview", "Beta Internals"],
    );

    let out = w.expand().args(["consolidate", "p"]).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("`completed/p/` holds another plan's archive")
            && stdout.contains("archived to completed/p-2/plan.md"),
        "{stdout}"
    );
    let now: BTreeMap<String, Vec<u8>> = files(&w)
        .into_iter()
        .filter(|(k, _)| k.starts_with("completed/p/"))
        .collect();
    assert_eq!(now, first, "the first archive is untouched");
    assert!(w.read("completed/p-2/plan.md").contains("Second Topics"));
    assert_eq!(commit_count(&repo), before + 1);
    assert_eq!(
        head_paths(&repo),
        [
            "completed/p-2/drops/KNOWLEDGE-DROP-second-00-gamma-2025-11-21-1405.md",
            "completed/p-2/drops/KNOWLEDGE-DROP-second-01-delta-2025-11-21-1405.md",
            "completed/p-2/plan.md",
            "knowledge/INDEX.md",
            "knowledge/SKILL.md",
            "knowledge/second/00-gamma.md",
            "knowledge/second/01-delta.md",
            // plans/p.md: the second plan was never committed there.
        ]
    );
    // The archived plan goes by its folder's name, and its state with it.
    let out = w
        .expand()
        .args(["status", "p-2", "--json"])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("\"done\""), "{stdout}");
    assert!(!w.path(".expand/state/p.json").exists());
    w.expand()
        .args(["review", "batch", "1", "p-2"])
        .assert()
        .code(0);
    // Consolidating it again changes nothing.
    let snap = files(&w);
    w.expand().args(["consolidate", "p-2"]).assert().code(0);
    assert_eq!(files(&w), snap);
    assert_eq!(commit_count(&repo), before + 1);
}

/// Running consolidate on a consolidated plan changes no file and makes no
/// commit, even with the user's staged and dirty files around.
#[test]
fn consolidating_twice_changes_nothing() {
    let (w, before) = ready();
    w.expand().args(["consolidate", "p"]).assert().code(0);
    assert_consolidated(&w, before);
    let snap = files(&w);
    let out = w.expand().args(["consolidate", "p"]).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0));
    assert!(stdout.contains("nothing left to do"), "{stdout}");
    assert_eq!(files(&w), snap);
    assert_consolidated(&w, before);
    // Without a plan name: nothing in plans/, nothing unfinished.
    let out = w.expand().args(["consolidate"]).output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&out.stdout).contains("nothing to consolidate"));
    assert_eq!(files(&w), snap);
}

/// A detached HEAD is committed on, as `git commit` does, with a warning.
#[test]
fn a_detached_head_is_committed_on_with_a_warning() {
    let (w, before) = ready();
    let repo = reopen(&w);
    let head = head_id(&w);
    repo.set_head_detached(head).unwrap();
    let out = w.expand().args(["consolidate", "p"]).output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert!(err.contains("HEAD is detached"), "{err}");
    let repo = reopen(&w);
    assert!(repo.head_detached().unwrap());
    assert_consolidated(&w, before);
}

/// Issue #13: a SKILL.md without expand's markers (a hand-run base's) was
/// left alone without a word. It gets the managed section appended once,
/// with a notice; its hand text stays as it was.
#[test]
fn a_skill_file_without_markers_gets_the_section_once_with_a_notice() {
    let w = Ws::new();
    let hand = w.read("knowledge/SKILL.md");
    assert!(!hand.contains("expand:topics"));
    w.run_all();
    let out = w
        .expand()
        .args(["consolidate", "p", "--no-commit"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("had no expand markers"), "{err}");
    let skill = w.read("knowledge/SKILL.md");
    assert!(skill.starts_with(&hand), "{skill}");
    assert_eq!(skill.matches("<!-- expand:topics:start -->").count(), 1);
    assert!(
        skill.contains("- `topic/` (2 files) — Test Topics\n"),
        "the topic, not the title with its runner count: {skill}"
    );
    // Again: nothing changes, no second section.
    let out = w
        .expand()
        .args(["consolidate", "p", "--no-commit"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(w.read("knowledge/SKILL.md"), skill);
}
