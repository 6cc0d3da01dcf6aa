//! `expand run`: pick the batches to run, build the providers, run, summarize.
//! `--dry-run` prints the schedule and what would be read and written.

use std::io::{IsTerminal, Write};
use std::sync::{Arc, Mutex, RwLock};

use anyhow::{Context, Result};

use super::{load_plans, show, Ctx};
use crate::cli::RunArgs;
use crate::error::{bad_input, with_hint, Code};
use crate::graph::references::Resolution;
use crate::graph::{Batch, PlanGraph, RefKind};
use crate::knowledge::scan::KnowledgeBase;
use crate::plan::{ItemKind, Plan, Severity};
use crate::providers::cost::{BudgetTracker, Spent};
use crate::report::progress::{BarReporter, JsonReporter, LogReporter, Reporter};
use crate::run::needs_run;
use crate::run::runner::{PlanEdits, Shared};
use crate::run::scheduler::{run_batch, BatchResult};
use crate::run::state::{Journal, PlanState, StateCommit};
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

    ws.plan_to_change(&file)?;
    let _lock = super::lock(ws)?;
    let (state, other_plan) = super::load_state(ws, &plan)?;
    let kdir = ws.knowledge_dir();

    // What to run.
    let selected: Vec<(Batch, Vec<u32>)> = select(&plan, &graph, &state, &kdir, &args)?;
    if selected.is_empty() {
        let done = plan.parts.len();
        if ctx.json {
            println!(
                "{}",
                serde_json::json!({"event": "nothing_to_do", "plan": plan.slug})
            );
        } else {
            println!(
                "{}: all {done} PARTs are done; nothing to run",
                show(&plan.path)
            );
            println!("next: expand consolidate {}", plan.slug);
        }
        return Ok(Code::Ok);
    }

    // A run killed while writing left temp files in the folders it writes
    // to; nothing refers to them.
    let drops = ws.drops_dir().join(&plan.slug);
    let mut folders: std::collections::BTreeSet<std::path::PathBuf> = plan
        .parts
        .iter()
        .filter_map(|p| p.target.as_deref())
        .filter_map(|t| kdir.join(t).parent().map(|d| d.to_path_buf()))
        .collect();
    folders.extend([drops.clone(), ws.root.join(crate::run::state::STATE_DIR)]);
    folders.extend(file.parent().map(|d| d.to_path_buf()));
    for f in &folders {
        ws.fs.clean_temp_files(f);
    }
    // Folders every PART writes to: found unwritable now, before any paid work.
    for (what, dir) in [
        ("drops", &drops),
        ("plan", &file.parent().unwrap_or(&ws.root).to_path_buf()),
    ] {
        ws.fs.probe_writable(dir).map_err(|e| {
            crate::error::with_hint(
                Code::Environment,
                format!(
                    "cannot write in the {what} folder `{}`: {e}",
                    ws.show(dir).display()
                ),
                "make it writable (or free some disk space); nothing was run",
            )
        })?;
    }

    let kb = KnowledgeBase::scan(&ws.fs, &kdir, &ws.non_knowledge_dirs()).with_context(|| {
        format!(
            "failed to read the knowledge base `{}`",
            ws.show(&kdir).display()
        )
    })?;
    let (writer, search, fetch) = crate::providers::build(
        &ws.config,
        args.provider.as_deref(),
        &kb,
        &ws.state_dir().join("cache"),
    )?;
    let total: usize = selected.iter().map(|(_, p)| p.len()).sum();
    let reporter: Arc<dyn Reporter> = if ctx.json {
        Arc::new(JsonReporter)
    } else if std::io::stderr().is_terminal() && !ctx.quiet {
        Arc::new(BarReporter::new(total as u64))
    } else {
        Arc::new(LogReporter { quiet: ctx.quiet })
    };
    let fault = crate::testing::fault();
    // The budget covers every run of the plan: start from what its PARTs spent before.
    let budget = BudgetTracker::new(&ws.config.budget).with_spent(state.spent());
    let mut st = state;
    st.slug = plan.slug.clone();
    st.plan_path = show(&ws.show(&file));
    st.plan_title = Some(plan.title.clone());
    st.version = crate::run::state::VERSION;
    if other_plan {
        // Another plan ran under this name: keep its state aside, start afresh.
        match crate::run::state::PlanState::set_aside(&ws.fs, &plan.slug) {
            Ok(Some(kept)) => eprintln!(
                "note: the run state under `{}` belonged to another plan named `{}`; kept it as `{}` and started afresh",
                crate::run::state::PlanState::path(&plan.slug).display(),
                plan.slug,
                kept.display()
            ),
            Ok(None) => {}
            Err(e) => {
                return Err(e).context("failed to set aside another plan's run state")
            }
        }
    }
    // Folds a crashed run's journal into the snapshot and starts this run's.
    let journal = Journal::open(&ws.fs, &st).with_context(|| {
        format!(
            "failed to write the run state in `{}`",
            ws.show(&ws.state_dir()).display()
        )
    })?;
    let sh = Arc::new(Shared {
        root: ws.root.clone(),
        fs: ws.fs.clone(),
        knowledge_dir: kdir,
        drops_dir: ws.drops_dir(),
        plan_file: file.clone(),
        plan_shown: show(&ws.show(&file)),
        plan: plan.clone(),
        graph: graph.clone(),
        kb: RwLock::new(kb),
        state: Mutex::new(st),
        state_commit: StateCommit::new(journal),
        plan_edit: Mutex::new(PlanEdits::from_plan(&plan)),
        writer,
        search,
        fetch,
        reporter: Arc::clone(&reporter),
        config: ws.config.clone(),
        budget,
        retries: args.retries.unwrap_or(ws.config.retries),
        force: args.force,
        fault,
        stop: std::sync::atomic::AtomicBool::new(false),
    });
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("failed to start the async runtime")?;
    let mut results: Vec<BatchResult> = Vec::new();
    let mut not_started: Vec<u32> = Vec::new();
    let stopped_by = rt.block_on(async {
        let work = async {
            for (batch, parts) in &selected {
                if sh.budget.exhausted().is_some() {
                    not_started.extend(parts);
                    continue;
                }
                let r = run_batch(Arc::clone(&sh), batch, parts, batch_size).await;
                let failed = r.outcomes.iter().any(|o| !o.ok);
                not_started.extend(&r.not_started);
                results.push(r);
                if failed && args.all && !args.keep_going {
                    break;
                }
            }
        };
        tokio::select! {
            () = work => None,
            signal = stop_signal() => {
                // Start nothing more; the batches' tasks are aborted as
                // their future is dropped here, and the writer commands
                // (with whatever they started) end now.
                sh.stop.store(true, std::sync::atomic::Ordering::SeqCst);
                crate::providers::command::kill_all();
                Some(signal)
            }
        }
    });
    reporter.finish();
    if let Some(signal) = stopped_by {
        // Writers started between the select and now, if any.
        crate::providers::command::kill_all();
        return interrupted(ctx, ws, &plan, &sh, signal);
    }
    let state = sh.state.lock().expect("state lock").clone();
    // Every change is in the journal already; this only makes it one file again.
    if let Err(e) = state.save(&ws.fs) {
        tracing::warn!("failed to fold the run state journal into its snapshot: {e}");
    }
    not_started.sort_unstable();
    let budget_stop = match sh.budget.exhausted() {
        Some(why) if !not_started.is_empty() => Some(BudgetStop {
            why,
            not_started,
            spent: sh.budget.spent(),
        }),
        _ => None,
    };
    summary(
        ctx,
        ws,
        &plan,
        &graph,
        &state,
        &results,
        &ws.knowledge_dir(),
        args.all && !args.keep_going,
        budget_stop.as_ref(),
    )
}

