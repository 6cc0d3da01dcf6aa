//! Step 1 of a runner, knowledge: carry out the PART's reads, greps and index
//! look-ups against the knowledge base scanned once for the whole run, and
//! return a budgeted evidence pack with paths and line ranges.

use crate::graph::references::Resolution;
use crate::graph::PartNode;
use crate::knowledge::scan::KnowledgeBase;
use crate::plan::{ItemKind, Part};
use crate::providers::Evidence;

/// What the knowledge step found.
#[derive(Clone, Debug, Default)]
pub struct Pack {
    pub evidence: Vec<Evidence>,
    /// References that resolve to no file (yet): "not yet created".
    pub missing: Vec<String>,
    /// Knowledge files read (for the drop's sources).
    pub files: Vec<String>,
}

/// Files read from one folder reference at most.
const FOLDER_FILES: usize = 8;
/// Grep hits kept per grep item.
const GREP_HITS: usize = 40;

/// Grep hits as evidence a writer can cite: one excerpt per run of
/// consecutive matching lines of one file, with that file's path and line
/// range, so a citation points at a real file (never at the search itself).
fn hit_evidence(hits: &[crate::knowledge::scan::GrepHit], title: &str) -> Vec<Evidence> {
    let mut out: Vec<Evidence> = Vec::new();
    for h in hits {
        if let Some(last) = out.last_mut() {
            if let Some((a, b)) = last.lines {
                if last.source == h.path && h.line == b + 1 {
                    last.lines = Some((a, h.line));
                    last.text.push_str(h.text.trim_end());
                    last.text.push('\n');
                    continue;
                }
            }
        }
        out.push(Evidence {
            source: h.path.clone(),
            lines: Some((h.line, h.line)),
            title: Some(title.to_string()),
            text: format!("{}\n", h.text.trim_end()),
        });
    }
    out
}

