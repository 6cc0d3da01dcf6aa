//! `expand run`: pick the batches to run, build the providers, run, summarize.
//! `--dry-run` prints the schedule and what would be read and written.

use std::io::Write;
use std::sync::Arc;

use anyhow::Result;

use super::{load_plans, show, Ctx};
use crate::cli::RunArgs;
use crate::error::{bad_input, with_hint, Code};
use crate::graph::references::Resolution;
use crate::graph::PlanGraph;
use crate::plan::{ItemKind, Plan, Severity};
use crate::providers::cost::Spent;
use crate::report::progress::{bar_reporter_for_stderr, JsonReporter, LogReporter, Reporter};
use crate::run::needs_run;
use crate::run::runner::Outcome;
use crate::run::state::PlanState;
use crate::run::{Options, RunReport, Selection, Signal};
use crate::workspace::Workspace;

pub fn run(ws: &Workspace, ctx: &Ctx, args: RunArgs) -> Result<Code> {
    let batch_size = args.batch_size.unwrap_or(ws.config.batch_size);
    if batch_size == 0 {
        return Err(bad_input("--batch-size must be at least 1"));
    }
    let file = ws.find_plan(&args.plan)?;
    let mut loaded = load_plans(ws, std::slice::from_ref(&file), batch_size)?;
    let plan = loaded.plans.remove(0);
    let graph = loaded.graphs.remove(0);
    let errors: Vec<_> = plan
        .diagnostics
        .iter()
        .filter(|d| d.severity == Severity::Error)
        .collect();
    if !errors.is_empty() {
        let mut msg = format!(
            "`{}` has {} error(s); nothing was run",
            show(&plan.path),
            errors.len()
        );
        for d in errors.iter().take(5) {
            msg.push_str(&format!(
                "\n  {}:{}: {}",
                show(&plan.path),
                d.line,
                d.message
            ));
        }
        return Err(with_hint(
            Code::BadInput,
            msg,
            format!("`expand validate {}` lists every problem", show(&plan.path)),
        ));
    }
    if args.dry_run {
        return dry_run(ws, ctx, &plan, &graph, &args);
    }
    // A consolidated plan has nothing left to run, and nothing to suggest
    // but running it anew under another name.
    if ws.is_archived(&file) {
        let shown = show(&plan.path);
        if ctx.json {
            writeln!(
                std::io::stdout().lock(),
                "{}",
                serde_json::json!({"event": "archived", "plan": plan.slug, "path": shown})
            )?;
        } else {
            writeln!(
                std::io::stdout().lock(),
                "`{shown}` is archived (its run was consolidated): nothing to run.\n\
                 To run it again, copy it into `{}` under a new name.",
                show(&ws.show(&ws.plans_dir()))
            )?;
        }
        return Ok(Code::Ok);
    }

    ws.plan_to_change(&file)?;
    let _lock = super::lock(ws)?;
    let opts = options(ws, &args, batch_size);
    let reporter: Arc<dyn Reporter> = if ctx.json {
        Arc::new(JsonReporter)
    } else if let Some(bars) = (!ctx.quiet).then(bar_reporter_for_stderr).flatten() {
        Arc::new(bars)
    } else {
        Arc::new(LogReporter { quiet: ctx.quiet })
    };
    let report = crate::run::execute(ws, &plan, &graph, &file, &opts, reporter).map_err(|e| {
        let code = e.code();
        match e.hint() {
            Some(h) => with_hint(code, e.to_string(), h),
            None => crate::error::Fail {
                code,
                message: e.to_string(),
                hint: None,
            }
            .into(),
        }
    })?;
    let mut out = std::io::stdout().lock();
    if let Some(kept) = &report.set_aside {
        eprintln!(
            "note: the run state under `{}` belonged to another plan named `{}`; kept it as `{}` and started afresh",
            PlanState::path(&plan.slug).display(),
            plan.slug,
            kept.display()
        );
    }
    if report.nothing_to_do {
        if ctx.json {
            writeln!(
                out,
                "{}",
                serde_json::json!({"event": "nothing_to_do", "plan": plan.slug})
            )?;
        } else {
            writeln!(
                out,
                "{}: all {} PARTs are done; nothing to run",
                show(&plan.path),
                plan.parts.len()
            )?;
            writeln!(out, "next: expand consolidate {}", plan.slug)?;
        }
        return Ok(Code::Ok);
    }
    if let Some((signal, stopped)) = &report.stopped_by {
        return interrupted(ctx, &plan, *signal, stopped);
    }
    drop(out);
    summary(ctx, ws, &plan, &graph, &report)
}

