//! Stage 6: the audit (SPEC §9). Proves that a knowledge base agrees with its
//! indexes, plans and drops, on any base whose layout the config describes:
//! files missing from their index, index rows naming missing files, PARTs
//! ticked done whose file is missing, knowledge files stranded in the archive
//! or the drops folder, broken relative links, two files with one number in a
//! folder, and drops whose file is missing. `fix` makes only the safe repairs.
//!
//! Every file is read once; all checks then run on memory, so a base of
//! thousands of files audits in a fraction of a second.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::knowledge::index_md;
use crate::markdown::title as title_of;
use crate::workspace::Workspace;

/// What a finding is about. The order is the order of the report.
#[derive(Clone, Copy, Debug, Serialize, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[serde(rename_all = "kebab-case")]
pub enum Kind {
    MissingFromIndex,
    FolderWithoutIndex,
    IndexRowMissingFile,
    /// A PART ticked done whose file is at another path of the tree.
    TickedMisplaced,
    /// A PART ticked done whose file is only in the archive or the drops.
    TickedStranded,
    /// A PART ticked done whose file is nowhere.
    TickedMissing,
    Stranded,
    BrokenLink,
    DuplicateNumber,
    DropMissingTarget,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::MissingFromIndex => "missing-from-index",
            Kind::FolderWithoutIndex => "folder-without-index",
            Kind::IndexRowMissingFile => "index-row-missing-file",
            Kind::TickedMisplaced => "ticked-misplaced",
            Kind::TickedStranded => "ticked-stranded",
            Kind::TickedMissing => "ticked-missing",
            Kind::Stranded => "stranded",
            Kind::BrokenLink => "broken-link",
            Kind::DuplicateNumber => "duplicate-number",
            Kind::DropMissingTarget => "drop-missing-target",
        }
    }
    pub const ALL: [Kind; 10] = [
        Kind::MissingFromIndex,
        Kind::FolderWithoutIndex,
        Kind::IndexRowMissingFile,
        Kind::TickedMisplaced,
        Kind::TickedStranded,
        Kind::TickedMissing,
        Kind::Stranded,
        Kind::BrokenLink,
        Kind::DuplicateNumber,
        Kind::DropMissingTarget,
    ];
}

#[derive(Clone, Debug, Serialize, PartialEq, Eq, PartialOrd, Ord)]
pub struct Finding {
    pub kind: Kind,
    /// Workspace-relative path the finding is about.
    pub path: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub line: Option<usize>,
    pub message: String,
    /// `--fix` repairs it.
    pub fixable: bool,
    /// For index findings: the index (knowledge-relative) and the row's file
    /// as the index names it.
    #[serde(skip)]
    pub index: Option<(String, String)>,
}

/// Where the targets of PARTs ticked done are, by class.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Ticked {
    pub present: usize,
    pub misplaced: usize,
    pub stranded: usize,
    pub missing: usize,
}

#[derive(Clone, Debug, Default, Serialize)]
pub struct Checked {
    pub knowledge_files: usize,
    pub indexes: usize,
    pub plans: usize,
    pub drops: usize,
    pub ticked: Ticked,
}

#[derive(Clone, Debug, Default, Serialize)]
pub struct Report {
    pub findings: Vec<Finding>,
    pub checked: Checked,
    /// Plans that could not be read, with the reason (reported, not fatal).
    pub unreadable: Vec<String>,
    #[serde(skip)]
    titles: HashMap<String, (String, usize)>,
}

impl Report {
    pub fn counts(&self) -> BTreeMap<&'static str, usize> {
        let mut m: BTreeMap<&'static str, usize> =
            Kind::ALL.iter().map(|k| (k.as_str(), 0)).collect();
        for f in &self.findings {
            *m.entry(f.kind.as_str()).or_default() += 1;
        }
        m
    }
}

