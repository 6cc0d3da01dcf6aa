//! The knowledge base in memory: every `*.md` file read once per run, with
//! line starts for mapping byte offsets to line numbers (and a lowercased
//! copy for case-insensitive search, made the first time a search needs it). The knowledge step's reads, greps and
//! folder look-ups run against this, never against the disk, so a 24-PART plan
//! costs one walk of the base rather than 24.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use memchr::memmem;

use crate::workspace::jail::Jail;

use crate::plan::model::GrepOp;
use crate::providers::Evidence;

/// One markdown file of the knowledge base.
#[derive(Clone, Debug)]
pub struct KFile {
    /// Knowledge-relative path with forward slashes.
    pub path: String,
    pub text: String,
    /// Byte offsets at which each line starts (line 1 starts at 0).
    line_starts: Vec<usize>,
    /// `text` lowercased char by char wherever that keeps the byte length, so
    /// offsets found in it are offsets in `text` too; made on first use, so
    /// a run that never greps a file never copies it.
    lower: std::sync::OnceLock<String>,
    /// `text.chars().count()`, for budgets counted in chars.
    chars: usize,
    /// The head and `## ` sections as line ranges (see `h2_sections`),
    /// found the first time the file is excerpted (most files never are),
    /// found once at scan time so every read of the file reuses them.
    sections: std::sync::OnceLock<Vec<(usize, usize)>>,
    /// The PART of this run that wrote the file, if one did: only the PARTs
    /// that depend on it see it, so what a PART reads never depends on which
    /// other PART finished first.
    pub written_by: Option<u32>,
    /// Size, modification time and checksum of the file as it was read,
    /// when it was read from disk: what the index cache is keyed by.
    pub stamp: Option<Stamp>,
}

/// What identifies a version of a file on disk for the index cache.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Stamp {
    pub size: u64,
    /// Modification time: seconds and nanoseconds since the Unix epoch.
    pub mtime: (u64, u32),
    /// CRC-32 of the bytes read: a same-size edit within the file
    /// system's timestamp granularity still changes the key.
    pub crc: u32,
}

impl Stamp {
    fn of(meta: &std::fs::Metadata, bytes: &[u8]) -> Option<Stamp> {
        let t = meta
            .modified()
            .ok()?
            .duration_since(std::time::UNIX_EPOCH)
            .ok()?;
        Some(Stamp {
            size: bytes.len() as u64,
            mtime: (t.as_secs(), t.subsec_nanos()),
            crc: crc32fast::hash(bytes),
        })
    }
}

impl KFile {
    fn new(path: String, text: String) -> KFile {
        let line_starts = crate::markdown::line_starts(&text);
        let chars = text.chars().count();
        KFile {
            path,
            text,
            line_starts,
            lower: std::sync::OnceLock::new(),
            chars,
            sections: std::sync::OnceLock::new(),
            written_by: None,
            stamp: None,
        }
    }

    fn lower(&self) -> &str {
        self.lower.get_or_init(|| lowercase_same_len(&self.text))
    }

    /// Lines `a..=b` (1-based) as `str::lines` gives them, joined with
    /// `\n`: a passage's text. `None` when the file has fewer lines.
    pub fn passage_text(&self, a: usize, b: usize) -> Option<String> {
        if a == 0 || b < a || b > self.line_count() {
            return None;
        }
        let start = self.line_starts[a - 1];
        let end = self.line_starts.get(b).copied().unwrap_or(self.text.len());
        let slice = &self.text[start..end];
        if memchr::memchr(b'\r', slice.as_bytes()).is_none() {
            return Some(slice.strip_suffix('\n').unwrap_or(slice).to_string());
        }
        Some(slice.lines().collect::<Vec<_>>().join("\n"))
    }

    /// Number of lines (a trailing newline does not start another line).
    pub fn line_count(&self) -> usize {
        let n = self.line_starts.len();
        if n > 1 && self.line_starts[n - 1] == self.text.len() {
            n - 1
        } else if self.text.is_empty() {
            0
        } else {
            n
        }
    }

