//! The consolidation commit (git2): exactly the given paths, never other
//! dirty or staged files, and never a repository left in a state where the
//! user's next `git commit` would undo it.
//!
//! [`Repo::check`] runs before the consolidation changes anything: a commit
//! author, no `index.lock` (or ref lock) held by another git process, no
//! merge, rebase, cherry-pick or revert in progress, no unresolved conflict,
//! a writable `.git`. A detached HEAD is allowed, as `git commit` allows it:
//! the commit moves HEAD and the caller warns that no branch holds it.
//!
//! [`Repo::commit`] then works in the order that keeps every crash and every
//! failure recoverable:
//!
//! 1. The consolidation's paths are staged in an in-memory copy of the real
//!    index (from the working tree), and the commit's tree is HEAD's tree
//!    with exactly those entries: whatever else the user staged stays staged
//!    and out of the commit.
//! 2. The commit object is written, referenced by nothing yet.
//! 3. The real index is written (libgit2 takes `index.lock` for the write).
//!    From here the index stages the consolidation: a crash now leaves it
//!    staged, and a user's `git commit` would commit those files, not delete
//!    them. The retry finishes the commit.
//! 4. HEAD moves to the commit, only if it still points where it did. When
//!    that fails, the index entries of step 3 are put back as they were.
//!
//! The reverse order (HEAD first, index after) is the bug this replaces: an
//! `index.lock` made the index update fail after the commit, leaving an
//! index whose next commit deleted the new files.

use std::path::{Path, PathBuf};

use git2::{IndexEntry, Repository, RepositoryState};

use crate::config::Git;

#[derive(Debug, PartialEq, Eq)]
pub enum Committed {
    /// The workspace is not inside a git repository.
    NotARepo,
    /// The paths already match HEAD.
    Unchanged,
    /// HEAD already is this consolidation's commit, made by an earlier
    /// attempt that stopped before it could say so.
    Earlier(String),
    /// The new commit's id.
    Commit(String),
}

