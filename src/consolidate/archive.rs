//! Archiving a consolidated plan: the plan to `completed/<slug>/<name>`, its
//! drops to `completed/<slug>/drops/`. Each move writes the new file through
//! the atomic-write helper before removing the old one, so a crash leaves a
//! copy, never a loss; a move already made is a no-op.

use std::path::{Path, PathBuf};

/// Paths a move touched: where the file was and where it is now.
#[derive(Debug, Default)]
pub struct Moved {
    pub from: Vec<PathBuf>,
    pub to: Vec<PathBuf>,
}

fn move_file(from: &Path, to: &Path, moved: &mut Moved) -> std::io::Result<()> {
    if from == to || !from.is_file() {
        return Ok(());
    }
    let bytes = std::fs::read(from)?;
    crate::fsutil::atomic_write(to, &bytes)?;
    std::fs::remove_file(from)?;
    moved.from.push(from.to_path_buf());
    moved.to.push(to.to_path_buf());
    Ok(())
}

/// Move the plan file to `dest_plan` and every file of `drops` (a folder) into
/// `dest_drops`. Returns what moved.
pub fn archive(
    plan: &Path,
    dest_plan: &Path,
    drops: &Path,
    dest_drops: &Path,
) -> std::io::Result<Moved> {
    let mut moved = Moved::default();
    move_file(plan, dest_plan, &mut moved)?;
    if drops.is_dir() && drops != dest_drops {
        let mut files: Vec<PathBuf> = std::fs::read_dir(drops)?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.is_file())
            .collect();
        files.sort();
        for f in files {
            let to = dest_drops.join(f.file_name().unwrap_or_default());
            move_file(&f, &to, &mut moved)?;
        }
        // Leave no empty folder behind; a folder with other content stays.
        let _ = std::fs::remove_dir(drops);
    }
    Ok(moved)
}
