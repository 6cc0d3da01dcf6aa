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

/// Every subcommand's help ends with examples (install lines for
/// completions), every positional says what it is, and `run`'s own options
/// stand apart from the global ones.
#[test]
fn help_teaches_with_examples_and_documents_every_argument() {
    let ws = Ws::new();
    let top = ws.expand(&["--help"]).code(0).stdout;
    let subs: Vec<String> = top
        .split("Commands:")
        .nth(1)
        .unwrap()
        .lines()
        .skip(1)
        .take_while(|l| !l.trim().is_empty())
        .filter(|l| l.starts_with("  ") && !l.starts_with("   "))
        .filter_map(|l| l.split_whitespace().next().map(str::to_string))
        .filter(|s| s != "help")
        .collect();
    assert!(subs.len() >= 12, "{subs:?}");
    for sub in &subs {
        let mut args = vec![sub.as_str()];
        if sub == "review" {
            args.push("batch");
        }
        args.push("--help");
        let help = ws.expand(&args).code(0).stdout;
        assert!(
            help.contains("Examples:") || help.contains("Install:"),
            "{sub} --help has no examples:\n{help}"
        );
        // A positional listed under Arguments has a description on its line or the next.
        if let Some(a) = help.split("Arguments:").nth(1) {
            for (i, l) in a.lines().enumerate() {
                let l = l.trim();
                if l.starts_with('<') || l.starts_with('[') {
                    let next = a.lines().nth(i + 1).unwrap_or("").trim();
                    let described = l.split_once(' ').is_some_and(|(_, d)| !d.trim().is_empty())
                        || !next.is_empty();
                    assert!(described, "{sub}: `{l}` is not described:\n{help}");
                }
                if l.ends_with(':') && !l.starts_with('<') && i > 0 {
                    break;
                }
            }
        }
    }
    let run = ws.expand(&["run", "--help"]).code(0).stdout;
    let run_opts = run.find("Run options:").unwrap();
    let global = run.find("Global options:").unwrap();
    assert!(
        run[run_opts..global].contains("--dry-run") && !run[run_opts..global].contains("--quiet"),
        "{run}"
    );
    insta::assert_snapshot!("run_help", run);
}

/// `expand man` is a roff page for expand and one per subcommand, built
/// from the same definitions as --help; it needs no workspace.
#[test]
fn man_prints_a_roff_page_per_command() {
    let ws = Ws::new();
    let out = ws.expand(&["man"]).code(0).stdout;
    assert!(
        out.starts_with(".ie") || out.contains(".TH expand 1"),
        "{}",
        &out[..200.min(out.len())]
    );
    for page in [
        "expand",
        "expand-run",
        "expand-validate",
        "expand-audit",
        "expand-new",
    ] {
        assert!(out.contains(&format!(".TH {page} 1")), "no page for {page}");
    }
    assert!(out.contains("Typical week"));
}

/// `--json`: every command that prints results prints JSON on stdout (one
/// document; one event per line for `run`), and an error is one JSON object
/// on stderr with the exit code.
#[test]
fn json_everywhere_and_errors_as_json() {
    let ws = Ws::new();
    let doc = |args: &[&str]| -> serde_json::Value {
        let mut a = vec!["--json"];
        a.extend_from_slice(args);
        let out = ws.expand(&a);
        assert!(
            out.code == 0 || out.code == 1,
            "{args:?}: {} {}",
            out.code,
            out.stderr
        );
        serde_json::from_str(out.stdout.trim())
            .unwrap_or_else(|e| panic!("{args:?}: not one JSON document ({e}):\n{}", out.stdout))
    };
    let init = doc(&["init"]);
    assert_eq!(init["adopted"], false);
    assert!(init["created"]
        .as_array()
        .unwrap()
        .iter()
        .any(|c| c == "expand.yaml"));
    ws.write(
        "knowledge/net/00-sockets.md",
        "# Sockets\n\nA socket is an endpoint.\n",
    );
    ws.write(
        "plans/p.md",
        "# Knowledge Expansion: P\n\n## PART 1: Retries (~40 lines)\n\n- [ ] PART 1: Create net/01-retries.md\n\n\
         **Step 0**\n- [ ] Read net/00-sockets.md\n\n## PART 2: Timeouts (~40 lines)\n\n- [ ] PART 2: Create net/02-timeouts.md\n",
    );
    assert!(doc(&["validate", "plans/p.md"])["plans"].is_array());
    let g = doc(&["graph", "p"]);
    assert_eq!(g["batches"][0]["parts"][0]["target"], "net/01-retries.md");
    let run = ws.expand(&["--json", "run", "p", "--all"]);
    assert!(run.code == 0 || run.code == 1, "{}", run.stderr);
    for line in run.stdout.lines() {
        serde_json::from_str::<serde_json::Value>(line).unwrap_or_else(|e| panic!("{e}: {line}"));
    }
    assert!(doc(&["status", "p"]).is_object());
    assert!(doc(&["review", "batch", "1", "p"]).is_object());
    assert_eq!(
        doc(&["reset", "p", "--part", "2"])["reset"],
        serde_json::json!([2])
    );
    assert_eq!(doc(&["fix-encoding", "p"])["changed"], false);
    assert!(doc(&["audit"]).is_object());

    let out = ws.expand(&["--json", "run", "nope"]).code(2);
    assert!(out.stdout.is_empty(), "{}", out.stdout);
    let e: serde_json::Value = serde_json::from_str(out.stderr.trim()).unwrap();
    assert_eq!(e["error"]["code"], 2);
    assert_eq!(e["error"]["message"], "no plan `nope`");
    let out = ws.expand(&["--json", "run", "--no-such-flag"]).code(2);
    let e: serde_json::Value = serde_json::from_str(out.stderr.trim()).unwrap();
    assert_eq!(e["error"]["code"], 2, "{}", out.stderr);
}

