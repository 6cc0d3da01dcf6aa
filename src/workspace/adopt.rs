//! Adopting a knowledge base expand did not make: find its layout (where
//! the knowledge tree, the plans, the archive and the drops are; whether
//! its indexes are per folder; which folders hold no knowledge) so that
//! `expand init` can write an `expand.yaml` that describes it, instead of
//! one a user must guess.

use std::path::Path;

use crate::workspace::jail::Jail;

/// What an existing base looks like.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Layout {
    /// `.` when the base's root is the knowledge tree, else the folder.
    pub knowledge_dir: String,
    pub plans_dir: Option<String>,
    pub completed_dir: Option<String>,
    pub drops_dir: Option<String>,
    /// `per-folder` when topic folders carry their own `INDEX.md` and the
    /// knowledge root has none.
    pub per_folder_index: bool,
    /// Knowledge-root folders that hold no knowledge: the plans' parent
    /// folder (with its templates), scratch folders.
    pub exclude: Vec<String>,
    /// What was found, for the summary.
    pub knowledge_files: usize,
    pub indexes: usize,
    pub plans_pending: usize,
    pub plans_archived: usize,
}

/// Whether `root` already is a knowledge base (a `SKILL.md` or `INDEX.md`
/// beside topic folders of markdown files), so `init` should adopt it.
pub fn is_base(fs: &Jail) -> bool {
    (fs.is_file("SKILL.md") || fs.is_file("INDEX.md") || fs.is_dir("knowledge"))
        && fs
            .read_dir(".")
            .unwrap_or_default()
            .iter()
            .any(|e| e.is_dir && !e.name.starts_with('.') && has_md(fs, Path::new(&e.name)))
}

fn has_md(fs: &Jail, dir: &Path) -> bool {
    fs.read_dir(dir)
        .unwrap_or_default()
        .iter()
        .any(|e| e.is_file && e.name.ends_with(".md"))
}

/// Folders (workspace-relative) up to two levels down whose name is one
/// of `names`, in order of depth then name.
fn find_dirs(fs: &Jail, names: &[&str]) -> Vec<String> {
    let mut out = Vec::new();
    let top = fs.read_dir(".").unwrap_or_default();
    for e in top.iter().filter(|e| e.is_dir && !e.name.starts_with('.')) {
        if names.iter().any(|n| e.name.eq_ignore_ascii_case(n)) {
            out.push(e.name.clone());
        }
    }
    for e in top.iter().filter(|e| e.is_dir && !e.name.starts_with('.')) {
        for s in fs.read_dir(&e.name).unwrap_or_default() {
            if s.is_dir && names.iter().any(|n| s.name.eq_ignore_ascii_case(n)) {
                out.push(format!("{}/{}", e.name, s.name));
            }
        }
    }
    out
}

/// Plans in a folder: `*.md` there, or one markdown file in each
/// subfolder (hand-run bases keep a plan in a folder of its own).
fn count_plans(fs: &Jail, dir: &str) -> usize {
    fs.read_dir(dir)
        .unwrap_or_default()
        .iter()
        .map(|e| {
            if e.is_file && e.name.ends_with(".md") {
                1
            } else if e.is_dir {
                usize::from(has_md(fs, &Path::new(dir).join(&e.name)))
            } else {
                0
            }
        })
        .sum()
}

/// Find the layout of the base at the jail's root.
pub fn detect(fs: &Jail) -> Layout {
    let mut l = Layout {
        knowledge_dir: if fs.is_dir("knowledge") && !fs.is_file("SKILL.md") {
            "knowledge".into()
        } else {
            ".".into()
        },
        ..Layout::default()
    };
    l.completed_dir = find_dirs(fs, &["completed"]).into_iter().next();
    l.plans_dir = find_dirs(fs, &["plans", "inprocess", "in-progress", "pending"])
        .into_iter()
        .next();
    l.drops_dir = fs
        .read_dir(".")
        .unwrap_or_default()
        .into_iter()
        .find(|e| e.is_dir && e.name.to_ascii_lowercase().contains("drops"))
        .map(|e| e.name);
    // The folders that hold the plans and the archive, and scratch folders
    // (`_ingest`, templates), are not knowledge.
    if l.knowledge_dir == "." {
        for e in fs.read_dir(".").unwrap_or_default() {
            if !e.is_dir || e.name.starts_with('.') {
                continue;
            }
            let owns = |d: &Option<String>| {
                d.as_deref()
                    .is_some_and(|d| d == e.name || d.starts_with(&format!("{}/", e.name)))
            };
            let scratch =
                e.name.starts_with('_') || e.name.to_ascii_uppercase().starts_with("TEMPLATE");
            if scratch || owns(&l.plans_dir) || owns(&l.completed_dir) || owns(&l.drops_dir) {
                l.exclude.push(e.name);
            }
        }
    }
    let kroot = Path::new(&l.knowledge_dir);
    let exclude: Vec<std::path::PathBuf> = l
        .exclude
        .iter()
        .map(|x| fs.root().join(kroot).join(x))
        .collect();
    let files =
        crate::knowledge::list_files(fs, &fs.root().join(kroot), &exclude).unwrap_or_default();
    l.indexes = files.iter().filter(|f| f.ends_with("INDEX.md")).count();
    l.knowledge_files = files
        .iter()
        .filter(|f| !crate::knowledge::is_special(f.rsplit('/').next().unwrap_or(f)))
        .count();
    l.per_folder_index = l.indexes > 0 && !fs.is_file(kroot.join("INDEX.md"));
    l.plans_pending = l.plans_dir.as_deref().map_or(0, |d| count_plans(fs, d));
    l.plans_archived = l.completed_dir.as_deref().map_or(0, |d| count_plans(fs, d));
    l
}

impl Layout {
    /// The `expand.yaml` that describes this layout, every other key left
    /// at its default (and listed, commented, below it).
    pub fn config(&self) -> String {
        let mut s = String::from(
            "# expand.yaml written by `expand init`, which found an existing knowledge base here.\n\
             # The keys below describe its layout; every other key is at its default (see the end).\n\n",
        );
        s.push_str(&format!("knowledge_dir: \"{}\"\n", self.knowledge_dir));
        if let Some(d) = &self.plans_dir {
            s.push_str(&format!("plans_dir: {d}              # plans waiting to run (a file, or a folder holding one)\n"));
        }
        if let Some(d) = &self.completed_dir {
            s.push_str(&format!(
                "completed_dir: {d}          # archived plans, one folder each\n"
            ));
        }
        if let Some(d) = &self.drops_dir {
            s.push_str(&format!("drops_dir: {d}\n"));
        }
        if self.per_folder_index {
            s.push_str("index: { mode: per-folder }   # each topic folder has its own INDEX.md\n");
        }
        if !self.exclude.is_empty() {
            s.push_str(&format!(
                "audit:\n  exclude: [{}]   # folders of the tree that hold no knowledge\n",
                self.exclude.join(", ")
            ));
        }
        s.push('\n');
        for line in crate::config::TEMPLATE.lines().skip(2) {
            s.push_str(line);
            s.push('\n');
        }
        s
    }
}
