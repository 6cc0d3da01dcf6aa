//! `expand validate`: parse, resolve, connect and schedule plans; print diagnostics.

use std::io::Write;

use anyhow::Result;

use super::{load_plans, plan_files, show, Ctx};
use crate::cli::Format;
use crate::error::Code;
use crate::plan::{Diagnostic, Encoding, Severity};
use crate::report::printer;
use crate::workspace::Workspace;

pub fn run(
    ws: &Workspace,
    ctx: &Ctx,
    names: &[String],
    format: Format,
    batch_size: Option<usize>,
    overlaps: bool,
) -> Result<Code> {
    let files = plan_files(ws, names)?;
    let loaded = load_plans(ws, &files, batch_size.unwrap_or(ws.config.batch_size))?;
    let mut plans = loaded.plans;
    if overlaps {
        let index = super::new::knowledge_index(ws)?;
        for p in &mut plans {
            crate::draft::overlap::check_plan(p, &index);
        }
    }
    for p in &mut plans {
        if p.encoding != Encoding::Utf8 {
            let from = if p.encoding == Encoding::MacRomanRepaired {
                "Mac Roman"
            } else {
                "Windows-1252"
            };
            p.diagnostics.insert(
                0,
                Diagnostic::warning(
                    1,
                    "mis-encoded",
                    format!("the text is UTF-8 that was once decoded as {from}; read as repaired"),
                )
                .with_hint(format!(
                    "`expand fix-encoding {}` rewrites it as clean UTF-8",
                    show(&p.path)
                )),
            );
        }
    }
    let errors = crate::graph::error_count(&plans);
    let warnings = plans
        .iter()
        .flat_map(|p| &p.diagnostics)
        .filter(|d| d.severity == Severity::Warning)
        .count();
    // One write for the whole report, not one per line (stdout is
    // line-buffered): a report of many lines to a pipe cost more than
    // validating.
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::with_capacity(1 << 16, stdout.lock());
    let format = if ctx.json { Format::Json } else { format };
    match format {
        Format::Json => {
            let v: Vec<_> = plans
                .iter()
                .zip(&loaded.graphs)
                .map(|(p, g)| printer::plan_json(&show(&p.path), p, g))
                .collect();
            serde_json::to_writer_pretty(&mut out, &serde_json::json!({ "plans": v }))?;
            writeln!(out)?;
        }
        Format::Github => {
            for p in &plans {
                for d in p
                    .diagnostics
                    .iter()
                    .filter(|d| d.severity != Severity::Info)
                {
                    printer::diagnostic_github(&mut out, &show(&p.path), d)?;
                }
            }
            writeln!(
                out,
                "{} plan{}: {errors} error{}, {warnings} warning{}",
                plans.len(),
                s(plans.len()),
                s(errors),
                s(warnings)
            )?;
        }
        Format::Text => {
            for (p, g) in plans.iter().zip(&loaded.graphs) {
                let path = show(&p.path);
                let enc = match p.encoding {
                    Encoding::Utf8 => String::new(),
                    e => format!(", {}", e.as_str()),
                };
                writeln!(
                    out,
                    "{}: {} — {} PART{}, {} batch{}{enc}",
                    ctx.style.bold(&path),
                    p.title,
                    p.parts.len(),
                    s(p.parts.len()),
                    g.batches.len(),
                    if g.batches.len() == 1 { "" } else { "es" }
                )?;
                for d in &p.diagnostics {
                    if d.severity == Severity::Info && ctx.verbose == 0 {
                        continue;
                    }
                    printer::diagnostic_text(&mut out, &path, d, ctx.style)?;
                }
                // Waits on PARTs of the other plans read together.
                for part in &p.parts {
                    let Some(node) = g.node(part.number).filter(|n| !n.waits_on.is_empty()) else {
                        continue;
                    };
                    let on: Vec<String> = node
                        .waits_on
                        .iter()
                        .map(|(plan, n)| format!("{plan} PART {n}"))
                        .collect();
                    writeln!(
                        out,
                        "{path}:{}: PART {} waits on {}",
                        part.line,
                        part.number,
                        on.join(", ")
                    )?;
                }
            }
            summary_line(&mut out, ctx, plans.len(), errors, warnings)?;
        }
    }
    out.flush()?;
    // The process ends when this returns: handing a large model back to
    // the allocator one string at a time took a tenth of validate's time
    // on 100,000 PARTs, and the system takes the memory back at once.
    std::mem::forget(plans);
    std::mem::forget(loaded.graphs);
    Ok(if errors > 0 { Code::BadInput } else { Code::Ok })
}

/// `2 plans: 0 errors, 3 warnings`, green, or red when there are errors.
pub fn summary_line(
    out: &mut impl Write,
    ctx: &Ctx,
    plans: usize,
    errors: usize,
    warnings: usize,
) -> std::io::Result<()> {
    let summary = format!(
        "{plans} plan{}: {errors} error{}, {warnings} warning{}",
        s(plans),
        s(errors),
        s(warnings)
    );
    let colored = if errors > 0 {
        ctx.style.red(&summary)
    } else {
        ctx.style.green(&summary)
    };
    writeln!(out, "{colored}")
}

pub fn s(n: usize) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}
