//! Passage retrieval over markdown: files cut into passages (by heading, then
//! by block as `crate::markdown` reads them, merged up to about 25 lines,
//! never cutting a code block or a table), and
//! an Okapi BM25 index over them. The offline writer and the offline search
//! provider rank with it; it is built once per run over the whole base.

use std::collections::HashMap;

use super::scan::Content;
use crate::markdown::{BlockKind, Doc};

/// Passages grow by whole paragraphs up to this many lines.
const TARGET_LINES: usize = 25;
const K1: f32 = 1.2;
const B: f32 = 0.75;

/// A span of a markdown file, the unit of retrieval.
#[derive(Clone, Debug)]
pub struct Passage {
    /// Knowledge-relative path (or URL) of the file.
    pub source: String,
    /// 1-based inclusive line range of `text` in the file.
    pub lines: (usize, usize),
    /// The nearest heading above the passage, without its `#`s.
    pub heading: Option<String>,
    /// The lines `lines.0..=lines.1` exactly, joined with `\n`.
    pub text: Text,
}

/// A passage's text: given, or cut from its file when first used, so an
/// index loaded from the cache reads only the files whose passages are
/// shown.
#[derive(Clone)]
pub struct Text {
    cell: std::sync::OnceLock<String>,
    from: Option<(std::sync::Arc<Content>, (usize, usize))>,
}

impl Text {
    /// Lines `a..=b` of a file's content (empty if it has fewer lines).
    pub fn of(content: std::sync::Arc<Content>, lines: (usize, usize)) -> Text {
        Text {
            cell: std::sync::OnceLock::new(),
            from: Some((content, lines)),
        }
    }
}

impl From<String> for Text {
    fn from(s: String) -> Text {
        Text {
            cell: std::sync::OnceLock::from(s),
            from: None,
        }
    }
}

impl From<&str> for Text {
    fn from(s: &str) -> Text {
        Text::from(s.to_string())
    }
}

impl std::ops::Deref for Text {
    type Target = str;
    fn deref(&self) -> &str {
        self.cell.get_or_init(|| match &self.from {
            Some((c, (a, b))) => c.passage_text(*a, *b).unwrap_or_default(),
            None => String::new(),
        })
    }
}

impl std::fmt::Debug for Text {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Debug::fmt(&**self, f)
    }
}

impl std::fmt::Display for Text {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self)
    }
}

impl PartialEq for Text {
    fn eq(&self, other: &Text) -> bool {
        **self == **other
    }
}

impl PartialEq<str> for Text {
    fn eq(&self, other: &str) -> bool {
        &**self == other
    }
}

impl PartialEq<String> for Text {
    fn eq(&self, other: &String) -> bool {
        **self == **other
    }
}

/// Split a markdown file into passages, from its blocks as the markdown
/// model reads them: a new passage at every heading, then blocks merged
/// while the passage stays within ~25 lines. Heading lines are not part of
/// any passage (they are its `heading`). A code block or a table is never
/// split, however long; a prose block longer than the target is cut at
/// the target. A sources section (`## Sources`, `## References`…) is a list
/// of where the file came from, not knowledge: it gives no passage.
pub fn passages(path: &str, text: &str) -> Vec<Passage> {
    let doc = Doc::parse(text);
    let lines: Vec<&str> = text.lines().collect();
    let mut out = Vec::new();
    // The current heading, and whether its section is a sources list (the
    // level it was opened at, so a deeper heading inside stays in it).
    let mut heading: Option<String> = None;
    let mut skip_below: Option<u8> = None;
    let mut cur: Option<(usize, usize)> = None;
    let flush =
        |cur: &mut Option<(usize, usize)>, heading: &Option<String>, out: &mut Vec<Passage>| {
            if let Some(c) = cur.take() {
                out.push(make(path, &lines, c, heading));
            }
        };
    for b in &doc.blocks {
        if b.kind == BlockKind::Heading {
            flush(&mut cur, &heading, &mut out);
            // Headings are in line order; a top-level one starts its block.
            let at = doc.headings.binary_search_by_key(&b.first, |h| h.line);
            if let Some(h) = at.ok().map(|i| &doc.headings[i]) {
                if skip_below.is_some_and(|l| h.level <= l) {
                    skip_below = None;
                }
                if skip_below.is_none() && crate::quality::is_sources_heading(&h.text) {
                    skip_below = Some(h.level);
                }
                heading = Some(h.text.clone());
            }
            continue;
        }
        if skip_below.is_some() || b.last > lines.len() || b.first == 0 {
            continue;
        }
        let (a, z) = (b.first - 1, b.last - 1);
        let whole = matches!(b.kind, BlockKind::Code | BlockKind::Table);
        // A long prose block is cut so one passage stays readable.
        let pieces: Vec<(usize, usize)> = if whole || z + 1 - a <= TARGET_LINES {
            vec![(a, z)]
        } else {
            (a..=z)
                .step_by(TARGET_LINES)
                .map(|s| (s, (s + TARGET_LINES - 1).min(z)))
                .collect()
        };
        for (a, z) in pieces {
            cur = match cur {
                Some((ca, _)) if z + 1 - ca <= TARGET_LINES => Some((ca, z)),
                Some(c) => {
                    out.push(make(path, &lines, c, &heading));
                    Some((a, z))
                }
                None => Some((a, z)),
            };
        }
    }
    flush(&mut cur, &heading, &mut out);
    out
}

