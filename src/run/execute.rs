//! A run of a plan, start to end: `execute` takes the plan, its graph and
//! the options, does the run (temp files of a killed run cleaned, folders
//! probed before paid work, the base scanned, providers built, batches run,
//! a signal obeyed) and returns what happened as a [`RunReport`]. The
//! command turns arguments into [`Options`] and the report into text or
//! JSON; nothing here prints results.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};

use crate::error::Code;
use crate::graph::{Batch, PlanGraph};
use crate::knowledge::scan::KnowledgeBase;
use crate::plan::Plan;
use crate::providers::cost::{BudgetTracker, Spent};
use crate::providers::ProviderError;
use crate::report::progress::Reporter;
use crate::run::needs_run;
use crate::run::runner::{PlanEdits, Shared};
use crate::run::scheduler::{run_batch, BatchResult};
use crate::run::state::{Journal, PartStatus, PlanState, StateCommit, StateError};
use crate::workspace::Workspace;

/// Which PARTs a run takes.
#[derive(Clone, Debug, Default)]
pub enum Selection {
    /// The next batch with PARTs left, or (`all`) every one.
    #[default]
    Next,
    /// One batch.
    Batch(u32),
    /// These PARTs, wherever they are (done ones too with `force`).
    Parts(Vec<u32>),
}

#[derive(Clone, Debug)]
pub struct Options {
    pub selection: Selection,
    pub all: bool,
    pub keep_going: bool,
    pub batch_size: usize,
    pub retries: u32,
    pub force: bool,
    /// `--provider`: the writer kind to use instead of the configured one.
    pub provider: Option<String>,
    /// With `all`: one rolling window over every remaining batch instead of
    /// batch after batch (`--window`, config `window`).
    pub window: bool,
}

/// The signal that stopped a run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Signal {
    Int,
    Term,
}

impl Signal {
    pub fn name(self) -> &'static str {
        match self {
            Signal::Int => "SIGINT",
            Signal::Term => "SIGTERM",
        }
    }

    /// 128 + the signal's number, as shells expect.
    pub fn code(self) -> Code {
        match self {
            Signal::Int => Code::Interrupted,
            Signal::Term => Code::Terminated,
        }
    }
}

/// The budget was reached and these PARTs were not started.
#[derive(Clone, Debug)]
pub struct BudgetStop {
    pub why: String,
    pub not_started: Vec<u32>,
    pub spent: Spent,
}

