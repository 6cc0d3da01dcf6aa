//! Knowledge reference resolution (SPEC §2): a reference written in a plan
//! (`distributed-training/00`, `performance/`, `File 3`, a full path) resolves
//! against the files in `knowledge/` together with the targets that the plans
//! being read will create.

use std::cell::{OnceCell, RefCell};
use std::sync::Arc;

use rustc_hash::{FxHashMap, FxHashSet};

use crate::plan::SharedStr;

/// Where a reference leads.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Resolution {
    /// A file that exists in the knowledge base. (Paths share the catalog's
    /// text: a graph holds a resolution for every read of every PART.)
    Existing(SharedStr),
    /// A file a PART will create: `plan` indexes the plans read together.
    Planned {
        path: SharedStr,
        plan: usize,
        part: u32,
    },
    /// A folder (`performance/`), relative to the knowledge root, with a trailing `/`.
    Folder(String),
    /// A glob (`distributed-*.md`) and the files it matches now.
    Glob(Vec<String>),
    Unresolved,
}

impl Resolution {
    /// The path to show for a resolved reference.
    pub fn path(&self) -> Option<&str> {
        match self {
            Resolution::Existing(p) | Resolution::Planned { path: p, .. } => Some(p),
            Resolution::Folder(p) => Some(p),
            Resolution::Glob(v) => v.first().map(|s| s.as_str()),
            Resolution::Unresolved => None,
        }
    }
}

/// Every file a reference can name: existing knowledge files and planned
/// targets, indexed once so that resolving a reference costs about the same
/// whatever the number of files: a plan of 100,000 PARTs that each read an
/// earlier PART's target made a scan per reference quadratic.
///
/// Each index maps a hash of what a match must share with the reference
/// (its file name, its last two path components, its number and folder) to
/// the paths that have it, in catalog order; the SPEC §2 tests then run on
/// those few candidates exactly as they would on every path, so the answers
/// are those of a scan (the tests hold it to a scan of all paths).
pub struct Catalog {
    /// All paths (planned first, then existing), forward slashes, relative
    /// to the knowledge root, one after another: path `i` ends at `ends[i]`.
    text: SharedStr,
    ends: Vec<usize>,
    /// For planned paths: (plan index, PART number).
    planned: Vec<Option<(u32, u32)>>,
    /// The file name, lowercased.
    by_name: Index,
    /// The last two components of the lowercased path (paths with a folder).
    by_tail: Index,
    /// The file's leading digits and its lowercased folder's last component.
    by_number: Index,
    /// Built on first use: most plans have no folder references or globs.
    folders: OnceCell<Folders>,
    /// The folder's last component as written (for globs).
    by_dir: OnceCell<Index>,
    /// Planned paths' indices in path order (for `planned_in`).
    planned_sorted: OnceCell<Vec<usize>>,
    /// `folder/NN` answers by `NN` and the lowercased folder: the rule
    /// weighs every file with that number in a folder of that name, and
    /// plans cite the same `folder/NN` from many PARTs.
    numbered: RefCell<FxHashMap<(String, String), Option<usize>>>,
}

/// Every folder that holds a path, with a trailing `/`, in `String` order.
struct Folders {
    list: Vec<String>,
    /// The lowercased folder's last component → rank in `list`.
    by_last: Index,
}

/// (key hash, index) pairs sorted: the indices under one key are one run,
/// in ascending order. About eleven bytes a pair with the slot table: the
/// catalog is held through the whole analysis, with an entry per planned
/// target in each index.
struct Index {
    /// (key, path index), sorted.
    pairs: Vec<(u32, u32)>,
    /// Where the keys whose top `bits` bits are `t` start in `pairs`
    /// (`starts[t]..starts[t + 1]`): a look-up reads one slot and the
    /// few pairs after it, not a binary search's scattered probes (the
    /// catalog of a 100,000-PART plan is larger than a core's cache).
    starts: Vec<u32>,
    bits: u32,
}

impl Index {
    fn new(pairs: impl Iterator<Item = (u64, usize)>) -> Index {
        let mut pairs: Vec<(u32, u32)> = pairs
            .map(|(k, i)| (k as u32, u32::try_from(i).expect("under 4 billion paths")))
            .collect();
        pairs.sort_unstable();
        // One to two keys a slot; keys are hashes, so they spread evenly.
        let bits = pairs.len().max(1).ilog2();
        let mut starts = Vec::with_capacity((1 << bits) + 1);
        let mut at = 0;
        for t in 0..=(1u64 << bits) {
            while at < pairs.len() && Self::top(pairs[at].0, bits) < t {
                at += 1;
            }
            starts.push(at as u32);
        }
        Index {
            pairs,
            starts,
            bits,
        }
    }

