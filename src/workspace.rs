//! The workspace: its root, configuration and folders, and how a plan is named.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

use crate::config::{Config, FILE_NAME};
use crate::error::{bad_input, with_hint, Code};

pub struct Workspace {
    pub root: PathBuf,
    pub config: Config,
}

impl Workspace {
    /// `-C DIR`, else the nearest ancestor holding expand.yaml, else the current folder.
    pub fn discover(dir: Option<&Path>) -> Result<Workspace> {
        let start = match dir {
            Some(d) => {
                if !d.is_dir() {
                    return Err(bad_input(format!("`{}` is not a folder", d.display())));
                }
                d.to_path_buf()
            }
            None => std::env::current_dir().context("cannot read the current folder")?,
        };
        let start = start
            .canonicalize()
            .with_context(|| format!("failed to open `{}`", start.display()))?;
        let root = start
            .ancestors()
            .find(|a| a.join(FILE_NAME).is_file())
            .map(Path::to_path_buf)
            .unwrap_or(start);
        let config = Config::load(&root, std::env::vars())?;
        let ws = Workspace { root, config };
        ws.check_folders()?;
        Ok(ws)
    }

    /// expand writes only inside the workspace: a configured folder (or
    /// `.expand/`) that is a symbolic link leading elsewhere is refused
    /// before any command reads or writes through it.
    fn check_folders(&self) -> Result<()> {
        let c = &self.config;
        for (key, rel) in [
            ("knowledge_dir", c.knowledge_dir.as_str()),
            ("plans_dir", c.plans_dir.as_str()),
            ("drops_dir", c.drops_dir.as_str()),
            ("completed_dir", c.completed_dir.as_str()),
            ("state folder", ".expand"),
        ] {
            if rel == "." {
                continue;
            }
            if crate::fsutil::resolve_inside(&self.root, rel).is_err() {
                return Err(with_hint(
                    Code::BadInput,
                    format!(
                        "{key} `{rel}` is a symbolic link leading outside the workspace `{}`",
                        self.root.display()
                    ),
                    "expand writes only inside the workspace: make it a real folder, \
                     or run expand with -C on the folder it leads to",
                ));
            }
        }
        Ok(())
    }

    fn dir(&self, d: &str) -> PathBuf {
        if d == "." {
            self.root.clone()
        } else {
            self.root.join(d)
        }
    }

    pub fn knowledge_dir(&self) -> PathBuf {
        self.dir(&self.config.knowledge_dir)
    }
    pub fn plans_dir(&self) -> PathBuf {
        self.dir(&self.config.plans_dir)
    }
    pub fn drops_dir(&self) -> PathBuf {
        self.dir(&self.config.drops_dir)
    }
    pub fn completed_dir(&self) -> PathBuf {
        self.dir(&self.config.completed_dir)
    }
    pub fn state_dir(&self) -> PathBuf {
        self.root.join(".expand")
    }

    /// A path for messages: relative to the workspace root when inside it.
    pub fn show(&self, p: &Path) -> PathBuf {
        p.strip_prefix(&self.root)
            .map(Path::to_path_buf)
            .unwrap_or_else(|_| p.to_path_buf())
    }

    /// The slug of the archived plan at `file` (`completed/<slug>/plan.md`):
    /// the name of its folder. `None` for a plan outside the archive, whose
    /// slug is its file stem.
    pub fn archived_slug(&self, file: &Path) -> Option<String> {
        let completed = self.completed_dir();
        let completed = completed.canonicalize().unwrap_or(completed);
        let file = file.canonicalize().unwrap_or_else(|_| file.to_path_buf());
        let dir = file.parent()?;
        (dir.parent() == Some(completed.as_path()))
            .then(|| dir.file_name().map(|n| n.to_string_lossy().into_owned()))
            .flatten()
    }

    /// Read a plan from `file`, named for messages relative to the root, with
    /// the slug an archived plan keeps from its folder.
    pub fn load_plan(&self, file: &Path) -> Result<crate::plan::Plan> {
        let shown = self.show(file);
        let mut plan = crate::plan::load(file, &shown)?;
        if let Some(slug) = self.archived_slug(file) {
            plan.slug = slug;
        }
        // The slug names the plan's drops folder, state file and archive
        // folder: it must be one plain path component.
        let s = &plan.slug;
        if s.is_empty()
            || s == "."
            || s == ".."
            || s.starts_with('.')
            || s.chars().any(|c| c.is_control() || c == '/' || c == '\\')
        {
            return Err(with_hint(
                Code::BadInput,
                format!(
                    "{}: the plan's name `{}` cannot name its drops and state folders",
                    shown.display(),
                    s.escape_debug()
                ),
                "rename the plan file to letters, digits and dashes, like `plans/my-expansion.md`",
            ));
        }
        Ok(plan)
    }

    /// A plan named by path (relative to the current folder or the root) or by slug.
    pub fn find_plan(&self, name: &str) -> Result<PathBuf> {
        let p = Path::new(name);
        // Relative paths are relative to the workspace (`-C DIR` acts like cd),
        // then to the current folder.
        let cands = [self.root.join(p), p.to_path_buf()];
        for c in &cands {
            if c.is_file() {
                return Ok(c.canonicalize().unwrap_or_else(|_| c.clone()));
            }
        }
        let slug = p
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_else(|| name.to_string());
        let in_plans = self.plans_dir().join(format!("{slug}.md"));
        if in_plans.is_file() {
            return Ok(in_plans);
        }
        let archived = self
            .completed_dir()
            .join(&slug)
            .join(&self.config.completed_plan_name);
        if archived.is_file() {
            return Ok(archived);
        }
        Err(with_hint(
            Code::BadInput,
            format!("no plan `{name}`"),
            format!(
                "name a plan by its path or by its slug in `{}`",
                self.show(&self.plans_dir()).display()
            ),
        ))
    }

    /// Every `*.md` in plans/, sorted.
    pub fn pending_plans(&self) -> Result<Vec<PathBuf>> {
        let dir = self.plans_dir();
        let mut out = Vec::new();
        match std::fs::read_dir(&dir) {
            Ok(rd) => {
                for e in rd {
                    let p = e?.path();
                    if p.extension().map(|x| x == "md").unwrap_or(false) && p.is_file() {
                        out.push(p);
                    }
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(e).with_context(|| format!("failed to read `{}`", dir.display())),
        }
        out.sort();
        Ok(out)
    }

    /// Folders under the knowledge root that hold expand's own data, not knowledge.
    pub fn non_knowledge_dirs(&self) -> Vec<PathBuf> {
        let mut v = vec![self.state_dir(), self.root.join(".git")];
        let k = self.knowledge_dir();
        for d in [self.plans_dir(), self.drops_dir(), self.completed_dir()] {
            if d != k {
                v.push(d);
            }
        }
        v
    }
}
