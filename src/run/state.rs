//! Run state in `.expand/`: per plan, per PART status, attempts, error,
//! timings, outputs, tokens and cost. Written atomically after every change,
//! so a crash leaves the last recorded outcome intact. Also the workspace lock.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::providers::Usage;

pub const VERSION: u32 = 1;

#[derive(Clone, Copy, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum PartStatus {
    #[default]
    Pending,
    /// Started and not finished: after a crash, the next run starts it again.
    Running,
    Done,
    Failed,
}

impl PartStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            PartStatus::Pending => "pending",
            PartStatus::Running => "running",
            PartStatus::Done => "done",
            PartStatus::Failed => "failed",
        }
    }
}

#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct PartState {
    pub status: PartStatus,
    pub batch: u32,
    pub attempts: u32,
    pub error: Option<String>,
    pub started_at: Option<String>,
    pub finished_at: Option<String>,
    pub duration_ms: Option<u64>,
    /// Knowledge-relative path of the file written.
    pub target: Option<String>,
    pub target_lines: Option<usize>,
    /// expand wrote `target` in an attempt of this PART: a retry may replace it.
    pub wrote_target: bool,
    /// Workspace-relative path of the KNOWLEDGE-DROP file.
    pub drop: Option<String>,
    pub provider: Option<String>,
    pub model: Option<String>,
    pub usage: Usage,
    pub cost: Option<f64>,
    /// URLs and knowledge files the writer was given.
    pub sources: Vec<String>,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct PlanState {
    pub version: u32,
    pub slug: String,
    /// Workspace-relative path of the plan when it last ran.
    pub plan_path: String,
    pub parts: BTreeMap<u32, PartState>,
}

#[derive(Debug, thiserror::Error)]
pub enum StateError {
    #[error("failed to read run state `{path}`: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("run state `{path}` is damaged: {message}")]
    Corrupt { path: PathBuf, message: String },
}

impl PlanState {
    pub fn path(state_dir: &Path, slug: &str) -> PathBuf {
        state_dir.join("state").join(format!("{slug}.json"))
    }

    /// The saved state of a plan, or an empty one.
    pub fn load(state_dir: &Path, slug: &str) -> Result<PlanState, StateError> {
        let path = Self::path(state_dir, slug);
        match std::fs::read(&path) {
            Ok(bytes) => {
                let s: PlanState =
                    serde_json::from_slice(&bytes).map_err(|e| StateError::Corrupt {
                        path: path.clone(),
                        message: e.to_string(),
                    })?;
                Ok(s)
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(PlanState {
                version: VERSION,
                slug: slug.to_string(),
                ..PlanState::default()
            }),
            Err(source) => Err(StateError::Io { path, source }),
        }
    }

    pub fn save(&self, state_dir: &Path) -> std::io::Result<()> {
        let path = Self::path(state_dir, &self.slug);
        let mut bytes = serde_json::to_vec_pretty(self).expect("state serializes");
        bytes.push(b'\n');
        crate::fsutil::atomic_write(&path, &bytes)
    }

    pub fn part(&self, n: u32) -> Option<&PartState> {
        self.parts.get(&n)
    }

    pub fn part_mut(&mut self, n: u32) -> &mut PartState {
        self.parts.entry(n).or_default()
    }
}

/// An exclusive lock on the workspace, held while a run changes it. Released on drop
/// (and by the OS when the process dies, so a `kill -9` never leaves a stale lock).
pub struct Lock {
    _file: std::fs::File,
}

#[derive(Debug, thiserror::Error)]
pub enum LockError {
    #[error("the workspace is locked by another expand run (`{0}`)")]
    Busy(PathBuf),
    #[error("failed to open the lock file `{path}`: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
}

impl Lock {
    pub fn acquire(state_dir: &Path) -> Result<Lock, LockError> {
        use fs4::fs_std::FileExt;
        std::fs::create_dir_all(state_dir).map_err(|source| LockError::Io {
            path: state_dir.to_path_buf(),
            source,
        })?;
        let path = state_dir.join("lock");
        let file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .read(true)
            .write(true)
            .open(&path)
            .map_err(|source| LockError::Io {
                path: path.clone(),
                source,
            })?;
        match FileExt::try_lock_exclusive(&file) {
            Ok(true) => {}
            Ok(false) => return Err(LockError::Busy(path)),
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                return Err(LockError::Busy(path))
            }
            Err(source) => return Err(LockError::Io { path, source }),
        }
        // Leave the pid for people who look.
        let _ = std::fs::write(
            state_dir.join("lock.pid"),
            format!("{}\n", std::process::id()),
        );
        Ok(Lock { _file: file })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn state_round_trips_and_lock_is_exclusive() {
        let d = tempfile::tempdir().unwrap();
        let mut s = PlanState::load(d.path(), "p").unwrap();
        s.part_mut(3).status = PartStatus::Done;
        s.save(d.path()).unwrap();
        assert_eq!(PlanState::load(d.path(), "p").unwrap(), s);
        let l = Lock::acquire(d.path()).unwrap();
        assert!(matches!(Lock::acquire(d.path()), Err(LockError::Busy(_))));
        drop(l);
        assert!(Lock::acquire(d.path()).is_ok());
    }
}
