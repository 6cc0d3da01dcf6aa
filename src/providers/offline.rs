//! The offline providers: an extractive writer and a search over the local
//! knowledge base. No network, no key, deterministic — the default, so that
//! a plan can be run end to end anywhere and re-run byte for byte. The writer
//! never invents prose: each planned section is made of the most relevant
//! passages (BM25 over the PART's evidence and over the whole base), quoted
//! and cited with a link that resolves from the target file's folder.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Arc;

use crate::knowledge::bm25::{passages, Bm25, Passage};
use crate::knowledge::scan::KnowledgeBase;

use super::{BoxFuture, Evidence, ProviderError, Search, SearchHit, WriteRequest, Writer, Written};

const MODEL: &str = "extractive-bm25";
/// First line of every offline draft, so no reader mistakes it for research.
pub const BANNER: &str =
    "> Offline extractive draft by expand: passages selected from the knowledge base, not new research.";
const MAX_PER_SECTION: usize = 4;
const MIN_PER_SECTION: usize = 2;
/// Candidates scoring below this share of the section's best candidate are
/// too weak to quote.
const MIN_RELATIVE_SCORE: f32 = 0.2;
const SNIPPET_CHARS: usize = 300;
/// The runner gathered the evidence for this very PART (its reads, greps and
/// research), so at equal wording it beats a passage found by the base-wide
/// search.
const EVIDENCE_BOOST: f32 = 1.5;

/// The index every offline provider of a run shares: the passages of every
/// file of the knowledge base but those the run itself (re)writes, and but
/// indexes, SKILL.md and drops (they describe the base; they are not
/// knowledge to quote). Built afresh; a run keeps it between runs with
/// [`crate::knowledge::index_cache::load_or_build`].
pub fn knowledge_index(kb: &KnowledgeBase) -> Bm25 {
    crate::knowledge::index_cache::build(kb)
}

/// Extractive writer: no network, no key, deterministic.
pub struct OfflineWriter {
    index: Arc<Bm25>,
}

impl OfflineWriter {
    pub fn new(index: Arc<Bm25>) -> Self {
        OfflineWriter { index }
    }
}

impl Writer for OfflineWriter {
    fn name(&self) -> &str {
        "offline"
    }

    fn model(&self) -> &str {
        MODEL
    }

    fn write<'a>(&'a self, req: &'a WriteRequest) -> BoxFuture<'a, Result<Written, ProviderError>> {
        Box::pin(async move {
            Ok(Written {
                text: draft(&self.index, req),
                usage: Default::default(),
                model: MODEL.to_string(),
                finish: super::Finish::Stop,
            })
        })
    }
}

/// Search answered from the knowledge base.
pub struct OfflineSearch {
    index: Arc<Bm25>,
}

impl OfflineSearch {
    pub fn new(index: Arc<Bm25>) -> Self {
        OfflineSearch { index }
    }
}

impl Search for OfflineSearch {
    fn name(&self) -> &str {
        "offline"
    }

    fn search<'a>(
        &'a self,
        query: &'a str,
        results: usize,
    ) -> BoxFuture<'a, Result<Vec<SearchHit>, ProviderError>> {
        Box::pin(async move {
            Ok(self
                .index
                .search(query, results)
                .into_iter()
                .map(|(i, _)| {
                    let p = self.index.passage(i);
                    SearchHit {
                        title: match &p.heading {
                            Some(h) => format!("{} — {}", p.source, h),
                            None => p.source.clone(),
                        },
                        url: format!("{}#L{}-L{}", p.source, p.lines.0, p.lines.1),
                        snippet: snippet(&p.text),
                    }
                })
                .collect())
        })
    }
}

/// Where a quoted passage comes from, for its citation.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Origin {
    /// A knowledge file and the line range quoted.
    Knowledge { path: String, lines: (usize, usize) },
    /// A web page.
    Url { url: String, title: String },
}

struct Candidate<'a> {
    passage: &'a Passage,
    origin: Origin,
}

