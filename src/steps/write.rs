//! Step 3 of a runner, write: build the writer's request from the PART text
//! verbatim, its section briefs, expected length and the evidence (within the
//! prompt budget), call the writer, check the result and ask once for a repair.

use crate::plan::{Part, Plan};
use crate::providers::{Evidence, ProviderError, SectionBrief, WriteRequest, Writer, Written};

/// Assemble the request; `budget_tokens` bounds the prompt (4 chars ≈ 1 token).
pub fn request(
    plan: &Plan,
    part: &Part,
    evidence: Vec<Evidence>,
    budget_tokens: u64,
) -> WriteRequest {
    let part_text = plan
        .text
        .get(part.span.clone())
        .unwrap_or("")
        .trim()
        .to_string();
    let sections: Vec<SectionBrief> = part
        .sections()
        .map(|s| SectionBrief {
            title: s.title.clone(),
            expected_lines: s.expected_lines,
            brief: s.brief.clone(),
        })
        .collect();
    let mut req = WriteRequest {
        plan_title: plan.title.clone(),
        part: part.number,
        title: part.title.clone(),
        target: part.target.clone().unwrap_or_default(),
        part_text,
        sections,
        expected_lines: part.expected_lines,
        evidence,
        prompt: String::new(),
    };
    req.prompt = prompt(&req, budget_tokens);
    req
}

/// The prompt for language-model writers. Evidence is cut to what fits the budget.
pub fn prompt(req: &WriteRequest, budget_tokens: u64) -> String {
    let mut p = String::new();
    p.push_str(&format!(
        "You are writing one file of a markdown knowledge base.\n\nPlan: {}\nPART {}: {}\nFile: {}\n",
        req.plan_title, req.part, req.title, req.target
    ));
    if let Some(n) = req.expected_lines {
        p.push_str(&format!("Length: about {n} lines.\n"));
    }
    p.push_str("\nThe PART as written in the plan:\n\n");
    p.push_str(&req.part_text);
    p.push_str("\n\n");
    if !req.sections.is_empty() {
        p.push_str("Sections to write, each as a `## ` heading with this title:\n");
        for s in &req.sections {
            let len = s
                .expected_lines
                .map(|n| format!(" (~{n} lines)"))
                .unwrap_or_default();
            p.push_str(&format!("- {}{len}\n", s.title));
            for b in &s.brief {
                p.push_str(&format!("  - {b}\n"));
            }
        }
        p.push('\n');
    }
    p.push_str(
        "Rules: write markdown starting with `# <title>`; cite the evidence inline (knowledge files by path, web pages by URL); \
end with a `## Sources` section listing every URL and knowledge file used; do not invent sources; output only the file.\n\nEvidence:\n",
    );
    let budget_chars = (budget_tokens as usize).saturating_mul(4);
    for e in &req.evidence {
        let head = match e.lines {
            Some((a, b)) => format!("\n--- {} (lines {a}-{b})\n", e.source),
            None => format!("\n--- {}\n", e.source),
        };
        if p.len() + head.len() + 64 > budget_chars {
            break;
        }
        p.push_str(&head);
        let room = budget_chars.saturating_sub(p.len());
        if e.text.len() <= room {
            p.push_str(&e.text);
        } else {
            let mut cut = room;
            while cut > 0 && !e.text.is_char_boundary(cut) {
                cut -= 1;
            }
            p.push_str(&e.text[..cut]);
            p.push_str("\n[evidence cut to fit the prompt budget]\n");
            break;
        }
    }
    p
}

/// What is wrong with a written file: missing planned sections, no sources, no citation.
pub fn check(text: &str, req: &WriteRequest) -> Vec<String> {
    let mut problems = Vec::new();
    if text.trim().is_empty() {
        return vec!["the writer returned an empty file".into()];
    }
    let headings: Vec<String> = text
        .lines()
        .filter(|l| l.starts_with('#'))
        .map(|l| normalize(l.trim_start_matches('#')))
        .collect();
    for s in &req.sections {
        let want = normalize(&s.title);
        if !headings.iter().any(|h| similar(h, &want)) {
            problems.push(format!("planned section `{}` has no heading", s.title));
        }
    }
    let has_sources = text
        .lines()
        .any(|l| l.starts_with('#') && normalize(l.trim_start_matches('#')).contains("sources"));
    if !has_sources {
        problems.push("no `## Sources` section".into());
    }
    let cites = text.matches("http://").count()
        + text.matches("https://").count()
        + text.matches(".md").count();
    if cites == 0 {
        problems.push("no citation (no URL and no knowledge file named)".into());
    }
    problems
}

fn normalize(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                ' '
            }
        })
        .collect::<String>()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

/// Fuzzy heading match: one contains the other, or most of the wanted words appear.
fn similar(have: &str, want: &str) -> bool {
    if have.contains(want) || (!have.is_empty() && want.contains(have)) {
        return true;
    }
    let words: Vec<&str> = want.split(' ').filter(|w| w.len() > 2).collect();
    if words.is_empty() {
        return false;
    }
    let hit = words.iter().filter(|w| have.contains(*w)).count();
    hit * 3 >= words.len() * 2
}

/// Call the writer; when the result fails a check, ask once for a repair.
pub async fn run(
    writer: &dyn Writer,
    req: &WriteRequest,
) -> Result<(Written, Vec<String>), ProviderError> {
    let first = writer.write(req).await?;
    let problems = check(&first.text, req);
    if problems.is_empty() {
        return Ok((first, problems));
    }
    let mut again = req.clone();
    again.prompt = format!(
        "{}\n\nYour previous answer had these problems:\n{}\nWrite the whole file again, fixing them. Previous answer:\n\n{}",
        req.prompt,
        problems.iter().map(|p| format!("- {p}\n")).collect::<String>(),
        first.text
    );
    let second = writer.write(&again).await?;
    let mut usage = first.usage.clone();
    usage.input_tokens += second.usage.input_tokens;
    usage.output_tokens += second.usage.output_tokens;
    let left = check(&second.text, req);
    Ok((
        Written {
            text: second.text,
            usage,
            model: second.model,
        },
        left,
    ))
}
