//! The prompt a language-model writer gets for one PART, and the one repair
//! request sent when its answer fails the quality check (`crate::quality`).

use super::{Evidence, WriteRequest};

/// Tokens are estimated as characters / 4: close enough for budgeting.
pub fn estimate_tokens(text: &str) -> u64 {
    (text.chars().count() as u64).div_ceil(4)
}

/// Build the prompt: instructions, the PART text verbatim, the section briefs,
/// the expected length, then as much evidence as fits in `budget_tokens`
/// (tokens as `count` counts them).
pub fn build_prompt(req: &WriteRequest, budget_tokens: u64, count: &dyn Fn(&str) -> u64) -> String {
    let mut head = intro(req);
    head.push_str("## Instructions\n\n");
    head.push_str(
        "- Answer with the file's content only: markdown, no preamble, no code fence around the whole answer.\n\
         - Start with a `# ` title, then one `## ` heading per planned section below, using the planned titles.\n\
         - Cite inline: a markdown link to the URL, or the knowledge file path with its lines, right after the claim it supports.\n\
         - End with a `## Sources` section listing every URL and knowledge file you used.\n\
         - Use the evidence below; do not invent sources.\n\n",
    );
    outline(req, &mut head, "Planned sections", "Expected length");
    let used = count(&head);
    head.push_str(&evidence_block(
        &req.evidence,
        budget_tokens.saturating_sub(used),
        count,
    ));
    head
}

/// The first lines of every prompt for a PART: which plan, PART and file.
fn intro(req: &WriteRequest) -> String {
    format!(
        "You are writing one knowledge file for the plan \"{}\": PART {} — {}.\nTarget file: `{}`\n\n",
        req.plan_title, req.part, req.title, req.target
    )
}

/// The PART text verbatim, the planned sections with their briefs and the
/// expected length.
fn outline(req: &WriteRequest, head: &mut String, sections: &str, length: &str) {
    head.push_str("## PART text (verbatim from the plan)\n\n");
    head.push_str(req.part_text.trim_end());
    head.push_str("\n\n");
    if !req.sections.is_empty() {
        head.push_str(&format!("## {sections}\n\n"));
        for s in &req.sections {
            head.push_str(&format!("- {}", s.title));
            if let Some(n) = s.expected_lines {
                head.push_str(&format!(" (~{n} lines)"));
            }
            head.push('\n');
            for b in &s.brief {
                head.push_str(&format!("  - {b}\n"));
            }
        }
        head.push('\n');
    }
    if let Some(n) = req.expected_lines {
        head.push_str(&format!("{length}: about {n} lines.\n\n"));
    }
    if !req.must_cite.is_empty() {
        let files: Vec<String> = req.must_cite.iter().map(|f| format!("`{f}`")).collect();
        head.push_str(&format!(
            "The plan asks you to cite these knowledge files, each at least once, with its lines: {}.\n\n",
            files.join(", ")
        ));
    }
}

/// The start of every section request of a PART, word for word the same in
/// each (so a provider's prompt cache holds it once): instructions for
/// writing one section, the PART text and the whole outline.
pub fn section_prefix(req: &WriteRequest) -> String {
    let mut head = intro(req);
    head.push_str("## Instructions\n\n");
    head.push_str(
        "The file is written one planned section at a time: each request asks for one section, \
         and the sections are joined in plan order under one `# ` title with one merged Sources list.\n\n\
         - Answer with the content of the one section named at the end only: markdown, no preamble, \
         no code fence around the whole answer, no `# ` title.\n\
         - Start with the section's `## ` heading, using its planned title; use `###` for subsections.\n\
         - Write about as many lines as the section is planned to have.\n\
         - Cite inline: a markdown link to the URL, or the knowledge file path with its lines, right after \
         the claim it supports. No numbered references like [1]: the sections are joined.\n\
         - End with a `## Sources` list of the URLs and knowledge files this section used.\n\
         - Use the evidence given for the section; do not invent sources.\n\n",
    );
    outline(
        req,
        &mut head,
        "Planned sections of the whole file",
        "Expected length of the whole file",
    );
    head
}

/// What follows the prefix in section `i`'s request: which section, its
/// brief, and the evidence chosen for it, within `budget_tokens`.
pub fn section_request(
    req: &WriteRequest,
    i: usize,
    evidence: &[Evidence],
    budget_tokens: u64,
    count: &dyn Fn(&str) -> u64,
) -> String {
    let s = &req.sections[i];
    let mut own = format!(
        "## Your section: {} of {} — {}\n\nWrite only the section `## {}`",
        i + 1,
        req.sections.len(),
        s.title,
        s.title
    );
    match s.expected_lines {
        Some(n) => own.push_str(&format!(", about {n} lines.\n")),
        None => own.push_str(".\n"),
    }
    for b in &s.brief {
        own.push_str(&format!("- {b}\n"));
    }
    own.push('\n');
    let used = count(&own);
    own.push_str(&evidence_block(
        evidence,
        budget_tokens.saturating_sub(used),
        count,
    ));
    own
}

