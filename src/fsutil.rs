//! Filesystem helpers every stage uses: the one atomic-write function, and the
//! checks that keep paths inside the workspace.

use std::io::Write;
use std::path::{Component, Path, PathBuf};

/// Write `bytes` to `path` atomically: a temp file in the same folder, fsync,
/// then rename over the target. Readers see the old file or the new one, never
/// a half-written one. Creates missing parent folders.
pub fn atomic_write(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    atomic_write_via(dir, path, bytes)
}

/// Like [`atomic_write`], with the temp file in `tmp_dir` (same filesystem), so
/// a crash mid-write leaves nothing at all in the target's folder. The runner
/// uses `.expand/tmp/` for knowledge files and drops.
pub fn atomic_write_via(tmp_dir: &Path, path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    write_renamed(tmp_dir, path, bytes, true)
}

/// Like [`atomic_write`] without the fsync, for caches: readers still see a
/// whole file or none, and what a power cut can cost (an entry lost or torn,
/// which reads as a miss) is one repeated request, not worth an fsync each.
pub fn atomic_write_unsynced(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    write_renamed(dir, path, bytes, false)
}

fn write_renamed(tmp_dir: &Path, path: &Path, bytes: &[u8], sync: bool) -> std::io::Result<()> {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let prefix = format!(".{name}.");
    let mut builder = tempfile::Builder::new();
    builder.prefix(&prefix).suffix(".tmp");
    // Folders are made when missing, not checked before every write: a run
    // writes into the same few folders again and again.
    let mut tmp = match builder.tempfile_in(tmp_dir) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            std::fs::create_dir_all(tmp_dir)?;
            builder.tempfile_in(tmp_dir)?
        }
        other => other?,
    };
    tmp.write_all(bytes)?;
    if sync {
        tmp.as_file().sync_all()?;
    }
    match tmp.persist(path) {
        Ok(_) => Ok(()),
        Err(e) if e.error.kind() == std::io::ErrorKind::NotFound => {
            if let Some(dir) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
                std::fs::create_dir_all(dir)?;
            }
            e.file.persist(path).map(|_| ()).map_err(|e| e.error)
        }
        Err(e) => Err(e.error),
    }
}

/// Move `from` to `to` (creating `to`'s folder), replacing a file at `to`:
/// a rename, so a crash leaves the file at one place or the other, whole.
/// Across filesystems, an atomic write of a copy and then the removal of
/// `from`, so a crash leaves at worst two whole copies.
pub fn move_file(from: &Path, to: &Path) -> std::io::Result<()> {
    if let Some(dir) = to.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)?;
    }
    match std::fs::rename(from, to) {
        Ok(()) => Ok(()),
        // EXDEV: `completed/` on another filesystem than `plans/`.
        #[cfg(unix)]
        Err(e) if e.raw_os_error() == Some(libc::EXDEV) => {
            let bytes = std::fs::read(from)?;
            atomic_write(to, &bytes)?;
            std::fs::remove_file(from)
        }
        Err(e) => Err(e),
    }
}

/// Fail unless files can be created and removed in `dir`, or, when it does
/// not exist yet, in its nearest existing ancestor (where it would be made).
/// A check made before a multi-step change, so that a read-only folder stops
/// it before the first step rather than half-way.
pub fn check_writable(dir: &Path) -> std::io::Result<()> {
    let mut probe = dir;
    while probe.symlink_metadata().is_err() {
        match probe.parent() {
            Some(p) if !p.as_os_str().is_empty() => probe = p,
            _ => return Ok(()),
        }
    }
    if !probe.is_dir() {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            format!("`{}` is not a folder", probe.display()),
        ));
    }
    #[cfg(unix)]
    {
        use std::os::unix::ffi::OsStrExt;
        let c = std::ffi::CString::new(probe.as_os_str().as_bytes())
            .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e))?;
        // SAFETY: `c` is a valid NUL-terminated path for the call's duration.
        if unsafe { libc::access(c.as_ptr(), libc::W_OK | libc::X_OK) } != 0 {
            return Err(std::io::Error::last_os_error());
        }
    }
    #[cfg(not(unix))]
    if probe.metadata()?.permissions().readonly() {
        return Err(std::io::ErrorKind::PermissionDenied.into());
    }
    Ok(())
}

/// Why a relative path from a plan is refused.
pub fn check_relative(p: &str) -> Result<(), &'static str> {
    if p.is_empty() {
        return Err("is empty");
    }
    if p.chars().any(|c| c.is_control()) {
        return Err("contains control characters");
    }
    if p.len() > 400 {
        return Err("is longer than 400 bytes");
    }
    if p.starts_with('/')
        || p.starts_with('\\')
        || Path::new(p).is_absolute()
        || p.get(1..3) == Some(":\\")
        || p.get(1..3) == Some(":/")
    {
        return Err("is an absolute path");
    }
    if Path::new(p)
        .components()
        .any(|c| matches!(c, Component::ParentDir))
        || p.split(['/', '\\']).any(|s| s == "..")
    {
        return Err("leaves the knowledge folder (`..`)");
    }
    Ok(())
}