/// What a run did.
#[derive(Debug)]
pub struct RunReport {
    /// The batches that ran, in order.
    pub batches: Vec<BatchResult>,
    /// Nothing was left to run: no PART was started.
    pub nothing_to_do: bool,
    /// The plan's state after the run.
    pub state: PlanState,
    pub budget_stop: Option<BudgetStop>,
    /// Stopped by a signal, with the PARTs it interrupted.
    pub stopped_by: Option<(Signal, Vec<u32>)>,
    /// The state of another plan that had used this plan's name, kept aside.
    pub set_aside: Option<PathBuf>,
    /// `--all` stopped after a batch with a failure.
    pub stopped_on_failure: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error("{0}")]
    Selection(String),
    #[error(transparent)]
    State(#[from] StateError),
    #[error("cannot write in the {what} folder `{path}`: {source}")]
    NotWritable {
        what: &'static str,
        path: String,
        source: std::io::Error,
    },
    #[error("failed to {what} `{path}`: {source}")]
    Io {
        what: &'static str,
        path: String,
        source: std::io::Error,
    },
    #[error(transparent)]
    Provider(#[from] ProviderError),
}

impl RunError {
    /// SPEC §4: a selection or a provider setting that cannot work is bad
    /// input; files and state are the environment.
    pub fn code(&self) -> Code {
        match self {
            RunError::Selection(_) => Code::BadInput,
            RunError::Provider(ProviderError::Config(_)) => Code::BadInput,
            _ => Code::Environment,
        }
    }

    pub fn hint(&self) -> Option<String> {
        match self {
            RunError::NotWritable { .. } => {
                Some("make it writable (or free some disk space); nothing was run".into())
            }
            RunError::State(e) => e.hint(),
            _ => None,
        }
    }
}

/// The batches and PARTs this run takes.
pub fn select(
    plan: &Plan,
    graph: &PlanGraph,
    state: &PlanState,
    kdir: &Path,
    opts: &Options,
) -> Result<Vec<(Batch, Vec<u32>)>, RunError> {
    let shown = crate::workspace::show(&plan.path);
    let pending = |n: u32| {
        let part = plan.part(n).expect("graph PARTs are plan PARTs");
        needs_run(part, state, kdir)
    };
    match &opts.selection {
        Selection::Parts(parts) => {
            if let Some(n) = parts.iter().find(|n| plan.part(**n).is_none()) {
                return Err(RunError::Selection(format!("PART {n} is not in `{shown}`")));
            }
            Ok(graph
                .batches
                .iter()
                .filter_map(|b| {
                    let v: Vec<u32> = b
                        .parts
                        .iter()
                        .copied()
                        .filter(|n| parts.contains(n) && (opts.force || pending(*n)))
                        .collect();
                    (!v.is_empty()).then(|| (b.clone(), v))
                })
                .collect())
        }
        Selection::Batch(k) => {
            let b = graph
                .batches
                .iter()
                .find(|b| b.number == *k)
                .ok_or_else(|| {
                    RunError::Selection(format!(
                        "`{shown}` has no batch {k} (it has {})",
                        graph.batches.len()
                    ))
                })?;
            let v: Vec<u32> = b.parts.iter().copied().filter(|n| pending(*n)).collect();
            Ok(if v.is_empty() {
                vec![]
            } else {
                vec![(b.clone(), v)]
            })
        }
        Selection::Next => {
            let mut out = Vec::new();
            for b in &graph.batches {
                let v: Vec<u32> = b.parts.iter().copied().filter(|n| pending(*n)).collect();
                if v.is_empty() {
                    continue;
                }
                out.push((b.clone(), v));
                if !opts.all {
                    break;
                }
            }
            Ok(out)
        }
    }
}

/// Run `plan` (read from `file`) as `opts` say. Call with the workspace lock
/// held; `reporter` hears the run as it goes.
pub fn execute(
    ws: &Workspace,
    plan: &Plan,
    graph: &PlanGraph,
    file: &Path,
    opts: &Options,
    reporter: Arc<dyn Reporter>,
) -> Result<RunReport, RunError> {
    let shown = |p: &Path| crate::workspace::show(&ws.show(p));
    let io = |what: &'static str, p: &Path| {
        let path = shown(p);
        move |source| RunError::Io { what, path, source }
    };
    let key = ws.state_key(file, &plan.slug);
    let (state, other_plan) = PlanState::load_for(&ws.fs, &key, &plan.title)?;
    let kdir = ws.knowledge_dir();
    let selected = select(plan, graph, &state, &kdir, opts)?;
    if selected.is_empty() {
        return Ok(RunReport {
            batches: Vec::new(),
            nothing_to_do: true,
            state,
            budget_stop: None,
            stopped_by: None,
            set_aside: None,
            stopped_on_failure: false,
        });
    }

    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(io("start the async runtime in", &ws.root))?;
    // Ctrl-C while the base is read and indexed (seconds on a large one)
    // stops the run before any PART starts, and says so, instead of the
    // default action ending the process without a word.
    let (ready, registered) = std::sync::mpsc::channel();
    let early_stop = rt.spawn(listen(ready));
    let _ = registered.recv_timeout(std::time::Duration::from_secs(2));

    // A run killed while writing left temp files in the folders it writes
    // to; nothing refers to them.
    let drops = ws.drops_dir().join(&plan.slug);
    let plan_dir = file.parent().unwrap_or(&ws.root).to_path_buf();
    let mut folders: BTreeSet<PathBuf> = plan
        .parts
        .iter()
        .filter_map(|p| p.target.as_deref())
        .filter_map(|t| kdir.join(t).parent().map(Path::to_path_buf))
        .collect();
    folders.extend([
        drops.clone(),
        ws.root.join(crate::run::state::STATE_DIR),
        plan_dir.clone(),
    ]);
    for f in &folders {
        ws.fs.clean_temp_files(f);
    }
    // Folders every PART writes to: found unwritable now, before any paid work.
    for (what, dir) in [("drops", &drops), ("plan", &plan_dir)] {
        ws.fs
            .probe_writable(dir)
            .map_err(|source| RunError::NotWritable {
                what,
                path: shown(dir),
                source,
            })?;
    }

    // The response cache lives in the workspace; a link at its place
    // leading out is refused here, and the cache is confined to it.
    ws.fs
        .create_dir_all(".expand/cache")
        .map_err(io("make the response cache", &ws.state_dir().join("cache")))?;
    let mut kb = KnowledgeBase::scan(&ws.fs, &kdir, &ws.non_knowledge_dirs())
        .map_err(io("read the knowledge base", &kdir))?;
    // The files this run (re)writes are not the base it starts from: an
    // interrupted attempt's file, or one about to be replaced, counts as
    // written by its PART, seen by later batches and dependents only, and
    // never indexed for the offline writer.
    for (_, parts) in &selected {
        for &n in parts {
            if let Some(t) = plan.part(n).and_then(|p| p.target.as_deref()) {
                kb.mark_written(t, n);
            }
        }
    }
    // The offline index, from the one kept under `.expand/` for the files
    // that did not change since the last run.
    let index = || crate::knowledge::index_cache::of_workspace(ws, &kdir, &kb, true);
    let (writer, search, fetch) = crate::providers::build(
        &ws.config,
        opts.provider.as_deref(),
        index,
        &ws.state_dir().join("cache"),
    )
    .map_err(|e| RunError::Provider(ProviderError::Config(format!("{e:#}"))))?;
    if early_stop.is_finished() {
        if let Ok(signal) = rt.block_on(early_stop) {
            return Ok(RunReport {
                batches: Vec::new(),
                nothing_to_do: false,
                state,
                budget_stop: None,
                stopped_by: Some((signal, Vec::new())),
                set_aside: None,
                stopped_on_failure: false,
            });
        }
    } else {
        early_stop.abort();
    }
    // The budget covers every run of the plan: start from what its PARTs spent before.
    let budget = BudgetTracker::new(&ws.config.budget).with_spent(state.spent());
    let mut st = state;
    st.slug = key;
    st.plan_path = shown(file);
    st.plan_title = Some(plan.title.clone());
    st.version = crate::run::state::VERSION;
    // Another plan ran under this name: keep its state aside, start afresh.
    let set_aside = match other_plan {
        true => PlanState::set_aside(&ws.fs, &st.slug).map_err(io(
            "set aside the run state of",
            &ws.root.join(PlanState::path(&st.slug)),
        ))?,
        false => None,
    };
    // Folds a crashed run's journal into the snapshot and starts this run's.
    let journal =
        Journal::open(&ws.fs, &st).map_err(io("write the run state in", &ws.state_dir()))?;
    let sh = Arc::new(Shared {
        root: ws.root.clone(),
        fs: ws.fs.clone(),
        knowledge_dir: kdir,
        drops_dir: ws.drops_dir(),
        plan_file: file.to_path_buf(),
        plan_shown: shown(file),
        plan: plan.clone(),
        graph: graph.clone(),
        kb: RwLock::new(kb),
        state: Mutex::new(st),
        state_commit: StateCommit::new(journal),
        plan_edit: Mutex::new(PlanEdits::from_plan(plan)),
        plan_late: Mutex::default(),
        writer,
        search,
        fetch,
        reporter: Arc::clone(&reporter),
        config: ws.config.clone(),
        write: crate::steps::write::Options::from_config(&ws.config),
        budget,
        retries: opts.retries,
        force: opts.force,
        fault: crate::fault::Fault::from_env().cloned(),
        stop: std::sync::atomic::AtomicBool::new(false),
        window: opts.all && opts.window,
    });
    reporter.event(crate::report::progress::Event::RunStarted {
        batches: graph.batches.len() as u32,
        parts: selected.iter().map(|(_, v)| v.len()).sum(),
    });
    let mut batches: Vec<BatchResult> = Vec::new();
    let mut not_started: Vec<u32> = Vec::new();
    let mut stopped_on_failure = false;
    let signal = rt.block_on(async {
        let work = async {
            if sh.window && !selected.is_empty() {
                // One window: a slot that frees goes to the next PART whose
                // dependencies are done, whatever its batch.
                let parts: Vec<u32> = selected
                    .iter()
                    .flat_map(|(_, p)| p.iter().copied())
                    .collect();
                let r = run_batch(Arc::clone(&sh), &selected[0].0, &parts, opts.batch_size).await;
                not_started.extend(&r.not_started);
                batches.push(r);
                return;
            }
            for (batch, parts) in &selected {
                if sh.budget.exhausted().is_some() {
                    not_started.extend(parts);
                    continue;
                }
                let r = run_batch(Arc::clone(&sh), batch, parts, opts.batch_size).await;
                let failed = r.outcomes.iter().any(|o| !o.ok);
                not_started.extend(&r.not_started);
                batches.push(r);
                if failed && opts.all && !opts.keep_going {
                    stopped_on_failure = true;
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
    if let Ok(kb) = sh.kb.read() {
        tracing::info!(
            "knowledge: {} of {} files read or written by this run",
            kb.read_so_far().len(),
            kb.len()
        );
    }
    // Lines appended to a replaced version of the plan since its last tick.
    if let Err(e) = sh
        .plan_late
        .lock()
        .expect("plan late lock")
        .sweep(&ws.fs, file)
    {
        tracing::warn!("failed to carry over lines added to the plan: {e}");
    }
    let mut state = sh.state.lock().expect("state lock").clone();
    let mut stopped_by = None;
    if let Some(signal) = signal {
        // Writers started between the select and now, if any.
        crate::providers::command::kill_all();
        let at = crate::clock::rfc3339(crate::clock::now());
        let mut stopped = Vec::new();
        for (n, p) in state.parts.iter_mut() {
            if p.status == PartStatus::Running {
                p.status = PartStatus::Pending;
                p.error = Some(format!("interrupted by {} at {at}", signal.name()));
                stopped.push(*n);
            }
        }
        state
            .save(&ws.fs)
            .map_err(io("record the interrupted PARTs in", &ws.state_dir()))?;
        stopped_by = Some((signal, stopped));
    } else if let Err(e) = state.save(&ws.fs) {
        // Every change is in the journal already; this only makes it one file again.
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
    Ok(RunReport {
        batches,
        nothing_to_do: false,
        state,
        budget_stop,
        stopped_by,
        set_aside,
        stopped_on_failure,
    })
}

/// [`stop_signal`], saying on `ready` once its handlers are installed.
async fn listen(ready: std::sync::mpsc::Sender<()>) -> Signal {
    let stop = stop_signal();
    tokio::pin!(stop);
    // One poll installs the handlers (stop_signal registers them first).
    let first = std::future::poll_fn(|cx| {
        std::task::Poll::Ready(std::future::Future::poll(stop.as_mut(), cx))
    })
    .await;
    if let std::task::Poll::Ready(s) = first {
        return s;
    }
    let _ = ready.send(());
    stop.await
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