/// The signal that stops a run: SIGINT (Ctrl-C) or SIGTERM.
#[derive(Clone, Copy, Debug)]
enum Signal {
    Int,
    Term,
}

/// Wait for SIGINT or SIGTERM. If the handlers cannot be installed, never
/// resolves (the default action, ending the process, stays).
async fn stop_signal() -> Signal {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        match (
            signal(SignalKind::interrupt()),
            signal(SignalKind::terminate()),
        ) {
            (Ok(mut int), Ok(mut term)) => tokio::select! {
                _ = int.recv() => Signal::Int,
                _ = term.recv() => Signal::Term,
            },
            _ => std::future::pending().await,
        }
    }
    #[cfg(not(unix))]
    {
        match tokio::signal::ctrl_c().await {
            Ok(()) => Signal::Int,
            Err(_) => std::future::pending().await,
        }
    }
}

/// After a signal: the PARTs that were running are recorded as interrupted
/// (pending, to run again), the state is folded into its snapshot, and the
/// message says how to go on. The lock goes when the caller returns.
fn interrupted(
    ctx: &Ctx,
    ws: &Workspace,
    plan: &Plan,
    sh: &Shared,
    signal: Signal,
) -> Result<Code> {
    let name = match signal {
        Signal::Int => "SIGINT",
        Signal::Term => "SIGTERM",
    };
    let at = crate::clock::rfc3339(crate::clock::now());
    let mut state = sh.state.lock().expect("state lock").clone();
    let mut stopped = Vec::new();
    for (n, p) in state.parts.iter_mut() {
        if p.status == crate::run::state::PartStatus::Running {
            p.status = crate::run::state::PartStatus::Pending;
            p.error = Some(format!("interrupted by {name} at {at}"));
            stopped.push(*n);
        }
    }
    state
        .save(&ws.fs)
        .context("failed to record the interrupted PARTs")?;
    let list = stopped
        .iter()
        .map(|n| n.to_string())
        .collect::<Vec<_>>()
        .join(", ");
    if ctx.json {
        println!(
            "{}",
            serde_json::json!({"event": "interrupted", "plan": plan.slug, "signal": name, "parts": stopped})
        );
    }
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
    Ok(match signal {
        Signal::Int => Code::Interrupted,
        Signal::Term => Code::Terminated,
    })
}

