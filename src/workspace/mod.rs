//! The workspace: its root, configuration and folders, how a plan is named,
//! and the one door to its files (`jail`).

pub mod adopt;
pub mod jail;

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

use crate::config::{Config, FILE_NAME};
use crate::error::{bad_input, with_hint, Code};

/// A path as expand shows it in messages and records it: forward slashes.
pub fn show(p: &Path) -> String {
    p.to_string_lossy().replace('\\', "/")
}

pub struct Workspace {
    pub root: PathBuf,
    pub config: Config,
    /// Every read and write of the workspace's files goes through this.
    pub fs: jail::Jail,
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
        let root = match start.ancestors().find(|a| a.join(FILE_NAME).is_file()) {
            Some(a) => a.to_path_buf(),
            // Without a configuration, a folder holding the default
            // knowledge folder is a workspace with every default.
            None if start.join(crate::config::DEFAULT_KNOWLEDGE_DIR).is_dir() => start,
            None => {
                return Err(with_hint(
                    Code::BadInput,
                    format!(
                        "not inside a workspace: no `{FILE_NAME}` in `{}` or any parent folder, \
                         and no `{}/` folder here",
                        start.display(),
                        crate::config::DEFAULT_KNOWLEDGE_DIR
                    ),
                    "run `expand init` to make this folder a workspace (it adopts a knowledge \
                     base already here), or pass -C with the workspace's folder",
                ))
            }
        };
        let fs = jail::Jail::open(&root)
            .with_context(|| format!("failed to open `{}`", root.display()))?;
        let text =
            fs.read_to_string_opt(FILE_NAME)
                .map_err(|source| crate::config::ConfigError::Io {
                    path: root.join(FILE_NAME),
                    source,
                })?;
        let config = Config::from_text(&root.join(FILE_NAME), text.as_deref(), std::env::vars())?;
        let ws = Workspace { root, config, fs };
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
            if matches!(self.fs.metadata(rel), Err(e) if jail::is_escape(&e)) {
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
        let dir = file.parent()?;
        (dir.parent() == Some(self.completed_dir().as_path()))
            .then(|| dir.file_name().map(|n| n.to_string_lossy().into_owned()))
            .flatten()
    }

    /// The name a plan's run state goes by: its slug for a plan in
    /// `plans/`, `completed/<folder>` for an archived one, so that a new
    /// plan under a used name never meets the archived plan's state.
    pub fn state_key(&self, file: &Path, slug: &str) -> String {
        match self.archived_slug(file) {
            Some(folder) => format!("completed/{folder}"),
            None => slug.to_string(),
        }
    }

    /// The slug of a plan kept in a folder of its own in the plans folder
    /// (`plans/<slug>/ingestion.md`, as hand-run bases keep them): the
    /// folder's name.
    pub fn foldered_slug(&self, file: &Path) -> Option<String> {
        let dir = file.parent()?;
        (dir.parent() == Some(self.plans_dir().as_path()))
            .then(|| dir.file_name().map(|n| n.to_string_lossy().into_owned()))
            .flatten()
    }

    /// The plan kept in folder `dir`: the configured plan name, else the
    /// names hand-run bases use (`ingestion.md`, `plan.md`), else the one
    /// markdown file there that is no drop.
    fn plan_in(&self, dir: &Path) -> Option<PathBuf> {
        for name in [
            self.config.completed_plan_name.as_str(),
            "ingestion.md",
            "plan.md",
        ] {
            let named = dir.join(name);
            if self.fs.is_file(&named) {
                return Some(named);
            }
        }
        let md: Vec<_> = self
            .fs
            .read_dir(dir)
            .ok()?
            .into_iter()
            .filter(|e| {
                e.is_file && e.name.ends_with(".md") && !e.name.starts_with("KNOWLEDGE-DROP")
            })
            .collect();
        match md.as_slice() {
            [one] => Some(dir.join(&one.name)),
            _ => None,
        }
    }

    /// Whether `file` lies in the workspace: a plan expand will write (ticks,
    /// archive) must. Links are refused later, by the jail, when it is read.
    pub fn is_inside(&self, file: &Path) -> bool {
        self.fs.relative(file).is_ok()
    }

