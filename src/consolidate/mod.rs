//! Stage 5: consolidation (SPEC §8). After the last batch: rows in INDEX.md
//! for the new files, the topic list in SKILL.md, the plan and its drops
//! archived under `completed/<slug>/`, and one git commit of exactly the
//! paths touched. Every step is idempotent, so running it twice changes
//! nothing and commits nothing.

pub mod archive;
pub mod git;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use crate::knowledge::{index_md, skill_md};
use crate::plan::Plan;
use crate::run::state::{PartStatus, PlanState};
use crate::workspace::Workspace;

/// Where each PART of a plan stands, from the run state (else the plan's ticks).
#[derive(Debug, Default)]
pub struct Standing {
    /// (PART, knowledge-relative target) of PARTs done.
    pub done: Vec<(u32, String)>,
    /// (PART, title, error) of PARTs that failed.
    pub failed: Vec<(u32, String, Option<String>)>,
    pub pending: Vec<u32>,
}

/// Where each PART of `plan` stands, by the same rule `expand run` uses to
/// decide what is left to run (`run::needs_run`): a PART that run would run
/// again is not done, whatever its marker says.
pub fn standing(plan: &Plan, state: &PlanState, kdir: &Path) -> Standing {
    let mut s = Standing::default();
    for part in &plan.parts {
        let st = state.part(part.number);
        if !crate::run::needs_run(part, state, kdir) {
            let target = st.and_then(|p| p.target.clone()).or(part.target.clone());
            if let Some(t) = target {
                s.done.push((part.number, t));
            }
        } else if st.map(|p| p.status) == Some(PartStatus::Failed) {
            s.failed.push((
                part.number,
                part.title.clone(),
                st.and_then(|p| p.error.clone()),
            ));
        } else {
            s.pending.push(part.number);
        }
    }
    s
}

/// A new knowledge file: its path, line count and index description.
#[derive(Clone, Debug)]
pub struct NewFile {
    pub target: String,
    pub lines: usize,
    pub description: String,
}

/// The one-line description of a PART's file: the PART title without its
/// `Create path` and `(~N lines)`, else the drop's title, else the file's.
pub fn describe(part_title: &str, drop_text: Option<&str>, file_text: &str) -> String {
    let mut t = part_title.trim().to_string();
    if let Some(p) = t.rfind("(~") {
        t.truncate(p);
    }
    let t = t.trim().trim_end_matches(':').trim();
    if !t.is_empty() && !t.contains(".md") {
        return t.to_string();
    }
    if let Some(d) = drop_text.and_then(crate::knowledge::title_of) {
        let d = d.trim_start_matches("KNOWLEDGE DROP:").trim();
        if !d.is_empty() && !d.contains(".md") {
            return d.to_string();
        }
    }
    crate::knowledge::title_of(file_text).unwrap_or_default()
}

