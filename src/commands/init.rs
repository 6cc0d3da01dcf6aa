//! `expand init [DIR]`: a new workspace with every folder and a commented config.

use std::io::Write;
use std::path::Path;

use anyhow::{Context, Result};

use crate::config::{FILE_NAME, TEMPLATE};
use crate::error::Code;

pub const INDEX_TEMPLATE: &str = "# Knowledge Index\n\nEvery knowledge file, by topic folder. `expand consolidate` adds rows for new files.\n";
pub const SKILL_TEMPLATE: &str = "# Skill\n\nWhat this knowledge base covers and how to use it.\n\n## Topic folders\n\n<!-- expand:topics:start -->\n<!-- expand:topics:end -->\n";

pub fn run(dir: Option<&Path>, adopt: bool, json: bool) -> Result<Code> {
    let root = match dir {
        Some(d) => d.to_path_buf(),
        None => std::env::current_dir()?,
    };
    std::fs::create_dir_all(&root)
        .with_context(|| format!("failed to create `{}`", root.display()))?;
    let fs = crate::workspace::jail::Jail::open(&root.canonicalize()?)
        .with_context(|| format!("failed to open `{}`", root.display()))?;
    // The report as text; under --json one document says the same.
    let mut out: Vec<u8> = Vec::new();
    // Inside a base made by hand (or with --adopt): describe it, create
    // nothing it does not use.
    if !fs.exists(FILE_NAME) && (adopt || crate::workspace::adopt::is_base(&fs)) {
        let layout = crate::workspace::adopt::detect(&fs);
        fs.write(FILE_NAME, layout.config().as_bytes())
            .with_context(|| format!("failed to write `{}`", root.join(FILE_NAME).display()))?;
        let ignored = ignore_state(&fs)?;
        writeln!(out, "adopted the knowledge base in {}", root.display())?;
        let k = if layout.knowledge_dir == "." {
            "its root".to_string()
        } else {
            format!("`{}/`", layout.knowledge_dir)
        };
        writeln!(
            out,
            "  knowledge tree: {k}, {} files, {} index{} ({})",
            layout.knowledge_files,
            layout.indexes,
            if layout.indexes == 1 { "" } else { "es" },
            if layout.per_folder_index {
                "one per folder"
            } else {
                "one at the root"
            }
        )?;
        let said = |d: &Option<String>| {
            d.as_deref()
                .map_or("none found".to_string(), |d| format!("`{d}/`"))
        };
        writeln!(
            out,
            "  plans: {} ({} pending)",
            said(&layout.plans_dir),
            layout.plans_pending
        )?;
        writeln!(
            out,
            "  archive: {} ({} archived)",
            said(&layout.completed_dir),
            layout.plans_archived
        )?;
        writeln!(out, "  drops: {}", said(&layout.drops_dir))?;
        if !layout.exclude.is_empty() {
            writeln!(out, "  not knowledge: {}", layout.exclude.join(", "))?;
        }
        writeln!(out, "  created {FILE_NAME}")?;
        if ignored {
            writeln!(out, "  added .expand/ to .gitignore")?;
        }
        writeln!(
            out,
            "next: `expand audit` checks the base; `expand validate` the plans"
        )?;
        let doc = serde_json::json!({
            "root": root.display().to_string(),
            "adopted": true,
            "knowledge_dir": layout.knowledge_dir,
            "knowledge_files": layout.knowledge_files,
            "indexes": layout.indexes,
            "per_folder_index": layout.per_folder_index,
            "plans_dir": layout.plans_dir,
            "plans_pending": layout.plans_pending,
            "completed_dir": layout.completed_dir,
            "plans_archived": layout.plans_archived,
            "drops_dir": layout.drops_dir,
            "exclude": layout.exclude,
            "created": [FILE_NAME],
            "gitignore_added": ignored,
        });
        return finish(out, json, doc);
    }
    // A workspace already: its config says where things are; nothing is
    // created beside it.
    if fs.exists(FILE_NAME) {
        let ignored = ignore_state(&fs)?;
        writeln!(
            out,
            "{} is already a workspace; nothing to do",
            root.display()
        )?;
        if ignored {
            writeln!(out, "  added .expand/ to .gitignore")?;
        }
        let doc = serde_json::json!({
            "root": root.display().to_string(),
            "adopted": false,
            "already": true,
            "created": [],
            "gitignore_added": ignored,
        });
        return finish(out, json, doc);
    }
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
    if ignore_state(&fs)? {
        created.push(".gitignore".into());
    }
    let in_repo = git2::Repository::discover(&root).is_ok();
    if !in_repo {
        git2::Repository::init(&root)
            .with_context(|| format!("git init in `{}` failed", root.display()))?;
        created.push(".git/ (git init)".into());
    }
    let doc = serde_json::json!({
        "root": root.display().to_string(),
        "adopted": false,
        "already": created.is_empty(),
        "created": created,
    });
    if created.is_empty() {
        writeln!(
            out,
            "{} is already a workspace; nothing to do",
            root.display()
        )?;
    } else {
        writeln!(out, "initialized workspace in {}", root.display())?;
        for c in created {
            writeln!(out, "  created {c}")?;
        }
        writeln!(out, "next: put a plan in plans/ and run `expand validate`")?;
    }
    finish(out, json, doc)
}

/// Print the report: its text, or under --json the document.
fn finish(text: Vec<u8>, json: bool, doc: serde_json::Value) -> Result<Code> {
    let mut stdout = std::io::stdout().lock();
    if json {
        writeln!(stdout, "{doc}")?;
    } else {
        stdout.write_all(&text)?;
    }
    Ok(Code::Ok)
}

/// Add `.expand/` to `.gitignore` unless it is there: run state, caches and
/// the lock are never committed. Returns whether it was added.
fn ignore_state(fs: &crate::workspace::jail::Jail) -> Result<bool> {
    let gi = ".gitignore";
    let old = fs.read_to_string(gi).unwrap_or_default();
    if old
        .lines()
        .any(|l| l.trim() == ".expand/" || l.trim() == ".expand")
    {
        return Ok(false);
    }
    let mut new = old;
    if !new.is_empty() && !new.ends_with('\n') {
        new.push('\n');
    }
    new.push_str(".expand/\n");
    fs.write(gi, new.as_bytes())?;
    Ok(true)
}
