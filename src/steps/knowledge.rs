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
    let read = |pack: &mut Pack, path: &str, share: usize| {
        if pack.files.iter().any(|f| f == path) {
            return;
        }
        let ev = kb.excerpt(path, share, &focus);
        if ev.is_empty() {
            return;
        }
        pack.files.push(path.to_string());
        pack.evidence.extend(ev);
    };
    let reads: Vec<_> = node
        .reads
        .iter()
        .filter(|r| r.kind != crate::graph::RefKind::Influence)
        .collect();
    let share = (budget_chars / reads.len().max(1)).clamp(1_500, 24_000);
    for r in &reads {
        match &r.resolution {
            Resolution::Existing(p) | Resolution::Planned { path: p, .. } => {
                if kb.get(p).is_some_and(visible) {
                    read(&mut pack, p, share);
                } else {
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
                if files.is_empty() {
                    pack.missing.push(r.reference.to_string());
                }
                let each = (share / files.len().max(1)).max(800);
                for p in files {
                    read(&mut pack, &p, each);
                }
            }
            Resolution::Glob(v) => {
                let each = (share / v.len().max(1)).max(800);
                for p in v.iter().take(FOLDER_FILES) {
                    if kb.get(p).is_some_and(visible) {
                        read(&mut pack, p, each);
                    }
                }
            }
            Resolution::Unresolved => pack.missing.push(r.reference.to_string()),
        }
    }
    for item in part.items() {
        match &item.kind {
            ItemKind::Grep { terms, op, folder } => {
                let hits = kb.grep_where(terms, *op, folder.as_deref(), GREP_HITS, visible);
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
                    continue;
                }
                let hits: Vec<_> = kb
                    .grep_where(&words, crate::plan::GrepOp::Or, None, 400, visible)
                    .into_iter()
                    .filter(|h| h.path.rsplit('/').next() == Some("INDEX.md"))
                    .take(GREP_HITS)
                    .collect();
                if hits.is_empty() {
                    continue;
                }
                pack.evidence
                    .extend(hit_evidence(&hits, &format!("index entries for {topic}")));
            }
            _ => {}
        }
    }
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