fn read_opt(p: &Path) -> std::io::Result<Option<String>> {
    match std::fs::read_to_string(p) {
        Ok(t) => Ok(Some(t)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}

fn top_folder(target: &str) -> Option<&str> {
    target.split_once('/').map(|(a, _)| a)
}

/// The INDEX.md heading a file is listed under: its folder with a slash, or `./`.
pub(crate) fn parent_heading(target: &str) -> String {
    match target.rfind('/') {
        Some(i) => format!("{}/", &target[..i]),
        None => "./".to_string(),
    }
}

/// Add index rows for `files`. Returns the index files written.
pub fn update_indexes(ws: &Workspace, files: &[NewFile]) -> std::io::Result<Vec<PathBuf>> {
    let kroot = ws.knowledge_dir();
    let per_folder = ws.config.index.mode == "per-folder";
    // index path → heading → rows
    let mut plan: BTreeMap<PathBuf, BTreeMap<String, Vec<index_md::Row>>> = BTreeMap::new();
    for f in files {
        let (index, file) = match (per_folder, top_folder(&f.target)) {
            (true, Some(top)) => (
                kroot.join(top).join("INDEX.md"),
                f.target[top.len() + 1..].to_string(),
            ),
            _ => (kroot.join("INDEX.md"), f.target.clone()),
        };
        plan.entry(index)
            .or_default()
            .entry(parent_heading(&f.target))
            .or_default()
            .push(index_md::Row {
                file,
                description: f.description.clone(),
                lines: f.lines,
            });
    }
    let mut written = Vec::new();
    for (index, by_heading) in plan {
        let old = read_opt(&index)?;
        let mut text = old.clone().unwrap_or_else(|| {
            let name = index
                .parent()
                .and_then(|p| p.file_name())
                .map(|n| n.to_string_lossy().into_owned())
                .filter(|_| per_folder)
                .unwrap_or_else(|| "Knowledge Base".into());
            format!("# {name} Index\n")
        });
        for (heading, rows) in by_heading {
            text = index_md::add_rows(&text, &heading, &rows);
        }
        if old.as_deref() != Some(text.as_str()) {
            crate::fsutil::atomic_write(&index, text.as_bytes())?;
            written.push(index);
        }
    }
    Ok(written)
}

/// Knowledge files under a top-level folder (INDEX.md and drops excluded).
fn count_files(ws: &Workspace, folder: &str) -> std::io::Result<usize> {
    let list = crate::knowledge::list_files(
        &ws.fs,
        &ws.knowledge_dir().join(folder),
        &ws.non_knowledge_dirs(),
    )?;
    Ok(list
        .iter()
        .filter(|p| {
            let b = p.rsplit('/').next().unwrap_or(p);
            !crate::knowledge::is_special(b)
        })
        .count())
}

/// Refresh the SKILL.md managed section: counts of the folders it lists, and
/// the plan's top-level folders that SKILL.md does not mention yet. Returns
/// the file when it was written.
pub fn update_skill(
    ws: &Workspace,
    plan_title: &str,
    files: &[NewFile],
) -> std::io::Result<Option<PathBuf>> {
    let path = ws.knowledge_dir().join("SKILL.md");
    let old = read_opt(&path)?.unwrap_or_default();
    let mut topics = skill_md::topics(&old);
    let outside = match (old.find(skill_md::START), old.find(skill_md::END)) {
        (Some(a), Some(b)) if b > a => format!("{}{}", &old[..a], &old[b..]),
        _ => old.clone(),
    };
    let tops: BTreeSet<&str> = files.iter().filter_map(|f| top_folder(&f.target)).collect();
    for top in tops {
        if !topics.contains_key(top) && !outside.contains(&format!("{top}/")) {
            topics.insert(
                top.to_string(),
                skill_md::Topic {
                    count: 0,
                    description: plan_title.to_string(),
                },
            );
        }
    }
    if topics.is_empty() {
        return Ok(None);
    }
    for (folder, t) in topics.iter_mut() {
        t.count = count_files(ws, folder)?;
    }
    let text = skill_md::update(&old, &topics);
    if text == old {
        return Ok(None);
    }
    crate::fsutil::atomic_write(&path, text.as_bytes())?;
    Ok(Some(path))
}

/// The plan title without a leading "Knowledge Expansion:" (the message adds it).
pub fn short_title(title: &str) -> &str {
    let t = title.trim();
    t.strip_prefix("Knowledge Expansion:")
        .or_else(|| t.strip_prefix("Knowledge Expansion -"))
        .map(str::trim)
        .unwrap_or(t)
}

/// The commit message of SPEC §8.
pub fn message(
    title: &str,
    files: &[NewFile],
    failed: &[(u32, String, Option<String>)],
    archived: &str,
) -> String {
    let n = files.len();
    let mut m = format!(
        "Knowledge Expansion: {} ({n} file{})\n\n",
        short_title(title),
        if n == 1 { "" } else { "s" }
    );
    for f in files {
        m.push_str(&format!("- {} ({} lines)\n", f.target, f.lines));
    }
    if !failed.is_empty() {
        m.push_str("\nFailed PARTs (left out):\n");
        for (n, t, e) in failed {
            match e {
                Some(e) => m.push_str(&format!("- PART {n}: {t} ({e})\n")),
                None => m.push_str(&format!("- PART {n}: {t}\n")),
            }
        }
    }
    m.push_str(&format!("\nPlan: {archived}\n"));
    m
}
