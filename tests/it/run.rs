//! `expand run` end to end on copies of the sample workspace: batches, ticks,
//! drops, state, the lock, reset, resume after crashes and after SIGKILL.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

/// A temporary copy of the repository's sample workspace.
struct Sample {
    ws: crate::util::Ws,
}

impl Sample {
    fn new() -> Sample {
        // As committed: the README's main job changes the working copy.
        let ws = crate::util::Ws::new();
        expand::testing::write_sample(ws.path()).unwrap();
        Sample { ws }
    }

    fn path(&self) -> &Path {
        self.ws.path()
    }

    /// The command, to spawn (and kill) or to give more environment.
    fn cmd(&self, args: &[&str]) -> Command {
        let mut c = crate::util::expand_std();
        c.arg("-C").arg(self.path()).args(args).env("NO_COLOR", "1");
        c
    }

    /// (exit code, stdout, stderr) of `expand -C <sample> <args…>`.
    fn run(&self, args: &[&str]) -> (i32, String, String) {
        let out = self.ws.expand(args);
        (out.code, out.stdout, out.stderr)
    }

    fn plan(&self) -> String {
        String::from_utf8(self.ws.read("plans/sample-expansion.md")).unwrap()
    }

    /// The run state as the next run reads it: the snapshot (always whole
    /// JSON) and the journal a crashed run leaves.
    fn state(&self) -> serde_json::Value {
        let st = expand::run::state::PlanState::load(&self.ws.jail(), "sample-expansion")
            .expect("state is always readable");
        serde_json::to_value(st).unwrap()
    }

    fn drops(&self) -> Vec<String> {
        let d = self.path().join("drops/sample-expansion");
        let mut v: Vec<String> = std::fs::read_dir(d)
            .map(|r| {
                r.map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                    .collect()
            })
            .unwrap_or_default();
        v.sort();
        v
    }

    /// Every file under knowledge/ with its bytes.
    fn knowledge(&self) -> BTreeMap<PathBuf, Vec<u8>> {
        walkdir::WalkDir::new(self.path().join("knowledge"))
            .into_iter()
            .map(|e| e.unwrap())
            .filter(|e| e.file_type().is_file())
            .map(|e| {
                (
                    e.path().strip_prefix(self.path()).unwrap().to_path_buf(),
                    std::fs::read(e.path()).unwrap(),
                )
            })
            .collect()
    }
}

const TARGETS: [&str; 8] = [
    "rust-cli/04-shell-completions-and-man-pages.md",
    "async-runtime/03-http-clients-with-reqwest.md",
    "text-search/04-inverted-index-construction.md",
    "rust-cli/05-atomic-writes-and-file-locking.md",
    "cli-testing/00-integration-tests-with-assert-cmd.md",
    "cli-testing/01-snapshot-testing-with-insta.md",
    "async-runtime/04-retries-backoff-and-http-caching.md",
    "text-search/05-snippet-extraction-and-highlighting.md",
];

/// The invariants after a finished run: every target, one drop per PART,
/// every PART done in state and ticked in the plan, no temp files in knowledge/.
fn assert_finished(s: &Sample) {
    for t in TARGETS {
        let text = std::fs::read_to_string(s.path().join("knowledge").join(t))
            .unwrap_or_else(|_| panic!("{t} missing"));
        assert!(text.starts_with("> Offline extractive draft"), "{t}");
        assert!(text.contains("## Sources"), "{t}");
    }
    let drops = s.drops();
    assert_eq!(drops.len(), 8, "one drop per PART: {drops:?}");
    let st = s.state();
    for n in 1..=8 {
        assert_eq!(st["parts"][n.to_string()]["status"], "done", "PART {n}");
    }
    let plan = s.plan();
    assert!(!plan.contains("- [ ]"), "every checkbox is ticked");
    assert_eq!(plan.matches("(Completed ").count(), 8);
    for (p, _) in s.knowledge() {
        let name = p.file_name().unwrap().to_string_lossy().into_owned();
        assert!(
            !name.starts_with('.') && name.ends_with(".md"),
            "stray file {p:?}"
        );
    }
}

