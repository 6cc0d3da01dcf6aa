//! Drafting a plan (`expand new`): an outline placed in the base it will
//! grow. The outline (a person's markdown list or a model's checked JSON,
//! `outline`) becomes numbered PARTs whose targets continue the best
//! matching folder, whose Step 0 reads the existing files most relevant to
//! them (found with the runner's own index), each checked for overlap with
//! what the base already covers (`overlap`), written out in the plan
//! format the parser reads (`render`).

pub mod outline;
pub mod overlap;
pub mod render;

use std::collections::{BTreeMap, BTreeSet, HashSet};

use crate::knowledge::bm25::Bm25;
use crate::knowledge::scan::KnowledgeBase;
use outline::{Outline, OutlinePart};
use overlap::{Overlap, Probe};

/// Lines a PART plans when the outline says nothing.
pub const DEFAULT_PART_LINES: u32 = 300;
/// Most files in the influential list.
const MAX_INFLUENTIAL: usize = 10;
/// Influential files each PART reads in Step 0.
const READS_PER_PART: usize = 3;
/// A file whose best passage scores under this share of the query's best
/// one is too far from the query to read for it.
const MIN_RELATIVE: f32 = 0.3;
/// Least overlap score (see `overlap`) of a file a PART reads in Step 0.
const MIN_READ_COVERAGE: f32 = 0.25;
/// Passages searched per query when ranking files.
const HITS: usize = 50;

/// What to draft.
#[derive(Clone, Debug)]
pub struct Request {
    pub topic: String,
    pub outline: Outline,
    /// `--folder`, knowledge-relative; else the best-matching one.
    pub folder: Option<String>,
    pub batch_size: usize,
    pub skip_covered: bool,
    /// Targets other pending plans will write: their numbers are taken too.
    pub planned: Vec<String>,
    /// `YYYY-MM-DD` for the header and drop names.
    pub date: String,
}

/// A planned section.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DraftSection {
    pub title: String,
    pub lines: u32,
    pub brief: Vec<String>,
}

/// An existing file a PART reads in Step 0, with why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Read {
    pub path: String,
    pub note: String,
    /// Its number in the influential list.
    pub file: u32,
}

#[derive(Clone, Debug)]
pub struct DraftPart {
    pub number: u32,
    /// The outline line it came from (0 for a model's outline).
    pub outline_line: usize,
    pub title: String,
    /// Knowledge-relative path.
    pub target: String,
    pub lines: u32,
    pub sections: Vec<DraftSection>,
    pub queries: Vec<String>,
    pub reads: Vec<Read>,
    pub overlaps: Vec<Overlap>,
}

/// An entry of the influential-files list.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Influential {
    pub path: String,
    pub description: String,
}

/// The drafted plan: its parts as placed, and its text.
#[derive(Clone, Debug)]
pub struct Draft {
    pub title: String,
    pub topic: String,
    pub folder: String,
    /// Why the folder: `given`, `best match` or `new`.
    pub folder_reason: &'static str,
    pub influential: Vec<Influential>,
    pub parts: Vec<DraftPart>,
    /// PARTs of the outline left out by `--skip-covered`, with what covers them.
    pub skipped: Vec<(String, Vec<Overlap>)>,
    /// PART numbers per batch, in order.
    pub batches: Vec<Vec<u32>>,
    pub date: String,
    /// The plan, as it will be written.
    pub text: String,
}

impl Draft {
    pub fn total_lines(&self) -> u64 {
        self.parts.iter().map(|p| u64::from(p.lines)).sum()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum DraftError {
    #[error("the outline has no PARTs")]
    Empty,
    #[error("every PART of the outline is covered by existing files; --skip-covered left none")]
    AllCovered,
    #[error("folder `{0}` {1}")]
    BadFolder(String, &'static str),
}

/// `Hello, World!` → `hello-world`: names of plans, folders and files.
pub fn slugify(s: &str) -> String {
    let mut out = String::new();
    for c in s.chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_lowercase());
        } else if !out.ends_with('-') && !out.is_empty() {
            out.push('-');
        }
    }
    let mut out = out.trim_end_matches('-').to_string();
    if out.len() > 60 {
        out.truncate(60);
        out = out.trim_end_matches('-').to_string();
    }
    out
}