/// The budget was reached and these PARTs were not started.
struct BudgetStop {
    why: String,
    not_started: Vec<u32>,
    spent: Spent,
}

/// The batches and PARTs this invocation runs.
fn select(
    plan: &Plan,
    graph: &PlanGraph,
    state: &PlanState,
    kdir: &std::path::Path,
    args: &RunArgs,
) -> Result<Vec<(Batch, Vec<u32>)>> {
    let pending = |n: u32| {
        let part = plan.part(n).expect("graph PARTs are plan PARTs");
        needs_run(part, state, kdir)
    };
    if !args.parts.is_empty() {
        for n in &args.parts {
            if plan.part(*n).is_none() {
                return Err(bad_input(format!(
                    "PART {n} is not in `{}`",
                    show(&plan.path)
                )));
            }
        }
        let mut out = Vec::new();
        for b in &graph.batches {
            let v: Vec<u32> = b
                .parts
                .iter()
                .copied()
                .filter(|n| args.parts.contains(n) && (args.force || pending(*n)))
                .collect();
            if !v.is_empty() {
                out.push((b.clone(), v));
            }
        }
        return Ok(out);
    }
    if let Some(k) = args.batch {
        let b = graph
            .batches
            .iter()
            .find(|b| b.number == k)
            .ok_or_else(|| {
                bad_input(format!(
                    "`{}` has no batch {k} (it has {})",
                    show(&plan.path),
                    graph.batches.len()
                ))
            })?;
        let v: Vec<u32> = b.parts.iter().copied().filter(|n| pending(*n)).collect();
        return Ok(if v.is_empty() {
            vec![]
        } else {
            vec![(b.clone(), v)]
        });
    }
    let mut out = Vec::new();
    for b in &graph.batches {
        let v: Vec<u32> = b.parts.iter().copied().filter(|n| pending(*n)).collect();
        if v.is_empty() {
            continue;
        }
        out.push((b.clone(), v));
        if !args.all {
            break;
        }
    }
    Ok(out)
}

