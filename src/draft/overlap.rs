//! The overlap check: which existing knowledge files already cover what a
//! PART plans to write. One check for a drafted plan (`expand new`) and a
//! hand-written one (`expand validate --overlaps`).
//!
//! A PART is read as probes: its title and each planned section (title and
//! brief); without sections, its search queries. Each probe is searched
//! with the runner's own index (BM25 over the base's passages). A file's
//! coverage of a probe is the share of the probe's terms, weighted by idf,
//! found in the file's best passage for it, so a rare word the PART is
//! about counts more than a common one. A file's score is its mean
//! coverage over all probes: 1.0 means every section's words are in one of
//! its passages. Files at or above [`THRESHOLD`] overlap the PART.

use std::collections::{BTreeMap, HashSet};

use crate::knowledge::bm25::{tokenize, Bm25, Passage};
use crate::plan::{Diagnostic, Part, Plan, Status};

/// Mean idf-weighted coverage from which a file counts as covering a PART.
pub const THRESHOLD: f32 = 0.5;
/// Passages looked at per probe.
const HITS: usize = 40;
/// Overlaps reported per PART.
const MAX_REPORTED: usize = 3;

/// What a PART is about, as the check reads it.
#[derive(Clone, Debug, Default)]
pub struct Probe {
    pub title: String,
    /// Each section's title and brief as one text.
    pub sections: Vec<String>,
    pub queries: Vec<String>,
}

impl Probe {
    pub fn of_part(p: &Part) -> Probe {
        Probe {
            title: p.title.clone(),
            sections: p
                .sections()
                .map(|s| {
                    let mut t = s.title.to_string();
                    for b in &s.brief {
                        t.push(' ');
                        t.push_str(b);
                    }
                    t
                })
                .collect(),
            queries: p.queries().map(str::to_string).collect(),
        }
    }

    fn texts(&self) -> Vec<&str> {
        let mut v = vec![self.title.as_str()];
        if self.sections.is_empty() {
            v.extend(self.queries.iter().map(String::as_str));
        } else {
            v.extend(self.sections.iter().map(String::as_str));
        }
        v.retain(|t| !t.trim().is_empty());
        v
    }
}

/// An existing file that covers a PART, with its score (0–1).
#[derive(Clone, Debug, PartialEq)]
pub struct Overlap {
    pub path: String,
    pub score: f32,
}

fn terms(text: &str) -> Vec<String> {
    let mut v: Vec<String> = Vec::new();
    tokenize(text, |t| {
        if !v.iter().any(|x| x == t) {
            v.push(t.to_string());
        }
    });
    v
}

fn passage_terms(p: &Passage) -> HashSet<String> {
    let mut s = HashSet::new();
    if let Some(h) = &p.heading {
        tokenize(h, |t| {
            s.insert(t.to_string());
        });
    }
    tokenize(&p.text, |t| {
        s.insert(t.to_string());
    });
    s
}

/// Every file's score for `probe`, highest first (ties by path); files
/// in `skip` (the plan's own targets) are left out. The files scored are
/// those the search finds for any probe; each is then scored on all its
/// passages, so a section in plain words still counts for the file the
/// PART's rarer words led to.
pub fn scores(index: &Bm25, probe: &Probe, skip: &HashSet<&str>) -> Vec<Overlap> {
    let texts = probe.texts();
    let mut probes: Vec<(Vec<String>, Vec<f32>, f32)> = Vec::new();
    let mut candidates: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
    for text in &texts {
        let q = terms(text);
        let weights: Vec<f32> = q.iter().map(|t| index.idf(t)).collect();
        let total: f32 = weights.iter().sum();
        if total <= 0.0 {
            continue;
        }
        probes.push((q, weights, total));
        for (i, _) in index.search(text, HITS) {
            let src = index.passage(i).source.as_str();
            if !skip.contains(src) {
                candidates.entry(src).or_default();
            }
        }
    }
    if probes.is_empty() || candidates.is_empty() {
        return Vec::new();
    }
    for i in 0..index.len() {
        if let Some(v) = candidates.get_mut(index.passage(i).source.as_str()) {
            v.push(i);
        }
    }
    let n = probes.len() as f32;
    let mut v: Vec<Overlap> = candidates
        .into_iter()
        .map(|(path, passages)| {
            let sets: Vec<HashSet<String>> = passages
                .iter()
                .map(|&i| passage_terms(index.passage(i)))
                .collect();
            let sum: f32 = probes
                .iter()
                .map(|(q, w, total)| {
                    sets.iter()
                        .map(|have| {
                            q.iter()
                                .zip(w)
                                .filter(|(t, _)| have.contains(t.as_str()))
                                .map(|(_, w)| w)
                                .sum::<f32>()
                                / total
                        })
                        .fold(0.0, f32::max)
                })
                .sum();
            Overlap {
                path: path.to_string(),
                score: sum / n,
            }
        })
        .collect();
    v.sort_by(|a, b| b.score.total_cmp(&a.score).then(a.path.cmp(&b.path)));
    v
}