/// Place an outline in the base and write the plan.
pub fn draft(kb: &KnowledgeBase, index: &Bm25, req: Request) -> Result<Draft, DraftError> {
    if req.outline.parts.is_empty() {
        return Err(DraftError::Empty);
    }
    let batch_size = req.batch_size.max(1);
    // Overlaps first: --skip-covered decides which PARTs get numbers.
    let none = HashSet::new();
    let mut kept: Vec<(&OutlinePart, Vec<Overlap>)> = Vec::new();
    let mut skipped = Vec::new();
    for p in &req.outline.parts {
        let scores = overlap::scores(index, &probe(p), &none);
        let v = overlap::covering(&scores);
        if req.skip_covered && !v.is_empty() {
            skipped.push((p.title.clone(), v));
        } else {
            kept.push((p, scores));
        }
    }
    if kept.is_empty() {
        return Err(DraftError::AllCovered);
    }

    let (folder, folder_reason) = match &req.folder {
        Some(f) => {
            let f = f.trim().trim_matches('/').to_string();
            if let Err(why) = crate::fsutil::check_relative(&f) {
                return Err(DraftError::BadFolder(f, why));
            }
            (f, "given")
        }
        None => choose_folder(&req.topic, &kept),
    };

    // Numbers: after every one used in the folder, by a file or a plan.
    let mut used: BTreeSet<u32> = BTreeSet::new();
    let mut width = 2;
    let planned = req.planned.iter().map(String::as_str);
    for path in kb.files().iter().map(|f| f.path.as_str()).chain(planned) {
        let (dir, name) = path.rsplit_once('/').unwrap_or(("", path));
        if dir != folder {
            continue;
        }
        let num: String = name.chars().take_while(|c| c.is_ascii_digit()).collect();
        if let Ok(n) = num.parse::<u32>() {
            used.insert(n);
            width = width.max(num.len());
        }
    }
    let first = used.iter().next_back().map_or(0, |n| n + 1);

    let influential = influential(kb, index, &req.topic, &kept);
    let mut names: HashSet<String> = HashSet::new();
    let mut parts = Vec::new();
    for (i, (p, scores)) in kept.iter().enumerate() {
        let number = first + i as u32;
        let base = p
            .file
            .clone()
            .unwrap_or_else(|| format!("{}.md", slugify_or(&p.title, "part")));
        let mut name = base.clone();
        let mut k = 2;
        while !names.insert(name.clone()) {
            name = format!("{}-{k}.md", base.trim_end_matches(".md"));
            k += 1;
        }
        let target = if folder.is_empty() {
            format!("{number:0width$}-{name}")
        } else {
            format!("{folder}/{number:0width$}-{name}")
        };
        let (lines, sections) = lines_and_sections(p);
        parts.push(DraftPart {
            number: i as u32 + 1,
            outline_line: p.line,
            title: p.title.clone(),
            target,
            lines,
            sections,
            queries: queries(&req.topic, p),
            reads: reads(index, &influential, p, scores),
            overlaps: overlap::covering(scores),
        });
    }
    let batches: Vec<Vec<u32>> = parts
        .chunks(batch_size)
        .map(|c| c.iter().map(|p| p.number).collect())
        .collect();
    let title = req
        .outline
        .title
        .clone()
        .unwrap_or_else(|| req.topic.trim().to_string());
    let mut d = Draft {
        title,
        topic: req.topic.trim().to_string(),
        folder,
        folder_reason,
        influential,
        parts,
        skipped,
        batches,
        date: req.date,
        text: String::new(),
    };
    d.text = render::render(&d);
    Ok(d)
}

/// What the parser reads back from the draft's text that is not what was
/// drafted: PART titles, targets, sections and queries compared one by
/// one. Outline text can carry what the plan format reads as something
/// else (a title saying `Create x.md` names a target); such a draft must
/// not be written.
pub fn read_back(d: &Draft, plan: &crate::plan::Plan) -> Vec<(usize, String)> {
    let mut v = Vec::new();
    if plan.parts.len() != d.parts.len() {
        v.push((
            0,
            format!(
                "{} PARTs drafted, {} read back",
                d.parts.len(),
                plan.parts.len()
            ),
        ));
    }
    for p in &d.parts {
        let Some(got) = plan.part(p.number) else {
            v.push((
                p.outline_line,
                format!("PART {} is not read back", p.number),
            ));
            continue;
        };
        let n = p.number;
        let mut push = |m: String| v.push((p.outline_line, m));
        let title = one_line(&p.title);
        if got.title != title {
            push(format!(
                "PART {n}: title `{title}` reads back as `{}`",
                got.title
            ));
        }
        if got.target.as_deref() != Some(p.target.as_str()) {
            push(format!(
                "PART {n}: target `{}` reads back as `{}`",
                p.target,
                got.target.as_deref().unwrap_or("none")
            ));
        }
        let sections: Vec<&str> = got.sections().map(|s| &*s.title).collect();
        let want: Vec<&str> = p.sections.iter().map(|s| s.title.as_str()).collect();
        if sections != want {
            push(format!(
                "PART {n}: sections {want:?} read back as {sections:?}"
            ));
        }
        let queries: Vec<&str> = got.queries().collect();
        if queries != p.queries.iter().map(String::as_str).collect::<Vec<_>>() {
            push(format!(
                "PART {n}: queries {:?} read back as {queries:?}",
                p.queries
            ));
        }
    }
    v
}

