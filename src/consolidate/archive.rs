//! Archiving a consolidated plan: where its archive folder is, and the moves
//! into it (the plan to `completed/<slug>/<name>`, its drops to
//! `completed/<slug>/drops/`).

use std::path::{Path, PathBuf};

/// Move `from` to `to`; a move already made (nothing at `from`) is a no-op,
/// so a retry after a crash half-way through the moves finishes them.
/// Returns whether the file moved now.
pub fn move_file(from: &Path, to: &Path) -> std::io::Result<bool> {
    if from == to || from.symlink_metadata().is_err() {
        return Ok(false);
    }
    crate::fsutil::move_file(from, to)?;
    Ok(true)
}

/// Files directly in a plan's drops folder, sorted: what its archive takes.
pub fn drop_files(drops: &Path) -> std::io::Result<Vec<PathBuf>> {
    let rd = match std::fs::read_dir(drops) {
        Ok(rd) => rd,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e),
    };
    let mut files = Vec::new();
    for e in rd {
        let p = e?.path();
        if p.is_file() {
            files.push(p);
        }
    }
    files.sort();
    Ok(files)
}

/// Remove a plan's drops folder once its files are archived; a folder that
/// still holds something (a subfolder, a file written since) stays.
pub fn remove_empty(dir: &Path) {
    let _ = std::fs::remove_dir(dir);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn moving_twice_is_a_no_op() {
        let d = tempfile::tempdir().unwrap();
        let from = d.path().join("plans/p.md");
        let to = d.path().join("completed/p/plan.md");
        std::fs::create_dir_all(from.parent().unwrap()).unwrap();
        std::fs::write(&from, "plan").unwrap();
        assert!(move_file(&from, &to).unwrap());
        assert!(!move_file(&from, &to).unwrap());
        assert_eq!(std::fs::read_to_string(&to).unwrap(), "plan");
        assert!(!from.exists());
    }
}
