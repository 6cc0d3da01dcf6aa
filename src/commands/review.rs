//! `expand review batch K [PLAN]` / `expand review part N [PLAN]`: the SPEC §7
//! report as a table (or JSON); exit 1 when a check fails.

use std::io::Write;

use anyhow::{Context, Result};
use serde_json::json;

use super::{load_plans, Ctx};
use crate::cli::ReviewWhat;
use crate::error::{bad_input, Code};
use crate::review::{review_part, Level};
use crate::workspace::Workspace;

pub fn run(ws: &Workspace, ctx: &Ctx, what: ReviewWhat) -> Result<Code> {
    let (batch, number, name, show, accept) = match what {
        ReviewWhat::Batch { number, plan, show } => (true, number, plan, show, false),
        ReviewWhat::Part {
            number,
            plan,
            show,
            accept,
        } => (false, number, plan, show, accept),
    };
    let file = match name {
        Some(n) => ws.find_plan(&n)?,
        None => {
            let v = super::plan_files(ws, &[])?;
            if v.len() > 1 {
                return Err(crate::error::with_hint(
                    Code::BadInput,
                    format!(
                        "{} plans in `{}`; which one?",
                        v.len(),
                        ws.show(&ws.plans_dir()).display()
                    ),
                    "name the plan: `expand review batch K PLAN`",
                ));
            }
            v.into_iter().next().expect("one plan")
        }
    };
    if accept {
        return accept_part(ws, ctx, &file, number);
    }
    let loaded = load_plans(ws, std::slice::from_ref(&file), ws.config.batch_size)?;
    let plan = &loaded.plans[0];
    let graph = &loaded.graphs[0];
    let shown = ws.show(&file).display().to_string();
    let parts: Vec<u32> = if batch {
        match graph.batches.iter().find(|b| b.number == number) {
            Some(b) => b.parts.clone(),
            None => {
                return Err(bad_input(format!(
                    "`{shown}` has no batch {number} (it has {})",
                    graph.batches.len()
                )))
            }
        }
    } else {
        if plan.part(number).is_none() {
            return Err(bad_input(format!("`{shown}` has no PART {number}")));
        }
        vec![number]
    };
    let mut parts = parts;
    parts.sort();
    let state = super::load_state(ws, plan)?.0;
    let kroot = ws.knowledge_dir();
    let files = crate::knowledge::list_files(&ws.fs, &kroot, &ws.non_knowledge_dirs())?;
    let base = crate::review::Base {
        fs: &ws.fs,
        kroot: &kroot,
        root: &ws.root,
        files: &files,
        slug: &plan.slug,
    };
    let reviews: Vec<_> = parts
        .iter()
        .filter_map(|n| plan.part(*n))
        .map(|p| review_part(&base, p, crate::run::state_of(p, &state)))
        .collect();
    let ok = reviews.iter().all(|r| r.ok);
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    if ctx.json {
        let parts: Vec<_> = reviews
            .iter()
            .map(|r| {
                let mut v = serde_json::to_value(r).expect("serializes");
                if show {
                    v["drop_text"] = json!(r.drop_text);
                }
                v
            })
            .collect();
        let v = json!({
            "plan": shown,
            "batch": if batch { Some(number) } else { None },
            "parts": parts,
            "ok": ok,
        });
        writeln!(out, "{}", serde_json::to_string_pretty(&v)?)?;
    } else {
        let s = ctx.style;
        let what = if batch {
            format!("batch {number}")
        } else {
            format!("PART {number}")
        };
        writeln!(out, "{} — {what}", s.bold(&shown))?;
        writeln!(
            out,
            "{:<5} {:<12} {:>11} {:>9} {:>5} {:>5} {:>9} {:>8} {:>13} {:>9}  result",
            "PART",
            "status",
            "lines",
            "sections",
            "URLs",
            "refs",
            "cites",
            "time",
            "tokens",
            "cost"
        )?;
        for r in &reviews {
            let lines = match (r.lines, r.expected_lines) {
                (Some(n), Some(e)) => format!("{n}/~{e}"),
                (Some(n), None) => n.to_string(),
                _ => "-".into(),
            };
            let time = r
                .duration_ms
                .map(|d| format!("{:.1}s", d as f64 / 1000.0))
                .unwrap_or("-".into());
            let cost = r
                .cost
                .map(crate::providers::cost::dollars)
                .unwrap_or("-".into());
            let result = if r.ok { s.green("ok") } else { s.red("FAIL") };
            writeln!(
                out,
                "{:<5} {:<12} {:>11} {:>9} {:>5} {:>5} {:>9} {:>8} {:>13} {:>9}  {result}",
                r.number,
                r.status,
                lines,
                format!("{}/{}", r.sections_filled, r.sections_planned),
                r.urls,
                r.knowledge_refs,
                format!("{}/{}", r.verified, r.verified + r.fabricated),
                time,
                format!("{}/{}", r.input_tokens, r.output_tokens),
                cost
            )?;
        }
        for r in &reviews {
            for c in r.checks.iter().filter(|c| c.level != Level::Pass) {
                let tag = if c.level == Level::Fail {
                    s.red("fail")
                } else {
                    s.yellow("warn")
                };
                writeln!(out, "  PART {} {tag} {}: {}", r.number, c.name, c.detail)?;
            }
        }
        if show {
            for r in &reviews {
                if let Some(t) = &r.drop_text {
                    writeln!(
                        out,
                        "\n{}\n{t}",
                        s.dim(&format!(
                            "── PART {} drop: {} ──",
                            r.number,
                            r.drop.as_deref().unwrap_or("")
                        ))
                    )?;
                }
            }
        }
    }
    Ok(if ok { Code::Ok } else { Code::WorkFailed })
}

