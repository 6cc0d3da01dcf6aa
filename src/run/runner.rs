//! One PART through its steps: knowledge, research, write, drop, mark.
//!
//! Crash safety: the state journal (`run::state`) says `running`, then,
//! synced, names the target and drop an attempt is about to create before
//! either is written; they are written to `.expand/tmp/` and renamed into
//! place; the plan tick and the synced `done` record come last. A crash at
//! any point leaves the PART pending (to run again) or done (file, drop, tick
//! and state agree). The state remembers that expand wrote the target, so the
//! re-run may replace it.

use std::path::PathBuf;
use std::sync::{Arc, Mutex, RwLock};
use std::time::Instant;

use crate::clock;
use crate::config::Config;
use crate::graph::PlanGraph;
use crate::knowledge::scan::KnowledgeBase;
use crate::plan::{self, Plan};
use crate::providers::cost::{self, BudgetTracker};
use crate::providers::{Fetch, Search, Writer, Written};
use crate::report::progress::{Event, Reporter};
use crate::run::state::{Durability, PartState, PartStatus, PlanState, StateCommit};
use crate::steps;

/// Everything the PARTs of one run share.
pub struct Shared {
    pub root: PathBuf,
    pub knowledge_dir: PathBuf,
    pub drops_dir: PathBuf,
    pub tmp_dir: PathBuf,
    pub plan_file: PathBuf,
    /// Workspace-relative plan path for drops and messages.
    pub plan_shown: String,
    pub plan: Plan,
    pub graph: PlanGraph,
    pub kb: RwLock<KnowledgeBase>,
    pub state: Mutex<PlanState>,
    /// Group commit of `state` to its journal (see `Shared::save_part`).
    pub state_commit: StateCommit,
    /// Serializes edits of the plan file and remembers the last one.
    pub plan_edit: Mutex<PlanEdits>,
    pub writer: Arc<dyn Writer>,
    pub search: Arc<dyn Search>,
    pub fetch: Option<Arc<dyn Fetch>>,
    pub reporter: Arc<dyn Reporter>,
    pub config: Config,
    /// What the plan has spent, against `budget.max_cost` / `budget.max_tokens`.
    pub budget: BudgetTracker,
    pub retries: u32,
    pub force: bool,
    /// Test hook `EXPAND_FAULT=<step>:<part>`: abort the process right after that step.
    pub fault: Option<crate::fault::Fault>,
}

#[derive(Clone, Debug)]
pub struct Outcome {
    pub part: u32,
    pub ok: bool,
    pub error: Option<String>,
    pub target: Option<String>,
    pub lines: usize,
    pub attempts: u32,
    pub duration_ms: u64,
}

impl Shared {
    /// Change PART `number`'s state and return once the change is as durable
    /// as `durability` asks (see [`StateCommit`]).
    async fn save_part(
        &self,
        number: u32,
        durability: Durability,
        f: impl FnOnce(&mut PartState),
    ) -> Result<(), String> {
        self.state_commit
            .save(&self.state, number, durability, f)
            .await
            .map_err(|e| {
                format!(
                    "failed to save run state to `{}`: {e}",
                    crate::fsutil::rel_str(&self.root, self.state_commit.path())
                )
            })
    }

    fn fault(&self, step: &str, part: u32) {
        if let Some(f) = &self.fault {
            f.hit(step, Some(part));
        }
    }
}