#[derive(Debug, thiserror::Error)]
pub enum GitError {
    #[error("git: failed to {step}: {}", describe(.err))]
    Step { step: String, err: git2::Error },
    #[error("failed to read `{}` for the commit: {err}", .path.display())]
    Io { path: PathBuf, err: std::io::Error },
    #[error("`{}` is outside the git working tree `{}`", .path.display(), .workdir.display())]
    Outside { path: PathBuf, workdir: PathBuf },
    #[error("no commit author: git has no user.name / user.email and expand.yaml sets no git.author_name / git.author_email")]
    NoAuthor,
    #[error("git's lock file `{}` exists", .0.display())]
    Locked(PathBuf),
    #[error("a git {what} is in progress in `{}`", .repo.display())]
    Busy { what: &'static str, repo: PathBuf },
    #[error("git's index has unresolved conflicts")]
    Conflicts,
    #[error("`{}` is not writable: {err}", .path.display())]
    NotWritable { path: PathBuf, err: std::io::Error },
    #[error("git's index `{}` changed while the commit was being made", .0.display())]
    IndexChanged(PathBuf),
    #[error(transparent)]
    Fault(#[from] crate::fault::Injected),
    #[error("{moving}; and putting back the index failed too: {restoring}")]
    Stranded {
        moving: Box<GitError>,
        restoring: Box<GitError>,
    },
}

impl GitError {
    pub fn hint(&self) -> Option<String> {
        Some(match self {
            GitError::Locked(p) => format!(
                "another git process is running, or a crashed one left the file: \
                 remove `{}` if no git process is running",
                p.display()
            ),
            GitError::NoAuthor => "set one with `git config user.name NAME` and \
                 `git config user.email EMAIL`, or git.author_name and git.author_email in expand.yaml"
                .to_string(),
            GitError::Busy { .. } => "finish it (`git commit`, `git rebase --continue`, …) \
                 or abort it first"
                .to_string(),
            GitError::Conflicts => {
                "resolve them (`git status` lists them) or abort the merge first".to_string()
            }
            GitError::IndexChanged(_) => "another git command ran at the same time".to_string(),
            GitError::Stranded { .. } => {
                "the index stages the consolidation's files; finishing the consolidation \
                 commits them"
                    .to_string()
            }
            _ => return None,
        })
    }
}

/// A git error's message; libgit2 sometimes fails without one ("no error").
fn describe(e: &git2::Error) -> String {
    let m = e.message().trim();
    if m.is_empty() || m.eq_ignore_ascii_case("no error") {
        format!(
            "libgit2 gave no reason (code {:?}, class {:?})",
            e.code(),
            e.class()
        )
    } else {
        m.to_string()
    }
}

fn step(what: impl Into<String>) -> impl FnOnce(git2::Error) -> GitError {
    let step = what.into();
    move |err| GitError::Step { step, err }
}

/// The repository a workspace is in.
pub struct Repo {
    repo: Repository,
    workdir: PathBuf,
}

/// The repository holding `start`, or `None` when there is none (or it has
/// no working tree).
pub fn open(start: &Path) -> Result<Option<Repo>, GitError> {
    let repo = match Repository::discover(start) {
        Ok(r) => r,
        Err(e) if e.code() == git2::ErrorCode::NotFound => return Ok(None),
        Err(e) => {
            return Err(step(format!(
                "open the repository at `{}`",
                start.display()
            ))(e))
        }
    };
    let Some(workdir) = repo.workdir() else {
        return Ok(None);
    };
    let workdir = workdir
        .canonicalize()
        .unwrap_or_else(|_| workdir.to_path_buf());
    Ok(Some(Repo { repo, workdir }))
}

impl Repo {
    fn gitdir(&self) -> &Path {
        self.repo.path()
    }

    /// `paths` relative to the working tree, `/`-separated, sorted, unique.
    fn rels(&self, paths: &[PathBuf]) -> Result<Vec<String>, GitError> {
        let mut rels = Vec::with_capacity(paths.len());
        for p in paths {
            let rel = p
                .strip_prefix(&self.workdir)
                .map_err(|_| GitError::Outside {
                    path: p.clone(),
                    workdir: self.workdir.clone(),
                })?;
            rels.push(rel.to_string_lossy().replace('\\', "/"));
        }
        rels.sort();
        rels.dedup();
        Ok(rels)
    }

    fn signature(&self, cfg: &Git) -> Result<git2::Signature<'static>, GitError> {
        match self.repo.signature() {
            Ok(s) => Ok(s),
            Err(_) => match (&cfg.author_name, &cfg.author_email) {
                (Some(n), Some(e)) => {
                    git2::Signature::now(n, e).map_err(step("use expand.yaml's git author"))
                }
                _ => Err(GitError::NoAuthor),
            },
        }
    }

    fn head_commit(&self) -> Result<Option<git2::Commit<'_>>, GitError> {
        match self.repo.head() {
            Ok(h) => h
                .peel_to_commit()
                .map(Some)
                .map_err(step("read HEAD's commit")),
            Err(e)
                if e.code() == git2::ErrorCode::UnbornBranch
                    || e.code() == git2::ErrorCode::NotFound =>
            {
                Ok(None)
            }
            Err(e) => Err(step("read HEAD")(e)),
        }
    }

    /// Whether HEAD points at a commit rather than a branch.
    pub fn detached(&self) -> bool {
        self.repo.head_detached().unwrap_or(false)
    }

    /// Lock files another git process (or a crashed one) holds, which the
    /// commit would need: the index, HEAD, and the branch HEAD names.
    fn locks(&self) -> Vec<PathBuf> {
        let g = self.gitdir();
        let mut v = vec![g.join("index.lock"), g.join("HEAD.lock")];
        if let Ok(head) = self.repo.find_reference("HEAD") {
            if let Some(name) = head.symbolic_target() {
                v.push(g.join(format!("{name}.lock")));
            }
        }
        v
    }

