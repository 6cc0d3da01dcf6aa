//! The knowledge base on disk: listing its files (here), scanning and
//! searching their text (`scan`), and the INDEX.md / SKILL.md formats.

pub mod bm25;
pub mod index_cache;
pub mod index_md;
pub mod scan;
pub mod skill_md;

use std::path::{Path, PathBuf};

use crate::workspace::jail::Jail;

/// A file that is part of a base's scaffolding, not a knowledge file:
/// indexes, the skill file, a README, a drop report.
pub fn is_special(name: &str) -> bool {
    matches!(name, "INDEX.md" | "SKILL.md" | "README.md") || name.starts_with("KNOWLEDGE-DROP")
}

/// Every `*.md` file under `root` as forward-slash paths relative to it,
/// sorted, skipping hidden folders and `exclude`d ones, read through the
/// workspace's jail. A missing root is empty.
pub fn list_files(fs: &Jail, root: &Path, exclude: &[PathBuf]) -> std::io::Result<Vec<String>> {
    fs.walk(root, ".md", |dir| exclude.iter().any(|x| x == dir))
}