fn make(path: &str, lines: &[&str], (a, b): (usize, usize), heading: &Option<String>) -> Passage {
    Passage {
        source: path.to_string(),
        lines: (a + 1, b + 1),
        heading: heading.clone(),
        text: lines[a..=b].join("\n").into(),
    }
}

const STOPWORDS: &[&str] = &[
    "a", "about", "after", "all", "also", "an", "and", "any", "are", "as", "at", "be", "been",
    "but", "by", "can", "do", "does", "each", "for", "from", "has", "have", "how", "if", "in",
    "into", "is", "it", "its", "may", "more", "no", "not", "of", "on", "one", "only", "or",
    "other", "our", "so", "such", "than", "that", "the", "their", "them", "then", "there", "these",
    "they", "this", "those", "to", "too", "up", "use", "was", "we", "were", "what", "when",
    "where", "which", "while", "who", "why", "will", "with", "would", "you", "your",
];

/// The settings that shape passages and terms, for a cached index to be
/// keyed by (code changes bump the cache's format version instead).
pub fn shape() -> String {
    format!(
        "passages of {TARGET_LINES} lines; stopwords {}",
        STOPWORDS.join(" ")
    )
}

/// Lowercase alphanumeric runs, stopwords and single letters dropped, and a
/// plural `s` folded (`semaphores` → `semaphore`) so headings in the plural
/// find prose in the singular.
pub fn tokenize(text: &str, mut each: impl FnMut(&str)) {
    let mut buf = String::new();
    let mut emit = |buf: &mut String| {
        if !buf.is_empty() {
            let keep = (buf.len() > 1 || buf.as_bytes()[0].is_ascii_digit())
                && STOPWORDS.binary_search(&buf.as_str()).is_err();
            if keep {
                let b = buf.as_bytes();
                let plural = b.len() > 3
                    && b[b.len() - 1] == b's'
                    && !matches!(b[b.len() - 2], b's' | b'u' | b'i');
                each(if plural { &buf[..buf.len() - 1] } else { buf });
            }
            buf.clear();
        }
    };
    for c in text.chars() {
        if c.is_alphanumeric() {
            if c.is_ascii() {
                buf.push(c.to_ascii_lowercase());
            } else {
                buf.extend(c.to_lowercase());
            }
        } else {
            emit(&mut buf);
        }
    }
    emit(&mut buf);
}

/// The terms an index knows, each with a dense id.
#[derive(Clone, Debug, Default)]
pub struct Vocab {
    words: Vec<String>,
    ids: HashMap<String, u32>,
}

impl Vocab {
    /// The id of `word`, given one if it has none yet.
    pub fn intern(&mut self, word: &str) -> u32 {
        if let Some(&id) = self.ids.get(word) {
            return id;
        }
        let id = self.words.len() as u32;
        self.words.push(word.to_string());
        self.ids.insert(word.to_string(), id);
        id
    }

    pub fn get(&self, word: &str) -> Option<u32> {
        self.ids.get(word).copied()
    }

