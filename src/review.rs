//! Stage 4: review (SPEC §7). The quality checks of one PART that has run:
//! status, the file and its length, planned sections, sources and citations,
//! placeholders left, the drop; with duration, tokens and cost.

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
    pub error: Option<String>,
    pub target: Option<String>,
    pub lines: Option<usize>,
    pub expected_lines: Option<u32>,
    pub sections_found: usize,
    pub sections_planned: usize,
    pub urls: usize,
    pub knowledge_refs: usize,
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

fn words(s: &str) -> Vec<String> {
    s.to_lowercase()
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| w.len() > 1 && !matches!(*w, "and" | "the" | "of" | "for" | "to" | "in" | "a"))
        .map(str::to_string)
        .collect()
}

/// A planned section title matches a heading when most of its words are in it.
pub fn fuzzy_match(planned: &str, heading: &str) -> bool {
    let p = words(planned);
    if p.is_empty() {
        return true;
    }
    let h = words(heading);
    let hit = p.iter().filter(|w| h.contains(w)).count();
    hit * 3 >= p.len() * 2
}

/// Headings (`#`..`######`) outside code fences.
pub fn headings(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut fence = false;
    for l in text.lines() {
        let t = l.trim_start();
        if t.starts_with("```") || t.starts_with("~~~") {
            fence = !fence;
            continue;
        }
        if fence {
            continue;
        }
        let n = t.bytes().take_while(|&c| c == b'#').count();
        if (1..=6).contains(&n) && t[n..].starts_with(' ') {
            out.push(t[n..].trim().to_string());
        }
    }
    out
}

/// (URLs, knowledge-file references) in a text.
pub fn citations(text: &str) -> (usize, usize) {
    let urls = text.matches("http://").count() + text.matches("https://").count();
    let refs = crate::knowledge::index_md::mentions(text)
        .into_iter()
        .filter(|m| !m.starts_with('/'))
        .count();
    (urls, refs)
}

/// The text after a `## Sources` (or References / Citations) heading.
fn sources_section(text: &str) -> Option<&str> {
    let mut off = 0;
    for l in text.split_inclusive('\n') {
        let t = l.trim();
        if t.starts_with('#') {
            let h = t.trim_start_matches('#').trim().to_lowercase();
            if h.starts_with("source") || h.starts_with("reference") || h.starts_with("citation") {
                return Some(&text[off + l.len()..]);
            }
        }
        off += l.len();
    }
    None
}

const PLACEHOLDERS: [&str; 5] = ["[TIME]", "[DATE]", "TODO", "TBD", "FIXME"];

