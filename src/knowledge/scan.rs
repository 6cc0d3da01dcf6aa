//! The knowledge base in memory: every `*.md` file of the base listed once
//! per run, its text read from disk the first time a step needs it (a run
//! that reads 60 files of a 2,000-file base reads 60), with line starts and
//! a lowercased copy made on first use too. The knowledge step's reads,
//! greps and folder look-ups run against this, so a 24-PART plan costs one
//! walk of the base rather than 24, and no file is read twice.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use memchr::memmem;
use rayon::prelude::*;

use crate::workspace::jail::Jail;

use crate::plan::model::GrepOp;
use crate::providers::Evidence;

/// Where a scanned file's text is read from.
#[derive(Debug)]
struct Origin {
    fs: Jail,
    root: PathBuf,
}

/// A file's text and what is derived from it, each made the first time it
/// is needed. Shared (`Arc`) by the file and the index passages cut from it,
/// so a passage's text is read from the file only when it is shown.
#[derive(Debug)]
pub struct Content {
    path: String,
    /// `None`: given in memory (tests, files a PART wrote), never read.
    origin: Option<Arc<Origin>>,
    text: OnceLock<String>,
    /// Byte offsets at which each line starts (line 1 starts at 0).
    line_starts: OnceLock<Vec<usize>>,
    /// `text.chars().count()`, for budgets counted in chars.
    chars: OnceLock<usize>,
}

impl Content {
    fn given(path: &str, text: String) -> Content {
        Content {
            path: path.to_string(),
            origin: None,
            text: OnceLock::from(text),
            line_starts: OnceLock::new(),
            chars: OnceLock::new(),
        }
    }

    /// The text: read on first use. Files that are not UTF-8 are read
    /// lossily (a stray byte must not hide a whole file); a file that
    /// cannot be read any more (removed since the scan) reads as empty,
    /// with a warning.
    pub fn text(&self) -> &str {
        self.text.get_or_init(|| {
            let Some(o) = &self.origin else {
                return String::new();
            };
            match o.fs.read(o.root.join(&self.path)) {
                Ok(bytes) => match String::from_utf8(bytes) {
                    Ok(t) => t,
                    Err(e) => String::from_utf8_lossy(e.as_bytes()).into_owned(),
                },
                Err(e) => {
                    tracing::warn!(path = %self.path, error = %e, "knowledge file unreadable; it counts as empty");
                    String::new()
                }
            }
        })
    }

    fn line_starts(&self) -> &[usize] {
        self.line_starts
            .get_or_init(|| crate::markdown::line_starts(self.text()))
    }

    fn chars(&self) -> usize {
        *self.chars.get_or_init(|| self.text().chars().count())
    }

    /// Lines `a..=b` (1-based) as `str::lines` gives them, joined with
    /// `\n`: a passage's text. `None` when the file has fewer lines.
    pub fn passage_text(&self, a: usize, b: usize) -> Option<String> {
        if a == 0 || b < a || b > self.line_count() {
            return None;
        }
        let (text, starts) = (self.text(), self.line_starts());
        let start = starts[a - 1];
        let end = starts.get(b).copied().unwrap_or(text.len());
        let slice = &text[start..end];
        if memchr::memchr(b'\r', slice.as_bytes()).is_none() {
            return Some(slice.strip_suffix('\n').unwrap_or(slice).to_string());
        }
        Some(slice.lines().collect::<Vec<_>>().join("\n"))
    }

    /// Number of lines (a trailing newline does not start another line).
    pub fn line_count(&self) -> usize {
        let (text, starts) = (self.text(), self.line_starts());
        let n = starts.len();
        if n > 1 && starts[n - 1] == text.len() {
            n - 1
        } else if text.is_empty() {
            0
        } else {
            n
        }
    }

