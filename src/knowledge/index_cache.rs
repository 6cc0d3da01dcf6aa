//! The knowledge index kept between runs: for every file of the base, its
//! passages (line ranges, headings) and their term counts, keyed by the
//! file's size and modification time (and, for a file touched just before
//! it was read, its text's checksum), in one file under `.expand/`. A run
//! reuses the entries of the files that did not change without reading
//! them (a passage's text is cut from its file when shown), analyses the
//! others on all cores, and writes the file back only when something
//! changed. The index it gives is the one a cold build gives, passage for
//! passage and term for term (`warm_index_is_the_cold_index`).
//!
//! The file is a cache: one that is missing, corrupt, from another format
//! version or built under other settings is ignored and replaced, never an
//! error; failing to write it costs the next run a rebuild, nothing else.
//!
//! Layout (integers are LEB128 varints unless said otherwise):
//! `MAGIC`, `FORMAT` (u32 LE), the settings' key (u32 LE), the vocabulary
//! (count, then each term as length and bytes), the files (count, then
//! each: path, size, mtime seconds, mtime nanoseconds, crc of the text,
//! settled (0 or 1), passages:
//! count, then each: first line, last − first, heading (0 for none, else
//! length + 1, then bytes), length in terms, term count, then (id delta,
//! count) pairs), and last a CRC-32 (u32 LE) of everything before it.

use std::collections::HashMap;
use std::path::Path;

use rayon::prelude::*;

use super::bm25::{self, Bm25, Passage, PassageTerms, Vocab};
use super::scan::{KFile, KnowledgeBase, Stamp, SETTLED};
use crate::workspace::jail::Jail;

/// Where the cache lives, relative to the workspace root.
pub const PATH: &str = ".expand/knowledge-index.bin";
const MAGIC: &[u8; 12] = b"expand-kidx\n";
/// Bump whenever passages or tokenization change in a way `bm25::SHAPE`
/// does not capture (the cutting rules, the tokenizer's code).
const FORMAT: u32 = 2;

/// What a call did, for tests and the bench.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    /// Whether a usable cache file was found.
    pub loaded: bool,
    /// Files whose cached entry was used as it was.
    pub reused: usize,
    /// Files analysed afresh (new, changed, or no usable cache).
    pub analyzed: usize,
    /// Cached entries dropped (file removed, changed or left out).
    pub dropped: usize,
    /// Whether the cache file was (re)written.
    pub saved: bool,
}

struct Entry {
    /// `None`: read without a usable timestamp; indexed, never saved.
    stamp: Option<Stamp>,
    /// CRC-32 of the text the passages were cut from.
    crc: u32,
    /// Whether the file had not been touched for [`SETTLED`] when its text
    /// was read: then a matching stamp alone vouches for the entry. An
    /// entry made from a file modified just before (a same-size edit in
    /// the same clock tick would keep the stamp) is checked against the
    /// text's CRC on the next run.
    settled: bool,
    passages: Vec<PassageTerms>,
}

#[derive(Default)]
struct Cache {
    vocab: Vocab,
    files: HashMap<String, Entry>,
}

/// Whether a file is part of the offline index: knowledge a run did not
/// write, and not an index, skill file or drop (they describe the base).
fn indexed(f: &KFile) -> bool {
    let name = f.path.rsplit('/').next().unwrap_or(&f.path);
    f.written_by.is_none() && !super::is_special(name)
}

/// The cold build: every indexed file of `kb` analysed, on all cores.
pub fn build(kb: &KnowledgeBase) -> Bm25 {
    let files: Vec<&KFile> = kb.files().iter().filter(|f| indexed(f)).collect();
    let analysed = analyse(&files);
    let mut vocab = Vocab::default();
    let mut passages = Vec::new();
    let mut terms = Vec::new();
    for a in analysed {
        for (p, len, tf) in a {
            terms.push(bm25::intern(&mut vocab, &p, len, &tf));
            passages.push(p);
        }
    }
    Bm25::from_terms(passages, terms.iter(), vocab)
}

fn analyse(files: &[&KFile]) -> Vec<Vec<crate::knowledge::bm25::Analysed>> {
    files
        .par_iter()
        .map(|f| bm25::analyze(&f.path, f.text()))
        .collect()
}

