//! The consolidation journal, `.expand/consolidate/<slug>.json`: everything
//! one consolidation will do, written (atomically) before it changes
//! anything and removed only once its commit is made or decided against.
//!
//! A consolidation moves files, so after a failure half-way the workspace
//! alone no longer says what the whole was: the plan file may already be in
//! the archive, its drops half moved, the run state rewritten. The journal
//! does: a retry reads it instead of the plan and runs the same steps (each
//! one a no-op when already done) to the same commit, every path included.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::{FailedPart, NewFile};

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
    pub fn dir(state_dir: &Path) -> PathBuf {
        state_dir.join("consolidate")
    }

    pub fn path(state_dir: &Path, slug: &str) -> PathBuf {
        Self::dir(state_dir).join(format!("{slug}.json"))
    }

    /// The journal of an unfinished consolidation of `slug`, if any.
    pub fn load(state_dir: &Path, slug: &str) -> Result<Option<Journal>, JournalError> {
        let path = Self::path(state_dir, slug);
        let bytes = match std::fs::read(&path) {
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
    pub fn pending(state_dir: &Path) -> Result<Vec<String>, JournalError> {
        let dir = Self::dir(state_dir);
        let rd = match std::fs::read_dir(&dir) {
            Ok(rd) => rd,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(err) => return Err(JournalError::Read { path: dir, err }),
        };
        let mut slugs = Vec::new();
        for e in rd {
            let e = e.map_err(|err| JournalError::Read {
                path: dir.clone(),
                err,
            })?;
            let name = e.file_name().to_string_lossy().into_owned();
            // Atomic writes leave `.name.json.XXXX.tmp` files only on a crash.
            if let Some(slug) = name.strip_suffix(".json").filter(|s| !s.starts_with('.')) {
                slugs.push(slug.to_string());
            }
        }
        slugs.sort();
        Ok(slugs)
    }

    pub fn save(&self, state_dir: &Path) -> Result<(), JournalError> {
        let path = Self::path(state_dir, &self.slug);
        let mut bytes = serde_json::to_vec_pretty(self).expect("journal serializes");
        bytes.push(b'\n');
        crate::fsutil::atomic_write(&path, &bytes).map_err(|err| JournalError::Write { path, err })
    }

    pub fn remove(state_dir: &Path, slug: &str) -> Result<(), JournalError> {
        let path = Self::path(state_dir, slug);
        match std::fs::remove_file(&path) {
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
        assert_eq!(Journal::load(d.path(), "p").unwrap(), None);
        let j = sample();
        j.save(d.path()).unwrap();
        assert_eq!(Journal::load(d.path(), "p").unwrap(), Some(j));
        assert_eq!(Journal::pending(d.path()).unwrap(), ["p"]);
        Journal::remove(d.path(), "p").unwrap();
        Journal::remove(d.path(), "p").unwrap();
        assert!(Journal::pending(d.path()).unwrap().is_empty());
    }

    #[test]
    fn a_damaged_journal_names_its_file() {
        let d = tempfile::tempdir().unwrap();
        let p = Journal::path(d.path(), "p");
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(&p, "{").unwrap();
        let e = Journal::load(d.path(), "p").unwrap_err().to_string();
        assert!(e.contains("p.json") && e.contains("damaged"), "{e}");
    }
}