/// While a run holds the workspace, `status` says its PARTs are running
/// and names the process; once that process is gone (killed, no chance to
/// clean up), the same PARTs are interrupted and status says how to resume.
/// A second run is refused with the holder's pid and how long it has run.
#[cfg(unix)]
#[test]
fn status_tells_running_from_interrupted_and_the_lock_names_its_holder() {
    let ws = Ws::new();
    ws.write("knowledge/a/00-x.md", "# X\n");
    ws.write(
        "plans/p.md",
        "# Knowledge Expansion: P\n\n## PART 1: One\n\n- [ ] PART 1: Create a/01-one.md\n",
    );
    let started_file = ws.path().join("started");
    ws.write(
        "writer.sh",
        format!(
            "#!/bin/sh\ntouch '{}'\ncat >/dev/null\nsleep 60\n",
            started_file.display()
        ),
    );
    ws.write(
        "expand.yaml",
        format!(
            "writer:\n  kind: command\n  command: [sh, '{}']\n  timeout_s: 120\nsearch:\n  kind: offline\n",
            ws.path().join("writer.sh").display()
        ),
    );
    let mut child = crate::util::expand_std()
        .arg("-C")
        .arg(ws.path())
        .args(["run", "p"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let t0 = std::time::Instant::now();
    while !started_file.exists() {
        assert!(t0.elapsed().as_secs() < 30, "the writer never started");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let out = ws.expand(&["status", "p"]).code(0);
    assert!(
        out.stdout
            .contains(&format!("a run is in progress (pid {}", child.id())),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout.contains("1 running") && !out.stdout.contains("interrupted"),
        "{}",
        out.stdout
    );
    let v = ws.expand(&["--json", "status", "p"]).code(0).json();
    assert_eq!(v["live_run"]["pid"], child.id());
    assert_eq!(v["plans"][0]["batches"][0]["running"], 1);
    let busy = ws.expand(&["run", "p"]).code(3);
    assert!(
        busy.stderr.contains(&format!(
            "locked by another expand process (pid {}, running for",
            child.id()
        )),
        "{}",
        busy.stderr
    );
    // Killed without a chance to clean up: the lock goes with it.
    child.kill().unwrap();
    child.wait().unwrap();
    let out = ws.expand(&["status", "p"]).code(0);
    assert!(
        out.stdout.contains("1 interrupted") && !out.stdout.contains("in progress"),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout.contains("`expand run p` resumes it"),
        "{}",
        out.stdout
    );
}

/// An archived plan is the record of a consolidated run: nothing rewrites it.
#[test]
fn an_archived_plan_is_never_changed() {
    let ws = Ws::new();
    ws.write("knowledge/a/00-x.md", "# X\n");
    ws.write(
        "completed/old/plan.md",
        "# Knowledge Expansion: Old\n\n## PART 1: One\n\n- [✓] PART 1: Create a/00-x.md\n",
    );
    let before = ws.snapshot();
    for args in [&["reset", "old"][..], &["fix-encoding", "old"]] {
        let out = ws.expand(args).code(2);
        assert!(
            out.stderr.contains("is archived") && out.stderr.contains("under a new name"),
            "{args:?}: {}",
            out.stderr
        );
    }
    // A run has nothing to do, and says how to run it anew.
    let out = ws.expand(&["run", "old"]).code(0);
    assert!(
        out.stdout.contains("nothing to run") && out.stdout.contains("under a new name"),
        "{}",
        out.stdout
    );
    assert_eq!(ws.snapshot(), before);
    // Read-only commands still read it.
    ws.expand(&["status", "old"]).code(0);
}

/// A writer that cannot be reached is the environment's problem (exit 3),
/// and the summary says what to check before retrying.
#[test]
fn an_unreachable_provider_exits_3_and_says_what_to_check() {
    let ws = Ws::new();
    ws.write("knowledge/a/00-x.md", "# X\n");
    ws.write(
        "plans/p.md",
        "# Knowledge Expansion: P\n\n## PART 1: One\n\n- [ ] PART 1: Create a/01-one.md\n",
    );
    // A port nothing listens on: connections are refused at once.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    ws.write(
        "expand.yaml",
        format!("retries: 0\nwriter:\n  kind: openai\n  model: m\n  base_url: http://127.0.0.1:{port}/v1\n"),
    );
    let before = ws.read("plans/p.md");
    let out = ws.expand(&["run", "p"]).code(3);
    assert!(
        out.stdout.contains("a provider could not be reached"),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout.contains("expand run p --batch 1"),
        "{}",
        out.stdout
    );
    assert_eq!(ws.read("plans/p.md"), before, "the plan is not ticked");
}

/// The errors a newcomer meets first, as they read (text and --json).
#[test]
fn first_errors_read_as_they_should() {
    let ws = Ws::new();
    let outside = ws.expand(&["status"]).code(2).stderr;
    ws.write("knowledge/a/00-x.md", "# X\n");
    ws.write(
        "plans/garden.md",
        "# Knowledge Expansion: G\n\n## PART 1: A\n\n- [ ] PART 1: Create a/01-y.md\n",
    );
    let plan = ws.expand(&["run", "gardn"]).code(2).stderr;
    let plan_json = ws.expand(&["--json", "run", "gardn"]).code(2).stderr;
    ws.write("expand.yaml", "retries: 1\nbatch_sise: 3\n");
    let key = ws.expand(&["status"]).code(2).stderr;
    ws.write("expand.yaml", "writer:\n  kind: openia\n");
    let kind = ws.expand(&["status"]).code(2).stderr;
    ws.write("expand.yaml", "");
    let part = ws
        .expand(&["run", "garden", "--part", "4-2"])
        .code(2)
        .stderr;
    let all = format!(
        "$ expand status   (no workspace)\n{outside}\n$ expand run gardn\n{plan}\n$ expand --json run gardn\n{plan_json}\n\
         $ expand status   (batch_sise)\n{key}\n$ expand status   (kind: openia)\n{kind}\n$ expand run garden --part 4-2\n{part}"
    );
    let all = all.replace(&ws.path().display().to_string(), "[ws]");
    insta::assert_snapshot!("first_errors", all);
}

/// A rolling window runs several of the plan's batches as one; the review
/// hints name the plan's batches, which is what `review batch` takes.
#[test]
fn a_window_run_points_review_at_the_plans_batches() {
    let ws = Ws::new();
    ws.write("knowledge/a/00-x.md", "# X\n\nSockets and retries.\n");
    ws.write(
        "plans/p.md",
        "# Knowledge Expansion: P\n\n## PART 1: One\n\n- [ ] PART 1: Create a/01-one.md\n\n\
         ## PART 2: Two\n\n- [ ] PART 2: Create a/02-two.md\n",
    );
    let out = ws.expand(&["run", "p", "--all", "--window", "--batch-size", "1"]);
    assert!(out.code == 0 || out.code == 1, "{}", out.stderr);
    assert!(
        out.stdout.contains("expand review batch 1 p")
            && out.stdout.contains("expand review batch 2 p"),
        "{}",
        out.stdout
    );
    // The window is called a window, not "batch 1" (which `review batch 1`
    // would show only PART 1 of).
    let ends = |text: &str| {
        text.lines()
            .any(|l| l.trim_start().starts_with("window: ") && l.contains(" failed in "))
    };
    assert!(
        out.stderr.contains("window: starting PARTs 1, 2") && ends(&out.stderr),
        "{}",
        out.stderr
    );
    assert!(ends(&out.stdout), "{}", out.stdout);
    for text in [&out.stderr, &out.stdout] {
        assert!(!text.contains("batch 1:"), "{text}");
    }
}