    /// Line `n` (1-based) without its line ending.
    pub fn line(&self, n: usize) -> &str {
        if n == 0 || n > self.line_starts.len() {
            return "";
        }
        let start = self.line_starts[n - 1];
        let end = self.line_starts.get(n).copied().unwrap_or(self.text.len());
        self.text[start..end].trim_end_matches(['\n', '\r'])
    }

    /// Lines `a..=b` (1-based) joined with `\n`, as they stand in the file.
    pub fn lines(&self, a: usize, b: usize) -> String {
        let mut out = String::new();
        for n in a..=b {
            if n > a {
                out.push('\n');
            }
            out.push_str(self.line(n));
        }
        out
    }

    fn line_of(&self, offset: usize) -> usize {
        match self.line_starts.binary_search(&offset) {
            Ok(i) => i + 1,
            Err(i) => i,
        }
    }
}

/// A line that matched a grep.
#[derive(Clone, Debug, PartialEq)]
pub struct GrepHit {
    pub path: String,
    /// 1-based.
    pub line: usize,
    pub text: String,
}

/// Every markdown file of a knowledge base, sorted by path.
#[derive(Clone, Debug, Default)]
pub struct KnowledgeBase {
    root: PathBuf,
    files: Vec<KFile>,
    by_path: HashMap<String, usize>,
}

impl KnowledgeBase {
    /// Read every `*.md` under `root` once (skipping hidden folders and
    /// `exclude`), on rayon's threads (as many as there are cores). Files that are not
    /// UTF-8 are read lossily: a stray byte must not hide a whole file.
    pub fn scan(fs: &Jail, root: &Path, exclude: &[PathBuf]) -> std::io::Result<KnowledgeBase> {
        use rayon::prelude::*;
        use std::io::Read;
        let paths = super::list_files(fs, root, exclude)?;
        let files = paths
            .into_par_iter()
            .map(|p| {
                let mut f = fs.open_read(root.join(&p))?;
                let meta = f.metadata()?;
                let mut bytes = Vec::with_capacity(meta.len() as usize + 1);
                f.read_to_end(&mut bytes)?;
                let stamp = Stamp::of(&meta, &bytes);
                let text = match String::from_utf8(bytes) {
                    Ok(t) => t,
                    Err(e) => String::from_utf8_lossy(e.as_bytes()).into_owned(),
                };
                let mut file = KFile::new(p, text);
                file.stamp = stamp;
                Ok(file)
            })
            .collect::<std::io::Result<Vec<KFile>>>()?;
        Ok(KnowledgeBase::build(root.to_path_buf(), files))
    }

    /// A knowledge base from `(path, text)` pairs, for tests and fakes.
    pub fn from_files(files: Vec<(String, String)>) -> KnowledgeBase {
        let files = files.into_iter().map(|(p, t)| KFile::new(p, t)).collect();
        KnowledgeBase::build(PathBuf::new(), files)
    }

    fn build(root: PathBuf, mut files: Vec<KFile>) -> KnowledgeBase {
        files.sort_by(|a, b| a.path.cmp(&b.path));
        files.dedup_by(|a, b| a.path == b.path);
        let by_path = files
            .iter()
            .enumerate()
            .map(|(i, f)| (f.path.clone(), i))
            .collect();
        KnowledgeBase {
            root,
            files,
            by_path,
        }
    }

    pub fn len(&self) -> usize {
        self.files.len()
    }

    pub fn is_empty(&self) -> bool {
        self.files.is_empty()
    }

    /// All files, sorted by path.
    pub fn files(&self) -> &[KFile] {
        &self.files
    }

    pub fn get(&self, path: &str) -> Option<&KFile> {
        self.by_path.get(path).map(|&i| &self.files[i])
    }

    /// The file a cited path names: that path, else the one file whose path
    /// ends with it at a `/` (a citation may leave out leading folders).
    pub fn resolve(&self, path: &str) -> Option<&KFile> {
        if let Some(f) = self.get(path) {
            return Some(f);
        }
        let tail = format!("/{}", path.trim_start_matches('/'));
        let mut hits = self.files.iter().filter(|f| f.path.ends_with(&tail));
        match (hits.next(), hits.next()) {
            (Some(f), None) => Some(f),
            _ => None,
        }
    }