/// Evidence passages, with line ranges shifted to the file's own numbering.
fn evidence_passages(
    index: &Bm25,
    evidence: &[Evidence],
    target: &str,
) -> (Vec<Passage>, Vec<Option<String>>) {
    let mut out = Vec::new();
    // Some(title) for a URL source, None for a knowledge file.
    let mut url_titles = Vec::new();
    for e in evidence {
        let (source, lines, url_title) = classify(e);
        if url_title.is_none() && source == target {
            continue;
        }
        // A search hit's text is a flattened snippet: quote the passage it
        // names, as the file has it.
        if let Some(p) = lines.and_then(|l| index.find(&source, l)) {
            let mut p = p.clone();
            if p.heading.is_none() {
                p.heading.clone_from(&e.title);
            }
            out.push(p);
            url_titles.push(None);
            continue;
        }
        let shift = lines.map(|(a, _)| a.saturating_sub(1)).unwrap_or(0);
        for mut p in passages(&source, &e.text) {
            p.lines = (p.lines.0 + shift, p.lines.1 + shift);
            if p.heading.is_none() {
                p.heading.clone_from(&e.title);
            }
            out.push(p);
            url_titles.push(url_title.clone());
        }
    }
    (out, url_titles)
}

/// A URL, or a knowledge path possibly carrying a `#La-Lb` fragment (what the
/// offline search returns as a hit's URL).
fn classify(e: &Evidence) -> (String, Option<(usize, usize)>, Option<String>) {
    if e.source.contains("://") {
        let title = e.title.clone().unwrap_or_else(|| e.source.clone());
        return (e.source.clone(), None, Some(title));
    }
    if let Some((path, frag)) = e.source.split_once("#L") {
        let parsed = frag
            .split_once("-L")
            .and_then(|(a, b)| Some((a.parse().ok()?, b.parse().ok()?)));
        return (path.to_string(), e.lines.or(parsed), None);
    }
    (e.source.clone(), e.lines, None)
}

/// One section to write: its heading, its retrieval query, its line budget.
struct Plan {
    title: String,
    query: String,
    lines: usize,
}

fn section_plans(req: &WriteRequest) -> Vec<Plan> {
    let mut out: Vec<(String, String, Option<u32>)> = req
        .sections
        .iter()
        .map(|s| {
            let mut q = s.title.clone();
            for b in &s.brief {
                q.push(' ');
                q.push_str(b);
            }
            (s.title.clone(), q, s.expected_lines)
        })
        .collect();
    if out.is_empty() {
        out = search_queries(&req.part_text)
            .into_iter()
            .take(4)
            .map(|q| (q.clone(), q, None))
            .collect();
    }
    if out.is_empty() {
        out.push(("Overview".to_string(), req.title.clone(), None));
    }
    let n = out.len() as u32;
    out.into_iter()
        .map(|(title, query, lines)| Plan {
            title,
            query,
            lines: lines
                .or(req.expected_lines.map(|t| t / n))
                .unwrap_or(40)
                .max(1) as usize,
        })
        .collect()
}

/// The `Search: "…"` queries of a PART's text, in order, once each.
fn search_queries(part_text: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for line in part_text.lines() {
        let Some(at) = line.find("Search:") else {
            continue;
        };
        let rest = line[at + "Search:".len()..].trim();
        let q = match rest.find(['"', '“']) {
            Some(open) => {
                let inner = &rest[open + rest[open..].chars().next().map_or(1, char::len_utf8)..];
                let close = inner.find(['"', '”']).unwrap_or(inner.len());
                &inner[..close]
            }
            None => rest,
        };
        let q = q.trim().to_string();
        if !q.is_empty() && !out.contains(&q) {
            out.push(q);
        }
    }
    out
}