    fn empty() -> Index {
        Index::new(std::iter::empty())
    }

    fn top(key: u32, bits: u32) -> u64 {
        u64::from(key) >> (32 - bits)
    }

    fn get(&self, key: u64) -> impl Iterator<Item = usize> + '_ {
        let key = key as u32;
        let t = Self::top(key, self.bits) as usize;
        let slot = &self.pairs[self.starts[t] as usize..self.starts[t + 1] as usize];
        let from = slot.partition_point(|&(k, _)| k < key);
        slot[from..]
            .iter()
            .take_while(move |&&(k, _)| k == key)
            .map(|&(_, i)| i as usize)
    }
}

impl Catalog {
    /// `existing`: knowledge files; `planned`: (target, plan index, PART number).
    pub fn new(existing: &[String], planned: &[(String, usize, u32)]) -> Self {
        let mut text = String::new();
        let mut c = Catalog {
            text: SharedStr::default(),
            ends: Vec::new(),
            planned: Vec::new(),
            by_name: Index::empty(),
            by_tail: Index::empty(),
            by_number: Index::empty(),
            folders: OnceCell::new(),
            by_dir: OnceCell::new(),
            planned_sorted: OnceCell::new(),
            numbered: RefCell::default(),
        };
        // Every path normalized into one string, then the later of equal
        // paths dropped: no string per path (100,000 targets made 400,000).
        let all = planned
            .iter()
            .map(|(p, a, b)| (p.as_str(), Some((*a as u32, *b))))
            .chain(existing.iter().map(|p| (p.as_str(), None)));
        for (path, who) in all {
            push_normalized(&mut text, path);
            c.ends.push(text.len());
            c.planned.push(who);
        }
        let keep: Vec<bool> = {
            let mut seen: FxHashSet<&str> = FxHashSet::default();
            seen.reserve(c.ends.len());
            let mut start = 0;
            c.ends
                .iter()
                .map(|&end| {
                    let new = seen.insert(&text[start..end]);
                    start = end;
                    new
                })
                .collect()
        };
        if keep.contains(&false) {
            let (mut kept, mut ends, mut who) = (String::new(), Vec::new(), Vec::new());
            let mut start = 0;
            for (i, &end) in c.ends.iter().enumerate() {
                if keep[i] {
                    kept.push_str(&text[start..end]);
                    ends.push(kept.len());
                    who.push(c.planned[i]);
                }
                start = end;
            }
            (text, c.ends, c.planned) = (kept, ends, who);
        }
        let n = c.ends.len();
        let (mut names, mut tails, mut numbers) = (
            Vec::with_capacity(n),
            Vec::with_capacity(n),
            Vec::with_capacity(n),
        );
        let mut start = 0;
        for (idx, &end) in c.ends.iter().enumerate() {
            let norm = &text[start..end];
            start = end;
            // The keys are of the lowercased path: an ASCII one is folded
            // as it is hashed.
            let lowered;
            let (lower, k): (&str, fn(&[&str]) -> u64) = if norm.is_ascii() {
                (norm, key_ascii_folded)
            } else {
                lowered = norm.to_lowercase();
                (&lowered, key)
            };
            let name = lower.rsplit('/').next().unwrap_or(lower);
            names.push((k(&[name]), idx));
            if lower.contains('/') {
                tails.push((k(&[tail2(lower)]), idx));
            }
            let digits = name.bytes().take_while(u8::is_ascii_digit).count();
            if digits > 0 {
                numbers.push((k(&[&name[..digits], last_folder(dir_of(lower))]), idx));
            }
        }
        c.text = SharedStr::whole(Arc::new(text));
        c.by_name = Index::new(names.into_iter());
        c.by_tail = Index::new(tails.into_iter());
        c.by_number = Index::new(numbers.into_iter());
        c
    }

    fn path(&self, idx: usize) -> &str {
        let start = if idx == 0 { 0 } else { self.ends[idx - 1] };
        &self.text[start..self.ends[idx]]
    }

    fn is_planned(&self, idx: usize) -> bool {
        self.planned[idx].is_some()
    }

    fn at(&self, idx: usize) -> Resolution {
        let path = self.text.sub(self.path(idx));
        match self.planned[idx] {
            Some((plan, part)) => Resolution::Planned {
                path,
                plan: plan as usize,
                part,
            },
            None => Resolution::Existing(path),
        }
    }