    /// Files under a folder reference like `rust-cli/` or `karpathy/`: any
    /// folder of the base whose path equals the reference or ends with it at
    /// a `/`. Plans name folders loosely, so `oracle/` finds
    /// `karpathy/oracle/`. The base's own folder name, and an empty reference,
    /// mean every file.
    pub fn in_folder<'a>(&'a self, folder: &'a str) -> impl Iterator<Item = &'a KFile> + 'a {
        let f = folder.trim_matches('/');
        let whole = f.is_empty() || {
            let root = self.root.to_string_lossy().replace('\\', "/");
            let root = root.trim_end_matches('/');
            !root.is_empty() && ends_at_component(root, f)
        };
        self.files
            .iter()
            .filter(move |file| whole || file_in_folder(&file.path, f))
    }

    /// Case-insensitive grep. With `And`, files containing every term; with
    /// `Or`, files containing any. The hits are the lines of those files that
    /// contain any term, in path order then line order, at most `max_hits`.
    /// A `folder` that matches no folder of the base searches the whole base.
    pub fn grep(
        &self,
        terms: &[impl AsRef<str>],
        op: GrepOp,
        folder: Option<&str>,
        max_hits: usize,
    ) -> Vec<GrepHit> {
        self.grep_where(terms, op, folder, max_hits, |_| true)
    }

    /// [`KnowledgeBase::grep`] over the files `keep` lets through.
    pub fn grep_where(
        &self,
        terms: &[impl AsRef<str>],
        op: GrepOp,
        folder: Option<&str>,
        max_hits: usize,
        keep: impl Fn(&KFile) -> bool,
    ) -> Vec<GrepHit> {
        let lowered: Vec<String> = terms
            .iter()
            .map(|t| lowercase_same_len(t.as_ref()))
            .filter(|t| !t.is_empty())
            .collect();
        let mut hits = Vec::new();
        if lowered.is_empty() || max_hits == 0 {
            return hits;
        }
        let finders: Vec<memmem::Finder> = lowered.iter().map(memmem::Finder::new).collect();
        // Plans name the base itself by a nickname ("in karpathy/" for
        // `karpathy-deep-oracle/`): a folder that names nothing in the base
        // means the whole base rather than no match at all.
        let folder = folder.filter(|f| self.in_folder(f).next().is_some());
        let candidates: Box<dyn Iterator<Item = &KFile>> = match folder {
            Some(f) => Box::new(self.in_folder(f)),
            None => Box::new(self.files.iter()),
        };
        let mut lines: Vec<usize> = Vec::new();
        for file in candidates.filter(|f| keep(f)) {
            let hay = file.lower().as_bytes();
            let matched = match op {
                GrepOp::And => finders.iter().all(|f| f.find(hay).is_some()),
                GrepOp::Or => finders.iter().any(|f| f.find(hay).is_some()),
            };
            if !matched {
                continue;
            }
            lines.clear();
            for f in &finders {
                let mut last_line = 0;
                for off in f.find_iter(hay) {
                    let line = file.line_of(off);
                    if line != last_line {
                        lines.push(line);
                        last_line = line;
                    }
                }
            }
            lines.sort_unstable();
            lines.dedup();
            for &line in &lines {
                hits.push(GrepHit {
                    path: file.path.clone(),
                    line,
                    text: file.line(line).to_string(),
                });
                if hits.len() >= max_hits {
                    return hits;
                }
            }
        }
        hits
    }

    /// Evidence from one file: the whole file when it fits `budget_chars`;
    /// else its head (the text before the first `##` heading) plus the `##`
    /// sections that mention any `focus` term, in file order, until the
    /// budget is spent. With no focus term or no section matching, the
    /// sections in file order fill the budget instead, so a long file never
    /// yields its title alone. Each excerpt carries its 1-based line range.
    /// A missing file gives nothing.
    pub fn excerpt(&self, path: &str, budget_chars: usize, focus: &[String]) -> Vec<Evidence> {
        let Some(file) = self.get(path) else {
            return Vec::new();
        };
        let n = file.line_count();
        if n == 0 {
            return Vec::new();
        }
        let title = crate::markdown::title(&file.text);
        if file.chars <= budget_chars {
            return vec![Evidence {
                source: file.path.clone(),
                lines: Some((1, n)),
                title,
                text: file.lines(1, n),
            }];
        }
        let sections = file.sections.get_or_init(|| h2_sections(file));
        let focus: Vec<String> = focus
            .iter()
            .map(|t| lowercase_same_len(t.as_ref()))
            .filter(|t| !t.is_empty())
            .collect();
        let matching: Vec<&(usize, usize)> = sections[1..]
            .iter()
            .filter(|(a, b)| {
                let start = file.line_starts[a - 1];
                let end = file.line_starts.get(*b).copied().unwrap_or(file.text.len());
                let body = &file.lower()[start..end];
                focus.iter().any(|t| body.contains(t.as_str()))
            })
            .collect();
        let chosen: Vec<&(usize, usize)> = if matching.is_empty() {
            sections[1..].iter().collect()
        } else {
            matching
        };
        let mut out = Vec::new();
        let mut left = budget_chars;
        // The head orients the reader; keep it to a quarter of the budget when
        // sections follow, so the sections that matter get the rest.
        let (ha, hb) = sections[0];
        if hb >= ha {
            let cap = if chosen.is_empty() { left } else { left / 4 };
            if let Some((ev, chars)) = take_lines(file, ha, hb, cap.max(1), title.clone()) {
                left = left.saturating_sub(chars + 1);
                out.push(ev);
            }
        }
        for &&(a, b) in &chosen {
            if left < 2 {
                break;
            }
            let heading = file.line(a).trim_start_matches('#').trim().to_string();
            match take_lines(file, a, b, left, Some(heading)) {
                Some((ev, chars)) => {
                    left = left.saturating_sub(chars + 1);
                    let cut = ev.lines.map(|l| l.1 < b).unwrap_or(false);
                    out.push(ev);
                    if cut {
                        break;
                    }
                }
                None => break,
            }
        }
        out
    }

    /// Add or replace a file after a PART wrote it, so later PARTs of the run
    /// see it.
    pub fn upsert(&mut self, path: String, text: String) {
        self.upsert_written(path, text, None);
    }

    /// Say that `path`, if the base has it, is PART `by`'s to write in this
    /// run (see [`KFile::written_by`]).
    pub fn mark_written(&mut self, path: &str, by: u32) {
        if let Some(&i) = self.by_path.get(path) {
            self.files[i].written_by = Some(by);
        }
    }

    /// Add or replace a file written by PART `by` of this run (see
    /// [`KFile::written_by`]).
    pub fn upsert_written(&mut self, path: String, text: String, by: Option<u32>) {
        let mut file = KFile::new(path, text);
        file.written_by = by;
        match self.by_path.get(&file.path) {
            Some(&i) => self.files[i] = file,
            None => {
                let at = self.files.partition_point(|f| f.path < file.path);
                self.files.insert(at, file);
                for (i, f) in self.files.iter().enumerate().skip(at) {
                    self.by_path.insert(f.path.clone(), i);
                }
            }
        }
    }
}