/// The offline index of `kb`, from the cache at `cache` (a path in `fs`)
/// where its entries still match the files, and the cache brought up to
/// date. `scope` names what else shapes the entries (the knowledge folder):
/// a cache made under another scope is not used.
pub fn load_or_build(fs: &Jail, cache: &Path, scope: &str, kb: &KnowledgeBase) -> (Bm25, Stats) {
    load(fs, cache, true, scope, kb)
}

/// [`load_or_build`], writing the cache back only when `save`.
fn load(fs: &Jail, cache: &Path, save: bool, scope: &str, kb: &KnowledgeBase) -> (Bm25, Stats) {
    let key = crc32fast::hash(format!("{}\n{scope}", bm25::shape()).as_bytes());
    let mut stats = Stats::default();
    let mut old = match fs.read_opt(cache) {
        Ok(Some(bytes)) => decode(&bytes, key),
        _ => None,
    }
    .unwrap_or_default();
    stats.loaded = !old.files.is_empty() || !old.vocab.is_empty();
    let cached = old.files.len();

    // Which files keep their entry, which need analysing: every file's
    // stamp first, on all cores.
    kb.stamp_all();
    let mut fresh: HashMap<String, Entry> = HashMap::with_capacity(kb.len());
    let mut todo: Vec<&KFile> = Vec::new();
    for f in kb.files() {
        let name = f.path.rsplit('/').next().unwrap_or(&f.path);
        if super::is_special(name) {
            continue;
        }
        let reusable = match old.files.remove(&f.path) {
            Some(e) if e.stamp.is_some() && e.stamp == f.stamp() && e.settled => Some(e),
            // A stamp too recent to vouch alone: the text decides.
            Some(e)
                if e.stamp.is_some()
                    && e.stamp == f.stamp()
                    && crc32fast::hash(f.text().as_bytes()) == e.crc
                    && fits(f, &e.passages) =>
            {
                Some(Entry {
                    settled: settled(kb, f),
                    ..e
                })
            }
            _ => None,
        };
        match reusable {
            Some(e) => {
                fresh.insert(f.path.clone(), e);
            }
            // A file this run rewrites is not indexed: nothing to analyse.
            None if f.written_by.is_some() => {}
            None => todo.push(f),
        }
    }
    stats.reused = kb
        .files()
        .iter()
        .filter(|f| indexed(f) && fresh.contains_key(&f.path))
        .count();
    stats.dropped = cached - fresh.len();
    stats.analyzed = todo.len();

    let mut vocab = old.vocab;
    let mut new_passages: HashMap<&str, Vec<Passage>> = HashMap::with_capacity(todo.len());
    for (f, a) in todo.iter().zip(analyse(&todo)) {
        let mut ps = Vec::with_capacity(a.len());
        let mut terms = Vec::with_capacity(a.len());
        for (p, len, tf) in a {
            terms.push(bm25::intern(&mut vocab, &p, len, &tf));
            ps.push(p);
        }
        new_passages.insert(&f.path, ps);
        fresh.insert(
            f.path.clone(),
            Entry {
                stamp: f.stamp(),
                crc: crc32fast::hash(f.text().as_bytes()),
                settled: settled(kb, f),
                passages: terms,
            },
        );
    }

    if save && (!stats.loaded || stats.analyzed > 0 || stats.dropped > 0) {
        let bytes = encode(key, &vocab, &fresh);
        // A cache that cannot be written costs the next run a rebuild.
        stats.saved = fs.write_unsynced(cache, &bytes).is_ok();
    }

    let mut passages = Vec::new();
    let mut terms: Vec<&PassageTerms> = Vec::new();
    for f in kb.files().iter().filter(|f| indexed(f)) {
        let Some(e) = fresh.get(&f.path) else {
            continue;
        };
        match new_passages.remove(f.path.as_str()) {
            Some(ps) => passages.extend(ps),
            // The text is cut from the file when a passage is shown.
            None => passages.extend(e.passages.iter().map(|t| Passage {
                source: f.path.clone(),
                lines: t.lines,
                heading: t.heading.clone(),
                text: bm25::Text::of(f.content().clone(), t.lines),
            })),
        }
        terms.extend(&e.passages);
    }
    (Bm25::from_terms(passages, terms.into_iter(), vocab), stats)
}