#[derive(Debug, thiserror::Error)]
pub enum AuditError {
    #[error("failed to read `{path}`: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> AuditError + '_ {
    move |source| AuditError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// `NN` of a `NN-name.md` file.
fn number_of(name: &str) -> Option<u64> {
    let digits: String = name.chars().take_while(|c| c.is_ascii_digit()).collect();
    if digits.is_empty() || !name[digits.len()..].starts_with('-') {
        return None;
    }
    digits.parse().ok()
}

fn parent(p: &str) -> &str {
    p.rfind('/').map(|i| &p[..i]).unwrap_or("")
}

fn base(p: &str) -> &str {
    p.rsplit('/').next().unwrap_or(p)
}

fn join_rel(dir: &str, rel: &str) -> String {
    if dir.is_empty() {
        rel.to_string()
    } else {
        format!("{dir}/{rel}")
    }
}

/// `a/b/../c` → `a/c`; None when it climbs above the start.
fn normalize(p: &str) -> Option<String> {
    let mut out: Vec<&str> = Vec::new();
    for seg in p.split('/') {
        match seg {
            "" | "." => {}
            ".." => {
                out.pop()?;
            }
            s => out.push(s),
        }
    }
    Some(out.join("/"))
}

fn count_lines(text: &str) -> usize {
    let n = memchr::memchr_iter(b'\n', text.as_bytes()).count();
    if text.is_empty() || text.ends_with('\n') {
        n
    } else {
        n + 1
    }
}

fn wildcard(pat: &str, s: &str) -> bool {
    // Iterative `*` / `?` matching.
    let (p, s) = (pat.as_bytes(), s.as_bytes());
    let (mut pi, mut si, mut star, mut mark) = (0, 0, None, 0);
    while si < s.len() {
        if pi < p.len() && (p[pi] == b'?' || p[pi] == s[si]) {
            pi += 1;
            si += 1;
        } else if pi < p.len() && p[pi] == b'*' {
            star = Some(pi);
            pi += 1;
            mark = si;
        } else if let Some(st) = star {
            pi = st + 1;
            mark += 1;
            si = mark;
        } else {
            return false;
        }
    }
    while pi < p.len() && p[pi] == b'*' {
        pi += 1;
    }
    pi == p.len()
}

/// Files matching a workspace-relative glob (`*` within one segment), sorted.
pub fn glob(root: &Path, pattern: &str) -> Vec<PathBuf> {
    let mut cur = vec![root.to_path_buf()];
    let segs: Vec<&str> = pattern.split('/').filter(|s| !s.is_empty()).collect();
    for (i, seg) in segs.iter().enumerate() {
        let last = i + 1 == segs.len();
        let mut next = Vec::new();
        for dir in &cur {
            if !seg.contains(['*', '?']) {
                let p = dir.join(seg);
                if (last && p.is_file()) || (!last && p.is_dir()) {
                    next.push(p);
                }
                continue;
            }
            let Ok(rd) = std::fs::read_dir(dir) else {
                continue;
            };
            for e in rd.flatten() {
                let name = e.file_name().to_string_lossy().into_owned();
                if !wildcard(seg, &name) {
                    continue;
                }
                let ft = e.file_type().ok();
                let is_dir = e.path().is_dir();
                if (last && !is_dir && ft.is_some()) || (!last && is_dir) {
                    next.push(e.path());
                }
            }
        }
        cur = next;
    }
    cur.sort();
    cur
}

/// Every `*.md` under `dir`, hidden folders included: unlike
/// `knowledge::list_files`, audit looks into an archive's `.claude/…` copies,
/// where runners have left drops and files that belong elsewhere.
fn walk_md(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = walkdir::WalkDir::new(dir)
        .into_iter()
        .flatten()
        .filter(|e| e.file_type().is_file() && e.path().extension().is_some_and(|x| x == "md"))
        .map(|e| e.into_path())
        .collect();
    v.sort();
    v
}

/// Every plan audit reads: the plans folder (a plan may sit in a folder of
/// its own there, as hand-run bases keep them), each archive folder's plan,
/// and `audit.plans` globs.
pub fn plan_files(ws: &Workspace) -> Vec<PathBuf> {
    let mut set = BTreeSet::new();
    if let Ok(v) = ws.pending_plans() {
        set.extend(v);
    }
    let completed = ws.completed_dir();
    for e in ws.fs.read_dir(&completed).unwrap_or_default() {
        if e.is_dir {
            if let Some(p) = ws.archived_plan(&e.name) {
                set.insert(p);
            }
        }
    }
    for g in &ws.config.audit.plans {
        set.extend(glob(&ws.root, g));
    }
    set.into_iter().collect()
}

/// Where a file named by a plan or a drop is.
enum Place {
    /// At that path (or the one file the name resolves to, as `validate`
    /// resolves references).
    Present,
    /// Elsewhere in the knowledge tree.
    Misplaced(Vec<String>),
    /// Only in the archive or the drops folder.
    Stranded(Vec<String>),
    Missing,
}

/// Finds a named file the way people name them: the path, the one file it
/// is the end of, the path without a repository prefix, then by file name.
struct Locator<'a> {
    catalog: crate::graph::references::Catalog,
    exists: &'a HashSet<&'a str>,
    by_name: HashMap<&'a str, Vec<&'a str>>,
    /// Knowledge-like files under the archive and drops folders (workspace-relative).
    outside: HashMap<String, Vec<String>>,
}