    /// Planned targets under `folder/` (as (plan, part)), in catalog order.
    pub fn planned_in(&self, folder: &str) -> Vec<(usize, u32)> {
        let sorted = self.planned_sorted.get_or_init(|| {
            let mut v: Vec<usize> = (0..self.ends.len())
                .filter(|&i| self.is_planned(i))
                .collect();
            v.sort_unstable_by(|&a, &b| self.path(a).cmp(self.path(b)));
            v
        });
        // The paths that start with `folder` are one run of the sorted list.
        let from = sorted.partition_point(|&i| self.path(i) < folder);
        let mut hits: Vec<usize> = sorted[from..]
            .iter()
            .copied()
            .take_while(|&i| self.path(i).starts_with(folder))
            .collect();
        hits.sort_unstable();
        hits.into_iter()
            .filter_map(|i| self.planned[i].map(|(p, q)| (p as usize, q)))
            .collect()
    }

    /// Resolve one reference (SPEC order: exact, unique suffix, `folder/NN`, `folder/`).
    /// `File N` references are resolved by the caller through the influential list.
    pub fn resolve(&self, reference: &str) -> Resolution {
        let r = normalize(reference);
        if r.is_empty() {
            return Resolution::Unresolved;
        }
        if r.contains('*') {
            return self.glob(&r);
        }
        if r.ends_with('/') {
            return self.folder(&r);
        }
        let lower = r.to_lowercase();
        // A path equal to the reference, or ending with `/` and it, shares
        // its file name and, when it has a folder, its last two components.
        // (Keyed once: the two rules below each walk the candidates.)
        let (index, k) = if r.contains('/') {
            (&self.by_tail, key(&[tail2(&lower)]))
        } else {
            (&self.by_name, key(&[&lower]))
        };
        let candidates = || index.get(k);
        // Exact path first, then a unique path that ends with the reference.
        if let Some(i) = candidates().find(|&i| self.path(i).eq_ignore_ascii_case(&r)) {
            return self.at(i);
        }
        let m: Vec<usize> = candidates()
            .filter(|&i| ends_below_lowered(self.path(i), &lower))
            .collect();
        if m.len() == 1 {
            return self.at(m[0]);
        }
        if m.len() > 1 {
            // Prefer a planned target, then the shortest path: deterministic.
            let best = m.iter().copied().min_by_key(|&i| {
                (
                    !self.is_planned(i),
                    self.path(i).len(),
                    self.path(i).to_string(),
                )
            });
            return self.at(best.expect("non-empty"));
        }
        // The file name and folders of the reference, in order, with more
        // folders between them (`practical-implementation/55-x.md` at
        // `karpathy/practical-implementation/benchmarking/55-x.md`): when
        // one file alone fits.
        if let Some((dirs, name)) = lower.rsplit_once('/') {
            if name.contains('.') {
                let want: Vec<&str> = dirs.split('/').filter(|d| !d.is_empty()).collect();
                let mut fits = self.by_name.get(key(&[name])).filter(|&i| {
                    let p = self.path(i).to_lowercase();
                    let mut have = dir_of(&p).split('/');
                    p.rsplit('/').next() == Some(name) && want.iter().all(|w| have.any(|h| h == *w))
                });
                if let (Some(one), None) = (fits.next(), fits.next()) {
                    return self.at(one);
                }
            }
        }
        // `folder/NN`: the file numbered NN in that folder.
        if let Some((folder, num)) = r.rsplit_once('/') {
            if !num.is_empty() && num.bytes().all(|b| b.is_ascii_digit()) {
                if let Some(best) = self.numbered(num, format!("{}/", folder.to_lowercase())) {
                    return self.at(best);
                }
            }
            // A folder written without its trailing slash.
            if !r.contains('.') {
                return self.folder(&format!("{r}/"));
            }
        }
        Resolution::Unresolved
    }

    /// The file numbered `num` in folder `want` (lowercased, with its
    /// trailing `/`) or a folder ending with it: a planned one first, then
    /// the first in path order.
    fn numbered(&self, num: &str, want: String) -> Option<usize> {
        let k = (num.to_string(), want);
        if let Some(&best) = self.numbered.borrow().get(&k) {
            return best;
        }
        let want = &k.1;
        let best = self
            .by_number
            .get(key(&[num, last_folder(want)]))
            .filter(|&i| {
                let p = self.path(i).to_lowercase();
                let name = p.rsplit('/').next().unwrap_or(&p);
                let dir = dir_of(&p);
                name.starts_with(num)
                    && !name[num.len()..].starts_with(|c: char| c.is_ascii_digit())
                    && (dir == want || ends_below(dir, want))
            })
            .min_by_key(|&i| (!self.is_planned(i), self.path(i)));
        self.numbered.borrow_mut().insert(k, best);
        best
    }