#[test]
fn full_run_in_two_batches_ticks_drops_and_state() {
    let s = Sample::new();
    let before = s.plan();
    let (code, out, err) = s.run(&["run", "plans/sample-expansion.md"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("batch 1: 4 done, 0 failed"), "{out}");
    assert!(
        out.contains("expand review batch 1 sample-expansion"),
        "{out}"
    );
    assert!(
        out.contains("expand run sample-expansion    (batch 2 of 2)"),
        "{out}"
    );
    assert_eq!(s.drops().len(), 4);
    let st = s.state();
    assert_eq!(st["parts"]["1"]["status"], "done");
    assert!(st["parts"].get("5").is_none(), "batch 2 has not run");

    // The ticks change only markers and the status-line suffix.
    let after = s.plan();
    let (a, b): (Vec<&str>, Vec<&str>) = (before.lines().collect(), after.lines().collect());
    assert_eq!(a.len(), b.len());
    for (x, y) in a.iter().zip(&b) {
        if x != y {
            let y2 = y.replacen("[✓]", "[ ]", 1);
            let y2 = match y2.find(" (Completed ") {
                Some(p) => y2[..p].to_string(),
                None => y2,
            };
            assert_eq!(*x, y2, "only the marker and the suffix change");
        }
    }
    assert_eq!(
        before.len()
            + 4 * (" (Completed 2026-01-01 00:00)".len())
            + (after.matches("[✓]").count()) * ("[✓]".len() - "[ ]".len()),
        after.len()
    );

    let (code, out, err) = s.run(&["run", "sample-expansion", "--all"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("expand consolidate sample-expansion"), "{out}");
    assert_finished(&s);

    // A finished plan run again does nothing and changes nothing.
    let snapshot = (s.plan(), s.knowledge(), s.drops());
    let (code, out, _) = s.run(&["run", "sample-expansion", "--all"]);
    assert_eq!(code, 0);
    assert!(out.contains("nothing to run"), "{out}");
    assert_eq!(snapshot, (s.plan(), s.knowledge(), s.drops()));

    let (code, out, _) = s.run(&["status"]);
    assert_eq!(code, 0);
    assert!(
        out.contains("batch 2: 4 done, 0 failed, 0 pending"),
        "{out}"
    );
}

#[test]
fn the_sample_job_end_to_end_leaves_nothing_for_audit() {
    // The README's main job, then consolidate: the base must agree with
    // itself (every citation link resolves, every file is indexed).
    let s = Sample::new();
    let (code, out, err) = s.run(&["run", "sample-expansion", "--all"]);
    assert_eq!(code, 0, "{out}{err}");
    let (code, out, err) = s.run(&["consolidate", "sample-expansion", "--no-commit"]);
    assert_eq!(code, 0, "{out}{err}");
    let (code, out, err) = s.run(&["audit"]);
    assert_eq!(code, 0, "audit found drift after a clean run:\n{out}{err}");
}

#[test]
fn offline_output_is_deterministic() {
    let (a, b) = (Sample::new(), Sample::new());
    for s in [&a, &b] {
        assert_eq!(s.run(&["run", "sample-expansion", "--all"]).0, 0);
    }
    for t in TARGETS {
        let p = Path::new("knowledge").join(t);
        assert_eq!(
            std::fs::read(a.path().join(&p)).unwrap(),
            std::fs::read(b.path().join(&p)).unwrap(),
            "{t}"
        );
    }
}

/// The knowledge index kept in `.expand/` between runs changes nothing a
/// run writes: a run with it (warm, after an edit to the base) writes the
/// same bytes as one that has to build it afresh.
#[test]
fn a_warm_knowledge_index_writes_what_a_cold_one_does() {
    let (warm, cold) = (Sample::new(), Sample::new());
    let cache = Path::new(".expand/knowledge-index.bin");
    for s in [&warm, &cold] {
        let (code, out, err) = s.run(&["run", "sample-expansion"]);
        assert_eq!(code, 0, "{out}{err}");
        assert!(
            s.path().join(cache).is_file(),
            "the first run keeps its index"
        );
        // Edited between runs: the index must not quote the old text.
        let f = s.path().join("knowledge/text-search/02-bm25-ranking.md");
        let mut text = std::fs::read_to_string(&f).unwrap();
        text.push_str("\n## Inverted index compaction\n\nPostings lists are merged when an inverted index compacts its segments.\n");
        std::fs::write(&f, text).unwrap();
    }
    std::fs::remove_file(cold.path().join(cache)).unwrap();
    for s in [&warm, &cold] {
        let (code, out, err) = s.run(&["run", "sample-expansion"]);
        assert_eq!(code, 0, "{out}{err}");
    }
    let (w, c) = (warm.knowledge(), cold.knowledge());
    assert_eq!(w.keys().collect::<Vec<_>>(), c.keys().collect::<Vec<_>>());
    for (p, bytes) in &w {
        assert!(
            bytes == &c[p],
            "{p:?} differs between a warm and a cold index"
        );
    }
    assert!(warm.path().join(cache).is_file() && cold.path().join(cache).is_file());
}

#[test]
fn json_events_stream_one_per_line() {
    let s = Sample::new();
    let (code, out, _) = s.run(&["--json", "run", "sample-expansion"]);
    assert_eq!(code, 0);
    let events: Vec<serde_json::Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).expect("each line is JSON"))
        .collect();
    let kinds: Vec<&str> = events
        .iter()
        .map(|e| e["event"].as_str().unwrap())
        .collect();
    for k in [
        "batch_started",
        "part_started",
        "step",
        "part_done",
        "batch_done",
        "summary",
    ] {
        assert!(kinds.contains(&k), "{k} in {kinds:?}");
    }
    assert_eq!(kinds.iter().filter(|k| **k == "part_done").count(), 4);
}