impl<'a> Locator<'a> {
    fn place(&self, t: &str) -> Place {
        if self.exists.contains(t) {
            return Place::Present;
        }
        if let crate::graph::references::Resolution::Existing(_) = self.catalog.resolve(t) {
            return Place::Present;
        }
        // `.claude/skills/<base>/topic/00-x.md`: a repository path of a
        // file of this base.
        let segs: Vec<&str> = t.split('/').collect();
        for k in 1..segs.len().saturating_sub(1) {
            if self.exists.contains(segs[k..].join("/").as_str()) {
                return Place::Present;
            }
        }
        let name = base(t);
        if let Some(v) = self.by_name.get(name) {
            return Place::Misplaced(v.iter().map(|s| s.to_string()).collect());
        }
        if let Some(v) = self.outside.get(name) {
            return Place::Stranded(v.clone());
        }
        Place::Missing
    }
}

/// The index that answers for folder `dir`: its own, else the nearest
/// above it.
fn nearest_index<'a>(dir: &str, index_dirs: &HashMap<&str, &'a str>) -> Option<&'a str> {
    let mut d = dir;
    loop {
        if let Some(i) = index_dirs.get(d) {
            return Some(i);
        }
        if d.is_empty() {
            return None;
        }
        d = parent(d);
    }
}

