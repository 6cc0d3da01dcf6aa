//! Step 3 of a runner, write: build the writer's request from the PART text
//! verbatim, its section briefs, expected length and the evidence (within the
//! prompt budget), call the writer, judge the answer with the quality check
//! (`crate::quality`) and, when it fails, ask once for a repair naming every
//! problem. The prompt text lives in `providers::prompt`.
//!
//! Long files: an answer that stopped on the writer's token limit is never
//! taken as it is. It is continued (the model is asked to go on from its
//! last word, and the parts are stitched) a bounded number of times, and a
//! file still cut off after that fails the PART. When the planned length
//! cannot fit in one answer (`writer.mode: auto`), or when asked
//! (`sections`), each planned section is its own request, with its own
//! brief and the evidence most relevant to it; the sections are joined in
//! plan order under one title with one merged Sources list, and the file
//! they make is judged as any other. A command writer (which cannot say
//! where it stopped) always writes the whole file.

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};

use tokio::sync::Semaphore;

use crate::knowledge::bm25::{self, Bm25};
use crate::markdown::Doc;
use crate::plan::{Part, Plan};
use crate::providers::{
    prompt, Evidence, Finish, ProviderError, SectionBrief, Usage, WriteRequest, Writer, Written,
};
use crate::quality::{self, Level, Verdict};

/// Tokens a line of a knowledge file takes, on average (blank lines
/// included): what `auto` measures a planned length in.
const TOKENS_PER_LINE: u64 = 12;
/// A section's request gets at least this much evidence (when the budget
/// has it), however many sections share the budget.
const MIN_SECTION_EVIDENCE: u64 = 3_000;

/// How a PART's file is written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// By section when the planned length cannot fit in one answer.
    Auto,
    Whole,
    Sections,
}

impl Mode {
    pub fn parse(s: &str) -> Mode {
        match s {
            "whole" => Mode::Whole,
            "sections" => Mode::Sections,
            _ => Mode::Auto,
        }
    }
}

/// The write step's knobs (`writer.*`, `budget.prompt_tokens`).
#[derive(Clone, Debug)]
pub struct Options {
    pub mode: Mode,
    /// Section requests of one PART in flight at once.
    pub parallel_sections: usize,
    /// Times one answer that stopped on the token limit is continued.
    pub continuations: u32,
    /// Tokens one prompt may hold.
    pub budget_tokens: u64,
    /// Writer requests in flight across every runner (`writer.max_in_flight`).
    pub in_flight: Arc<Semaphore>,
}

impl Options {
    pub fn from_config(cfg: &crate::config::Config) -> Options {
        Options {
            mode: Mode::parse(&cfg.writer.mode),
            parallel_sections: cfg.writer.parallel_sections.max(1),
            continuations: cfg.writer.continuations,
            budget_tokens: cfg.budget.prompt_tokens,
            in_flight: Arc::new(Semaphore::new(cfg.writer.max_in_flight.max(1))),
        }
    }
}

impl Default for Options {
    fn default() -> Options {
        Options::from_config(&crate::config::Config::default())
    }
}

/// How the file was written, for the drop.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    /// Written section by section (else in one answer).
    pub sections: bool,
    /// Requests sent, continuations and repairs included.
    pub requests: u32,
    /// Answers that stopped on the token limit and were continued.
    pub continued: u32,
    /// A prompt was longer than the model's context: its evidence was cut
    /// by half and the request sent again.
    pub shrunk: bool,
}

/// Assemble the request; `budget_tokens` bounds the prompt, in tokens as
/// `count` counts them (the writer's `count_tokens`).
pub fn request(
    plan: &Plan,
    part: &Part,
    evidence: Vec<Evidence>,
    must_cite: Vec<String>,
    budget_tokens: u64,
    count: &dyn Fn(&str) -> u64,
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
        shared_prefix: 0,
        so_far: None,
        must_cite,
    };
    req.prompt = prompt::build_prompt(&req, budget_tokens, count);
    req
}

/// The answer kept and what the check says of it.
pub struct Checked {
    pub written: Written,
    pub verdict: Verdict,
    /// A repair was asked for (the first answer failed the check).
    pub repaired: bool,
    pub stats: Stats,
}

