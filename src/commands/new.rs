//! `expand new TOPIC`: get an outline (from `--from`, or from the
//! configured language-model writer), draft the plan in the base
//! (`crate::draft`), check it with the parser and validator every other
//! command uses, write `plans/<slug>.md` and print the validation.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, Result};

use super::{show, Ctx};
use crate::cli::NewArgs;
use crate::draft::outline::{self, Outline};
use crate::error::{bad_input, with_hint, Code};
use crate::knowledge::bm25::Bm25;
use crate::knowledge::scan::KnowledgeBase;
use crate::plan::Severity;
use crate::providers::{ProviderError, WriteRequest, Writer};
use crate::report::printer;
use crate::workspace::Workspace;

/// PARTs asked of a model when `--parts` is not given.
const DEFAULT_PARTS: usize = 6;

/// The knowledge base and the index the runner searches it with.
pub fn base(ws: &Workspace) -> Result<(KnowledgeBase, Bm25)> {
    let kdir = ws.knowledge_dir();
    let kb = KnowledgeBase::scan(&ws.fs, &kdir, &ws.non_knowledge_dirs())
        .with_context(|| format!("failed to read `{}`", ws.show(&kdir).display()))?;
    let index = crate::knowledge::index_cache::of_workspace(ws, &kdir, &kb, false);
    Ok((kb, index))
}

/// The runner's index of the knowledge base.
pub fn knowledge_index(ws: &Workspace) -> Result<Bm25> {
    Ok(base(ws)?.1)
}

