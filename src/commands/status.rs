//! `expand status [PLAN]`: per plan and batch, done / failed / pending, with
//! timings, tokens, cost and Bright Data requests (billed per request), from
//! the plan and `.expand/` state.

use std::io::Write;

use anyhow::Result;

use super::{load_plans, plan_files, show, Ctx};
use crate::error::Code;
use crate::run::state::PartStatus;
use crate::workspace::Workspace;

pub fn run(ws: &Workspace, ctx: &Ctx, plan: Option<&str>) -> Result<Code> {
    let names: Vec<String> = plan.map(|p| vec![p.to_string()]).unwrap_or_default();
    // No plans waiting is a state to report, not an error.
    if names.is_empty() && ws.pending_plans()?.is_empty() {
        if ctx.json {
            println!("{}", serde_json::json!({"plans": []}));
        } else {
            println!(
                "no plans in `{}`: write one there, then `expand validate` it",
                show(&ws.show(&ws.plans_dir()))
            );
        }
        return Ok(Code::Ok);
    }
    let files = plan_files(ws, &names)?;
    let loaded = load_plans(ws, &files, ws.config.batch_size)?;
    let kdir = ws.knowledge_dir();
    let out = std::io::stdout();
    let mut out = out.lock();
    let mut all = Vec::new();
    // A PART marked running is running only while a live process holds the
    // workspace lock; otherwise a run stopped under it (interrupted).
    let live = crate::run::state::Lock::live_holder(&ws.fs);
    if let (Some(h), false) = (&live, ctx.json) {
        writeln!(out, "a run is in progress ({h})")?;
    }
    for (plan, graph) in loaded.plans.iter().zip(&loaded.graphs) {
        let state = super::load_state(ws, plan)?.0;
        let mut batches = Vec::new();
        let mut interrupted_here = false;
        // Citations over the whole plan, every batch's PARTs together.
        let (mut plan_verified, mut plan_fabricated) = (0usize, 0usize);
        if !ctx.json {
            writeln!(
                out,
                "{} — {}",
                ctx.style.bold(&show(&plan.path)),
                plan.title
            )?;
        }
        for b in &graph.batches {
            let (mut done, mut failed, mut running, mut pending) = (0, 0, 0, 0);
            let mut review: Vec<(u32, Vec<String>)> = Vec::new();
            let (mut verified, mut fabricated) = (0usize, 0usize);
            let (mut ms, mut tokens, mut cost) = (0u64, 0u64, 0f64);
            // Network requests by provider, the batch's PARTs together.
            let mut requests = crate::providers::meter::Requests::new();
            let mut failures = Vec::new();
            // The PARTs that spent something: tokens, or billed requests.
            let mut spent: Vec<Spent> = Vec::new();
            for &n in &b.parts {
                let part = plan.part(n).expect("PART");
                let st = crate::run::state_of(part, &state);
                if let Some(s) = st {
                    verified += s.verified;
                    fabricated += s.fabricated;
                    plan_verified += s.verified;
                    plan_fabricated += s.fabricated;
                    let t = s.usage.total();
                    ms += s.duration_ms.unwrap_or(0);
                    tokens += t;
                    cost += s.cost.unwrap_or(0.0);
                    crate::providers::meter::add(&mut requests, s.requests.clone());
                    if t > 0 || s.brightdata_requests() > 0 {
                        spent.push(Spent {
                            part: n,
                            tokens: t,
                            cost: s.cost,
                            brightdata: s.brightdata_requests(),
                            requests: &s.requests,
                        });
                    }
                }
                match st.map(|s| s.status) {
                    Some(PartStatus::Failed) => {
                        failed += 1;
                        failures.push((n, st.and_then(|s| s.error.clone()).unwrap_or_default()));
                    }
                    Some(PartStatus::Running) => running += 1,
                    Some(PartStatus::NeedsReview) if !st.is_some_and(|s| s.finished()) => {
                        review.push((n, st.map(|s| s.problems.clone()).unwrap_or_default()))
                    }
                    _ if !crate::run::needs_run(part, &state, &kdir) => done += 1,
                    _ => pending += 1,
                }
            }
            if ctx.json {
                batches.push(serde_json::json!({"batch": b.number, "parts": b.parts, "done": done, "needs_review": review.iter().map(|(n, _)| n).collect::<Vec<_>>(), "failed": failed, "running": if live.is_some() { running } else { 0 }, "interrupted": if live.is_some() { 0 } else { running }, "pending": pending, "citations": {"verified": verified, "fabricated": fabricated}, "duration_ms": ms, "tokens": tokens, "cost": cost, "requests": requests, "usage": spent.iter().map(|u| serde_json::json!({"part": u.part, "tokens": u.tokens, "cost": u.cost, "requests": u.requests})).collect::<Vec<_>>(), "failures": failures.iter().map(|(n, e)| serde_json::json!({"part": n, "error": e})).collect::<Vec<_>>()}));
                continue;
            }
            let mut line = format!("  batch {}: {done} done", b.number);
            if !review.is_empty() {
                line.push_str(&format!(", {} need review", review.len()));
            }
            line.push_str(&format!(", {failed} failed, {pending} pending"));
            if verified + fabricated > 0 {
                line.push_str(&format!(
                    "; citations: {verified} verified, {fabricated} fabricated"
                ));
            }
            if running > 0 && live.is_some() {
                line.push_str(&format!(", {running} running"));
            } else if running > 0 {
                line.push_str(&format!(", {running} interrupted"));
                interrupted_here = true;
            }
            if ms > 0 {
                line.push_str(&format!("  ({:.1} s of runner time", ms as f64 / 1000.0));
                let priced = spent.iter().any(|u| u.cost.is_some());
                let brightdata = requests
                    .get(crate::providers::brightdata::NAME)
                    .copied()
                    .unwrap_or(0);
                for piece in spending(tokens, priced.then_some(cost), brightdata) {
                    line.push_str(", ");
                    line.push_str(&piece);
                }
                line.push(')');
            }
            writeln!(out, "{line}")?;
            for u in spent {
                let pieces = spending(u.tokens, u.cost, u.brightdata);
                writeln!(out, "    PART {}: {}", u.part, pieces.join(", "))?;
            }
            for (n, e) in failures {
                writeln!(out, "    PART {n} failed: {e}")?;
            }
            for (n, problems) in &review {
                writeln!(out, "    PART {n} needs review: {}", problems.join("; "))?;
            }
        }
        if interrupted_here {
            writeln!(
                out,
                "  a run of this plan stopped before its PARTs finished: `expand run {}` resumes it",
                plan.slug
            )?;
        }
        if !ctx.json && plan_verified + plan_fabricated > 0 {
            writeln!(
                out,
                "  citations: {plan_verified} verified, {plan_fabricated} fabricated (the plan's total)"
            )?;
        }
        all.push(serde_json::json!({"plan": plan.slug, "path": show(&plan.path), "title": plan.title, "citations": {"verified": plan_verified, "fabricated": plan_fabricated}, "batches": batches}));
    }
    if ctx.json {
        let live = live.map(|h| serde_json::json!({"pid": h.pid, "since": h.since}));
        writeln!(
            out,
            "{}",
            serde_json::json!({"plans": all, "live_run": live})
        )?;
    }
    Ok(Code::Ok)
}

/// What one PART spent.
struct Spent<'a> {
    part: u32,
    tokens: u64,
    cost: Option<f64>,
    brightdata: u64,
    requests: &'a crate::providers::meter::Requests,
}

/// `1500 tokens`, `$0.0020`, `3 Bright Data requests`: the parts of a
/// spending that are there.
fn spending(tokens: u64, cost: Option<f64>, brightdata: u64) -> Vec<String> {
    let mut v = Vec::new();
    if tokens > 0 {
        v.push(format!("{tokens} tokens"));
        if let Some(c) = cost {
            v.push(crate::providers::cost::dollars(c));
        }
    }
    if brightdata > 0 {
        let s = if brightdata == 1 { "" } else { "s" };
        v.push(format!("{brightdata} Bright Data request{s}"));
    }
    v
}
