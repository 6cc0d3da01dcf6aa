//! The prompt a language-model writer gets for one PART, and the one repair
//! request sent when its answer fails the quality check (`crate::quality`).

use super::WriteRequest;

/// Tokens are estimated as characters / 4: close enough for budgeting.
pub fn estimate_tokens(text: &str) -> u64 {
    (text.chars().count() as u64).div_ceil(4)
}

/// Build the prompt: instructions, the PART text verbatim, the section briefs,
/// the expected length, then as much evidence as fits in `budget_tokens`.
pub fn build_prompt(req: &WriteRequest, budget_tokens: u64) -> String {
    let mut head = String::new();
    head.push_str(&format!(
        "You are writing one knowledge file for the plan \"{}\": PART {} — {}.\n",
        req.plan_title, req.part, req.title
    ));
    head.push_str(&format!("Target file: `{}`\n\n", req.target));
    head.push_str("## Instructions\n\n");
    head.push_str(
        "- Answer with the file's content only: markdown, no preamble, no code fence around the whole answer.\n\
         - Start with a `# ` title, then one `## ` heading per planned section below, using the planned titles.\n\
         - Cite inline: a markdown link to the URL, or the knowledge file path with its lines, right after the claim it supports.\n\
         - End with a `## Sources` section listing every URL and knowledge file you used.\n\
         - Use the evidence below; do not invent sources.\n\n",
    );
    head.push_str("## PART text (verbatim from the plan)\n\n");
    head.push_str(req.part_text.trim_end());
    head.push_str("\n\n");
    if !req.sections.is_empty() {
        head.push_str("## Planned sections\n\n");
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
        head.push_str(&format!("Expected length: about {n} lines.\n\n"));
    }
    if req.evidence.is_empty() {
        return head;
    }
    head.push_str("## Evidence\n\n");
    let mut used = estimate_tokens(&head);
    let mut left_out = 0usize;
    for (i, ev) in req.evidence.iter().enumerate() {
        let mut label = format!("### [{}] {}", i + 1, ev.source);
        if let Some((a, b)) = ev.lines {
            label.push_str(&format!(" (lines {a}-{b})"));
        }
        if let Some(t) = &ev.title {
            label.push_str(&format!(" — {t}"));
        }
        label.push_str("\n\n");
        let room = budget_tokens.saturating_sub(used + estimate_tokens(&label) + 8);
        let need = estimate_tokens(&ev.text);
        if left_out > 0 || room < 32 {
            left_out += 1;
            continue;
        }
        let text = if need <= room {
            ev.text.trim_end().to_string()
        } else {
            // Cut at a line boundary, keeping the start (usually the most relevant part).
            let max_chars = (room * 4) as usize;
            let mut cut: String = ev.text.chars().take(max_chars).collect();
            if let Some(p) = cut.rfind('\n') {
                if p > cut.len() / 2 {
                    cut.truncate(p);
                }
            }
            format!("{}\n[… excerpt cut for length]", cut.trim_end())
        };
        head.push_str(&label);
        head.push_str(&text);
        head.push_str("\n\n");
        used = estimate_tokens(&head);
    }
    if left_out > 0 {
        head.push_str(&format!(
            "({left_out} more evidence passages were left out to fit the token budget.)\n"
        ));
    }
    head
}

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
        let p = build_prompt(&req(ev), 2_000);
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
        );
        assert!(p.contains("[1] rust-cli/00-x.md (lines 4-9)"), "{p}");
    }

    #[test]
    fn repair_prompt_lists_the_problems() {
        let p = repair_prompt(&["missing planned section `A`".to_string()]);
        assert!(p.contains("- missing planned section `A`"), "{p}");
    }
}
