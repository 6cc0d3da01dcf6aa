//! One file per subcommand. Commands turn domain results into output and exit
//! codes; anyhow lives here.

pub mod audit;
pub mod completions;
pub mod consolidate;
pub mod fix_encoding;
pub mod graph;
pub mod init;
pub mod man;
pub mod new;
pub mod reset;
pub mod review;
pub mod run;
pub mod status;
pub mod validate;

use std::path::PathBuf;

use anyhow::{Context, Result};

use crate::cli::{Cli, Command};
use crate::error::Code;
use crate::graph::PlanGraph;
use crate::plan::Plan;
use crate::report::{use_color, Style};
use crate::run::state::{PlanState, StateError};
use crate::workspace::Workspace;

/// Run a parsed command line; what `main` and the tests call.
pub fn run(cli: Cli) -> Result<Code> {
    let style = Style {
        on: use_color(cli.color, false),
    };
    let ctx = Ctx {
        json: cli.json,
        style,
        verbose: cli.verbose,
        quiet: cli.quiet,
    };
    // Every command but init and completions works in a workspace.
    let ws = || Workspace::discover(cli.dir.as_deref());
    match cli.command {
        Command::Init { dir, adopt } => {
            init::run(dir.as_deref().or(cli.dir.as_deref()), adopt, ctx.json)
        }
        Command::Completions { shell } => completions::run(shell),
        Command::Man => man::run(),
        Command::Validate {
            plans,
            format,
            batch_size,
            overlaps,
        } => validate::run(&ws()?, &ctx, &plans, format, batch_size, overlaps),
        Command::New(args) => new::run(&ws()?, &ctx, args),
        Command::Graph {
            plan,
            format,
            batch_size,
        } => graph::run(&ws()?, &ctx, &plan, format, batch_size),
        Command::FixEncoding { plan } => fix_encoding::run(&ws()?, &ctx, &plan),
        Command::Run(args) => run::run(&ws()?, &ctx, args),
        Command::Status { plan } => status::run(&ws()?, &ctx, plan.as_deref()),
        Command::Reset {
            plan,
            parts,
            rebuild_state: false,
        } => reset::run(&ws()?, &ctx, &plan, &crate::cli::part_numbers(&parts)),
        Command::Reset {
            plan,
            rebuild_state: true,
            ..
        } => reset::rebuild(&ws()?, &ctx, &plan),
        Command::Review { what } => review::run(&ws()?, &ctx, what),
        Command::Consolidate {
            plan,
            allow_partial,
            no_commit,
        } => consolidate::run(&ws()?, &ctx, plan.as_deref(), allow_partial, no_commit),
        Command::Audit { fix } => audit::run(&ws()?, &ctx, fix),
    }
}

/// Output settings shared by commands.
pub struct Ctx {
    pub json: bool,
    pub style: Style,
    pub verbose: u8,
    pub quiet: bool,
}

/// Plans read together, with their graphs.
pub struct Loaded {
    pub plans: Vec<Plan>,
    pub graphs: Vec<PlanGraph>,
    /// Absolute paths the plans were read from.
    pub files: Vec<PathBuf>,
}

/// Read, validate and connect plans. Errors only when a file cannot be read as
/// text at all; content problems are diagnostics on the plans.
pub fn load_plans(ws: &Workspace, files: &[PathBuf], batch_size: usize) -> Result<Loaded> {
    let mut plans = Vec::with_capacity(files.len());
    for f in files {
        let mut plan = ws.load_plan(f)?;
        crate::plan::validate::check(&mut plan);
        plans.push(plan);
    }
    let kroot = ws.knowledge_dir();
    let existing = crate::knowledge::list_files(&ws.fs, &kroot, &ws.non_knowledge_dirs())
        .with_context(|| format!("failed to list `{}`", ws.show(&kroot).display()))?;
    let graphs = crate::graph::analyze(&mut plans, &existing, Some(&ws.place()), batch_size);
    Ok(Loaded {
        plans,
        graphs,
        files: files.to_vec(),
    })
}

/// Take the workspace lock for a command that changes the workspace (run,
/// reset, consolidate), with one message and hint when another holds it.
pub fn lock(ws: &Workspace) -> Result<crate::run::state::Lock> {
    use crate::run::state::{Lock, LockError};
    Lock::acquire(&ws.fs).map_err(|e| match e {
        LockError::Busy(_) => crate::error::with_hint(
            Code::Environment,
            e.to_string(),
            "wait for it to finish (Ctrl-C in its terminal stops it cleanly); \
             a process that died releases the lock by itself",
        ),
        other => crate::error::environment(other.to_string()),
    })
}

/// The run state of `plan`, with `true` when the saved state under its
/// name belonged to another plan (then the state is a fresh one). A damaged
/// state is an error that says which file and how to rebuild it.
pub fn load_state(ws: &Workspace, plan: &Plan) -> Result<(PlanState, bool)> {
    let key = state_key(ws, plan);
    let (mut st, other) = PlanState::load_for(&ws.fs, &key, &plan.title).map_err(state_error)?;
    st.slug = key;
    Ok((st, other))
}

/// The name `plan`'s run state goes by (see `Workspace::state_key`).
pub fn state_key(ws: &Workspace, plan: &Plan) -> String {
    ws.state_key(&ws.root.join(&plan.path), &plan.slug)
}

/// A state that cannot be read, as an error with the way out.
pub fn state_error(e: StateError) -> anyhow::Error {
    match e.hint() {
        Some(h) => crate::error::with_hint(Code::Environment, e.to_string(), h),
        None => crate::error::environment(e.to_string()),
    }
}

/// Plan names on the command line to files; none means every plan in plans/.
pub fn plan_files(ws: &Workspace, names: &[String]) -> Result<Vec<PathBuf>> {
    if names.is_empty() {
        let v = ws.pending_plans()?;
        if v.is_empty() {
            return Err(crate::error::with_hint(
                Code::BadInput,
                format!("no plans in `{}`", ws.show(&ws.plans_dir()).display()),
                "name a plan file, or put plans in the plans folder",
            ));
        }
        return Ok(v);
    }
    names.iter().map(|n| ws.find_plan(n)).collect()
}

pub use crate::workspace::show;