/// The index of a workspace's knowledge base `kb` (scanned from `kdir`),
/// through the cache kept in the workspace: what `run`, `new` and
/// `validate --overlaps` search. Only `save` (a run) writes the cache
/// back: checking commands use it and change nothing on disk.
pub fn of_workspace(
    ws: &crate::workspace::Workspace,
    kdir: &Path,
    kb: &KnowledgeBase,
    save: bool,
) -> Bm25 {
    let scope = ws.show(kdir).to_string_lossy().into_owned();
    let (index, stats) = load(&ws.fs, &ws.root.join(PATH), save, &scope, kb);
    tracing::debug!(?stats, "knowledge index");
    index
}

/// Whether `f` was last modified at least [`SETTLED`] before the base was
/// scanned (an in-memory base never is).
fn settled(kb: &KnowledgeBase, f: &KFile) -> bool {
    let (Some(at), Some(s)) = (kb.scanned_at(), f.stamp()) else {
        return false;
    };
    let mtime = std::time::UNIX_EPOCH + std::time::Duration::new(s.mtime.0, s.mtime.1);
    mtime + SETTLED <= at
}

/// Whether every passage of an entry lies within the file's lines.
fn fits(f: &KFile, passages: &[PassageTerms]) -> bool {
    let n = f.line_count();
    passages
        .iter()
        .all(|p| p.lines.0 >= 1 && p.lines.0 <= p.lines.1 && p.lines.1 <= n)
}

fn put(out: &mut Vec<u8>, mut v: u64) {
    loop {
        let b = (v & 0x7f) as u8;
        v >>= 7;
        if v == 0 {
            out.push(b);
            return;
        }
        out.push(b | 0x80);
    }
}

fn put_str(out: &mut Vec<u8>, s: &str) {
    put(out, s.len() as u64);
    out.extend_from_slice(s.as_bytes());
}

/// The cache's bytes, with only the terms its entries use (renumbered in
/// first-use order, so removed files leave no dead terms behind).
fn encode(key: u32, vocab: &Vocab, files: &HashMap<String, Entry>) -> Vec<u8> {
    let mut paths: Vec<(&String, &Entry)> =
        files.iter().filter(|(_, e)| e.stamp.is_some()).collect();
    paths.sort_by(|a, b| a.0.cmp(b.0));
    let mut remap: Vec<u32> = vec![u32::MAX; vocab.len()];
    let mut words: Vec<&str> = Vec::new();
    let mut body = Vec::new();
    put(&mut body, paths.len() as u64);
    let mut tf: Vec<(u32, u32)> = Vec::new();
    for (path, e) in &paths {
        let s = e.stamp.expect("filtered");
        put_str(&mut body, path);
        put(&mut body, s.size);
        put(&mut body, s.mtime.0);
        put(&mut body, u64::from(s.mtime.1));
        put(&mut body, u64::from(e.crc));
        put(&mut body, u64::from(e.settled));
        put(&mut body, e.passages.len() as u64);
        for p in &e.passages {
            put(&mut body, p.lines.0 as u64);
            put(&mut body, (p.lines.1 - p.lines.0) as u64);
            match &p.heading {
                None => put(&mut body, 0),
                Some(h) => {
                    put(&mut body, h.len() as u64 + 1);
                    body.extend_from_slice(h.as_bytes());
                }
            }
            put(&mut body, u64::from(p.len));
            tf.clear();
            for &(id, n) in &p.tf {
                let r = &mut remap[id as usize];
                if *r == u32::MAX {
                    *r = words.len() as u32;
                    words.push(vocab.word(id));
                }
                tf.push((*r, n));
            }
            tf.sort_unstable_by_key(|&(id, _)| id);
            put(&mut body, tf.len() as u64);
            let mut prev = 0u32;
            for &(id, n) in &tf {
                put(&mut body, u64::from(id - prev));
                put(&mut body, u64::from(n));
                prev = id;
            }
        }
    }
    let mut out = Vec::with_capacity(body.len() + words.len() * 10 + 32);
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&FORMAT.to_le_bytes());
    out.extend_from_slice(&key.to_le_bytes());
    put(&mut out, words.len() as u64);
    for w in &words {
        put_str(&mut out, w);
    }
    out.extend_from_slice(&body);
    let crc = crc32fast::hash(&out);
    out.extend_from_slice(&crc.to_le_bytes());
    out
}

