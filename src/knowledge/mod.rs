//! The knowledge base on disk: listing its files (here), scanning and
//! searching their text (`scan`), and the INDEX.md / SKILL.md formats.

pub mod bm25;
pub mod index_md;
pub mod scan;
pub mod skill_md;

use std::path::{Path, PathBuf};

/// A file that is part of a base's scaffolding, not a knowledge file:
/// indexes, the skill file, a README, a drop report.
pub fn is_special(name: &str) -> bool {
    matches!(name, "INDEX.md" | "SKILL.md" | "README.md") || name.starts_with("KNOWLEDGE-DROP")
}

/// The first `# Title` of a markdown text, within its first 40 lines: the
/// title INDEX.md rows, drops and evidence show for a file.
pub fn title_of(text: &str) -> Option<String> {
    text.lines()
        .take(40)
        .find_map(|l| l.strip_prefix("# "))
        .map(|t| t.trim().to_string())
}

/// Every `*.md` file under `root` as forward-slash paths relative to it,
/// sorted, skipping hidden folders and `exclude`d ones. A missing root is empty.
pub fn list_files(root: &Path, exclude: &[PathBuf]) -> std::io::Result<Vec<String>> {
    let mut out = Vec::new();
    if !root.is_dir() {
        return Ok(out);
    }
    let walker = walkdir::WalkDir::new(root)
        .follow_links(false)
        .into_iter()
        .filter_entry(|e| {
            let hidden = e.depth() > 0
                && e.file_name()
                    .to_str()
                    .map(|s| s.starts_with('.'))
                    .unwrap_or(false);
            !hidden && !exclude.iter().any(|x| e.path() == x)
        });
    for e in walker {
        let e = match e {
            Ok(e) => e,
            Err(err)
                if err
                    .io_error()
                    .map(|i| i.kind() == std::io::ErrorKind::PermissionDenied)
                    .unwrap_or(false) =>
            {
                continue
            }
            Err(err) => return Err(err.into()),
        };
        if e.file_type().is_file() && e.path().extension().map(|x| x == "md").unwrap_or(false) {
            out.push(crate::fsutil::rel_str(root, e.path()));
        }
    }
    out.sort();
    Ok(out)
}
