//! What a run shows while it runs and says when it ends (issue #18): the
//! progress bars a terminal gets (forced with `EXPAND_PROGRESS=tty` and
//! replayed as a terminal would show them), the plain lines anything else
//! gets, the `-v` trace of each PART's steps, and a summary sized for the
//! plan.

use expand::run::state::PartStatus;

use crate::util::Ws;

/// A temporary copy of the sample workspace (8 PARTs in 2 batches, offline).
fn sample() -> Ws {
    let ws = Ws::new();
    expand::testing::write_sample(ws.path()).unwrap();
    ws
}

/// The braille frames of indicatif's default spinner.
fn has_spinner(row: &str) -> bool {
    row.chars().any(|c| ('\u{2800}'..='\u{28ff}').contains(&c))
}

#[test]
fn forced_tty_folds_finished_parts_into_the_overall_bar() {
    let ws = sample();
    let out = ws
        .expand_env(
            &["run", "sample-expansion", "--all"],
            &[("EXPAND_PROGRESS", "tty"), ("COLUMNS", "120")],
        )
        .code(0);
    let (rows, frames) = expand::testing::screen(&out.stderr);
    // While it ran: a line per running PART, its number padded as the
    // summary pads it.
    assert!(
        frames
            .iter()
            .any(|f| has_spinner(f) && f.contains("PART   1 ")),
        "{frames:#?}"
    );
    // At the end: no PART's line is left, only the overall bar.
    assert_eq!(rows.len(), 1, "{rows:#?}\n--- raw\n{:?}", out.stderr);
    assert!(
        rows[0].starts_with("batch 2/2 [")
            && rows[0].contains("8/8 PARTs · 8 done · 0 failed · 0 need review"),
        "{rows:#?}"
    );
    // The summary is on stdout, as without bars.
    assert!(
        out.stdout.contains("batch 1: 4 done, 0 failed"),
        "{}",
        out.stdout
    );
}

#[test]
fn logs_print_above_the_bars_without_breaking_them() {
    let ws = sample();
    let out = ws
        .expand_env(
            &["-v", "run", "sample-expansion", "--all"],
            &[("EXPAND_PROGRESS", "tty"), ("COLUMNS", "400")],
        )
        .code(0);
    let (rows, _) = expand::testing::screen(&out.stderr);
    let (bar, logs) = rows.split_last().expect("a screen");
    assert!(bar.starts_with("batch 2/2 ["), "{rows:#?}");
    assert!(logs.len() > 20, "{rows:#?}");
    // Every other row is one whole log line: none cut into by a bar, no
    // PART's line left between them.
    for r in logs {
        assert!(r.starts_with(" INFO PART "), "{r:?} in {rows:#?}");
        assert!(!has_spinner(r) && !r.contains("PARTs ·"), "{r:?}");
    }
}

#[test]
fn plain_lines_when_stderr_is_not_a_terminal() {
    let ws = sample();
    let out = ws.expand(&["run", "sample-expansion", "--all"]).code(0);
    assert!(!out.stderr.contains('\x1b'), "{:?}", out.stderr);
    let lines: Vec<&str> = out.stderr.lines().collect();
    assert!(
        lines.contains(&"batch 1: starting PARTs 1, 2, 3, 4"),
        "{}",
        out.stderr
    );
    for n in 1..=8 {
        assert!(
            lines
                .iter()
                .any(|l| l.starts_with(&format!("PART {n}: done: "))),
            "PART {n}: {}",
            out.stderr
        );
    }
    // `plain` asks for the same on a terminal.
    let ws = sample();
    let forced = ws
        .expand_env(
            &["run", "sample-expansion", "--all"],
            &[("EXPAND_PROGRESS", "plain")],
        )
        .code(0);
    assert!(
        forced.stderr.contains("batch 2: starting PARTs 5, 6, 7, 8"),
        "{}",
        forced.stderr
    );
}