/// Whether `req` is written section by section by `writer` in `mode`.
pub fn by_sections(writer: &dyn Writer, req: &WriteRequest, mode: Mode) -> bool {
    let Some(limit) = writer.output_limit() else {
        return false;
    };
    if req.sections.len() < 2 {
        return false;
    }
    match mode {
        Mode::Whole => false,
        Mode::Sections => true,
        // Three quarters: an answer runs longer than planned as often as not.
        Mode::Auto => req
            .expected_lines
            .is_some_and(|n| u64::from(n) * TOKENS_PER_LINE > u64::from(limit) * 3 / 4),
    }
}

/// Call the writer and `judge` the answer; when it fails, ask once for a
/// repair. Keeps the answer with fewer failures (the first on a tie), with
/// the usage of every call.
pub async fn run(
    writer: &dyn Writer,
    req: &WriteRequest,
    judge: impl Fn(&str) -> Verdict + Sync,
    opts: &Options,
) -> Result<Checked, ProviderError> {
    let w = Calls {
        writer,
        opts,
        stats: Mutex::new(Stats::default()),
    };
    if by_sections(writer, req, opts.mode) {
        w.stats.lock().expect("stats lock").sections = true;
        return w.sections(req, &judge).await;
    }
    w.whole(req, &judge).await
}

/// The requests of one PART's write, and what they did.
struct Calls<'a> {
    writer: &'a dyn Writer,
    opts: &'a Options,
    stats: Mutex<Stats>,
}

type Shrink<'a> = &'a (dyn Fn() -> (String, usize) + Send + Sync);

