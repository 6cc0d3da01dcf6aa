//! Step 4 of a runner, drop: the KNOWLEDGE-DROP report of one PART, written to
//! `drops/<plan-slug>/KNOWLEDGE-DROP-<topic>-<YYYY-MM-DD-HHMM>.md`. It says
//! only what happened: its status is the quality check's verdict, "gaps
//! filled" lists the planned sections that got content, and the sources the
//! file cites are kept apart from what was read but not cited.

use crate::markdown::source::Source;
use crate::plan::{ItemKind, Part};
use crate::quality::Verdict;

pub struct DropInfo<'a> {
    pub plan_title: &'a str,
    pub plan_path: &'a str,
    pub part: &'a Part,
    pub stamp: &'a str,
    pub target: &'a str,
    pub provider: &'a str,
    pub model: &'a str,
    pub input_tokens: u64,
    pub output_tokens: u64,
    /// Of `input_tokens`, those read from and written to the provider's
    /// prompt cache (section requests share their prefix).
    pub cache_read_tokens: u64,
    pub cache_write_tokens: u64,
    pub cost: Option<f64>,
    /// Requests sent to Bright Data, which bills each one.
    pub brightdata_requests: u64,
    pub duration_s: f64,
    /// The check of the file written.
    pub verdict: &'a Verdict,
    /// A repair was asked for once.
    pub repaired: bool,
    /// How the file was written (by section, continued).
    pub writing: &'a crate::steps::write::Stats,
    /// The search provider, and the queries sent to it.
    pub search: &'a str,
    pub queries: &'a [String],
    /// Everything the writer was given: knowledge files and URLs.
    pub read: &'a [String],
    /// Knowledge files the plan names that do not exist yet.
    pub missing: &'a [String],
}

/// `KNOWLEDGE-DROP-<topic>-<date>-<hhmm>.md`: the topic from the plan's own
/// drop name (placeholders and dates dropped), else from the target's path
/// (its folder and numbers kept, so `gpu/00-x.md` and `tpu/00-x.md` differ).
/// The runner makes it unique among the plan's PARTs.
pub fn file_name(part: &Part, date: &str, hhmm: &str) -> String {
    let from_plan = part.items().find_map(|i| match &i.kind {
        ItemKind::CreateDrop { name } => Some(name.clone()),
        _ => None,
    });
    let (raw, keep_digits) = match from_plan {
        Some(n) => (
            n.trim_start_matches("KNOWLEDGE-DROP-")
                .trim_end_matches(".md")
                .to_string(),
            false,
        ),
        None => (
            part.target
                .as_deref()
                .unwrap_or("part")
                .trim_end_matches(".md")
                .to_string(),
            true,
        ),
    };
    // Drop "[TIME]"-style placeholders, and the plan's dates.
    let mut words: Vec<String> = Vec::new();
    for w in raw.split(['-', '_', ' ', '/']) {
        let w = w.trim();
        if w.is_empty() || w.starts_with('[') {
            continue;
        }
        if !keep_digits && w.bytes().all(|b| b.is_ascii_digit()) {
            continue;
        }
        let clean: String = w
            .chars()
            .filter(|c| c.is_ascii_alphanumeric())
            .collect::<String>()
            .to_lowercase();
        if !clean.is_empty() {
            words.push(clean);
        }
    }
    if words.is_empty() {
        words.push(format!("part{}", part.number));
    }
    words.truncate(10);
    format!("KNOWLEDGE-DROP-{}-{date}-{hhmm}.md", words.join("-"))
}

/// How the file was written, when it took more than one plain answer.
fn writing(w: &crate::steps::write::Stats) -> Option<String> {
    let mut parts = Vec::new();
    if w.sections {
        parts.push(format!("section by section ({} requests)", w.requests));
    }
    if w.continued > 0 {
        parts.push(format!(
            "{} answer{} stopped on the token limit and {} continued",
            w.continued,
            if w.continued == 1 { "" } else { "s" },
            if w.continued == 1 { "was" } else { "were" },
        ));
    }
    if w.shrunk {
        parts.push(
            "the prompt was too long for the model; sent again with half the evidence".into(),
        );
    }
    (!parts.is_empty()).then(|| parts.join("; "))
}