    fn folders(&self) -> &Folders {
        self.folders.get_or_init(|| {
            let mut list: Vec<String> = Vec::new();
            for i in 0..self.ends.len() {
                let path = self.path(i);
                let mut dir = path;
                while let Some(p) = dir.rfind('/') {
                    dir = &dir[..p];
                    list.push(format!("{dir}/"));
                }
            }
            list.sort_unstable();
            list.dedup();
            let by_last = Index::new(
                list.iter()
                    .enumerate()
                    .map(|(rank, d)| (key(&[last_folder(&d.to_lowercase())]), rank)),
            );
            Folders { list, by_last }
        })
    }

    fn folder(&self, f: &str) -> Resolution {
        let folders = self.folders();
        if folders.list.binary_search_by(|d| d.as_str().cmp(f)).is_ok() {
            return Resolution::Folder(f.to_string());
        }
        let lf = f.to_lowercase();
        let suffix = format!("/{lf}");
        // The first match in `String` order.
        let m = folders
            .by_last
            .get(key(&[last_folder(&lf)]))
            .map(|rank| &folders.list[rank])
            .find(|d| {
                let d = d.to_lowercase();
                d.ends_with(&suffix) || d == lf
            });
        match m {
            Some(d) => Resolution::Folder(d.clone()),
            None => Resolution::Unresolved,
        }
    }

    fn glob(&self, pattern: &str) -> Resolution {
        let (dir, pat) = match pattern.rsplit_once('/') {
            Some((d, p)) => (Some(format!("{d}/")), p),
            None => (None, pattern),
        };
        let matches = |i: usize| {
            let p = self.path(i);
            let (pd, name) = match p.rsplit_once('/') {
                Some((d, n)) => (&p[..d.len() + 1], n),
                None => ("", p),
            };
            dir.as_ref()
                .map(|d| pd == d || pd.ends_with(&format!("/{d}")))
                .unwrap_or(true)
                && glob_match(pat, name)
        };
        let m: Vec<String> = match &dir {
            // Only paths in a folder of that name can match.
            Some(d) => {
                let by_dir = self.by_dir.get_or_init(|| {
                    Index::new(
                        (0..self.ends.len())
                            .map(|i| (key(&[last_folder(dir_of(self.path(i)))]), i)),
                    )
                });
                by_dir
                    .get(key(&[last_folder(d)]))
                    .filter(|&i| matches(i))
                    .map(|i| self.path(i).to_string())
                    .collect()
            }
            None => (0..self.ends.len())
                .filter(|&i| matches(i))
                .map(|i| self.path(i).to_string())
                .collect(),
        };
        if m.is_empty() {
            Resolution::Unresolved
        } else {
            Resolution::Glob(m)
        }
    }
}