/// Audit the workspace.
pub fn audit(ws: &Workspace) -> Result<Report, AuditError> {
    let kroot = ws.knowledge_dir();
    let exclude = ws.non_knowledge_dirs();
    let all = crate::knowledge::list_files(&ws.fs, &kroot, &exclude).map_err(io(&kroot))?;
    let show = |p: &Path| crate::fsutil::rel_str(&ws.root, p);
    let kshow = |rel: &str| show(&kroot.join(rel));
    let mut report = Report::default();
    let mut findings = Vec::new();

    let exists: HashSet<&str> = all.iter().map(String::as_str).collect();
    let files: Vec<&str> = all
        .iter()
        .map(String::as_str)
        .filter(|p| !crate::knowledge::is_special(base(p)))
        .collect();
    let indexes: Vec<&str> = all
        .iter()
        .map(String::as_str)
        .filter(|p| base(p) == "INDEX.md")
        .collect();
    report.checked.knowledge_files = files.len();
    report.checked.indexes = indexes.len();
    let on_disk = |rel: &str| exists.contains(rel) || ws.fs.exists(kroot.join(rel));

    // Read every knowledge file and index once.
    let mut texts: HashMap<&str, String> = HashMap::with_capacity(all.len());
    for p in files.iter().chain(indexes.iter()) {
        let path = kroot.join(p);
        let bytes = ws.fs.read(&path).map_err(io(&path))?;
        texts.insert(p, String::from_utf8_lossy(&bytes).into_owned());
    }
    for p in &files {
        let t = &texts[p];
        report.titles.insert(
            p.to_string(),
            (title_of(t).unwrap_or_default(), count_lines(t)),
        );
    }

    // Indexes: what each lists (tables and lists only), which folders it
    // hands to their own index, and rows naming files that do not exist.
    let index_dirs: HashMap<&str, &str> = indexes.iter().map(|i| (parent(i), *i)).collect();
    let mut listed: HashMap<&str, HashSet<String>> = HashMap::new();
    let mut handed: HashMap<&str, Vec<String>> = HashMap::new();
    for index in &indexes {
        let idir = parent(index);
        let mut names = HashSet::new();
        for e in index_md::entries(&texts[index]) {
            if e.is_folder() {
                if let Some(f) = normalize(&join_rel(idir, e.named.trim_end_matches('/'))) {
                    handed.entry(*index).or_default().push(f);
                }
                continue;
            }
            let in_dir = normalize(&join_rel(idir, &e.named));
            let found = in_dir.as_deref().is_some_and(on_disk)
                || normalize(&e.named).as_deref().is_some_and(on_disk);
            if let Some(p) = in_dir {
                names.insert(p);
            }
            names.insert(e.named.clone());
            names.insert(base(&e.named).to_string());
            if !found && e.named.ends_with(".md") {
                findings.push(Finding {
                    kind: Kind::IndexRowMissingFile,
                    path: kshow(index),
                    line: Some(e.line),
                    message: format!("row names `{}`, which does not exist", e.named),
                    fixable: e.managed,
                    index: Some((index.to_string(), e.named.clone())),
                });
            }
        }
        // A folder whose files this index lists itself (expand's root
        // index heads each folder's rows with `## folder/`) is not handed
        // over; one it only names is.
        if let Some(h) = handed.get_mut(index) {
            h.retain(|folder| {
                let inside = format!("{folder}/");
                !names.iter().any(|n| n.starts_with(&inside))
            });
        }
        listed.insert(index, names);
    }
    // Files missing from their index; folders that have none.
    let mut without_index: BTreeSet<&str> = BTreeSet::new();
    for f in &files {
        let dir = parent(f);
        let Some(index) = nearest_index(dir, &index_dirs) else {
            without_index.insert(dir);
            continue;
        };
        let idir = parent(index);
        let names = &listed[index];
        let rel = f.strip_prefix(&format!("{idir}/")).unwrap_or(f);
        if names.contains(*f) || names.contains(rel) || names.contains(base(f)) {
            continue;
        }
        // A folder row above the file hands it to that folder's own index,
        // which it has not got.
        let handed_over = handed.get(index).is_some_and(|v| {
            v.iter()
                .any(|h| *f == h.as_str() || f.starts_with(&format!("{h}/")))
        });
        if handed_over {
            without_index.insert(dir);
            continue;
        }
        findings.push(Finding {
            kind: Kind::MissingFromIndex,
            path: kshow(f),
            line: None,
            message: format!("not listed in `{}`", kshow(index)),
            fixable: true,
            index: Some((index.to_string(), rel.to_string())),
        });
    }
    for dir in without_index {
        let n = files.iter().filter(|f| parent(f) == dir).count();
        findings.push(Finding {
            kind: Kind::FolderWithoutIndex,
            path: kshow(if dir.is_empty() { "." } else { dir }),
            line: None,
            message: format!("{n} knowledge file(s) and no `INDEX.md` that lists them"),
            fixable: false,
            index: None,
        });
    }

    // Relative links (read by the markdown model: decoded, parentheses and
    // `<…>` destinations whole), and numbers used twice in one folder.
    let mut numbers: BTreeMap<(&str, u64), Vec<&str>> = BTreeMap::new();
    for f in &files {
        let dir = parent(f);
        let doc = crate::markdown::Doc::parse(&texts[f]);
        for l in &doc.links {
            let dest = l.decoded.as_str();
            if dest.is_empty()
                || dest.starts_with('#')
                || dest.starts_with('/')
                || dest.contains(':')
                || dest.contains('{')
            {
                continue;
            }
            let path = dest.split(['#', '?']).next().unwrap_or("");
            if path.is_empty() {
                continue;
            }
            let ok = match normalize(&join_rel(dir, path)) {
                Some(r) => on_disk(&r) || ws.fs.is_dir(kroot.join(&r)),
                None => ws.fs.exists(kroot.join(dir).join(path)),
            };
            if !ok {
                findings.push(Finding {
                    kind: Kind::BrokenLink,
                    path: kshow(f),
                    line: Some(l.line),
                    message: format!("link to `{}` points nowhere", l.dest),
                    fixable: false,
                    index: None,
                });
            }
        }
        if let Some(n) = number_of(base(f)) {
            numbers.entry((dir, n)).or_default().push(f);
        }
    }
    for ((dir, n), v) in numbers {
        if v.len() > 1 {
            let names: Vec<String> = v.iter().map(|p| format!("`{}`", base(p))).collect();
            findings.push(Finding {
                kind: Kind::DuplicateNumber,
                path: kshow(if dir.is_empty() { "." } else { dir }),
                line: None,
                message: format!("number {n:02} is used by {}", names.join(", ")),
                fixable: false,
                index: None,
            });
        }
    }

    // The archive and the drops folder: knowledge files stranded there,
    // and the drops.
    let plans = plan_files(ws);
    let plan_set: HashSet<&PathBuf> = plans.iter().collect();
    let mut drops = Vec::new();
    let mut outside: HashMap<String, Vec<String>> = HashMap::new();
    for area in [ws.completed_dir(), ws.drops_dir()] {
        if area == kroot || !ws.fs.is_dir(&area) {
            continue;
        }
        for p in walk_md(&area) {
            let fname = p
                .file_name()
                .unwrap_or_default()
                .to_string_lossy()
                .into_owned();
            if fname.starts_with("KNOWLEDGE-DROP") {
                drops.push(p);
                continue;
            }
            if plan_set.contains(&p)
                || fname == ws.config.completed_plan_name
                || fname == "plan.md"
                || crate::knowledge::is_special(&fname)
            {
                continue;
            }
            // <area>/<slug>/<rest>: a numbered file, or one in a topic subfolder.
            let rel = crate::fsutil::rel_str(&area, &p);
            let mut segs = rel.splitn(2, '/');
            let _slug = segs.next();
            let rest = segs.next().unwrap_or(&rel).to_string();
            let in_topic = rest.contains('/') && !rest.starts_with("drops/");
            if number_of(&fname).is_none() && !in_topic {
                continue;
            }
            outside.entry(fname.clone()).or_default().push(show(&p));
            let guess = if in_topic {
                rest.clone()
            } else {
                fname.clone()
            };
            let note = if on_disk(&guess) {
                format!("; `{}` exists", kshow(&guess))
            } else {
                String::new()
            };
            findings.push(Finding {
                kind: Kind::Stranded,
                path: show(&p),
                line: None,
                message: format!("knowledge file outside the knowledge base{note}"),
                fixable: false,
                index: None,
            });
        }
    }
    let mut by_name: HashMap<&str, Vec<&str>> = HashMap::new();
    for f in &files {
        by_name.entry(base(f)).or_default().push(f);
    }
    let locator = Locator {
        catalog: crate::graph::references::Catalog::new(&all, &[]),
        exists: &exists,
        by_name,
        outside,
    };

    // Plans: where the file of every PART ticked done is.
    report.checked.plans = plans.len();
    for p in &plans {
        let plan = match ws.load_plan(p) {
            Ok(plan) => plan,
            Err(e) => {
                report.unreadable.push(format!("{e:#}"));
                continue;
            }
        };
        for part in &plan.parts {
            if part.status != crate::plan::Status::Done {
                continue;
            }
            let Some(t) = &part.target else { continue };
            if crate::fsutil::check_relative(t).is_err() {
                continue;
            }
            let line = Some(part.status_line.unwrap_or(part.line));
            let (kind, message) = match locator.place(t) {
                Place::Present => {
                    report.checked.ticked.present += 1;
                    continue;
                }
                Place::Misplaced(at) => {
                    report.checked.ticked.misplaced += 1;
                    (
                        Kind::TickedMisplaced,
                        format!(
                            "PART {} is ticked done; `{t}` is not there but at {}",
                            part.number,
                            at.iter()
                                .map(|a| format!("`{}`", kshow(a)))
                                .collect::<Vec<_>>()
                                .join(", ")
                        ),
                    )
                }
                Place::Stranded(at) => {
                    report.checked.ticked.stranded += 1;
                    (
                        Kind::TickedStranded,
                        format!(
                            "PART {} is ticked done; `{t}` is only outside the knowledge base, at {}",
                            part.number,
                            at.iter().map(|a| format!("`{a}`")).collect::<Vec<_>>().join(", ")
                        ),
                    )
                }
                Place::Missing => {
                    report.checked.ticked.missing += 1;
                    (
                        Kind::TickedMissing,
                        format!(
                            "PART {} is ticked done but `{}` is nowhere",
                            part.number,
                            kshow(t)
                        ),
                    )
                }
            };
            findings.push(Finding {
                kind,
                path: show(p),
                line,
                message,
                fixable: false,
                index: None,
            });
        }
    }

    // Drops whose file is nowhere.
    for g in &ws.config.audit.drops {
        drops.extend(glob(&ws.root, g));
    }
    drops.sort();
    drops.dedup();
    report.checked.drops = drops.len();
    for d in &drops {
        let text = ws.fs.read(d).map_err(io(d))?;
        let text = String::from_utf8_lossy(&text);
        let Some(t) = crate::steps::drop::parse_target(&text) else {
            continue;
        };
        let t2 = t
            .strip_prefix(&format!("{}/", ws.config.knowledge_dir))
            .unwrap_or(&t);
        if crate::fsutil::check_relative(t2).is_err() {
            continue;
        }
        if let Place::Missing = locator.place(t2) {
            findings.push(Finding {
                kind: Kind::DropMissingTarget,
                path: show(d),
                line: None,
                message: format!("names `{t2}`, which is nowhere"),
                fixable: false,
                index: None,
            });
        }
    }

    findings.sort();
    report.findings = findings;
    Ok(report)
}