/// The run's options from the command line.
fn options(ws: &Workspace, args: &RunArgs, batch_size: usize) -> Options {
    Options {
        selection: if !args.parts.is_empty() {
            Selection::Parts(crate::cli::part_numbers(&args.parts))
        } else if let Some(k) = args.batch {
            Selection::Batch(k)
        } else {
            Selection::Next
        },
        all: args.all,
        keep_going: args.keep_going,
        batch_size,
        retries: args.retries.unwrap_or(ws.config.retries),
        force: args.force,
        provider: args.provider.clone(),
        window: args.window || ws.config.window,
    }
}

/// After a signal: what was interrupted and how to go on.
fn interrupted(ctx: &Ctx, plan: &Plan, signal: Signal, stopped: &[u32]) -> Result<Code> {
    let name = signal.name();
    if ctx.json {
        writeln!(
            std::io::stdout().lock(),
            "{}",
            serde_json::json!({"event": "interrupted", "plan": plan.slug, "signal": name, "parts": stopped})
        )?;
    }
    let list = crate::report::numbers(stopped);
    let mut err = std::io::stderr().lock();
    if stopped.is_empty() {
        let _ = writeln!(err, "stopped by {name}; no PART was running");
    } else {
        let _ = writeln!(
            err,
            "stopped by {name}: PART {list} interrupted (writers ended); they are pending and run again next time"
        );
    }
    let _ = writeln!(err, "resume: expand run {} --all", plan.slug);
    Ok(signal.code())
}

/// PART rows (and batch lines) a summary prints in full; a bigger run
/// shows its failures and files to review, and points to `expand status`.
const SUMMARY_ROWS: usize = 12;
/// `expand review batch N` lines listed one by one at most.
const REVIEW_LINES: usize = 3;

