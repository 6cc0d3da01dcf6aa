//! Stage 4: review (SPEC §7). What a person looks at for one PART that has
//! run: its status, the quality check of its file (`crate::quality`, the one
//! the run made: sections, sources, citations verified, placeholders,
//! length), its drop; with duration, tokens and cost.

use std::collections::BTreeSet;
use std::path::Path;

use serde::Serialize;

use crate::plan::Part;
use crate::run::state::{PartState, PartStatus};

#[derive(Clone, Copy, Debug, Serialize, PartialEq, Eq, PartialOrd, Ord)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    Pass,
    Warn,
    Fail,
}

#[derive(Clone, Debug, Serialize)]
pub struct Check {
    pub name: &'static str,
    pub level: Level,
    pub detail: String,
}

#[derive(Clone, Debug, Serialize)]
pub struct PartReview {
    pub number: u32,
    pub title: String,
    pub status: String,
    pub accepted_at: Option<String>,
    pub error: Option<String>,
    pub target: Option<String>,
    pub lines: Option<usize>,
    pub expected_lines: Option<u32>,
    pub sections_found: usize,
    /// Planned sections whose heading is there with content under it.
    pub sections_filled: usize,
    pub sections_planned: usize,
    pub urls: usize,
    pub knowledge_refs: usize,
    pub verified: usize,
    pub fabricated: usize,
    pub drop: Option<String>,
    /// The drop's text as read for its check (for `review --show`).
    #[serde(skip)]
    pub drop_text: Option<String>,
    pub duration_ms: Option<u64>,
    pub input_tokens: u64,
    pub output_tokens: u64,
    pub cost: Option<f64>,
    pub checks: Vec<Check>,
    pub ok: bool,
}

/// What review needs from the workspace to judge a file the way the run
/// did: knowledge citations resolve against the base on disk.
pub struct Base<'a> {
    pub fs: &'a crate::workspace::jail::Jail,
    /// The knowledge folder.
    pub kroot: &'a Path,
    /// The workspace root (drops are workspace-relative).
    pub root: &'a Path,
    /// Every knowledge file (knowledge-relative), for citations that leave
    /// out leading folders.
    pub files: &'a [String],
    /// The plan's slug: where the pages its research retrieved are kept.
    pub slug: &'a str,
}

impl Base<'_> {
    /// A cited knowledge path → the file it names and its text.
    fn resolve(&self, path: &str) -> Option<(String, std::sync::Arc<str>)> {
        let found = if self
            .files
            .binary_search_by(|f| f.as_str().cmp(path))
            .is_ok()
        {
            Some(path.to_string())
        } else {
            let tail = format!("/{}", path.trim_start_matches('/'));
            let mut hits = self.files.iter().filter(|f| f.ends_with(&tail));
            match (hits.next(), hits.next()) {
                (Some(f), None) => Some(f.clone()),
                _ => None,
            }
        }?;
        let text = self.fs.read_to_string(self.kroot.join(&found)).ok()?;
        Some((found, std::sync::Arc::from(text)))
    }
}

