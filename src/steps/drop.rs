//! Step 4 of a runner, drop: the KNOWLEDGE-DROP report of one PART, written to
//! `drops/<plan-slug>/KNOWLEDGE-DROP-<topic>-<YYYY-MM-DD-HHMM>.md`.

use crate::plan::{ItemKind, Part};

pub struct DropInfo<'a> {
    pub plan_title: &'a str,
    pub plan_path: &'a str,
    pub part: &'a Part,
    pub stamp: &'a str,
    pub target: &'a str,
    pub lines: usize,
    pub provider: &'a str,
    pub model: &'a str,
    pub input_tokens: u64,
    pub output_tokens: u64,
    pub cost: Option<f64>,
    pub duration_s: f64,
    pub knowledge_files: &'a [String],
    pub urls: &'a [String],
    pub missing: &'a [String],
}

/// `KNOWLEDGE-DROP-<topic>-<date>-<hhmm>.md`: the topic from the plan's own
/// drop name (placeholders and dates dropped), else from the target's name.
pub fn file_name(part: &Part, date: &str, hhmm: &str) -> String {
    let from_plan = part.items().find_map(|i| match &i.kind {
        ItemKind::CreateDrop { name } => Some(name.clone()),
        _ => None,
    });
    let raw = match from_plan {
        Some(n) => n
            .trim_start_matches("KNOWLEDGE-DROP-")
            .trim_end_matches(".md")
            .to_string(),
        None => part
            .target
            .as_deref()
            .and_then(|t| t.rsplit('/').next())
            .unwrap_or("part")
            .trim_end_matches(".md")
            .to_string(),
    };
    // Drop "[TIME]"-style placeholders, dates and digit-only pieces.
    let mut words: Vec<String> = Vec::new();
    for w in raw.split(['-', '_', ' ']) {
        let w = w.trim();
        if w.is_empty() || w.starts_with('[') || w.bytes().all(|b| b.is_ascii_digit()) {
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
    words.truncate(8);
    format!("KNOWLEDGE-DROP-{}-{date}-{hhmm}.md", words.join("-"))
}

pub fn render(d: &DropInfo) -> String {
    let mut s = String::new();
    s.push_str(&format!("# KNOWLEDGE DROP: {}\n\n", d.part.title));
    s.push_str(&format!("- **Runner**: PART {}\n", d.part.number));
    s.push_str(&format!(
        "- **Plan**: {} (`{}`)\n",
        d.plan_title, d.plan_path
    ));
    s.push_str(&format!("- **Timestamp**: {}\n", d.stamp));
    s.push_str("- **Status**: ✓ COMPLETE\n");
    s.push_str(&format!(
        "- **Knowledge file**: `{}` ({} lines)\n",
        d.target, d.lines
    ));
    s.push_str(&format!(
        "- **Provider**: {} (model: {})\n",
        d.provider, d.model
    ));
    s.push_str(&format!(
        "- **Tokens**: {} in / {} out\n",
        d.input_tokens, d.output_tokens
    ));
    if let Some(c) = d.cost {
        s.push_str(&format!("- **Cost**: ${c:.4}\n"));
    }
    s.push_str(&format!("- **Duration**: {:.1} s\n", d.duration_s));
    s.push_str("\n## Sources used\n");
    if d.knowledge_files.is_empty() && d.urls.is_empty() {
        s.push_str("- none\n");
    }
    for f in d.knowledge_files {
        s.push_str(&format!("- `{f}` (knowledge)\n"));
    }
    for u in d.urls {
        s.push_str(&format!("- {u}\n"));
    }
    s.push_str("\n## Gaps filled\n");
    let sections: Vec<_> = d.part.sections().collect();
    if sections.is_empty() {
        s.push_str(&format!("- {}\n", d.part.title));
    }
    for sec in sections {
        s.push_str(&format!("- {}\n", sec.title));
    }
    if !d.missing.is_empty() {
        s.push_str("\n## Not yet in the knowledge base\n");
        for m in d.missing {
            s.push_str(&format!("- `{m}`\n"));
        }
    }
    s
}
