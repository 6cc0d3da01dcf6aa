//! What a consolidation writes into the knowledge base and the commit: index
//! rows for the new files, the SKILL.md topic list, the commit message.
//!
//! The edits are computed apart from writing them: a consolidation first
//! works out which files it will change (its journal lists them, and its
//! commit covers them), then writes them. Computing them again gives the
//! same answer, or none once written, so a retry can always redo the step.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::{io, ConsolidateError, FailedPart};
use crate::knowledge::{index_md, skill_md};
use crate::workspace::Workspace;

/// A new knowledge file: its path, line count and index description.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewFile {
    /// Knowledge-relative path.
    pub target: String,
    pub lines: usize,
    pub description: String,
}

/// A file and the text it is to hold.
pub type Edit = (PathBuf, String);

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
    if let Some(d) = drop_text.and_then(crate::markdown::title) {
        let d = d.trim_start_matches("KNOWLEDGE DROP:").trim();
        if !d.is_empty() && !d.contains(".md") {
            return d.to_string();
        }
    }
    crate::markdown::title(file_text).unwrap_or_default()
}

fn read_opt(ws: &Workspace, p: &Path) -> Result<Option<String>, ConsolidateError> {
    ws.fs.read_to_string_opt(p).map_err(io("read", p))
}

/// Write an edit through the workspace's jail (atomic; the mode of the
/// file it replaces is kept).
pub fn write(ws: &Workspace, edit: &Edit) -> Result<(), ConsolidateError> {
    ws.fs
        .write(&edit.0, edit.1.as_bytes())
        .map_err(io("write", &edit.0))
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

/// The index files that rows for `files` change, with their new text; an
/// index that already has the rows is not among them.
pub fn index_edits(ws: &Workspace, files: &[NewFile]) -> Result<Vec<Edit>, ConsolidateError> {
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
    let mut edits = Vec::new();
    for (index, by_heading) in plan {
        let old = read_opt(ws, &index)?;
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
            edits.push((index, text));
        }
    }
    Ok(edits)
}

/// Knowledge files under a top-level folder (INDEX.md and drops excluded).
fn count_files(ws: &Workspace, folder: &str) -> Result<usize, ConsolidateError> {
    let dir = ws.knowledge_dir().join(folder);
    let list = crate::knowledge::list_files(&ws.fs, &dir, &ws.non_knowledge_dirs())
        .map_err(io("list", &dir))?;
    Ok(list
        .iter()
        .filter(|p| {
            let b = p.rsplit('/').next().unwrap_or(p);
            !crate::knowledge::is_special(b)
        })
        .count())
}

/// The SKILL.md managed section refreshed: counts of the folders it lists,
/// and the plan's top-level folders that SKILL.md does not mention yet.
/// `None` when that changes nothing.
pub fn skill_edit(
    ws: &Workspace,
    plan_title: &str,
    files: &[NewFile],
) -> Result<Option<Edit>, ConsolidateError> {
    let path = ws.knowledge_dir().join("SKILL.md");
    let old = read_opt(ws, &path)?.unwrap_or_default();
    let mut topics = skill_md::topics(&old);
    let outside = match (old.find(skill_md::START), old.find(skill_md::END)) {
        (Some(a), Some(b)) if b > a => format!("{}{}", &old[..a], &old[b..]),
        _ => old.clone(),
    };
    let tops: BTreeSet<&str> = files.iter().filter_map(|f| top_folder(&f.target)).collect();
    // Without markers the managed section is appended once, listing the
    // plan's folders even when the hand text names them; with markers, a
    // folder the hand text already describes is left to it.
    let has_markers = old.contains(skill_md::START);
    for top in tops {
        if !topics.contains_key(top) && (!has_markers || !outside.contains(&format!("{top}/"))) {
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
    Ok((text != old).then_some((path, text)))
}

/// What a plan is about, for SKILL.md's topic line: its short title
/// without a trailing "(8 runners in 2 batches)".
pub fn topic_of(title: &str) -> &str {
    let t = short_title(title);
    match t.rfind(" (") {
        Some(open)
            if t.ends_with(')')
                && ["runner", "PART", "batch", "file"]
                    .iter()
                    .any(|w| t[open..].contains(w)) =>
        {
            t[..open].trim_end()
        }
        _ => t,
    }
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
pub fn message(title: &str, files: &[NewFile], failed: &[FailedPart], archived: &str) -> String {
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
        for f in failed {
            match &f.error {
                Some(e) => m.push_str(&format!("- PART {}: {} ({e})\n", f.part, f.title)),
                None => m.push_str(&format!("- PART {}: {}\n", f.part, f.title)),
            }
        }
    }
    m.push_str(&format!("\nPlan: {archived}\n"));
    m
}
