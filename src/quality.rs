//! How a file is judged: the one check of a written knowledge file against
//! its PART. The write step asks it whether to request a repair, the runner
//! whether the PART is done or needs review, the drop what to report,
//! `review` what to show and consolidate whether to take the file — so what
//! they say always agrees.
//!
//! A file fails when it is empty, a planned section is missing or has no
//! content, it has no sources section or no citation, a placeholder is
//! left, or a citation points nowhere (a knowledge file that does not
//! exist, a line range past its end, a URL the research step never
//! retrieved, a quote not found in the lines it cites). Shorter than
//! planned is a warning, never by itself a failure (drafts run a third
//! short and are fine).

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use crate::markdown::source::{line_range, Source};
use crate::markdown::{BlockKind, Doc};

/// What the offline writer (or any writer) puts in a planned section it
/// has nothing for: such a section is present but not filled.
pub const NOTHING_FOUND: &str = "Nothing in the evidence matched this section";

/// Placeholders a finished file must not hold.
const PLACEHOLDERS: [&str; 6] = [
    "[TIME]",
    "[DATE]",
    "TODO",
    "TBD",
    "FIXME",
    "[citation needed]",
];

/// A cited knowledge path → the file it names and its text.
pub type Resolve<'a> = dyn Fn(&str) -> Option<(String, std::sync::Arc<str>)> + 'a;

/// What the check knows beyond the file.
pub struct Context<'a> {
    /// The file's knowledge-relative path: relative links resolve from its
    /// folder, and it does not count as a source of its own.
    pub target: &'a str,
    /// A knowledge path (as cited, knowledge-relative) → the file it names
    /// and that file's text, when it exists.
    pub knowledge: &'a Resolve<'a>,
    /// URLs the research step retrieved (search results, fetched pages,
    /// evidence), when known: a cited URL outside it is fabricated. `None`
    /// (nothing recorded) leaves URLs unchecked.
    pub seen_urls: Option<&'a BTreeSet<String>>,
    /// A retrieved URL (as `url_key` writes it) → the text retrieved from
    /// it (the page, or the search result's snippet): what a quote
    /// attributed to that URL is checked against. `None`, or a URL it does
    /// not know, leaves such quotes unchecked.
    pub pages: Option<&'a Pages<'a>>,
    /// Knowledge files the plan's CITE lines name: each one that exists
    /// (and that this PART could see) must be cited.
    pub must_cite: &'a [String],
}

/// A retrieved URL → the text retrieved from it.
pub type Pages<'a> = dyn Fn(&str) -> Option<std::sync::Arc<str>> + 'a;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    Warn,
    Fail,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Problem {
    pub level: Level,
    pub message: String,
    /// The line of the file it is about, when it is about one (a citation,
    /// a quote, a placeholder): the write step sends a section's problems
    /// with that section's repair.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub line: Option<usize>,
}

/// A planned section and what the file has for it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct SectionCheck {
    pub title: String,
    /// The heading that matched, if any.
    pub heading: Option<String>,
    pub filled: bool,
}

/// One cited source and whether it holds up.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Citation {
    pub source: String,
    pub url: bool,
    pub line: usize,
    /// `None`: verified (or not checkable); `Some(why)`: points nowhere.
    pub fabricated: Option<String>,
}

/// The verdict on a file.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Verdict {
    pub lines: usize,
    pub expected_lines: Option<u32>,
    pub sections: Vec<SectionCheck>,
    pub sources_section: bool,
    pub citations: Vec<Citation>,
    pub placeholders: Vec<String>,
    pub problems: Vec<Problem>,
}

impl Verdict {
    /// Good enough: no failure (warnings allowed).
    pub fn passes(&self) -> bool {
        !self.problems.iter().any(|p| p.level == Level::Fail)
    }

    pub fn failures(&self) -> Vec<String> {
        self.of(Level::Fail)
    }

    pub fn warnings(&self) -> Vec<String> {
        self.of(Level::Warn)
    }