#[test]
fn dry_run_writes_nothing() {
    let s = Sample::new();
    let before = (s.plan(), s.knowledge());
    let (code, out, err) = s.run(&["run", "sample-expansion", "--dry-run"]);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("write  knowledge/async-runtime/04-retries-backoff-and-http-caching.md"),
        "{out}"
    );
    assert!(out.contains("(after PART 2)"), "{out}");
    assert!(out.contains("read   async-runtime/03-http-clients-with-reqwest.md → async-runtime/03-http-clients-with-reqwest.md (written by PART 2)"), "{out}");
    assert!(out.contains("search \""), "{out}");
    assert_eq!(before, (s.plan(), s.knowledge()));
    assert!(!s.path().join(".expand").exists());
    assert!(s.drops().is_empty());
}

#[test]
fn a_second_run_on_a_locked_workspace_exits_3() {
    let s = Sample::new();
    let _lock = expand::run::state::Lock::acquire(&s.ws.jail()).unwrap();
    let plan = s.plan();
    for args in [
        &["run", "sample-expansion"][..],
        &["reset", "sample-expansion", "--part", "1"],
        &["consolidate", "sample-expansion"],
    ] {
        let (code, _, err) = s.run(args);
        assert_eq!(code, 3, "{args:?}: {err}");
        assert!(
            err.contains("locked by another expand process")
                && err.contains(&format!("pid {}", std::process::id())),
            "{args:?}: {err}"
        );
        assert!(err.contains("wait for it to finish"), "{args:?}: {err}");
    }
    assert!(s.drops().is_empty());
    assert_eq!(s.plan(), plan);
}

#[test]
fn reset_marks_parts_pending_and_the_file_is_protected() {
    let s = Sample::new();
    assert_eq!(s.run(&["run", "sample-expansion"]).0, 0);
    let (code, out, _) = s.run(&["reset", "sample-expansion", "--part", "1"]);
    assert_eq!(code, 0, "{out}");
    assert!(s
        .plan()
        .contains("- [ ] PART 1: Create rust-cli/04-shell-completions-and-man-pages.md\n"));
    assert!(s.state()["parts"].get("1").is_none());
    // The file is still exactly what expand wrote: the run replaces it.
    let (code, out, _) = s.run(&["run", "sample-expansion", "--part", "1"]);
    assert_eq!(code, 0, "{out}");
    assert_eq!(s.state()["parts"]["1"]["status"], "done");
    // Once a person edits it, it is theirs: refused, once, without a retry.
    s.run(&["reset", "sample-expansion", "--part", "1"]);
    let file =
        s.ws.path()
            .join("knowledge/rust-cli/04-shell-completions-and-man-pages.md");
    let mut text = std::fs::read_to_string(&file).unwrap();
    text.push_str("\nA note of mine.\n");
    std::fs::write(&file, &text).unwrap();
    let (code, out, _) = s.run(&["run", "sample-expansion", "--part", "1"]);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("exists already and is not a file expand wrote"),
        "{out}"
    );
    assert!(out.contains("failed after 1 attempt"), "{out}");
    // The way out is said, not a retry that cannot help.
    assert!(
        out.contains("PART 1 cannot succeed as planned")
            && out.contains("pass --force")
            && out.contains("`expand run sample-expansion --part 1`"),
        "{out}"
    );
    assert!(!out.contains("retry the failed PARTs"), "{out}");
    assert_eq!(std::fs::read_to_string(&file).unwrap(), text);
    let (code, out, _) = s.run(&["run", "sample-expansion", "--part", "1", "--force"]);
    assert_eq!(code, 0, "{out}");
    assert_eq!(s.state()["parts"]["1"]["status"], "done");
}