pub fn render(d: &DropInfo) -> String {
    let v = d.verdict;
    let mut s = String::new();
    s.push_str(&format!("# KNOWLEDGE DROP: {}\n\n", d.part.title));
    s.push_str(&format!("- **Runner**: PART {}\n", d.part.number));
    s.push_str(&format!(
        "- **Plan**: {} (`{}`)\n",
        d.plan_title, d.plan_path
    ));
    s.push_str(&format!("- **Timestamp**: {}\n", d.stamp));
    if v.passes() {
        s.push_str("- **Status**: ✓ COMPLETE\n");
    } else {
        s.push_str("- **Status**: ⚠ NEEDS REVIEW (the file fails the quality check)\n");
    }
    s.push_str(&format!(
        "- **Knowledge file**: `{}` ({} lines{})\n",
        d.target,
        v.lines,
        v.expected_lines
            .map(|e| format!(" of ~{e} planned"))
            .unwrap_or_default()
    ));
    let (ok, bad) = v.verified_and_fabricated();
    s.push_str(&format!(
        "- **Citations**: {ok} verified, {bad} fabricated\n"
    ));
    s.push_str(&format!(
        "- **Provider**: {} (model: {})\n",
        d.provider, d.model
    ));
    s.push_str(&format!(
        "- **Tokens**: {} in / {} out",
        d.input_tokens, d.output_tokens
    ));
    if d.cache_read_tokens + d.cache_write_tokens > 0 {
        s.push_str(&format!(
            " ({} of the input read from the prompt cache, {} written to it)",
            d.cache_read_tokens, d.cache_write_tokens
        ));
    }
    s.push('\n');
    if let Some(c) = d.cost {
        s.push_str(&format!(
            "- **Cost**: {}\n",
            crate::providers::cost::dollars(c)
        ));
    }
    if d.brightdata_requests > 0 {
        s.push_str(&format!(
            "- **Bright Data requests**: {}\n",
            d.brightdata_requests
        ));
    }
    s.push_str(&format!("- **Duration**: {:.1} s\n", d.duration_s));
    if d.repaired {
        s.push_str("- **Repair**: the first answer failed the check; one repair was asked for\n");
    }
    if let Some(w) = writing(d.writing) {
        s.push_str(&format!("- **Writing**: {w}\n"));
    }
    let failures = v.failures();
    let warnings = v.warnings();
    if !failures.is_empty() || !warnings.is_empty() {
        s.push_str("\n## Check\n");
        for f in &failures {
            s.push_str(&format!("- ✗ {f}\n"));
        }
        for w in &warnings {
            s.push_str(&format!("- ⚠ {w}\n"));
        }
    }

    s.push_str("\n## Research\n");
    if d.queries.is_empty() {
        s.push_str("- no queries in the plan for this PART\n");
    } else if d.search == "offline" {
        s.push_str(
            "- web search skipped (offline): each query was answered from the knowledge base\n",
        );
        for q in d.queries {
            s.push_str(&format!("  - \"{q}\"\n"));
        }
    } else {
        for q in d.queries {
            s.push_str(&format!("- \"{q}\" ({})\n", d.search));
        }
    }

    s.push_str("\n## Sources cited\n");
    let mut cited: Vec<String> = Vec::new();
    for c in &v.citations {
        let k = Source::parse(&c.source)
            .map(|s| s.key().to_string())
            .unwrap_or_else(|| c.source.clone());
        if cited.contains(&k) {
            continue;
        }
        cited.push(k.clone());
        let mark = if c.fabricated.is_some() {
            " (points nowhere)"
        } else {
            ""
        };
        if c.url {
            s.push_str(&format!("- {k}{mark}\n"));
        } else {
            s.push_str(&format!("- `{k}` (knowledge){mark}\n"));
        }
    }
    if cited.is_empty() {
        s.push_str("- none\n");
    }
    let not_cited: Vec<&String> = d
        .read
        .iter()
        .filter(|r| {
            let key = Source::parse(r)
                .map(|s| s.key().to_string())
                .unwrap_or_else(|| r.to_string());
            !cited.contains(&key) && key != d.target
        })
        .collect();
    if !not_cited.is_empty() {
        s.push_str("\n## Read but not cited\n");
        for r in not_cited {
            match Source::parse(r) {
                Some(src) if !src.is_url() => s.push_str(&format!("- `{}`\n", src.key())),
                _ => s.push_str(&format!("- {r}\n")),
            }
        }
    }

    s.push_str("\n## Gaps filled\n");
    let filled: Vec<_> = v.filled().collect();
    if v.sections.is_empty() {
        if v.passes() {
            s.push_str(&format!("- {}\n", d.part.title));
        } else {
            s.push_str("- none (the file fails the check)\n");
        }
    } else if filled.is_empty() {
        s.push_str("- none: no planned section got content\n");
    }
    for sec in &filled {
        s.push_str(&format!("- {}\n", sec.title));
    }
    let empty: Vec<_> = v.sections.iter().filter(|x| !x.filled).collect();
    if !empty.is_empty() {
        s.push_str("\n## Not filled\n");
        for sec in empty {
            s.push_str(&format!("- {}\n", sec.title));
        }
    }
    if !d.missing.is_empty() {
        s.push_str("\n## Not yet in the knowledge base\n");
        for m in d.missing {
            s.push_str(&format!("- `{m}`\n"));
        }
    }
    s
}

/// The knowledge file a KNOWLEDGE-DROP names: the first backticked `.md` path
/// on a `**…file…**:` line (expand's `Knowledge file`, and the `File Created`,
/// `Target File`, `File` of hand-run drops).
pub fn parse_target(text: &str) -> Option<String> {
    for line in text.lines().take(60) {
        let t = line.trim_start().trim_start_matches(['-', '*', ' ']);
        let Some(colon) = line.find(':') else {
            continue;
        };
        let key = &t[..t.find(':').unwrap_or(0).min(t.len())];
        if !line.contains("**") || !key.to_lowercase().contains("file") || key.len() > 40 {
            continue;
        }
        let rest = &line[colon..];
        let mut parts = rest.split('`');
        parts.next();
        if let Some(p) = parts.next() {
            let p = p.trim();
            if p.ends_with(".md") {
                return Some(p.trim_start_matches("./").to_string());
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn drop_targets_in_both_styles() {
        assert_eq!(
            parse_target("# D\n\n- **Knowledge file**: `a/00-x.md` (3 lines)\n").as_deref(),
            Some("a/00-x.md")
        );
        assert_eq!(
            parse_target("# D\n**Runner**: PART 1\n**File Created**: `hf/00-y.md`\n").as_deref(),
            Some("hf/00-y.md")
        );
        assert_eq!(parse_target("# D\n**Status**: ok\n"), None);
    }
}
