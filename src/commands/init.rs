//! `expand init [DIR]`: a new workspace with every folder and a commented config.

use std::io::Write;
use std::path::Path;

use anyhow::{Context, Result};

use crate::config::{FILE_NAME, TEMPLATE};
use crate::error::Code;

pub const INDEX_TEMPLATE: &str = "# Knowledge Index\n\nEvery knowledge file, by topic folder. `expand consolidate` adds rows for new files.\n";
pub const SKILL_TEMPLATE: &str = "# Skill\n\nWhat this knowledge base covers and how to use it.\n\n## Topic folders\n\n<!-- expand:topics:start -->\n<!-- expand:topics:end -->\n";

pub fn run(dir: Option<&Path>) -> Result<Code> {
    let root = match dir {
        Some(d) => d.to_path_buf(),
        None => std::env::current_dir()?,
    };
    std::fs::create_dir_all(&root)
        .with_context(|| format!("failed to create `{}`", root.display()))?;
    let fs = crate::workspace::jail::Jail::open(&root.canonicalize()?)
        .with_context(|| format!("failed to open `{}`", root.display()))?;
    let mut created = Vec::new();
    let mut write_new = |rel: &str, text: &str| -> Result<()> {
        if !fs.exists(rel) {
            fs.write(rel, text.as_bytes())
                .with_context(|| format!("failed to write `{}`", root.join(rel).display()))?;
            created.push(rel.to_string());
        }
        Ok(())
    };
    write_new(FILE_NAME, TEMPLATE)?;
    write_new("knowledge/INDEX.md", INDEX_TEMPLATE)?;
    write_new("knowledge/SKILL.md", SKILL_TEMPLATE)?;
    for d in ["plans", "drops", "completed"] {
        write_new(&format!("{d}/.gitkeep"), "")?;
    }
    // .gitignore: add `.expand/` unless it is there.
    let gi = ".gitignore";
    let old = fs.read_to_string(gi).unwrap_or_default();
    if !old
        .lines()
        .any(|l| l.trim() == ".expand/" || l.trim() == ".expand")
    {
        let mut new = old.clone();
        if !new.is_empty() && !new.ends_with('\n') {
            new.push('\n');
        }
        new.push_str(".expand/\n");
        fs.write(gi, new.as_bytes())?;
        created.push(".gitignore".into());
    }
    let in_repo = git2::Repository::discover(&root).is_ok();
    if !in_repo {
        git2::Repository::init(&root)
            .with_context(|| format!("git init in `{}` failed", root.display()))?;
        created.push(".git/ (git init)".into());
    }
    if created.is_empty() {
        writeln!(
            std::io::stdout().lock(),
            "{} is already a workspace; nothing to do",
            root.display()
        )?;
    } else {
        writeln!(
            std::io::stdout().lock(),
            "initialized workspace in {}",
            root.display()
        )?;
        for c in created {
            writeln!(std::io::stdout().lock(), "  created {c}")?;
        }
        writeln!(
            std::io::stdout().lock(),
            "next: put a plan in plans/ and run `expand validate`"
        )?;
    }
    Ok(Code::Ok)
}
