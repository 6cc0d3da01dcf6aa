//! Nothing lost, nothing leaked (issue #11): one test per class of harm, on
//! temporary workspaces, driving the real binary. Provider items live in
//! `provider_safety.rs`, consolidate's transaction in `consolidate.rs`.

use std::path::Path;

use crate::util::Ws;

const CONFIG: &str =
    "batch_size: 4\nretries: 1\nwriter:\n  kind: offline\nsearch:\n  kind: offline\n";

/// A workspace with a small knowledge base and `plans/p.md` holding `plan`.
fn ws_with(plan: &str) -> Ws {
    let ws = Ws::new();
    ws.write("expand.yaml", CONFIG)
        .write("knowledge/INDEX.md", "# Index\n")
        .write("knowledge/SKILL.md", "# Skill\n")
        .write(
            "knowledge/topic/00-basics.md",
            "# Basics\n\nTokio runs async tasks on a thread pool.\n\n## Tasks\n\nSpawn them.\n",
        )
        .write("plans/p.md", plan);
    ws
}

/// A plan titled `title` with one PART per target.
fn plan(title: &str, targets: &[&str]) -> String {
    let mut s = format!("# {title}\n\n");
    for (i, t) in targets.iter().enumerate() {
        let n = i + 1;
        s.push_str(&format!(
            "## PART {n}: Part {n} (~40 lines)\n\n- [ ] PART {n}: Create {t}\n\n\
             **Step 1: Check Existing Knowledge**\n- [ ] Read topic/00-basics.md\n\n\
             **Step 2: Create Knowledge File**\n- [ ] Section 1: Tasks (~20 lines)\n\n"
        ));
    }
    s
}

fn text(ws: &Ws, rel: &str) -> String {
    String::from_utf8(ws.read(rel)).unwrap()
}