impl Calls<'_> {
    fn count(&self, text: &str) -> u64 {
        self.writer.count_tokens(text)
    }

    /// One request, within the cap on requests in flight across runners.
    async fn ask(&self, req: &WriteRequest) -> Result<Written, ProviderError> {
        let _permit = self
            .opts
            .in_flight
            .acquire()
            .await
            .expect("the semaphore is never closed");
        self.stats.lock().expect("stats lock").requests += 1;
        self.writer.write(req).await
    }

    /// One answer to `req`, continued while it stops on the token limit.
    /// A prompt too long for the model is replaced once by `shrink` (the
    /// same prompt with half the evidence) and sent again; `req` is left
    /// holding the prompt that was answered.
    async fn complete(
        &self,
        req: &mut WriteRequest,
        shrink: Option<Shrink<'_>>,
    ) -> Result<Written, ProviderError> {
        let mut shrunk = false;
        let mut out: Option<Written> = None;
        let mut continued = 0;
        let result = loop {
            let w = match self.ask(req).await {
                Err(e) if e.context_overflow() && !shrunk && shrink.is_some() => {
                    tracing::warn!(
                        "PART {}: the prompt is longer than the model's context; sending it again with half the evidence",
                        req.part
                    );
                    shrunk = true;
                    self.stats.lock().expect("stats lock").shrunk = true;
                    let (prompt, shared) = (shrink.expect("checked"))();
                    req.prompt = prompt;
                    req.shared_prefix = shared;
                    continue;
                }
                Err(e) => break Err(e),
                Ok(w) => w,
            };
            let cur = match out.take() {
                None => w,
                Some(prev) => Written {
                    text: stitch(&prev.text, &w.text),
                    usage: prev.usage.plus(&w.usage),
                    model: prev.model,
                    finish: w.finish,
                },
            };
            if cur.finish == Finish::Stop {
                break Ok(cur);
            }
            if continued >= self.opts.continuations {
                break Err(ProviderError::BadResponse {
                    what: self.writer.name().to_string(),
                    message: format!(
                        "the answer still stopped on the token limit ({} tokens) after {continued} \
                         continuations; raise writer.max_tokens or writer.continuations, or write \
                         by section (writer.mode: sections)",
                        self.writer.output_limit().unwrap_or(0)
                    ),
                });
            }
            continued += 1;
            self.stats.lock().expect("stats lock").continued += 1;
            tracing::info!(
                "PART {}: the answer stopped on the token limit; asking to continue ({continued})",
                req.part
            );
            // Sent back without trailing whitespace (the Anthropic API
            // refuses it in a last assistant turn, and a model continuing
            // writes the line break itself): what follows is stitched to
            // exactly what was sent.
            let mut cur = cur;
            cur.text.truncate(cur.text.trim_end().len());
            req.so_far = Some(cur.text.clone());
            // The continuations repeat the prompt: worth caching from now.
            if req.shared_prefix == 0 {
                req.shared_prefix = req.prompt.len();
            }
            out = Some(cur);
        };
        req.so_far = None;
        result
    }

    async fn whole(
        &self,
        req: &WriteRequest,
        judge: &(dyn Fn(&str) -> Verdict + Sync),
    ) -> Result<Checked, ProviderError> {
        let shrink = || {
            let count = |t: &str| self.count(t);
            (
                prompt::build_prompt(req, self.opts.budget_tokens / 2, &count),
                0,
            )
        };
        let mut first_req = req.clone();
        let first = self.complete(&mut first_req, Some(&shrink)).await?;
        let verdict = judge(&first.text);
        if verdict.passes() {
            return Ok(self.checked(first, verdict, false));
        }
        let mut repair = first_req.clone();
        repair.shared_prefix = 0;
        repair.prompt = format!(
            "{}\n\n---\n\nYour previous answer:\n\n{}\n\n---\n\n{}",
            first_req.prompt,
            first.text,
            prompt::repair_prompt(&verdict.failures())
        );
        let second = self.complete(&mut repair, None).await?;
        let usage = first.usage.plus(&second.usage);
        let again = judge(&second.text);
        let (kept, verdict) = if again.failures().len() <= verdict.failures().len() {
            (second, again)
        } else {
            (first, verdict)
        };
        Ok(self.checked(Written { usage, ..kept }, verdict, true))
    }

    fn checked(&self, written: Written, verdict: Verdict, repaired: bool) -> Checked {
        Checked {
            written,
            verdict,
            repaired,
            stats: self.stats.lock().expect("stats lock").clone(),
        }
    }

    async fn sections(
        &self,
        req: &WriteRequest,
        judge: &(dyn Fn(&str) -> Verdict + Sync),
    ) -> Result<Checked, ProviderError> {
        let count = |t: &str| self.count(t);
        let prefix = prompt::section_prefix(req);
        let prefix = prefix.as_str();
        let n = req.sections.len();
        // The evidence budget split by section, each given the passages
        // most relevant to it.
        let room = self.opts.budget_tokens.saturating_sub(count(prefix));
        let per = (room / n as u64).max(room.min(MIN_SECTION_EVIDENCE));
        let picks = section_evidence(req);
        let section_req = |i: usize, budget: u64| {
            let mut r = req.clone();
            r.prompt = format!(
                "{prefix}{}",
                prompt::section_request(req, i, &picks[i], budget, &count)
            );
            r.shared_prefix = prefix.len();
            r.evidence = picks[i].clone();
            r
        };
        let local = Semaphore::new(self.opts.parallel_sections.max(1));
        let answers = self
            .all((0..n).map(|i| {
                let section_req = &section_req;
                let local = &local;
                async move {
                    let _slot = local.acquire().await.expect("never closed");
                    let shrink = move || (section_req(i, per / 2).prompt, prefix.len());
                    let mut r = section_req(i, per);
                    let w = self.complete(&mut r, Some(&shrink)).await?;
                    Ok((r, w))
                }
            }))
            .await?;
        let (mut reqs, mut written): (Vec<WriteRequest>, Vec<Written>) =
            answers.into_iter().unzip();
        let texts: Vec<String> = written.iter().map(|w| w.text.clone()).collect();
        let first = assemble(req, &texts);
        let verdict = judge(&first.text);
        if verdict.passes() {
            let w = joined(first.text, &written);
            return Ok(self.checked(w, verdict, false));
        }
        // One repair round: each section with a problem is asked again,
        // with its problems.
        let asks = first.problems_by_section(&verdict, n);
        let repaired =
            self.all(asks.iter().enumerate().filter(|(_, p)| !p.is_empty()).map(
                |(i, problems)| {
                    let mut r = reqs[i].clone();
                    r.prompt = format!(
                        "{}\n\n---\n\nYour previous answer:\n\n{}\n\n---\n\n{}",
                        r.prompt,
                        texts[i],
                        prompt::repair_section_prompt(problems)
                    );
                    let local = &local;
                    async move {
                        let _slot = local.acquire().await.expect("never closed");
                        let w = self.complete(&mut r, None).await?;
                        Ok((i, r, w))
                    }
                },
            ))
            .await?;
        let mut usage = written
            .iter()
            .fold(Usage::default(), |u, w| u.plus(&w.usage));
        let mut texts2 = texts.clone();
        for (i, r, w) in repaired {
            usage = usage.plus(&w.usage);
            texts2[i] = w.text.clone();
            reqs[i] = r;
            written[i] = w;
        }
        let second = assemble(req, &texts2);
        let again = judge(&second.text);
        let (text, verdict) = if again.failures().len() <= verdict.failures().len() {
            (second.text, again)
        } else {
            (first.text, verdict)
        };
        let w = Written {
            usage,
            ..joined(text, &written)
        };
        Ok(self.checked(w, verdict, true))
    }

    /// Run `futs` together, in their order; the first error is returned.
    async fn all<T, F>(&self, futs: impl Iterator<Item = F>) -> Result<Vec<T>, ProviderError>
    where
        F: std::future::Future<Output = Result<T, ProviderError>>,
    {
        futures_util::future::join_all(futs)
            .await
            .into_iter()
            .collect()
    }
}