/// Resolve `rel` under `root`, refusing `..`, absolute paths and symlinks that
/// lead outside `root`. The file itself need not exist.
pub fn resolve_inside(root: &Path, rel: &str) -> Result<PathBuf, String> {
    check_relative(rel).map_err(|e| format!("`{rel}` {e}"))?;
    let joined = root.join(rel);
    let canon_root = root.canonicalize().unwrap_or_else(|_| root.to_path_buf());
    // The longest existing ancestor decides where symlinks lead.
    let mut probe = joined.clone();
    loop {
        if probe.symlink_metadata().is_ok() {
            let real = probe.canonicalize().map_err(|e| format!("`{rel}`: {e}"))?;
            if !real.starts_with(&canon_root) {
                return Err(format!(
                    "`{rel}` leads outside the knowledge folder through a symbolic link"
                ));
            }
            break;
        }
        if !probe.pop() || probe == *root {
            break;
        }
    }
    Ok(joined)
}

/// `path` relative to `base` with forward slashes, or `path` as given.
pub fn rel_str(base: &Path, path: &Path) -> String {
    let p = path.strip_prefix(base).unwrap_or(path);
    p.to_string_lossy().replace('\\', "/")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_paths() {
        assert!(check_relative("a/00-x.md").is_ok());
        assert!(check_relative("../x.md").is_err());
        assert!(check_relative("a/../../x.md").is_err());
        assert!(check_relative("/etc/passwd").is_err());
        assert!(check_relative("a\u{7}b.md").is_err());
        assert!(check_relative("").is_err());
    }

    #[test]
    fn atomic_write_replaces() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("sub/f.md");
        atomic_write(&p, b"one").unwrap();
        atomic_write(&p, b"two").unwrap();
        assert_eq!(std::fs::read(&p).unwrap(), b"two");
        assert_eq!(std::fs::read_dir(d.path().join("sub")).unwrap().count(), 1);
    }

    #[test]
    fn atomic_write_via_makes_missing_folders_and_leaves_no_temp_file() {
        let d = tempfile::tempdir().unwrap();
        let tmp = d.path().join(".expand/tmp");
        let p = d.path().join("knowledge/new/01-x.md");
        atomic_write_via(&tmp, &p, b"one").unwrap();
        assert_eq!(std::fs::read(&p).unwrap(), b"one");
        assert_eq!(std::fs::read_dir(&tmp).unwrap().count(), 0);
        // A folder in the way of the target is an error, and no temp file stays.
        let blocked = d.path().join("knowledge/new/01-x.md/inside.md");
        assert!(atomic_write_via(&tmp, &blocked, b"two").is_err());
        assert_eq!(std::fs::read_dir(&tmp).unwrap().count(), 0);
    }

    #[test]
    fn move_file_makes_the_folder_and_replaces() {
        let d = tempfile::tempdir().unwrap();
        let (a, b) = (d.path().join("a.md"), d.path().join("x/y/b.md"));
        std::fs::write(&a, "one").unwrap();
        move_file(&a, &b).unwrap();
        assert!(!a.exists());
        std::fs::write(&a, "two").unwrap();
        move_file(&a, &b).unwrap();
        assert_eq!(std::fs::read_to_string(&b).unwrap(), "two");
    }

    #[test]
    fn check_writable_looks_at_the_nearest_existing_folder() {
        let d = tempfile::tempdir().unwrap();
        assert!(check_writable(&d.path().join("not/yet/there")).is_ok());
        std::fs::write(d.path().join("file"), "").unwrap();
        assert!(check_writable(&d.path().join("file/sub")).is_err());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let ro = d.path().join("ro");
            std::fs::create_dir(&ro).unwrap();
            std::fs::set_permissions(&ro, std::fs::Permissions::from_mode(0o555)).unwrap();
            // root may write anywhere: the check asks the OS, as a write would.
            if unsafe { libc::geteuid() } != 0 {
                assert!(check_writable(&ro.join("new")).is_err());
            }
            std::fs::set_permissions(&ro, std::fs::Permissions::from_mode(0o755)).unwrap();
        }
    }

    #[cfg(unix)]
    #[test]
    fn symlink_escape_is_refused() {
        let d = tempfile::tempdir().unwrap();
        let outside = tempfile::tempdir().unwrap();
        let root = d.path().join("knowledge");
        std::fs::create_dir_all(&root).unwrap();
        std::os::unix::fs::symlink(outside.path(), root.join("evil")).unwrap();
        assert!(resolve_inside(&root, "evil/x.md").is_err());
        assert!(resolve_inside(&root, "fine/x.md").is_ok());
    }
}
