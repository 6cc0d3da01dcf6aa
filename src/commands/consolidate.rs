//! `expand consolidate [PLAN] [--allow-partial] [--no-commit]`: the arguments
//! to `consolidate::execute`, its report to text or JSON (SPEC §8).

use std::io::Write;

use anyhow::Result;
use serde_json::json;

use super::Ctx;
use crate::consolidate::{self as cons, Committed, PlanReport};
use crate::error::Code;
use crate::workspace::Workspace;

pub fn run(
    ws: &Workspace,
    ctx: &Ctx,
    name: Option<&str>,
    allow_partial: bool,
    no_commit: bool,
) -> Result<Code> {
    let _lock = super::lock(ws)?;
    let opts = cons::Options {
        allow_partial,
        commit: !no_commit && ws.config.git.commit,
    };
    let report = cons::execute(ws, name, &opts)?;
    for plan in &report.skipped {
        eprintln!("skipping `{plan}`: PARTs have not all run");
    }
    for p in &report.plans {
        for w in &p.warnings {
            eprintln!("warning: {w}");
        }
    }
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    if ctx.json {
        let v: Vec<_> = report.plans.iter().map(plan_json).collect();
        writeln!(
            out,
            "{}",
            serde_json::to_string_pretty(&json!({ "plans": v }))?
        )?;
        return Ok(Code::Ok);
    }
    if report.plans.is_empty() {
        writeln!(out, "nothing to consolidate")?;
    }
    let s = ctx.style;
    for p in &report.plans {
        writeln!(out, "{}: {} new file(s)", s.bold(&p.plan), p.files.len())?;
        if p.resumed {
            writeln!(out, "  finishing the consolidation an earlier run began")?;
        }
        if p.already {
            writeln!(out, "  consolidated before; nothing left to do")?;
        }
        for path in p.indexes.iter().chain(p.skill.iter()) {
            writeln!(out, "  updated {path}")?;
        }
        if let Some(taken) = &p.archive_taken {
            writeln!(
                out,
                "  {} `{taken}/` holds another plan's archive; this one goes beside it",
                s.yellow("note:")
            )?;
        }
        if !p.moved.is_empty() {
            writeln!(
                out,
                "  archived to {} ({} file(s) moved)",
                p.archived,
                p.moved.len()
            )?;
        }
        for f in &p.failed {
            writeln!(
                out,
                "  {} PART {}: {}",
                s.yellow("left out"),
                f.part,
                f.title
            )?;
        }
        match &p.commit {
            None => writeln!(out, "  no commit (--no-commit or git.commit: false)")?,
            Some(Committed::NotARepo) => {
                writeln!(out, "  not inside a git repository; skipping the commit")?
            }
            Some(Committed::Unchanged) => writeln!(out, "  nothing new to commit")?,
            Some(Committed::Earlier(id)) => writeln!(
                out,
                "  {} {} (by the run that was interrupted)",
                s.green("committed"),
                short(id)
            )?,
            Some(Committed::Commit(id)) => {
                writeln!(out, "  {} {}", s.green("committed"), short(id))?
            }
        }
    }
    Ok(Code::Ok)
}

fn short(id: &str) -> &str {
    &id[..id.len().min(10)]
}

fn plan_json(p: &PlanReport) -> serde_json::Value {
    json!({
        "plan": p.plan,
        "files": p.files.iter().map(|f| json!({"path": f.target, "lines": f.lines, "description": f.description})).collect::<Vec<_>>(),
        "failed": p.failed.iter().map(|f| json!({"part": f.part, "title": f.title, "error": f.error})).collect::<Vec<_>>(),
        "indexes": p.indexes,
        "skill": p.skill,
        "moved": p.moved.iter().map(|m| json!({"from": m.from, "to": m.to})).collect::<Vec<_>>(),
        "archived": p.archived,
        "archive_taken": p.archive_taken,
        "resumed": p.resumed,
        "commit": match &p.commit {
            Some(Committed::Commit(id) | Committed::Earlier(id)) => json!(id),
            _ => json!(null),
        },
        "commit_status": match &p.commit {
            None => "disabled",
            Some(Committed::Commit(_)) => "committed",
            Some(Committed::Earlier(_)) => "committed-earlier",
            Some(Committed::Unchanged) => "unchanged",
            Some(Committed::NotARepo) => "not-a-repository",
        },
    })
}
