//! Generated plans for the scale and memory bars (SPEC §10) and the tests
//! that keep them honest: any number of PARTs, with or without dependencies
//! between them, with or without declared batches.
//!
//! Dependencies come from references to earlier PARTs' targets in the three
//! forms SPEC §2 resolves (an exact path, a unique suffix, `folder/NN`), so
//! the catalog's indexes, the graph and the scheduler all do real work.
//! Which PART reads which is a pure function of its number
//! ([`Shape::dependency`]): a test can check the graph against it.
//!
//! Shared by `benches/run.rs` and the integration tests (`#[path]`), so it
//! lives outside `src/` and is not part of expand's interface.

#![allow(dead_code)] // each includer uses its own part of it

use std::fmt::Write;

/// Target folders: enough that `folder/NN` and suffix look-ups must pick
/// among many files with the same number.
const FOLDERS: usize = 250;

#[derive(Clone, Copy, Debug)]
pub struct Shape {
    pub parts: usize,
    /// A heading, a status line and one reference per PART (about 110 bytes),
    /// so that 100,000 PARTs fit under the 16 MiB plan limit. Otherwise each
    /// PART has the steps, sections and queries of a real plan (about 750
    /// bytes).
    pub lean: bool,
    /// Most PARTs read or cite the target of an earlier one.
    pub deps: bool,
    /// Declare batches of this many PARTs (`**Batch N**: PARTs a-b`); with
    /// `None` the scheduler forms them.
    pub declared: Option<usize>,
}

impl Shape {
    pub fn lean(parts: usize) -> Shape {
        Shape {
            parts,
            lean: true,
            deps: true,
            declared: None,
        }
    }

    pub fn full(parts: usize) -> Shape {
        Shape {
            lean: false,
            ..Shape::lean(parts)
        }
    }

    pub fn declared(self, batch: usize) -> Shape {
        Shape {
            declared: Some(batch),
            ..self
        }
    }

    pub fn without_deps(self) -> Shape {
        Shape {
            deps: false,
            ..self
        }
    }

    /// The knowledge-relative path PART `k` creates: lean plans spread
    /// their targets over many folders, full ones write into `bench/` (as
    /// the orchestration bench always has).
    pub fn target(&self, k: usize) -> String {
        let (folder, name) = self.place(k);
        format!("{folder}/{name}")
    }

    /// PART `k`'s target as (folder, file name).
    fn place(&self, k: usize) -> (String, String) {
        if self.lean {
            let (f, nn) = ((k - 1) % FOLDERS, (k - 1) / FOLDERS);
            (format!("t{f:03}"), format!("{nn:04}-p{k}.md"))
        } else {
            ("bench".into(), format!("{k:04}-bench-topic-{k}.md"))
        }
    }

    /// The earlier PART whose target PART `k` reads, if any. With declared
    /// batches the dependency lies in an earlier batch, except for one PART
    /// in 16 that reads its predecessor in its own batch (a warning that
    /// exercises the order within a batch).
    pub fn dependency(&self, k: usize) -> Option<usize> {
        if !self.deps || k < 2 {
            return None;
        }
        let x = mix(k as u64);
        if x % 4 == 0 {
            return None; // a PART of its own
        }
        let hi = match self.declared {
            Some(size) => {
                let first = (k - 1) / size * size + 1;
                if (x >> 12) % 16 == 0 && k > first {
                    return Some(k - 1);
                }
                first - 1
            }
            None => k - 1,
        };
        if hi == 0 {
            return None;
        }
        let r = (x >> 16) as usize;
        Some(if (x >> 8) % 8 == 0 {
            1 + r % hi // far back
        } else {
            hi - r % hi.min(8) // close by
        })
    }

    /// The plan's text.
    pub fn plan(&self) -> String {
        let n = self.parts;
        let mut t = String::with_capacity(n * if self.lean { 112 } else { 760 } + 1024);
        let _ = write!(
            t,
            "# Knowledge Expansion: Orchestration Bench ({n} runners)\n\n\
             **Date**: 2025-11-21\n\
             **Goal**: Measure expand's scheduler\n\
             **Total**: ~{} lines across {n} files\n\n",
            n * 100
        );
        if let Some(size) = self.declared {
            for (b, first) in (1..=n).step_by(size.max(1)).enumerate() {
                let last = (first + size - 1).min(n);
                let _ = writeln!(t, "- **Batch {}**: PARTs {first}-{last}", b + 1);
            }
            t.push('\n');
        }
        t.push_str("---\n\n");
        for k in 1..=n {
            if self.lean {
                self.lean_part(&mut t, k);
            } else {
                self.full_part(&mut t, k);
            }
        }
        t
    }

    /// The reference to PART `k`'s dependency, as a step item.
    fn dependency_item(&self, k: usize) -> Option<String> {
        let j = self.dependency(k)?;
        let (folder, name) = self.place(j);
        let nn = name.split('-').next().unwrap_or("");
        Some(match mix(k as u64 ^ 0x5ca1e) % 3 {
            0 => format!("- [ ] Read {folder}/{name}"),
            1 => format!("- [ ] Read {name}"),
            _ => format!("- [ ] **CITE**: {folder}/{nn} (earlier part)"),
        })
    }

    fn lean_part(&self, t: &mut String, k: usize) {
        let _ = writeln!(t, "## PART {k}: T{k}");
        let _ = writeln!(t, "- [ ] PART {k}: Create {}", self.target(k));
        if let Some(item) = self.dependency_item(k) {
            t.push_str(&item);
            t.push('\n');
        }
        t.push('\n');
    }

    fn full_part(&self, t: &mut String, k: usize) {
        let seed = k % 4;
        let _ = write!(
            t,
            "## PART {k}: Bench Topic {k} (~100 lines)\n\n\
             - [ ] PART {k}: Create {}\n\n\
             **Step 0: Check Existing Knowledge**\n\
             - [ ] Read base/0{seed}-seed-{seed}.md (what the base says)\n",
            self.target(k)
        );
        if let Some(item) = self.dependency_item(k) {
            t.push_str(&item);
            t.push('\n');
        }
        let _ = write!(
            t,
            "- [ ] Grep for \"latency\" AND \"batch\" in base/\n\n\
             **Step 1: Web Research**\n\
             - [ ] Search: \"bench topic {k} batch latency\"\n\n\
             **Step 2: Create Knowledge File**\n\
             - [ ] Section 1: Overview of topic {k} (~50 lines)\n\
             \x20 - What it is and why it matters\n\
             - [ ] Section 2: Details of topic {k} (~50 lines)\n\
             - [ ] **CITE**: base/0{seed} (seed notes)\n\n\
             **Step 3: Create KNOWLEDGE DROP**\n\
             - [ ] Create KNOWLEDGE-DROP-bench-topic-{k}-2025-11-21-[TIME].md\n\n---\n\n"
        );
    }
}

/// The small knowledge base the full shape reads: `base/0N-seed-N.md`.
pub fn knowledge_base() -> Vec<(String, String)> {
    (0..4)
        .map(|i| {
            let mut t = format!("# Seed {i}\n\n");
            for s in 0..8 {
                let _ = write!(
                    t,
                    "## Topic {s}\n\nBatch latency and scheduling notes, paragraph {s} of seed {i}. \
                     A batch waits for its slowest runner; latency hides behind concurrency.\n\n"
                );
            }
            (format!("base/0{i}-seed-{i}.md"), t)
        })
        .collect()
}

/// splitmix64: a fixed, well-spread function of the PART number.
fn mix(k: u64) -> u64 {
    let mut z = k.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}
