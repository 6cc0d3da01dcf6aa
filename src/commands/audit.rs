//! `expand audit [--fix]`: print the audit's findings (SPEC §9); exit 1 when
//! there are any.

use std::io::Write;

use anyhow::{Context, Result};

use super::Ctx;
use crate::error::Code;
use crate::workspace::Workspace;

pub fn run(ws: &Workspace, ctx: &Ctx, fix: bool) -> Result<Code> {
    let mut report = crate::audit::audit(ws).context("audit failed")?;
    let mut fixed = Vec::new();
    if fix {
        fixed = crate::audit::fix(ws, &report).context("audit --fix failed")?;
        if !fixed.is_empty() {
            report = crate::audit::audit(ws).context("audit failed")?;
        }
    }
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    for u in &report.unreadable {
        eprintln!("warning: {u}");
    }
    if ctx.json {
        let v = serde_json::json!({
            "findings": report.findings,
            "counts": report.counts(),
            "checked": report.checked,
            "fixed": fixed,
        });
        writeln!(out, "{}", serde_json::to_string_pretty(&v)?)?;
    } else {
        let s = ctx.style;
        for f in &report.findings {
            let at = match f.line {
                Some(l) => format!("{}:{l}", f.path),
                None => f.path.clone(),
            };
            writeln!(
                out,
                "{}: {}: {}",
                s.bold(&at),
                s.yellow(f.kind.as_str()),
                f.message
            )?;
        }
        for p in &fixed {
            writeln!(out, "{} {p}", s.green("fixed"))?;
        }
        let c = &report.checked;
        let counts: Vec<String> = report
            .counts()
            .into_iter()
            .filter(|(_, n)| *n > 0)
            .map(|(k, n)| format!("{n} {k}"))
            .collect();
        let t = &c.ticked;
        if t.present + t.misplaced + t.stranded + t.missing > 0 {
            writeln!(
                out,
                "PARTs ticked done: {} present, {} misplaced, {} stranded, {} missing",
                t.present, t.misplaced, t.stranded, t.missing
            )?;
        }
        let summary = format!(
            "checked {} knowledge files, {} indexes, {} plans, {} drops: ",
            c.knowledge_files, c.indexes, c.plans, c.drops
        );
        if counts.is_empty() {
            writeln!(out, "{summary}{}", s.green("no findings"))?;
        } else {
            writeln!(out, "{summary}{}", counts.join(", "))?;
            let fixable = report.findings.iter().filter(|f| f.fixable).count();
            if fixable > 0 && !fix {
                writeln!(
                    out,
                    "{} `expand audit --fix` repairs {fixable} of them (index rows only)",
                    s.dim("hint:")
                )?;
            }
        }
    }
    Ok(if report.findings.is_empty() {
        Code::Ok
    } else {
        Code::WorkFailed
    })
}