/// The whole offline draft for one request. Pure: same inputs, same bytes.
///
/// Passages are given to sections globally, not section by section: each
/// goes to the section it is most relevant to (its score over that
/// section's best), so an early section cannot take the one passage a
/// later section needs. A passage is quoted once.
fn draft(index: &Bm25, req: &WriteRequest) -> String {
    let (local, url_titles) = evidence_passages(index, &req.evidence, &req.target);
    let plans = section_plans(req);

    // Every section's candidates: (relative score, section, rank, candidate).
    let mut pool: Vec<(f32, usize, usize, Candidate)> = Vec::new();
    for (si, plan) in plans.iter().enumerate() {
        // Evidence passages are scored with the whole base's statistics so
        // both kinds rank on one scale.
        let mut ranked: Vec<(f32, u8, usize, Candidate)> = Vec::new();
        for (i, passage) in local.iter().enumerate() {
            // A knowledge excerpt (a grep hit's context, say) that is no
            // passage of the base is a sources list or scaffolding.
            if url_titles[i].is_none() && !index.covers(&passage.source, passage.lines) {
                continue;
            }
            let score = index.score(&plan.query, passage) * EVIDENCE_BOOST;
            if score > 0.0 {
                let origin = match &url_titles[i] {
                    Some(title) => Origin::Url {
                        url: passage.source.clone(),
                        title: title.clone(),
                    },
                    None => Origin::Knowledge {
                        path: passage.source.clone(),
                        lines: passage.lines,
                    },
                };
                ranked.push((score, 0, i, Candidate { passage, origin }));
            }
        }
        for (i, score) in index.search(&plan.query, 24) {
            let passage = index.passage(i);
            let origin = Origin::Knowledge {
                path: passage.source.clone(),
                lines: passage.lines,
            };
            ranked.push((score, 1, i, Candidate { passage, origin }));
        }
        // Evidence first on equal relevance: the runner chose it for this PART.
        ranked.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)).then(a.2.cmp(&b.2)));
        let best = ranked.first().map_or(0.0, |r| r.0);
        // A passage that shares one incidental word with the section is not
        // about it: below this floor nothing is quoted.
        let floor = index.query_terms(&plan.query).min(2);
        for (rank, (score, _, _, c)) in ranked.into_iter().enumerate() {
            if score < best * MIN_RELATIVE_SCORE {
                break;
            }
            if matches!(&c.origin, Origin::Knowledge { path, .. } if path == &req.target)
                || c.passage.text.trim().is_empty()
                || index.shared_terms(&plan.query, c.passage) < floor
            {
                continue;
            }
            pool.push((score / best, si, rank, c));
        }
    }
    pool.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)).then(a.2.cmp(&b.2)));
    let mut chosen: Vec<Vec<Candidate>> = plans.iter().map(|_| Vec::new()).collect();
    let mut lines: Vec<usize> = vec![0; plans.len()];
    let mut used: Vec<Origin> = Vec::new();
    // First every section its best free passage, the sections with the
    // fewest candidates first (they have no second choice); then the rest
    // by relevance.
    let mut counts: Vec<(usize, usize)> = (0..plans.len())
        .map(|si| (pool.iter().filter(|p| p.1 == si).count(), si))
        .collect();
    counts.sort_unstable();
    let mut pool: Vec<Option<(f32, usize, usize, Candidate)>> =
        pool.into_iter().map(Some).collect();
    for (_, si) in counts {
        let pick = pool.iter().position(|p| {
            p.as_ref().is_some_and(|(_, s, _, c)| {
                *s == si && !used.iter().any(|u| overlaps(u, &c.origin))
            })
        });
        if let Some((_, _, _, c)) = pick.and_then(|i| pool[i].take()) {
            lines[si] += c.passage.text.lines().count() + 2;
            used.push(c.origin.clone());
            chosen[si].push(c);
        }
    }
    for (_, si, _, c) in pool.into_iter().flatten() {
        let full = chosen[si].len() >= MAX_PER_SECTION
            || (chosen[si].len() >= MIN_PER_SECTION && lines[si] >= plans[si].lines);
        if full || used.iter().any(|u| overlaps(u, &c.origin)) {
            continue;
        }
        lines[si] += c.passage.text.lines().count() + 2;
        used.push(c.origin.clone());
        chosen[si].push(c);
    }

    // A file the plan's CITE line names is quoted once at least: its
    // passage most relevant to a section, in that section.
    for want in &req.must_cite {
        if used
            .iter()
            .any(|u| matches!(u, Origin::Knowledge { path, .. } if path == want))
        {
            continue;
        }
        let best = local
            .iter()
            .enumerate()
            .filter(|(i, p)| {
                url_titles[*i].is_none() && &p.source == want && !p.text.trim().is_empty()
            })
            .flat_map(|(_, p)| {
                plans
                    .iter()
                    .enumerate()
                    .map(move |(si, plan)| (index.score(&plan.query, p), std::cmp::Reverse(si), p))
            })
            .max_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
        if let Some((_, std::cmp::Reverse(si), passage)) = best {
            let origin = Origin::Knowledge {
                path: passage.source.clone(),
                lines: passage.lines,
            };
            used.push(origin.clone());
            chosen[si].push(Candidate { passage, origin });
        }
    }

    let mut body = String::new();
    let mut quoted = 0usize;
    let mut cited: Vec<Origin> = Vec::new();
    for (plan, mut chosen) in plans.iter().zip(chosen) {
        let _ = writeln!(body, "## {}\n", plan.title.trim());
        // Excerpts of one file read best in the file's order.
        chosen.sort_by(|a, b| a.origin.cmp(&b.origin));
        let taken = chosen.len();
        for c in chosen {
            let text = match &c.origin {
                Origin::Knowledge { path, .. } => rewrite_links(&c.passage.text, path, &req.target),
                Origin::Url { .. } => c.passage.text.to_string(),
            };
            for line in text.lines() {
                if line.trim().is_empty() {
                    body.push_str(">\n");
                } else {
                    let _ = writeln!(body, "> {line}");
                }
            }
            let _ = writeln!(body, "\n{}\n", citation(&req.target, &c.origin));
            cited.push(c.origin);
        }
        if taken == 0 {
            let _ = writeln!(
                body,
                "*{}: no passage of the knowledge base or of this PART's evidence is relevant enough to quote.*\n",
                crate::quality::NOTHING_FOUND
            );
        }
        quoted += taken;
    }
    let used = cited;

    let mut out = String::new();
    let _ = writeln!(out, "{BANNER}\n");
    let _ = writeln!(out, "# {}\n", req.title.trim());
    let _ = writeln!(
        out,
        "Written offline for PART {} of {}: {} cited excerpt{} in {} section{}.\n",
        req.part,
        req.plan_title.trim(),
        quoted,
        if quoted == 1 { "" } else { "s" },
        plans.len(),
        if plans.len() == 1 { "" } else { "s" },
    );
    out.push_str(&body);
    out.push_str("## Sources\n\n");
    out.push_str(&sources(&req.target, &used));
    out
}