/// Make the safe repairs: add rows for files missing from their index, and
/// remove managed rows whose file is missing. Returns the indexes changed
/// (workspace-relative).
pub fn fix(ws: &Workspace, report: &Report) -> Result<Vec<String>, AuditError> {
    let kroot = ws.knowledge_dir();
    let mut add: BTreeMap<&str, Vec<(String, index_md::Row)>> = BTreeMap::new();
    let mut remove: BTreeMap<&str, BTreeSet<String>> = BTreeMap::new();
    for f in report.findings.iter().filter(|f| f.fixable) {
        let Some((index, named)) = &f.index else {
            continue;
        };
        match f.kind {
            Kind::MissingFromIndex => {
                let idir = parent(index);
                let full = join_rel(idir, named);
                let (title, lines) = report.titles.get(&full).cloned().unwrap_or_default();
                add.entry(index).or_default().push((
                    crate::consolidate::parent_heading(&full),
                    index_md::Row {
                        file: named.clone(),
                        description: title,
                        lines,
                    },
                ));
            }
            Kind::IndexRowMissingFile => {
                remove.entry(index).or_default().insert(named.clone());
            }
            _ => {}
        }
    }
    let mut changed = Vec::new();
    let keys: BTreeSet<&str> = add.keys().chain(remove.keys()).copied().collect();
    for index in keys {
        let path = kroot.join(index);
        let old = ws.fs.read_to_string(&path).map_err(io(&path))?;
        let mut text = old.clone();
        if let Some(r) = remove.get(index) {
            text = index_md::remove_rows(&text, r);
        }
        if let Some(rows) = add.get(index) {
            let mut by_heading: BTreeMap<&str, Vec<index_md::Row>> = BTreeMap::new();
            for (h, r) in rows {
                by_heading.entry(h).or_default().push(r.clone());
            }
            for (h, rows) in by_heading {
                text = index_md::add_rows(&text, h, &rows);
            }
        }
        if text != old {
            ws.fs.write(&path, text.as_bytes()).map_err(io(&path))?;
            changed.push(crate::fsutil::rel_str(&ws.root, &path));
        }
    }
    Ok(changed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcards_and_numbers() {
        assert!(wildcard("*.md", "a.md") && !wildcard("*.md", "a.txt"));
        assert!(wildcard("KNOWLEDGE-DROP-*", "KNOWLEDGE-DROP-x.md"));
        assert_eq!(number_of("07-x.md"), Some(7));
        assert_eq!(number_of("x-07.md"), None);
        assert_eq!(normalize("a/b/../c.md").as_deref(), Some("a/c.md"));
        assert_eq!(normalize("../c.md"), None);
    }
}