    fn of(&self, l: Level) -> Vec<String> {
        self.problems
            .iter()
            .filter(|p| p.level == l)
            .map(|p| p.message.clone())
            .collect()
    }

    /// Distinct URLs and knowledge files cited.
    pub fn counts(&self) -> (usize, usize) {
        let urls: BTreeSet<&str> = self
            .citations
            .iter()
            .filter(|c| c.url)
            .map(|c| c.source.as_str())
            .collect();
        let files: BTreeSet<&str> = self
            .citations
            .iter()
            .filter(|c| !c.url)
            .map(|c| c.source.split('#').next().unwrap_or(&c.source))
            .collect();
        (urls.len(), files.len())
    }

    /// Citations that hold up and those that point nowhere.
    pub fn verified_and_fabricated(&self) -> (usize, usize) {
        let bad = self
            .citations
            .iter()
            .filter(|c| c.fabricated.is_some())
            .count();
        (self.citations.len() - bad, bad)
    }

    /// The planned sections that got content.
    pub fn filled(&self) -> impl Iterator<Item = &SectionCheck> {
        self.sections.iter().filter(|s| s.filled)
    }
}

/// Words of a title that carry its meaning: lowercased, numbering, stop
/// words and plural `s` dropped.
fn words(s: &str) -> Vec<String> {
    s.to_lowercase()
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty() && !w.chars().all(|c| c.is_ascii_digit()))
        .filter(|w| {
            !matches!(
                *w,
                "a" | "an" | "the" | "and" | "of" | "for" | "to" | "in" | "on" | "with" | "vs"
            )
        })
        .map(|w| {
            let w = w.strip_suffix('s').filter(|r| r.len() > 2).unwrap_or(w);
            w.to_string()
        })
        .collect()
}

/// The one rule for "this heading is that planned section": the heading
/// holds at least two thirds of the planned title's words (numbering, case,
/// stop words and plurals aside). `## Retry` is not "Retry budgets and
/// backoff"; "3. Error Handling in Practice" is "Error handling".
pub fn section_matches(planned: &str, heading: &str) -> bool {
    let p = words(planned);
    if p.is_empty() {
        return planned.trim().eq_ignore_ascii_case(heading.trim());
    }
    let h = words(heading);
    let hit = p.iter().filter(|w| h.contains(w)).count();
    hit > 0 && hit * 3 >= p.len() * 2
}

/// Whether a heading names the sources section.
pub fn is_sources_heading(heading: &str) -> bool {
    let w = words(heading);
    matches!(
        w.iter().map(String::as_str).collect::<Vec<_>>().as_slice(),
        ["source"]
            | ["reference"]
            | ["bibliography"]
            | ["citation"]
            | ["work", "cited"]
            | ["source", "reference"]
            | ["reference", "source"]
            | ["further", "reading"]
    )
}

/// Knowledge-relative path of link `dest` in a file at `target`.
fn resolve_link(target: &str, dest: &str) -> Option<String> {
    let mut parts: Vec<&str> = match target.rfind('/') {
        Some(i) => target[..i].split('/').collect(),
        None => Vec::new(),
    };
    for seg in dest.split('/') {
        match seg {
            "" | "." => {}
            ".." => {
                parts.pop()?;
            }
            s => parts.push(s),
        }
    }
    Some(parts.join("/"))
}