fn slugify_or(s: &str, or: &str) -> String {
    let s = slugify(s);
    if s.is_empty() {
        or.to_string()
    } else {
        s
    }
}

fn probe(p: &OutlinePart) -> Probe {
    Probe {
        title: p.title.clone(),
        sections: p
            .sections
            .iter()
            .map(|s| {
                let mut t = s.title.clone();
                for b in &s.brief {
                    t.push(' ');
                    t.push_str(b);
                }
                t
            })
            .collect(),
        queries: p.queries.clone(),
    }
}

/// The PART as one search query: title and section titles.
fn part_query(p: &OutlinePart) -> String {
    let mut q = p.title.clone();
    for s in &p.sections {
        q.push(' ');
        q.push_str(&s.title);
    }
    q
}

/// Each file's best passage score for `query`, scaled so the best file is 1.
fn file_scores(index: &Bm25, query: &str) -> BTreeMap<String, (f32, Option<String>)> {
    let mut best: BTreeMap<String, (f32, Option<String>)> = BTreeMap::new();
    let hits = index.search(query, HITS);
    let top = hits.first().map_or(0.0, |h| h.1);
    if top <= 0.0 {
        return best;
    }
    for (i, s) in hits {
        let p = index.passage(i);
        let e = best
            .entry(p.source.clone())
            .or_insert((0.0, p.heading.clone()));
        if s / top > e.0 {
            *e = (s / top, p.heading.clone());
        }
    }
    best
}

/// The folder of the files that cover the PARTs best, or a new folder
/// named after the topic: each PART votes for the folder of the file that
/// covers it most (when it covers it at least [`FOLDER_MATCH`]); most
/// votes wins, then the higher summed coverage, then the name.
fn choose_folder(topic: &str, kept: &[(&OutlinePart, Vec<Overlap>)]) -> (String, &'static str) {
    let mut votes: BTreeMap<&str, (usize, f32)> = BTreeMap::new();
    for (_, scores) in kept {
        let Some(best) = scores.first().filter(|o| o.score >= FOLDER_MATCH) else {
            continue;
        };
        let Some((dir, _)) = best.path.rsplit_once('/') else {
            continue;
        };
        let e = votes.entry(dir).or_insert((0, 0.0));
        e.0 += 1;
        e.1 += best.score;
    }
    let best = votes.into_iter().max_by(|a, b| {
        a.1 .0
            .cmp(&b.1 .0)
            .then(a.1 .1.total_cmp(&b.1 .1))
            .then(b.0.cmp(a.0))
    });
    match best {
        Some((dir, _)) => (dir.to_string(), "best match"),
        None => (slugify_or(topic, "new-topic"), "new"),
    }
}

/// Coverage from which a folder is the topic's home (see `overlap`).
const FOLDER_MATCH: f32 = 0.3;

/// The influential files: for the topic and for each PART, the files its
/// search ranks first; ordered by their summed (per-query scaled) score.
fn influential(
    kb: &KnowledgeBase,
    index: &Bm25,
    topic: &str,
    kept: &[(&OutlinePart, Vec<Overlap>)],
) -> Vec<Influential> {
    let mut queries = vec![topic.to_string()];
    queries.extend(kept.iter().map(|(p, _)| part_query(p)));
    let mut total: BTreeMap<String, f32> = BTreeMap::new();
    let mut candidates: BTreeSet<String> = BTreeSet::new();
    for q in &queries {
        let s = file_scores(index, q);
        let mut ranked: Vec<(&String, f32)> = s.iter().map(|(f, (v, _))| (f, *v)).collect();
        ranked.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(b.0)));
        for (f, _) in ranked
            .iter()
            .filter(|(_, v)| *v >= MIN_RELATIVE)
            .take(READS_PER_PART)
        {
            candidates.insert((*f).clone());
        }
        for (f, v) in ranked {
            *total.entry(f.clone()).or_insert(0.0) += v;
        }
    }
    let mut v: Vec<(String, f32)> = candidates
        .into_iter()
        .map(|f| {
            let s = total.get(&f).copied().unwrap_or(0.0);
            (f, s)
        })
        .collect();
    v.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    v.truncate(MAX_INFLUENTIAL);
    v.into_iter()
        .map(|(path, _)| {
            let description = kb
                .get(&path)
                .and_then(|f| crate::markdown::title(f.text()))
                .unwrap_or_else(|| path.rsplit('/').next().unwrap_or(&path).to_string());
            Influential {
                description: one_line(&description),
                path,
            }
        })
        .collect()
}

