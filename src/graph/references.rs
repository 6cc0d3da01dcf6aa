//! Knowledge reference resolution (SPEC §2): a reference written in a plan
//! (`distributed-training/00`, `performance/`, `File 3`, a full path) resolves
//! against the files in `knowledge/` together with the targets that the plans
//! being read will create.

use std::collections::{BTreeSet, HashMap};

/// Where a reference leads.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Resolution {
    /// A file that exists in the knowledge base.
    Existing(String),
    /// A file a PART will create: `plan` indexes the plans read together.
    Planned {
        path: String,
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
            Resolution::Existing(p)
            | Resolution::Planned { path: p, .. }
            | Resolution::Folder(p) => Some(p),
            Resolution::Glob(v) => v.first().map(|s| s.as_str()),
            Resolution::Unresolved => None,
        }
    }
}

/// Every file a reference can name: existing knowledge files and planned targets.
pub struct Catalog {
    /// All paths (existing first, then planned), forward slashes, relative to the knowledge root.
    paths: Vec<String>,
    /// For planned paths: (plan index, PART number).
    planned: Vec<Option<(usize, u32)>>,
    by_name: HashMap<String, Vec<usize>>,
    by_number: HashMap<String, Vec<usize>>,
    folders: BTreeSet<String>,
}

impl Catalog {
    /// `existing`: knowledge files; `planned`: (target, plan index, PART number).
    pub fn new(existing: &[String], planned: &[(String, usize, u32)]) -> Self {
        let mut c = Catalog {
            paths: Vec::new(),
            planned: Vec::new(),
            by_name: HashMap::new(),
            by_number: HashMap::new(),
            folders: BTreeSet::new(),
        };
        let mut seen = std::collections::HashSet::new();
        for (path, who) in planned
            .iter()
            .map(|(p, a, b)| (p.as_str(), Some((*a, *b))))
            .chain(existing.iter().map(|p| (p.as_str(), None)))
        {
            let norm = normalize(path);
            if !seen.insert(norm.clone()) {
                continue;
            }
            c.add(norm, who);
        }
        c
    }

    fn add(&mut self, path: String, who: Option<(usize, u32)>) {
        let idx = self.paths.len();
        let name = path.rsplit('/').next().unwrap_or(&path).to_string();
        let lname = name.to_lowercase();
        let num: String = name.chars().take_while(|c| c.is_ascii_digit()).collect();
        if !num.is_empty() {
            self.by_number.entry(num).or_default().push(idx);
        }
        self.by_name.entry(lname).or_default().push(idx);
        let mut dir = path.as_str();
        while let Some(p) = dir.rfind('/') {
            dir = &dir[..p];
            self.folders.insert(format!("{dir}/"));
        }
        self.paths.push(path);
        self.planned.push(who);
    }

    fn at(&self, idx: usize) -> Resolution {
        match self.planned[idx] {
            Some((plan, part)) => Resolution::Planned {
                path: self.paths[idx].clone(),
                plan,
                part,
            },
            None => Resolution::Existing(self.paths[idx].clone()),
        }
    }

    /// Planned targets under `folder/` (as (plan, part)).
    pub fn planned_in(&self, folder: &str) -> Vec<(usize, u32)> {
        self.paths
            .iter()
            .zip(&self.planned)
            .filter_map(|(p, w)| w.filter(|_| p.starts_with(folder)))
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
        let name = r.rsplit('/').next().unwrap_or(&r).to_lowercase();
        if let Some(c) = self.by_name.get(&name) {
            // Exact path first, then a unique path that ends with the reference.
            if let Some(&i) = c.iter().find(|&&i| self.paths[i].eq_ignore_ascii_case(&r)) {
                return self.at(i);
            }
            let suffix = format!("/{}", r.to_lowercase());
            let m: Vec<usize> = c
                .iter()
                .copied()
                .filter(|&i| self.paths[i].to_lowercase().ends_with(&suffix))
                .collect();
            if m.len() == 1 {
                return self.at(m[0]);
            }
            if m.len() > 1 {
                // Prefer a planned target, then the shortest path: deterministic.
                let best = m.iter().copied().min_by_key(|&i| {
                    (
                        self.planned[i].is_none(),
                        self.paths[i].len(),
                        self.paths[i].clone(),
                    )
                });
                return self.at(best.expect("non-empty"));
            }
        }
        // `folder/NN`: the file numbered NN in that folder.
        if let Some((folder, num)) = r.rsplit_once('/') {
            if !num.is_empty() && num.bytes().all(|b| b.is_ascii_digit()) {
                if let Some(c) = self.by_number.get(num) {
                    let want = format!("{}/", folder.to_lowercase());
                    let m: Vec<usize> = c
                        .iter()
                        .copied()
                        .filter(|&i| {
                            let p = self.paths[i].to_lowercase();
                            let dir = match p.rfind('/') {
                                Some(s) => &p[..s + 1],
                                None => "",
                            };
                            dir == want || dir.ends_with(&format!("/{want}"))
                        })
                        .collect();
                    if let Some(best) = m
                        .iter()
                        .copied()
                        .min_by_key(|&i| (self.planned[i].is_none(), self.paths[i].clone()))
                    {
                        return self.at(best);
                    }
                }
            }
            // A folder written without its trailing slash.
            if !r.contains('.') {
                return self.folder(&format!("{r}/"));
            }
        }
        Resolution::Unresolved
    }

    fn folder(&self, f: &str) -> Resolution {
        let lf = f.to_lowercase();
        if self.folders.contains(f) {
            return Resolution::Folder(f.to_string());
        }
        let suffix = format!("/{lf}");
        let m: Vec<&String> = self
            .folders
            .iter()
            .filter(|d| d.to_lowercase().ends_with(&suffix) || d.to_lowercase() == lf)
            .collect();
        match m.first() {
            Some(d) => Resolution::Folder((*d).clone()),
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

/// `./a/b.md` → `a/b.md`; `knowledge/a` → `a`; backslashes to slashes.
pub fn normalize(r: &str) -> String {
    let mut s = r.trim().trim_matches('`').replace('\\', "/");
    while let Some(rest) = s.strip_prefix("./") {
        s = rest.to_string();
    }
    if let Some(rest) = s.strip_prefix("knowledge/") {
        s = rest.to_string();
    }
    s
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
    fn globs() {
        assert!(glob_match("distributed-*.md", "distributed-x.md"));
        assert!(!glob_match("distributed-*.md", "00-x.md"));
        assert!(glob_match("*", "a"));
    }
}