fn overlaps(a: &Origin, b: &Origin) -> bool {
    match (a, b) {
        (
            Origin::Knowledge {
                path: p,
                lines: (a0, a1),
            },
            Origin::Knowledge {
                path: q,
                lines: (b0, b1),
            },
        ) => p == q && a0 <= b1 && b0 <= a1,
        _ => a == b,
    }
}

fn citation(target: &str, origin: &Origin) -> String {
    match origin {
        Origin::Knowledge {
            path,
            lines: (a, b),
        } => format!(
            "— from [{path}]({}), lines {a}–{b}",
            link_dest(&relative_link(target, path))
        ),
        Origin::Url { url, title } => format!("— from [{}]({})", link_text(title), link_dest(url)),
    }
}

/// Each cited source once, sorted: knowledge files by path (with every range
/// quoted), then web pages by URL.
fn sources(target: &str, used: &[Origin]) -> String {
    let mut files: BTreeMap<&str, Vec<(usize, usize)>> = BTreeMap::new();
    let mut urls: BTreeMap<&str, &str> = BTreeMap::new();
    for o in used {
        match o {
            Origin::Knowledge { path, lines } => files.entry(path).or_default().push(*lines),
            Origin::Url { url, title } => {
                urls.entry(url).or_insert(title);
            }
        }
    }
    if files.is_empty() && urls.is_empty() {
        return "No source was cited: nothing local matched this PART.\n".to_string();
    }
    let mut out = String::new();
    for (path, mut ranges) in files {
        ranges.sort_unstable();
        let ranges: Vec<String> = ranges.iter().map(|(a, b)| format!("{a}–{b}")).collect();
        let _ = writeln!(
            out,
            "- [{path}]({}), lines {}",
            link_dest(&relative_link(target, path)),
            ranges.join(", ")
        );
    }
    for (url, title) in urls {
        let _ = writeln!(out, "- [{}]({})", link_text(title), link_dest(url));
    }
    out
}

