//! The consolidation commit (git2): exactly the given paths, never other
//! dirty or staged files. The tree is built from HEAD plus those paths, so
//! whatever the user has staged stays staged and out of the commit.

use std::path::{Path, PathBuf};

use git2::{IndexEntry, IndexTime, Repository};

use crate::config::Git;

#[derive(Debug, PartialEq, Eq)]
pub enum Committed {
    /// The workspace is not inside a git repository.
    NotARepo,
    /// The paths already match HEAD.
    Unchanged,
    /// The new commit's id.
    Commit(String),
}

#[derive(Debug, thiserror::Error)]
pub enum GitError {
    #[error("git: {0}")]
    Git(#[from] git2::Error),
    #[error("failed to read `{path}` for the commit: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("`{0}` is outside the repository's working tree")]
    Outside(PathBuf),
    #[error("no commit author: git has no user.name / user.email and expand.yaml sets no git.author_name / git.author_email")]
    NoAuthor,
}

/// Commit `paths` (absolute; files that no longer exist are removed from the
/// tree) with `message`.
pub fn commit(
    start: &Path,
    paths: &[PathBuf],
    message: &str,
    cfg: &Git,
) -> Result<Committed, GitError> {
    let repo = match Repository::discover(start) {
        Ok(r) => r,
        Err(e) if e.code() == git2::ErrorCode::NotFound => return Ok(Committed::NotARepo),
        Err(e) => return Err(e.into()),
    };
    let Some(workdir) = repo.workdir() else {
        return Ok(Committed::NotARepo);
    };
    let workdir = workdir
        .canonicalize()
        .unwrap_or_else(|_| workdir.to_path_buf());
    let mut rels: Vec<String> = Vec::with_capacity(paths.len());
    for p in paths {
        let rel = p
            .strip_prefix(&workdir)
            .map_err(|_| GitError::Outside(p.clone()))?;
        rels.push(rel.to_string_lossy().replace('\\', "/"));
    }
    rels.sort();
    rels.dedup();

    let head = match repo.head() {
        Ok(h) => Some(h.peel_to_commit()?),
        Err(e)
            if e.code() == git2::ErrorCode::UnbornBranch
                || e.code() == git2::ErrorCode::NotFound =>
        {
            None
        }
        Err(e) => return Err(e.into()),
    };
    let mut index = git2::Index::new()?;
    if let Some(c) = &head {
        index.read_tree(&c.tree()?)?;
    }
    for rel in &rels {
        let abs = workdir.join(rel);
        if abs.is_file() {
            let bytes = std::fs::read(&abs).map_err(|source| GitError::Io {
                path: abs.clone(),
                source,
            })?;
            let id = repo.blob(&bytes)?;
            index.add(&IndexEntry {
                ctime: IndexTime::new(0, 0),
                mtime: IndexTime::new(0, 0),
                dev: 0,
                ino: 0,
                mode: 0o100644,
                uid: 0,
                gid: 0,
                file_size: bytes.len() as u32,
                id,
                flags: rel.len().min(0xfff) as u16,
                flags_extended: 0,
                path: rel.as_bytes().to_vec(),
            })?;
        } else if index.get_path(Path::new(rel), 0).is_some() {
            index.remove_path(Path::new(rel))?;
        }
    }
    let tree_id = index.write_tree_to(&repo)?;
    let unchanged = match &head {
        Some(c) => c.tree_id() == tree_id,
        None => index.is_empty(),
    };
    if unchanged {
        return Ok(Committed::Unchanged);
    }
    let sig = match repo.signature() {
        Ok(s) => s,
        Err(_) => match (&cfg.author_name, &cfg.author_email) {
            (Some(n), Some(e)) => git2::Signature::now(n, e)?,
            _ => return Err(GitError::NoAuthor),
        },
    };
    let tree = repo.find_tree(tree_id)?;
    let parents: Vec<&git2::Commit> = head.iter().collect();
    let id = repo.commit(Some("HEAD"), &sig, &sig, message, &tree, &parents)?;
    // Make the repository's index agree with the commit for these paths only.
    let mut real = repo.index()?;
    for rel in &rels {
        if workdir.join(rel).is_file() {
            real.add_path(Path::new(rel))?;
        } else if real.get_path(Path::new(rel), 0).is_some() {
            real.remove_path(Path::new(rel))?;
        }
    }
    real.write()?;
    Ok(Committed::Commit(id.to_string()))
}