#[allow(clippy::too_many_arguments)]
fn summary(
    ctx: &Ctx,
    ws: &Workspace,
    plan: &Plan,
    graph: &PlanGraph,
    state: &PlanState,
    results: &[BatchResult],
    kdir: &std::path::Path,
    stopped_on_failure: bool,
    budget_stop: Option<&BudgetStop>,
) -> Result<Code> {
    let any_failed = results.iter().any(|r| r.outcomes.iter().any(|o| !o.ok));
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
                    serde_json::json!({"part": o.part, "ok": o.ok, "target": o.target, "lines": o.lines, "attempts": o.attempts, "error": o.error, "tokens": tokens, "cost": cost})
                }).collect::<Vec<_>>(),
                "not_started": r.not_started,
            })).collect::<Vec<_>>(),
            "remaining_batches": remaining,
            "budget_reached": budget_stop.map(|b| serde_json::json!({"reason": b.why, "not_started": b.not_started, "cost": b.spent.cost, "tokens": b.spent.tokens})),
        });
        println!("{v}");
    } else {
        let s = ctx.style;
        let out = std::io::stdout();
        let mut out = out.lock();
        for r in results {
            let failed = r.outcomes.iter().filter(|o| !o.ok).count();
            writeln!(
                out,
                "{}",
                s.bold(&format!(
                    "batch {}: {} done, {failed} failed in {:.1} s",
                    r.batch,
                    r.outcomes.len() - failed,
                    r.wall_ms as f64 / 1000.0
                ))
            )?;
            for o in &r.outcomes {
                if o.ok {
                    let path = ws.show(&ws.knowledge_dir().join(o.target.as_deref().unwrap_or("")));
                    let drop = state
                        .part(o.part)
                        .and_then(|p| p.drop.clone())
                        .unwrap_or_default();
                    let spent = match usage_of(o.part) {
                        (0, _) => String::new(),
                        (t, Some(c)) => format!(", {t} tokens, ${c:.4}"),
                        (t, None) => format!(", {t} tokens"),
                    };
                    writeln!(
                        out,
                        "  {} PART {:>3}  {} ({} lines{spent})  drop: {drop}",
                        s.green("✓"),
                        o.part,
                        path.display(),
                        o.lines
                    )?;
                } else {
                    writeln!(
                        out,
                        "  {} PART {:>3}  failed after {} attempt{}: {}",
                        s.red("✗"),
                        o.part,
                        o.attempts,
                        if o.attempts == 1 { "" } else { "s" },
                        o.error.as_deref().unwrap_or("unknown error")
                    )?;
                }
            }
        }
        let Spent { tokens, cost } = state.spent();
        if tokens > 0 {
            writeln!(out, "tokens: {tokens}  cost: ${cost:.4}")?;
        }
        if let Some(b) = budget_stop {
            let list = b
                .not_started
                .iter()
                .map(|n| n.to_string())
                .collect::<Vec<_>>()
                .join(", ");
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
            "results: knowledge files in {}/, drops in {}/{}/, run state in .expand/",
            ws.show(&ws.knowledge_dir()).display(),
            ws.show(&ws.drops_dir()).display(),
            plan.slug
        )?;
        writeln!(out, "next:")?;
        for r in results {
            writeln!(out, "  expand review batch {} {}", r.batch, plan.slug)?;
        }
        if any_failed {
            writeln!(
                out,
                "  expand run {} --batch {}    (retry the failed PARTs)",
                plan.slug,
                results
                    .iter()
                    .find(|r| r.outcomes.iter().any(|o| !o.ok))
                    .map(|r| r.batch)
                    .unwrap_or(1)
            )?;
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
            None if remaining.is_empty() => writeln!(
                out,
                "  expand consolidate {}    (every PART has run)",
                plan.slug
            )?,
            None => {}
        }
    }
    // Stopped by the budget is work left undone: a script must not go on as if it ran.
    Ok(if any_failed || budget_stop.is_some() {
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
    let selected = select(
        plan,
        graph,
        &state,
        &kdir,
        &RunArgs {
            all: true,
            ..args.clone()
        },
    )?;
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
            let target = part
                .target
                .as_deref()
                .map(|t| format!("{}/{t}", show(&kshow)));
            let drop = format!(
                "{}/{}",
                show(&dshow),
                crate::steps::drop::file_name(part, &date, &hhmm)
            );
            let reads: Vec<(String, String)> = node
                .reads
                .iter()
                .filter(|r| r.kind != RefKind::Influence)
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
                    (r.reference.to_string(), to)
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
                jparts.push(serde_json::json!({"part": n, "runs": will, "status": part.status.as_str(), "depends_on": node.depends_on, "target": target, "target_exists": target.as_deref().map(|t| !exists_note(t).is_empty()), "drop": if will { Some(&drop) } else { None }, "reads": reads.iter().map(|(a, b)| serde_json::json!({"ref": a, "resolved": b})).collect::<Vec<_>>(), "greps": greps, "queries": queries}));
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
            for (r, to) in &reads {
                writeln!(out, "       read   {r} → {to}")?;
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