fn summary(
    ctx: &Ctx,
    ws: &Workspace,
    plan: &Plan,
    graph: &PlanGraph,
    report: &RunReport,
) -> Result<Code> {
    let state = &report.state;
    let results = &report.batches;
    let kdir = &ws.knowledge_dir();
    let stopped_on_failure = report.stopped_on_failure;
    let budget_stop = report.budget_stop.as_ref();
    let any_failed = results.iter().any(|r| r.outcomes.iter().any(|o| !o.ok));
    // A provider account not set up for the run is the environment's to fix.
    let setup_failed = results
        .iter()
        .any(|r| r.outcomes.iter().any(|o| o.setup_hint.is_some()));
    // Every failure a provider that could not be reached: the network's or
    // the endpoint's to fix (SPEC: exit 3), not the plan's.
    let failures: Vec<&crate::run::runner::Outcome> = results
        .iter()
        .flat_map(|r| r.outcomes.iter())
        .filter(|o| !o.ok)
        .collect();
    let unreachable = !failures.is_empty() && failures.iter().all(|o| o.unreachable);
    let review: Vec<u32> = results
        .iter()
        .flat_map(|r| &r.outcomes)
        .filter(|o| o.needs_review)
        .map(|o| o.part)
        .collect();
    let usage_of = |n: u32| {
        let p = state.part(n);
        let tokens = p.map(|p| p.usage.total()).unwrap_or(0);
        (tokens, p.and_then(|p| p.cost))
    };
    let remaining: Vec<u32> = graph
        .batches
        .iter()
        .filter(|b| {
            b.parts
                .iter()
                .any(|n| needs_run(plan.part(*n).expect("PART"), state, kdir))
        })
        .map(|b| b.number)
        .collect();
    if ctx.json {
        let v = serde_json::json!({
            "event": "summary",
            "plan": plan.slug,
            "batches": results.iter().map(|r| serde_json::json!({
                "batch": r.batch, "wall_ms": r.wall_ms,
                "parts": r.outcomes.iter().map(|o| {
                    let (tokens, cost) = usage_of(o.part);
                    serde_json::json!({"part": o.part, "ok": o.ok, "status": if o.needs_review { "needs-review" } else if o.ok { "done" } else { "failed" }, "target": o.target, "lines": o.lines, "attempts": o.attempts, "error": o.error, "hint": o.setup_hint, "tokens": tokens, "cost": cost})
                }).collect::<Vec<_>>(),
                "not_started": r.not_started,
            })).collect::<Vec<_>>(),
            "remaining_batches": remaining,
            "budget_reached": budget_stop.map(|b| serde_json::json!({"reason": b.why, "not_started": b.not_started, "cost": b.spent.cost, "tokens": b.spent.tokens})),
        });
        writeln!(std::io::stdout().lock(), "{v}")?;
    } else {
        let s = ctx.style;
        let out = std::io::stdout();
        let mut out = out.lock();
        // One row per PART while the plan is small; past that, the rows
        // worth reading (failures, files to review) and a pointer for the rest.
        let rows: usize = results.iter().map(|r| r.outcomes.len()).sum();
        let compact = rows > SUMMARY_ROWS;
        let header = |label: String, outcomes: &mut dyn Iterator<Item = &Outcome>, wall_ms: u64| {
            let (mut done, mut to_review, mut failed) = (0, 0, 0);
            for o in outcomes {
                match (o.ok, o.needs_review) {
                    (false, _) => failed += 1,
                    (true, true) => to_review += 1,
                    (true, false) => done += 1,
                }
            }
            let review_note = if to_review > 0 {
                format!(", {to_review} need review")
            } else {
                String::new()
            };
            s.bold(&format!(
                "{label}: {done} done{review_note}, {failed} failed in {:.1} s",
                wall_ms as f64 / 1000.0
            ))
        };
        let row = |out: &mut dyn Write, o: &Outcome| -> std::io::Result<()> {
            let label = crate::report::part_label(o.part);
            if o.ok {
                let path = ws.show(&ws.knowledge_dir().join(o.target.as_deref().unwrap_or("")));
                let drop = state
                    .part(o.part)
                    .and_then(|p| p.drop.clone())
                    .unwrap_or_default();
                let spent = match usage_of(o.part) {
                    (0, _) => String::new(),
                    (t, Some(c)) => {
                        format!(", {t} tokens, {}", crate::providers::cost::dollars(c))
                    }
                    (t, None) => format!(", {t} tokens"),
                };
                let mark = if o.needs_review {
                    s.yellow("⚠")
                } else {
                    s.green("✓")
                };
                writeln!(
                    out,
                    "  {mark} {label}  {} ({} lines{spent})  drop: {drop}",
                    path.display(),
                    o.lines
                )?;
                if o.needs_review {
                    let problems = state
                        .part(o.part)
                        .map(|p| p.problems.clone())
                        .unwrap_or_default();
                    writeln!(out, "             needs review: {}", problems.join("; "))?;
                }
            } else {
                writeln!(
                    out,
                    "  {} {label}  failed after {} attempt{}: {}",
                    s.red("✗"),
                    o.attempts,
                    if o.attempts == 1 { "" } else { "s" },
                    o.error.as_deref().unwrap_or("unknown error")
                )?;
                if let Some(h) = &o.setup_hint {
                    writeln!(out, "             hint: {h}")?;
                }
            }
            Ok(())
        };
        // Compact: every failure, and files to review while the rows last.
        let failures = results
            .iter()
            .flat_map(|r| &r.outcomes)
            .filter(|o| !o.ok)
            .count();
        let review_rows = std::cell::Cell::new(SUMMARY_ROWS.saturating_sub(failures));
        let worth_a_row = |o: &&Outcome| {
            if !compact || !o.ok {
                return true;
            }
            let left = review_rows.get();
            let shown = o.needs_review && left > 0;
            if shown {
                review_rows.set(left - 1);
            }
            shown
        };
        if results.len() <= SUMMARY_ROWS {
            for r in results {
                writeln!(
                    out,
                    "{}",
                    header(
                        crate::report::progress::unit(r.batch, r.window),
                        &mut r.outcomes.iter(),
                        r.wall_ms
                    )
                )?;
                for o in r.outcomes.iter().filter(worth_a_row) {
                    row(&mut out, o)?;
                }
            }
        } else {
            let numbers: Vec<u32> = results.iter().map(|r| r.batch).collect();
            writeln!(
                out,
                "{}",
                header(
                    format!("batches {}", crate::report::ranges(&numbers)),
                    &mut results.iter().flat_map(|r| &r.outcomes),
                    results.iter().map(|r| r.wall_ms).sum()
                )
            )?;
            // One list for the whole run, in PART order.
            let mut all: Vec<&Outcome> = results.iter().flat_map(|r| &r.outcomes).collect();
            all.sort_by_key(|o| o.part);
            for o in all.into_iter().filter(worth_a_row) {
                row(&mut out, o)?;
            }
        }
        if compact {
            let hidden = review
                .len()
                .saturating_sub(SUMMARY_ROWS.saturating_sub(failures));
            if hidden > 0 {
                writeln!(
                    out,
                    "  {} {hidden} more need review: `expand review batch N {}` shows them",
                    s.yellow("⚠"),
                    plan.slug
                )?;
            }
            let done = results
                .iter()
                .flat_map(|r| &r.outcomes)
                .filter(|o| o.ok && !o.needs_review)
                .count();
            if done > 0 {
                writeln!(
                    out,
                    "  {} {done} PARTs done: `expand status {}` lists them",
                    s.green("✓"),
                    plan.slug
                )?;
            }
        }
        let Spent { tokens, cost } = state.spent();
        // A cost is shown only when a price made one (none for offline or
        // an unpriced model: not $0).
        let priced = state.parts.values().any(|p| p.cost.is_some());
        match (tokens, priced) {
            (0, _) => {}
            (t, true) => writeln!(
                out,
                "tokens: {t}  cost: {}",
                crate::providers::cost::dollars(cost)
            )?,
            (t, false) => writeln!(out, "tokens: {t}  (no price for the model)")?,
        }
        if let Some(b) = budget_stop {
            let list = crate::report::numbers(&b.not_started);
            writeln!(
                out,
                "{}",
                s.bold(&format!(
                    "budget reached ({}): stopped before PART {list}; not started, still pending",
                    b.why
                ))
            )?;
        }
        writeln!(
            out,
            "results: knowledge files in {}, drops in {}/{}/, run state in .expand/",
            match show(&ws.show(&ws.knowledge_dir())) {
                k if k.is_empty() => "the workspace".to_string(),
                k => format!("{k}/"),
            },
            ws.show(&ws.drops_dir()).display(),
            plan.slug
        )?;
        writeln!(out, "next:")?;
        // The plan's batches whose PARTs ran: a rolling window runs several
        // as one, and `review batch` takes the plan's numbers.
        let ran: std::collections::BTreeSet<u32> = results
            .iter()
            .flat_map(|r| r.outcomes.iter())
            .filter_map(|o| graph.node(o.part).map(|n| n.batch))
            .collect();
        if ran.len() <= REVIEW_LINES {
            for b in &ran {
                writeln!(out, "  expand review batch {b} {}", plan.slug)?;
            }
        } else {
            let numbers: Vec<u32> = ran.iter().copied().collect();
            writeln!(
                out,
                "  expand review batch N {}    (N: {}, the batches this run ran)",
                plan.slug,
                crate::report::ranges(&numbers)
            )?;
        }
        if !review.is_empty() {
            // A long list reads as its count; `expand status` has the numbers.
            let who = match (compact, review.len()) {
                (true, k) if k > SUMMARY_ROWS => format!("{k} PARTs"),
                (true, _) => format!("PART {}", crate::report::ranges(&review)),
                (false, _) => format!("PART {}", crate::report::numbers(&review)),
            };
            writeln!(
                out,
                "  {who} need{} review: read them, then `expand review part N {} --accept`, \
                 or `expand reset {} --part N` and run again",
                if review.len() == 1 { "s" } else { "" },
                plan.slug,
                plan.slug
            )?;
        }
        if any_failed {
            let failed = || {
                results
                    .iter()
                    .flat_map(|r| r.outcomes.iter())
                    .filter(|o| !o.ok)
            };
            // A failure that running again cannot change: say what must change.
            let stuck: Vec<u32> = failed().filter(|o| o.permanent).map(|o| o.part).collect();
            if !stuck.is_empty() {
                let list = match compact {
                    true => crate::report::ranges(&stuck),
                    false => crate::report::numbers(&stuck),
                };
                let args: Vec<String> = stuck.iter().map(u32::to_string).collect();
                writeln!(
                    out,
                    "  PART {list} cannot succeed as planned (see the error above): pass --force to \
                     replace a file expand did not write, or edit the plan; then \
                     `expand run {} --part {}`",
                    plan.slug,
                    args.join(" ")
                )?;
            }
            if let Some(r) = results
                .iter()
                .find(|r| r.outcomes.iter().any(|o| !o.ok && !o.permanent))
            {
                if unreachable {
                    writeln!(
                        out,
                        "  a provider could not be reached: check the network and the base_url in expand.yaml, then"
                    )?;
                }
                writeln!(
                    out,
                    "  expand run {} --batch {}    (retry the failed PARTs)",
                    plan.slug, r.batch
                )?;
            }
            if stopped_on_failure {
                writeln!(
                    out,
                    "  (stopped after a batch with a failure; --keep-going runs on)"
                )?;
            }
        }
        if budget_stop.is_some() {
            writeln!(
                out,
                "  raise budget.max_cost / budget.max_tokens in expand.yaml (they count every run of this plan), then:"
            )?;
            writeln!(
                out,
                "  expand run {} --all    (starts the PARTs left pending)",
                plan.slug
            )?;
        }
        match remaining
            .iter()
            .find(|b| !results.iter().any(|r| r.batch == **b))
            .filter(|_| budget_stop.is_none())
        {
            Some(b) => writeln!(
                out,
                "  expand run {}    (batch {b} of {})",
                plan.slug,
                graph.batches.len()
            )?,
            None if remaining.is_empty() && !review.is_empty() => writeln!(
                out,
                "  expand consolidate {}    (every PART has run; once those are accepted or run again)",
                plan.slug
            )?,
            None if remaining.is_empty() => writeln!(
                out,
                "  expand consolidate {}    (every PART has run)",
                plan.slug
            )?,
            None => {}
        }
    }
    // Stopped by the budget is work left undone: a script must not go on as if it ran.
    Ok(if setup_failed || unreachable {
        Code::Environment
    } else if any_failed || !review.is_empty() || budget_stop.is_some() {
        Code::WorkFailed
    } else {
        Code::Ok
    })
}