    /// A plan that `run`, `reset`, `consolidate` or `fix-encoding` will
    /// change: it must be in the workspace and reachable without leaving it.
    pub fn plan_to_change(&self, file: &Path) -> Result<()> {
        let shown = self.show(file);
        let escape = match self.fs.metadata(file) {
            Err(e) if jail::is_escape(&e) => true,
            _ => !self.is_inside(file),
        };
        if escape {
            return Err(with_hint(
                Code::BadInput,
                format!(
                    "`{}` is outside the workspace `{}` (or a link leading out of it); expand only changes plans inside it",
                    shown.display(),
                    self.root.display()
                ),
                format!(
                    "copy the plan into `{}` and name it from there",
                    self.show(&self.plans_dir()).display()
                ),
            ));
        }
        // An archived plan is the record of a consolidated run: `reset`,
        // `fix-encoding` or a run must not rewrite it.
        if self.is_archived(file) {
            return Err(with_hint(
                Code::BadInput,
                format!(
                    "`{}` is archived: its run was consolidated, and expand does not change archived plans",
                    shown.display()
                ),
                format!(
                    "to run it again, copy it into `{}` under a new name",
                    self.show(&self.plans_dir()).display()
                ),
            ));
        }
        Ok(())
    }

    /// Whether `file` is a plan archived under `completed/`.
    pub fn is_archived(&self, file: &Path) -> bool {
        self.absolute(file).starts_with(self.completed_dir())
    }