pub fn run(
    kb: &KnowledgeBase,
    part: &Part,
    node: &PartNode,
    budget_chars: usize,
    sees: &dyn Fn(u32) -> bool,
) -> Pack {
    let mut pack = Pack::default();
    // A file another PART wrote in this run is seen only when `sees` says
    // so (an earlier batch, or a PART this one depends on): evidence never
    // depends on which PART of a batch finished first.
    let visible = |f: &crate::knowledge::scan::KFile| f.written_by.map_or(true, sees);
    let focus = focus_terms(part);
    // Reads share `budget_chars`; greps add their capped hits on top. The
    // writer's prompt applies the token budget to the whole pack.
    let n = part.number;
    // `-v` says what each read resolved to and what it gave the writer.
    let read = |pack: &mut Pack, path: &str, share: usize| {
        if pack.files.iter().any(|f| f == path) {
            tracing::info!("PART {n}: read `{path}`: skipped, read already");
            return;
        }
        let ev = kb.excerpt(path, share, &focus);
        if ev.is_empty() {
            tracing::info!("PART {n}: read `{path}`: skipped, nothing in it to excerpt");
            return;
        }
        let chars: usize = ev.iter().map(|e| e.text.len()).sum();
        tracing::info!(
            "PART {n}: read `{path}`: {} excerpt(s), {chars} chars",
            ev.len()
        );
        pack.files.push(path.to_string());
        pack.evidence.extend(ev);
    };
    // Why a file the plan names is not read: not there yet, or written in
    // this run by a PART this one does not wait for.
    let unseen = |p: &str| match kb.get(p) {
        None => "no such file yet".to_string(),
        Some(f) => format!(
            "written in this run by PART {}, which this PART does not wait for",
            f.written_by.unwrap_or(0)
        ),
    };
    // Every reference: read and cited paths, and the influential files the
    // PART names ("Influenced by: Files 1, 5") reach the writer as evidence.
    let reads: Vec<_> = node.reads.iter().collect();
    let share = (budget_chars / reads.len().max(1)).clamp(1_500, 24_000);
    for r in &reads {
        let reference = &r.reference;
        let kind = r.kind.as_str();
        match &r.resolution {
            Resolution::Existing(p) | Resolution::Planned { path: p, .. } => {
                let how = match &r.resolution {
                    Resolution::Planned { part: by, .. } => format!(" (written by PART {by})"),
                    _ => String::new(),
                };
                tracing::info!("PART {n}: {kind} `{reference}` resolves to `{p}`{how}");
                if kb.get(p).is_some_and(visible) {
                    read(&mut pack, p, share);
                } else {
                    tracing::info!("PART {n}: read `{p}`: skipped, {}", unseen(p));
                    pack.missing.push(r.reference.to_string());
                }
            }
            Resolution::Folder(f) => {
                let files: Vec<String> = kb
                    .in_folder(f)
                    .filter(|k| visible(k) && Some(k.path.as_str()) != part.target.as_deref())
                    .map(|k| k.path.clone())
                    .take(FOLDER_FILES)
                    .collect();
                tracing::info!(
                    "PART {n}: {kind} `{reference}` resolves to the folder `{f}`: {} file(s) read (at most {FOLDER_FILES})",
                    files.len()
                );
                if files.is_empty() {
                    pack.missing.push(r.reference.to_string());
                }
                let each = (share / files.len().max(1)).max(800);
                for p in files {
                    read(&mut pack, &p, each);
                }
            }
            Resolution::Glob(v) => {
                tracing::info!(
                    "PART {n}: {kind} `{reference}` matches {} file(s) (at most {FOLDER_FILES} read)",
                    v.len()
                );
                let each = (share / v.len().max(1)).max(800);
                for p in v.iter().take(FOLDER_FILES) {
                    if kb.get(p).is_some_and(visible) {
                        read(&mut pack, p, each);
                    } else {
                        tracing::info!("PART {n}: read `{p}`: skipped, {}", unseen(p));
                    }
                }
            }
            Resolution::Unresolved => {
                tracing::info!(
                    "PART {n}: {kind} `{reference}`: skipped, resolves to no file (not yet created)"
                );
                pack.missing.push(r.reference.to_string())
            }
        }
    }
    for item in part.items() {
        match &item.kind {
            ItemKind::Grep { terms, op, folder } => {
                let hits = kb.grep_where(terms, *op, folder.as_deref(), GREP_HITS, visible);
                let files: std::collections::BTreeSet<&str> =
                    hits.iter().map(|h| h.path.as_str()).collect();
                // The item as the plan words it, less its "Grep for".
                let what = item.text.trim();
                let what = ["Grep for ", "grep for ", "Grep ", "grep "]
                    .iter()
                    .find_map(|p| what.strip_prefix(p))
                    .unwrap_or(what);
                tracing::info!(
                    "PART {n}: grep {what}: {} hit(s) in {} file(s){}",
                    hits.len(),
                    files.len(),
                    if hits.len() == GREP_HITS {
                        " (the first kept)"
                    } else {
                        ""
                    }
                );
                for h in &hits {
                    tracing::trace!(
                        "PART {n}: grep hit {}:{}: {}",
                        h.path,
                        h.line,
                        h.text.trim()
                    );
                }
                if hits.is_empty() {
                    continue;
                }
                pack.evidence
                    .extend(hit_evidence(&hits, &format!("grep {}", item.text.trim())));
            }
            ItemKind::IndexLookup { topic } => {
                let words: Vec<String> = topic
                    .split_whitespace()
                    .filter(|w| w.len() > 2)
                    .map(|w| w.to_string())
                    .collect();
                if words.is_empty() {
                    tracing::info!(
                        "PART {n}: index look-up `{topic}`: skipped, no word longer than 2 letters"
                    );
                    continue;
                }
                let hits: Vec<_> = kb
                    .grep_where(&words, crate::plan::GrepOp::Or, None, 400, visible)
                    .into_iter()
                    .filter(|h| h.path.rsplit('/').next() == Some("INDEX.md"))
                    .take(GREP_HITS)
                    .collect();
                tracing::info!(
                    "PART {n}: index look-up `{topic}`: {} INDEX.md entr{}",
                    hits.len(),
                    if hits.len() == 1 { "y" } else { "ies" }
                );
                if hits.is_empty() {
                    continue;
                }
                pack.evidence
                    .extend(hit_evidence(&hits, &format!("index entries for {topic}")));
            }
            _ => {}
        }
    }
    tracing::debug!(
        "PART {n}: knowledge: {} file(s) read, {} excerpt(s), {} reference(s) not found",
        pack.files.len(),
        pack.evidence.len(),
        pack.missing.len()
    );
    pack
}

/// Words that say what the PART is about: its title and section titles.
pub fn focus_terms(part: &Part) -> Vec<String> {
    let mut words: Vec<String> = Vec::new();
    let mut add = |s: &str| {
        for w in s.split(|c: char| !c.is_alphanumeric() && c != '-') {
            let w = w.trim_matches('-').to_lowercase();
            if w.len() > 3 && !STOP.contains(&w.as_str()) && !words.contains(&w) {
                words.push(w);
            }
        }
    };
    add(&part.title);
    for s in part.sections() {
        add(&s.title);
    }
    words.truncate(24);
    words
}

const STOP: &[&str] = &[
    "create", "with", "from", "that", "this", "what", "lines", "into", "using", "about", "their",
    "section", "deep", "dive",
];
