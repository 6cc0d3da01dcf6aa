//! Path rules every stage uses: what a relative path from a plan may look
//! like, how two names collide, how a path is shown. Reading and writing go
//! through the workspace's jail (`workspace::jail`); `atomic_write` remains
//! for the stages not moved onto it yet.

use std::io::Write;
use std::path::{Component, Path};

/// Write `bytes` to `path` atomically: a temp file in the same folder, fsync,
/// then rename over the target. Readers see the old file or the new one, never
/// a half-written one. Creates missing parent folders.
pub fn atomic_write(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    write_renamed(dir, path, bytes, true)
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

/// Why a relative path from a plan is refused.
pub fn check_relative(p: &str) -> Result<(), &'static str> {
    if p.is_empty() {
        return Err("is empty");
    }
    if p.chars().any(|c| c.is_control()) {
        return Err("contains control characters");
    }
    if p.chars().any(is_invisible) {
        return Err("contains invisible or direction-changing characters");
    }
    if p.len() > 400 {
        return Err("is longer than 400 bytes");
    }
    if p.split(['/', '\\'])
        .any(|c| c.len() > crate::workspace::jail::MAX_NAME)
    {
        return Err("has a file or folder name too long to write (over 234 bytes)");
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

/// Characters that change how a name looks without being seen: zero-width
/// spaces and joiners, direction marks, embeddings, overrides and isolates,
/// the byte-order mark, line and paragraph separators, the soft hyphen. A
/// target holding one can pass for another file in a review.
pub fn is_invisible(c: char) -> bool {
    matches!(c,
        '\u{200B}'..='\u{200F}'
        | '\u{202A}'..='\u{202E}'
        | '\u{2066}'..='\u{2069}'
        | '\u{2028}' | '\u{2029}' | '\u{2060}' | '\u{FEFF}' | '\u{00AD}')
}

/// The form under which two names are the same file on a case-insensitive
/// or normalizing filesystem (macOS, Windows): NFC, then lowercased.
pub fn fold_name(p: &str) -> String {
    use unicode_normalization::UnicodeNormalization;
    if p.is_ascii() {
        // NFC leaves ASCII as it is: skip the decomposition tables
        // (validate folds every target of every plan).
        return p.to_ascii_lowercase();
    }
    p.nfc().collect::<String>().to_lowercase()
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
        assert!(check_relative("a/in\u{202E}dm.md").is_err());
        assert!(check_relative("a/zero\u{200B}width.md").is_err());
        assert!(check_relative(&format!("a/{}.md", "x".repeat(240))).is_err());
        assert!(check_relative(&format!("a/{}.md", "x".repeat(200))).is_ok());
        assert_eq!(fold_name("Caf\u{e9}.md"), fold_name("cafe\u{301}.MD"));
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
}