/// An index key: FNV-1a over the pieces, with a byte UTF-8 never holds
/// between them. Collisions only add candidates, which the tests drop.
fn key(pieces: &[&str]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for (k, piece) in pieces.iter().enumerate() {
        let sep: &[u8] = if k == 0 { &[] } else { &[0xff] };
        for &b in sep.iter().chain(piece.as_bytes()) {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
    }
    h
}

/// [`key`] of the pieces lowercased, for ASCII pieces: each byte folded
/// as it is hashed.
fn key_ascii_folded(pieces: &[&str]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for (k, piece) in pieces.iter().enumerate() {
        debug_assert!(piece.is_ascii());
        let sep: &[u8] = if k == 0 { &[] } else { &[0xff] };
        for &b in sep.iter().chain(piece.as_bytes()) {
            h ^= u64::from(b.to_ascii_lowercase());
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
    }
    h
}

/// `a/b/c.md` → `b/c.md`; `b/c.md` → `b/c.md`.
fn tail2(p: &str) -> &str {
    let b = p.as_bytes();
    match memchr::memrchr(b'/', b).and_then(|i| memchr::memrchr(b'/', &b[..i])) {
        Some(j) => &p[j + 1..],
        None => p,
    }
}

/// Whether `path` ends with `/` and `tail`: `path.ends_with(&format!("/{tail}"))`
/// without making the string.
fn ends_below(path: &str, tail: &str) -> bool {
    path.strip_suffix(tail)
        .is_some_and(|head| head.ends_with('/'))
}

/// [`ends_below`] for `path` lowercased, `lowered` being lowercase
/// already. An ASCII `path` lowercases byte for byte, so its tail is
/// compared in place instead of lowercasing the whole path into a new
/// string (the suffix rule tries every path that shares a file name).
fn ends_below_lowered(path: &str, lowered: &str) -> bool {
    if !path.is_ascii() {
        return ends_below(&path.to_lowercase(), lowered);
    }
    let (p, l) = (path.as_bytes(), lowered.as_bytes());
    p.len() > l.len()
        && p[p.len() - l.len()..].eq_ignore_ascii_case(l)
        && p[p.len() - l.len() - 1] == b'/'
}

/// The folder part of a path, with its trailing `/` (`""` at the root).
fn dir_of(p: &str) -> &str {
    match p.rfind('/') {
        Some(s) => &p[..s + 1],
        None => "",
    }
}

/// A folder's last component: `a/b/` → `b`; `""` → `""`.
fn last_folder(dir: &str) -> &str {
    let d = dir.strip_suffix('/').unwrap_or(dir);
    d.rsplit('/').next().unwrap_or(d)
}

/// `./a/b.md` → `a/b.md`; `knowledge/a` → `a`; backslashes to slashes.
pub fn normalize(r: &str) -> String {
    let mut s = String::new();
    push_normalized(&mut s, r);
    s
}

/// [`normalize`] appending to `out`.
fn push_normalized(out: &mut String, r: &str) {
    let r = r.trim().trim_matches('`');
    let from = out.len();
    if r.contains('\\') {
        out.push_str(&r.replace('\\', "/"));
    } else {
        out.push_str(r);
    }
    let mut skip = 0;
    while out[from + skip..].starts_with("./") {
        skip += 2;
    }
    if out[from + skip..].starts_with("knowledge/") {
        skip += "knowledge/".len();
    }
    out.replace_range(from..from + skip, "");
}

/// `*` matches any run of characters, case-insensitively.
fn glob_match(pat: &str, name: &str) -> bool {
    let p = pat.to_lowercase();
    let n = name.to_lowercase();
    let parts: Vec<&str> = p.split('*').collect();
    let mut rest = n.as_str();
    for (i, part) in parts.iter().enumerate() {
        if i == 0 {
            match rest.strip_prefix(part) {
                Some(r) => rest = r,
                None => return false,
            }
        } else if i == parts.len() - 1 {
            return rest.ends_with(part);
        } else {
            match rest.find(part) {
                Some(k) => rest = &rest[k + part.len()..],
                None => return false,
            }
        }
    }
    rest.is_empty() || parts.len() > 1
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cat() -> Catalog {
        let existing: Vec<String> = [
            "karpathy/distributed-training/00-deepspeed-zero-optimizer.md",
            "karpathy/distributed-training/03-fsdp-vs-deepspeed.md",
            "practical-implementation/30-vertex.md",
            "INDEX.md",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        Catalog::new(
            &existing,
            &[
                ("performance/00-gpu.md".into(), 0, 1),
                ("performance/01-mem.md".into(), 0, 2),
            ],
        )
    }

    #[test]
    fn ends_below_lowered_agrees_with_lowercasing() {
        let paths = [
            "a/B/00-X.md",
            "b/00-x.md",
            "00-x.md",
            "ab/00-x.md",
            "a/\u{130}stanbul/00-x.md", // İ lowercases to two chars
            "a/\u{212A}/00-x.md",       // the Kelvin sign lowercases to `k`
            "Caf\u{c9}/n.md",
        ];
        let tails = [
            "b/00-x.md",
            "00-x.md",
            "k/00-x.md",
            "i\u{307}stanbul/00-x.md",
            "caf\u{e9}/n.md",
        ];
        for p in paths {
            for t in tails {
                let want = p.to_lowercase().ends_with(&format!("/{t}"));
                assert_eq!(ends_below_lowered(p, t), want, "{p} {t}");
            }
        }
    }

    #[test]
    fn resolves_in_spec_order() {
        let c = cat();
        assert_eq!(
            c.resolve("practical-implementation/30-vertex.md"),
            Resolution::Existing("practical-implementation/30-vertex.md".into())
        );
        assert_eq!(
            c.resolve("distributed-training/00-deepspeed-zero-optimizer.md"),
            Resolution::Existing(
                "karpathy/distributed-training/00-deepspeed-zero-optimizer.md".into()
            )
        );
        assert_eq!(
            c.resolve("distributed-training/03"),
            Resolution::Existing("karpathy/distributed-training/03-fsdp-vs-deepspeed.md".into())
        );
        assert_eq!(
            c.resolve("performance/01"),
            Resolution::Planned {
                path: "performance/01-mem.md".into(),
                plan: 0,
                part: 2
            }
        );
        assert_eq!(
            c.resolve("performance/"),
            Resolution::Folder("performance/".into())
        );
        assert_eq!(
            c.resolve("distributed-training/"),
            Resolution::Folder("karpathy/distributed-training/".into())
        );
        assert_eq!(c.resolve("nowhere/00-x.md"), Resolution::Unresolved);
        assert!(
            matches!(c.resolve("karpathy/distributed-training/*.md"), Resolution::Glob(v) if v.len() == 2)
        );
        assert_eq!(c.planned_in("performance/").len(), 2);
    }

    #[test]
    fn references_are_normalized() {
        for (r, want) in [
            ("a/b.md", "a/b.md"),
            ("  `./a/b.md` ", "a/b.md"),
            ("././knowledge/a/b.md", "a/b.md"),
            ("knowledge/knowledge/a.md", "knowledge/a.md"),
            (".\\a\\b.md", "a/b.md"),
            ("a/./b.md", "a/./b.md"),
            ("", ""),
        ] {
            assert_eq!(normalize(r), want, "{r:?}");
            let mut out = String::from("x/");
            push_normalized(&mut out, r);
            assert_eq!(out, format!("x/{want}"), "{r:?} appended");
        }
    }

    /// Keys hashed while folding are the keys of the lowercased text.
    #[test]
    fn ascii_folded_keys_are_keys_of_the_lowercase() {
        for pieces in [&["00-GPU.md"][..], &["01", "Perf"], &["", "a/B"], &[]] {
            let lower: Vec<String> = pieces.iter().map(|p| p.to_lowercase()).collect();
            let lower: Vec<&str> = lower.iter().map(String::as_str).collect();
            assert_eq!(key_ascii_folded(pieces), key(&lower), "{pieces:?}");
        }
    }

    #[test]
    fn globs() {
        assert!(glob_match("distributed-*.md", "distributed-x.md"));
        assert!(!glob_match("distributed-*.md", "00-x.md"));
        assert!(glob_match("*", "a"));
    }

    /// SPEC §2's order read plainly, every rule a scan of every path: what
    /// the catalog answered before it had indexes, kept to hold the indexed
    /// answers to it.
    struct Scan {
        paths: Vec<String>,
        planned: Vec<Option<(usize, u32)>>,
    }

    impl Scan {
        fn new(existing: &[String], planned: &[(String, usize, u32)]) -> Scan {
            let mut s = Scan {
                paths: Vec::new(),
                planned: Vec::new(),
            };
            let all = planned
                .iter()
                .map(|(p, a, b)| (p.as_str(), Some((*a, *b))))
                .chain(existing.iter().map(|p| (p.as_str(), None)));
            for (path, who) in all {
                let norm = normalize(path);
                if !s.paths.contains(&norm) {
                    s.paths.push(norm);
                    s.planned.push(who);
                }
            }
            s
        }

        fn at(&self, i: usize) -> Resolution {
            match self.planned[i] {
                Some((plan, part)) => Resolution::Planned {
                    path: self.paths[i].as_str().into(),
                    plan,
                    part,
                },
                None => Resolution::Existing(self.paths[i].as_str().into()),
            }
        }

        fn planned_in(&self, folder: &str) -> Vec<(usize, u32)> {
            (0..self.paths.len())
                .filter(|&i| self.paths[i].starts_with(folder))
                .filter_map(|i| self.planned[i])
                .collect()
        }

        fn resolve(&self, reference: &str) -> Resolution {
            let r = normalize(reference);
            if r.is_empty() {
                return Resolution::Unresolved;
            }
            if r.contains('*') {
                return self.glob(&r);
            }
            if r.ends_with('/') {
                return self.folder(&r);
            }
            let all = 0..self.paths.len();
            if let Some(i) = all
                .clone()
                .find(|&i| self.paths[i].eq_ignore_ascii_case(&r))
            {
                return self.at(i);
            }
            let suffix = format!("/{}", r.to_lowercase());
            let m: Vec<usize> = all
                .clone()
                .filter(|&i| self.paths[i].to_lowercase().ends_with(&suffix))
                .collect();
            if let Some(best) = m.iter().copied().min_by_key(|&i| {
                (
                    self.planned[i].is_none(),
                    self.paths[i].len(),
                    self.paths[i].clone(),
                )
            }) {
                return self.at(best);
            }
            // Folders in order with more between them: one file alone.
            let lower = r.to_lowercase();
            if let Some((dirs, name)) = lower.rsplit_once('/') {
                if name.contains('.') {
                    let want: Vec<&str> = dirs.split('/').filter(|d| !d.is_empty()).collect();
                    let fits: Vec<usize> = all
                        .clone()
                        .filter(|&i| {
                            let p = self.paths[i].to_lowercase();
                            let parts: Vec<&str> = p.split('/').collect();
                            let (file, dirs) = parts.split_last().expect("a path");
                            let mut have = dirs.iter();
                            *file == name && want.iter().all(|w| have.any(|h| h == w))
                        })
                        .collect();
                    if fits.len() == 1 {
                        return self.at(fits[0]);
                    }
                }
            }
            if let Some((folder, num)) = r.rsplit_once('/') {
                if !num.is_empty() && num.bytes().all(|b| b.is_ascii_digit()) {
                    let want = format!("{}/", folder.to_lowercase());
                    let best = all
                        .filter(|&i| {
                            let p = self.paths[i].to_lowercase();
                            let (dir, name) = match p.rfind('/') {
                                Some(s) => (&p[..s + 1], &p[s + 1..]),
                                None => ("", p.as_str()),
                            };
                            let digits: String =
                                name.chars().take_while(|c| c.is_ascii_digit()).collect();
                            digits == num && (dir == want || dir.ends_with(&format!("/{want}")))
                        })
                        .min_by_key(|&i| (self.planned[i].is_none(), self.paths[i].clone()));
                    if let Some(best) = best {
                        return self.at(best);
                    }
                }
                if !r.contains('.') {
                    return self.folder(&format!("{r}/"));
                }
            }
            Resolution::Unresolved
        }

        fn folders(&self) -> std::collections::BTreeSet<String> {
            let mut set = std::collections::BTreeSet::new();
            for p in &self.paths {
                let mut dir = p.as_str();
                while let Some(k) = dir.rfind('/') {
                    dir = &dir[..k];
                    set.insert(format!("{dir}/"));
                }
            }
            set
        }

        fn folder(&self, f: &str) -> Resolution {
            let folders = self.folders();
            if folders.contains(f) {
                return Resolution::Folder(f.to_string());
            }
            let lf = f.to_lowercase();
            let suffix = format!("/{lf}");
            match folders
                .iter()
                .find(|d| d.to_lowercase().ends_with(&suffix) || d.to_lowercase() == lf)
            {
                Some(d) => Resolution::Folder(d.clone()),
                None => Resolution::Unresolved,
            }
        }

        fn glob(&self, pattern: &str) -> Resolution {
            let (dir, pat) = match pattern.rsplit_once('/') {
                Some((d, p)) => (Some(format!("{d}/")), p),
                None => (None, pattern),
            };
            let m: Vec<String> = self
                .paths
                .iter()
                .filter(|p| {
                    let (pd, name) = match p.rsplit_once('/') {
                        Some((d, n)) => (format!("{d}/"), n),
                        None => (String::new(), p.as_str()),
                    };
                    dir.as_ref()
                        .map(|d| pd == *d || pd.ends_with(&format!("/{d}")))
                        .unwrap_or(true)
                        && glob_match(pat, name)
                })
                .cloned()
                .collect();
            if m.is_empty() {
                Resolution::Unresolved
            } else {
                Resolution::Glob(m)
            }
        }
    }

    /// Every reference a plan can write (each path, each of its suffixes,
    /// in other cases, `folder/NN` forms, folders, globs) resolves through
    /// the indexes exactly as a scan of every path resolves it.
    fn assert_same_as_scan(existing: &[String], planned: &[(String, usize, u32)], refs: &[String]) {
        let (c, s) = (
            Catalog::new(existing, planned),
            Scan::new(existing, planned),
        );
        for r in refs {
            assert_eq!(c.resolve(r), s.resolve(r), "reference `{r}`");
        }
        for f in s.folders() {
            assert_eq!(c.planned_in(&f), s.planned_in(&f), "folder `{f}`");
        }
    }

    /// References a plan might write to the files `paths`.
    fn references_to(paths: &[String]) -> Vec<String> {
        let mut refs: Vec<String> = Vec::new();
        for p in paths {
            // The path with one of its folders left out.
            let parts: Vec<&str> = p.split('/').collect();
            for skip in 0..parts.len().saturating_sub(1) {
                let mut v = parts.clone();
                v.remove(skip);
                refs.push(v.join("/"));
            }
            let mut tail = p.as_str();
            loop {
                refs.push(tail.to_string());
                refs.push(tail.to_uppercase());
                refs.push(format!("./knowledge/{tail}"));
                let name = tail.rsplit('/').next().unwrap_or(tail);
                let digits: String = name.chars().take_while(|c| c.is_ascii_digit()).collect();
                let dir = &tail[..tail.len() - name.len()];
                for d in [digits.as_str(), "0", "00", "01", "1", "001"] {
                    refs.push(format!("{dir}{d}"));
                    refs.push(format!("{}{d}", dir.to_lowercase()));
                }
                if !dir.is_empty() {
                    refs.push(dir.to_string());
                    refs.push(dir.trim_end_matches('/').to_string());
                    refs.push(format!("{dir}*.md"));
                    refs.push(format!("{dir}0*"));
                }
                refs.push(format!("*{}", &name[name.len() / 2..]));
                match tail.find('/') {
                    Some(k) => tail = &tail[k + 1..],
                    None => break,
                }
            }
        }
        refs.extend(["", "/", "//", "*", "nowhere/00", "x/", "a/b", "/00", "Σ/"].map(String::from));
        refs
    }

    /// The bench's seeds read `practical-implementation/55-x.md`, which is
    /// at `karpathy/practical-implementation/benchmarking/55-x.md`.
    #[test]
    fn a_reference_resolves_across_extra_folders_when_one_file_fits() {
        let existing: Vec<String> = [
            "karpathy/practical-implementation/benchmarking/55-x.md",
            "karpathy/practical-implementation/00-y.md",
            "a/x/z.md",
            "a/y/z.md",
        ]
        .map(String::from)
        .to_vec();
        let c = Catalog::new(&existing, &[]);
        assert_eq!(
            c.resolve("practical-implementation/55-x.md").path(),
            Some("karpathy/practical-implementation/benchmarking/55-x.md")
        );
        assert_eq!(
            c.resolve("karpathy/benchmarking/55-x.md").path(),
            Some("karpathy/practical-implementation/benchmarking/55-x.md")
        );
        // Folders out of order, or two files that fit: no answer.
        assert_eq!(
            c.resolve("benchmarking/karpathy/55-x.md"),
            Resolution::Unresolved
        );
        assert_eq!(c.resolve("a/z.md"), Resolution::Unresolved);
    }

    #[test]
    fn indexes_answer_as_a_scan_of_every_path() {
        let folders = [
            "",
            "a/",
            "A/",
            "perf/",
            "x/perf/",
            "deep/x/perf/",
            "Perf/",
            "é/",
            "ΑΣ/",
            "a//",
            "b/a/",
            "perf/perf/",
        ];
        let names = [
            "00-gpu.md",
            "00-GPU.md",
            "01-mem.md",
            "001-x.md",
            "0-y.md",
            "readme.md",
            "10.md",
            "1",
            "perf",
            "Σ.md",
        ];
        let mut all: Vec<String> = Vec::new();
        for (i, f) in folders.iter().enumerate() {
            for (j, n) in names.iter().enumerate() {
                if (i * 7 + j * 3) % 4 != 0 {
                    all.push(format!("{f}{n}"));
                }
            }
        }
        // Some planned (one also existing, one twice), the rest existing.
        let planned: Vec<(String, usize, u32)> = all
            .iter()
            .enumerate()
            .filter(|(i, _)| i % 3 == 0)
            .map(|(i, p)| (p.clone(), i % 2, i as u32))
            .chain([(all[0].clone(), 1, 99)])
            .collect();
        let existing: Vec<String> = all
            .iter()
            .enumerate()
            .filter(|(i, _)| i % 3 != 0 || i % 9 == 0)
            .map(|(_, p)| p.clone())
            .collect();
        assert_same_as_scan(&existing, &planned, &references_to(&all));
    }

    /// The fixtures' own targets and references, against their own
    /// targets and every file they name (as if it existed).
    #[cfg_attr(
        not(has_shared),
        ignore = "needs ../shared (or EXPAND_SHARED): the fixtures and the bench base"
    )]
    #[test]
    fn fixtures_resolve_as_a_scan_would() {
        let shared = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/fixtures");
        let Ok(dirs) = std::fs::read_dir(&shared) else {
            eprintln!("skipped: {} not found", shared.display());
            return;
        };
        let mut plans = Vec::new();
        for d in dirs.flatten().filter(|d| d.path().is_dir()) {
            for f in std::fs::read_dir(d.path()).unwrap().flatten() {
                if let Ok(p) = crate::plan::load(&f.path(), &f.path()) {
                    plans.push(p);
                }
            }
        }
        assert!(plans.len() >= 16, "{} plans", plans.len());
        let mut planned = Vec::new();
        let mut refs: Vec<String> = Vec::new();
        for (pi, plan) in plans.iter().enumerate() {
            refs.extend(plan.influential.iter().map(|f| f.path.clone()));
            for part in &plan.parts {
                if let Some(t) = &part.target {
                    planned.push((t.clone(), pi, part.number));
                }
                for item in part.items() {
                    match &item.kind {
                        crate::plan::ItemKind::Read { reference, .. } => {
                            refs.push(reference.to_string())
                        }
                        crate::plan::ItemKind::Cite { refs: r } => {
                            refs.extend(r.iter().map(|r| r.reference.to_string()))
                        }
                        _ => {}
                    }
                }
            }
        }
        let existing: Vec<String> = refs
            .iter()
            .filter(|r| r.ends_with(".md") && !r.contains('*'))
            .map(|r| normalize(r))
            .collect();
        let targets: Vec<String> = planned.iter().map(|(t, _, _)| t.clone()).collect();
        refs.extend(references_to(&targets));
        assert_same_as_scan(&existing, &planned, &refs);
        assert_same_as_scan(&[], &planned, &refs);
    }
}
