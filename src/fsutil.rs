//! Path rules every stage uses: what a relative path from a plan may look
//! like, how two names collide, how a path is shown; and whether git's own
//! folder (which may lie outside the workspace) can be written. Reading and
//! writing the workspace go through its jail (`workspace::jail`).

use std::borrow::Cow;
use std::path::{Component, Path};

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
    // Plans name their targets in ASCII nearly always: a byte test then
    // answers for the chars, and no invisible char can be there.
    let ascii = p.is_ascii();
    if ascii && p.bytes().any(|b| b.is_ascii_control())
        || !ascii && p.chars().any(|c| c.is_control())
    {
        return Err("contains control characters");
    }
    if !ascii && p.chars().any(is_invisible) {
        return Err("contains invisible or direction-changing characters");
    }
    if p.len() > 400 {
        return Err("is longer than 400 bytes");
    }
    // The separators are ASCII: splitting the bytes splits the chars.
    let components = || p.as_bytes().split(|&b| b == b'/' || b == b'\\');
    if components().any(|c| c.len() > crate::workspace::jail::MAX_NAME) {
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
    // A `..` between either slash is every parent dir `Path::components`
    // finds on Unix; Windows' drive prefixes need its own reading.
    if components().any(|s| s == b"..")
        || cfg!(windows)
            && Path::new(p)
                .components()
                .any(|c| matches!(c, Component::ParentDir))
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
/// Borrowed when folding changes nothing (lowercase ASCII, the usual name).
pub fn fold_name(p: &str) -> Cow<'_, str> {
    use unicode_normalization::UnicodeNormalization;
    if p.is_ascii() {
        // NFC leaves ASCII as it is: skip the decomposition tables
        // (validate folds every target of every plan).
        if !p.bytes().any(|b| b.is_ascii_uppercase()) {
            return Cow::Borrowed(p);
        }
        return Cow::Owned(p.to_ascii_lowercase());
    }
    Cow::Owned(p.nfc().collect::<String>().to_lowercase())
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
        // The ASCII reading and the char reading give the same answers.
        assert!(check_relative("a/del\u{7f}.md").is_err());
        assert!(check_relative("a/caf\u{e9}\u{85}.md").is_err()); // C1 control
        assert!(check_relative("a/caf\u{e9}.md").is_ok());
        assert!(check_relative("a\\..\\x.md").is_err());
        assert!(check_relative("a/..b/x.md").is_ok());
        assert!(check_relative(&format!("a/{}.md", "\u{e9}".repeat(120))).is_err());
        assert_eq!(fold_name("Caf\u{e9}.md"), fold_name("cafe\u{301}.MD"));
    }
}