/// `source` as a link from the folder of `target` (both knowledge-relative).
fn relative_link(target: &str, source: &str) -> String {
    let tdir: Vec<&str> = target.split('/').collect();
    let tdir = &tdir[..tdir.len() - 1];
    let src: Vec<&str> = source.split('/').collect();
    let common = tdir
        .iter()
        .zip(&src[..src.len() - 1])
        .take_while(|(a, b)| a == b)
        .count();
    let mut out = "../".repeat(tdir.len() - common);
    out.push_str(&src[common..].join("/"));
    out
}

/// Relative links inside a passage quoted from `source` re-pointed so they
/// resolve from the folder of `target`, read by the markdown model (so a
/// destination with parentheses or `%20` is one destination). Absolute
/// URLs, anchors, rooted paths and reference links stay as they are.
fn rewrite_links(text: &str, source: &str, target: &str) -> String {
    if !text.contains("](") {
        return text.to_string();
    }
    let doc = crate::markdown::Doc::parse(text);
    let src_dir: Vec<&str> = {
        let mut v: Vec<&str> = source.split('/').collect();
        v.pop();
        v
    };
    let mut out = String::with_capacity(text.len());
    let mut at = 0;
    let mut links: Vec<&crate::markdown::Link> = doc.links.iter().collect();
    links.sort_by_key(|l| l.range.start);
    for l in links {
        let raw = &text[l.range.clone()];
        // Inline links only: `[text](dest)`; the destination is what follows
        // the last `](`.
        let (Some(open), true) = (raw.rfind("]("), raw.ends_with(')')) else {
            continue;
        };
        let (d0, d1) = (l.range.start + open + 2, l.range.end - 1);
        if d0 < at || d0 > d1 {
            continue;
        }
        let keep = l.dest.is_empty() || l.dest.contains(':') || l.dest.starts_with(['#', '/']);
        if keep {
            continue;
        }
        let (path, frag) = match l.decoded.find('#') {
            Some(h) => (&l.decoded[..h], &l.decoded[h..]),
            None => (l.decoded.as_str(), ""),
        };
        let mut parts = src_dir.clone();
        let mut escapes = false;
        for c in path.split('/') {
            match c {
                "" | "." => {}
                ".." => escapes |= parts.pop().is_none(),
                c => parts.push(c),
            }
        }
        if escapes || parts.is_empty() {
            continue;
        }
        // A title after the destination (`(a.md "T")`) stays.
        let written = &text[d0..d1];
        let title = match written.trim_start().starts_with('<') {
            true => written.find('>').map_or("", |i| &written[i + 1..]),
            false => written
                .find(char::is_whitespace)
                .map_or("", |i| &written[i..]),
        };
        out.push_str(&text[at..d0]);
        out.push_str(&link_dest(&format!(
            "{}{frag}",
            relative_link(target, &parts.join("/"))
        )));
        out.push_str(title);
        at = d1;
    }
    out.push_str(&text[at..]);
    out
}

