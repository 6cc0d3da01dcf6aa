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
    IndexRowMissingFile,
    TickedMissingTarget,
    Stranded,
    BrokenLink,
    DuplicateNumber,
    DropMissingTarget,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::MissingFromIndex => "missing-from-index",
            Kind::IndexRowMissingFile => "index-row-missing-file",
            Kind::TickedMissingTarget => "ticked-missing-target",
            Kind::Stranded => "stranded",
            Kind::BrokenLink => "broken-link",
            Kind::DuplicateNumber => "duplicate-number",
            Kind::DropMissingTarget => "drop-missing-target",
        }
    }
    pub const ALL: [Kind; 7] = [
        Kind::MissingFromIndex,
        Kind::IndexRowMissingFile,
        Kind::TickedMissingTarget,
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
    /// For index findings: the index (workspace-relative) and the row's file
    /// as the index names it.
    #[serde(skip)]
    pub index: Option<(String, String)>,
}

#[derive(Clone, Debug, Default, Serialize)]
pub struct Checked {
    pub knowledge_files: usize,
    pub indexes: usize,
    pub plans: usize,
    pub drops: usize,
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

/// Relative markdown links `[text](target)` outside code: (line, target).
pub fn relative_links(text: &str) -> Vec<(usize, String)> {
    let mut out = Vec::new();
    if memchr::memmem::find(text.as_bytes(), b"](").is_none() {
        return out;
    }
    let mut fence: Option<&str> = None;
    for (i, line) in text.lines().enumerate() {
        let t = line.trim_start();
        if let Some(f) = fence {
            if t.starts_with(f) {
                fence = None;
            }
            continue;
        }
        if t.starts_with("```") {
            fence = Some("```");
            continue;
        }
        if t.starts_with("~~~") {
            fence = Some("~~~");
            continue;
        }
        if line.starts_with("    ") || line.starts_with('\t') {
            continue;
        }
        let b = line.as_bytes();
        for pos in memchr::memmem::find_iter(b, b"](") {
            // Skip links inside inline code.
            if b[..pos].iter().filter(|&&c| c == b'`').count() % 2 == 1 {
                continue;
            }
            if !b[..pos].contains(&b'[') {
                continue;
            }
            let rest = &line[pos + 2..];
            let Some(close) = rest.find(')') else {
                continue;
            };
            let mut target = rest[..close].trim();
            if let Some(t) = target.strip_prefix('<') {
                target = t.trim_end_matches('>');
            }
            // `[t](path "title")`; a path with spaces is kept whole.
            let target = match target.find(" \"") {
                Some(q) => target[..q].trim(),
                None => target,
            };
            if target.is_empty()
                || target.starts_with('#')
                || target.starts_with('/')
                || target.contains("://")
                || target.starts_with("mailto:")
                || target.contains('{')
            {
                continue;
            }
            let target = target.split(['#', '?']).next().unwrap_or("");
            if target.is_empty() {
                continue;
            }
            out.push((i + 1, target.to_string()));
        }
    }
    out
}

/// The knowledge file a KNOWLEDGE-DROP names: the first backticked `.md` path
/// on a `**…file…**:` line (expand's `Knowledge file`, and the `File Created`,
/// `Target File`, `File` of hand-run drops).
pub fn drop_target(text: &str) -> Option<String> {
    for line in text.lines().take(60) {
        let t = line.trim_start().trim_start_matches(['-', '*', ' ']);
        let Some(colon) = line.find(':') else {
            continue;
        };
        let key = &t[..t.find(':').unwrap_or(0).min(t.len())];
        if !line.contains("**") || !key.to_lowercase().contains("file") || key.len() > 40 {
            continue;
        }
        let rest = &line[colon..];
        let mut parts = rest.split('`');
        parts.next();
        if let Some(p) = parts.next() {
            let p = p.trim();
            if p.ends_with(".md") {
                return Some(p.trim_start_matches("./").to_string());
            }
        }
    }
    None
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

/// Every plan audit reads: plans/, the archive, and `audit.plans` globs.
pub fn plan_files(ws: &Workspace) -> Vec<PathBuf> {
    let mut set = BTreeSet::new();
    if let Ok(v) = ws.pending_plans() {
        set.extend(v);
    }
    let name = &ws.config.completed_plan_name;
    if let Ok(rd) = std::fs::read_dir(ws.completed_dir()) {
        for e in rd.flatten() {
            let p = e.path().join(name);
            if p.is_file() {
                set.insert(p);
            }
        }
    }
    for g in &ws.config.audit.plans {
        set.extend(glob(&ws.root, g));
    }
    set.into_iter().collect()
}

/// Audit the workspace.
pub fn audit(ws: &Workspace) -> Result<Report, AuditError> {
    let kroot = ws.knowledge_dir();
    let mut exclude = ws.non_knowledge_dirs();
    for x in &ws.config.audit.exclude {
        exclude.push(kroot.join(x));
    }
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
    let on_disk = |rel: &str| exists.contains(rel) || kroot.join(rel).exists();

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

    // Indexes: files missing from their nearest index; rows naming missing files.
    let index_dirs: HashMap<&str, &str> = indexes.iter().map(|i| (parent(i), *i)).collect();
    let mentions: HashMap<&str, BTreeSet<String>> = indexes
        .iter()
        .map(|i| (*i, index_md::mentions(&texts[i])))
        .collect();
    for f in &files {
        let mut dir = parent(f);
        let index = loop {
            if let Some(i) = index_dirs.get(dir) {
                break Some(*i);
            }
            if dir.is_empty() {
                break None;
            }
            dir = parent(dir);
        };
        let Some(index) = index else { continue };
        let idir = parent(index);
        let rel = f.strip_prefix(&format!("{idir}/")).unwrap_or(f);
        let m = &mentions[index];
        if m.contains(rel) || m.contains(*f) || m.contains(base(f)) {
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
    for index in &indexes {
        let text = &texts[index];
        let idir = parent(index);
        let managed: HashMap<usize, String> = index_md::managed_rows(text)
            .into_iter()
            .map(|f| (f.line, f.file))
            .collect();
        for (i, line) in text.lines().enumerate() {
            let t = line.trim_start();
            let named = if let Some(f) = managed.get(&i) {
                Some(f.clone())
            } else if t.starts_with('|') || t.starts_with("- ") || t.starts_with("* ") {
                index_md::md_names(t).next().map(str::to_string)
            } else {
                None
            };
            let Some(named) = named else { continue };
            if named.contains("://") || named.starts_with('/') {
                continue;
            }
            let clean = named.split('#').next().unwrap_or("").to_string();
            let in_dir = normalize(&join_rel(idir, &clean));
            let found = in_dir.as_deref().map(on_disk).unwrap_or(false)
                || normalize(&clean).as_deref().map(on_disk).unwrap_or(false);
            if found {
                continue;
            }
            let fixable = managed.contains_key(&i);
            findings.push(Finding {
                kind: Kind::IndexRowMissingFile,
                path: kshow(index),
                line: Some(i + 1),
                message: format!("row names `{named}`, which does not exist"),
                fixable,
                index: Some((index.to_string(), named)),
            });
        }
    }

    // Relative links, and numbers used twice in one folder.
    let mut numbers: BTreeMap<(&str, u64), Vec<&str>> = BTreeMap::new();
    for f in &files {
        let dir = parent(f);
        for (line, target) in relative_links(&texts[f]) {
            let decoded = target.replace("%20", " ");
            let ok = match normalize(&join_rel(dir, &decoded)) {
                Some(r) => on_disk(&r),
                None => kroot.join(dir).join(&decoded).exists(),
            };
            if !ok {
                findings.push(Finding {
                    kind: Kind::BrokenLink,
                    path: kshow(f),
                    line: Some(line),
                    message: format!("link to `{target}` points nowhere"),
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

    // Plans: PARTs ticked done whose file is missing.
    let plans = plan_files(ws);
    report.checked.plans = plans.len();
    let mut plan_set = HashSet::new();
    for p in &plans {
        plan_set.insert(p.clone());
        let shown = PathBuf::from(show(p));
        let plan = match crate::plan::load(p, &shown) {
            Ok(plan) => plan,
            Err(e) => {
                report.unreadable.push(e.to_string());
                continue;
            }
        };
        for part in &plan.parts {
            if part.status != crate::plan::Status::Done {
                continue;
            }
            let Some(t) = &part.target else { continue };
            if crate::fsutil::check_relative(t).is_err() || on_disk(t) {
                continue;
            }
            findings.push(Finding {
                kind: Kind::TickedMissingTarget,
                path: show(p),
                line: Some(part.status_line.unwrap_or(part.line)),
                message: format!(
                    "PART {} is ticked done but `{}` does not exist",
                    part.number,
                    kshow(t)
                ),
                fixable: false,
                index: None,
            });
        }
    }

    // The archive and the drops folder: stranded files and drops.
    let mut drops = Vec::new();
    let name = ws.config.completed_plan_name.as_str();
    for area in [ws.completed_dir(), ws.drops_dir()] {
        if area == kroot || !area.is_dir() {
            continue;
        }
        for p in walk_md(&area) {
            let fname = p.file_name().unwrap_or_default().to_string_lossy();
            if fname.starts_with("KNOWLEDGE-DROP") {
                drops.push(p);
                continue;
            }
            if plan_set.contains(&p)
                || fname == name
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
            let guess = if in_topic {
                rest.clone()
            } else {
                fname.to_string()
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
    for g in &ws.config.audit.drops {
        drops.extend(glob(&ws.root, g));
    }
    drops.sort();
    drops.dedup();
    report.checked.drops = drops.len();
    for d in &drops {
        let text = ws.fs.read(d).map_err(io(d))?;
        let text = String::from_utf8_lossy(&text);
        let Some(t) = drop_target(&text) else {
            continue;
        };
        let t2 = t
            .strip_prefix(&format!("{}/", ws.config.knowledge_dir))
            .unwrap_or(&t);
        if crate::fsutil::check_relative(t2).is_err() || on_disk(t2) {
            continue;
        }
        findings.push(Finding {
            kind: Kind::DropMissingTarget,
            path: show(d),
            line: None,
            message: format!("names `{}`, which does not exist", kshow(t2)),
            fixable: false,
            index: None,
        });
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
    fn links_skip_code_and_urls() {
        let t = "a [x](b.md) and `[y](c.md)` and [z](https://e.com/x.md)\n```\n[q](no.md)\n```\n[w](d/e.md#sec)\n";
        let l = relative_links(t);
        assert_eq!(l, vec![(1, "b.md".to_string()), (5, "d/e.md".to_string())]);
    }

    #[test]
    fn drop_targets_in_both_styles() {
        assert_eq!(
            drop_target("# D\n\n- **Knowledge file**: `a/00-x.md` (3 lines)\n").as_deref(),
            Some("a/00-x.md")
        );
        assert_eq!(
            drop_target("# D\n**Runner**: PART 1\n**File Created**: `hf/00-y.md`\n").as_deref(),
            Some("hf/00-y.md")
        );
        assert_eq!(drop_target("# D\n**Status**: ok\n"), None);
    }

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