/// The files that cover `probe` (score at or above the threshold), best first.
pub fn overlaps(index: &Bm25, probe: &Probe, skip: &HashSet<&str>) -> Vec<Overlap> {
    covering(&scores(index, probe, skip))
}

/// Of a PART's `scores`, the ones that cover it, as reported.
pub fn covering(scores: &[Overlap]) -> Vec<Overlap> {
    scores
        .iter()
        .filter(|o| o.score >= THRESHOLD)
        .take(MAX_REPORTED)
        .cloned()
        .collect()
}

/// `` `a.md` (0.74), `b.md` (0.52) ``: how a plan and a warning name overlaps.
pub fn list(v: &[Overlap]) -> String {
    v.iter()
        .map(|o| format!("`{}` ({:.2})", o.path, o.score))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The warning for a PART that existing files cover.
pub fn diagnostic(part: u32, line: usize, v: &[Overlap]) -> Diagnostic {
    Diagnostic::warning(
        line,
        "overlap",
        format!("PART {part}: existing files already cover it: {}", list(v)),
    )
    .with_hint(
        "narrow the PART to what those files lack, or leave it out (`expand new --skip-covered`)",
    )
}

/// Run the check on every pending PART of `plan`, adding one warning per
/// covered PART; returns the overlaps by PART number.
pub fn check_plan(plan: &mut Plan, index: &Bm25) -> Vec<(u32, Vec<Overlap>)> {
    let own: HashSet<&str> = plan
        .parts
        .iter()
        .filter_map(|p| p.target.as_deref())
        .collect();
    let mut found = Vec::new();
    let mut diags = Vec::new();
    for p in plan.parts.iter().filter(|p| p.status == Status::Pending) {
        let v = overlaps(index, &Probe::of_part(p), &own);
        if !v.is_empty() {
            diags.push(diagnostic(p.number, p.line, &v));
            found.push((p.number, v));
        }
    }
    plan.diagnostics.extend(diags);
    plan.diagnostics.sort_by_key(|d| d.line);
    found
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::knowledge::bm25::passages;

    fn index() -> Bm25 {
        let mut all = passages(
            "ml/00-attention.md",
            "# Attention\n\n## Scaled dot-product attention\n\nQueries keys values softmax scaled by the square root of the key dimension.\n\n## Multi-head attention\n\nSeveral heads attend in parallel subspaces and are concatenated.\n",
        );
        all.extend(passages(
            "cooking/00-bread.md",
            "# Bread\n\n## Sourdough starter\n\nFlour water wild yeast fed daily.\n",
        ));
        Bm25::build(all)
    }

    #[test]
    fn a_part_repeating_a_file_overlaps_it_and_a_new_one_does_not() {
        let idx = index();
        let covered = Probe {
            title: "Attention mechanisms".into(),
            sections: vec![
                "Scaled dot-product attention softmax".into(),
                "Multi-head attention heads".into(),
            ],
            queries: vec![],
        };
        let v = overlaps(&idx, &covered, &HashSet::new());
        assert_eq!(v.len(), 1, "{v:?}");
        assert_eq!(v[0].path, "ml/00-attention.md");
        assert!(v[0].score > THRESHOLD, "{v:?}");
        let new = Probe {
            title: "Surface codes".into(),
            sections: vec!["Stabilizer measurement".into(), "Logical qubits".into()],
            queries: vec![],
        };
        assert!(overlaps(&idx, &new, &HashSet::new()).is_empty());
        let skip: HashSet<&str> = ["ml/00-attention.md"].into_iter().collect();
        assert!(overlaps(&idx, &covered, &skip).is_empty());
    }
}
