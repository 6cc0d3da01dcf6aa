//! `expand consolidate [PLAN] [--allow-partial] [--no-commit]`: index, skill
//! list, archive and one commit per plan (SPEC §8).

use std::io::Write;
use std::path::PathBuf;

use anyhow::{Context, Result};
use serde_json::json;

use super::Ctx;
use crate::consolidate::{self as cons, git::Committed, NewFile};
use crate::error::{with_hint, Code};
use crate::run::state::PlanState;
use crate::workspace::Workspace;

pub fn run(
    ws: &Workspace,
    ctx: &Ctx,
    name: Option<&str>,
    allow_partial: bool,
    no_commit: bool,
) -> Result<Code> {
    let _lock = super::lock(ws)?;
    let files = match name {
        Some(n) => vec![ws.find_plan(n)?],
        None => ws.pending_plans()?,
    };
    let mut reports = Vec::new();
    for file in &files {
        // Consolidation needs the plan's PARTs and targets, not its graph.
        let plan = &ws.load_plan(file)?;
        let slug = plan.slug.clone();
        let mut state = PlanState::load(&ws.fs, &slug)?;
        let st = cons::standing(plan, &state, &ws.knowledge_dir());
        let shown = ws.show(file).display().to_string();
        if !st.pending.is_empty() {
            if name.is_none() {
                eprintln!("skipping `{shown}`: PARTs have not all run");
                continue;
            }
            let list: Vec<String> = st.pending.iter().map(|n| n.to_string()).collect();
            return Err(with_hint(
                Code::BadInput,
                format!("`{shown}`: PART {} has not run yet", list.join(", ")),
                format!("run `expand run {slug} --all`, then consolidate"),
            ));
        }
        if !st.failed.is_empty() && !allow_partial {
            let list: Vec<String> = st
                .failed
                .iter()
                .map(|(n, t, e)| match e {
                    Some(e) => format!("PART {n} ({t}): {e}"),
                    None => format!("PART {n} ({t})"),
                })
                .collect();
            return Err(with_hint(
                Code::WorkFailed,
                format!("`{shown}`: failed: {}", list.join("; ")),
                "re-run them with `expand run PLAN --part N`, or pass --allow-partial to leave them out",
            ));
        }
        for (n, t, _) in &st.failed {
            eprintln!("leaving out failed PART {n}: {t}");
        }
        let kroot = ws.knowledge_dir();
        let mut new_files = Vec::new();
        for (n, target) in &st.done {
            let path = kroot.join(target);
            let Ok(text) = std::fs::read_to_string(&path) else {
                eprintln!(
                    "warning: PART {n} is done but `{}` is missing; not indexed",
                    ws.show(&path).display()
                );
                continue;
            };
            let drop_text = state
                .part(*n)
                .and_then(|p| p.drop.as_ref())
                .and_then(|d| std::fs::read_to_string(ws.root.join(d)).ok());
            let title = plan.part(*n).map(|p| p.title.as_str()).unwrap_or("");
            let lines = text.lines().count();
            new_files.push(NewFile {
                target: target.clone(),
                lines,
                description: cons::describe(title, drop_text.as_deref(), &text),
            });
        }
        new_files.sort_by(|a, b| a.target.cmp(&b.target));
        let mut touched: Vec<PathBuf> = new_files.iter().map(|f| kroot.join(&f.target)).collect();
        let indexes = cons::update_indexes(ws, &new_files).context("failed to update the index")?;
        touched.extend(indexes.iter().cloned());
        let skill = cons::update_skill(ws, cons::short_title(&plan.title), &new_files)
            .context("failed to update SKILL.md")?;
        touched.extend(skill.iter().cloned());
        // Paths the commit must agree with even when this run changed nothing.
        touched.push(kroot.join("INDEX.md"));
        touched.push(kroot.join("SKILL.md"));
        let dest_dir = ws.completed_dir().join(&slug);
        let dest_plan = dest_dir.join(&ws.config.completed_plan_name);
        let moved = cons::archive::archive(
            file,
            &dest_plan,
            &ws.drops_dir().join(&slug),
            &dest_dir.join("drops"),
        )
        .context("failed to archive the plan")?;
        touched.extend(moved.from.iter().cloned());
        touched.extend(moved.to.iter().cloned());
        touched.push(dest_plan.clone());
        let archived = crate::fsutil::rel_str(&ws.root, &dest_plan);
        // Keep the state pointing at the files where they now are.
        if !moved.from.is_empty() {
            let rel = |p: &PathBuf| crate::fsutil::rel_str(&ws.root, p);
            let map: Vec<(String, String)> = moved
                .from
                .iter()
                .zip(&moved.to)
                .map(|(a, b)| (rel(a), rel(b)))
                .collect();
            state.plan_path = archived.clone();
            for p in state.parts.values_mut() {
                if let Some(d) = &p.drop {
                    if let Some((_, to)) = map.iter().find(|(from, _)| from == d) {
                        p.drop = Some(to.clone());
                    }
                }
            }
            state.slug = slug.clone();
            state.save(&ws.fs).context("failed to save the run state")?;
        }
        touched.retain(|p| p.exists() || moved.from.contains(p));
        let msg = cons::message(&plan.title, &new_files, &st.failed, &archived);
        let commit = if no_commit || !ws.config.git.commit {
            None
        } else {
            Some(
                cons::git::commit(&ws.root, &touched, &msg, &ws.config.git)
                    .map_err(|e| crate::error::environment(e.to_string()))?,
            )
        };
        reports.push((
            shown, new_files, st.failed, indexes, skill, moved, archived, commit,
        ));
    }
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    let s = ctx.style;
    if ctx.json {
        let v: Vec<_> = reports
            .iter()
            .map(|(plan, files, failed, idx, skill, moved, archived, commit)| {
                let rel = |p: &PathBuf| crate::fsutil::rel_str(&ws.root, p);
                json!({
                    "plan": plan,
                    "files": files.iter().map(|f| json!({"path": f.target, "lines": f.lines, "description": f.description})).collect::<Vec<_>>(),
                    "failed": failed.iter().map(|(n, t, e)| json!({"part": n, "title": t, "error": e})).collect::<Vec<_>>(),
                    "indexes": idx.iter().map(rel).collect::<Vec<_>>(),
                    "skill": skill.as_ref().map(rel),
                    "moved": moved.from.iter().zip(&moved.to).map(|(a, b)| json!({"from": rel(a), "to": rel(b)})).collect::<Vec<_>>(),
                    "archived": archived,
                    "commit": match commit {
                        Some(Committed::Commit(id)) => json!(id),
                        _ => json!(null),
                    },
                    "commit_status": match commit {
                        None => "disabled",
                        Some(Committed::Commit(_)) => "committed",
                        Some(Committed::Unchanged) => "unchanged",
                        Some(Committed::NotARepo) => "not-a-repository",
                    },
                })
            })
            .collect();
        writeln!(
            out,
            "{}",
            serde_json::to_string_pretty(&json!({ "plans": v }))?
        )?;
    } else {
        if reports.is_empty() {
            writeln!(out, "nothing to consolidate")?;
        }
        for (plan, files, failed, idx, skill, moved, archived, commit) in &reports {
            writeln!(out, "{}: {} new file(s)", s.bold(plan), files.len())?;
            for p in idx.iter().chain(skill.iter()) {
                writeln!(out, "  updated {}", ws.show(p).display())?;
            }
            if !moved.from.is_empty() {
                writeln!(
                    out,
                    "  archived to {archived} ({} file(s) moved)",
                    moved.from.len()
                )?;
            }
            for (n, t, _) in failed {
                writeln!(out, "  {} PART {n}: {t}", s.yellow("left out"))?;
            }
            match commit {
                None => writeln!(out, "  no commit (--no-commit or git.commit: false)")?,
                Some(Committed::NotARepo) => {
                    writeln!(out, "  not inside a git repository; skipping the commit")?
                }
                Some(Committed::Unchanged) => writeln!(out, "  nothing new to commit")?,
                Some(Committed::Commit(id)) => writeln!(
                    out,
                    "  {} {}",
                    s.green("committed"),
                    &id[..id.len().min(10)]
                )?,
            }
        }
    }
    Ok(Code::Ok)
}