    /// The word of `id`.
    pub fn word(&self, id: u32) -> &str {
        &self.words[id as usize]
    }

    pub fn len(&self) -> usize {
        self.words.len()
    }

    pub fn is_empty(&self) -> bool {
        self.words.is_empty()
    }

    /// A vocabulary of `words`, which must be distinct (`None` if not).
    pub fn from_words(words: Vec<String>) -> Option<Vocab> {
        let mut ids = HashMap::with_capacity(words.len());
        for (i, w) in words.iter().enumerate() {
            if ids.insert(w.clone(), i as u32).is_some() {
                return None;
            }
        }
        Some(Vocab { words, ids })
    }
}

/// What indexing a passage needs besides its text: where it is, its
/// heading, its length in terms and how often each term occurs. A file's
/// are computed once (see [`analyze`]) and may be kept between runs.
#[derive(Clone, Debug, PartialEq)]
pub struct PassageTerms {
    /// 1-based inclusive line range in the file.
    pub lines: (usize, usize),
    pub heading: Option<String>,
    /// Number of terms, the heading's included.
    pub len: u32,
    /// (term id in the vocabulary, count), sorted by id.
    pub tf: Vec<(u32, u32)>,
}

/// Term counts of a passage's heading and text, by term, in first-seen order.
pub fn count_terms(heading: Option<&str>, text: &str) -> (u32, Vec<(String, u32)>) {
    let mut tf: Vec<(String, u32)> = Vec::new();
    let mut at: HashMap<String, usize> = HashMap::new();
    let mut len = 0u32;
    let mut count = |t: &str| {
        len += 1;
        match at.get(t) {
            Some(&i) => tf[i].1 += 1,
            None => {
                at.insert(t.to_string(), tf.len());
                tf.push((t.to_string(), 1));
            }
        }
    };
    if let Some(h) = heading {
        tokenize(h, &mut count);
    }
    tokenize(text, &mut count);
    (len, tf)
}

/// A passage analysed: the passage, its length in terms, and each term
/// with its count.
pub type Analysed = (Passage, u32, Vec<(String, u32)>);

/// A file's passages with their term counts as strings: the part of
/// indexing that needs no shared state, so files can be analysed on many
/// threads and interned afterwards.
pub fn analyze(path: &str, text: &str) -> Vec<Analysed> {
    passages(path, text)
        .into_iter()
        .map(|p| {
            let (len, tf) = count_terms(p.heading.as_deref(), &p.text);
            (p, len, tf)
        })
        .collect()
}

/// [`PassageTerms`] of an analysed passage, its terms interned in `vocab`.
pub fn intern(vocab: &mut Vocab, p: &Passage, len: u32, tf: &[(String, u32)]) -> PassageTerms {
    let mut ids: Vec<(u32, u32)> = tf.iter().map(|(t, n)| (vocab.intern(t), *n)).collect();
    ids.sort_unstable_by_key(|&(id, _)| id);
    PassageTerms {
        lines: p.lines,
        heading: p.heading.clone(),
        len,
        tf: ids,
    }
}

/// An Okapi BM25 index over passages (k1 = 1.2, b = 0.75, Lucene's idf).
#[derive(Debug, Default)]
pub struct Bm25 {
    passages: Vec<Passage>,
    doc_len: Vec<u32>,
    avgdl: f32,
    vocab: Vocab,
    /// term id → (passage index, term frequency), in passage order.
    postings: Vec<(u32, u32)>,
    /// Where each term's postings start in `postings` (one more entry than
    /// terms: term `t`'s are `starts[t]..starts[t + 1]`).
    starts: Vec<u32>,
    /// Passages are in source order (as a scan gives them), so one file's
    /// are found by bisection.
    by_source: bool,
}

impl Bm25 {
    /// Index passages; a passage's heading counts as part of its text, so a
    /// section's title helps every passage under it.
    pub fn build(passages: Vec<Passage>) -> Bm25 {
        let mut vocab = Vocab::default();
        let terms: Vec<PassageTerms> = passages
            .iter()
            .map(|p| {
                let (len, tf) = count_terms(p.heading.as_deref(), &p.text);
                intern(&mut vocab, p, len, &tf)
            })
            .collect();
        Bm25::from_terms(passages, terms.iter(), vocab)
    }