#[test]
fn resume_after_a_crash_at_each_step_boundary() {
    for step in ["knowledge", "research", "write", "drop", "mark"] {
        let s = Sample::new();
        let out = s
            .cmd(&["run", "sample-expansion", "--all"])
            .env("EXPAND_FAULT", format!("{step}:2"))
            .output()
            .unwrap();
        assert!(
            !out.status.success(),
            "the fault hook at {step} stops the process"
        );
        assert_eq!(
            s.state()["parts"]["2"]["status"],
            "running",
            "{step}: PART 2 was interrupted"
        );
        let journal = s.path().join(".expand/state/sample-expansion.journal");
        assert!(journal.exists(), "{step}: the crash left the journal");
        let (code, out, err) = s.run(&["run", "sample-expansion", "--all"]);
        assert_eq!(code, 0, "{step}: {out}{err}");
        assert_finished(&s);
        assert_eq!(s.state()["parts"]["2"]["attempts"], 2, "{step}");
        // A finished run leaves one whole snapshot that says it all.
        assert!(!journal.exists(), "{step}: folded into the snapshot");
        let snapshot: serde_json::Value = serde_json::from_slice(
            &std::fs::read(s.path().join(".expand/state/sample-expansion.json")).unwrap(),
        )
        .unwrap();
        assert_eq!(snapshot["parts"], s.state()["parts"], "{step}");
    }
}

#[cfg(unix)]
#[test]
fn sigkill_at_random_moments_then_resume() {
    use std::time::{Duration, Instant};
    // Delays spread over the run's length; deterministic, so failures reproduce.
    for (trial, delay_ms) in [3u64, 11, 23, 37, 52, 70, 95, 130].into_iter().enumerate() {
        let s = Sample::new();
        let mut child = s
            .cmd(&["run", "sample-expansion", "--all"])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let start = Instant::now();
        while start.elapsed() < Duration::from_millis(delay_ms) {
            if child.try_wait().unwrap().is_some() {
                break;
            }
            std::thread::sleep(Duration::from_millis(1));
        }
        let _ = child.kill(); // SIGKILL
        let _ = child.wait();
        // Nothing half-written is visible in knowledge/, whatever the
        // moment: a write in flight is a hidden temp file beside its target
        // (same filesystem), which the next run removes.
        for (p, bytes) in s.knowledge() {
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            assert!(
                !name.starts_with('.') || name.ends_with(".expand-tmp"),
                "trial {trial}: {p:?} in knowledge/"
            );
            if TARGETS.iter().any(|t| p.ends_with(t)) {
                let text = String::from_utf8(bytes).unwrap();
                assert!(
                    text.contains("## Sources"),
                    "trial {trial}: {p:?} is complete"
                );
            }
        }
        let done_before: Vec<String> = s
            .state()
            .get("parts")
            .and_then(|p| p.as_object().cloned())
            .unwrap_or_default()
            .iter()
            .filter(|(_, v)| v["status"] == "done")
            .map(|(k, _)| k.clone())
            .collect();
        let (code, out, err) = s.run(&["run", "sample-expansion", "--all"]);
        assert_eq!(code, 0, "trial {trial}: {out}{err}");
        assert_finished(&s);
        let temps: Vec<_> = s
            .knowledge()
            .into_keys()
            .filter(|p| p.to_string_lossy().ends_with(".expand-tmp"))
            .collect();
        assert!(temps.is_empty(), "trial {trial}: left {temps:?}");
        // A PART finished before the kill was not run again.
        for k in done_before {
            assert_eq!(
                s.state()["parts"][&k]["attempts"],
                1,
                "trial {trial}: PART {k} ran twice"
            );
        }
    }
}

/// Bug: `expand run x --all | head -1` on a finished plan exited 101 with a
/// backtrace (`println!` panics on a closed pipe). A closed stdout is not
/// an error, for any command.
#[cfg(unix)]
#[test]
fn regression_a_closed_stdout_is_not_a_panic() {
    let s = Sample::new();
    assert_eq!(s.run(&["run", "sample-expansion", "--all"]).0, 0);
    let bin = assert_cmd::cargo::cargo_bin("expand");
    for args in [
        "run sample-expansion --all",
        "status",
        "review batch 1 sample-expansion",
        "validate",
        "--json run sample-expansion --all",
    ] {
        let out = std::process::Command::new("bash")
            .arg("-c")
            .arg(format!(
                // The reader is gone before expand writes its first byte.
                "{{ sleep 0.3; '{}' -C '{}' {args}; }} | true; echo \"status=${{PIPESTATUS[0]}}\"",
                bin.display(),
                s.path().display()
            ))
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stdout.contains("status=0"), "{args}: {stdout}{stderr}");
        assert!(!stderr.contains("panicked"), "{args}: {stderr}");
    }
}