/// The sources cited in `text` (a file at `target`): links, bare URLs, and
/// knowledge paths written in the text, each with its line.
pub fn citations_of(doc: &Doc, text: &str, target: &str) -> Vec<(Source, usize)> {
    let mut out: Vec<(Source, usize)> = Vec::new();
    for l in doc.links.iter().filter(|l| !l.image) {
        let (path, frag) = match l.decoded.split_once('#') {
            Some((p, f)) => (p, Some(f)),
            None => (l.decoded.as_str(), None),
        };
        if crate::markdown::source::is_url(&l.dest) {
            out.push((Source::Url(l.dest.clone()), l.line));
        } else if path.ends_with(".md") && !path.contains("://") {
            if let Some(p) = resolve_link(target, path) {
                // `[a.md](a.md#L3-L9)` or `[a.md](a.md), lines 3–9`.
                let rest = &text[l.range.end.min(text.len())..];
                let rest = &rest[..rest.find('\n').unwrap_or(rest.len())];
                let lines = frag
                    .and_then(|f| line_range(&format!("#{f}")))
                    .or_else(|| line_range(rest));
                out.push((Source::Knowledge { path: p, lines }, l.line));
            }
        }
    }
    for (u, line) in &doc.bare_urls {
        out.push((Source::Url(u.clone()), *line));
    }
    // Paths written as text: outside code blocks and links.
    let mut blank: Vec<std::ops::Range<usize>> =
        doc.links.iter().map(|l| l.range.clone()).collect();
    for &(a, b) in &doc.code {
        blank.push(doc.line_range(a, b));
    }
    blank.sort_by_key(|r| r.start);
    let mut at = 0;
    let mut spans = Vec::new();
    for r in &blank {
        if r.start > at {
            spans.push(at..r.start);
        }
        at = at.max(r.end);
    }
    spans.push(at..text.len());
    for span in spans {
        let s = &text[span.clone()];
        let mut from = 0;
        while let Some(i) = s[from..].find(".md") {
            let end = from + i + 3;
            // The token before `.md`: path characters back to a space, a
            // backtick or a bracket.
            let start = s[..end]
                .rfind(|c: char| {
                    c.is_whitespace() || matches!(c, '`' | '(' | '[' | '"' | '\'' | '<' | '*')
                })
                .map_or(0, |k| k + 1);
            let token = &s[start..end];
            from = end;
            let next = s[end..].chars().next();
            if next.is_some_and(|c| c.is_alphanumeric() || c == '/') {
                continue; // `.mdx`, `x.md/y`
            }
            if !token.contains('/') || token.contains("://") {
                continue;
            }
            let path = token.trim_start_matches("./");
            if path.starts_with('/') || path.split('/').any(|p| p == "..") {
                continue;
            }
            let lines = line_range(&s[end..]);
            let line = doc.line_of(span.start + start);
            out.push((
                Source::Knowledge {
                    path: path.to_string(),
                    lines,
                },
                line,
            ));
        }
    }
    out.sort_by(|a, b| a.1.cmp(&b.1).then_with(|| a.0.cmp(&b.0)));
    out.dedup();
    out
}

/// A URL as compared with what was retrieved: no fragment, no trailing
/// slash, scheme and host in lower case.
pub fn url_key(u: &str) -> String {
    let u = u.split('#').next().unwrap_or(u).trim_end_matches('/');
    match u.find("://") {
        Some(i) => {
            let rest = &u[i + 3..];
            let host_end = rest.find('/').unwrap_or(rest.len());
            format!(
                "{}://{}{}",
                u[..i].to_ascii_lowercase(),
                rest[..host_end].to_ascii_lowercase(),
                &rest[host_end..]
            )
        }
        None => u.to_string(),
    }
}