struct Reader<'a> {
    b: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn int(&mut self) -> Option<u64> {
        let mut v = 0u64;
        for shift in (0..64).step_by(7) {
            let b = *self.b.get(self.at)?;
            self.at += 1;
            v |= u64::from(b & 0x7f) << shift;
            if b & 0x80 == 0 {
                return Some(v);
            }
        }
        None
    }

    fn small(&mut self) -> Option<u32> {
        u32::try_from(self.int()?).ok()
    }

    fn bytes(&mut self, n: usize) -> Option<&'a [u8]> {
        let end = self.at.checked_add(n)?;
        let s = self.b.get(self.at..end)?;
        self.at = end;
        Some(s)
    }

    fn str(&mut self, n: usize) -> Option<String> {
        std::str::from_utf8(self.bytes(n)?).ok().map(str::to_string)
    }
}

/// The cache in `bytes`, or `None` if it is not one this build wrote
/// under these settings (or is damaged in any way).
fn decode(bytes: &[u8], key: u32) -> Option<Cache> {
    let n = bytes.len().checked_sub(4)?;
    let (data, tail) = bytes.split_at(n);
    if crc32fast::hash(data).to_le_bytes() != tail {
        return None;
    }
    let mut r = Reader { b: data, at: 0 };
    if r.bytes(MAGIC.len())? != MAGIC
        || r.bytes(4)? != FORMAT.to_le_bytes()
        || r.bytes(4)? != key.to_le_bytes()
    {
        return None;
    }
    // Counts are bounded by the bytes left, so a damaged count cannot
    // make a huge allocation.
    let count = |r: &mut Reader| -> Option<usize> {
        let c = r.int()? as usize;
        (c <= r.b.len() - r.at).then_some(c)
    };
    let nwords = count(&mut r)?;
    let mut words = Vec::with_capacity(nwords);
    for _ in 0..nwords {
        let len = count(&mut r)?;
        words.push(r.str(len)?);
    }
    let vocab = Vocab::from_words(words)?;
    let nfiles = count(&mut r)?;
    let mut files = HashMap::with_capacity(nfiles);
    for _ in 0..nfiles {
        let len = count(&mut r)?;
        let path = r.str(len)?;
        let stamp = Stamp {
            size: r.int()?,
            mtime: (r.int()?, r.small()?),
        };
        let crc = r.small()?;
        let settled = match r.int()? {
            0 => false,
            1 => true,
            _ => return None,
        };
        let np = count(&mut r)?;
        let mut passages = Vec::with_capacity(np);
        for _ in 0..np {
            let a = r.int()? as usize;
            let b = a.checked_add(r.int()? as usize)?;
            let heading = match count(&mut r)? {
                0 => None,
                h => Some(r.str(h - 1)?),
            };
            let len = r.small()?;
            let nt = count(&mut r)?;
            let mut tf = Vec::with_capacity(nt);
            let mut id = 0u32;
            for _ in 0..nt {
                id = id.checked_add(r.small()?)?;
                if id as usize >= vocab.len() {
                    return None;
                }
                tf.push((id, r.small()?));
            }
            passages.push(PassageTerms {
                lines: (a, b),
                heading,
                len,
                tf,
            });
        }
        let entry = Entry {
            stamp: Some(stamp),
            crc,
            settled,
            passages,
        };
        if files.insert(path, entry).is_some() {
            return None;
        }
    }
    (r.at == data.len()).then_some(Cache { vocab, files })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A workspace-like folder holding the committed sample base, with its
    /// jail and the cache path inside it.
    struct Base {
        _dir: tempfile::TempDir,
        root: std::path::PathBuf,
        fs: Jail,
    }

    impl Base {
        fn new() -> Base {
            let dir = tempfile::tempdir().unwrap();
            crate::testing::write_sample(dir.path()).unwrap();
            let root = dir.path().canonicalize().unwrap();
            let fs = Jail::open(&root).unwrap();
            Base {
                _dir: dir,
                root,
                fs,
            }
        }

        fn scan(&self) -> KnowledgeBase {
            KnowledgeBase::scan(&self.fs, &self.root.join("knowledge"), &[]).unwrap()
        }

        fn index(&self) -> (Bm25, Stats) {
            load_or_build(&self.fs, &self.root.join(PATH), "knowledge", &self.scan())
        }

        fn file(&self, rel: &str) -> std::path::PathBuf {
            self.root.join("knowledge").join(rel)
        }
    }

    /// Two indexes are the same: the same passages in the same order, and
    /// every query scores every passage alike.
    fn assert_same(a: &Bm25, b: &Bm25) {
        assert_eq!(a.len(), b.len());
        for i in 0..a.len() {
            let (p, q) = (a.passage(i), b.passage(i));
            assert_eq!(
                (&p.source, p.lines, &p.heading, &p.text),
                (&q.source, q.lines, &q.heading, &q.text)
            );
        }
        for query in [
            "inverse document frequency idf",
            "semaphore concurrency limit",
            "clap derive subcommand",
            "tokio runtime spawn blocking",
            "edited passage zanzibar",
        ] {
            assert_eq!(a.search(query, 50), b.search(query, 50), "{query}");
            assert_eq!(a.idf("zanzibar"), b.idf("zanzibar"));
        }
    }

    #[test]
    fn warm_index_is_the_cold_index() {
        let base = Base::new();
        let cold = build(&base.scan());
        let (first, stats) = base.index();
        assert!(!stats.loaded && stats.saved && stats.reused == 0);
        assert!(stats.analyzed > 10, "{stats:?}");
        assert_same(&cold, &first);
        let (warm, stats) = base.index();
        assert!(stats.loaded && !stats.saved, "{stats:?}");
        assert_eq!((stats.analyzed, stats.dropped), (0, 0));
        assert!(stats.reused > 10);
        assert_same(&cold, &warm);
    }

    #[test]
    fn an_edited_added_or_removed_file_is_reindexed_alone() {
        let base = Base::new();
        let (_, first) = base.index();
        let files = first.analyzed;
        // Same size, new words: the checksum tells it apart even when the
        // timestamp does not move.
        let edited = base.file("text-search/02-bm25-ranking.md");
        let text = std::fs::read_to_string(&edited).unwrap();
        let at = text.find("frequency").expect("a word to replace");
        let same_len = format!("{}zanzibar!{}", &text[..at], &text[at + 9..]);
        assert_eq!(same_len.len(), text.len());
        std::fs::write(&edited, &same_len).unwrap();
        let (warm, stats) = base.index();
        assert_eq!(
            (stats.analyzed, stats.reused, stats.dropped),
            (1, files - 1, 1)
        );
        assert!(stats.saved);
        assert_same(&build(&base.scan()), &warm);
        assert!(!warm.search("zanzibar", 5).is_empty());

        std::fs::write(
            base.file("text-search/99-new.md"),
            "# New\n\nA zanzibar passage, added.\n",
        )
        .unwrap();
        let (warm, stats) = base.index();
        assert_eq!((stats.analyzed, stats.reused, stats.dropped), (1, files, 0));
        assert_same(&build(&base.scan()), &warm);

        std::fs::remove_file(&edited).unwrap();
        let (warm, stats) = base.index();
        assert_eq!((stats.analyzed, stats.reused, stats.dropped), (0, files, 1));
        assert!(stats.saved);
        assert_same(&build(&base.scan()), &warm);
        assert!(warm
            .search("zanzibar", 5)
            .iter()
            .all(|&(i, _)| warm.passage(i).source == "text-search/99-new.md"));
    }

    /// Set every file of the base's knowledge folder an hour back.
    fn age(base: &Base) {
        let hour_ago = std::time::SystemTime::now() - std::time::Duration::from_secs(3600);
        for rel in
            crate::knowledge::list_files(&base.fs, &base.root.join("knowledge"), &[]).unwrap()
        {
            let f = std::fs::File::options()
                .write(true)
                .open(base.file(&rel))
                .unwrap();
            f.set_modified(hour_ago).unwrap();
        }
    }

    #[test]
    fn a_warm_start_reads_no_settled_file_and_a_touched_one_is_reindexed() {
        let base = Base::new();
        age(&base);
        let (cold, first) = base.index();
        // Written from files an hour old: their stamps alone vouch for them.
        let kb = base.scan();
        let (warm, stats) = load_or_build(&base.fs, &base.root.join(PATH), "knowledge", &kb);
        assert_eq!((stats.reused, stats.analyzed), (first.analyzed, 0));
        assert_eq!(
            kb.read_so_far(),
            Vec::<&str>::new(),
            "a warm start reads nothing"
        );
        // Showing a passage reads its file, and only then.
        let top = warm.search("inverse document frequency idf", 1)[0].0;
        assert!(!warm.passage(top).text.is_empty());
        assert_eq!(kb.read_so_far(), [warm.passage(top).source.as_str()]);
        assert_same(&cold, &warm);

        // A file written now has a new stamp: analysed again, and its entry
        // is checked against its text on the next run (too recent to trust).
        let edited = base.file("text-search/02-bm25-ranking.md");
        let text = std::fs::read_to_string(&edited).unwrap();
        std::fs::write(&edited, text.replace("frequency", "zanzibar!")).unwrap();
        let (warm, stats) = base.index();
        assert_eq!((stats.analyzed, stats.reused), (1, first.analyzed - 1));
        assert!(!warm.search("zanzibar", 5).is_empty());
        let kb = base.scan();
        let (_, stats) = load_or_build(&base.fs, &base.root.join(PATH), "knowledge", &kb);
        assert_eq!((stats.analyzed, stats.reused), (0, first.analyzed));
        assert_eq!(kb.read_so_far(), ["text-search/02-bm25-ranking.md"]);
    }

    #[test]
    fn a_corrupt_foreign_or_other_scope_cache_is_rebuilt_not_an_error() {
        let base = Base::new();
        let (_, first) = base.index();
        let cache = base.root.join(PATH);
        let good = std::fs::read(&cache).unwrap();
        let cold = build(&base.scan());
        let mut flipped = good.clone();
        let mid = flipped.len() / 2;
        flipped[mid] ^= 0x40;
        for bad in [
            Vec::new(),
            b"not a cache at all".to_vec(),
            good[..good.len() / 3].to_vec(),
            flipped,
        ] {
            std::fs::write(&cache, &bad).unwrap();
            let (index, stats) = base.index();
            assert!(!stats.loaded && stats.saved, "{stats:?}");
            assert_eq!(stats.analyzed, first.analyzed);
            assert_same(&cold, &index);
            assert_eq!(std::fs::read(&cache).unwrap(), good);
        }
        // Built for another knowledge folder: not used.
        let kb = base.scan();
        let (index, stats) = load_or_build(&base.fs, &cache, "elsewhere", &kb);
        assert!(!stats.loaded && stats.analyzed == first.analyzed);
        assert_same(&cold, &index);
        // A cache that cannot be written is no error either.
        std::fs::remove_file(&cache).unwrap();
        std::fs::create_dir_all(cache.join("in-the-way")).unwrap();
        let (index, stats) = base.index();
        assert!(!stats.saved);
        assert_same(&cold, &index);
    }

    #[test]
    fn files_a_run_rewrites_are_left_out_and_keep_their_entry() {
        let base = Base::new();
        base.index();
        let mut kb = base.scan();
        kb.mark_written("text-search/02-bm25-ranking.md", 3);
        let (index, stats) = load_or_build(&base.fs, &base.root.join(PATH), "knowledge", &kb);
        assert_same(&build(&kb), &index);
        assert_eq!((stats.analyzed, stats.dropped), (0, 0));
        assert!(
            (0..index.len()).all(|i| index.passage(i).source != "text-search/02-bm25-ranking.md")
        );
    }
}
