//! Stage 1: plans. Reading (encoding repair), parsing into the model,
//! validating, and surgical edits of checkboxes.

pub mod blocks;
pub mod edit;
pub mod encoding;
pub mod model;
pub mod parse;
pub mod text;
pub mod validate;

use std::path::{Path, PathBuf};

pub use model::*;

/// Why a plan could not be read at all (as opposed to diagnostics about its content).
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("failed to read `{path}`: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("`{path}`: {source}")]
    Decode {
        path: PathBuf,
        source: encoding::DecodeError,
    },
    #[error("`{path}` is {size} bytes; plans larger than {limit} bytes are refused")]
    TooLarge {
        path: PathBuf,
        size: u64,
        limit: u64,
    },
}

/// Plans above this size are refused before reading (a plan is a page of markdown).
pub const MAX_PLAN_BYTES: u64 = 16 * 1024 * 1024;

/// Read and parse a plan file. `shown` is the path to show in messages.
pub fn load(path: &Path, shown: &Path) -> Result<Plan, LoadError> {
    let meta = std::fs::metadata(path).map_err(|source| LoadError::Io {
        path: shown.to_path_buf(),
        source,
    })?;
    if meta.len() > MAX_PLAN_BYTES {
        return Err(LoadError::TooLarge {
            path: shown.to_path_buf(),
            size: meta.len(),
            limit: MAX_PLAN_BYTES,
        });
    }
    let bytes = std::fs::read(path).map_err(|source| LoadError::Io {
        path: shown.to_path_buf(),
        source,
    })?;
    parse::parse_bytes(shown, &bytes).map_err(|source| LoadError::Decode {
        path: shown.to_path_buf(),
        source,
    })
}

/// The bytes to write for an edited plan text, in the plan's own encoding.
pub fn to_bytes(plan: &Plan, text: &str) -> Vec<u8> {
    encoding::encode(text, plan.encoding, plan.bom)
}