fn files_under(ws: &Ws, rel: &str) -> Vec<String> {
    let mut v: Vec<String> = walkdir::WalkDir::new(ws.path().join(rel))
        .into_iter()
        .flatten()
        .filter(|e| e.file_type().is_file())
        .map(|e| {
            e.path()
                .strip_prefix(ws.path())
                .unwrap()
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    v.sort();
    v
}

fn state(ws: &Ws) -> serde_json::Value {
    let st = expand::run::state::PlanState::load(&ws.jail(), "p").expect("state");
    serde_json::to_value(st).unwrap()
}

// 1. A plan's state belongs to that plan, not to its file name.
#[test]
fn a_new_plan_under_a_used_name_starts_fresh() {
    let ws = ws_with(&plan("First plan", &["a/00-one.md", "a/01-two.md"]));
    ws.expand(&["run", "p", "--all"]).code(0);
    // Another plan, same file name, different PARTs.
    ws.write("plans/p.md", plan("Second plan", &["b/00-three.md"]));
    let out = ws.expand(&["run", "p", "--all"]).code(0);
    assert!(!out.stdout.contains("nothing to run"), "{}", out.stdout);
    assert!(ws.path().join("knowledge/b/00-three.md").is_file());
    assert!(
        out.stderr.contains("belonged to another plan"),
        "{}",
        out.stderr
    );
    // The first plan's state is kept aside, not lost.
    let kept = files_under(&ws, ".expand/state/replaced");
    assert_eq!(kept.len(), 1, "{kept:?}");
    assert!(text(&ws, &kept[0]).contains("First plan"));
    assert_eq!(state(&ws)["plan_title"], "Second plan");
}

// 1. …and a PART pointed at another file is not done by its old state.
#[test]
fn a_part_pointed_at_another_target_runs_again() {
    let ws = ws_with(&plan("Plan", &["a/00-one.md"]));
    ws.expand(&["run", "p"]).code(0);
    let edited = text(&ws, "plans/p.md")
        .replace("a/00-one.md", "a/05-other.md")
        .replace("[✓]", "[ ]");
    ws.write("plans/p.md", edited);
    let out = ws.expand(&["run", "p"]).code(0);
    assert!(out.stdout.contains("a/05-other.md"), "{}", out.stdout);
    assert!(ws.path().join("knowledge/a/05-other.md").is_file());
}

// 2. Ownership is per path and per content.
#[test]
fn an_interrupted_part_pointed_at_a_hand_written_file_never_replaces_it() {
    let ws = ws_with(&plan("Plan", &["a/00-one.md"]));
    ws.write("knowledge/a/03-mine.md", "# Mine\n\nWritten by hand.\n");
    // Killed right after writing its file: expand's own file, pending PART.
    let out = ws.expand_env(&["run", "p"], &[("EXPAND_FAULT", "write:1")]);
    assert_ne!(out.code, 0);
    assert!(ws.path().join("knowledge/a/00-one.md").is_file());
    // The plan now points PART 1 at the hand-written file.
    ws.write(
        "plans/p.md",
        text(&ws, "plans/p.md").replace("a/00-one.md", "a/03-mine.md"),
    );
    // validate and the dry run say the target exists.
    let v = ws.expand(&["validate", "p"]).code(0);
    assert!(
        v.stdout.contains("a/03-mine.md` exists already") || v.stderr.contains("exists already"),
        "{}{}",
        v.stdout,
        v.stderr
    );
    let dry = ws.expand(&["run", "p", "--dry-run"]).code(0);
    assert!(dry.stdout.contains("exists"), "{}", dry.stdout);
    let out = ws.expand(&["run", "p"]).code(1);
    assert!(
        out.stdout.contains("not a file expand wrote"),
        "{}",
        out.stdout
    );
    assert_eq!(
        text(&ws, "knowledge/a/03-mine.md"),
        "# Mine\n\nWritten by hand.\n"
    );
    // The interrupted attempt's own file is still replaced without --force.
    ws.write(
        "plans/p.md",
        text(&ws, "plans/p.md").replace("a/03-mine.md", "a/00-one.md"),
    );
    ws.expand(&["run", "p"]).code(0);
}

// 3. Two PARTs never share a drop; an existing drop is never overwritten.
#[test]
fn drops_of_parts_with_the_same_topic_never_collide() {
    let ws = ws_with(&plan(
        "Plan",
        &[
            "gpu/00-overview.md",
            "tpu/00-overview.md",
            "npu/00-overview.md",
        ],
    ));
    // Someone's file sits where a drop would go.
    let out = ws.expand(&["run", "p", "--dry-run"]).code(0);
    let foreign = out
        .stdout
        .lines()
        .find_map(|l| l.trim().strip_prefix("write  drops/"))
        .map(|d| format!("drops/{d}"))
        .expect("a drop in the dry run");
    ws.write(&foreign, "# Not expand's\n");
    ws.expand(&["run", "p", "--all"]).code(0);
    let drops = files_under(&ws, "drops/p");
    assert_eq!(
        drops.len(),
        4,
        "three drops and the foreign file: {drops:?}"
    );
    assert_eq!(text(&ws, &foreign), "# Not expand's\n");
    for t in [
        "gpu/00-overview.md",
        "tpu/00-overview.md",
        "npu/00-overview.md",
    ] {
        let n = drops
            .iter()
            .filter(|d| text(&ws, d).contains(&format!("`{t}`")))
            .count();
        assert_eq!(n, 1, "one drop names {t}: {drops:?}");
    }
}

#[test]
fn a_plan_naming_one_drop_for_every_part_gets_one_drop_per_part() {
    let mut p = plan("Plan", &["a/00-x.md", "a/01-y.md"]);
    p = p.replace(
        "**Step 2: Create Knowledge File**",
        "**Step 3: KNOWLEDGE DROP**\n- [ ] Create KNOWLEDGE-DROP-same-[DATE].md\n\n**Step 2: Create Knowledge File**",
    );
    let ws = ws_with(&p);
    ws.expand(&["run", "p", "--all"]).code(0);
    let drops = files_under(&ws, "drops/p");
    assert_eq!(drops.len(), 2, "{drops:?}");
}

// 6. A tick never drops bytes someone else wrote meanwhile.
#[test]
fn lines_appended_to_the_plan_during_a_run_are_kept() {
    let targets: Vec<String> = (0..16).map(|i| format!("t/{i:02}-f.md")).collect();
    let refs: Vec<&str> = targets.iter().map(String::as_str).collect();
    let ws = ws_with(&plan("Plan", &refs));
    let path = ws.path().join("plans/p.md");
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let appender = {
        let stop = stop.clone();
        let path = path.clone();
        std::thread::spawn(move || {
            use std::io::Write;
            // Lines whose write came long after their open (this thread was
            // descheduled in between) may land in a replaced file: the
            // documented limit of `Jail::rewrite`, not counted.
            let mut slow = Vec::new();
            let mut n = 0;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let opened = std::time::Instant::now();
                let mut f = std::fs::OpenOptions::new()
                    .append(true)
                    .open(&path)
                    .unwrap();
                // One write per line, as `echo >>` does.
                f.write_all(format!("<!-- note {n} -->\n").as_bytes())
                    .unwrap();
                if opened.elapsed() > expand::workspace::jail::SETTLE / 2 {
                    slow.push(n);
                }
                n += 1;
                std::thread::sleep(std::time::Duration::from_millis(3));
            }
            (n, slow)
        })
    };
    let out = ws.expand(&["run", "p", "--all", "--batch-size", "4"]);
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let (n, slow) = appender.join().unwrap();
    out.code(0);
    let now = text(&ws, "plans/p.md");
    for i in (0..n).filter(|i| !slow.contains(i)) {
        assert!(
            now.contains(&format!("<!-- note {i} -->\n")),
            "note {i} of {n} lost"
        );
    }
    assert_eq!(now.matches("[✓] PART").count(), 16, "{now}");
}

// 7. The lock is the OS's, not a file's existence.
#[test]
fn deleting_the_lock_file_does_not_let_a_second_run_in() {
    let ws = ws_with(&plan("Plan", &["a/00-one.md"]));
    let _held = expand::run::state::Lock::acquire(&ws.jail()).unwrap();
    std::fs::remove_dir_all(ws.path().join(".expand")).unwrap();
    let out = ws.expand(&["run", "p"]).code(3);
    assert!(out.stderr.contains("locked"), "{}", out.stderr);
    assert!(!ws.path().join("knowledge/a/00-one.md").exists());
}

// 8. A folder that cannot be written is found before any paid call; temp
// files of a killed run are cleaned.
#[test]
fn an_unwritable_target_folder_fails_before_the_writer_is_called() {
    let ws = ws_with(&plan("Plan", &["blocked/00-x.md"]));
    // A file where the folder should be: nothing can be created in it.
    ws.write("knowledge/blocked", "not a folder\n");
    let calls = ws.path().join("calls");
    ws.write(
        "writer.sh",
        format!(
            "#!/bin/sh\necho called >> '{}'\ncat >/dev/null\necho '# x'\n",
            calls.display()
        ),
    );
    ws.write(
        "expand.yaml",
        format!(
            "writer:\n  kind: command\n  command: [sh, '{}']\nsearch:\n  kind: offline\n",
            ws.path().join("writer.sh").display()
        ),
    );
    let out = ws.expand(&["run", "p"]).code(1);
    assert!(out.stdout.contains("cannot write"), "{}", out.stdout);
    assert!(
        out.stdout.contains("failed after 1 attempt"),
        "{}",
        out.stdout
    );
    assert!(!calls.exists(), "the writer was called");
}

#[cfg(unix)]
#[test]
fn a_read_only_target_folder_fails_before_the_writer_is_called() {
    use std::os::unix::fs::PermissionsExt;
    if unsafe { libc::geteuid() } == 0 {
        eprintln!("skipped: running as root, which can write in read-only folders");
        return;
    }
    let ws = ws_with(&plan("Plan", &["ro/00-x.md"]));
    std::fs::create_dir_all(ws.path().join("knowledge/ro")).unwrap();
    std::fs::set_permissions(
        ws.path().join("knowledge/ro"),
        std::fs::Permissions::from_mode(0o555),
    )
    .unwrap();
    let out = ws.expand(&["run", "p"]).code(1);
    std::fs::set_permissions(
        ws.path().join("knowledge/ro"),
        std::fs::Permissions::from_mode(0o755),
    )
    .unwrap();
    assert!(out.stdout.contains("cannot write in"), "{}", out.stdout);
}

#[test]
fn temp_files_of_a_killed_run_are_cleaned_by_the_next() {
    let ws = ws_with(&plan("Plan", &["a/00-one.md"]));
    ws.write("knowledge/a/.00-one.md.0badf00d.expand-tmp", "half a file");
    ws.write(
        "drops/p/.KNOWLEDGE-DROP-x.md.12345678.expand-tmp",
        "half a drop",
    );
    ws.write("knowledge/a/.hidden-note", "a person's");
    ws.expand(&["run", "p"]).code(0);
    let left: Vec<String> = files_under(&ws, "knowledge")
        .into_iter()
        .chain(files_under(&ws, "drops"))
        .filter(|f| f.ends_with(".expand-tmp"))
        .collect();
    assert!(left.is_empty(), "{left:?}");
    assert!(ws.path().join("knowledge/a/.hidden-note").exists());
}

// 9. Damaged state: which file, and a way out.
#[test]
fn a_damaged_state_names_its_file_and_can_be_rebuilt() {
    let ws = ws_with(&plan("Plan", &["a/00-one.md", "a/01-two.md"]));
    ws.expand(&["run", "p", "--part", "1"]).code(0);
    let good = text(&ws, ".expand/state/p.json");
    ws.write(".expand/state/p.json", &good[..good.len() / 2]);
    for args in [&["run", "p"][..], &["status", "p"], &["reset", "p"]] {
        let out = ws.expand(args).code(3);
        assert!(
            out.stderr.contains(".expand/state/p.json") && out.stderr.contains("--rebuild-state"),
            "{args:?}: {}",
            out.stderr
        );
    }
    let out = ws.expand(&["reset", "p", "--rebuild-state"]).code(0);
    assert!(out.stdout.contains("done: 1 PART(s) 1"), "{}", out.stdout);
    assert_eq!(files_under(&ws, ".expand/state/damaged").len(), 1);
    // PART 1 stays done (its file and drop are expand's); PART 2 runs.
    let out = ws.expand(&["run", "p", "--all"]).code(0);
    assert!(out.stdout.contains("PART   2"), "{}", out.stdout);
    assert!(!out.stdout.contains("PART   1"), "{}", out.stdout);
    // And a reset then run of PART 1 replaces expand's own file.
    ws.expand(&["reset", "p", "--part", "1"]).code(0);
    ws.expand(&["run", "p"]).code(0);
}

// 10. No path through any link leaves the workspace.
#[cfg(unix)]
#[test]
fn links_out_of_the_workspace_are_refused_wherever_they_are() {
    let outside = tempfile::tempdir().unwrap();
    let link = |ws: &Ws, at: &str, to: &Path| {
        let p = ws.path().join(at);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::os::unix::fs::symlink(to, p).unwrap();
    };
    // The drops folder of the plan.
    let ws = ws_with(&plan("Plan", &["a/00-one.md"]));
    link(&ws, "drops/p", outside.path());
    let out = ws.expand(&["run", "p"]);
    assert_ne!(out.code, 0);
    assert!(
        out.stderr.contains("outside the workspace"),
        "{}",
        out.stderr
    );
    // The state folder.
    let ws = ws_with(&plan("Plan", &["a/00-one.md"]));
    std::fs::create_dir_all(ws.path().join(".expand")).unwrap();
    link(&ws, ".expand/state", outside.path());
    let out = ws.expand(&["run", "p"]);
    assert_ne!(out.code, 0);
    assert!(
        out.stderr.contains("outside the workspace"),
        "{}",
        out.stderr
    );
    // A target's folder.
    let ws = ws_with(&plan("Plan", &["out/00-one.md"]));
    link(&ws, "knowledge/out", outside.path());
    let out = ws.expand(&["validate", "p"]).code(2);
    assert!(
        out.stdout.contains("leads outside the workspace"),
        "{}",
        out.stdout
    );
    ws.expand(&["run", "p"]).code(2);
    // A plan named by a path that links outside.
    let ws = ws_with(&plan("Plan", &["a/00-one.md"]));
    std::fs::write(
        outside.path().join("evil.md"),
        plan("Evil", &["a/00-evil.md"]),
    )
    .unwrap();
    link(&ws, "plans/evil.md", &outside.path().join("evil.md"));
    let out = ws.expand(&["run", "plans/evil.md"]).code(2);
    assert!(
        out.stderr.contains("outside the workspace"),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr.contains("outside the workspace"),
        "{}",
        out.stderr
    );
    // A knowledge file linking to a secret is never read as knowledge.
    let ws = ws_with(&plan("Plan", &["a/00-one.md"]));
    std::fs::write(
        outside.path().join("secret.md"),
        "# Secret\n\nAKIA-SECRET-KEY\n",
    )
    .unwrap();
    link(
        &ws,
        "knowledge/topic/01-secret.md",
        &outside.path().join("secret.md"),
    );
    ws.expand(&["run", "p"]).code(0);
    assert!(!text(&ws, "knowledge/a/00-one.md").contains("AKIA-SECRET-KEY"));
    // Nothing was ever written outside.
    let mut names: Vec<_> = std::fs::read_dir(outside.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(names, ["evil.md", "secret.md"]);
}

// 11. With knowledge_dir ".", expand's own places are not targets.
#[test]
fn with_the_knowledge_root_at_the_workspace_root_reserved_targets_are_errors() {
    let ws = Ws::new();
    ws.write(
        "expand.yaml",
        "knowledge_dir: \".\"\nplans_dir: _plans\ndrops_dir: _drops\ncompleted_dir: _done\n",
    )
    .write("INDEX.md", "# Index\n")
    .write(
        "_plans/p.md",
        plan(
            "Plan",
            &[
                ".git/refs/heads/main.md",
                ".expand/state/x.md",
                "_plans/q.md",
                "_drops/p/x.md",
                "_done/p/plan.md",
                "INDEX.md",
                "topic/SKILL.md",
                "topic/00-fine.md",
            ],
        ),
    );
    let v = ws
        .expand(&["--json", "validate", "p", "--format", "json"])
        .code(2)
        .json();
    let diags = v["plans"][0]["diagnostics"].as_array().unwrap();
    let errors: Vec<u64> = diags
        .iter()
        .filter(|d| d["severity"] == "error")
        .map(|d| d["line"].as_u64().unwrap())
        .collect();
    assert_eq!(errors.len(), 7, "{diags:#?}");
    let before = ws.snapshot();
    ws.expand(&["run", "p"]).code(2);
    assert_eq!(before, ws.snapshot(), "a refused plan changes nothing");
}

// 12. Names that look alike, cannot be written, or do not fit.
#[test]
fn invisible_colliding_and_over_long_names_and_bad_part_numbers_are_errors() {
    let long = format!("a/{}.md", "x".repeat(240));
    let p = plan(
        "Plan",
        &[
            "a/00-ok.md",
            "a/01-in\u{202E}dm.md",
            "a/02-zero\u{200B}width.md",
            "a/03-Caf\u{e9}.md",
            "a/03-cafe\u{301}.md",
            "a/04-Same.md",
            "a/04-same.md",
            &long,
        ],
    ) + "## PART -1: Negative\n\n- [ ] PART -1: Create a/90-neg.md\n\n\
         ## PART 4294967296: Huge\n\n- [ ] Create a/91-huge.md\n";
    let ws = ws_with(&p);
    let v = ws
        .expand(&["validate", "p", "--format", "json"])
        .code(2)
        .json();
    let diags = v["plans"][0]["diagnostics"].as_array().unwrap();
    let codes: Vec<(&str, u64)> = diags
        .iter()
        .filter(|d| d["severity"] == "error")
        .map(|d| (d["code"].as_str().unwrap(), d["line"].as_u64().unwrap()))
        .collect();
    let count = |c: &str| codes.iter().filter(|(k, _)| *k == c).count();
    assert_eq!(count("target-outside"), 3, "{codes:?}");
    assert_eq!(count("duplicate-target"), 2, "{codes:?}");
    assert_eq!(count("bad-part-number"), 2, "{codes:?}");
    assert!(codes.iter().all(|(_, l)| *l > 1), "{codes:?}");
}

// 19. New files follow the umask; an edited file keeps its mode.
#[cfg(unix)]
#[test]
fn written_files_follow_the_umask_and_edited_ones_keep_their_mode() {
    use std::os::unix::fs::PermissionsExt;
    use std::os::unix::process::CommandExt;
    let ws = ws_with(&plan("Plan", &["a/00-one.md"]));
    let plan_file = ws.path().join("plans/p.md");
    std::fs::set_permissions(&plan_file, std::fs::Permissions::from_mode(0o640)).unwrap();
    let mut cmd = crate::util::expand_std();
    cmd.arg("-C").arg(ws.path()).args(["run", "p"]);
    // SAFETY: umask(2) is async-signal-safe and touches no memory.
    unsafe {
        cmd.pre_exec(|| {
            libc::umask(0o022);
            Ok(())
        });
    }
    assert!(cmd.output().unwrap().status.success());
    let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&ws.path().join("knowledge/a/00-one.md")), 0o644);
    for d in files_under(&ws, "drops/p") {
        assert_eq!(mode(&ws.path().join(d)), 0o644);
    }
    assert_eq!(mode(&plan_file), 0o640);
    assert!(text(&ws, "plans/p.md").contains("[✓]"));
}