/// Review one PART: its state, and the quality check of its file
/// (`crate::quality`, the same check the run made), its drop, its cost.
pub fn review_part(base: &Base, part: &Part, st: Option<&PartState>) -> PartReview {
    let mut checks = Vec::new();
    let mut add = |name, level, detail: String| {
        checks.push(Check {
            name,
            level,
            detail,
        })
    };
    let status = st.map(|s| s.status).unwrap_or(PartStatus::Pending);
    let accepted = st.and_then(|s| s.accepted_at.clone());
    match (status, &accepted) {
        (PartStatus::Done, _) => add("status", Level::Pass, "done".into()),
        (PartStatus::NeedsReview, Some(at)) => add(
            "status",
            Level::Pass,
            format!("needs review, accepted by a person at {at}"),
        ),
        (PartStatus::NeedsReview, None) => add(
            "status",
            Level::Fail,
            "needs review: the file fails the quality check".into(),
        ),
        (PartStatus::Failed, _) => add(
            "status",
            Level::Fail,
            format!(
                "failed: {}",
                st.and_then(|s| s.error.clone()).unwrap_or_default()
            ),
        ),
        (other, _) => add(
            "status",
            Level::Fail,
            format!("{} (not run)", other.as_str()),
        ),
    }
    let target = st.and_then(|s| s.target.clone()).or(part.target.clone());
    let text = target
        .as_ref()
        .filter(|t| crate::fsutil::check_relative(t).is_ok())
        .and_then(|t| base.fs.read_to_string(base.kroot.join(t)).ok());
    let planned: Vec<&str> = part.sections().map(|s| s.title.as_str()).collect();
    let mut verdict = None;
    match (&target, &text) {
        (None, _) => add("file", Level::Fail, "the PART names no target file".into()),
        (Some(t), None) => add("file", Level::Fail, format!("`{t}` does not exist")),
        (Some(t), Some(x)) => {
            let seen: Option<BTreeSet<String>> = st
                .and_then(|s| s.seen_urls.clone())
                .map(|v| v.into_iter().collect());
            let resolve = |p: &str| base.resolve(p);
            let kept = crate::run::state::load_pages(base.fs, base.slug, part.number);
            let page = |u: &str| {
                kept.as_ref()
                    .and_then(|k| k.get(u))
                    .map(|t| std::sync::Arc::from(t.as_str()))
            };
            let v = crate::quality::check(
                &planned,
                part.expected_lines,
                x,
                &crate::quality::Context {
                    target: t,
                    knowledge: &resolve,
                    seen_urls: seen.as_ref(),
                    pages: Some(&page),
                    must_cite: st.map(|s| s.must_cite.as_slice()).unwrap_or(&[]),
                },
            );
            add("file", Level::Pass, format!("`{t}`"));
            // An accepted file's problems stay visible, as warnings.
            let fail = if accepted.is_some() {
                Level::Warn
            } else {
                Level::Fail
            };
            for f in v.failures() {
                add("check", fail, f);
            }
            for w in v.warnings() {
                add("check", Level::Warn, w);
            }
            let (ok, bad) = v.verified_and_fabricated();
            add(
                "citations",
                if bad > 0 { fail } else { Level::Pass },
                format!("{ok} verified, {bad} fabricated"),
            );
            verdict = Some(v);
        }
    }
    let drop = st.and_then(|s| s.drop.clone());
    let drop_text = drop
        .as_ref()
        .and_then(|d| base.fs.read_to_string(base.root.join(d)).ok());
    match (&drop, &drop_text) {
        (None, _) => add("drop", Level::Fail, "no KNOWLEDGE-DROP recorded".into()),
        (Some(d), None) => add("drop", Level::Fail, format!("`{d}` does not exist")),
        (Some(d), Some(dt)) => match &target {
            Some(t) if dt.contains(&format!("`{t}`")) => add("drop", Level::Pass, format!("`{d}`")),
            Some(t) => add("drop", Level::Fail, format!("`{d}` does not name `{t}`")),
            None => add("drop", Level::Warn, format!("`{d}`")),
        },
    }
    let ok = checks.iter().all(|c| c.level != Level::Fail);
    let usage = st.map(|s| s.usage.clone()).unwrap_or_default();
    let (urls, refs) = verdict.as_ref().map(|v| v.counts()).unwrap_or((0, 0));
    let (verified, fabricated) = verdict
        .as_ref()
        .map(|v| v.verified_and_fabricated())
        .unwrap_or((0, 0));
    PartReview {
        number: part.number,
        title: part.title.clone(),
        status: status.as_str().to_string(),
        accepted_at: accepted,
        error: st.and_then(|s| s.error.clone()),
        target,
        lines: verdict.as_ref().map(|v| v.lines),
        expected_lines: part.expected_lines,
        sections_found: verdict
            .as_ref()
            .map(|v| v.sections.iter().filter(|s| s.heading.is_some()).count())
            .unwrap_or(0),
        sections_filled: verdict.as_ref().map(|v| v.filled().count()).unwrap_or(0),
        sections_planned: planned.len(),
        urls,
        knowledge_refs: refs,
        verified,
        fabricated,
        drop,
        drop_text,
        duration_ms: st.and_then(|s| s.duration_ms),
        input_tokens: usage.input_tokens,
        output_tokens: usage.output_tokens,
        cost: st.and_then(|s| s.cost),
        checks,
        ok,
    }
}