    /// Index passages whose terms were counted already: `terms` holds one
    /// entry per passage, in the same order, its ids those of `vocab`.
    pub fn from_terms<'a>(
        passages: Vec<Passage>,
        terms: impl Iterator<Item = &'a PassageTerms>,
        vocab: Vocab,
    ) -> Bm25 {
        // One flat array, each term's run in passage order: counted, then
        // filled (millions of counts; no vector per term to grow).
        let terms: Vec<&PassageTerms> = terms.collect();
        let mut starts = vec![0u32; vocab.len() + 1];
        for t in &terms {
            for &(id, _) in &t.tf {
                starts[id as usize + 1] += 1;
            }
        }
        for i in 1..starts.len() {
            starts[i] += starts[i - 1];
        }
        let mut next = starts.clone();
        let mut postings = vec![(0u32, 0u32); starts[vocab.len()] as usize];
        let mut doc_len = Vec::with_capacity(passages.len());
        let mut total: u64 = 0;
        for (i, t) in terms.iter().enumerate() {
            for &(id, n) in &t.tf {
                let at = &mut next[id as usize];
                postings[*at as usize] = (i as u32, n);
                *at += 1;
            }
            doc_len.push(t.len);
            total += u64::from(t.len);
        }
        assert_eq!(doc_len.len(), passages.len(), "one term entry per passage");
        let avgdl = if passages.is_empty() {
            1.0
        } else {
            (total as f32 / passages.len() as f32).max(1.0)
        };
        let by_source = passages.windows(2).all(|w| w[0].source <= w[1].source);
        Bm25 {
            passages,
            doc_len,
            avgdl,
            vocab,
            postings,
            starts,
            by_source,
        }
    }

    /// The postings of one term: empty for a term no passage holds.
    fn list(&self, term: &str) -> &[(u32, u32)] {
        match self.vocab.get(term) {
            Some(id) => {
                let t = id as usize;
                &self.postings[self.starts[t] as usize..self.starts[t + 1] as usize]
            }
            None => &[],
        }
    }

    /// Whether lines `a..=b` of `source` overlap a passage of the index:
    /// content the index counts as knowledge (not a sources list, not a
    /// file left out of it).
    pub fn covers(&self, source: &str, (a, b): (usize, usize)) -> bool {
        self.of_source(source)
            .any(|p| p.lines.0 <= b && a <= p.lines.1)
    }

    /// The passage of `source` spanning exactly `lines`: what a search hit
    /// named, with its text as the file has it (a hit carries a snippet).
    pub fn find(&self, source: &str, lines: (usize, usize)) -> Option<&Passage> {
        self.of_source(source).find(|p| p.lines == lines)
    }

    /// The passages of `source`: one run of the list when it is sorted by
    /// source, else a scan.
    fn of_source<'a: 'b, 'b>(
        &'a self,
        source: &'b str,
    ) -> Box<dyn Iterator<Item = &'a Passage> + 'b> {
        if !self.by_source {
            return Box::new(self.passages.iter().filter(move |p| p.source == source));
        }
        let start = self
            .passages
            .partition_point(|p| p.source.as_str() < source);
        Box::new(
            self.passages[start..]
                .iter()
                .take_while(move |p| p.source == source),
        )
    }

    /// Distinct terms of `query` (as the index tokenizes it).
    pub fn query_terms(&self, query: &str) -> usize {
        let mut terms: Vec<String> = Vec::new();
        tokenize(query, |t| {
            if !terms.iter().any(|x| x == t) {
                terms.push(t.to_string());
            }
        });
        terms.len()
    }

    /// How many distinct terms of `query` `p` (its text or heading) holds.
    pub fn shared_terms(&self, query: &str, p: &Passage) -> usize {
        let mut terms: Vec<String> = Vec::new();
        tokenize(query, |t| {
            if !terms.iter().any(|x| x == t) {
                terms.push(t.to_string());
            }
        });
        let mut found = vec![false; terms.len()];
        let mut mark = |t: &str| {
            if let Some(i) = terms.iter().position(|x| x == t) {
                found[i] = true;
            }
        };
        tokenize(&p.text, &mut mark);
        if let Some(h) = &p.heading {
            tokenize(h, &mut mark);
        }
        found.iter().filter(|f| **f).count()
    }

    /// The `k` best passages for `query` with their scores, best first; equal
    /// scores in passage order. Passages sharing no term with the query are
    /// never returned.
    pub fn search(&self, query: &str, k: usize) -> Vec<(usize, f32)> {
        let mut terms: Vec<String> = Vec::new();
        tokenize(query, |t| {
            if !terms.iter().any(|x| x == t) {
                terms.push(t.to_string());
            }
        });
        if terms.is_empty() || k == 0 || self.passages.is_empty() {
            return Vec::new();
        }
        let n = self.passages.len() as f32;
        let mut scores: HashMap<u32, f32> = HashMap::new();
        for t in &terms {
            let list = self.list(t);
            if list.is_empty() {
                continue;
            }
            let df = list.len() as f32;
            let idf = ((n - df + 0.5) / (df + 0.5) + 1.0).ln();
            for &(d, f) in list {
                let f = f as f32;
                let norm = 1.0 - B + B * self.doc_len[d as usize] as f32 / self.avgdl;
                *scores.entry(d).or_insert(0.0) += idf * f * (K1 + 1.0) / (f + K1 * norm);
            }
        }
        let mut ranked: Vec<(usize, f32)> =
            scores.into_iter().map(|(d, s)| (d as usize, s)).collect();
        ranked.sort_unstable_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
        ranked.truncate(k);
        ranked
    }

    /// The score a passage outside the index would get, measured with the
    /// index's statistics (idf, average length), so that it can be ranked
    /// against the index's own passages on one scale.
    pub fn score(&self, query: &str, passage: &Passage) -> f32 {
        let mut terms: Vec<String> = Vec::new();
        tokenize(query, |t| {
            if !terms.iter().any(|x| x == t) {
                terms.push(t.to_string());
            }
        });
        let mut tf = vec![0u32; terms.len()];
        let mut len = 0u32;
        let mut count = |t: &str| {
            len += 1;
            if let Some(i) = terms.iter().position(|x| x == t) {
                tf[i] += 1;
            }
        };
        if let Some(h) = &passage.heading {
            tokenize(h, &mut count);
        }
        tokenize(&passage.text, &mut count);
        let n = self.passages.len() as f32;
        let norm = 1.0 - B + B * len as f32 / self.avgdl;
        let mut score = 0.0;
        for (t, &f) in terms.iter().zip(&tf) {
            if f == 0 {
                continue;
            }
            let df = self.list(t).len() as f32;
            let idf = ((n - df + 0.5) / (df + 0.5) + 1.0).ln();
            let f = f as f32;
            score += idf * f * (K1 + 1.0) / (f + K1 * norm);
        }
        score
    }

    /// The inverse document frequency of one (tokenized) term, as `search`
    /// weighs it: rare terms say more about what a passage is about.
    pub fn idf(&self, term: &str) -> f32 {
        let n = self.passages.len() as f32;
        let df = self.list(term).len() as f32;
        ((n - df + 0.5) / (df + 0.5) + 1.0).ln()
    }

    pub fn passage(&self, i: usize) -> &Passage {
        &self.passages[i]
    }

    pub fn len(&self) -> usize {
        self.passages.len()
    }

    pub fn is_empty(&self) -> bool {
        self.passages.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(path: &str) -> String {
        let p = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("knowledge")
            .join(path);
        std::fs::read_to_string(p).unwrap()
    }

    #[test]
    fn stopwords_are_sorted_for_binary_search() {
        let mut s = STOPWORDS.to_vec();
        s.sort_unstable();
        assert_eq!(s, STOPWORDS);
    }

    #[test]
    fn passages_have_exact_line_ranges() {
        let text = "# Title\n\nIntro line one\nintro two\n\n## Part A\n\npara a1\n\npara a2\nstill a2\n\n## Part B\n```\ncode\n\n## not a heading\n```\n\n";
        let ps = passages("f.md", text);
        let got: Vec<((usize, usize), Option<&str>)> =
            ps.iter().map(|p| (p.lines, p.heading.as_deref())).collect();
        assert_eq!(
            got,
            vec![
                ((3, 4), Some("Title")),
                ((8, 11), Some("Part A")),
                ((14, 18), Some("Part B")),
            ]
        );
        let lines: Vec<&str> = text.lines().collect();
        for p in &ps {
            assert_eq!(p.text, lines[p.lines.0 - 1..p.lines.1].join("\n"));
        }
        assert!(ps[2].text.contains("## not a heading"));
    }

    #[test]
    fn passages_of_sample_files_match_their_lines_and_stay_short() {
        for path in [
            "text-search/02-bm25-ranking.md",
            "rust-cli/00-argument-parsing.md",
            "async-runtime/01-bounded-concurrency.md",
        ] {
            let text = sample(path);
            let lines: Vec<&str> = text.lines().collect();
            let ps = passages(path, &text);
            assert!(ps.len() >= 4, "{path}");
            let mut prev = 0;
            for p in &ps {
                let (a, b) = p.lines;
                assert!(a > prev && a <= b, "{path} {a}-{b}");
                prev = b;
                assert_eq!(p.text, lines[a - 1..b].join("\n"));
                assert!(!lines[a - 1].trim().is_empty());
                assert!(!lines[b - 1].trim().is_empty());
                let in_fence = p.text.matches("```").count() % 2 == 1;
                assert!(!in_fence, "{path} {a}-{b} cuts a fence");
                if !p.text.contains("```") {
                    assert!(b - a < TARGET_LINES, "{path} {a}-{b}");
                }
            }
        }
    }

    #[test]
    fn long_prose_paragraph_is_cut() {
        let text: String = (0..60).map(|i| format!("word{i}\n")).collect();
        let ps = passages("f.md", &text);
        let ranges: Vec<(usize, usize)> = ps.iter().map(|p| p.lines).collect();
        assert_eq!(ranges, vec![(1, 25), (26, 50), (51, 60)]);
    }

    #[test]
    fn bm25_ranks_the_passage_about_the_query_first() {
        let mut all = Vec::new();
        for path in [
            "text-search/02-bm25-ranking.md",
            "rust-cli/00-argument-parsing.md",
            "async-runtime/01-bounded-concurrency.md",
            "async-runtime/00-tokio-runtime-basics.md",
        ] {
            all.extend(passages(path, &sample(path)));
        }
        let idx = Bm25::build(all);
        let top = idx.search("inverse document frequency idf", 3);
        assert_eq!(
            idx.passage(top[0].0).source,
            "text-search/02-bm25-ranking.md"
        );
        let top = idx.search("semaphore concurrency limit", 3);
        assert!(idx.passage(top[0].0).source.starts_with("async-runtime/"));
        let top = idx.search("clap derive subcommand", 3);
        assert_eq!(
            idx.passage(top[0].0).source,
            "rust-cli/00-argument-parsing.md"
        );
        for w in top.windows(2) {
            assert!(w[0].1 >= w[1].1);
        }
        assert!(idx.search("the and of", 5).is_empty());
        assert!(idx.search("xyzzyplugh", 5).is_empty());
    }

    #[test]
    fn bm25_scores_match_the_formula_and_ties_break_by_index() {
        let p = |t: &str| Passage {
            source: "f".into(),
            lines: (1, 1),
            heading: None,
            text: t.into(),
        };
        let idx = Bm25::build(vec![
            p("alpha beta"),
            p("gamma delta"),
            p("alpha beta"),
            p("zeta eta"),
        ]);
        let r = idx.search("alpha", 10);
        assert_eq!(r.iter().map(|x| x.0).collect::<Vec<_>>(), vec![0, 2]);
        assert_eq!(r[0].1, r[1].1);
        // idf = ln((4 - 2 + 0.5) / (2 + 0.5) + 1) = ln 2; tf part = 2.2 / 2.2 = 1.
        assert!((r[0].1 - std::f32::consts::LN_2).abs() < 1e-6);
        // A passage outside the index scores on the same scale.
        assert_eq!(idx.score("alpha", idx.passage(0)), r[0].1);
        assert_eq!(idx.score("alphas", idx.passage(0)), r[0].1, "plural folded");
        assert_eq!(idx.score("alpha", idx.passage(1)), 0.0);
    }
}
