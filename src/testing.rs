//! Test support, not part of expand's interface: the repository's sample
//! workspace as committed, for unit and integration tests.
//!
//! The README's main job runs in the sample workspace itself, so after it
//! the working tree holds a ticked plan, new knowledge files and drops.
//! Tests must not depend on that: they read the sample from git's HEAD
//! (falling back to the working tree outside a git checkout).

use std::path::Path;

/// The sample's parts: what a test workspace copies.
pub const SAMPLE: [&str; 5] = ["expand.yaml", "plans", "knowledge", "drops", "completed"];

/// Write the committed sample workspace into `dest`.
pub fn write_sample(dest: &Path) -> std::io::Result<()> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR"));
    if let Some(()) = from_head(src, dest) {
        return Ok(());
    }
    for part in SAMPLE {
        let from = src.join(part);
        for e in walkdir::WalkDir::new(&from) {
            let e = e?;
            let to = dest
                .join(part)
                .join(e.path().strip_prefix(&from).unwrap_or(e.path()));
            if e.file_type().is_dir() {
                std::fs::create_dir_all(&to)?;
            } else if e.file_type().is_file() {
                std::fs::copy(e.path(), &to)?;
            }
        }
    }
    Ok(())
}

/// The sample from HEAD's tree; `None` when `src` is not a git checkout
/// whose HEAD holds it.
fn from_head(src: &Path, dest: &Path) -> Option<()> {
    let repo = git2::Repository::open(src).ok()?;
    let tree = repo.head().ok()?.peel_to_tree().ok()?;
    for part in SAMPLE {
        let entry = tree.get_path(Path::new(part)).ok()?;
        let object = entry.to_object(&repo).ok()?;
        if let Some(blob) = object.as_blob() {
            std::fs::write(dest.join(part), blob.content()).ok()?;
            continue;
        }
        let sub = object.as_tree()?;
        std::fs::create_dir_all(dest.join(part)).ok()?;
        let mut failed = false;
        sub.walk(git2::TreeWalkMode::PreOrder, |dir, e| {
            let rel = dest.join(part).join(dir).join(e.name().unwrap_or_default());
            let written = match e.kind() {
                Some(git2::ObjectType::Tree) => std::fs::create_dir_all(&rel).is_ok(),
                Some(git2::ObjectType::Blob) => e
                    .to_object(&repo)
                    .ok()
                    .and_then(|o| {
                        o.as_blob()
                            .map(|b| std::fs::write(&rel, b.content()).is_ok())
                    })
                    .unwrap_or(false),
                _ => true,
            };
            failed |= !written;
            git2::TreeWalkResult::Ok
        })
        .ok()?;
        if failed {
            return None;
        }
    }
    Some(())
}

/// The committed sample's knowledge base, scanned and read into memory
/// (its temporary folder is gone when this returns).
pub fn sample_knowledge() -> crate::knowledge::scan::KnowledgeBase {
    let dir = tempfile::tempdir().expect("temp dir");
    write_sample(dir.path()).expect("write the committed sample");
    let kb = crate::knowledge::scan::KnowledgeBase::scan(
        &crate::workspace::jail::Jail::open(&dir.path().canonicalize().unwrap()).unwrap(),
        &dir.path().canonicalize().unwrap().join("knowledge"),
        &[],
    )
    .expect("scan the sample");
    kb.load_all();
    kb
}

/// A writer request for one PART with one planned section, `prompt` as
/// given: what provider tests send.
pub fn write_request(prompt: &str) -> crate::providers::WriteRequest {
    crate::providers::WriteRequest {
        plan_title: "Plan".into(),
        part: 1,
        title: "Args".into(),
        target: "cli/01-args.md".into(),
        part_text: "### PART 1: Args\n".into(),
        sections: vec![crate::providers::SectionBrief {
            title: "Clap".into(),
            expected_lines: None,
            brief: vec![],
        }],
        expected_lines: None,
        evidence: vec![],
        prompt: prompt.into(),
        shared_prefix: 0,
        so_far: None,
        must_cite: Vec::new(),
    }
}

/// What a terminal shows after `stream` (text and the ANSI escapes
/// `report::progress::AnsiTerm` writes: cursor up/down/left/right, clear
/// line, carriage return; colors ignored): one string per screen row,
/// trailing blanks and empty rows at the end trimmed. `frames` gets every
/// row ever written, for "was it shown at some point" questions.
pub fn screen(stream: &str) -> (Vec<String>, Vec<String>) {
    let mut rows: Vec<Vec<char>> = vec![Vec::new()];
    let mut frames: Vec<String> = Vec::new();
    let (mut row, mut col) = (0usize, 0usize);
    let mut chars = stream.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\x1b' if chars.peek() == Some(&'[') => {
                chars.next();
                let mut arg = String::new();
                let mut cmd = ' ';
                for d in chars.by_ref() {
                    if d.is_ascii_digit() || d == ';' {
                        arg.push(d);
                    } else {
                        cmd = d;
                        break;
                    }
                }
                let n: usize = arg.parse().unwrap_or(1);
                match cmd {
                    'A' => row = row.saturating_sub(n),
                    'B' => row += n,
                    'C' => col += n,
                    'D' => col = col.saturating_sub(n),
                    'K' => {
                        if let Some(r) = rows.get_mut(row) {
                            frames.push(r.iter().collect());
                            r.clear();
                        }
                    }
                    _ => {} // colors
                }
            }
            '\r' => col = 0,
            '\n' => {
                frames.push(
                    rows.get(row)
                        .map(|r| r.iter().collect())
                        .unwrap_or_default(),
                );
                row += 1;
                col = 0;
            }
            c => {
                while rows.len() <= row {
                    rows.push(Vec::new());
                }
                let r = &mut rows[row];
                while r.len() < col {
                    r.push(' ');
                }
                if col < r.len() {
                    r[col] = c;
                } else {
                    r.push(c);
                }
                col += 1;
            }
        }
        while rows.len() <= row {
            rows.push(Vec::new());
        }
    }
    let mut shown: Vec<String> = rows
        .iter()
        .map(|r| r.iter().collect::<String>().trim_end().to_string())
        .collect();
    while shown.last().is_some_and(|l| l.is_empty()) {
        shown.pop();
    }
    frames.extend(shown.iter().cloned());
    (shown, frames)
}