    /// Line `n` (1-based) without its line ending.
    pub fn line(&self, n: usize) -> &str {
        let (text, starts) = (self.text(), self.line_starts());
        if n == 0 || n > starts.len() {
            return "";
        }
        let start = starts[n - 1];
        let end = starts.get(n).copied().unwrap_or(text.len());
        text[start..end].trim_end_matches(['\n', '\r'])
    }

    fn line_of(&self, offset: usize) -> usize {
        match self.line_starts().binary_search(&offset) {
            Ok(i) => i + 1,
            Err(i) => i,
        }
    }
}

/// One markdown file of the knowledge base.
#[derive(Clone, Debug)]
pub struct KFile {
    /// Knowledge-relative path with forward slashes.
    pub path: String,
    content: Arc<Content>,
    /// `text` lowercased char by char wherever that keeps the byte length, so
    /// offsets found in it are offsets in `text` too; made on first use, and
    /// only for searches with non-ASCII terms.
    lower: OnceLock<String>,
    /// `text` with its ASCII letters lowercased (same offsets again), for
    /// searches whose terms are all ASCII: the common case, and a copy
    /// made at memory speed.
    ascii_lower: OnceLock<Vec<u8>>,
    /// The head and `## ` sections as line ranges (see `h2_sections`),
    /// found the first time the file is excerpted (most files never are).
    sections: OnceLock<Vec<(usize, usize)>>,
    /// The PART of this run that wrote the file, if one did: only the PARTs
    /// that depend on it see it, so what a PART reads never depends on which
    /// other PART finished first.
    pub written_by: Option<u32>,
    /// Size and modification time of the file on disk, taken the first
    /// time the index cache asks (`None` for a file given in memory): what
    /// the cache is keyed by. Listing the base stats nothing, so a run that
    /// reads 60 files of 2,000 makes 60 reads and no 2,000 stats.
    stamp: OnceLock<Option<Stamp>>,
}

/// What identifies a version of a file on disk for the index cache.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Stamp {
    pub size: u64,
    /// Modification time: seconds and nanoseconds since the Unix epoch.
    pub mtime: (u64, u32),
}

impl Stamp {
    fn of(meta: &cap_std::fs::Metadata) -> Option<Stamp> {
        let t = meta
            .modified()
            .ok()?
            .into_std()
            .duration_since(std::time::UNIX_EPOCH)
            .ok()?;
        Some(Stamp {
            size: meta.len(),
            mtime: (t.as_secs(), t.subsec_nanos()),
        })
    }
}

impl KFile {
    fn new(path: String, text: String) -> KFile {
        let content = Arc::new(Content::given(&path, text));
        KFile::with(path, content)
    }

    fn with(path: String, content: Arc<Content>) -> KFile {
        KFile {
            path,
            content,
            lower: OnceLock::new(),
            ascii_lower: OnceLock::new(),
            sections: OnceLock::new(),
            written_by: None,
            stamp: OnceLock::new(),
        }
    }

    /// See the `stamp` field; made on first use.
    pub fn stamp(&self) -> Option<Stamp> {
        *self.stamp.get_or_init(|| {
            let o = self.content.origin.as_ref()?;
            let meta = o.fs.metadata(o.root.join(&self.path)).ok()?;
            Stamp::of(&meta)
        })
    }

    /// The file's text (read from disk on first use).
    pub fn text(&self) -> &str {
        self.content.text()
    }

    /// The file's content, shared: what an index passage keeps to show its
    /// text later without reading the file now.
    pub fn content(&self) -> &Arc<Content> {
        &self.content
    }

    /// Whether the text is in memory already (read, or given).
    pub fn is_loaded(&self) -> bool {
        self.content.text.get().is_some()
    }

    /// The text folded for a case-insensitive search of lowercased terms:
    /// ASCII letters only when every term is ASCII, else fully.
    fn folded(&self, ascii_terms: bool) -> &[u8] {
        if ascii_terms {
            self.ascii_lower
                .get_or_init(|| self.text().as_bytes().to_ascii_lowercase())
        } else {
            self.lower
                .get_or_init(|| lowercase_same_len(self.text()))
                .as_bytes()
        }
    }

