//! `expand reset PLAN [--part N…]`: mark PARTs pending again, in state and in
//! the plan's ticks. Knowledge files and drops are kept, and so is the record
//! of which files expand wrote: the next run may replace them.
//!
//! `expand reset PLAN --rebuild-state`: the way out of a damaged run state.

use anyhow::{Context, Result};
use std::io::Write;

use crate::error::{bad_input, Code};
use crate::plan::{self, Status};
use crate::run::state::{content_hash, PartState, PartStatus, PlanState, STATE_DIR};
use crate::workspace::Workspace;

pub fn run(ws: &Workspace, ctx: &super::Ctx, name: &str, parts: &[u32]) -> Result<Code> {
    let file = ws.find_plan(name)?;
    ws.plan_to_change(&file)?;
    let shown = ws.show(&file);
    let _lock = super::lock(ws)?;
    let current = ws.load_plan(&file)?;
    for n in parts {
        if current.part(*n).is_none() {
            return Err(bad_input(format!(
                "PART {n} is not in `{}`",
                shown.display()
            )));
        }
    }
    let chosen: Vec<u32> = if parts.is_empty() {
        current.parts.iter().map(|p| p.number).collect()
    } else {
        parts.to_vec()
    };
    let (mut state, _) = super::load_state(ws, &current)?;
    // Unticked from the file as it is when written, so an edit made in the
    // meantime is kept.
    ws.fs
        .rewrite_once(&file, |bytes| {
            let now = plan::from_bytes(&shown, bytes).map_err(std::io::Error::other)?;
            let mut edits = Vec::new();
            for n in &chosen {
                if let Some(p) = now.part(*n) {
                    edits.extend(plan::edit::untick_part(&now, p));
                }
            }
            if edits.is_empty() {
                return Ok(None);
            }
            let text = plan::edit::apply(&now.text, &edits).map_err(std::io::Error::other)?;
            Ok(Some(plan::to_bytes(&now, &text)))
        })
        .with_context(|| format!("failed to write `{}`", shown.display()))?;
    state.slug = super::state_key(ws, &current);
    state.plan_title = Some(current.title.clone());
    for n in &chosen {
        state.parts.remove(n);
    }
    state.save(&ws.fs).context("failed to save run state")?;
    if ctx.json {
        let doc = serde_json::json!({"plan": shown, "reset": chosen});
        writeln!(std::io::stdout().lock(), "{doc}")?;
        return Ok(Code::Ok);
    }
    writeln!(
        std::io::stdout().lock(),
        "{}: {} PART(s) reset to pending: {}",
        shown.display(),
        chosen.len(),
        crate::report::numbers(&chosen)
    )?;
    Ok(Code::Ok)
}

/// Replace the plan's run state (damaged or not) with one rebuilt from what
/// is on disk: a PART ticked done whose file exists is done; its drop (a
/// KNOWLEDGE-DROP naming the PART and the file) and that file are taken as
/// expand's own; a PART ticked done whose file is missing must run again.
pub fn rebuild(ws: &Workspace, ctx: &super::Ctx, name: &str) -> Result<Code> {
    let file = ws.find_plan(name)?;
    ws.plan_to_change(&file)?;
    let shown = ws.show(&file);
    let _lock = super::lock(ws)?;
    let plan = ws.load_plan(&file)?;
    let slug = plan.slug.clone();

    // Keep the old files, whatever they hold.
    let stamp = crate::clock::stamp_compact(crate::clock::now());
    let mut kept = Vec::new();
    let key = super::state_key(ws, &plan);
    for old in [PlanState::path(&key), PlanState::journal_path(&key)] {
        if let Some(bytes) = ws
            .fs
            .read_opt(&old)
            .context("failed to read the old state")?
        {
            let name = old.file_name().unwrap_or_default().to_string_lossy();
            let to = std::path::Path::new(STATE_DIR)
                .join("damaged")
                .join(format!("{stamp}-{}", name.replace('/', "-")));
            ws.fs
                .write(&to, &bytes)
                .with_context(|| format!("failed to keep `{}`", to.display()))?;
            kept.push(to);
        }
    }

    let kdir = ws.knowledge_dir();
    let drops_dir = ws.drops_dir().join(&slug);
    let drops: Vec<(String, String)> = ws
        .fs
        .read_dir(&drops_dir)
        .unwrap_or_default()
        .into_iter()
        .filter(|e| e.is_file && e.name.ends_with(".md"))
        .filter_map(|e| {
            let p = drops_dir.join(&e.name);
            let text = ws.fs.read_to_string(&p).ok()?;
            Some((crate::fsutil::rel_str(&ws.root, &p), text))
        })
        .collect();
    let mut state = PlanState {
        version: crate::run::state::VERSION,
        slug: super::state_key(ws, &plan),
        plan_path: crate::fsutil::rel_str(&ws.root, &file),
        plan_title: Some(plan.title.clone()),
        ..PlanState::default()
    };
    let (mut done, mut missing) = (Vec::new(), Vec::new());
    for part in &plan.parts {
        let (Status::Done, Some(target)) = (part.status, part.target.as_deref()) else {
            continue;
        };
        let path = kdir.join(target);
        let rel = crate::fsutil::rel_str(&ws.root, &path);
        let Ok(Some(bytes)) = ws.fs.read_opt(&path) else {
            state.parts.insert(
                part.number,
                PartState {
                    status: PartStatus::Failed,
                    target: Some(target.to_string()),
                    error: Some(format!("ticked done, but `{rel}` is missing")),
                    ..PartState::default()
                },
            );
            missing.push(part.number);
            continue;
        };
        let runner = format!("**Runner**: PART {}\n", part.number);
        let names = format!("`{target}`");
        let drop = drops
            .iter()
            .find(|(_, t)| t.contains(&runner) && t.contains(&names));
        let mut p = PartState {
            status: PartStatus::Done,
            target: Some(target.to_string()),
            target_lines: Some(String::from_utf8_lossy(&bytes).lines().count()),
            ..PartState::default()
        };
        if let Some((d, text)) = drop {
            // A drop of expand's names the file: both are expand's.
            p.drop = Some(d.clone());
            state.claim(rel, content_hash(&bytes));
            state.claim(d.clone(), content_hash(text.as_bytes()));
        }
        state.parts.insert(part.number, p);
        done.push(part.number);
    }
    state
        .save(&ws.fs)
        .context("failed to save the rebuilt run state")?;
    let list = |v: &[u32]| crate::report::numbers(v);
    if ctx.json {
        let doc = serde_json::json!({
            "plan": shown,
            "rebuilt": true,
            "kept": kept.iter().map(|k| k.display().to_string()).collect::<Vec<_>>(),
            "done": done,
            "missing": missing,
        });
        writeln!(std::io::stdout().lock(), "{doc}")?;
        return Ok(Code::Ok);
    }
    writeln!(
        std::io::stdout().lock(),
        "{}: run state rebuilt",
        shown.display()
    )?;
    for k in &kept {
        writeln!(
            std::io::stdout().lock(),
            "  kept the old state as {}",
            k.display()
        )?;
    }
    writeln!(
        std::io::stdout().lock(),
        "  done: {} PART(s) {}",
        done.len(),
        list(&done)
    )?;
    if !missing.is_empty() {
        writeln!(
            std::io::stdout().lock(),
            "  ticked done but their file is missing (will run again): PART {}",
            list(&missing)
        )?;
    }
    Ok(Code::Ok)
}
