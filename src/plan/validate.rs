//! Checks a plan can fail on its own, without the knowledge base: PART
//! numbering, targets, declared batches and totals, step kinds. Checks that
//! need the knowledge base or other plans live in `graph`.

use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet};

use rustc_hash::FxHashMap;

use super::model::*;
use crate::fsutil;

/// Append the plan-level diagnostics to `plan.diagnostics`.
pub fn check(plan: &mut Plan) {
    let mut d = std::mem::take(&mut plan.diagnostics);
    if plan.parts.is_empty() {
        d.push(
            Diagnostic::error(plan.title_line.max(1), "no-parts", "the plan has no PARTs")
                .with_hint("a PART is a heading `## PART 1: Title`, a paragraph `**PART 1**: Title`, or `**Worker 1: Title**`"),
        );
    }
    let mut seen: BTreeMap<u32, usize> = BTreeMap::new();
    for p in &plan.parts {
        if let Some(first) = seen.insert(p.number, p.line) {
            d.push(Diagnostic::error(
                p.line,
                "duplicate-part",
                format!("PART {} is defined twice (first at line {first})", p.number),
            ));
        }
    }
    // Hashed, not ordered: only "seen before?" is asked, and an ordered
    // map of 100,000 paths compared strings all over memory (15x the time
    // for 10x the PARTs).
    let mut targets: FxHashMap<&str, (u32, usize)> = FxHashMap::default();
    targets.reserve(plan.parts.len());
    // Targets that differ only in case or Unicode normalization are one
    // file on macOS and Windows.
    let mut folded: FxHashMap<Cow<str>, (u32, &str)> = FxHashMap::default();
    folded.reserve(plan.parts.len());
    // PARTs ticked done, gathered at the first duplicate target.
    let mut done: Option<BTreeSet<u32>> = None;
    for p in &plan.parts {
        let line = p.target_line.unwrap_or(p.line);
        match &p.target {
            Some(t) => {
                if let Err(e) = fsutil::check_relative(t) {
                    d.push(
                        Diagnostic::error(line, "target-outside", format!("PART {} target `{}` {e}", p.number, t.escape_debug()))
                            .with_hint("targets are paths relative to the knowledge folder, like `topic/00-name.md`"),
                    );
                }
                let same_file = folded
                    .insert(fsutil::fold_name(t), (p.number, t.as_str()))
                    .filter(|(_, o)| *o != t.as_str());
                if let Some((other, o)) = same_file {
                    d.push(
                        Diagnostic::error(
                            line,
                            "duplicate-target",
                            format!(
                                "PARTs {other} and {} create `{}` and `{}`, one file where case or Unicode form does not count (macOS, Windows)",
                                p.number,
                                o.escape_debug(),
                                t.escape_debug()
                            ),
                        )
                        .with_hint("give each PART a name that differs in more than case or accents' encoding"),
                    );
                }
                if let Some((other, l)) = targets.insert(t.as_str(), (p.number, line)) {
                    let msg = format!(
                        "PARTs {other} and {} both create `{t}` (line {l})",
                        p.number
                    );
                    let both_done = p.status == Status::Done
                        && done
                            .get_or_insert_with(|| {
                                plan.parts
                                    .iter()
                                    .filter(|q| q.status == Status::Done)
                                    .map(|q| q.number)
                                    .collect()
                            })
                            .contains(&other);
                    if both_done {
                        // History, not a collision to come: nothing will run. Audit shows what is on disk.
                        d.push(Diagnostic::warning(line, "duplicate-target", msg).with_hint("both PARTs are done already; `expand audit` checks what the file holds"));
                    } else {
                        d.push(
                            Diagnostic::error(line, "duplicate-target", msg)
                                .with_hint("give each PART its own file"),
                        );
                    }
                }
            }
            None => d.push(
                Diagnostic::warning(
                    p.line,
                    "no-target",
                    format!("PART {} names no knowledge file to create", p.number),
                )
                .with_hint("add `Create folder/NN-name.md` to its heading or status line"),
            ),
        }
        for s in &p.steps {
            if s.kind == StepKind::Other {
                d.push(Diagnostic::info(s.line, "unknown-step", format!("PART {}: step `{}` is not a known kind; its text goes to the writer as instructions", p.number, s.name)));
            }
        }
    }
    // Numbering gaps.
    let nums: Vec<u32> = seen.keys().copied().collect();
    for w in nums.windows(2) {
        if w[1] > w[0] + 1 {
            let line = plan.part(w[1]).map(|p| p.line).unwrap_or(1);
            d.push(Diagnostic::warning(
                line,
                "numbering-gap",
                format!("PART numbers jump from {} to {}", w[0], w[1]),
            ));
        }
    }
    // Declared batches.
    if !plan.batches.is_empty() {
        let mut in_batch: BTreeSet<u32> = BTreeSet::new();
        for b in &plan.batches {
            if b.parts.is_empty() {
                d.push(Diagnostic::error(
                    b.line,
                    "empty-batch",
                    format!("batch {} lists no PARTs", b.number),
                ));
            }
            for n in &b.parts {
                if !seen.contains_key(n) {
                    d.push(Diagnostic::error(
                        b.line,
                        "batch-missing-part",
                        format!(
                            "batch {} names PART {n}, which the plan does not define",
                            b.number
                        ),
                    ));
                }
                if !in_batch.insert(*n) {
                    d.push(Diagnostic::error(
                        b.line,
                        "part-in-two-batches",
                        format!(
                            "PART {n} is in more than one batch (again in batch {})",
                            b.number
                        ),
                    ));
                }
            }
        }
        for p in &plan.parts {
            if !in_batch.contains(&p.number) {
                d.push(
                    Diagnostic::error(
                        p.line,
                        "part-without-batch",
                        format!("PART {} is in no declared batch", p.number),
                    )
                    .with_hint("add it to a `**Batch N**: PARTs a-b` line"),
                );
            }
        }
    }
    // Declared totals.
    let line = plan.title_line.max(1);
    if let Some(n) = plan.declared.parts {
        let found = plan.parts.len() as u32;
        if n != found && found > 0 {
            d.push(Diagnostic::warning(
                line,
                "declared-total",
                format!("the plan declares {n} PARTs but defines {found}"),
            ));
        }
    }
    if let Some(n) = plan.declared.batches {
        let found = plan.batches.len() as u32;
        if found > 0 && n != found {
            d.push(Diagnostic::warning(
                line,
                "declared-total",
                format!("the plan declares {n} batches but lists {found}"),
            ));
        }
    }
    if let Some(n) = plan.declared.lines {
        let sum: u64 = plan
            .parts
            .iter()
            .filter_map(|p| p.expected_lines)
            .map(u64::from)
            .sum();
        if sum > 0 && (sum as f64 - n as f64).abs() > n as f64 * 0.2 {
            d.push(Diagnostic::warning(
                line,
                "declared-total",
                format!("the plan declares ~{n} lines but its PARTs plan {sum}"),
            ));
        }
    }
    plan.diagnostics = d;
}