    /// Everything a commit of `paths` needs, checked before the consolidation
    /// changes anything.
    pub fn check(&self, paths: &[PathBuf], cfg: &Git) -> Result<(), GitError> {
        self.rels(paths)?;
        self.signature(cfg)?;
        if let Some(lock) = self.locks().into_iter().find(|p| p.exists()) {
            return Err(GitError::Locked(lock));
        }
        let what = match self.repo.state() {
            // Committing while bisecting is what `git commit` allows too.
            RepositoryState::Clean | RepositoryState::Bisect => None,
            RepositoryState::Merge => Some("merge"),
            RepositoryState::Revert | RepositoryState::RevertSequence => Some("revert"),
            RepositoryState::CherryPick | RepositoryState::CherryPickSequence => {
                Some("cherry-pick")
            }
            RepositoryState::Rebase
            | RepositoryState::RebaseInteractive
            | RepositoryState::RebaseMerge => Some("rebase"),
            RepositoryState::ApplyMailbox | RepositoryState::ApplyMailboxOrRebase => Some("am"),
        };
        if let Some(what) = what {
            return Err(GitError::Busy {
                what,
                repo: self.workdir.clone(),
            });
        }
        let index = self.repo.index().map_err(step("read git's index"))?;
        if index.has_conflicts() {
            return Err(GitError::Conflicts);
        }
        self.head_commit()?;
        for dir in [self.gitdir().to_path_buf(), self.gitdir().join("objects")] {
            crate::fsutil::check_writable(&dir)
                .map_err(|err| GitError::NotWritable { path: dir, err })?;
        }
        Ok(())
    }

    /// Commit `paths` (absolute; a path with no file is removed from the
    /// tree) with `message`, in the order the module header explains. The
    /// real index is written only when a commit is made.
    pub fn commit(
        &self,
        paths: &[PathBuf],
        message: &str,
        cfg: &Git,
    ) -> Result<Committed, GitError> {
        let rels = self.rels(paths)?;
        let head = self.head_commit()?;
        let index_file = self.gitdir().join("index");
        let stamp = || stamp(&index_file);
        let before = stamp();
        let mut index = self.repo.index().map_err(step("read git's index"))?;
        // What the user's index holds for these paths, to put back if HEAD
        // cannot be moved.
        let saved: Vec<(&str, Option<IndexEntry>)> = rels
            .iter()
            .map(|r| (r.as_str(), index.get_path(Path::new(r), 0)))
            .collect();
        for rel in &rels {
            let abs = self.workdir.join(rel);
            let present = abs.symlink_metadata().map(|m| !m.is_dir()).unwrap_or(false);
            if present {
                index
                    .add_path(Path::new(rel))
                    .map_err(step(format!("stage `{rel}`")))?;
            } else if index.get_path(Path::new(rel), 0).is_some() {
                index
                    .remove_path(Path::new(rel))
                    .map_err(step(format!("unstage `{rel}`")))?;
            }
        }
        let mut tree_index = git2::Index::new().map_err(step("make an index"))?;
        if let Some(c) = &head {
            let tree = c.tree().map_err(step("read HEAD's tree"))?;
            tree_index
                .read_tree(&tree)
                .map_err(step("read HEAD's tree"))?;
        }
        for rel in &rels {
            match index.get_path(Path::new(rel), 0) {
                Some(e) => tree_index
                    .add(&e)
                    .map_err(step(format!("add `{rel}` to the tree")))?,
                None if tree_index.get_path(Path::new(rel), 0).is_some() => tree_index
                    .remove_path(Path::new(rel))
                    .map_err(step(format!("remove `{rel}` from the tree")))?,
                None => {}
            }
        }
        let tree_id = tree_index
            .write_tree_to(&self.repo)
            .map_err(step("write the tree"))?;
        let unchanged = match &head {
            Some(c) => c.tree_id() == tree_id,
            None => tree_index.is_empty(),
        };
        if unchanged {
            // The user's index is left as it is: nothing is committed, so
            // nothing in it needs to agree with a new HEAD.
            return Ok(match &head {
                Some(c) if c.message_raw() == Some(message) => {
                    Committed::Earlier(c.id().to_string())
                }
                _ => Committed::Unchanged,
            });
        }
        let sig = self.signature(cfg)?;
        let tree = self
            .repo
            .find_tree(tree_id)
            .map_err(step("read the new tree"))?;
        let parents: Vec<&git2::Commit> = head.iter().collect();
        let id = self
            .repo
            .commit(None, &sig, &sig, message, &tree, &parents)
            .map_err(step("write the commit"))?;
        crate::fault::at("consolidate-object")?;
        // libgit2 read the index without holding its lock: refuse to write
        // over what another git command wrote in the meantime.
        if stamp() != before {
            return Err(GitError::IndexChanged(index_file));
        }
        index.write().map_err(|e| {
            if e.code() == git2::ErrorCode::Locked {
                GitError::Locked(self.gitdir().join("index.lock"))
            } else {
                step(format!("write git's index `{}`", index_file.display()))(e)
            }
        })?;
        // From here until HEAD moves, the index stages the consolidation:
        // any failure puts back what it held for these paths.
        let moved = crate::fault::at("consolidate-git-index")
            .map_err(GitError::from)
            .and_then(|()| self.move_head(head.as_ref(), id, message));
        if let Err(moving) = moved {
            for (rel, entry) in &saved {
                let _ = match entry {
                    Some(e) => index.add(e),
                    None => index.remove_path(Path::new(rel)),
                };
            }
            return Err(match index.write() {
                Ok(()) => moving,
                Err(e) => GitError::Stranded {
                    moving: Box::new(moving),
                    restoring: Box::new(step("write git's index")(e)),
                },
            });
        }
        crate::fault::at("consolidate-head")?;
        Ok(Committed::Commit(id.to_string()))
    }