pub fn run(ws: &Workspace, ctx: &Ctx, args: NewArgs) -> Result<Code> {
    let topic = args.topic.trim().to_string();
    let slug = crate::draft::slugify(&topic);
    if slug.is_empty() {
        return Err(with_hint(
            Code::BadInput,
            format!("topic `{topic}` has no letters or digits to name the plan by"),
            "give a topic such as \"Rust async runtimes\"",
        ));
    }
    if args.parts == Some(0) {
        return Err(bad_input("--parts must be at least 1"));
    }
    if args.batch_size == Some(0) {
        return Err(bad_input("--batch-size must be at least 1"));
    }
    let plan_file = ws.plans_dir().join(format!("{slug}.md"));
    let shown = show(&ws.show(&plan_file));
    // Before any paid request: an existing plan is never replaced.
    if ws.fs.symlink_metadata(&plan_file).is_ok() {
        return Err(with_hint(
            Code::BadInput,
            format!("plan `{shown}` exists already"),
            "expand new never replaces a plan: choose another topic, or move that plan away",
        ));
    }
    // Its drops folder and archive would be another plan's.
    if ws.fs.exists(ws.completed_dir().join(&slug)) || ws.fs.exists(ws.drops_dir().join(&slug)) {
        return Err(with_hint(
            Code::BadInput,
            format!("a plan named `{slug}` has run here already (its drops or archive exist)"),
            "choose another topic: a plan's name is its drops folder and its archive folder",
        ));
    }
    let (kb, index) = base(ws)?;
    let outline = match &args.from {
        Some(path) => read_outline(path, args.parts)?,
        None => ask_model(ws, &args, &topic, &kb, &index)?,
    };
    let mut planned = Vec::new();
    for f in ws.pending_plans().unwrap_or_default() {
        // A plan that cannot be read is validate's to report; its
        // targets simply do not count here.
        if let Ok(p) = ws.load_plan(&f) {
            planned.extend(p.parts.iter().filter_map(|p| p.target.clone()));
        }
    }
    let (date, _) = crate::clock::date_and_hhmm(crate::clock::now());
    let draft = crate::draft::draft(
        &kb,
        &index,
        crate::draft::Request {
            topic: topic.clone(),
            outline,
            folder: args.folder.clone(),
            batch_size: args.batch_size.unwrap_or(ws.config.batch_size),
            skip_covered: args.skip_covered,
            planned,
            date,
        },
    )
    .map_err(|e| bad_input(e.to_string()))?;

    // The draft is checked as any plan is: parsed back from its text,
    // validated, connected to the base, and checked for overlaps.
    let mut plan = crate::plan::parse::parse_str(Path::new(&shown), draft.text.clone());
    plan.slug = slug.clone();
    crate::plan::validate::check(&mut plan);
    let existing: Vec<String> = kb.files().iter().map(|f| f.path.clone()).collect();
    let mut plans = vec![plan];
    let graphs = crate::graph::analyze(
        &mut plans,
        &existing,
        Some(&ws.place()),
        args.batch_size.unwrap_or(ws.config.batch_size),
    );
    let mut plan = plans.pop().expect("one plan");
    crate::draft::overlap::check_plan(&mut plan, &index);
    let differs = crate::draft::read_back(&draft, &plan);
    if !differs.is_empty() {
        return Err(with_hint(
            Code::BadInput,
            format!(
                "the drafted plan does not read back as drafted, so nothing was written:\n{}",
                differs
                    .iter()
                    .map(|(line, m)| match (&args.from, line) {
                        (Some(f), 1..) => format!("  {}:{line}: {m}", f.display()),
                        _ => format!("  {m}"),
                    })
                    .collect::<Vec<_>>()
                    .join("\n")
            ),
            "reword those titles in the outline: the plan format reads some words in them \
             (such as `Create name.md`) as something else",
        ));
    }
    let errors = plan
        .diagnostics
        .iter()
        .filter(|d| d.severity == Severity::Error)
        .count();
    let warnings = plan
        .diagnostics
        .iter()
        .filter(|d| d.severity == Severity::Warning)
        .count();
    let write = !args.dry_run && errors == 0;
    if write {
        ws.fs
            .write_new(&plan_file, draft.text.as_bytes())
            .map_err(|e| match e.kind() {
                std::io::ErrorKind::AlreadyExists => {
                    bad_input(format!("plan `{shown}` exists already"))
                }
                _ => anyhow::Error::new(e).context(format!("failed to write `{shown}`")),
            })?;
    }

    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    if ctx.json {
        let skipped: Vec<_> = draft
            .skipped
            .iter()
            .map(|(t, v)| {
                serde_json::json!({
                    "title": t,
                    "overlaps": v.iter().map(|o| serde_json::json!({"path": o.path, "score": round(o.score)})).collect::<Vec<_>>(),
                })
            })
            .collect();
        let overlaps: Vec<_> = draft
            .parts
            .iter()
            .filter(|p| !p.overlaps.is_empty())
            .map(|p| {
                serde_json::json!({
                    "part": p.number,
                    "files": p.overlaps.iter().map(|o| serde_json::json!({"path": o.path, "score": round(o.score)})).collect::<Vec<_>>(),
                })
            })
            .collect();
        let v = serde_json::json!({
            "path": shown,
            "written": write,
            "folder": draft.folder,
            "folder_reason": draft.folder_reason,
            "influential": draft.influential.iter().map(|f| f.path.clone()).collect::<Vec<_>>(),
            "overlaps": overlaps,
            "skipped": skipped,
            "plan": printer::plan_json(&shown, &plan, &graphs[0]),
        });
        serde_json::to_writer_pretty(&mut out, &v)?;
        writeln!(out)?;
    } else {
        if args.dry_run {
            out.write_all(draft.text.as_bytes())?;
        }
        let verb = if write { "wrote" } else { "would write" };
        let first = draft.parts.first().map(|p| p.target.as_str()).unwrap_or("");
        let last = draft.parts.last().map(|p| p.target.as_str()).unwrap_or("");
        writeln!(
            out,
            "{verb} {}: {} PART{} in {} batch{}, ~{} lines",
            ctx.style.bold(&shown),
            draft.parts.len(),
            super::validate::s(draft.parts.len()),
            draft.batches.len(),
            if draft.batches.len() == 1 { "" } else { "es" },
            draft.total_lines()
        )?;
        let why = match draft.folder_reason {
            "given" => "--folder",
            "best match" => "the folder that best matches the topic",
            _ => "a new folder: no existing one matches the topic",
        };
        writeln!(out, "  folder: {}/ ({why})", draft.folder)?;
        if first == last {
            writeln!(out, "  target: {first}")?;
        } else {
            writeln!(out, "  targets: {first} … {last}")?;
        }
        writeln!(
            out,
            "  influential files: {} (each PART reads the closest in Step 0)",
            draft.influential.len()
        )?;
        for (t, v) in &draft.skipped {
            writeln!(
                out,
                "  left out (--skip-covered): {t}: {}",
                crate::draft::overlap::list(v)
            )?;
        }
        for d in &plan.diagnostics {
            if d.severity == Severity::Info && ctx.verbose == 0 {
                continue;
            }
            printer::diagnostic_text(&mut out, &shown, d, ctx.style)?;
        }
        super::validate::summary_line(&mut out, ctx, 1, errors, warnings)?;
        if write {
            writeln!(
                out,
                "next: read it and edit what the draft got wrong, then `expand run {slug} --dry-run`"
            )?;
        }
    }
    if errors > 0 {
        // The drafter made a plan the parser rejects: a bug, reported as
        // such, and nothing was written.
        return Err(crate::error::bad_input(format!(
            "the drafted plan does not validate ({errors} error{}); nothing was written",
            super::validate::s(errors)
        )));
    }
    Ok(Code::Ok)
}