/// The assembled file as one answer: its text, the usage of every section.
fn joined(text: String, parts: &[Written]) -> Written {
    Written {
        text,
        usage: parts.iter().fold(Usage::default(), |u, w| u.plus(&w.usage)),
        model: parts.first().map(|w| w.model.clone()).unwrap_or_default(),
        finish: Finish::Stop,
    }
}

/// `next`, which continues `so_far`, joined to it. A model asked to go on
/// sometimes starts by repeating the end of what it wrote (the cut line,
/// the last sentence): that repeat is dropped when it is at least 16
/// bytes, or starts a line.
pub fn stitch(so_far: &str, next: &str) -> String {
    let max = next.len().min(so_far.len()).min(2_000);
    for k in (8..=max).rev() {
        if !next.is_char_boundary(k) {
            continue;
        }
        let head = &next[..k];
        if !so_far.ends_with(head) {
            continue;
        }
        let at = so_far.len() - k;
        if k >= 16 || at == 0 || so_far[..at].ends_with('\n') {
            return format!("{so_far}{}", &next[k..]);
        }
    }
    format!("{so_far}{next}")
}

/// For each planned section, the evidence most relevant to it first: the
/// evidence cut into passages (`bm25::passages`, knowledge line ranges kept
/// exact) ranked by BM25 against the section's title and brief; passages
/// that share no word with it follow in their own order.
pub fn section_evidence(req: &WriteRequest) -> Vec<Vec<Evidence>> {
    let mut passages = Vec::new();
    let mut from = Vec::new();
    for (k, e) in req.evidence.iter().enumerate() {
        let mut ps = bm25::passages(&e.source, &e.text);
        if ps.is_empty() && !e.text.trim().is_empty() {
            // A search snippet: one line, no structure.
            ps.push(bm25::Passage {
                source: e.source.clone(),
                lines: (1, e.text.lines().count().max(1)),
                heading: None,
                text: e.text.clone().into(),
            });
        }
        for p in ps {
            from.push(k);
            passages.push(p);
        }
    }
    let index = Bm25::build(passages);
    let evidence = |i: usize| {
        let p = index.passage(i);
        let e = &req.evidence[from[i]];
        Evidence {
            source: e.source.clone(),
            lines: e.lines.map(|(a, _)| (a + p.lines.0 - 1, a + p.lines.1 - 1)),
            title: e.title.clone(),
            text: p.text.to_string(),
        }
    };
    req.sections
        .iter()
        .map(|s| {
            let query = format!("{} {} {}", s.title, s.brief.join(" "), req.title);
            let ranked: Vec<usize> = index
                .search(&query, index.len())
                .into_iter()
                .map(|(i, _)| i)
                .collect();
            let seen: BTreeSet<usize> = ranked.iter().copied().collect();
            ranked
                .into_iter()
                .chain((0..index.len()).filter(|i| !seen.contains(i)))
                .map(evidence)
                .collect()
        })
        .collect()
}

/// A file assembled from its sections' answers.
#[derive(Debug)]
pub struct Assembled {
    pub text: String,
    /// Per section, the lines (1-based, inclusive) it took in `text`.
    pub ranges: Vec<(usize, usize)>,
    /// Lines of the merged Sources list and the section each came from.
    pub sources: Vec<(usize, usize)>,
}