/// Run one PART with retries; records the outcome in state.
pub async fn run_part(sh: Arc<Shared>, number: u32) -> Outcome {
    let started = Instant::now();
    let max = 1 + sh.retries;
    let mut last_err = String::new();
    let title = sh
        .plan
        .part(number)
        .map(|p| p.title.clone())
        .unwrap_or_default();
    for attempt in 1..=max {
        sh.reporter.event(Event::PartStarted {
            part: number,
            title: title.clone(),
            attempt,
        });
        let now = clock::rfc3339(clock::now());
        let batch = sh.graph.node(number).map(|n| n.batch).unwrap_or(0);
        if let Err(e) = sh
            .save_part(number, Durability::Appended, |p| {
                p.status = PartStatus::Running;
                p.batch = batch;
                p.attempts += 1;
                p.error = None;
                p.started_at = Some(now);
            })
            .await
        {
            last_err = e;
            break;
        }
        match attempt_once(&sh, number, started).await {
            Ok(out) => {
                sh.reporter.event(Event::PartDone {
                    part: number,
                    target: out.target.clone().unwrap_or_default(),
                    lines: out.lines,
                    duration_ms: out.duration_ms,
                });
                return Outcome {
                    attempts: attempt,
                    ..out
                };
            }
            Err(e) => {
                last_err = e;
                let will_retry = attempt < max;
                // The next attempt's start, or the failure below, records it.
                sh.reporter.event(Event::PartFailed {
                    part: number,
                    error: last_err.clone(),
                    will_retry,
                });
            }
        }
    }
    let duration_ms = started.elapsed().as_millis() as u64;
    let _ = sh
        .save_part(number, Durability::Synced, |p| {
            p.status = PartStatus::Failed;
            p.error = Some(last_err.clone());
            p.duration_ms = Some(duration_ms);
            p.finished_at = Some(clock::rfc3339(clock::now()));
        })
        .await;
    Outcome {
        part: number,
        ok: false,
        error: Some(last_err),
        target: None,
        lines: 0,
        attempts: max,
        duration_ms,
    }
}

