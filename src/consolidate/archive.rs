//! Archiving a consolidated plan: where its archive folder is, and the moves
//! into it (the plan to `completed/<slug>/<name>`, its drops to
//! `completed/<slug>/drops/`).
//!
//! An archive folder is never overwritten (SPEC §11): when `completed/<slug>/`
//! already holds another plan's archive (a plan name used again), the plan
//! goes to the first free `completed/<slug>-2/`, `-3`, …

use std::path::{Path, PathBuf};

use crate::workspace::jail::Jail;

/// Move `from` to `to` (missing folders made); a move already made
/// (nothing at `from`) is a no-op, so a retry after a crash half-way
/// through the moves finishes them. A rename keeps the file's mode; across
/// filesystems it is a copy, then a removal. Returns whether the file
/// moved now.
pub fn move_file(fs: &Jail, from: &Path, to: &Path) -> std::io::Result<bool> {
    if from == to || fs.symlink_metadata(from).is_err() {
        return Ok(false);
    }
    if let Some(dir) = to.parent() {
        fs.create_dir_all(dir)?;
    }
    match fs.rename(from, to) {
        Ok(()) => {}
        Err(e) if e.raw_os_error() == Some(18) => {
            // EXDEV: the archive is on another filesystem.
            let bytes = fs.read(from)?;
            fs.write(to, &bytes)?;
            fs.remove_file(from)?;
        }
        Err(e) => return Err(e),
    }
    Ok(true)
}

/// Files directly in a plan's drops folder, sorted: what its archive takes.
pub fn drop_files(fs: &Jail, drops: &Path) -> std::io::Result<Vec<PathBuf>> {
    let entries = match fs.read_dir(drops) {
        Ok(v) => v,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e),
    };
    Ok(entries
        .into_iter()
        .filter(|e| e.is_file)
        .map(|e| drops.join(e.name))
        .collect())
}

/// Remove a plan's drops folder once its files are archived; a folder that
/// still holds something (a subfolder, a file written since) stays.
pub fn remove_empty(fs: &Jail, dir: &Path) {
    let _ = fs.remove_dir(dir);
}

/// An archive folder is free when nothing is there or only an empty folder.
fn is_free(fs: &Jail, dir: &Path) -> std::io::Result<bool> {
    match fs.symlink_metadata(dir) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(true),
        Err(e) => Err(e),
        // A file or a link in the way is not free.
        Ok(m) if !m.is_dir() => Ok(false),
        Ok(_) => Ok(fs.read_dir(dir)?.is_empty()),
    }
}

/// The archive folder for a plan of `slug` under `completed`: `<slug>`,
/// else the first free `<slug>-2`, `<slug>-3`, … Returns the folder and its
/// name. `claimed(name)` says that a name is spoken for although its folder
/// is free (another plan's run state or plan file goes by it), so that an
/// archived plan, which is known by its folder's name, never takes over
/// another plan's name.
pub fn free_dir(
    fs: &Jail,
    completed: &Path,
    slug: &str,
    claimed: impl Fn(&str) -> bool,
) -> std::io::Result<(PathBuf, String)> {
    let dir = completed.join(slug);
    if is_free(fs, &dir)? {
        return Ok((dir, slug.to_string()));
    }
    for n in 2.. {
        let name = format!("{slug}-{n}");
        let dir = completed.join(&name);
        if is_free(fs, &dir)? && !claimed(&name) {
            return Ok((dir, name));
        }
    }
    unreachable!("an unbounded range ends only by returning")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_used_archive_folder_is_never_chosen() {
        let d = tempfile::tempdir().unwrap();
        let c = &d.path().canonicalize().unwrap();
        let fs = &Jail::open(c).unwrap();
        assert_eq!(free_dir(fs, c, "p", |_| false).unwrap().1, "p");
        // An empty folder is free (a drops folder made and left empty).
        std::fs::create_dir_all(c.join("p")).unwrap();
        assert_eq!(free_dir(fs, c, "p", |_| false).unwrap().1, "p");
        std::fs::write(c.join("p/plan.md"), "old").unwrap();
        std::fs::write(c.join("p-2"), "a file in the way").unwrap();
        let (dir, name) = free_dir(fs, c, "p", |n| n == "p-3").unwrap();
        assert_eq!((dir, name.as_str()), (c.join("p-4"), "p-4"));
    }

    #[test]
    fn moving_twice_is_a_no_op() {
        let d = tempfile::tempdir().unwrap();
        let root = d.path().canonicalize().unwrap();
        let fs = &Jail::open(&root).unwrap();
        let from = root.join("plans/p.md");
        let to = root.join("completed/p/plan.md");
        std::fs::create_dir_all(from.parent().unwrap()).unwrap();
        std::fs::write(&from, "plan").unwrap();
        assert!(move_file(fs, &from, &to).unwrap());
        assert!(!move_file(fs, &from, &to).unwrap());
        assert_eq!(std::fs::read_to_string(&to).unwrap(), "plan");
        assert!(!from.exists());
    }
}
