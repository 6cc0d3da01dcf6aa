//! Shared helpers: a temporary workspace with a plan, and hand-made run
//! results (knowledge file, drop, state) standing in for `expand run`.

use std::path::{Path, PathBuf};

use assert_cmd::Command;
use expand::run::state::{PartStatus, PlanState};

pub const PLAN: &str = "# Knowledge Expansion: Test Topics (2 runners in 1 batch)

**Date**: 2025-11-21

- **Batch 1**: PARTs 1-2 (Foundations)

## PART 1: Alpha Basics (~20 lines)

- [ ] PART 1: Create topic/00-alpha.md

**Step 1: Create Knowledge File**
- [ ] Section 1: Overview (~10 lines)
- [ ] Section 2: Alpha Details (~10 lines)

## PART 2: Beta Details (~20 lines)

- [ ] PART 2: Create topic/01-beta.md

**Step 1: Create Knowledge File**
- [ ] Section 1: Overview (~10 lines)
- [ ] Section 2: Beta Internals (~10 lines)
";

pub struct Ws {
    pub dir: tempfile::TempDir,
}

impl Ws {
    pub fn new() -> Ws {
        let dir = tempfile::tempdir().unwrap();
        let w = Ws { dir };
        w.write(
            "expand.yaml",
            "git:\n  author_name: Test\n  author_email: test@example.com\n",
        );
        w.write(
            "knowledge/INDEX.md",
            "# Index\n\nHand-written intro.\n\n## old/\n\n| File | Description | Lines |\n|---|---|---|\n| [00-x.md](old/00-x.md) | old file | 3 |\n",
        );
        w.write("knowledge/old/00-x.md", "# X\n\nText.\n");
        w.write("knowledge/SKILL.md", "# Skill\n\nHand text about `old/`.\n");
        w.write("plans/p.md", PLAN);
        w
    }

    pub fn root(&self) -> &Path {
        self.dir.path()
    }

    pub fn path(&self, rel: &str) -> PathBuf {
        self.root().join(rel)
    }

    pub fn write(&self, rel: &str, text: &str) {
        let p = self.path(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    }

    pub fn read(&self, rel: &str) -> String {
        std::fs::read_to_string(self.path(rel)).unwrap()
    }

    /// What the runner leaves for a done PART: file, drop, tick, state.
    pub fn done_part(&self, n: u32, target: &str, title: &str, sections: &[&str]) {
        let mut body = format!("# {title}\n\n");
        for s in sections {
            body.push_str(&format!("## {s}\n\n"));
            for i in 0..10 {
                body.push_str(&format!("Line {i} about {s}.\n"));
            }
            body.push('\n');
        }
        body.push_str("## Sources\n\n- https://docs.rs/clap\n- `old/00-x.md` (knowledge)\n");
        self.write(&format!("knowledge/{target}"), &body);
        let topic = target.rsplit('/').next().unwrap().trim_end_matches(".md");
        let drop = format!("drops/p/KNOWLEDGE-DROP-{topic}-2025-11-21-1405.md");
        self.write(
            &drop,
            &format!(
                "# KNOWLEDGE DROP: {title}\n\n- **Runner**: PART {n}\n- **Status**: ✓ COMPLETE\n- **Knowledge file**: `{target}` ({} lines)\n\n## Sources used\n- https://docs.rs/clap\n",
                body.lines().count()
            ),
        );
        let plan = self.read("plans/p.md");
        self.write(
            "plans/p.md",
            &plan.replace(
                &format!("- [ ] PART {n}: Create"),
                &format!("- [✓] PART {n}: Create"),
            ),
        );
        self.set_state(n, |p| {
            p.status = PartStatus::Done;
            p.target = Some(target.to_string());
            p.target_lines = Some(body.lines().count());
            p.drop = Some(drop.clone());
            p.duration_ms = Some(1200);
            p.usage.input_tokens = 1200;
            p.usage.output_tokens = 800;
            p.cost = Some(0.0012);
            p.provider = Some("offline".into());
        });
    }

    pub fn failed_part(&self, n: u32, error: &str) {
        self.set_state(n, |p| {
            p.status = PartStatus::Failed;
            p.error = Some(error.to_string());
        });
    }

    /// What a run killed after the tick and before the outcome leaves.
    pub fn interrupted_part(&self, n: u32) {
        self.set_state(n, |p| p.status = PartStatus::Running);
    }

    fn set_state(&self, n: u32, f: impl FnOnce(&mut expand::run::state::PartState)) {
        let fs =
            expand::workspace::jail::Jail::open(&self.path(".").canonicalize().unwrap()).unwrap();
        let mut s = PlanState::load(&fs, "p").unwrap();
        s.plan_path = "plans/p.md".into();
        let p = s.part_mut(n);
        p.batch = 1;
        f(p);
        s.save(&fs).unwrap();
    }

    /// Both PARTs done, as after `expand run p --all`.
    pub fn run_all(&self) {
        self.done(1);
        self.done(2);
    }

    /// PART `n` of `PLAN` done as the runner leaves it, with its planned sections.
    pub fn done(&self, n: u32) {
        match n {
            1 => self.done_part(
                1,
                "topic/00-alpha.md",
                "Alpha Basics",
                &["Overview", "Alpha Details"],
            ),
            2 => self.done_part(
                2,
                "topic/01-beta.md",
                "Beta Details",
                &["Overview", "Beta Internals"],
            ),
            _ => panic!("PLAN has PARTs 1 and 2"),
        }
    }

    pub fn git_init(&self) -> git2::Repository {
        let repo = git2::Repository::init(self.root()).unwrap();
        self.write(".gitignore", ".expand/\n");
        {
            let mut idx = repo.index().unwrap();
            idx.add_all(["*"], git2::IndexAddOption::DEFAULT, None)
                .unwrap();
            idx.write().unwrap();
            let tree = repo.find_tree(idx.write_tree().unwrap()).unwrap();
            let sig = git2::Signature::now("T", "t@example.com").unwrap();
            repo.commit(Some("HEAD"), &sig, &sig, "init", &tree, &[])
                .unwrap();
        }
        repo
    }

    pub fn expand(&self) -> Command {
        let mut c = crate::util::expand_cmd();
        c.arg("-C").arg(self.root()).arg("--color").arg("never");
        c
    }
}

/// Paths changed by the HEAD commit, sorted.
pub fn head_paths(repo: &git2::Repository) -> Vec<String> {
    let head = repo.head().unwrap().peel_to_commit().unwrap();
    let parent = head.parent(0).ok().map(|p| p.tree().unwrap());
    let diff = repo
        .diff_tree_to_tree(parent.as_ref(), Some(&head.tree().unwrap()), None)
        .unwrap();
    let mut v: Vec<String> = diff
        .deltas()
        .map(|d| {
            d.new_file()
                .path()
                .or(d.old_file().path())
                .unwrap()
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    v.sort();
    v
}

pub fn commit_count(repo: &git2::Repository) -> usize {
    let mut w = repo.revwalk().unwrap();
    w.push_head().unwrap();
    w.count()
}