async fn attempt_once(sh: &Arc<Shared>, number: u32, started: Instant) -> Result<Outcome, String> {
    let part = sh
        .plan
        .part(number)
        .ok_or_else(|| format!("PART {number} is not in the plan"))?
        .clone();
    let target = part
        .target
        .clone()
        .ok_or_else(|| format!("PART {number} names no knowledge file to create"))?;
    let target_path = crate::fsutil::resolve_inside(&sh.knowledge_dir, &target)?;
    // Before any paid work: a file expand did not write is never replaced.
    sh.refuse_foreign_target(number, &target_path, &target)?;
    let node = sh.graph.node(number).cloned().unwrap_or_default();

    // 1. Knowledge: CPU work over the whole base, off the async threads.
    sh.reporter.event(Event::Step {
        part: number,
        step: "knowledge",
    });
    let budget_chars = (sh.config.budget.prompt_tokens as usize).saturating_mul(4) * 6 / 10;
    let pack = {
        let sh2 = Arc::clone(sh);
        let part2 = part.clone();
        tokio::task::spawn_blocking(move || {
            let kb = sh2.kb.read().expect("kb lock");
            steps::knowledge::run(&kb, &part2, &node, budget_chars)
        })
        .await
        .map_err(|e| format!("knowledge step crashed: {e}"))?
    };
    sh.fault("knowledge", number);

    // 2. Research.
    sh.reporter.event(Event::Step {
        part: number,
        step: "research",
    });
    let found = steps::research::run(
        sh.search.as_ref(),
        sh.fetch.as_deref(),
        &part,
        sh.config.search.results,
    )
    .await
    .map_err(|e| format!("research: {e}"))?;
    sh.fault("research", number);

    // 3. Write.
    sh.reporter.event(Event::Step {
        part: number,
        step: "write",
    });
    let mut evidence = pack.evidence;
    evidence.extend(found.evidence);
    let req = steps::write::request(&sh.plan, &part, evidence, sh.config.budget.prompt_tokens);
    let (mut written, problems) = steps::write::run(sh.writer.as_ref(), &req)
        .await
        .map_err(|e| format!("write: {e}"))?;
    // Counted as soon as the writer answers: a PART that fails later still spent it.
    let cost = sh.cost_of(&written);
    sh.budget.record(&written.usage, cost);
    if !problems.is_empty() {
        tracing::warn!(
            "PART {number}: the written file still has problems after one repair: {}",
            problems.join("; ")
        );
    }
    // Again: the file may have appeared while the writer worked.
    sh.refuse_foreign_target(number, &target_path, &target)?;
    // The drop's name is fixed now so that one state write records both
    // files this attempt is about to create: an interrupted attempt's files
    // are then known to be expand's own (replaced, not refused or doubled).
    let now = clock::now();
    let (date, hhmm) = clock::date_and_hhmm(now);
    let stamp = clock::stamp(now);
    let drop_dir = sh.drops_dir.join(&sh.plan.slug);
    let drop_name = steps::drop::file_name(&part, &date, &hhmm);
    let drop_path = drop_dir.join(&drop_name);
    let drop_rel = crate::fsutil::rel_str(&sh.root, &drop_path);
    let old_drop = sh
        .state
        .lock()
        .expect("state lock")
        .part(number)
        .and_then(|p| p.drop.clone());
    sh.save_part(number, Durability::Synced, |p| {
        p.wrote_target = true;
        p.target = Some(target.clone());
        p.drop = Some(drop_rel.clone());
    })
    .await?;
    let mut text = std::mem::take(&mut written.text);
    if !text.ends_with('\n') {
        text.push('\n');
    }
    crate::fsutil::atomic_write_via(&sh.tmp_dir, &target_path, text.as_bytes())
        .map_err(|e| format!("failed to write `{target}`: {e}"))?;
    let lines = text.lines().count();
    sh.kb.write().expect("kb lock").upsert(target.clone(), text);
    sh.fault("write", number);

    // 4. Drop. A drop left by an interrupted attempt is replaced, not doubled.
    sh.reporter.event(Event::Step {
        part: number,
        step: "drop",
    });
    if let Some(old) = old_drop.filter(|o| *o != drop_rel) {
        let _ = std::fs::remove_file(sh.root.join(old));
    }
    let duration_s = started.elapsed().as_secs_f64();
    let urls: Vec<String> = found
        .sources
        .iter()
        .filter(|s| s.starts_with("http"))
        .cloned()
        .collect();
    let mut kfiles = pack.files;
    for s in &found.sources {
        if !s.starts_with("http") {
            let p = s.split('#').next().unwrap_or(s).to_string();
            if !kfiles.contains(&p) {
                kfiles.push(p);
            }
        }
    }
    let drop_text = steps::drop::render(&steps::drop::DropInfo {
        plan_title: &sh.plan.title,
        plan_path: &sh.plan_shown,
        part: &part,
        stamp: &stamp,
        target: &target,
        lines,
        provider: sh.writer.name(),
        model: &written.model,
        input_tokens: written.usage.input_tokens,
        output_tokens: written.usage.output_tokens,
        cost,
        duration_s,
        knowledge_files: &kfiles,
        urls: &urls,
        missing: &pack.missing,
    });
    crate::fsutil::atomic_write_via(&sh.tmp_dir, &drop_path, drop_text.as_bytes())
        .map_err(|e| format!("failed to write `{drop_rel}`: {e}"))?;
    sh.fault("drop", number);

    // 5. Mark: tick the plan in place, then record the outcome.
    sh.reporter.event(Event::Step {
        part: number,
        step: "mark",
    });
    tick(sh, number, &stamp)?;
    sh.fault("mark", number);
    let duration_ms = started.elapsed().as_millis() as u64;
    let mut sources = kfiles;
    sources.extend(urls);
    sh.save_part(number, Durability::Synced, |p| {
        p.status = PartStatus::Done;
        p.error = None;
        p.finished_at = Some(clock::rfc3339(clock::now()));
        p.duration_ms = Some(duration_ms);
        p.target_lines = Some(lines);
        p.provider = Some(sh.writer.name().to_string());
        p.model = Some(written.model);
        p.usage = written.usage;
        p.cost = cost;
        p.sources = sources;
    })
    .await?;
    Ok(Outcome {
        part: number,
        ok: true,
        error: None,
        target: Some(target),
        lines,
        attempts: 1,
        duration_ms,
    })
}

impl Shared {
    /// Dollars for a writer answer: priced by the model the provider names,
    /// else by the configured one (providers often answer with a dated name).
    fn cost_of(&self, w: &Written) -> Option<f64> {
        let prices = &self.config.prices;
        cost::cost(&w.usage, &w.model, prices)
            .or_else(|| cost::cost(&w.usage, self.writer.model(), prices))
    }