    /// See [`Content::passage_text`].
    pub fn passage_text(&self, a: usize, b: usize) -> Option<String> {
        self.content.passage_text(a, b)
    }

    /// See [`Content::line_count`].
    pub fn line_count(&self) -> usize {
        self.content.line_count()
    }

    /// See [`Content::line`].
    pub fn line(&self, n: usize) -> &str {
        self.content.line(n)
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

    fn line_starts(&self) -> &[usize] {
        self.content.line_starts()
    }

    fn line_of(&self, offset: usize) -> usize {
        self.content.line_of(offset)
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
    /// When the scan began: a file modified since (or just before, within
    /// a coarse clock's step) may have changed without its stamp showing it.
    scanned_at: Option<std::time::SystemTime>,
}

/// Files the index cache trusts by their stamp alone were last modified at
/// least this long before the scan; a timestamp coarser than this (FAT's
/// 2 s) could hide an edit made in the same tick.
pub const SETTLED: std::time::Duration = std::time::Duration::from_secs(3);

impl KnowledgeBase {
    /// List every `*.md` under `root` (skipping hidden folders and
    /// `exclude`). Texts are read ([`KFile::text`]), and files stat'ed
    /// ([`KFile::stamp`]), when first needed.
    pub fn scan(fs: &Jail, root: &Path, exclude: &[PathBuf]) -> std::io::Result<KnowledgeBase> {
        let scanned_at = std::time::SystemTime::now();
        let listed = super::list_files(fs, root, exclude)?;
        let origin = Arc::new(Origin {
            fs: fs.clone(),
            root: root.to_path_buf(),
        });
        let files = listed
            .into_iter()
            .map(|p| {
                let content = Arc::new(Content {
                    path: p.clone(),
                    origin: Some(origin.clone()),
                    text: OnceLock::new(),
                    line_starts: OnceLock::new(),
                    chars: OnceLock::new(),
                });
                KFile::with(p, content)
            })
            .collect();
        let mut kb = KnowledgeBase::build(root.to_path_buf(), files);
        kb.scanned_at = Some(scanned_at);
        Ok(kb)
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
            scanned_at: None,
        }
    }

    /// When [`KnowledgeBase::scan`] began (`None` for an in-memory base).
    pub fn scanned_at(&self) -> Option<std::time::SystemTime> {
        self.scanned_at
    }

    /// Read every file's text now, on all cores: for a base whose folder
    /// is about to go away (tests).
    pub fn load_all(&self) {
        self.files.par_iter().for_each(|f| {
            f.text();
        });
    }

    /// The files whose text is in memory (read, or given), in path order.
    pub fn read_so_far(&self) -> Vec<&str> {
        self.files
            .iter()
            .filter(|f| f.is_loaded())
            .map(|f| f.path.as_str())
            .collect()
    }

    /// Stat every file now, on all cores (see [`KFile::stamp`]).
    pub fn stamp_all(&self) {
        self.files.par_iter().for_each(|f| {
            f.stamp();
        });
    }

    /// Read the texts of `files` not yet in memory, on all cores: for work
    /// that needs many files at once.
    pub fn load(files: &[&KFile]) {
        let todo: Vec<&&KFile> = files.iter().filter(|f| !f.is_loaded()).collect();
        if todo.len() > 1 {
            todo.par_iter().for_each(|f| {
                f.text();
            });
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

    /// [`KnowledgeBase::grep`] over the files `keep` lets through. The
    /// candidates are searched on all cores, a chunk at a time (their texts
    /// read as they are reached), and their hits taken in path order until
    /// `max_hits`.
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
        let matcher = Matcher::new(&lowered);
        // Plans name the base itself by a nickname ("in karpathy/" for
        // `karpathy-deep-oracle/`): a folder that names nothing in the base
        // means the whole base rather than no match at all.
        let folder = folder.filter(|f| self.in_folder(f).next().is_some());
        let candidates: Vec<&KFile> = match folder {
            Some(f) => self.in_folder(f).filter(|f| keep(f)).collect(),
            None => self.files.iter().filter(|f| keep(f)).collect(),
        };
        for chunk in candidates.chunks(GREP_CHUNK) {
            let found: Vec<Vec<usize>> = chunk.par_iter().map(|f| matcher.lines(f, op)).collect();
            for (file, lines) in chunk.iter().zip(found) {
                for line in lines {
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
        let title = crate::markdown::title(file.text());
        // Bytes bound chars: most files fit without counting.
        if file.text().len() <= budget_chars || file.content.chars() <= budget_chars {
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
        let matching: Vec<&(usize, usize)> = if focus.is_empty() {
            Vec::new()
        } else {
            let finders: Vec<memmem::Finder> = focus.iter().map(memmem::Finder::new).collect();
            let hay = file.folded(focus.iter().all(|t| t.is_ascii()));
            let starts = file.line_starts();
            sections[1..]
                .iter()
                .filter(|(a, b)| {
                    let start = starts[a - 1];
                    let end = starts.get(*b).copied().unwrap_or(hay.len());
                    finders.iter().any(|f| f.find(&hay[start..end]).is_some())
                })
                .collect()
        };
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

/// Files searched at once by a grep: enough to keep every core busy, few
/// enough that a grep with many hits early in the base stops soon.
const GREP_CHUNK: usize = 256;

/// How a grep finds its lowercased terms in a file: each searched (SIMD
/// `memmem`) in a folded copy of the file made once per run. When every
/// term is ASCII the copy need only fold ASCII letters (a fast byte loop):
/// a match there is a match in the fully lowercased text and the other way
/// round, since lowercasing keeps non-ASCII chars non-ASCII.
struct Matcher {
    finders: Vec<memmem::Finder<'static>>,
    ascii: bool,
}

impl Matcher {
    fn new(lowered: &[String]) -> Matcher {
        Matcher {
            finders: lowered
                .iter()
                .map(|t| memmem::Finder::new(t).into_owned())
                .collect(),
            ascii: lowered.iter().all(|t| t.is_ascii()),
        }
    }

    /// The lines of `file` holding any term, in order, when the file holds
    /// every term (`And`) or any (`Or`); else none.
    fn lines(&self, file: &KFile, op: GrepOp) -> Vec<usize> {
        let hay = file.folded(self.ascii);
        let matched = match op {
            GrepOp::And => self.finders.iter().all(|f| f.find(hay).is_some()),
            GrepOp::Or => self.finders.iter().any(|f| f.find(hay).is_some()),
        };
        if !matched {
            return Vec::new();
        }
        let mut lines: Vec<usize> = Vec::new();
        for f in &self.finders {
            let mut last = 0;
            for off in f.find_iter(hay) {
                let line = file.line_of(off);
                if line != last {
                    lines.push(line);
                    last = line;
                }
            }
        }
        lines.sort_unstable();
        lines.dedup();
        lines
    }
}

/// Line ranges: the head (before the first `## `, possibly empty as `(1, 0)`),
/// then each `## ` section up to the next, trailing blank lines dropped.
/// Headings are the markdown model's, so a `## ` inside code does not split.
fn h2_sections(file: &KFile) -> Vec<(usize, usize)> {
    let n = file.line_count();
    let headings = crate::markdown::heading_lines(file.text());
    let mut starts = vec![1usize];
    starts.extend(
        headings
            .iter()
            .filter(|&&(level, line)| level == 2 && line > 1)
            .map(|&(_, line)| line),
    );
    let head_is_h2 = headings.first() == Some(&(2, 1));
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
    let (text, starts) = (file.text(), file.line_starts());
    let start = starts[a - 1];
    let end = starts.get(b).copied().unwrap_or(text.len());
    let slice = &text[start..end];
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
        assert_eq!(ev[0].text, f.text().trim_end_matches('\n'));
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
        assert_eq!(kb.get("b/two.md").unwrap().text(), "# Two\nnew\n");
        let hits = kb.grep(&terms(&["semaphore"]), GrepOp::Or, None, 10);
        let got: Vec<&str> = hits.iter().map(|h| h.path.as_str()).collect();
        assert_eq!(got, vec!["a/one.md", "a/zero.md"]);
    }

    #[test]
    fn a_scan_lists_files_and_reads_only_what_is_asked() {
        let dir = tempfile::tempdir().unwrap();
        crate::testing::write_sample(dir.path()).unwrap();
        let root = dir.path().canonicalize().unwrap();
        let fs = Jail::open(&root).unwrap();
        let kb = KnowledgeBase::scan(&fs, &root.join("knowledge"), &[]).unwrap();
        assert_eq!(kb.len(), 13);
        assert!(kb
            .files()
            .iter()
            .all(|f| !f.is_loaded() && f.stamp().is_some()));
        let ev = kb.excerpt("rust-cli/00-argument-parsing.md", 500, &[]);
        assert!(!ev.is_empty());
        assert_eq!(kb.read_so_far(), ["rust-cli/00-argument-parsing.md"]);
        // A grep reads the files it searches; a file gone since the scan
        // reads as empty rather than failing the step.
        std::fs::remove_file(root.join("knowledge/text-search/02-bm25-ranking.md")).unwrap();
        let hits = kb.grep(&["idf"], GrepOp::Or, Some("text-search/"), 100);
        assert!(hits
            .iter()
            .all(|h| h.path != "text-search/02-bm25-ranking.md"));
        assert!(kb.in_folder("text-search/").all(|f| f.is_loaded()));
        assert_eq!(
            kb.get("text-search/02-bm25-ranking.md")
                .unwrap()
                .line_count(),
            0
        );
    }

    #[test]
    fn grep_finds_the_lines_a_lowercased_search_finds() {
        // The ASCII automaton and the lowercased copy must agree, also next
        // to letters whose lowercase changes length (İ, K-sign) or is not
        // ASCII (Ä), on CRLF lines and at the ends of the text.
        let texts = [
            "İstanbul TOKIO\r\nstraße ÄÖ tokio\nKelvin \u{212A}elvin kelvin\n",
            "semaphore\nSEMAPHORE and Tokio\n\nno\nTokIO",
            "ÄÖÜ äöü\ntokio-semaphore\r\n",
            "",
        ];
        let kb = KnowledgeBase::from_files(
            texts
                .iter()
                .enumerate()
                .map(|(i, t)| (format!("f{i}.md"), t.to_string()))
                .collect(),
        );
        let naive = |terms: &[&str], op: GrepOp| -> Vec<(String, usize)> {
            let mut out = Vec::new();
            for f in kb.files() {
                let low = lowercase_same_len(f.text());
                let lt: Vec<String> = terms.iter().map(|t| lowercase_same_len(t)).collect();
                let has = |t: &String| low.contains(t.as_str());
                let ok = match op {
                    GrepOp::And => lt.iter().all(has),
                    GrepOp::Or => lt.iter().any(has),
                };
                if !ok {
                    continue;
                }
                for n in 1..=f.line_count() {
                    let line = lowercase_same_len(f.line(n));
                    if lt.iter().any(|t| line.contains(t.as_str())) {
                        out.push((f.path.clone(), n));
                    }
                }
            }
            out
        };
        for terms in [
            &["tokio"][..],
            &["tokio", "semaphore"],
            &["kelvin"],
            &["äö"],
            &["äö", "tokio"],
            &["istanbul"],
        ] {
            for op in [GrepOp::And, GrepOp::Or] {
                let got: Vec<(String, usize)> = kb
                    .grep(terms, op, None, 1000)
                    .into_iter()
                    .map(|h| (h.path, h.line))
                    .collect();
                assert_eq!(got, naive(terms, op), "{terms:?} {op:?}");
            }
        }
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