    /// Point HEAD (its branch, or HEAD itself when detached) at `id`, only
    /// if it still points at `old`.
    fn move_head(
        &self,
        old: Option<&git2::Commit>,
        id: git2::Oid,
        message: &str,
    ) -> Result<(), GitError> {
        let summary = message.lines().next().unwrap_or("");
        match old {
            Some(c) => {
                let head = self.repo.head().map_err(step("read HEAD"))?;
                let name = head.name().unwrap_or("HEAD").to_string();
                // Conditional: libgit2 refuses when the ref no longer points
                // at the commit this one was made on.
                self.repo
                    .reference_matching(&name, id, true, c.id(), &format!("commit: {summary}"))
                    .map_err(step(format!("move `{name}` to the new commit")))?;
            }
            None => {
                let head = self
                    .repo
                    .find_reference("HEAD")
                    .map_err(step("read HEAD"))?;
                let name = head.symbolic_target().unwrap_or("HEAD").to_string();
                let log = format!("commit (initial): {summary}");
                self.repo
                    .reference(&name, id, false, &log)
                    .map_err(step(format!("create `{name}`")))?;
            }
        }
        Ok(())
    }
}

/// What identifies one version of git's index file: a rewrite changes it.
fn stamp(p: &Path) -> Option<(std::time::SystemTime, u64, u64)> {
    let m = p.metadata().ok()?;
    #[cfg(unix)]
    let ino = std::os::unix::fs::MetadataExt::ino(&m);
    #[cfg(not(unix))]
    let ino = 0;
    Some((m.modified().ok()?, m.len(), ino))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_git_error_without_a_message_still_says_something() {
        let e = GitError::Step {
            step: "write the tree".into(),
            err: git2::Error::from_str("no error"),
        };
        let m = e.to_string();
        assert!(
            m.starts_with("git: failed to write the tree: libgit2 gave no reason"),
            "{m}"
        );
    }
}
