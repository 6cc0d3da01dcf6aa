//! Stage 5: consolidation (SPEC §8), one transaction per plan (SPEC §11).
//! After the last batch: rows in INDEX.md for the new files, the topic list
//! in SKILL.md, the plan and its drops archived under `completed/<slug>/`,
//! and one git commit of exactly the paths touched.
//!
//! [`execute`] is the one entry point. Per plan it
//!
//! 1. works out everything the consolidation will do (edits, moves, the
//!    archive folder, never another plan's: see `archive`, the commit's
//!    paths and message) without changing anything, from the plan and its
//!    run state;
//! 2. checks every precondition: folders writable, and for the commit an
//!    author, no git lock, no merge or rebase in progress (`git::Repo::check`);
//! 3. writes that as its journal (`journal`), the first change it makes;
//! 4. runs the steps: indexes, SKILL.md, the moves into the archive, the run
//!    state, the commit (`git::Repo::commit`), each one a no-op when already
//!    done;
//! 5. removes the journal.
//!
//! A failure or crash at any point after 3 leaves the journal, and the next
//! `expand consolidate` runs steps 2, 4 and 5 from it (not from the plan,
//! which may have moved already): the same edits, the same moves, the same
//! commit with every path. Before 3 nothing has changed.
//!
//! Running it again on a consolidated plan changes nothing and commits
//! nothing: the plan is in its archive, the indexes have their rows.

pub mod archive;
pub mod edits;
pub mod git;
pub mod journal;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

pub(crate) use edits::parent_heading;
pub use edits::{describe, message, short_title, NewFile};
pub use git::{Committed, GitError};
pub use journal::{Journal, JournalError, Move};

use crate::error::Code;
use crate::plan::Plan;
use crate::run::state::{PartStatus, PlanState, StateError};
use crate::workspace::Workspace;

/// The `EXPAND_FAULT` points of a consolidation (see `crate::fault`), in
/// the order it passes them. Each aborts the process right after:
pub const FAULTS: [&str; 9] = [
    // the journal is written; nothing else has changed
    "consolidate-journal",
    // the index files are written
    "consolidate-index",
    // SKILL.md is written
    "consolidate-skill",
    // the first file is moved into the archive
    "consolidate-move",
    // every file is in the archive
    "consolidate-archive",
    // the run state follows the archive
    "consolidate-state",
    // the commit object exists; git's index and HEAD are untouched
    "consolidate-object",
    // git's index stages the consolidation; HEAD has not moved
    "consolidate-git-index",
    // HEAD is the new commit; the journal is still there
    "consolidate-head",
];

/// A PART left out of the consolidation: it failed, or its file needs
/// review and no one accepted it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FailedPart {
    pub part: u32,
    pub title: String,
    pub error: Option<String>,
    /// A file was written but fails the quality check.
    #[serde(default)]
    pub needs_review: bool,
}

/// Where each PART of a plan stands, from the run state (else the plan's ticks).
#[derive(Debug, Default)]
pub struct Standing {
    /// (PART, knowledge-relative target) of PARTs done.
    pub done: Vec<(u32, String)>,
    pub failed: Vec<FailedPart>,
    pub pending: Vec<u32>,
}

/// Where each PART of `plan` stands, by the same rule `expand run` uses to
/// decide what is left to run (`run::needs_run`): a PART that run would run
/// again is not done, whatever its marker says.
pub fn standing(plan: &Plan, state: &PlanState, kdir: &Path) -> Standing {
    let mut s = Standing::default();
    for part in &plan.parts {
        let st = crate::run::state_of(part, state);
        let review = st.filter(|p| p.status == PartStatus::NeedsReview && !p.finished());
        if let Some(p) = review {
            s.failed.push(FailedPart {
                part: part.number,
                title: part.title.clone(),
                error: Some(format!("needs review: {}", p.problems.join("; "))),
                needs_review: true,
            });
        } else if !crate::run::needs_run(part, state, kdir) {
            let target = st.and_then(|p| p.target.clone()).or(part.target.clone());
            if let Some(t) = target {
                s.done.push((part.number, t));
            }
        } else if st.map(|p| p.status) == Some(PartStatus::Failed) {
            s.failed.push(FailedPart {
                part: part.number,
                title: part.title.clone(),
                error: st.and_then(|p| p.error.clone()),
                needs_review: false,
            });
        } else {
            s.pending.push(part.number);
        }
    }
    s
}