/// Line ranges: the head (before the first `## `, possibly empty as `(1, 0)`),
/// then each `## ` section up to the next, trailing blank lines dropped.
/// Headings are the markdown model's, so a `## ` inside code does not split.
fn h2_sections(file: &KFile) -> Vec<(usize, usize)> {
    let n = file.line_count();
    let doc = crate::markdown::Doc::parse(&file.text);
    let mut starts = vec![1usize];
    starts.extend(
        doc.headings
            .iter()
            .filter(|h| h.level == 2 && h.line > 1)
            .map(|h| h.line),
    );
    let head_is_h2 = doc
        .headings
        .first()
        .is_some_and(|h| h.level == 2 && h.line == 1);
    let mut out = Vec::with_capacity(starts.len());
    for (k, &a) in starts.iter().enumerate() {
        let mut b = starts.get(k + 1).map(|s| s - 1).unwrap_or(n);
        while b >= a && file.line(b).trim().is_empty() {
            b -= 1;
        }
        out.push((a, b));
    }
    if head_is_h2 {
        // The file starts with a section: its head is empty.
        out.insert(0, (1, 0));
    }
    out
}

/// Whole lines from `a..=b` that fit in `cap` chars (at least the first line,
/// cut at a char boundary if it alone is too long).
fn take_lines(
    file: &KFile,
    a: usize,
    b: usize,
    cap: usize,
    title: Option<String>,
) -> Option<(Evidence, usize)> {
    if b < a || cap == 0 {
        return None;
    }
    // The common case: the whole range fits and has no `\r`, so the joined
    // lines are the file's own bytes: one count, one copy.
    let start = file.line_starts[a - 1];
    let end = file.line_starts.get(b).copied().unwrap_or(file.text.len());
    let slice = &file.text[start..end];
    let whole = slice.strip_suffix('\n').unwrap_or(slice);
    if memchr::memchr(b'\r', whole.as_bytes()).is_none() {
        let chars = whole.chars().count();
        if chars <= cap {
            let ev = Evidence {
                source: file.path.clone(),
                lines: Some((a, b)),
                title,
                text: whole.to_string(),
            };
            return Some((ev, chars));
        }
    }
    let mut text = String::new();
    let mut used = 0usize;
    let mut last = a - 1;
    for i in a..=b {
        let line = file.line(i);
        let len = line.chars().count() + usize::from(i > a);
        if used + len > cap {
            break;
        }
        if i > a {
            text.push('\n');
        }
        text.push_str(line);
        used += len;
        last = i;
    }
    if last < a {
        text = file.line(a).chars().take(cap).collect();
        used = text.chars().count();
        last = a;
    }
    let ev = Evidence {
        source: file.path.clone(),
        lines: Some((a, last)),
        title,
        text,
    };
    Some((ev, used))
}

