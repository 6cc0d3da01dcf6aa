//! Step 3 of a runner, write: build the writer's request from the PART text
//! verbatim, its section briefs, expected length and the evidence (within the
//! prompt budget), call the writer, judge the answer with the quality check
//! (`crate::quality`) and, when it fails, ask once for a repair naming every
//! problem. The prompt text lives in `providers::prompt`.

use crate::plan::{Part, Plan};
use crate::providers::{
    prompt, Evidence, ProviderError, SectionBrief, WriteRequest, Writer, Written,
};
use crate::quality::Verdict;

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
            title: s.title.to_string(),
            expected_lines: s.expected_lines,
            brief: s.brief.iter().map(|b| b.to_string()).collect(),
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
    req.prompt = prompt::build_prompt(&req, budget_tokens);
    req
}

/// The answer kept and what the check says of it.
pub struct Checked {
    pub written: Written,
    pub verdict: Verdict,
    /// A repair was asked for (the first answer failed the check).
    pub repaired: bool,
}

/// Call the writer and `judge` the answer; when it fails, ask once for a
/// repair. Keeps the answer with fewer failures (the first on a tie), with
/// the usage of both calls.
pub async fn run(
    writer: &dyn Writer,
    req: &WriteRequest,
    judge: impl Fn(&str) -> Verdict,
) -> Result<Checked, ProviderError> {
    let first = writer.write(req).await?;
    let verdict = judge(&first.text);
    if verdict.passes() {
        return Ok(Checked {
            written: first,
            verdict,
            repaired: false,
        });
    }
    let mut repair = req.clone();
    repair.prompt = format!(
        "{}\n\n---\n\nYour previous answer:\n\n{}\n\n---\n\n{}",
        req.prompt,
        first.text,
        prompt::repair_prompt(&verdict.failures())
    );
    let second = writer.write(&repair).await?;
    let usage = first.usage.plus(&second.usage);
    let again = judge(&second.text);
    let (text, verdict, model) = if again.failures().len() <= verdict.failures().len() {
        (second.text, again, second.model)
    } else {
        (first.text, verdict, first.model)
    };
    Ok(Checked {
        written: Written { text, usage, model },
        verdict,
        repaired: true,
    })
}