fn round(x: f32) -> f64 {
    (f64::from(x) * 100.0).round() / 100.0
}

/// Read and check `--from OUTLINE`; `--parts N` keeps the first N PARTs.
fn read_outline(path: &PathBuf, parts: Option<usize>) -> Result<Outline> {
    let shown = path.display().to_string();
    let text = std::fs::read(path)
        .with_context(|| format!("failed to read the outline `{shown}`"))
        .map_err(|e| bad_input(format!("{e:#}")))?;
    let text = String::from_utf8(text)
        .map_err(|_| bad_input(format!("the outline `{shown}` is not UTF-8 text")))?;
    let mut o = outline::parse_markdown(&shown, &text).map_err(|e| {
        with_hint(
            Code::BadInput,
            e.to_string(),
            "an outline is a markdown list: `- PART title (~300 lines)`, sections as nested items",
        )
    })?;
    if let Some(n) = parts {
        if n > o.parts.len() {
            return Err(bad_input(format!(
                "--parts {n}: the outline `{shown}` has only {} PART{}",
                o.parts.len(),
                super::validate::s(o.parts.len())
            )));
        }
        o.parts.truncate(n);
    }
    Ok(o)
}

/// One request to the configured writer for the outline as JSON, and one
/// repair request when the answer does not fit the schema.
fn ask_model(
    ws: &Workspace,
    args: &NewArgs,
    topic: &str,
    kb: &KnowledgeBase,
    index: &Bm25,
) -> Result<Outline> {
    let mut cfg = ws.config.clone();
    if let Some(p) = &args.provider {
        cfg.writer.kind = p.clone();
    }
    let no_model = || {
        with_hint(
            Code::BadInput,
            "no outline: `expand new` needs --from OUTLINE when the writer is `offline`",
            "write the PARTs as a markdown list (one item per PART, sections nested) and pass \
             --from outline.md; or configure a language-model writer (writer.kind: openai, \
             anthropic or command) to draft the outline",
        )
    };
    if cfg.writer.kind == "offline" {
        return Err(no_model());
    }
    // A dry run leaves the workspace as it was: no response cache.
    let cache = (!args.dry_run).then(|| ws.state_dir().join("cache"));
    if cache.is_some() {
        ws.fs
            .create_dir_all(".expand/cache")
            .context("failed to make the response cache `.expand/cache`")?;
    }
    let http = crate::providers::http::Http::new(
        cache.as_deref(),
        crate::providers::http::HttpOptions::for_config(&cfg),
    )
    .map_err(|e| crate::error::environment(e.to_string()))?;
    let writer = crate::providers::network_writer_with(&cfg, Arc::new(http))
        .map_err(|e| bad_input(e.to_string()))?
        .ok_or_else(no_model)?;
    let parts = args.parts.unwrap_or(DEFAULT_PARTS);
    let known: Vec<(String, String)> = crate::draft::known(kb, index, topic)
        .into_iter()
        .map(|f| (f.path, f.description))
        .collect();
    let prompt = outline::prompt(topic, parts, &known);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("failed to start the async runtime")?;
    let ask = |prompt: String| -> Result<String> {
        let req = WriteRequest {
            plan_title: topic.to_string(),
            part: 0,
            title: "outline".into(),
            target: String::new(),
            part_text: String::new(),
            sections: Vec::new(),
            expected_lines: None,
            evidence: Vec::new(),
            prompt,
            shared_prefix: 0,
            so_far: None,
            must_cite: Vec::new(),
        };
        rt.block_on(writer.write(&req))
            .map(|w| w.text)
            .map_err(|e| provider_error(writer.as_ref(), e))
    };
    let first = ask(prompt.clone())?;
    match outline::from_answer(&first, parts) {
        Ok(o) => Ok(o),
        Err(problems) => {
            tracing::warn!(
                "the outline answer does not fit the schema ({} problem{}); asking once for a repair",
                problems.len(),
                super::validate::s(problems.len())
            );
            let second = ask(outline::repair_prompt(&prompt, &first, &problems))?;
            outline::from_answer(&second, parts).map_err(|problems| {
                with_hint(
                    Code::WorkFailed,
                    format!(
                        "the writer's outline still does not fit the schema after one repair: {}",
                        problems.join("; ")
                    ),
                    "write the outline yourself and pass --from outline.md",
                )
            })
        }
    }
}

fn provider_error(w: &dyn Writer, e: ProviderError) -> anyhow::Error {
    let msg = format!("the {} writer could not draft the outline: {e}", w.name());
    match e {
        ProviderError::Config(_) => bad_input(msg),
        ProviderError::Setup { hint, .. } => with_hint(Code::Environment, msg, hint),
        _ => crate::error::environment(msg),
    }
}