fn normalize_ws(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Check `text`, the file written for a PART whose planned sections are
/// `planned` and expected length `expected` lines.
pub fn check(planned: &[&str], expected: Option<u32>, text: &str, ctx: &Context) -> Verdict {
    let doc = Doc::parse(text);
    let mut v = Verdict {
        lines: doc.line_count(),
        expected_lines: expected,
        ..Verdict::default()
    };
    let fail_at = |v: &mut Verdict, line: Option<usize>, m: String| {
        v.problems.push(Problem {
            level: Level::Fail,
            message: m,
            line,
        })
    };
    let fail = |v: &mut Verdict, m: String| fail_at(v, None, m);
    if text.trim().is_empty() {
        fail(&mut v, "the file is empty".into());
        return v;
    }
    let sections = doc.sections();
    // Planned sections: the first heading that matches, and its content.
    for title in planned {
        let found = sections
            .iter()
            .find(|(h, _, _)| section_matches(title, &doc.headings[*h].text));
        let (heading, filled) = match found {
            Some(&(h, first, last)) => {
                let body = &text[doc.line_range(first + 1, last)];
                let content: usize = body
                    .lines()
                    .filter(|l| !l.contains(NOTHING_FOUND))
                    .map(|l| {
                        l.trim_start_matches('#')
                            .split_whitespace()
                            .map(str::len)
                            .sum::<usize>()
                    })
                    .sum();
                (Some(doc.headings[h].text.clone()), content >= 20)
            }
            None => (None, false),
        };
        match (&heading, filled) {
            (None, _) => fail(&mut v, format!("missing planned section `{title}`")),
            (Some(h), false) => fail(
                &mut v,
                format!("planned section `{title}` (`## {h}`) has no content"),
            ),
            _ => {}
        }
        v.sections.push(SectionCheck {
            title: title.to_string(),
            heading,
            filled,
        });
    }
    // The sources section, and citations.
    let sources_at = doc
        .headings
        .iter()
        .find(|h| is_sources_heading(&h.text))
        .map(|h| h.line);
    v.sources_section = sources_at.is_some();
    if !v.sources_section {
        fail(&mut v, "no sources section (`## Sources`)".into());
    }
    let mut cites = citations_of(&doc, text, ctx.target);
    // A file naming itself cites nothing.
    cites.retain(|(s, _)| !matches!(s, Source::Knowledge { path, .. } if path == ctx.target));
    // A quote attributed to knowledge lines is checked against them (below);
    // the URLs and links inside it are the quoted file's, not this file's.
    let quotes: Vec<(usize, usize, usize)> = doc
        .blocks
        .iter()
        .filter(|b| b.kind == BlockKind::Quote)
        .filter_map(|b| attribution(&cites, b).map(|(_, at)| (b.first, b.last, at)))
        .collect();
    cites.retain(|(_, l)| {
        !quotes
            .iter()
            .any(|&(a, z, at)| a <= *l && *l <= z && *l != at)
    });
    let mut seen_files: BTreeMap<String, Option<(String, std::sync::Arc<str>)>> = BTreeMap::new();
    for (src, line) in &cites {
        let fabricated = match src {
            Source::Url(u) => ctx.seen_urls.and_then(|seen| {
                (!seen.contains(&url_key(u)))
                    .then(|| "never retrieved by the research step".to_string())
            }),
            Source::Knowledge { path, lines } => {
                let found = seen_files
                    .entry(path.clone())
                    .or_insert_with(|| (ctx.knowledge)(path))
                    .clone();
                match (found, lines) {
                    (None, _) => Some("no such knowledge file".to_string()),
                    (Some((_, body)), Some((_, b))) => {
                        let n = crate::markdown::line_starts(&body).len()
                            - usize::from(body.ends_with('\n'));
                        (*b > n).then(|| format!("lines past its end (it has {n})"))
                    }
                    (Some(_), None) => None,
                }
            }
        };
        if let Some(why) = &fabricated {
            fail_at(
                &mut v,
                Some(*line),
                format!("line {line}: `{src}` points nowhere: {why}"),
            );
        }
        v.citations.push(Citation {
            source: src.to_string(),
            url: src.is_url(),
            line: *line,
            fabricated,
        });
    }
    // What the plan's CITE lines name ("CITE: Files 1,5,9 explicitly").
    let cited: BTreeSet<String> = seen_files
        .values()
        .flatten()
        .map(|(p, _)| p.clone())
        .collect();
    for want in ctx.must_cite {
        if let Some((path, _)) = (ctx.knowledge)(want) {
            if !cited.contains(&path) && path != ctx.target {
                fail(
                    &mut v,
                    format!("`{path}` is not cited, and the plan's CITE line asks for it"),
                );
            }
        }
    }
    // A citation in the body, not only a list of sources.
    let in_body = cites
        .iter()
        .any(|(_, l)| sources_at.map_or(true, |at| *l < at));
    if !in_body {
        fail(
            &mut v,
            "no citation in the text (a link to a source or a knowledge file path)".into(),
        );
    }
    // Quotes: a blockquote attributed to knowledge lines must hold text of
    // those lines; one attributed to a URL, text of the page retrieved
    // from it (when the research step kept its text). Quotes found there
    // are the source's words (a placeholder in them is not the writer's).
    let mut verified_quotes: Vec<(usize, usize)> = Vec::new();
    for b in doc.blocks.iter().filter(|b| b.kind == BlockKind::Quote) {
        let Some((src, at)) = attribution(&cites, b) else {
            continue;
        };
        let (cited, shown) = match src {
            Source::Knowledge {
                path,
                lines: Some((a, z)),
            } => {
                let Some(Some((_, body))) = seen_files.get(path) else {
                    continue;
                };
                let starts = crate::markdown::line_starts(body);
                let from = starts.get(a - 1).copied().unwrap_or(body.len());
                let to = starts.get(*z).copied().unwrap_or(body.len());
                // Link targets are compared without their destinations: a
                // quote moved to another folder has its relative links rebased.
                (
                    normalize_ws(&drop_link_targets(&body[from..to.max(from)])),
                    format!("`{path}` lines {a}-{z}"),
                )
            }
            Source::Url(u) => {
                let Some(page) = ctx.pages.and_then(|pages| pages(&url_key(u))) else {
                    continue;
                };
                (plain(&page), format!("the page retrieved from {u}"))
            }
            Source::Knowledge { lines: None, .. } => continue,
        };
        let quoted: Vec<String> = text[b.range.clone()]
            .lines()
            .map(|l| l.trim_start().trim_start_matches('>').trim())
            .filter(|l| !l.is_empty() && !l.starts_with('—') && !l.starts_with("-- "))
            .map(|l| l.to_string())
            .collect();
        let found = |q: &str| match src {
            Source::Url(_) => cited.contains(&plain(q)),
            _ => cited.contains(q) || cited.contains(&strip_inline(q)),
        };
        let missing = quoted
            .iter()
            .map(|q| normalize_ws(&drop_link_targets(q)))
            .filter(|q| q.len() >= 12)
            .find(|q| !found(q));
        if missing.is_none() {
            verified_quotes.push((b.first, b.last));
        }
        if let Some(q) = missing {
            let short: String = q.chars().take(60).collect();
            fail_at(
                &mut v,
                Some(b.first),
                format!(
                    "line {}: quoted text not found in {shown}: \"{short}…\"",
                    b.first
                ),
            );
            let key = src.to_string();
            if let Some(c) = v
                .citations
                .iter_mut()
                .find(|c| c.source == key && c.line == at)
            {
                c.fabricated
                    .get_or_insert_with(|| "the quote is not in the source it cites".into());
            }
        }
    }
    // Placeholders, outside code and outside verified quotes (a `TBD` in a
    // quoted table is the source's, not a gap the writer left).
    for (i, l) in text.lines().enumerate() {
        let n = i + 1;
        if doc.in_code(n) || verified_quotes.iter().any(|&(a, z)| a <= n && n <= z) {
            continue;
        }
        for p in PLACEHOLDERS {
            let hit = if p.starts_with('[') {
                l.contains(p)
            } else {
                l.split(|c: char| !c.is_alphanumeric()).any(|w| w == p)
            };
            if hit && !v.placeholders.iter().any(|x| x == p) {
                v.placeholders.push(p.to_string());
                fail_at(
                    &mut v,
                    Some(i + 1),
                    format!("line {}: placeholder `{p}` left", i + 1),
                );
            }
        }
    }
    if let Some(e) = expected {
        if (v.lines as u64) * 3 < u64::from(e) * 2 {
            v.problems.push(Problem {
                level: Level::Warn,
                message: format!("shorter than planned: {} of ~{e} lines", v.lines),
                line: None,
            });
        }
    }
    v
}

/// What a blockquote is attributed to: a citation on the line or two after
/// it (`— from [x](a.md), lines 3–9`, `— [Tokio docs](https://tokio.rs/…)`),
/// else on its own last line; knowledge lines first, else a URL. The one
/// after wins: a quote of a quote carries the inner attribution on its last
/// line.
fn attribution<'a>(
    cites: &'a [(Source, usize)],
    b: &crate::markdown::Block,
) -> Option<(&'a Source, usize)> {
    let ranged = |(s, _): &&(Source, usize)| matches!(s, Source::Knowledge { lines: Some(_), .. });
    let url = |(s, _): &&(Source, usize)| s.is_url();
    let after = || {
        cites
            .iter()
            .filter(|(_, l)| *l > b.last && *l <= b.last + 2)
    };
    let on_last = || cites.iter().filter(|(_, l)| *l == b.last);
    after()
        .find(ranged)
        .or_else(|| on_last().find(ranged))
        .or_else(|| after().find(url))
        .or_else(|| on_last().find(url))
        .map(|(s, l)| (s, *l))
}

