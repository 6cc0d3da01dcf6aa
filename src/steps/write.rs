//! Step 3 of a runner, write: build the writer's request from the PART text
//! verbatim, its section briefs, expected length and the evidence (within the
//! prompt budget), call the writer, check the result and ask once for a repair.
//! The prompt text and the checks live in `providers::prompt`, shared by all writers.

use crate::plan::{Part, Plan};
use crate::providers::{
    prompt, Evidence, ProviderError, SectionBrief, WriteRequest, Writer, Written,
};

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

/// Call the writer; when the result fails a check, ask once for a repair.
pub async fn run(
    writer: &dyn Writer,
    req: &WriteRequest,
) -> Result<(Written, Vec<String>), ProviderError> {
    prompt::write_checked(writer, req).await
}