/// `--dry-run`: the schedule, the resolved reads, the queries, the files that
/// would be written. Calls no provider and writes nothing.
fn dry_run(
    ws: &Workspace,
    ctx: &Ctx,
    plan: &Plan,
    graph: &PlanGraph,
    args: &RunArgs,
) -> Result<Code> {
    let (state, _) = super::load_state(ws, plan)?;
    let kdir = ws.knowledge_dir();
    let opts = Options {
        all: true,
        ..options(ws, args, args.batch_size.unwrap_or(ws.config.batch_size))
    };
    let selected = crate::run::execute::select(plan, graph, &state, &kdir, &opts)
        .map_err(|e| bad_input(e.to_string()))?;
    let now = crate::clock::now();
    let (date, hhmm) = crate::clock::date_and_hhmm(now);
    let kshow = ws.show(&kdir);
    let dshow = ws.show(&ws.drops_dir().join(&plan.slug));
    let mut json_batches = Vec::new();
    // Buffered: stdout alone writes each line of a long dry run by itself.
    let out = std::io::stdout();
    let mut out = std::io::BufWriter::with_capacity(1 << 16, out.lock());
    if !ctx.json {
        writeln!(
            out,
            "{} — dry run, nothing is called or written",
            plan.title
        )?;
        // What the same command without --dry-run would cover.
        let scope = if !args.parts.is_empty() {
            "the PARTs named with --part".to_string()
        } else if let Some(b) = args.batch {
            format!("batch {b}")
        } else {
            match selected.first() {
                None => "nothing: every PART has run".to_string(),
                Some(_) if args.all => "every remaining batch (--all)".to_string(),
                Some((b, _)) => format!(
                    "every remaining batch; `expand run {}` runs batch {} (the next with pending PARTs), --all the rest",
                    plan.slug, b.number
                ),
            }
        };
        writeln!(out, "scope: {scope}")?;
    }
    // Batch number → the PARTs of it that would run (the first selection
    // of that number, as a search of the list would find).
    let mut runs: std::collections::HashMap<u32, std::collections::HashSet<u32>> =
        std::collections::HashMap::new();
    for (x, v) in &selected {
        runs.entry(x.number)
            .or_insert_with(|| v.iter().copied().collect());
    }
    let none = std::collections::HashSet::new();
    for b in &graph.batches {
        let run_now = runs.get(&b.number).unwrap_or(&none);
        if !ctx.json {
            let title = if b.title.is_empty() {
                String::new()
            } else {
                format!(": {}", b.title)
            };
            writeln!(
                out,
                "\nbatch {}{title} (at most {} at once)",
                b.number,
                args.batch_size.unwrap_or(ws.config.batch_size)
            )?;
        }
        let mut jparts = Vec::new();
        for &n in &b.parts {
            let part = plan.part(n).expect("PART");
            let node = graph.node(n).expect("node");
            let will = run_now.contains(&n);
            let target = part.target.as_deref().map(|t| show(&kshow.join(t)));
            let drop = format!(
                "{}/{}",
                show(&dshow),
                crate::steps::drop::file_name(part, &date, &hhmm)
            );
            let reads: Vec<(String, String, &str)> = node
                .reads
                .iter()
                .map(|r| {
                    let to = match &r.resolution {
                        Resolution::Existing(p) => p.to_string(),
                        Resolution::Planned {
                            path,
                            part: q,
                            plan: _,
                        } => format!("{path} (written by PART {q})"),
                        Resolution::Folder(f) => format!("{f} (folder)"),
                        Resolution::Glob(v) => format!("{} file(s)", v.len()),
                        Resolution::Unresolved => "not yet created".to_string(),
                    };
                    (r.reference.to_string(), to, r.kind.as_str())
                })
                .collect();
            let greps: Vec<String> = part
                .items()
                .filter(|i| matches!(i.kind, ItemKind::Grep { .. }))
                .map(|i| i.text.to_string())
                .collect();
            let queries: Vec<&str> = part.queries().collect();
            // What a run would find at the target: nothing, expand's own
            // file (replaced), or someone else's (refused).
            let exists_note = |t: &str| -> &'static str {
                match ws.fs.read_opt(t) {
                    Ok(None) => "",
                    Ok(Some(b)) if args.force || state.owns(t, &b) => {
                        "  (exists: expand wrote it, replaced)"
                    }
                    _ => {
                        "  (exists and is not expand's: this PART would fail; --force replaces it)"
                    }
                }
            };
            if ctx.json {
                jparts.push(serde_json::json!({"part": n, "runs": will, "status": part.status.as_str(), "depends_on": node.depends_on, "target": target, "target_exists": target.as_deref().map(|t| !exists_note(t).is_empty()), "drop": if will { Some(&drop) } else { None }, "reads": reads.iter().map(|(a, b, k)| serde_json::json!({"ref": a, "resolved": b, "kind": k})).collect::<Vec<_>>(), "greps": greps, "queries": queries}));
                continue;
            }
            let after = if node.depends_on.is_empty() {
                String::new()
            } else {
                format!(
                    " (after PART {})",
                    node.depends_on
                        .iter()
                        .map(|d| d.to_string())
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            };
            let mark = if will { "run " } else { "skip" };
            writeln!(out, "  {mark} PART {n}: {}{after}", part.title)?;
            if !will {
                continue;
            }
            for (r, to, kind) in &reads {
                let why = if *kind == "influence" {
                    " (influential file)"
                } else {
                    ""
                };
                writeln!(out, "       read   {r} → {to}{why}")?;
            }
            for g in &greps {
                writeln!(out, "       grep   {g}")?;
            }
            for q in &queries {
                writeln!(out, "       search \"{q}\"")?;
            }
            match &target {
                Some(t) => writeln!(out, "       write  {t}{}", exists_note(t))?,
                None => writeln!(out, "       write  (no target: this PART would fail)")?,
            }
            writeln!(out, "       write  {drop}")?;
            writeln!(
                out,
                "       tick   {}:{}",
                show(&plan.path),
                part.status_line.unwrap_or(part.line)
            )?;
        }
        json_batches
            .push(serde_json::json!({"batch": b.number, "title": b.title, "parts": jparts}));
    }
    if ctx.json {
        writeln!(
            out,
            "{}",
            serde_json::json!({"plan": plan.slug, "dry_run": true, "batches": json_batches})
        )?;
    } else {
        let n: usize = selected.iter().map(|(_, v)| v.len()).sum();
        writeln!(out, "\n{n} PART(s) would run; nothing was changed")?;
    }
    out.flush()?;
    Ok(Code::Ok)
}