#[test]
fn verbose_traces_reads_with_their_resolution_and_greps_with_hits() {
    let ws = sample();
    let quiet = ws
        .expand(&["run", "sample-expansion", "--part", "1"])
        .code(0);
    assert!(!quiet.stderr.contains("INFO"), "{}", quiet.stderr);
    let ws = sample();
    // The hit count is the base's, counted by hand before the run writes into the folder: in the files of the
    // folder holding both words, the lines holding either (40 kept).
    let mut want = 0;
    for f in walkdir::WalkDir::new(ws.path().join("knowledge/rust-cli")) {
        let f = f.unwrap();
        if f.file_type().is_file() {
            let t = std::fs::read_to_string(f.path()).unwrap().to_lowercase();
            if t.contains("derive") && t.contains("subcommand") {
                want += t
                    .lines()
                    .filter(|l| l.contains("derive") || l.contains("subcommand"))
                    .count();
            }
        }
    }
    let want = want.min(40);
    assert!(want > 0, "the sample has lines for the grep");
    let out = ws
        .expand(&["-v", "run", "sample-expansion", "--part", "1"])
        .code(0);
    let e = &out.stderr;
    assert!(
        e.contains(
            "PART 1: read `rust-cli/00-argument-parsing.md` resolves to `rust-cli/00-argument-parsing.md`"
        ),
        "{e}"
    );
    assert!(
        e.contains("PART 1: read `rust-cli/00-argument-parsing.md`: ") && e.contains(" chars"),
        "{e}"
    );
    let grep = e
        .lines()
        .find(|l| l.contains("PART 1: grep \"derive\" AND \"Subcommand\" in rust-cli/: "))
        .unwrap_or_else(|| panic!("no grep line in\n{e}"));
    assert!(
        grep.contains(&format!(": {want} hit(s) in ")),
        "{grep} (want {want})"
    );
    assert!(
        e.contains("PART 1: search \"clap_mangen generate man page from clap Command\": ")
            && e.contains("(offline, from the knowledge base)"),
        "{e}"
    );
    assert!(
        e.contains("PART 1: write: the whole file in one answer by offline"),
        "{e}"
    );
    assert!(e.contains("continuation(s)"), "{e}");
    assert!(!e.contains("DEBUG") && !e.contains("TRACE"), "{e}");

    // `-vv` adds what each step handed on; `-vvv` every hit.
    let ws = sample();
    let vv = ws
        .expand(&["-vv", "run", "sample-expansion", "--part", "1"])
        .code(0);
    assert!(
        vv.stderr.contains("DEBUG PART 1: prompt: "),
        "{}",
        vv.stderr
    );
    assert!(
        vv.stderr.contains("DEBUG PART 1: knowledge: "),
        "{}",
        vv.stderr
    );
    assert!(!vv.stderr.contains("TRACE"), "{}", vv.stderr);
    let ws = sample();
    let vvv = ws
        .expand(&["-vvv", "run", "sample-expansion", "--part", "1"])
        .code(0);
    let hits = vvv
        .stderr
        .lines()
        .filter(|l| l.contains("TRACE PART 1: grep hit rust-cli/"))
        .count();
    assert_eq!(hits, want, "{}", vvv.stderr);
}

use crate::scale::plangen;

/// A 240-PART plan (batches of at most 4) whose PART 7 meets a file expand did
/// not write at its target, run whole with `--keep-going`.
fn big_run() -> (Ws, crate::util::Out) {
    let ws = Ws::new();
    // Most PARTs read an earlier one's file (and cite it: done); the
    // others cite nothing (needs review).
    let shape = plangen::Shape::lean(240);
    ws.write("expand.yaml", "batch_size: 4\n")
        .write(
            "knowledge/INDEX.md",
            "# Index\n\n## base\n\n| File | Description | Lines |\n|---|---|---|\n",
        )
        .write("knowledge/SKILL.md", "# Skill\n\nBench knowledge base.\n")
        .write("plans/big.md", shape.plan())
        .write(
            &format!("knowledge/{}", shape.target(7)),
            "# Someone's notes\n\nNot expand's.\n",
        );
    for (path, text) in plangen::knowledge_base() {
        ws.write(&format!("knowledge/{path}"), text);
    }
    std::fs::create_dir_all(ws.path().join("drops")).unwrap();
    let out = ws.expand_env(
        &["run", "big", "--all", "--keep-going"],
        &[("EXPAND_CLOCK", crate::review_util::CLOCK)],
    );
    (ws, out)
}