/// The evidence passages, labelled with their source (and lines), as many
/// as fit in `budget_tokens`; the one that does not fit is cut at a line.
fn evidence_block(
    evidence: &[Evidence],
    budget_tokens: u64,
    count: &dyn Fn(&str) -> u64,
) -> String {
    if evidence.is_empty() {
        return String::new();
    }
    let mut out = String::from("## Evidence\n\n");
    let mut used = count(&out);
    let mut left_out = 0usize;
    for (i, ev) in evidence.iter().enumerate() {
        let mut label = format!("### [{}] {}", i + 1, ev.source);
        if let Some((a, b)) = ev.lines {
            label.push_str(&format!(" (lines {a}-{b})"));
        }
        if let Some(t) = &ev.title {
            label.push_str(&format!(" — {t}"));
        }
        label.push_str("\n\n");
        let room = budget_tokens.saturating_sub(used + count(&label) + 8);
        if left_out > 0 || room < 32 {
            left_out += 1;
            continue;
        }
        let need = count(&ev.text);
        let text = if need <= room {
            ev.text.trim_end().to_string()
        } else {
            // Cut at a line boundary, keeping the start (usually the most
            // relevant part); characters scale with the tokens left.
            let chars = ev.text.chars().count() as u64;
            let max_chars = (chars * room / need.max(1)) as usize;
            let mut cut: String = ev.text.chars().take(max_chars).collect();
            if let Some(p) = cut.rfind('\n') {
                if p > cut.len() / 2 {
                    cut.truncate(p);
                }
            }
            format!("{}\n[… excerpt cut for length]", cut.trim_end())
        };
        let piece = format!("{label}{text}\n\n");
        used += count(&piece);
        out.push_str(&piece);
    }
    if left_out > 0 {
        out.push_str(&format!(
            "({left_out} more evidence passages were left out to fit the token budget.)\n"
        ));
    }
    out
}

/// What a writer asks after an answer that stopped on its token limit,
/// with that answer sent back as its own turn.
pub const CONTINUE: &str =
    "Your answer above was cut off by the length limit. Continue it exactly where it \
stopped, from the next character: repeat nothing already written, add no preamble or comment, \
keep the same format, and finish the file (its remaining sections and the `## Sources` section).";

/// The follow-up sent once when the quality check (`crate::quality`) finds
/// problems with an answer.
pub fn repair_prompt(problems: &[String]) -> String {
    let mut s = String::from("Your answer above has these problems:\n\n");
    for p in problems {
        s.push_str(&format!("- {p}\n"));
    }
    s.push_str(
        "\nRewrite the whole file so that every planned section has its `## ` heading and content, \
         claims are cited inline, every citation names a source from the evidence (a URL it gives, \
         or a knowledge file with lines that exist), and a `## Sources` section lists the URLs and \
         knowledge files used. Answer with the corrected file content only.\n",
    );
    s
}

/// The follow-up sent once for a section of a file written by section,
/// when the file fails the check and these problems are that section's.
pub fn repair_section_prompt(problems: &[String]) -> String {
    let mut s = String::from("The section above has these problems:\n\n");
    for p in problems {
        s.push_str(&format!("- {p}\n"));
    }
    s.push_str(
        "\nRewrite the section so that it starts with its planned `## ` heading and has content, \
         claims are cited inline, every citation names a source from the evidence given (a URL it \
         gives, or a knowledge file with lines that exist), quotes are word for word from their \
         source, and a `## Sources` list ends it. Answer with the corrected section only.\n",
    );
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::providers::{Evidence, SectionBrief};

    fn req(evidence: Vec<Evidence>) -> WriteRequest {
        WriteRequest {
            plan_title: "Rust CLIs".into(),
            part: 3,
            title: "Argument parsing".into(),
            target: "rust-cli/03-args.md".into(),
            part_text: "### PART 3: Argument parsing\n- [ ] Read `rust-cli/00-x.md`\n".into(),
            sections: vec![SectionBrief {
                title: "Clap derive".into(),
                expected_lines: Some(40),
                brief: vec!["derive vs builder".into()],
            }],
            expected_lines: Some(200),
            evidence,
            prompt: String::new(),
            shared_prefix: 0,
            so_far: None,
            must_cite: Vec::new(),
        }
    }

    #[test]
    fn prompt_has_part_text_briefs_and_trims_evidence() {
        let ev: Vec<Evidence> = (0..20)
            .map(|i| Evidence {
                source: format!("https://example.com/{i}"),
                lines: None,
                title: Some(format!("page {i}")),
                text: "word ".repeat(400),
            })
            .collect();
        let p = build_prompt(&req(ev), 2_000, &estimate_tokens);
        assert!(p.contains("### PART 3: Argument parsing\n- [ ] Read `rust-cli/00-x.md`"));
        assert!(p.contains("- Clap derive (~40 lines)") && p.contains("derive vs builder"));
        assert!(p.contains("about 200 lines") && p.contains("## Sources"));
        assert!(p.contains("https://example.com/0"));
        assert!(!p.contains("https://example.com/19"));
        assert!(p.contains("left out to fit the token budget"));
        assert!(estimate_tokens(&p) <= 2_000 + 50, "{}", estimate_tokens(&p));
    }

    #[test]
    fn prompt_labels_knowledge_lines() {
        let p = build_prompt(
            &req(vec![Evidence {
                source: "rust-cli/00-x.md".into(),
                lines: Some((4, 9)),
                title: None,
                text: "clap is a parser".into(),
            }]),
            10_000,
            &estimate_tokens,
        );
        assert!(p.contains("[1] rust-cli/00-x.md (lines 4-9)"), "{p}");
    }

    #[test]
    fn repair_prompt_lists_the_problems() {
        let p = repair_prompt(&["missing planned section `A`".to_string()]);
        assert!(p.contains("- missing planned section `A`"), "{p}");
    }
}