/// Text as a reader sees it, for comparing a quote with a page: link
/// targets, emphasis and code marks dropped, typographic quotes made plain,
/// whitespace normalised. The page is markdown converted from HTML, the
/// quote markdown written by a model; neither keeps the other's markup.
fn plain(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            // `](target)`: keep the link text, drop the target.
            ']' if chars.peek() == Some(&'(') => {
                let mut depth = 0;
                for d in chars.by_ref() {
                    match d {
                        '(' => depth += 1,
                        ')' => {
                            depth -= 1;
                            if depth == 0 {
                                break;
                            }
                        }
                        _ => {}
                    }
                }
            }
            '[' | ']' | '*' | '_' | '`' => {}
            '\u{201c}' | '\u{201d}' => out.push('"'),
            '\u{2018}' | '\u{2019}' => out.push('\''),
            c => out.push(c),
        }
    }
    normalize_ws(&out)
}

/// `[text](dest)` as `[text]`: the words of a link without where it points.
fn drop_link_targets(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(i) = rest.find("](") {
        out.push_str(&rest[..=i]);
        let after = &rest[i + 2..];
        let mut depth = 1usize;
        let end = after.char_indices().find_map(|(k, c)| {
            match c {
                '(' => depth += 1,
                ')' => depth -= 1,
                '\n' => return Some(None),
                _ => {}
            }
            (depth == 0).then_some(Some(k))
        });
        match end.flatten() {
            Some(k) => rest = &after[k + 1..],
            None => {
                out.push_str("](");
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

/// A quote line with its inline markup (`*`, `_`, backticks) removed, for
/// quotes of markdown whose emphasis the writer dropped.
fn strip_inline(s: &str) -> String {
    s.chars()
        .filter(|c| !matches!(c, '*' | '_' | '`'))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    fn kb(path: &str) -> Option<(String, Arc<str>)> {
        match path {
            "rust-cli/00-x.md" => Some((
                path.into(),
                Arc::from("# X\n\nclap is a parser.\nIt derives.\n"),
            )),
            "http/00-client.md" => Some((path.into(), Arc::from("# C\n\nreqwest\n"))),
            _ => None,
        }
    }

    fn page(url: &str) -> Option<Arc<str>> {
        (url == "https://tokio.rs/guide").then(|| {
            Arc::from("# Guide\n\nA [semaphore](https://docs.rs/x) *limits* how many\ntasks run at once.\n")
        })
    }

    fn run(planned: &[&str], text: &str, seen: Option<&BTreeSet<String>>) -> Verdict {
        check(
            planned,
            Some(30),
            text,
            &Context {
                target: "rust-cli/05-new.md",
                knowledge: &kb,
                seen_urls: seen,
                pages: Some(&page),
                must_cite: &[],
            },
        )
    }

    /// "CITE: Files 1,5 explicitly": a named file the text does not cite
    /// fails the check; a named file that does not exist is not asked for.
    #[test]
    fn files_the_plan_says_to_cite_must_be_cited() {
        let text = "# New\n\n## Parsers\n\nclap derives (rust-cli/00-x.md, lines 3-4).\n\n## Sources\n\n- rust-cli/00-x.md\n";
        let must = |m: &[String]| {
            check(
                &["Parsers"],
                None,
                text,
                &Context {
                    target: "rust-cli/05-new.md",
                    knowledge: &kb,
                    seen_urls: None,
                    pages: None,
                    must_cite: m,
                },
            )
        };
        assert!(must(&["rust-cli/00-x.md".into(), "gone/00-y.md".into()]).passes());
        let v = must(&["rust-cli/00-x.md".into(), "http/00-client.md".into()]);
        assert_eq!(
            v.failures(),
            vec![
                "`http/00-client.md` is not cited, and the plan's CITE line asks for it"
                    .to_string()
            ]
        );
    }

    #[test]
    fn section_matching_edges_both_ways() {
        for (planned, heading) in [
            ("Error handling", "3. Error Handling in Practice"),
            ("The clap derive API", "Clap derive API"),
            (
                "Retry budgets and backoff",
                "Retry budgets and exponential backoff",
            ),
            ("Overview", "Overview"),
            ("Tokens", "2. Token"),
        ] {
            assert!(section_matches(planned, heading), "{planned} ~ {heading}");
        }
        for (planned, heading) in [
            ("Retry budgets and backoff", "Retry"),
            ("Error handling", "E"),
            ("Error handling", "Testing"),
            ("Clap derive", "Sources"),
        ] {
            assert!(!section_matches(planned, heading), "{planned} !~ {heading}");
        }
        assert!(is_sources_heading("7. Sources") && is_sources_heading("References"));
        assert!(is_sources_heading("Bibliography") && is_sources_heading("Works Cited"));
        assert!(!is_sources_heading("Open source tools"));
    }

    #[test]
    fn a_good_file_passes_and_counts_its_citations() {
        let t = "# New\n\n## Clap derive\n\nclap is a parser ([x](00-x.md#L3-L4)), see https://docs.rs/clap.\n\n## Sources\n\n- `rust-cli/00-x.md` lines 3-4\n- https://docs.rs/clap\n";
        let v = run(&["Clap derive"], t, None);
        assert!(v.passes(), "{:?}", v.problems);
        assert_eq!(v.counts(), (1, 1));
        assert_eq!(v.verified_and_fabricated(), (4, 0));
        assert_eq!(v.warnings(), ["shorter than planned: 10 of ~30 lines"]);
    }

    #[test]
    fn what_the_writer_check_once_let_through_fails() {
        // `## Retry` for "Retry budgets and backoff", a `~~~` inside a
        // backtick fence, a bibliography heading.
        let t = "# T\n\n## Retry\n\nBackoff doubles https://a.example/x.\n\n```\n~~~\n```\n\n## Bibliography\n\n- https://a.example/x\n";
        let v = run(&["Retry budgets and backoff"], t, None);
        assert_eq!(
            v.failures(),
            ["missing planned section `Retry budgets and backoff`"]
        );
        let t2 = t.replace("## Retry\n", "## Retry budgets and backoff\n");
        assert!(run(&["Retry budgets and backoff"], &t2, None).passes());
    }

    #[test]
    fn empty_sections_fabricated_citations_and_placeholders_fail() {
        let t = format!(
            "# T\n\n## A part\n\n*{NOTHING_FOUND}.*\n\n## B part\n\nSee [m](../gone/01-missing.md) and `rust-cli/00-x.md` lines 2-90 and https://never.example/p. TODO\n\n> a sentence that is nowhere at all here\n> — from [x](00-x.md#L3-L4)\n\n## Sources\n- [TIME]\n"
        );
        let seen = BTreeSet::from(["https://docs.rs/clap".to_string()]);
        let v = run(&["A part", "B part"], &t, Some(&seen));
        let f = v.failures().join("\n");
        for want in [
            "planned section `A part` (`## A part`) has no content",
            "`gone/01-missing.md` points nowhere: no such knowledge file",
            "`rust-cli/00-x.md#L2-L90` points nowhere: lines past its end (it has 4)",
            "`https://never.example/p` points nowhere: never retrieved",
            "quoted text not found in `rust-cli/00-x.md` lines 3-4",
            "placeholder `TODO` left",
            "placeholder `[TIME]` left",
        ] {
            assert!(f.contains(want), "missing {want:?} in\n{f}");
        }
        assert_eq!(v.filled().count(), 1);
        assert_eq!(v.verified_and_fabricated().1, 4);
    }

    #[test]
    fn quotes_of_a_page_are_checked_against_its_text() {
        let seen = BTreeSet::from(["https://tokio.rs/guide".to_string()]);
        let good = "# T\n\n## Limits\n\n> A semaphore limits how many tasks run\n> at once.\n>\n> — [Tokio guide](https://tokio.rs/guide)\n\n## Sources\n- https://tokio.rs/guide\n";
        let v = run(&["Limits"], good, Some(&seen));
        assert!(v.passes(), "{:?}", v.problems);
        let bad = good.replace("how many tasks", "how many threads");
        let v = run(&["Limits"], &bad, Some(&seen));
        assert_eq!(
            v.failures(),
            ["line 5: quoted text not found in the page retrieved from https://tokio.rs/guide: \"A semaphore limits how many threads run…\""]
        );
        assert_eq!(v.problems[0].line, Some(5));
        assert_eq!(v.verified_and_fabricated(), (1, 1));
    }

    #[test]
    fn a_quote_attributed_after_its_link_is_checked_and_its_urls_are_the_sources() {
        // The offline writer's form: `— from [path](rel), lines a–b`. The
        // quote's own link was rebased and its URL is the quoted file's.
        let kb2 = |path: &str| {
            match path {
            "rust-cli/00-x.md" => Some((
                path.to_string(),
                Arc::from("# X\n\nclap is a parser, per [the book](01-book.md).\nSee https://clap.example/x (TBD).\n"),
            )),
            _ => None,
        }
        };
        let check_with = |quote: &str| {
            let t = format!(
                "# T\n\n## Clap\n\n{quote}\n\n— from [rust-cli/00-x.md](00-x.md), lines 3–4\n\n## Sources\n- `rust-cli/00-x.md`\n"
            );
            check(
                &["Clap"],
                None,
                &t,
                &Context {
                    target: "rust-cli/05-new.md",
                    knowledge: &kb2,
                    seen_urls: Some(&BTreeSet::new()),
                    pages: None,
                    must_cite: &[],
                },
            )
        };
        let good = check_with(
            "> clap is a parser, per [the book](../rust-cli/01-book.md).\n> See https://clap.example/x (TBD).",
        );
        assert!(good.passes(), "{:?}", good.problems);
        // A placeholder in a quote the source does not have is the writer's.
        let own = check_with("> clap is a parser, per [the book](../rust-cli/01-book.md). TBD");
        assert!(own
            .failures()
            .iter()
            .any(|f| f == "line 5: placeholder `TBD` left"));
        let bad = check_with("> clap is a parser, per the author of this very file.");
        assert_eq!(
            bad.failures(),
            ["line 5: quoted text not found in `rust-cli/00-x.md` lines 3-4: \"clap is a parser, per the author of this very file.…\""]
        );
    }

    #[test]
    fn a_knowledge_folder_named_http_is_knowledge() {
        let t = "# T\n\n## Client\n\nreqwest, per `http/00-client.md` line 3 of the base.\n\n## Sources\n- `http/00-client.md`\n";
        let v = run(&["Client"], t, Some(&BTreeSet::new()));
        assert!(v.passes(), "{:?}", v.problems);
        assert_eq!(v.counts(), (0, 1));
    }
}
