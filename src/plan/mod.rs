//! Stage 1: plans. Reading (encoding repair), parsing into the model,
//! validating, and surgical edits of checkboxes.

pub mod blocks;
pub mod edit;
pub mod encoding;
pub mod model;
pub mod parse;
pub mod shared;
pub mod text;
pub mod validate;

use std::path::{Path, PathBuf};

pub use model::*;

/// Why a plan could not be read at all (as opposed to diagnostics about its content).
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    // The source is the error's cause; `{e:#}` prints it after the message.
    #[error("failed to read `{path}`")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    /// `file:line` first, like every other plan diagnostic.
    #[error("{}:{}: cannot read the plan as text", path.display(), source.line())]
    Decode {
        path: PathBuf,
        source: encoding::DecodeError,
    },
    #[error(
        "`{path}` is {:.1} MiB; plans larger than {} MiB are refused (is it really a plan?)",
        *size as f64 / 1048576.0,
        limit / 1048576
    )]
    TooLarge {
        path: PathBuf,
        size: u64,
        limit: u64,
    },
}

/// Plans above this size are refused before reading (a plan is a page of markdown).
pub const MAX_PLAN_BYTES: u64 = 16 * 1024 * 1024;

/// Read and parse a plan file outside any workspace (plans in a workspace
/// are read through its jail, then [`from_bytes`]). `shown` is the path to
/// show in messages.
pub fn load(path: &Path, shown: &Path) -> Result<Plan, LoadError> {
    let meta = std::fs::metadata(path).map_err(|source| LoadError::Io {
        path: shown.to_path_buf(),
        source,
    })?;
    check_size(shown, meta.len())?;
    let bytes = std::fs::read(path).map_err(|source| LoadError::Io {
        path: shown.to_path_buf(),
        source,
    })?;
    from_vec(shown, bytes)
}

/// Refuse a plan of `size` bytes before reading it when it is too large.
pub fn check_size(shown: &Path, size: u64) -> Result<(), LoadError> {
    if size > MAX_PLAN_BYTES {
        return Err(LoadError::TooLarge {
            path: shown.to_path_buf(),
            size,
            limit: MAX_PLAN_BYTES,
        });
    }
    Ok(())
}

/// Parse a plan's bytes. `shown` is the path to show in messages.
pub fn from_bytes(shown: &Path, bytes: &[u8]) -> Result<Plan, LoadError> {
    parse::parse_bytes(shown, bytes).map_err(|source| LoadError::Decode {
        path: shown.to_path_buf(),
        source,
    })
}

/// [`from_bytes`] of bytes it may keep as the plan's text (read for it alone).
pub fn from_vec(shown: &Path, bytes: Vec<u8>) -> Result<Plan, LoadError> {
    parse::parse_vec(shown, bytes).map_err(|source| LoadError::Decode {
        path: shown.to_path_buf(),
        source,
    })
}

/// The bytes to write for an edited plan text, in the plan's own encoding.
pub fn to_bytes(plan: &Plan, text: &str) -> Vec<u8> {
    encoding::encode(text, plan.encoding, plan.bom)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Bug: the message embedded its source and the source was also its cause,
    /// so `{e:#}` printed "binary data at line 4 …" twice and never `file:line`.
    #[test]
    fn regression_decode_error_names_file_line_once() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("bin.md");
        std::fs::write(&f, b"# T\n\n## PART 1: X\n\x00garbage\n").unwrap();
        let e = anyhow::Error::from(load(&f, Path::new("plans/bin.md")).unwrap_err());
        let msg = format!("{e:#}");
        assert!(msg.starts_with("plans/bin.md:4: "), "{msg}");
        assert_eq!(msg.matches("binary data").count(), 1, "{msg}");
    }
}