/// Lowercase without changing any byte offset: ASCII fast, and a non-ASCII
/// char only when its lowercase form is a single char of the same length.
pub(crate) fn lowercase_same_len(s: &str) -> String {
    if s.is_ascii() {
        return s.to_ascii_lowercase();
    }
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        let mut low = c.to_lowercase();
        match (low.next(), low.next()) {
            (Some(l), None) if l.len_utf8() == c.len_utf8() => out.push(l),
            _ => out.push(c),
        }
    }
    out
}

fn ends_at_component(path: &str, suffix: &str) -> bool {
    path == suffix
        || (path.len() > suffix.len()
            && path.ends_with(suffix)
            && path.as_bytes()[path.len() - suffix.len() - 1] == b'/')
}

/// Whether some folder containing `path` equals `folder` or ends with it.
fn file_in_folder(path: &str, folder: &str) -> bool {
    path.match_indices('/')
        .any(|(i, _)| ends_at_component(&path[..i], folder))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> KnowledgeBase {
        crate::testing::sample_knowledge()
    }

    fn small() -> KnowledgeBase {
        KnowledgeBase::from_files(vec![
            (
                "a/one.md".into(),
                "# One\nTokio runtime\nsemaphore here\nnothing\n".into(),
            ),
            (
                "b/two.md".into(),
                "# Two\nTOKIO and Semaphore together\n".into(),
            ),
            ("x/a/three.md".into(), "# Three\nonly tokio\n".into()),
        ])
    }

    fn terms(t: &[&str]) -> Vec<String> {
        t.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn scan_reads_every_sample_file_sorted() {
        let kb = sample();
        assert_eq!(kb.len(), 13);
        let paths: Vec<&str> = kb.files().iter().map(|f| f.path.as_str()).collect();
        let mut sorted = paths.clone();
        sorted.sort();
        assert_eq!(paths, sorted);
        assert!(kb.get("rust-cli/00-argument-parsing.md").is_some());
        assert_eq!(
            kb.get("rust-cli/00-argument-parsing.md")
                .unwrap()
                .line_count(),
            167
        );
    }

    #[test]
    fn grep_and_needs_every_term_in_the_file() {
        let kb = small();
        let hits = kb.grep(&terms(&["tokio", "semaphore"]), GrepOp::And, None, 100);
        let got: Vec<(&str, usize)> = hits.iter().map(|h| (h.path.as_str(), h.line)).collect();
        assert_eq!(got, vec![("a/one.md", 2), ("a/one.md", 3), ("b/two.md", 2)]);
        assert_eq!(hits[2].text, "TOKIO and Semaphore together");
    }

    #[test]
    fn grep_or_takes_any_term() {
        let kb = small();
        let hits = kb.grep(&terms(&["semaphore", "only"]), GrepOp::Or, None, 100);
        let got: Vec<(&str, usize)> = hits.iter().map(|h| (h.path.as_str(), h.line)).collect();
        assert_eq!(
            got,
            vec![("a/one.md", 3), ("b/two.md", 2), ("x/a/three.md", 2)]
        );
    }

    #[test]
    fn grep_in_folder_matches_folder_suffixes_caps_hits_and_takes_unknown_folder_as_base() {
        let kb = small();
        let hits = kb.grep(&terms(&["tokio"]), GrepOp::Or, Some("a/"), 100);
        let got: Vec<&str> = hits.iter().map(|h| h.path.as_str()).collect();
        assert_eq!(got, vec!["a/one.md", "x/a/three.md"]);
        let hits = kb.grep(&terms(&["tokio"]), GrepOp::Or, None, 2);
        assert_eq!(hits.len(), 2);
        let nickname = kb.grep(&terms(&["tokio"]), GrepOp::Or, Some("zzz/"), 9);
        assert_eq!(nickname, kb.grep(&terms(&["tokio"]), GrepOp::Or, None, 9));
    }

    #[test]
    fn grep_on_sample_finds_lines_case_insensitively() {
        let kb = sample();
        let hits = kb.grep(
            &terms(&["BM25", "idf"]),
            GrepOp::And,
            Some("text-search/"),
            1000,
        );
        assert!(!hits.is_empty());
        for h in &hits {
            assert!(h.path.starts_with("text-search/"));
            let f = kb.get(&h.path).unwrap();
            assert_eq!(f.line(h.line), h.text);
            let low = h.text.to_lowercase();
            assert!(low.contains("bm25") || low.contains("idf"));
        }
    }

    #[test]
    fn in_folder_accepts_root_name_and_empty() {
        let kb = sample();
        assert_eq!(kb.in_folder("rust-cli/").count(), 4);
        assert_eq!(kb.in_folder("knowledge/").count(), kb.len());
        assert_eq!(kb.in_folder("").count(), kb.len());
        assert_eq!(kb.in_folder("cli/").count(), 0);
    }

    #[test]
    fn excerpt_whole_file_when_it_fits() {
        let kb = sample();
        let f = kb.get("text-search/02-bm25-ranking.md").unwrap();
        let ev = kb.excerpt(&f.path, 1_000_000, &[]);
        assert_eq!(ev.len(), 1);
        assert_eq!(ev[0].lines, Some((1, 132)));
        assert_eq!(ev[0].text, f.text.trim_end_matches('\n'));
        assert_eq!(
            ev[0].title.as_deref(),
            Some("BM25 Ranking for Small Knowledge Bases")
        );
        assert!(kb.excerpt("missing.md", 100, &[]).is_empty());
    }

    #[test]
    fn excerpt_over_budget_gives_head_and_focus_sections_with_exact_lines() {
        let kb = sample();
        let path = "text-search/02-bm25-ranking.md";
        let f = kb.get(path).unwrap();
        let budget = 2000;
        let ev = kb.excerpt(path, budget, &terms(&["Worked example"]));
        let total: usize = ev.iter().map(|e| e.text.chars().count()).sum();
        assert!(total <= budget, "{total}");
        assert_eq!(ev[0].lines.unwrap().0, 1);
        assert!(ev[0].text.starts_with("# BM25 Ranking"));
        assert_eq!(ev[1].title.as_deref(), Some("A worked example"));
        for e in &ev {
            let (a, b) = e.lines.unwrap();
            assert_eq!(e.text, f.lines(a, b), "range {a}-{b}");
        }
        assert_eq!(ev.len(), 2, "only the matching section follows the head");
    }

    #[test]
    fn excerpt_without_matches_fills_budget_in_file_order() {
        let kb = sample();
        let path = "text-search/02-bm25-ranking.md";
        let ev = kb.excerpt(path, 1500, &terms(&["zzzz-no-match"]));
        assert!(ev.len() >= 2);
        let total: usize = ev.iter().map(|e| e.text.chars().count()).sum();
        assert!(total <= 1500);
        let mut prev = 0;
        for e in &ev {
            let (a, b) = e.lines.unwrap();
            assert!(a > prev && b >= a);
            prev = b;
        }
    }

    #[test]
    fn excerpt_is_the_same_for_lf_and_crlf_files_at_every_budget() {
        // take_lines copies a whole LF range in one go and walks CRLF ranges
        // line by line: both must give the lines joined by `\n`, and the same
        // ranges, whatever the budget cuts.
        let lf = "# Title\nintro é line\n\n## One\nalpha beta\nmore ü\n\n## Two\n\
                  gamma\n```\n## not a section\n```\nend\n";
        let crlf = lf.replace('\n', "\r\n");
        let kb = KnowledgeBase::from_files(vec![
            ("a/lf.md".into(), lf.into()),
            ("a/crlf.md".into(), crlf),
        ]);
        let lf_chars = lf.chars().count();
        let crlf_chars = lf_chars + lf.matches('\n').count();
        for budget in 1..=lf.len() + 1 {
            if (lf_chars..crlf_chars).contains(&budget) {
                continue; // the whole LF file fits, the CRLF one (its `\r`s) does not
            }
            for focus in [terms(&[]), terms(&["gamma"])] {
                let x = kb.excerpt("a/lf.md", budget, &focus);
                let y = kb.excerpt("a/crlf.md", budget, &focus);
                let strip = |v: &[Evidence]| -> Vec<(Option<(usize, usize)>, String)> {
                    v.iter().map(|e| (e.lines, e.text.clone())).collect()
                };
                assert_eq!(strip(&x), strip(&y), "budget {budget}");
                let f = kb.get("a/lf.md").unwrap();
                for e in &x {
                    let (a, b) = e.lines.unwrap();
                    if e.text.chars().count() < f.lines(a, b).chars().count() {
                        continue; // a first line cut at the budget
                    }
                    assert_eq!(e.text, f.lines(a, b), "budget {budget}");
                }
            }
        }
    }

    #[test]
    fn upsert_adds_in_order_and_replaces() {
        let mut kb = small();
        kb.upsert("a/zero.md".into(), "# Zero\nsemaphore\n".into());
        let paths: Vec<&str> = kb.files().iter().map(|f| f.path.as_str()).collect();
        assert_eq!(
            paths,
            vec!["a/one.md", "a/zero.md", "b/two.md", "x/a/three.md"]
        );
        assert_eq!(kb.get("b/two.md").unwrap().path, "b/two.md");
        kb.upsert("b/two.md".into(), "# Two\nnew\n".into());
        assert_eq!(kb.len(), 4);
        assert_eq!(kb.get("b/two.md").unwrap().text, "# Two\nnew\n");
        let hits = kb.grep(&terms(&["semaphore"]), GrepOp::Or, None, 10);
        let got: Vec<&str> = hits.iter().map(|h| h.path.as_str()).collect();
        assert_eq!(got, vec!["a/one.md", "a/zero.md"]);
    }

    #[test]
    fn lowercase_keeps_offsets() {
        let s = "İstanbul ÄÖ straße Tokio";
        let l = lowercase_same_len(s);
        assert_eq!(l.len(), s.len());
        assert!(l.contains("äö"));
        assert!(l.contains("tokio"));
    }
}