// 18. SIGINT/SIGTERM: no new PART, writers (and what they started) end, the
// interrupted PARTs are recorded, the lock is released, the way on is said.
#[cfg(unix)]
#[test]
fn sigint_ends_every_writer_and_records_the_interrupted_parts() {
    for (signal, code) in [(libc::SIGINT, 130), (libc::SIGTERM, 143)] {
        let ws = ws_with(&plan(
            "Plan",
            &["a/00-one.md", "a/01-two.md", "a/02-three.md"],
        ));
        let pids = ws.path().join("pids");
        // A slow agent: it starts a child of its own and waits for it.
        ws.write(
            "writer.sh",
            "#!/bin/sh\necho $$ >> \"$PIDS\"\nsleep 60 &\necho $! >> \"$PIDS\"\ncat >/dev/null\nwait\n",
        );
        ws.write(
            "expand.yaml",
            format!(
                "batch_size: 2\nwriter:\n  kind: command\n  command: [sh, '{}']\n  timeout_s: 120\nsearch:\n  kind: offline\n",
                ws.path().join("writer.sh").display()
            ),
        );
        let child = crate::util::expand_std()
            .arg("-C")
            .arg(ws.path())
            .args(["run", "p", "--all"])
            .env("PIDS", &pids)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let started = std::time::Instant::now();
        let written = |n: usize| {
            std::fs::read_to_string(&pids)
                .map(|t| t.lines().count() >= n)
                .unwrap_or(false)
        };
        while !written(4) {
            assert!(
                started.elapsed().as_secs() < 30,
                "the writers never started"
            );
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        unsafe { libc::kill(child.id() as i32, signal) };
        let stopped = std::time::Instant::now();
        let out = child.wait_with_output().unwrap();
        assert!(stopped.elapsed().as_secs() < 10, "slow to stop");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(code), "{stderr}");
        assert!(stderr.contains("resume: expand run p --all"), "{stderr}");
        assert!(stderr.contains("PART 1, 2 interrupted"), "{stderr}");
        // No writer process, nor anything a writer started, survives.
        std::thread::sleep(std::time::Duration::from_millis(200));
        for pid in std::fs::read_to_string(&pids).unwrap().lines() {
            let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
            let alive = stat
                .rsplit(')')
                .next()
                .and_then(|s| s.split_whitespace().next())
                .is_some_and(|st| st != "Z" && st != "X");
            assert!(!alive, "writer process {pid} survived: {stat}");
        }
        // PART 3 never started; 1 and 2 are pending again, saying why.
        let st = state(&ws);
        for n in ["1", "2"] {
            assert_eq!(st["parts"][n]["status"], "pending", "{st}");
            assert!(
                st["parts"][n]["error"]
                    .as_str()
                    .unwrap_or("")
                    .contains("interrupted"),
                "{st}"
            );
        }
        assert!(st["parts"].get("3").is_none(), "{st}");
        assert!(!ws.path().join("knowledge/a").exists());
        // The lock went with the process.
        drop(expand::run::state::Lock::acquire(&ws.jail()).expect("lock released"));
    }
}