/// `review part N PLAN --accept`: a person takes a file that needs review
/// as it is. Recorded in state with the time; the plan is ticked, so run,
/// status and consolidate count the PART as finished.
fn accept_part(ws: &Workspace, ctx: &Ctx, file: &std::path::Path, number: u32) -> Result<Code> {
    ws.plan_to_change(file)?;
    let _lock = super::lock(ws)?;
    let plan = ws.load_plan(file)?;
    let shown = ws.show(file).display().to_string();
    let part = plan
        .part(number)
        .ok_or_else(|| bad_input(format!("`{shown}` has no PART {number}")))?;
    let (mut state, _) = super::load_state(ws, &plan)?;
    let status = crate::run::state_of(part, &state).map(|p| p.status);
    if status != Some(crate::run::state::PartStatus::NeedsReview) {
        return Err(crate::error::with_hint(
            Code::BadInput,
            format!(
                "PART {number} of `{shown}` does not need review (it is {})",
                status.map_or("pending", |s| s.as_str())
            ),
            "--accept takes a file that the quality check failed; `expand status` shows which",
        ));
    }
    let now = crate::clock::now();
    let at = crate::clock::rfc3339(now);
    let stamp = crate::clock::stamp(now);
    ws.fs
        .rewrite_once(file, |bytes| {
            let current = crate::plan::from_bytes(std::path::Path::new(&shown), bytes)
                .map_err(std::io::Error::other)?;
            let Some(p) = current.part(number) else {
                return Ok(None);
            };
            let edits = crate::plan::edit::tick_part(&current, p, &stamp);
            if edits.is_empty() {
                return Ok(None);
            }
            let text =
                crate::plan::edit::apply(&current.text, &edits).map_err(std::io::Error::other)?;
            Ok(Some(crate::plan::to_bytes(&current, &text)))
        })
        .with_context(|| format!("failed to tick `{shown}`"))?;
    let p = state.part_mut(number);
    p.accepted_at = Some(at.clone());
    let problems = p.problems.clone();
    state.save(&ws.fs).context("failed to save run state")?;
    let mut out = std::io::stdout().lock();
    if ctx.json {
        writeln!(
            out,
            "{}",
            json!({"plan": shown, "part": number, "accepted_at": at, "problems": problems})
        )?;
    } else {
        writeln!(out, "{shown}: PART {number} accepted at {at}, as it is:")?;
        for p in &problems {
            writeln!(out, "  {p}")?;
        }
        writeln!(out, "the plan is ticked; consolidate takes its file")?;
    }
    Ok(Code::Ok)
}
