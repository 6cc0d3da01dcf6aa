//! `expand graph`: the task graph as text, Graphviz dot or Mermaid.

use std::io::Write;

use anyhow::Result;

use super::load_plans;
use crate::cli::GraphFormat;
use crate::error::Code;
use crate::workspace::Workspace;

pub fn run(
    ws: &Workspace,
    ctx: &super::Ctx,
    name: &str,
    format: GraphFormat,
    batch_size: Option<usize>,
) -> Result<Code> {
    let file = ws.find_plan(name)?;
    let loaded = load_plans(ws, &[file], batch_size.unwrap_or(ws.config.batch_size))?;
    let (plan, graph) = (&loaded.plans[0], &loaded.graphs[0]);
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    let label = |n: u32| {
        let p = plan.part(n);
        let t = p
            .and_then(|p| p.target.clone())
            .unwrap_or_else(|| p.map(|p| p.title.clone()).unwrap_or_default());
        format!("PART {n}: {t}")
    };
    if ctx.json {
        let batches: Vec<serde_json::Value> = graph
            .batches
            .iter()
            .map(|b| {
                let parts: Vec<serde_json::Value> = b
                    .parts
                    .iter()
                    .map(|&n| {
                        let node = graph.node(n).expect("node for every PART");
                        serde_json::json!({
                            "part": n,
                            "target": plan.part(n).and_then(|p| p.target.clone()),
                            "depends_on": node.depends_on,
                            "waits_on": node.waits_on.iter().map(|(p, q)| serde_json::json!({"plan": p, "part": q})).collect::<Vec<_>>(),
                        })
                    })
                    .collect();
                serde_json::json!({"batch": b.number, "title": b.title, "parts": parts})
            })
            .collect();
        let doc = serde_json::json!({
            "plan": ws.show(&loaded.files[0]),
            "title": plan.title,
            "batches": batches,
        });
        writeln!(out, "{doc}")?;
        return Ok(Code::Ok);
    }
    match format {
        GraphFormat::Text => {
            writeln!(out, "{}", plan.title)?;
            for b in &graph.batches {
                let title = if b.title.is_empty() {
                    String::new()
                } else {
                    format!(": {}", b.title)
                };
                writeln!(out, "batch {}{title}", b.number)?;
                for &n in &b.parts {
                    let node = graph.node(n).expect("node for every PART");
                    let mut deps: Vec<String> = node
                        .depends_on
                        .iter()
                        .map(|d| format!("PART {d}"))
                        .collect();
                    deps.extend(node.waits_on.iter().map(|(p, d)| format!("{p} PART {d}")));
                    let after = if deps.is_empty() {
                        String::new()
                    } else {
                        format!("  ← {}", deps.join(", "))
                    };
                    writeln!(out, "  {}{after}", label(n))?;
                }
            }
        }
        GraphFormat::Dot => {
            writeln!(out, "digraph plan {{\n  rankdir=LR;\n  node [shape=box];")?;
            for b in &graph.batches {
                writeln!(
                    out,
                    "  subgraph cluster_{} {{\n    label={};",
                    b.number,
                    quote(format!("batch {} {}", b.number, b.title).trim())
                )?;
                for &n in &b.parts {
                    writeln!(out, "    p{n} [label={}];", quote(&label(n)))?;
                }
                writeln!(out, "  }}")?;
            }
            for node in &graph.nodes {
                for d in &node.depends_on {
                    writeln!(out, "  p{d} -> p{};", node.number)?;
                }
            }
            writeln!(out, "}}")?;
        }
        GraphFormat::Mermaid => {
            writeln!(out, "flowchart LR")?;
            for b in &graph.batches {
                writeln!(out, "  subgraph batch{}[\"batch {}\"]", b.number, b.number)?;
                for &n in &b.parts {
                    writeln!(out, "    p{n}[\"{}\"]", label(n).replace('"', "'"))?;
                }
                writeln!(out, "  end")?;
            }
            for node in &graph.nodes {
                for d in &node.depends_on {
                    writeln!(out, "  p{d} --> p{}", node.number)?;
                }
            }
        }
    }
    let errors = crate::graph::error_count(std::slice::from_ref(plan));
    if errors > 0 {
        eprintln!(
            "{} has {errors} error(s); run `expand validate {}`",
            plan.path.display(),
            plan.path.display()
        );
        return Ok(Code::BadInput);
    }
    Ok(Code::Ok)
}

fn quote(s: &str) -> String {
    format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
}
