//! Diagnostics printers: `file:line: severity[code]: message` for people,
//! the SPEC §4 JSON shape for tools, and GitHub workflow commands for CI.

use std::io::Write;

use serde_json::{json, Value};

use super::Style;
use crate::graph::PlanGraph;
use crate::plan::{Diagnostic, Plan, Severity};

pub fn diagnostic_text(
    out: &mut impl Write,
    path: &str,
    d: &Diagnostic,
    style: Style,
) -> std::io::Result<()> {
    let sev = match d.severity {
        Severity::Error => style.red("error"),
        Severity::Warning => style.yellow("warning"),
        Severity::Info => style.cyan("info"),
    };
    writeln!(
        out,
        "{}: {sev}[{}]: {}",
        style.bold(&format!("{path}:{}", d.line)),
        d.code,
        printable(&d.message)
    )?;
    if let Some(h) = &d.hint {
        writeln!(out, "  {} {}", style.dim("hint:"), printable(h))?;
    }
    Ok(())
}

/// `::error file=plans/x.md,line=12,title=duplicate-target::message`
pub fn diagnostic_github(out: &mut impl Write, path: &str, d: &Diagnostic) -> std::io::Result<()> {
    let cmd = match d.severity {
        Severity::Error => "error",
        Severity::Warning => "warning",
        Severity::Info => "notice",
    };
    let mut msg = printable(&d.message).into_owned();
    if let Some(h) = &d.hint {
        msg.push_str(&format!(" (hint: {h})"));
    }
    writeln!(
        out,
        "::{cmd} file={},line={},title={}::{}",
        gh_prop(path),
        d.line,
        gh_prop(d.code),
        gh_data(&msg)
    )
}

/// A message quoting plan text, safe for a terminal: control characters
/// (an escape sequence in a hostile plan, a stray bell) shown escaped.
pub fn printable(s: &str) -> std::borrow::Cow<'_, str> {
    if s.chars().any(char::is_control) {
        s.chars()
            .map(|c| {
                if c.is_control() {
                    c.escape_default().to_string()
                } else {
                    c.to_string()
                }
            })
            .collect::<String>()
            .into()
    } else {
        s.into()
    }
}

fn gh_data(s: &str) -> String {
    s.replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

fn gh_prop(s: &str) -> String {
    gh_data(s).replace(':', "%3A").replace(',', "%2C")
}

/// One plan in the stable `validate --format json` shape.
pub fn plan_json(path: &str, plan: &Plan, graph: &PlanGraph) -> Value {
    let parts: Vec<Value> = plan
        .parts
        .iter()
        .map(|p| {
            let node = graph.node(p.number);
            let reads: Vec<Value> = node
                .map(|n| n.reads.iter().map(|r| json!({"ref": r.reference, "resolved": r.resolution.path(), "kind": r.kind.as_str()})).collect())
                .unwrap_or_default();
            let waits: Vec<Value> = node.map(|n| n.waits_on.iter().map(|(plan, part)| json!({"plan": plan, "part": part})).collect()).unwrap_or_default();
            json!({
                "number": p.number,
                "title": p.title,
                "line": p.line,
                "target": p.target,
                "status": p.status.as_str(),
                "expected_lines": p.expected_lines,
                "batch": node.map(|n| n.batch),
                "depends_on": node.map(|n| n.depends_on.iter().copied().collect::<Vec<_>>()).unwrap_or_default(),
                "waits_on": waits,
                "reads": reads,
                "queries": p.queries().collect::<Vec<_>>(),
                "sections": p.sections().map(|s| s.title.as_str()).collect::<Vec<_>>(),
            })
        })
        .collect();
    let batches: Vec<Value> = graph
        .batches
        .iter()
        .map(|b| json!({"number": b.number, "title": b.title, "parts": b.parts}))
        .collect();
    let diagnostics: Vec<Value> = plan
        .diagnostics
        .iter()
        .map(|d| serde_json::to_value(d).expect("diagnostics serialize"))
        .collect();
    json!({
        "path": path,
        "title": plan.title,
        "encoding": plan.encoding.as_str(),
        "declared": {"parts": plan.declared.parts, "batches": plan.declared.batches, "lines": plan.declared.lines},
        "parts": parts,
        "batches": batches,
        "diagnostics": diagnostics,
    })
}
