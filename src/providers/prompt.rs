//! The prompt a language-model writer gets for one PART, the checks its answer
//! must pass (planned sections, a Sources section, a citation) and the one
//! repair request sent when a check fails.

use super::{ProviderError, WriteRequest, Writer, Written};

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

fn normalize(title: &str) -> Vec<String> {
    title
        .to_lowercase()
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty() && !w.chars().all(|c| c.is_ascii_digit()))
        .filter(|w| {
            !matches!(
                *w,
                "a" | "an" | "the" | "and" | "of" | "for" | "to" | "in" | "on"
            )
        })
        .map(str::to_string)
        .collect()
}

/// Headings match when their words (numbering and stop words dropped) are
/// equal, one holds the other, or they share most words.
fn heading_matches(planned: &str, heading: &str) -> bool {
    let p = normalize(planned);
    let h = normalize(heading);
    if p.is_empty() || h.is_empty() {
        return planned.trim().eq_ignore_ascii_case(heading.trim());
    }
    if p == h {
        return true;
    }
    let pj = p.join(" ");
    let hj = h.join(" ");
    if pj.contains(&hj) || hj.contains(&pj) {
        return true;
    }
    let common = p.iter().filter(|w| h.contains(w)).count();
    common * 3 >= p.len().max(h.len()) * 2
}

/// Problems with a writer's answer: missing planned sections, no Sources
/// section, no citation. Empty when the answer passes.
pub fn check_output<S: AsRef<str>>(text: &str, sections: &[S]) -> Vec<String> {
    let mut problems = Vec::new();
    let headings: Vec<(usize, &str)> = {
        let mut offset = 0;
        let mut out = Vec::new();
        let mut in_fence = false;
        for line in text.split_inclusive('\n') {
            let t = line.trim();
            if t.starts_with("```") || t.starts_with("~~~") {
                in_fence = !in_fence;
            } else if !in_fence && t.starts_with('#') {
                let title = t.trim_start_matches('#').trim();
                if !title.is_empty()
                    && t[t.len() - t.trim_start_matches('#').len()..].starts_with(' ')
                {
                    out.push((offset, title));
                }
            }
            offset += line.len();
        }
        out
    };
    if text.trim().is_empty() {
        return vec!["the answer is empty".to_string()];
    }
    for s in sections {
        let s = s.as_ref();
        if !headings.iter().any(|(_, h)| heading_matches(s, h)) {
            problems.push(format!("missing planned section `{s}`"));
        }
    }
    let sources_at = headings.iter().find(|(_, h)| {
        let l = h.to_lowercase();
        l.starts_with("sources") || l.starts_with("references") || l == "bibliography"
    });
    let body = match sources_at {
        Some((at, _)) => &text[..*at],
        None => {
            problems.push("no `## Sources` section".to_string());
            text
        }
    };
    if !has_citation(body) {
        problems.push(
            "no inline citation (a link to a source or a knowledge file path) in the text"
                .to_string(),
        );
    }
    problems
}

fn has_citation(body: &str) -> bool {
    if body.contains("](http") || body.contains("http://") || body.contains("https://") {
        return true;
    }
    // A knowledge path such as `rust-cli/00-x.md` or a `[1]`-style reference.
    if body.split_whitespace().any(|w| {
        let w = w.trim_matches(|c: char| !c.is_alphanumeric() && c != '.' && c != '/' && c != '-');
        w.contains('/') && w.ends_with(".md") || w.ends_with(".md") && w.len() > 3
    }) {
        return true;
    }
    let b = body.as_bytes();
    b.windows(3).enumerate().any(|(i, w)| {
        w[0] == b'['
            && w[1].is_ascii_digit()
            && b[i + 1..].iter().take_while(|c| c.is_ascii_digit()).count() <= 3
            && b.get(i + 1 + b[i + 1..].iter().take_while(|c| c.is_ascii_digit()).count())
                == Some(&b']')
    })
}

/// The follow-up sent once when `check_output` finds problems.
pub fn repair_prompt(problems: &[String]) -> String {
    let mut s = String::from("Your answer above has these problems:\n\n");
    for p in problems {
        s.push_str(&format!("- {p}\n"));
    }
    s.push_str(
        "\nRewrite the whole file so that every planned section has its `## ` heading, \
         claims are cited inline, and a `## Sources` section lists the URLs and knowledge files used. \
         Answer with the corrected file content only.\n",
    );
    s
}

/// Write, check, and when the check fails ask once for a repair. Returns the
/// better answer (usage summed over both calls) and the problems left in it.
pub async fn write_checked(
    writer: &dyn Writer,
    req: &WriteRequest,
) -> Result<(Written, Vec<String>), ProviderError> {
    let titles: Vec<&str> = req.sections.iter().map(|s| s.title.as_str()).collect();
    let first = writer.write(req).await?;
    let problems = check_output(&first.text, &titles);
    if problems.is_empty() {
        return Ok((first, problems));
    }
    let mut repair = req.clone();
    repair.prompt = format!(
        "{}\n\n---\n\nYour previous answer:\n\n{}\n\n---\n\n{}",
        req.prompt,
        first.text,
        repair_prompt(&problems)
    );
    let second = writer.write(&repair).await?;
    let usage = first.usage.plus(&second.usage);
    let left = check_output(&second.text, &titles);
    let (text, left) = if left.len() <= problems.len() {
        (second.text, left)
    } else {
        (first.text, problems)
    };
    Ok((
        Written {
            text,
            usage,
            model: second.model,
        },
        left,
    ))
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
    fn check_output_finds_problems() {
        let good = "# T\n\n## 1. Clap Derive\n\nUse derive [docs](https://docs.rs/clap).\n\n## Sources\n\n- https://docs.rs/clap\n";
        assert!(check_output(good, &["Clap derive"]).is_empty());
        let bad = "# T\n\n## Other\n\nNo cites here.\n";
        let p = check_output(bad, &["Clap derive"]);
        assert_eq!(p.len(), 3, "{p:?}");
        assert!(p[0].contains("Clap derive"));
        let kcite = "## Clap derive\n\nSee rust-cli/00-x.md lines 3-5.\n\n## References\n- x\n";
        assert!(check_output(kcite, &["clap derive"]).is_empty());
        let numbered = "## Clap derive\n\nDerive is simpler [1].\n\n## Sources\n[1] https://a\n";
        assert!(check_output(numbered, &["Clap derive"]).is_empty());
        assert!(!repair_prompt(&p).is_empty());
    }

    #[test]
    fn fuzzy_headings() {
        assert!(heading_matches(
            "Error handling",
            "3. Error Handling in Practice"
        ));
        assert!(heading_matches("The clap derive API", "Clap derive API"));
        assert!(!heading_matches("Error handling", "Testing"));
    }
}