#[test]
fn a_240_part_summary_shows_counts_failures_and_reviews_not_every_part() {
    let (ws, out) = big_run();
    let out = out.code(1);
    insta::with_settings!({
        filters => vec![(r"\d+\.\d s\b", "[secs] s")],
        prepend_module_to_snapshot => false,
    }, {
        insta::assert_snapshot!("run_text_240_parts", out.stdout);
    });
    // What the run recorded, PART by PART.
    let st = expand::run::state::PlanState::load(&ws.jail(), "big").unwrap();
    let with = |status: PartStatus| -> Vec<u32> {
        st.parts
            .iter()
            .filter(|(_, p)| p.status == status)
            .map(|(n, _)| *n)
            .collect()
    };
    let (done, review, failed) = (
        with(PartStatus::Done),
        with(PartStatus::NeedsReview),
        with(PartStatus::Failed),
    );
    assert_eq!(failed, vec![7]);
    assert_eq!(done.len() + review.len() + failed.len(), 240);
    let lines: Vec<&str> = out.stdout.lines().collect();
    let batches = st.parts.values().map(|p| p.batch).max().unwrap();
    assert!(batches >= 60, "{batches}");
    // Counts for the whole run on one line.
    assert_eq!(
        lines[0],
        format!(
            "batches 1–{batches}: {} done{}, 1 failed in {}",
            done.len(),
            match review.len() {
                0 => String::new(),
                k => format!(", {k} need review"),
            },
            lines[0].rsplit(" in ").next().unwrap()
        ),
        "{}",
        out.stdout
    );
    // A row for the failure, rows for files to review up to twelve rows
    // in all, and a line for the rest.
    let rows: Vec<&str> = lines
        .iter()
        .copied()
        .filter(|l| {
            l.starts_with("  ✓ PART") || l.starts_with("  ⚠ PART") || l.starts_with("  ✗ PART")
        })
        .collect();
    assert_eq!(rows.len(), 1 + review.len().min(11), "{}", out.stdout);
    assert!(rows.iter().all(|r| !r.starts_with("  ✓")), "{}", out.stdout);
    assert!(rows
        .iter()
        .any(|r| r.starts_with("  ✗ PART   7  failed after 1 attempt: ")));
    for r in rows.iter().filter(|r| r.starts_with("  ⚠")) {
        let n: u32 = r["  ⚠ PART".len()..]
            .split_whitespace()
            .next()
            .unwrap()
            .parse()
            .unwrap();
        assert!(review.contains(&n), "{r}");
    }
    if review.len() > 11 {
        let more = format!(
            "  ⚠ {} more need review: `expand review batch N big` shows them",
            review.len() - 11
        );
        assert!(lines.contains(&more.as_str()), "{}", out.stdout);
    }
    if !done.is_empty() {
        let line = format!(
            "  ✓ {} PARTs done: `expand status big` lists them",
            done.len()
        );
        assert!(lines.contains(&line.as_str()), "{}", out.stdout);
    }
    // The PARTs to review are counted, not listed.
    let line = format!(
        "  {} PARTs need review: read them, then `expand review part N big --accept`, \
         or `expand reset big --part N` and run again",
        review.len()
    );
    assert!(
        review.len() <= 12 || lines.contains(&line.as_str()),
        "{}",
        out.stdout
    );
    assert!(lines.iter().all(|l| l.len() < 400), "{}", out.stdout);
    // One line for the batches to review.
    assert_eq!(
        lines
            .iter()
            .filter(|l| l.starts_with("  expand review batch"))
            .collect::<Vec<_>>(),
        vec![&format!(
            "  expand review batch N big    (N: 1–{batches}, the batches this run ran)"
        )],
        "{}",
        out.stdout
    );
    assert!(lines.len() < 40, "{}", out.stdout);
}