impl Assembled {
    /// The failures of `verdict`, by the section whose answer they are
    /// about: a problem on a line goes to the section that wrote that line,
    /// a missing or empty planned section to that section, and a problem of
    /// the whole file (no citation at all) to every section. Line numbers
    /// are left out: they are the file's, not the section's.
    fn problems_by_section(&self, verdict: &Verdict, n: usize) -> Vec<Vec<String>> {
        let mut out = vec![Vec::new(); n];
        let of_line = |l: usize| {
            self.ranges
                .iter()
                .position(|&(a, z)| a <= l && l <= z)
                .or_else(|| self.sources.iter().find(|(x, _)| *x == l).map(|(_, i)| *i))
        };
        for (i, s) in verdict.sections.iter().enumerate().take(n) {
            if !s.filled {
                out[i].push(match &s.heading {
                    None => format!("the section has no `## {}` heading", s.title),
                    Some(_) => "the section has no content".to_string(),
                });
            }
        }
        for p in verdict.problems.iter().filter(|p| p.level == Level::Fail) {
            if p.message.starts_with("missing planned section")
                || p.message.starts_with("planned section")
            {
                continue;
            }
            let message = match p.message.split_once(": ") {
                Some((head, rest)) if p.line.is_some() && head.starts_with("line ") => {
                    rest.to_string()
                }
                _ => p.message.clone(),
            };
            // A source cited in the text and listed again under Sources is
            // one problem to the model, told once.
            let tell = |o: &mut Vec<String>| {
                if !o.contains(&message) {
                    o.push(message.clone());
                }
            };
            match p.line.and_then(of_line) {
                Some(i) => tell(&mut out[i]),
                None => out.iter_mut().for_each(tell),
            }
        }
        out
    }
}

/// The file from the answers for each planned section, in plan order: one
/// `# ` title (the PART's), each section under its planned `## ` heading
/// (added when the answer has none; a `# ` title an answer starts with is
/// dropped, or made the `## ` heading when it is the section's), and one
/// Sources list merging every section's, each source once.
pub fn assemble(req: &WriteRequest, answers: &[String]) -> Assembled {
    let mut text = format!("# {}\n\n", req.title);
    let mut line = 3;
    let mut ranges = Vec::new();
    let mut items: Vec<(String, usize)> = Vec::new();
    let mut keys: BTreeSet<String> = BTreeSet::new();
    for (i, (s, answer)) in req.sections.iter().zip(answers).enumerate() {
        let (body, sources) = split_sources(answer);
        let body = section_body(&s.title, &body);
        let lines = body.lines().count().max(1);
        ranges.push((line, line + lines - 1));
        text.push_str(&body);
        text.push_str("\n\n");
        line += lines + 1;
        for item in sources {
            let doc = Doc::parse(&item);
            let cited: Vec<String> = quality::citations_of(&doc, &item, &req.target)
                .into_iter()
                .map(|(s, _)| s.key().to_string())
                .collect();
            let new = match cited.is_empty() {
                true => keys.insert(item.split_whitespace().collect::<Vec<_>>().join(" ")),
                // Listed once: an item whose sources are all listed already adds nothing.
                // Every one inserted (no short circuit): each is listed now.
                false => {
                    let mut new = false;
                    for k in cited {
                        new |= keys.insert(k);
                    }
                    new
                }
            };
            if new {
                items.push((item, i));
            }
        }
    }
    text.push_str("## Sources\n\n");
    line += 2;
    let mut sources = Vec::new();
    for (item, i) in items {
        text.push_str(&format!("- {item}\n"));
        sources.push((line, i));
        line += 1;
    }
    Assembled {
        text,
        ranges,
        sources,
    }
}

/// An answer's body and the items of its sources list (their text, list
/// markers removed), read with the one markdown model.
fn split_sources(answer: &str) -> (String, Vec<String>) {
    let doc = Doc::parse(answer);
    let Some(h) = doc
        .headings
        .iter()
        .find(|h| quality::is_sources_heading(&h.text))
    else {
        return (answer.trim().to_string(), Vec::new());
    };
    let end = doc
        .headings
        .iter()
        .find(|x| x.line > h.line && x.level <= h.level)
        .map_or(answer.len(), |x| x.range.start);
    let items = doc
        .items
        .iter()
        .filter(|it| it.line > h.line && doc.line_range(it.line, it.line).start < end)
        // Top-level items only (the markdown model counts lists from 1).
        .filter(|it| it.depth <= 1)
        .map(|it| strip_marker(&it.raw))
        .filter(|t| !t.is_empty())
        .collect();
    // What follows the sources list (rare) stays in the body.
    let body = format!("{}\n\n{}", &answer[..h.range.start], &answer[end..]);
    (body.trim().to_string(), items)
}

