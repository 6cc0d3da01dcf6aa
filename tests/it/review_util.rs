//! Shared helpers: a temporary workspace with a plan, run for real by
//! `expand run` with a `command` writer — a small script that answers like a
//! well-behaved model (the planned sections, an inline citation, a Sources
//! section), or fails, or crafts a file a test gives it. Review, audit and
//! consolidate tests read what the run really wrote.

use std::path::{Path, PathBuf};

use assert_cmd::Command;

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

/// The time every test run says it is (`EXPAND_CLOCK`): drop names are
/// `KNOWLEDGE-DROP-<topic>-2025-11-21-1405.md`.
pub const CLOCK: &str = "2025-11-21T14:05:00Z";

/// A model that does what the prompt asks: a `# ` title (the PART's), each
/// planned section with ten lines citing the knowledge file `old/00-x.md`,
/// and a Sources section. `.crafted/<n>.md` replaces its answer for PART
/// `n`; `.crafted/<n>.fail` makes it fail with that text on stderr.
const WRITER: &str = r#"#!/bin/sh
prompt=$(cat)
dir=$(dirname "$0")
n=$(printf '%s\n' "$prompt" | sed -n 's/.*": PART \([0-9]*\) — .*/\1/p' | head -n 1)
if [ -f "$dir/.crafted/$n.fail" ]; then cat "$dir/.crafted/$n.fail" >&2; exit 1; fi
if [ -f "$dir/.crafted/$n.md" ]; then cat "$dir/.crafted/$n.md"; exit 0; fi
title=$(printf '%s\n' "$prompt" | sed -n 's/.*": PART [0-9]* — \(.*\)\.$/\1/p' | head -n 1)
printf '# %s\n\n' "$title"
printf '%s\n' "$prompt" | sed -n '/^## Planned sections$/,/^Expected length/p' \
  | sed -n 's/^- \(.*\) (~[0-9]* lines)$/\1/p; t; s/^- \(.*\)$/\1/p' \
  | while IFS= read -r s; do
      printf '## %s\n\n' "$s"
      i=0
      while [ $i -lt 10 ]; do
        printf 'Line %s about %s, as `old/00-x.md` says.\n' "$i" "$s"
        i=$((i + 1))
      done
      printf '\n'
    done
printf '## Sources\n\n- `old/00-x.md` (knowledge)\n'
"#;

pub struct Ws {
    pub dir: tempfile::TempDir,
}

impl Ws {
    pub fn new() -> Ws {
        let dir = tempfile::tempdir().unwrap();
        let w = Ws { dir };
        w.write("writer.sh", WRITER);
        w.write(
            "expand.yaml",
            &format!(
                "git:\n  author_name: Test\n  author_email: test@example.com\n\
                 writer:\n  kind: command\n  command: [sh, '{}']\n",
                w.path("writer.sh").display()
            ),
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

    /// Run PART `n` for real. Its file is the model's answer unless
    /// `craft` (`.crafted/<n>.md`) holds one, which the writer then prints.
    pub fn run_part(&self, n: u32) -> std::process::Output {
        self.expand()
            .args(["run", "p", "--part", &n.to_string()])
            .env("EXPAND_CLOCK", CLOCK)
            .output()
            .unwrap()
    }

    /// PART `n` done by a real run. `target` and `sections` are what the
    /// plan says of it (checked); `_title` names it for the reader.
    pub fn done_part(&self, n: u32, target: &str, _title: &str, sections: &[&str]) {
        let out = self.run_part(n);
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert_eq!(
            out.status.code(),
            Some(0),
            "PART {n} did not run clean:\n{stdout}{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let text = self.read(&format!("knowledge/{target}"));
        for s in sections {
            assert!(text.contains(&format!("## {s}\n")), "{s} in {text}");
        }
    }

    /// The writer answers PART `n` with `text` instead of its usual file.
    pub fn craft(&self, n: u32, text: &str) {
        self.write(&format!(".crafted/{n}.md"), text);
    }

    /// PART `n` failed by a real run: the writer command fails every
    /// attempt with `error` on stderr.
    pub fn failed_part(&self, n: u32, error: &str) {
        self.write(&format!(".crafted/{n}.fail"), error);
        let out = self.run_part(n);
        assert_eq!(
            out.status.code(),
            Some(1),
            "{}",
            String::from_utf8_lossy(&out.stdout)
        );
        std::fs::remove_file(self.path(&format!(".crafted/{n}.fail"))).unwrap();
    }

    /// A run of PART `n` (again, when it is done) killed after it ticked
    /// the plan and before it recorded the outcome (`EXPAND_FAULT`, an
    /// abort as `kill -9` would): the plan says done, the state running.
    pub fn interrupted_part(&self, n: u32) {
        let out = self
            .expand()
            .args(["run", "p", "--part", &n.to_string(), "--force"])
            .env("EXPAND_CLOCK", CLOCK)
            .env("EXPAND_FAULT", format!("mark:{n}"))
            .output()
            .unwrap();
        assert_ne!(out.status.code(), Some(0));
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