#[derive(Clone, Copy, Debug)]
pub struct Options {
    /// Consolidate although PARTs failed (they are left out and named).
    pub allow_partial: bool,
    /// Make the commit (`--no-commit` and `git.commit: false` say no).
    pub commit: bool,
}

/// What `execute` did.
#[derive(Debug, Default)]
pub struct Report {
    pub plans: Vec<PlanReport>,
    /// Plans (workspace-relative) left alone because PARTs have not all run.
    pub skipped: Vec<String>,
}

/// One plan's consolidation. Paths are workspace-relative.
#[derive(Debug)]
pub struct PlanReport {
    /// Where the plan was when its consolidation began.
    pub plan: String,
    pub slug: String,
    pub files: Vec<NewFile>,
    pub failed: Vec<FailedPart>,
    pub indexes: Vec<String>,
    pub skill: Option<String>,
    pub moved: Vec<Move>,
    pub archived: String,
    /// `completed/<slug>`, when it held another plan's archive and this one
    /// went to `completed/<slug>-N` instead.
    pub archive_taken: Option<String>,
    /// This run finished a consolidation an earlier one began.
    pub resumed: bool,
    /// The plan was consolidated before and nothing was left to do.
    pub already: bool,
    /// `None`: no commit asked for.
    pub commit: Option<Committed>,
    /// For stderr: things worth knowing that did not stop the consolidation.
    pub warnings: Vec<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum ConsolidateError {
    /// Naming, reading or listing plans (carries its own exit code and hint).
    #[error("{0:#}")]
    Workspace(anyhow::Error),
    #[error("`{plan}`: PART {} has not run yet", join(.parts))]
    Pending {
        plan: String,
        slug: String,
        parts: Vec<u32>,
    },
    #[error("`{plan}`: failed: {}", failed_list(.parts))]
    Failed {
        plan: String,
        parts: Vec<FailedPart>,
    },
    #[error(transparent)]
    State(#[from] StateError),
    #[error(transparent)]
    Journal(#[from] JournalError),
    #[error(transparent)]
    Git(#[from] GitError),
    #[error("failed to {what} `{}`: {err}", .path.display())]
    Io {
        what: &'static str,
        path: PathBuf,
        err: std::io::Error,
    },
    #[error("`{}` is not writable: {err}", .path.display())]
    NotWritable { path: PathBuf, err: std::io::Error },
    #[error(transparent)]
    Fault(#[from] crate::fault::Injected),
    /// A failure in plan `slug`'s transaction: before its journal was
    /// written (nothing changed) or after (a retry finishes it).
    #[error("{inner}")]
    Transaction {
        slug: String,
        started: bool,
        inner: Box<ConsolidateError>,
    },
}

fn join(v: &[u32]) -> String {
    crate::report::numbers(v)
}

fn failed_list(parts: &[FailedPart]) -> String {
    let v: Vec<String> = parts
        .iter()
        .map(|f| match &f.error {
            Some(e) => format!("PART {} ({}): {e}", f.part, f.title),
            None => format!("PART {} ({})", f.part, f.title),
        })
        .collect();
    v.join("; ")
}

impl ConsolidateError {
    /// SPEC §4: 2 for a plan not ready, 1 for failed PARTs, 3 for the
    /// environment (files, git).
    pub fn code(&self) -> Code {
        match self {
            ConsolidateError::Workspace(e) => crate::error::code_of(e),
            ConsolidateError::Pending { .. } => Code::BadInput,
            ConsolidateError::Failed { .. } => Code::WorkFailed,
            ConsolidateError::Transaction { inner, .. } => inner.code(),
            _ => Code::Environment,
        }
    }

    pub fn hint(&self) -> Option<String> {
        match self {
            ConsolidateError::Workspace(e) => crate::error::hint_of(e),
            ConsolidateError::Pending { slug, .. } => Some(format!(
                "run `expand run {slug} --all`, then consolidate"
            )),
            ConsolidateError::Failed { parts, .. } if parts.iter().any(|p| p.needs_review) => Some(
                "look at them with `expand review part N PLAN`; accept one with `--accept`, \
                 run it again with `expand reset PLAN --part N` then `expand run PLAN`, \
                 or pass --allow-partial to leave them out"
                    .into(),
            ),
            ConsolidateError::Failed { .. } => Some(
                "re-run them with `expand run PLAN --part N`, or pass --allow-partial to leave them out"
                    .into(),
            ),
            ConsolidateError::Git(g) => g.hint(),
            ConsolidateError::Journal(JournalError::Corrupt { .. }) => Some(
                "it records a consolidation that did not finish; remove it to start that \
                 consolidation over (files it moved stay where they are)"
                    .into(),
            ),
            ConsolidateError::Transaction {
                slug,
                started,
                inner,
            } => {
                let again = if *started {
                    format!(
                        "then run `expand consolidate {slug}` again: it finishes this \
                         consolidation, every path in one commit"
                    )
                } else {
                    format!("then run `expand consolidate {slug}` again (nothing has changed yet)")
                };
                Some(match inner.hint() {
                    Some(h) => format!("{h}; {again}"),
                    None => format!("fix that, {again}"),
                })
            }
            _ => None,
        }
    }
}

fn io(what: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> ConsolidateError {
    let path = path.to_path_buf();
    move |err| ConsolidateError::Io { what, path, err }
}

fn rel(ws: &Workspace, p: &Path) -> String {
    crate::fsutil::rel_str(&ws.root, p)
}

fn stem(p: &Path) -> String {
    p.file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// The slug a plan file goes by: its archive folder's name, else its stem.
fn slug_of(ws: &Workspace, file: &Path) -> String {
    ws.archived_slug(file).unwrap_or_else(|| stem(file))
}

/// The unfinished consolidation that began with the plan at `file` or
/// moved it there.
fn journal_of(ws: &Workspace, file: &Path) -> Result<Option<Journal>, ConsolidateError> {
    let shown = rel(ws, file);
    for slug in Journal::pending(&ws.fs)? {
        if let Some(j) = Journal::load(&ws.fs, &slug)? {
            if j.plan == shown || j.archived_plan == shown {
                return Ok(Some(j));
            }
        }
    }
    Ok(None)
}

/// Consolidate the plan `name` (a path or slug), or, with `None`, finish
/// every interrupted consolidation and consolidate every plan in `plans/`
/// whose PARTs have all run. Call with the workspace lock held.
pub fn execute(
    ws: &Workspace,
    name: Option<&str>,
    opts: &Options,
) -> Result<Report, ConsolidateError> {
    let mut report = Report::default();
    match name {
        Some(name) => {
            // An interrupted consolidation may have moved the plan already:
            // its journal, found by the slug, knows where everything goes.
            let found = ws.find_plan(name);
            let slug = match &found {
                Ok(f) => slug_of(ws, f),
                Err(_) => stem(Path::new(name)),
            };
            let unfinished = match (Journal::load(&ws.fs, &slug)?, &found) {
                (Some(j), _) => Some(j),
                // Named by where an interrupted consolidation put it.
                (None, Ok(f)) => journal_of(ws, f)?,
                (None, Err(_)) => None,
            };
            if let Some(j) = unfinished {
                report
                    .plans
                    .push(transaction(ws, j, opts, true, Vec::new())?);
            } else {
                let file = found.map_err(ConsolidateError::Workspace)?;
                if let Some(r) = consolidate_file(ws, &file, opts, true)? {
                    report.plans.push(r);
                }
            }
        }
        None => {
            let unfinished = Journal::pending(&ws.fs)?;
            for slug in &unfinished {
                if let Some(j) = Journal::load(&ws.fs, slug)? {
                    report
                        .plans
                        .push(transaction(ws, j, opts, true, Vec::new())?);
                }
            }
            for file in ws.pending_plans().map_err(ConsolidateError::Workspace)? {
                if unfinished.contains(&slug_of(ws, &file)) {
                    continue;
                }
                match consolidate_file(ws, &file, opts, false)? {
                    Some(r) => report.plans.push(r),
                    None => report.skipped.push(rel(ws, &file)),
                }
            }
        }
    }
    Ok(report)
}

/// A name an archive folder must not take although its folder is free:
/// another plan goes by it (its file in `plans/`, its run state, or its own
/// unfinished consolidation).
fn claimed(ws: &Workspace, name: &str) -> bool {
    ws.fs.exists(ws.plans_dir().join(format!("{name}.md")))
        || ws.fs.exists(PlanState::path(name))
        || ws.fs.exists(PlanState::journal_path(name))
        || ws.fs.exists(Journal::path(name))
}

/// Plan and start the consolidation of `file`. `None` when its PARTs have
/// not all run and it was not named (consolidating every plan skips it).
fn consolidate_file(
    ws: &Workspace,
    file: &Path,
    opts: &Options,
    named: bool,
) -> Result<Option<PlanReport>, ConsolidateError> {
    let plan = ws.load_plan(file).map_err(ConsolidateError::Workspace)?;
    let slug = plan.slug.clone();
    let kroot = ws.knowledge_dir();
    let shown = rel(ws, file);
    let state = PlanState::load_for(&ws.fs, &ws.state_key(file, &slug), &plan.title)?.0;
    let st = standing(&plan, &state, &kroot);
    if !st.pending.is_empty() {
        if !named {
            return Ok(None);
        }
        return Err(ConsolidateError::Pending {
            plan: shown,
            slug,
            parts: st.pending,
        });
    }
    if !st.failed.is_empty() && !opts.allow_partial {
        return Err(ConsolidateError::Failed {
            plan: shown,
            parts: st.failed,
        });
    }
    let mut warnings: Vec<String> = st
        .failed
        .iter()
        .map(|f| format!("leaving out failed PART {}: {}", f.part, f.title))
        .collect();
    let mut files = Vec::new();
    for (n, target) in &st.done {
        let path = kroot.join(target);
        let Ok(text) = ws.fs.read_to_string(&path) else {
            warnings.push(format!(
                "PART {n} is done but `{}` is missing; not indexed",
                rel(ws, &path)
            ));
            continue;
        };
        let drop_text = state
            .part(*n)
            .and_then(|p| p.drop.as_ref())
            .and_then(|d| ws.fs.read_to_string(ws.root.join(d)).ok());
        let title = plan.part(*n).map(|p| p.title.as_str()).unwrap_or("");
        files.push(NewFile {
            target: target.clone(),
            lines: text.lines().count(),
            description: describe(title, drop_text.as_deref(), &text),
        });
    }
    files.sort_by(|a, b| a.target.cmp(&b.target));

    // A plan already in its archive (consolidated before) stays in it; a
    // plan from plans/ takes a free archive folder, never another plan's.
    let archived_before = ws.archived_slug(file).is_some();
    let (archive_dir, state_slug) = if archived_before {
        let dir = file.parent().unwrap_or(&ws.root).to_path_buf();
        (dir, slug.clone())
    } else {
        let completed = ws.completed_dir();
        archive::free_dir(&ws.fs, &completed, &slug, |n| claimed(ws, n))
            .map_err(io("read", &completed))?
    };
    // A plan kept in a folder of its own (`inprocess/<slug>/ingestion.md`,
    // as hand-run bases do) keeps its file name in the archive, as the
    // base's other archives have it; a plan file in plans/ itself takes
    // `completed_plan_name`.
    let in_own_folder = file.parent() != Some(ws.plans_dir().as_path());
    let archived_plan = if archived_before {
        file.to_path_buf()
    } else if in_own_folder {
        archive_dir.join(file.file_name().unwrap_or_default())
    } else {
        archive_dir.join(&ws.config.completed_plan_name)
    };
    let mut moves = Vec::new();
    if !archived_before {
        moves.push(Move {
            from: rel(ws, file),
            to: rel(ws, &archived_plan),
        });
    }
    let drops = ws.drops_dir().join(&slug);
    let dest_drops = archive_dir.join("drops");
    if drops != dest_drops {
        for f in archive::drop_files(&ws.fs, &drops).map_err(io("read", &drops))? {
            let to = dest_drops.join(f.file_name().unwrap_or_default());
            moves.push(Move {
                from: rel(ws, &f),
                to: rel(ws, &to),
            });
        }
    }
    let indexes: Vec<String> = edits::index_edits(ws, &files)?
        .iter()
        .map(|(p, _)| rel(ws, p))
        .collect();
    let skill_edit = edits::skill_edit(ws, edits::topic_of(&plan.title), &files)?;
    if let Some((p, text)) = &skill_edit {
        let had = ws.fs.read_to_string(p).unwrap_or_default();
        if !had.contains(crate::knowledge::skill_md::START)
            && text.contains(crate::knowledge::skill_md::START)
        {
            warnings.push(format!(
                "`{}` had no expand markers: a managed topic section is appended at its end \
                 (the text around it stays yours; only what is between the markers is rewritten)",
                rel(ws, p)
            ));
        }
    }
    let skill = skill_edit.map(|(p, _)| rel(ws, &p));
    let archived = rel(ws, &archived_plan);
    if archived_before && indexes.is_empty() && skill.is_none() && moves.is_empty() {
        return Ok(Some(PlanReport {
            plan: shown,
            slug,
            files,
            failed: st.failed,
            indexes,
            skill,
            moved: moves,
            archived,
            archive_taken: None,
            resumed: false,
            already: true,
            commit: opts.commit.then_some(Committed::Unchanged),
            warnings,
        }));
    }
    // The commit covers what this consolidation creates, changes or moves.
    // The new files count only the first time: once archived, the plan's
    // files are the user's to edit and commit.
    let mut paths: BTreeSet<String> = BTreeSet::new();
    if !archived_before {
        paths.extend(files.iter().map(|f| rel(ws, &kroot.join(&f.target))));
    }
    paths.extend(indexes.iter().cloned());
    paths.extend(skill.iter().cloned());
    for m in &moves {
        paths.insert(m.from.clone());
        paths.insert(m.to.clone());
    }
    let message = message(&plan.title, &files, &st.failed, &archived);
    let j = Journal {
        version: journal::VERSION,
        slug,
        title: plan.title.clone(),
        plan: shown,
        archive: rel(ws, &archive_dir),
        archived_plan: archived,
        state_slug,
        files,
        failed: st.failed,
        indexes,
        skill,
        moves,
        paths: paths.into_iter().collect(),
        message,
    };
    transaction(ws, j, opts, false, warnings).map(Some)
}

/// Who makes the commit, decided by the preconditions.
enum Committer {
    Disabled,
    NotARepo,
    Repo(git::Repo),
}

/// Check the preconditions, write the journal (unless `resumed`: it is
/// there), run the steps, remove the journal.
fn transaction(
    ws: &Workspace,
    j: Journal,
    opts: &Options,
    resumed: bool,
    mut warnings: Vec<String>,
) -> Result<PlanReport, ConsolidateError> {
    let wrap = |started: bool| {
        let slug = j.slug.clone();
        move |e: ConsolidateError| ConsolidateError::Transaction {
            slug,
            started,
            inner: Box::new(e),
        }
    };
    let committer = preflight(ws, &j, opts).map_err(wrap(resumed))?;
    if let Committer::Repo(r) = &committer {
        if r.detached() {
            warnings.push(
                "HEAD is detached: the commit is on no branch; `git switch -c NAME` keeps it"
                    .into(),
            );
        }
    }
    if !resumed {
        j.save(&ws.fs).map_err(|e| wrap(false)(e.into()))?;
        crate::fault::at("consolidate-journal").map_err(|e| wrap(true)(e.into()))?;
    }
    let commit = apply(ws, &j, committer).map_err(wrap(true))?;
    Journal::remove(&ws.fs, &j.slug).map_err(|e| wrap(true)(e.into()))?;
    let archive_taken =
        (j.state_slug != j.slug).then(|| rel(ws, &ws.completed_dir().join(&j.slug)));
    Ok(PlanReport {
        plan: j.plan,
        slug: j.slug,
        files: j.files,
        failed: j.failed,
        indexes: j.indexes,
        skill: j.skill,
        moved: j.moves,
        archived: j.archived_plan,
        archive_taken,
        resumed,
        already: false,
        commit,
        warnings,
    })
}

/// Everything checked before the first change: the folders the steps write
/// in, and, when committing, the repository (`git::Repo::check`).
fn preflight(ws: &Workspace, j: &Journal, opts: &Options) -> Result<Committer, ConsolidateError> {
    let mut dirs: BTreeSet<PathBuf> = j
        .paths
        .iter()
        .filter_map(|p| ws.root.join(p).parent().map(Path::to_path_buf))
        .collect();
    dirs.insert(ws.root.join(Journal::dir()));
    dirs.insert(ws.root.join(crate::run::state::STATE_DIR));
    for dir in dirs {
        ws.fs
            .probe_writable(&dir)
            .map_err(|err| ConsolidateError::NotWritable { path: dir, err })?;
    }
    // Every file the steps read or replace must be reachable inside the
    // workspace (an INDEX.md linking to a file elsewhere is refused here,
    // before anything changes, and never committed).
    for p in j.indexes.iter().chain(j.skill.iter()) {
        if let Err(err) = ws.fs.symlink_metadata(p).and_then(|_| ws.fs.metadata(p)) {
            if crate::workspace::jail::is_escape(&err) {
                return Err(ConsolidateError::NotWritable {
                    path: ws.root.join(p),
                    err,
                });
            }
        }
    }
    if !opts.commit {
        return Ok(Committer::Disabled);
    }
    let Some(repo) = git::open(&ws.root)? else {
        return Ok(Committer::NotARepo);
    };
    let abs: Vec<PathBuf> = j.paths.iter().map(|p| ws.root.join(p)).collect();
    repo.check(&abs, &ws.config.git)?;
    Ok(Committer::Repo(repo))
}

/// The steps, each one a no-op when an earlier attempt did it.
fn apply(
    ws: &Workspace,
    j: &Journal,
    committer: Committer,
) -> Result<Option<Committed>, ConsolidateError> {
    let mut paths = j.paths.clone();
    let mut written = |edit: &edits::Edit| -> Result<(), ConsolidateError> {
        edits::write(ws, edit)?;
        // Normally listed already; an index edited by hand since the first
        // attempt may need rows again, and what is written is committed.
        let r = rel(ws, &edit.0);
        if !paths.contains(&r) {
            paths.push(r);
        }
        Ok(())
    };
    for edit in edits::index_edits(ws, &j.files)? {
        written(&edit)?;
    }
    crate::fault::at("consolidate-index")?;
    if let Some(edit) = edits::skill_edit(ws, edits::topic_of(&j.title), &j.files)? {
        written(&edit)?;
    }
    crate::fault::at("consolidate-skill")?;
    for (i, m) in j.moves.iter().enumerate() {
        let from = ws.root.join(&m.from);
        archive::move_file(&ws.fs, &from, &ws.root.join(&m.to)).map_err(io("move", &from))?;
        if i == 0 {
            crate::fault::at("consolidate-move")?;
        }
    }
    archive::remove_empty(&ws.fs, &ws.drops_dir().join(&j.slug));
    // A plan's own folder in plans/ (`inprocess/<slug>/`), empty once the
    // plan moved out.
    let plans = ws.plans_dir();
    for m in &j.moves {
        if let Some(dir) = ws.root.join(&m.from).parent() {
            if dir != plans && dir.starts_with(&plans) {
                archive::remove_empty(&ws.fs, dir);
            }
        }
    }
    crate::fault::at("consolidate-archive")?;
    move_state(ws, j)?;
    crate::fault::at("consolidate-state")?;
    let abs: Vec<PathBuf> = paths.iter().map(|p| ws.root.join(p)).collect();
    Ok(match committer {
        Committer::Disabled => None,
        Committer::NotARepo => Some(Committed::NotARepo),
        Committer::Repo(repo) => Some(repo.commit(&abs, &j.message, &ws.config.git)?),
    })
}

/// Keep the run state pointing at the plan and drops where they now are,
/// and file it under the archived plan's key (`completed/<folder>`): the
/// slug is free again for a new plan, whose state starts empty, and
/// `expand status <folder>` finds this one's.
fn move_state(ws: &Workspace, j: &Journal) -> Result<(), ConsolidateError> {
    let archived_key = ws.state_key(&ws.root.join(&j.archived_plan), &j.state_slug);
    let has =
        |s: &str| ws.fs.exists(PlanState::path(s)) || ws.fs.exists(PlanState::journal_path(s));
    // Before the move the state is under the slug; after it, under the
    // archive's key only (a retry after the move finds it there).
    let from = if has(&j.slug) {
        j.slug.clone()
    } else if has(&archived_key) {
        archived_key.clone()
    } else {
        return Ok(());
    };
    let mut st = PlanState::load(&ws.fs, &from)?;
    st.plan_path = j.archived_plan.clone();
    for p in st.parts.values_mut() {
        if let Some(m) = p
            .drop
            .as_ref()
            .and_then(|d| j.moves.iter().find(|m| &m.from == d))
        {
            p.drop = Some(m.to.clone());
        }
    }
    st.slug = archived_key.clone();
    let snapshot = ws.root.join(PlanState::path(&st.slug));
    st.save(&ws.fs)
        .map_err(io("write the run state", &snapshot))?;
    if from != archived_key {
        for p in [PlanState::path(&from), PlanState::journal_path(&from)] {
            match ws.fs.remove_file(&p) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                    return Err(io("remove the old run state", &ws.root.join(&p))(e))
                }
                _ => {}
            }
        }
    }
    Ok(())
}