    /// Refuse to write over `target` when it exists and no attempt of this
    /// PART wrote it (unless `--force`).
    fn refuse_foreign_target(
        &self,
        number: u32,
        path: &std::path::Path,
        target: &str,
    ) -> Result<(), String> {
        let ours = || {
            self.state
                .lock()
                .expect("state lock")
                .part(number)
                .is_some_and(|p| p.wrote_target)
        };
        if !self.force && path.exists() && !ours() {
            return Err(format!(
                "`{}` exists already and expand did not write it; not overwriting (use --force)",
                self.plan_shown_knowledge(target)
            ));
        }
        Ok(())
    }

    fn plan_shown_knowledge(&self, target: &str) -> String {
        crate::fsutil::rel_str(&self.root, &self.knowledge_dir.join(target))
    }
}

/// The plan file as this run's last tick left it: the parse the ticks started
/// from and the edits made since, so a tick shifts that parse's spans instead
/// of parsing the whole plan again (a parse per PART grows with the plan).
#[derive(Default)]
pub struct PlanEdits {
    base: Option<Plan>,
    /// What the last tick wrote: the text and its bytes on disk.
    text: String,
    bytes: Vec<u8>,
    /// Edits made since `base`, in its offsets: (end of the span, length change).
    applied: Vec<(usize, isize)>,
    ticked: Vec<u32>,
}

/// Tick PART `number` in the plan file: edit only the markers and the status
/// suffix, write it back in the file's own encoding.
pub fn tick(sh: &Shared, number: u32, stamp: &str) -> Result<(), String> {
    let mut cache = sh.plan_edit.lock().expect("plan edit lock");
    let bytes = std::fs::read(&sh.plan_file)
        .map_err(|e| format!("failed to read `{}`: {e}", sh.plan_shown))?;
    let Some(t) = cache.tick(&sh.plan_shown, bytes, number, stamp)? else {
        return Ok(());
    };
    crate::fsutil::atomic_write(&sh.plan_file, &t.bytes)
        .map_err(|e| format!("failed to write `{}`: {e}", sh.plan_shown))?;
    cache.wrote(t);
    Ok(())
}

/// A tick made in memory, to record once it is on disk.
pub struct Ticked {
    number: u32,
    text: String,
    bytes: Vec<u8>,
    applied: Vec<(usize, isize)>,
}

impl PlanEdits {
    /// Ticks that start from `plan`, the parse of the file as this run loaded
    /// it: while the file stays as it was, the first tick parses nothing.
    pub fn from_plan(plan: &Plan) -> PlanEdits {
        PlanEdits {
            bytes: plan::to_bytes(plan, &plan.text),
            text: plan.text.clone(),
            base: Some(plan.clone()),
            ..PlanEdits::default()
        }
    }

    /// The plan with PART `number` ticked, from `bytes`, the file as it is now.
    /// When that is not what the last tick wrote (the first tick, or someone
    /// edited the file), or the PART was ticked already, it is parsed afresh.
    pub fn tick(
        &mut self,
        shown: &str,
        bytes: Vec<u8>,
        number: u32,
        stamp: &str,
    ) -> Result<Option<Ticked>, String> {
        if self.base.is_none() || self.bytes != bytes || self.ticked.contains(&number) {
            let current = plan::parse::parse_bytes(std::path::Path::new(shown), &bytes)
                .map_err(|e| format!("`{shown}`: {e}"))?;
            *self = PlanEdits {
                text: current.text.clone(),
                base: Some(current),
                bytes,
                ..PlanEdits::default()
            };
        }
        let base = self.base.as_ref().expect("parsed above");
        let Some(part) = base.part(number) else {
            return Err(format!("PART {number} is no longer in `{shown}`"));
        };
        let edits = plan::edit::tick_part(base, part, stamp);
        if edits.is_empty() {
            return Ok(None);
        }
        // PARTs' spans never overlap: an edit moves by what the edits before it changed.
        let shifted: Vec<plan::edit::Edit> = edits
            .iter()
            .map(|e| {
                let by: isize = self
                    .applied
                    .iter()
                    .filter(|(end, _)| *end <= e.span.start)
                    .map(|(_, d)| d)
                    .sum();
                let at = |o: usize| o.checked_add_signed(by).unwrap_or(0);
                plan::edit::Edit {
                    span: at(e.span.start)..at(e.span.end),
                    text: e.text.clone(),
                }
            })
            .collect();
        let text = plan::edit::apply(&self.text, &shifted).map_err(|e| e.to_string())?;
        Ok(Some(Ticked {
            number,
            bytes: plan::to_bytes(base, &text),
            text,
            applied: edits
                .iter()
                .map(|e| (e.span.end, e.text.len() as isize - e.span.len() as isize))
                .collect(),
        }))
    }