fn link_dest(d: &str) -> String {
    if d.contains([' ', '(', ')', '<', '>']) {
        format!("<{}>", d.replace('<', "%3C").replace('>', "%3E"))
    } else {
        d.to_string()
    }
}

fn link_text(t: &str) -> String {
    t.replace('[', "\\[").replace(']', "\\]").replace('\n', " ")
}

/// The first ~300 chars of a passage on one line, cut at a word.
fn snippet(text: &str) -> String {
    let flat = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if flat.chars().count() <= SNIPPET_CHARS {
        return flat;
    }
    let cut: String = flat.chars().take(SNIPPET_CHARS).collect();
    let cut = match cut.rfind(' ') {
        Some(i) if i > SNIPPET_CHARS / 2 => &cut[..i],
        _ => &cut,
    };
    format!("{cut}…")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::providers::SectionBrief;
    use std::path::{Path, PathBuf};

    fn root() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("knowledge")
    }

    fn index() -> Arc<Bm25> {
        let kb = crate::testing::sample_knowledge();
        Arc::new(knowledge_index(&kb))
    }

    fn section(title: &str, lines: u32, brief: &[&str]) -> SectionBrief {
        SectionBrief {
            title: title.into(),
            expected_lines: Some(lines),
            brief: brief.iter().map(|s| s.to_string()).collect(),
        }
    }

    fn request() -> WriteRequest {
        let kb = crate::testing::sample_knowledge();
        let mut evidence = kb.excerpt(
            "async-runtime/01-bounded-concurrency.md",
            3000,
            &["semaphore".to_string()],
        );
        evidence.push(Evidence {
            source: "https://docs.rs/tokio/latest/tokio/sync/struct.Semaphore.html".into(),
            lines: None,
            title: Some("Semaphore in tokio::sync".into()),
            text: "A semaphore maintains a set of permits. Permits are used to \
                   synchronize access to a shared resource and bound concurrency."
                .into(),
        });
        WriteRequest {
            plan_title: "Concurrency expansion".into(),
            part: 3,
            title: "Bounded concurrency for batch runners".into(),
            target: "batch-runners/00-bounded-concurrency.md".into(),
            part_text: "- [ ] Search: \"tokio semaphore\"".into(),
            sections: vec![
                section(
                    "Semaphores and permits",
                    30,
                    &["acquire_owned", "limit concurrency"],
                ),
                section("Blocking work in async code", 30, &["spawn_blocking"]),
                section("Synchronizing access to a shared resource", 10, &[]),
                section("Zorblax quantum flux", 10, &[]),
            ],
            expected_lines: Some(80),
            evidence,
            prompt: String::new(),
            shared_prefix: 0,
            so_far: None,
            must_cite: Vec::new(),
        }
    }

    async fn write(req: &WriteRequest) -> Written {
        OfflineWriter::new(index()).write(req).await.unwrap()
    }

    fn links(text: &str) -> Vec<String> {
        let mut out = Vec::new();
        let mut rest = text;
        while let Some(i) = rest.find("](") {
            let after = &rest[i + 2..];
            let end = after.find(')').unwrap();
            out.push(after[..end].to_string());
            rest = &after[end..];
        }
        out
    }

    #[tokio::test]
    async fn offline_writer_is_deterministic_and_free() {
        let req = request();
        let a = write(&req).await;
        let b = write(&req).await;
        assert_eq!(a.text, b.text);
        assert_eq!(a.usage.input_tokens + a.usage.output_tokens, 0);
        assert_eq!(a.model, "extractive-bm25");
        assert!(a.text.starts_with(BANNER));
        assert!(a
            .text
            .contains("\n# Bounded concurrency for batch runners\n"));
        assert!(a.text.contains("PART 3 of Concurrency expansion"));
    }

    #[tokio::test]
    async fn offline_writer_links_resolve_from_the_target_folder() {
        let req = request();
        let w = write(&req).await;
        let target_dir = root().join("batch-runners");
        let links = links(&w.text);
        assert!(
            links.iter().any(|l| l.starts_with("../async-runtime/")),
            "{}",
            w.text
        );
        for l in links {
            if l.starts_with("https://") {
                continue;
            }
            // The target's folder need not exist yet: resolve `..` lexically.
            let mut p = target_dir.clone();
            for c in l.split('/') {
                match c {
                    ".." => assert!(p.pop()),
                    c => p.push(c),
                }
            }
            assert!(p.is_file(), "link {l} does not resolve");
        }
    }

    #[tokio::test]
    async fn offline_writer_writes_planned_sections_and_sources_once() {
        let req = request();
        let w = write(&req).await;
        let t = &w.text;
        let h: Vec<&str> = t.lines().filter(|l| l.starts_with("## ")).collect();
        assert_eq!(
            h,
            vec![
                "## Semaphores and permits",
                "## Blocking work in async code",
                "## Synchronizing access to a shared resource",
                "## Zorblax quantum flux",
                "## Sources"
            ]
        );
        let zorblax = t.split("## Zorblax quantum flux").nth(1).unwrap();
        assert!(
            zorblax
                .trim_start()
                .starts_with(&format!("*{}", crate::quality::NOTHING_FOUND)),
            "{zorblax}"
        );
        let sources: Vec<&str> = t.split("## Sources\n\n").nth(1).unwrap().lines().collect();
        let mut sorted = sources.clone();
        sorted.sort();
        sorted.dedup();
        // Knowledge files first (sorted), then URLs (sorted); none twice.
        assert_eq!(sorted.len(), sources.len());
        assert!(sources.iter().any(|s| s.contains("https://docs.rs/tokio")));
        for cite in t.lines().filter(|l| l.starts_with("— from [")) {
            let src = &cite["— from [".len()..cite.find(']').unwrap()];
            assert!(
                sources.iter().any(|s| s.contains(src)),
                "{src} cited but not in Sources"
            );
        }
    }

    #[tokio::test]
    async fn offline_writer_never_quotes_a_passage_twice_or_the_target() {
        let mut req = request();
        // The same evidence twice, and the target itself as evidence.
        let dup = req.evidence.clone();
        req.evidence.extend(dup);
        req.evidence.push(Evidence {
            source: req.target.clone(),
            lines: Some((1, 1)),
            title: None,
            text: "semaphore semaphore permits acquire_owned".into(),
        });
        let w = write(&req).await;
        let cites: Vec<&str> = w
            .text
            .lines()
            .filter(|l| l.starts_with("— from ["))
            .collect();
        assert!(cites.len() >= 4, "{}", w.text);
        let mut ranges: Vec<(String, usize, usize)> = Vec::new();
        for c in &cites {
            assert!(
                !c.contains("00-bounded-concurrency.md](00-"),
                "cites target: {c}"
            );
            if let Some(at) = c.find(", lines ") {
                let src = c["— from [".len()..c.find(']').unwrap()].to_string();
                let (a, b) = c[at + 8..].split_once('–').unwrap();
                let (a, b): (usize, usize) = (a.parse().unwrap(), b.parse().unwrap());
                for (s, x, y) in &ranges {
                    assert!(!(s == &src && *x <= b && a <= *y), "overlap {c}");
                }
                ranges.push((src, a, b));
            }
        }
        let urls = cites.iter().filter(|c| c.contains("https://")).count();
        assert!(urls <= 1);
    }

    #[tokio::test]
    async fn offline_writer_cited_lines_match_the_source_file() {
        let req = request();
        let w = write(&req).await;
        let lines = w.text.lines();
        let mut quote: Vec<String> = Vec::new();
        let mut checked = 0;
        for l in lines {
            if let Some(q) = l
                .strip_prefix("> ")
                .or(if l == ">" { Some("") } else { None })
            {
                quote.push(q.to_string());
            } else if l.starts_with("— from [") && l.contains(", lines ") {
                let src = &l["— from [".len()..l.find(']').unwrap()];
                let at = l.find(", lines ").unwrap();
                let (a, b) = l[at + 8..].split_once('–').unwrap();
                let (a, b): (usize, usize) = (a.parse().unwrap(), b.parse().unwrap());
                let file = std::fs::read_to_string(root().join(src)).unwrap();
                let want: Vec<&str> = file.lines().skip(a - 1).take(b + 1 - a).collect();
                // Links inside the quote are re-pointed; everything else is verbatim.
                let want = rewrite_links(&want.join("\n"), src, &req.target);
                let want: Vec<&str> = want.lines().collect();
                assert_eq!(quote, want, "{l}");
                checked += 1;
                quote.clear();
            } else if !l.is_empty() {
                quote.clear();
            }
        }
        assert!(checked >= 3);
    }

    #[tokio::test]
    async fn offline_writer_falls_back_to_search_queries_then_overview() {
        let mut req = request();
        req.sections.clear();
        req.part_text =
            "- [ ] Search: \"clap derive subcommands\"\n- [ ] Search: “BM25 idf”\n".into();
        let w = write(&req).await;
        assert!(w.text.contains("\n## clap derive subcommands\n"));
        assert!(w.text.contains("\n## BM25 idf\n"));
        req.part_text = String::new();
        let w = write(&req).await;
        assert!(w.text.contains("\n## Overview\n"));
    }

    #[test]
    fn relative_links_walk_up_only_as_needed() {
        assert_eq!(relative_link("a/b/new.md", "a/c/x.md"), "../c/x.md");
        assert_eq!(relative_link("a/new.md", "a/x.md"), "x.md");
        assert_eq!(relative_link("new.md", "a/x.md"), "a/x.md");
        assert_eq!(relative_link("a/b/new.md", "x.md"), "../../x.md");
        assert_eq!(
            relative_link("batch/00.md", "rust-cli/00-argument-parsing.md"),
            "../rust-cli/00-argument-parsing.md"
        );
    }

    #[test]
    fn quoted_links_are_repointed_from_the_target() {
        let text =
            "See [a](async-runtime/00-x.md#top), [b](../c.md), [w](https://x.y/z) and [h](#here).";
        assert_eq!(
            rewrite_links(text, "INDEX.md", "batch/new.md"),
            "See [a](../async-runtime/00-x.md#top), [b](../c.md), [w](https://x.y/z) and [h](#here)."
        );
        assert_eq!(
            rewrite_links("[s](02-y.md)", "text-search/01-x.md", "text-search/new.md"),
            "[s](02-y.md)"
        );
        assert_eq!(
            rewrite_links(
                "[s](../rust-cli/00.md)",
                "text-search/01-x.md",
                "a/b/new.md"
            ),
            "[s](../../rust-cli/00.md)"
        );
    }

    #[tokio::test]
    async fn offline_search_answers_from_the_knowledge_base() {
        let s = OfflineSearch::new(index());
        let hits = s.search("inverse document frequency", 3).await.unwrap();
        assert!(!hits.is_empty() && hits.len() <= 3);
        let top = &hits[0];
        assert!(
            top.url.starts_with("text-search/02-bm25-ranking.md#L"),
            "{}",
            top.url
        );
        assert!(top.title.starts_with("text-search/02-bm25-ranking.md — "));
        assert!(top.snippet.chars().count() <= SNIPPET_CHARS + 1);
        let (path, frag) = top.url.split_once("#L").unwrap();
        let (a, b) = frag.split_once("-L").unwrap();
        let (a, b): (usize, usize) = (a.parse().unwrap(), b.parse().unwrap());
        let file = std::fs::read_to_string(root().join(path)).unwrap();
        let first = file.lines().nth(a - 1).unwrap();
        assert!(top
            .snippet
            .starts_with(first.split_whitespace().next().unwrap()));
        assert!(a <= b);
        assert!(s.search("xyzzyplugh", 3).await.unwrap().is_empty());
    }
}
