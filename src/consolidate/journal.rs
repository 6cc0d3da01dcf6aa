//! The consolidation journal, `.expand/consolidate/<slug>.json`: everything
//! one consolidation will do, written (atomically) before it changes
//! anything and removed only once its commit is made or decided against.
//!
//! A consolidation moves files, so after a failure half-way the workspace
//! alone no longer says what the whole was: the plan file may already be in
//! the archive, its drops half moved, the run state rewritten. The journal
//! does: a retry reads it instead of the plan and runs the same steps (each
//! one a no-op when already done) to the same commit, every path included.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::{FailedPart, NewFile};
use crate::workspace::jail::Jail;

pub const VERSION: u32 = 1;

/// One file moved into the archive, workspace-relative.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Move {
    pub from: String,
    pub to: String,
}

/// A consolidation in progress. Paths are workspace-relative with `/`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Journal {
    pub version: u32,
    /// The plan's slug: names this journal, its drops and its run state.
    pub slug: String,
    pub title: String,
    /// Where the plan was when the consolidation began.
    pub plan: String,
    /// The archive folder (`completed/<slug>` or `completed/<slug>-N`).
    pub archive: String,
    /// The archived plan file inside it.
    pub archived_plan: String,
    /// Run state's name after the consolidation: the archive folder's name,
    /// the slug an archived plan is known by (`Workspace::archived_slug`).
    pub state_slug: String,
    /// The plan's new knowledge files (knowledge-relative targets).
    pub files: Vec<NewFile>,
    pub failed: Vec<FailedPart>,
    /// Index files and SKILL.md this consolidation changes.
    pub indexes: Vec<String>,
    pub skill: Option<String>,
    pub moves: Vec<Move>,
    /// Every path the commit covers, sorted: new files, indexes, skill, and
    /// both ends of each move (a path no longer there leaves the tree).
    pub paths: Vec<String>,
    pub message: String,
}

#[derive(Debug, thiserror::Error)]
pub enum JournalError {
    #[error("failed to read the consolidation journal `{}`: {err}", .path.display())]
    Read { path: PathBuf, err: std::io::Error },
    #[error("failed to write the consolidation journal `{}`: {err}", .path.display())]
    Write { path: PathBuf, err: std::io::Error },
    #[error("the consolidation journal `{}` is damaged: {message}", .path.display())]
    Corrupt { path: PathBuf, message: String },
}

impl Journal {
    /// The folder of journals, workspace-relative.
    pub fn dir() -> PathBuf {
        PathBuf::from(".expand/consolidate")
    }

    pub fn path(slug: &str) -> PathBuf {
        Self::dir().join(format!("{slug}.json"))
    }

    /// The journal of an unfinished consolidation of `slug`, if any.
    pub fn load(fs: &Jail, slug: &str) -> Result<Option<Journal>, JournalError> {
        let path = Self::path(slug);
        let bytes = match fs.read(&path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(err) => return Err(JournalError::Read { path, err }),
        };
        let j: Journal = serde_json::from_slice(&bytes).map_err(|e| JournalError::Corrupt {
            path: path.clone(),
            message: e.to_string(),
        })?;
        if j.version != VERSION || j.slug != slug {
            return Err(JournalError::Corrupt {
                path,
                message: format!("version {} for `{}`", j.version, j.slug),
            });
        }
        Ok(Some(j))
    }

    /// Slugs with an unfinished consolidation, sorted.
    pub fn pending(fs: &Jail) -> Result<Vec<String>, JournalError> {
        let dir = Self::dir();
        let entries = match fs.read_dir(&dir) {
            Ok(v) => v,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(err) => return Err(JournalError::Read { path: dir, err }),
        };
        let mut slugs = Vec::new();
        for e in entries {
            // A crash mid-write leaves a hidden temp file, not a journal.
            if let Some(slug) = e.name.strip_suffix(".json").filter(|s| !s.starts_with('.')) {
                slugs.push(slug.to_string());
            }
        }
        slugs.sort();
        Ok(slugs)
    }

    pub fn save(&self, fs: &Jail) -> Result<(), JournalError> {
        let path = Self::path(&self.slug);
        let mut bytes = serde_json::to_vec_pretty(self).expect("journal serializes");
        bytes.push(b'\n');
        fs.write(&path, &bytes)
            .map_err(|err| JournalError::Write { path, err })
    }

    pub fn remove(fs: &Jail, slug: &str) -> Result<(), JournalError> {
        let path = Self::path(slug);
        match fs.remove_file(&path) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                Err(JournalError::Write { path, err: e })
            }
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Journal {
        Journal {
            version: VERSION,
            slug: "p".into(),
            title: "T".into(),
            plan: "plans/p.md".into(),
            archive: "completed/p-2".into(),
            archived_plan: "completed/p-2/plan.md".into(),
            state_slug: "p-2".into(),
            files: vec![NewFile {
                target: "a/00-x.md".into(),
                lines: 3,
                description: "X".into(),
            }],
            failed: vec![],
            indexes: vec!["knowledge/INDEX.md".into()],
            skill: None,
            moves: vec![Move {
                from: "plans/p.md".into(),
                to: "completed/p-2/plan.md".into(),
            }],
            paths: vec!["completed/p-2/plan.md".into(), "plans/p.md".into()],
            message: "m".into(),
        }
    }

    #[test]
    fn round_trips_and_lists_pending() {
        let d = tempfile::tempdir().unwrap();
        let fs = Jail::open(&d.path().canonicalize().unwrap()).unwrap();
        assert_eq!(Journal::load(&fs, "p").unwrap(), None);
        let j = sample();
        j.save(&fs).unwrap();
        assert_eq!(Journal::load(&fs, "p").unwrap(), Some(j));
        assert_eq!(Journal::pending(&fs).unwrap(), ["p"]);
        Journal::remove(&fs, "p").unwrap();
        Journal::remove(&fs, "p").unwrap();
        assert!(Journal::pending(&fs).unwrap().is_empty());
    }

    #[test]
    fn a_damaged_journal_names_its_file() {
        let d = tempfile::tempdir().unwrap();
        let fs = Jail::open(&d.path().canonicalize().unwrap()).unwrap();
        let p = fs.root().join(Journal::path("p"));
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(&p, "{").unwrap();
        let e = Journal::load(&fs, "p").unwrap_err().to_string();
        assert!(e.contains("p.json") && e.contains("damaged"), "{e}");
    }
}