    /// Read a plan from `file`, named for messages relative to the root, with
    /// the slug an archived plan keeps from its folder. A plan inside the
    /// workspace is read through the jail; one named outside it (for
    /// `validate`) is only read.
    pub fn load_plan(&self, file: &Path) -> Result<crate::plan::Plan> {
        let shown = self.show(file);
        let mut plan = if self.is_inside(file) {
            let io = |source| crate::plan::LoadError::Io {
                path: shown.clone(),
                source,
            };
            let len = self.fs.metadata(file).map_err(io)?.len();
            crate::plan::check_size(&shown, len)?;
            let bytes = self.fs.read(file).map_err(io)?;
            crate::plan::from_vec(&shown, bytes)?
        } else {
            crate::plan::load(file, &shown)?
        };
        if let Some(slug) = self
            .archived_slug(file)
            .or_else(|| self.foldered_slug(file))
        {
            plan.slug = slug;
        }
        // The slug names the plan's drops folder, state file and archive
        // folder: it must be one plain path component.
        let s = &plan.slug;
        if s.is_empty()
            || s == "."
            || s == ".."
            || s.starts_with('.')
            || s.len() > jail::MAX_NAME - 8
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

    /// `p` made absolute (against the current folder) with `.` and `..`
    /// taken out as written; inside the workspace when it names a place in it.
    fn absolute(&self, p: &Path) -> PathBuf {
        let abs = if p.is_absolute() {
            p.to_path_buf()
        } else {
            std::env::current_dir()
                .map(|d| d.join(p))
                .unwrap_or_else(|_| p.to_path_buf())
        };
        let mut out = PathBuf::new();
        for c in abs.components() {
            match c {
                std::path::Component::CurDir => {}
                std::path::Component::ParentDir => {
                    out.pop();
                }
                other => out.push(other),
            }
        }
        if out.starts_with(&self.root) {
            return out;
        }
        // The workspace named through a link (`/tmp` vs `/private/tmp`): the
        // folder's real path says whether the file is in it.
        match out.parent().map(Path::canonicalize) {
            Some(Ok(dir)) if dir.starts_with(&self.root) => {
                dir.join(out.file_name().unwrap_or_default())
            }
            _ => out,
        }
    }

    /// A plan named by path (relative to the workspace or the current
    /// folder) or by slug.
    pub fn find_plan(&self, name: &str) -> Result<PathBuf> {
        let p = Path::new(name);
        // Relative paths are relative to the workspace (`-C DIR` acts like cd),
        // then to the current folder.
        if p.is_relative() && self.fs.relative(p).is_ok() && self.fs.is_file(p) {
            return Ok(self.root.join(p));
        }
        let abs = self.absolute(p);
        if abs.is_file() || self.fs.symlink_metadata(&abs).is_ok() {
            return Ok(abs);
        }
        let slug = p
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_else(|| name.to_string());
        let in_plans = self.plans_dir().join(format!("{slug}.md"));
        if self.fs.is_file(&in_plans) {
            return Ok(in_plans);
        }
        if let Some(p) = self.plan_in(&self.plans_dir().join(&slug)) {
            return Ok(p);
        }
        if let Some(archived) = self.archived_plan(&slug) {
            return Ok(archived);
        }
        let pending: Vec<String> = self
            .pending_plans()
            .unwrap_or_default()
            .iter()
            .map(|p| self.plan_slug(p))
            .collect();
        let plans_dir = self.show(&self.plans_dir()).display().to_string();
        let hint = match crate::report::nearest(&slug, pending.iter().map(String::as_str)) {
            Some(near) => format!("did you mean `{near}`?"),
            None if pending.is_empty() => format!("there are no plans in `{plans_dir}`"),
            None => format!(
                "the plans in `{plans_dir}`: {}",
                crate::report::list_some(&pending, 8)
            ),
        };
        Err(with_hint(
            Code::BadInput,
            format!("no plan `{name}`"),
            format!("{hint} (name a plan by its path or by its slug in `{plans_dir}`)"),
        ))
    }

    /// A pending plan's slug: its file stem, or its folder's name for a
    /// plan kept in a folder of its own (`<slug>/ingestion.md`).
    fn plan_slug(&self, p: &Path) -> String {
        let dir = self.plans_dir();
        match p
            .strip_prefix(&dir)
            .ok()
            .and_then(|r| r.components().next())
        {
            Some(first) => Path::new(first.as_os_str())
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_default(),
            None => p
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_default(),
        }
    }

    /// The plan file archived in `completed/<slug>/`: the configured name,
    /// else the one markdown file there (hand-run bases name it as they
    /// like).
    pub fn archived_plan(&self, slug: &str) -> Option<PathBuf> {
        self.plan_in(&self.completed_dir().join(slug))
    }

    /// Every `*.md` in plans/, sorted.
    pub fn pending_plans(&self) -> Result<Vec<PathBuf>> {
        let dir = self.plans_dir();
        let entries = match self.fs.read_dir(&dir) {
            Ok(v) => v,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
            Err(e) => {
                return Err(e)
                    .with_context(|| format!("failed to read `{}`", self.show(&dir).display()))
            }
        };
        let mut out: Vec<PathBuf> = Vec::new();
        for e in entries {
            if e.name.starts_with('.') {
                continue;
            }
            // A link is listed too: reading it says where it leads.
            if e.name.ends_with(".md") && (e.is_file || e.is_symlink) {
                out.push(dir.join(&e.name));
            } else if e.is_dir {
                out.extend(self.plan_in(&dir.join(&e.name)));
            }
        }
        out.sort();
        Ok(out)
    }

    /// What `graph::analyze` needs to check targets against this workspace.
    pub fn place(&self) -> crate::graph::Place<'_> {
        let k = self.knowledge_dir();
        let mut reserved = Vec::new();
        for (dir, what) in [
            (self.root.join(".git"), "git's folder"),
            (self.state_dir(), "expand's state folder"),
            (self.plans_dir(), "the plans folder"),
            (self.drops_dir(), "the drops folder"),
            (self.completed_dir(), "the archive folder"),
        ] {
            if dir != k {
                if let Ok(rel) = dir.strip_prefix(&k) {
                    reserved.push((crate::fsutil::rel_str(Path::new(""), rel), what));
                }
            }
        }
        crate::graph::Place {
            fs: &self.fs,
            knowledge: k,
            reserved,
        }
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
        // Folders the config says hold no knowledge (templates, scratch).
        v.extend(self.config.audit.exclude.iter().map(|x| k.join(x)));
        v
    }
}