/// The existing files the runner's search ranks first for `topic`: what a
/// model drafting the outline is told the base already has.
pub fn known(kb: &KnowledgeBase, index: &Bm25, topic: &str) -> Vec<Influential> {
    influential(kb, index, topic, &[])
}

/// Text safe on one plan line: no newlines, no backticks.
pub fn one_line(s: &str) -> String {
    s.split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .replace('`', "'")
}

/// Step 0 of a PART: the influential files its own search ranks highest,
/// of those that hold at least some of what it is about (`coverage`, the
/// overlap check's scores): a PART on something the base lacks reads
/// nothing rather than whatever ranked first.
fn reads(
    index: &Bm25,
    influential: &[Influential],
    p: &OutlinePart,
    coverage: &[Overlap],
) -> Vec<Read> {
    let s = file_scores(index, &part_query(p));
    let covers = |path: &str| {
        coverage
            .iter()
            .any(|o| o.path == path && o.score >= MIN_READ_COVERAGE)
    };
    let mut v: Vec<(usize, f32, Option<String>)> = influential
        .iter()
        .enumerate()
        .filter(|(_, f)| covers(&f.path))
        .filter_map(|(i, f)| s.get(&f.path).map(|(sc, h)| (i, *sc, h.clone())))
        .filter(|(_, sc, _)| *sc >= MIN_RELATIVE)
        .collect();
    v.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    v.truncate(READS_PER_PART);
    v.into_iter()
        .map(|(i, _, heading)| Read {
            path: influential[i].path.clone(),
            note: one_line(&heading.unwrap_or_else(|| influential[i].description.clone()))
                .replace(['(', ')'], ""),
            file: i as u32 + 1,
        })
        .collect()
}

/// A PART's length and its sections' lengths: what the outline says, the
/// rest shared out so the sections add up to the PART.
fn lines_and_sections(p: &OutlinePart) -> (u32, Vec<DraftSection>) {
    let given: u32 = p.sections.iter().filter_map(|s| s.lines).sum();
    let open = p.sections.iter().filter(|s| s.lines.is_none()).count() as u32;
    let total = match p.lines {
        Some(n) => n,
        None if open == 0 && given > 0 => given,
        None => DEFAULT_PART_LINES.max(given + 40 * open),
    };
    let share = total
        .saturating_sub(given)
        .checked_div(open)
        .map_or(0, |n| (n / 10 * 10).max(20));
    let sections = p
        .sections
        .iter()
        .map(|s| DraftSection {
            title: one_line(&s.title),
            lines: s.lines.unwrap_or(share),
            brief: s.brief.iter().map(|b| one_line(b)).collect(),
        })
        .collect();
    (total, sections)
}

/// The outline's queries, or three made from the PART's title, the topic
/// and its sections.
fn queries(topic: &str, p: &OutlinePart) -> Vec<String> {
    if !p.queries.is_empty() {
        return p
            .queries
            .iter()
            .map(|q| one_line(q).replace('"', "'"))
            .collect();
    }
    let title = one_line(&p.title).replace('"', "'");
    let topic = one_line(topic).replace('"', "'");
    let lower = title.to_lowercase();
    let mut v = vec![if lower.contains(&topic.to_lowercase()) {
        title.clone()
    } else {
        format!("{title} {topic}")
    }];
    for s in p.sections.iter().take(2) {
        v.push(format!("{title} {}", one_line(&s.title).replace('"', "'")));
    }
    for extra in ["examples", "best practices"] {
        if v.len() >= 3 {
            break;
        }
        v.push(format!("{title} {extra}"));
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs_are_plain() {
        assert_eq!(slugify("Rust: async & I/O!"), "rust-async-i-o");
        assert_eq!(slugify("  "), "");
    }

    #[test]
    fn section_lines_add_up() {
        let p = OutlinePart {
            title: "X".into(),
            lines: Some(300),
            sections: vec![
                outline::OutlineSection {
                    title: "A".into(),
                    lines: Some(100),
                    brief: vec![],
                },
                outline::OutlineSection {
                    title: "B".into(),
                    lines: None,
                    brief: vec![],
                },
                outline::OutlineSection {
                    title: "C".into(),
                    lines: None,
                    brief: vec![],
                },
            ],
            ..OutlinePart::default()
        };
        let (t, s) = lines_and_sections(&p);
        assert_eq!(t, 300);
        assert_eq!(
            s.iter().map(|s| s.lines).collect::<Vec<_>>(),
            [100, 100, 100]
        );
    }
}