    /// Record a tick that is on disk.
    pub fn wrote(&mut self, t: Ticked) {
        self.applied.extend(t.applied);
        self.ticked.push(t.number);
        self.text = t.text;
        self.bytes = t.bytes;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan_text(parts: u32) -> String {
        let mut t = String::from("# Plan\n\n");
        for n in 1..=parts {
            t.push_str(&format!(
                "## PART {n}: Topic {n} (~100 lines)\n\n- [ ] PART {n}: Create t/{n:02}-x.md\n\n\
                 **Step 1: Research**\n- [ ] Search: \"q{n}\"\n- [x] Search: \"done{n}\"\n\n"
            ));
        }
        t
    }

    /// Ticking from the cached parse (or from the run's own parse) gives the
    /// same bytes as parsing the file before every tick, in any order, in a
    /// mis-encoded plan too, and an edit from outside between two ticks is kept.
    #[test]
    fn cached_ticks_match_fresh_parses() {
        let clean = plan_text(9).replace("# Plan", "# Plan — ✓ “quoted”");
        let mojibake =
            plan::encoding::encode(&clean, plan::encoding::Encoding::MacRomanRepaired, false);
        for (start, seeded) in [
            (clean.clone().into_bytes(), false),
            (clean.into_bytes(), true),
            (mojibake.clone(), false),
            (mojibake, true),
        ] {
            let mut cache = if seeded {
                let c = PlanEdits::from_plan(
                    &plan::parse::parse_bytes(std::path::Path::new("p.md"), &start).unwrap(),
                );
                // The file as the run's parse would write it back: the first
                // tick finds it unchanged and parses nothing.
                assert_eq!(c.bytes, start);
                c
            } else {
                PlanEdits::default()
            };
            let mut cached = start;
            let mut fresh = cached.clone();
            for (i, n) in [5u32, 1, 9, 2, 8, 3, 7, 4, 6, 5].into_iter().enumerate() {
                let stamp = format!("2025-11-2{} 10:0{i}", i % 10);
                if i == 6 {
                    // Someone edits the plan between two ticks.
                    cached.splice(0..0, b"<!-- note -->\n".iter().copied());
                    fresh.splice(0..0, b"<!-- note -->\n".iter().copied());
                }
                if let Some(t) = cache.tick("p.md", cached.clone(), n, &stamp).unwrap() {
                    cached = t.bytes.clone();
                    cache.wrote(t);
                }
                let mut scratch = PlanEdits::default();
                if let Some(t) = scratch.tick("p.md", fresh.clone(), n, &stamp).unwrap() {
                    fresh = t.bytes;
                }
                assert_eq!(
                    String::from_utf8_lossy(&cached),
                    String::from_utf8_lossy(&fresh),
                    "after ticking PART {n}"
                );
            }
            let done = plan::parse::parse_bytes(std::path::Path::new("p.md"), &cached).unwrap();
            assert_eq!(done.parts.len(), 9);
            assert!(done.parts.iter().all(|p| p.status == plan::Status::Done));
            assert_eq!(
                String::from_utf8_lossy(&cached)
                    .matches("(Completed")
                    .count(),
                9
            );
        }
    }
}