/// A list item's first line without its marker (`- `, `* `, `1. `).
fn strip_marker(raw: &str) -> String {
    let t = raw.trim_start();
    let rest = match t.chars().next() {
        Some('-' | '*' | '+') => &t[1..],
        Some(c) if c.is_ascii_digit() => t
            .trim_start_matches(|c: char| c.is_ascii_digit())
            .trim_start_matches(['.', ')']),
        _ => t,
    };
    rest.trim().to_string()
}

/// A section's answer under its planned `## ` heading.
fn section_body(title: &str, body: &str) -> String {
    let doc = Doc::parse(body);
    let mut body = body.to_string();
    if let Some(h) = doc.headings.first().filter(|h| h.line == 1) {
        let is_it = quality::section_matches(title, &h.text);
        match (h.level, is_it) {
            (2, true) => return body,
            (1, true) => {
                body.replace_range(h.range.clone(), &format!("## {}\n", h.text));
                return body;
            }
            // The PART's title, or the model's own: the file has one.
            (1, false) => {
                body.replace_range(h.range.clone(), "");
                return section_body(title, body.trim_start());
            }
            _ => {}
        }
    }
    format!("## {title}\n\n{}", body.trim())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(n: usize) -> WriteRequest {
        let mut r = crate::providers::tests::request("p");
        r.target = "t/01-x.md".into();
        r.sections = (1..=n)
            .map(|i| SectionBrief {
                title: format!("Topic {i} basics"),
                expected_lines: Some(10),
                brief: vec![],
            })
            .collect();
        r
    }

    #[test]
    fn stitching_drops_what_a_continuation_repeats() {
        assert_eq!(
            stitch("# T\n\nThe quick bro", "wn fox"),
            "# T\n\nThe quick brown fox"
        );
        assert_eq!(
            stitch("# T\n\nThe quick bro", "The quick brown fox"),
            "# T\n\nThe quick brown fox"
        );
        assert_eq!(stitch("a b c d e f", "e f g"), "a b c d e fe f g");
    }

    #[test]
    fn sections_join_in_order_with_one_title_and_merged_sources() {
        let answers = vec![
            "# Args\n\n## Topic 1 basics\n\nOne ([d](https://a.example/1)).\n\n## Sources\n\n- [d](https://a.example/1)\n- `t/00-base.md`\n".to_string(),
            "Two, see https://a.example/2 and https://a.example/1.\n\n## References\n\n1. https://a.example/2\n2. https://a.example/1\n".to_string(),
            "# Topic 3 basics\n\nThree.\n".to_string(),
        ];
        let a = assemble(&req(3), &answers);
        assert_eq!(
            a.text,
            "# Args\n\n## Topic 1 basics\n\nOne ([d](https://a.example/1)).\n\n\
             ## Topic 2 basics\n\nTwo, see https://a.example/2 and https://a.example/1.\n\n\
             ## Topic 3 basics\n\nThree.\n\n\
             ## Sources\n\n- [d](https://a.example/1)\n- `t/00-base.md`\n- https://a.example/2\n"
        );
        let lines: Vec<&str> = a.text.lines().collect();
        assert_eq!(a.ranges, vec![(3, 5), (7, 9), (11, 13)]);
        assert_eq!(lines[10], "## Topic 3 basics");
        assert_eq!(a.sources, vec![(17, 0), (18, 0), (19, 1)]);
        assert_eq!(lines[18], "- https://a.example/2");
    }

    #[test]
    fn evidence_is_ranked_per_section_with_exact_lines() {
        let mut r = req(2);
        r.sections[0].title = "Semaphores".into();
        r.sections[1].title = "Backoff".into();
        r.evidence = vec![
            Evidence {
                source: "k/00-a.md".into(),
                lines: Some((10, 14)),
                title: None,
                text: "# A\n\nSemaphores bound concurrency.\n\n## More\n".into(),
            },
            Evidence {
                source: "https://b.example".into(),
                lines: None,
                title: Some("B".into()),
                text: "Backoff doubles the delay.".into(),
            },
        ];
        let picks = section_evidence(&r);
        assert_eq!(picks[0][0].source, "k/00-a.md");
        assert_eq!(picks[0][0].lines, Some((12, 12)));
        assert_eq!(picks[1][0].source, "https://b.example");
        assert_eq!(picks[0].len(), 2, "the rest follows");
    }
}