// 10. INDEX.md or SKILL.md linking outside: consolidate refuses before it
// changes anything, and never reads, rewrites or commits the outside file.
#[cfg(unix)]
#[test]
fn consolidate_refuses_an_index_that_links_outside() {
    for linked in ["knowledge/INDEX.md", "knowledge/SKILL.md"] {
        let outside = tempfile::tempdir().unwrap();
        let secret = outside.path().join("credentials");
        std::fs::write(&secret, "aws_secret_access_key = AKIAXXXXSECRET\n").unwrap();
        let ws = ws_with(&plan("Plan", &["a/00-one.md"]));
        git2::Repository::init(ws.path()).unwrap();
        std::fs::remove_file(ws.path().join(linked)).unwrap();
        std::os::unix::fs::symlink(&secret, ws.path().join(linked)).unwrap();
        ws.expand(&["run", "p"]).code(0);
        let snap = || {
            let mut s = ws.snapshot();
            s.remove(Path::new(".expand/lock")); // who held the lock last
            s
        };
        let before = snap();
        let out = ws.expand_env(
            &["consolidate", "p"],
            &[
                ("GIT_AUTHOR_NAME", "t"),
                ("GIT_AUTHOR_EMAIL", "t@example.com"),
            ],
        );
        assert_ne!(out.code, 0, "{linked}: {}", out.stdout);
        assert!(
            out.stderr.contains("outside the workspace"),
            "{linked}: {}",
            out.stderr
        );
        assert_eq!(before, snap(), "{linked}: nothing changed");
        assert_eq!(
            std::fs::read_to_string(&secret).unwrap(),
            "aws_secret_access_key = AKIAXXXXSECRET\n"
        );
        let repo = git2::Repository::open(ws.path()).unwrap();
        assert!(repo.head().is_err(), "{linked}: no commit was made");
    }
}