/// Review one PART, reading through the workspace's jail: `kroot` is the knowledge root, `root` the workspace root
/// (drops are workspace-relative).
pub fn review_part(
    fs: &crate::workspace::jail::Jail,
    part: &Part,
    st: Option<&PartState>,
    kroot: &Path,
    root: &Path,
) -> PartReview {
    let mut checks = Vec::new();
    let mut add = |name, level, detail: String| {
        checks.push(Check {
            name,
            level,
            detail,
        })
    };
    let status = st.map(|s| s.status).unwrap_or(PartStatus::Pending);
    match status {
        PartStatus::Done => add("status", Level::Pass, "done".into()),
        PartStatus::Failed => add(
            "status",
            Level::Fail,
            format!(
                "failed: {}",
                st.and_then(|s| s.error.clone()).unwrap_or_default()
            ),
        ),
        other => add(
            "status",
            Level::Fail,
            format!("{} (not run)", other.as_str()),
        ),
    }
    let target = st.and_then(|s| s.target.clone()).or(part.target.clone());
    let text = target
        .as_ref()
        .filter(|t| crate::fsutil::check_relative(t).is_ok())
        .and_then(|t| fs.read_to_string(kroot.join(t)).ok());
    let mut lines = None;
    let (mut urls, mut refs) = (0, 0);
    let planned: Vec<&str> = part.sections().map(|s| s.title.as_str()).collect();
    let mut found = 0;
    match (&target, &text) {
        (None, _) => add("file", Level::Fail, "the PART names no target file".into()),
        (Some(t), None) => add("file", Level::Fail, format!("`{t}` does not exist")),
        (Some(t), Some(x)) if x.trim().is_empty() => {
            add("file", Level::Fail, format!("`{t}` is empty"))
        }
        (Some(t), Some(x)) => {
            add("file", Level::Pass, format!("`{t}`"));
            let n = x.lines().count();
            lines = Some(n);
            if let Some(exp) = part.expected_lines {
                let exp = exp as usize;
                let level = if n * 2 < exp {
                    Level::Fail
                } else if n * 10 < exp * 8 {
                    Level::Warn
                } else {
                    Level::Pass
                };
                add("lines", level, format!("{n} of ~{exp} planned"));
            } else {
                add("lines", Level::Pass, format!("{n}"));
            }
            let hs = headings(x);
            let missing: Vec<&str> = planned
                .iter()
                .filter(|p| !hs.iter().any(|h| fuzzy_match(p, h)))
                .copied()
                .collect();
            found = planned.len() - missing.len();
            if missing.is_empty() {
                add(
                    "sections",
                    Level::Pass,
                    format!("{found}/{}", planned.len()),
                );
            } else {
                add(
                    "sections",
                    Level::Fail,
                    format!("missing: {}", missing.join("; ")),
                );
            }
            (urls, refs) = citations(x);
            match sources_section(x) {
                Some(s) if citations(s) != (0, 0) => add(
                    "sources",
                    Level::Pass,
                    format!("{urls} URLs, {refs} knowledge refs"),
                ),
                Some(_) => add(
                    "sources",
                    Level::Fail,
                    "the sources section lists no URL or knowledge file".into(),
                ),
                None => add("sources", Level::Fail, "no sources section".into()),
            }
            let left: Vec<&str> = PLACEHOLDERS
                .iter()
                .filter(|p| x.contains(*p))
                .copied()
                .collect();
            if left.is_empty() {
                add("placeholders", Level::Pass, "none".into());
            } else {
                add(
                    "placeholders",
                    Level::Fail,
                    format!("left: {}", left.join(", ")),
                );
            }
        }
    }
    let drop = st.and_then(|s| s.drop.clone());
    let drop_text = drop
        .as_ref()
        .and_then(|d| fs.read_to_string(root.join(d)).ok());
    match (&drop, &drop_text) {
        (None, _) => add("drop", Level::Fail, "no KNOWLEDGE-DROP recorded".into()),
        (Some(d), None) => add("drop", Level::Fail, format!("`{d}` does not exist")),
        (Some(d), Some(dt)) => match &target {
            Some(t) if dt.contains(t.as_str()) => add("drop", Level::Pass, format!("`{d}`")),
            Some(t) => add("drop", Level::Fail, format!("`{d}` does not name `{t}`")),
            None => add("drop", Level::Warn, format!("`{d}`")),
        },
    }
    let ok = checks.iter().all(|c| c.level != Level::Fail);
    let usage = st.map(|s| s.usage.clone()).unwrap_or_default();
    PartReview {
        number: part.number,
        title: part.title.clone(),
        status: status.as_str().to_string(),
        error: st.and_then(|s| s.error.clone()),
        target,
        lines,
        expected_lines: part.expected_lines,
        sections_found: found,
        sections_planned: planned.len(),
        urls,
        knowledge_refs: refs,
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fuzzy_sections() {
        assert!(fuzzy_match(
            "Why ship completions",
            "1. Why Ship Completions and Man Pages"
        ));
        assert!(!fuzzy_match("Retry budgets", "Overview"));
        assert_eq!(headings("# A\n```\n# no\n```\n## B\n"), ["A", "B"]);
    }
}
