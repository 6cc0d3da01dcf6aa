//! One PART through its steps: knowledge, research, write, drop, mark.
//!
//! Crash safety: the state journal (`run::state`) says `running`, then,
//! synced, names the target and drop an attempt is about to create and
//! claims their exact bytes before either is written; they are written
//! through the workspace jail (a temp file in their own folder, renamed into
//! place); the plan tick and the synced `done` record come last. A crash at
//! any point leaves the PART pending (to run again) or done (file, drop, tick
//! and state agree). A re-run may replace a file only while its bytes are
//! ones expand claimed; anything else there is refused before paid work.

use std::path::PathBuf;
use std::sync::{Arc, Mutex, RwLock};
use std::time::Instant;

use crate::clock;
use crate::config::Config;
use crate::graph::PlanGraph;
use crate::knowledge::scan::KnowledgeBase;
use crate::plan::{self, Plan};
use crate::providers::cost::{self, BudgetTracker};
use crate::providers::meter::{self, Meter};
use crate::providers::{Fetch, ProviderError, Search, Writer, Written};
use crate::report::progress::{Event, Reporter};
use crate::run::state::{Durability, PartState, PartStatus, PlanState, StateCommit};
use crate::steps;
use crate::workspace::jail::Jail;

/// Everything the PARTs of one run share.
pub struct Shared {
    pub root: PathBuf,
    /// The only way to the workspace's files.
    pub fs: Jail,
    pub knowledge_dir: PathBuf,
    pub drops_dir: PathBuf,
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
    /// Versions of the plan file the ticks replaced, for late appends.
    pub plan_late: Mutex<crate::workspace::jail::Late>,
    pub writer: Arc<dyn Writer>,
    pub search: Arc<dyn Search>,
    pub fetch: Option<Arc<dyn Fetch>>,
    pub reporter: Arc<dyn Reporter>,
    pub config: Config,
    /// What the plan has spent, against `budget.max_cost` / `budget.max_tokens`.
    pub budget: BudgetTracker,
    /// How files are written (`writer.*`), with the cap on writer requests
    /// in flight across every runner.
    pub write: steps::write::Options,
    pub retries: u32,
    pub force: bool,
    /// Test hook `EXPAND_FAULT=<step>:<part>`: abort the process right after that step.
    pub fault: Option<crate::fault::Fault>,
    /// Set when the run is stopped (SIGINT/SIGTERM): no PART starts.
    pub stop: std::sync::atomic::AtomicBool,
    /// A rolling window (`run --all --window`): PARTs of later batches may
    /// start while earlier ones run, so a PART sees only what the PARTs it
    /// depends on (directly or not) wrote.
    pub window: bool,
}

/// What a PART's research retrieved (and its evidence held): every URL, as
/// `quality::url_key` writes it, and the text retrieved from each.
struct Retrieved<'a> {
    urls: &'a std::collections::BTreeSet<String>,
    pages: &'a std::collections::BTreeMap<String, String>,
    /// Files the plan's CITE lines name.
    must_cite: &'a [String],
}

/// Why an attempt failed, and whether another attempt could change that.
#[derive(Clone, Debug)]
pub struct PartError {
    pub message: String,
    /// The same attempt would fail the same way (a file in the way, no
    /// target, a folder that cannot be written): not retried.
    pub permanent: bool,
    /// The provider's account is not set up for this (see
    /// `ProviderError::Setup`): permanent, and the way out.
    pub setup_hint: Option<String>,
    /// A provider could not be reached after its retries: the network's
    /// or the endpoint's to fix, not the plan's (the run exits 3).
    pub unreachable: bool,
}

impl PartError {
    fn permanent(message: impl Into<String>) -> PartError {
        PartError {
            message: message.into(),
            permanent: true,
            setup_hint: None,
            unreachable: false,
        }
    }

    /// A provider's error in `step`.
    fn provider(step: &str, e: ProviderError) -> PartError {
        let setup_hint = e.setup_hint().map(str::to_string);
        let unreachable = matches!(e, ProviderError::Network { .. });
        PartError {
            message: format!("{step}: {e}"),
            permanent: setup_hint.is_some(),
            setup_hint,
            unreachable,
        }
    }
}

impl From<String> for PartError {
    fn from(message: String) -> PartError {
        PartError {
            message,
            permanent: false,
            setup_hint: None,
            unreachable: false,
        }
    }
}

#[derive(Clone, Debug)]
pub struct Outcome {
    pub part: u32,
    /// A file was written (done, or needing review).
    pub ok: bool,
    /// The file written fails the quality check: not ticked, not done.
    pub needs_review: bool,
    pub error: Option<String>,
    pub target: Option<String>,
    pub lines: usize,
    pub attempts: u32,
    pub duration_ms: u64,
    /// Failed because a provider's account is not set up for what config
    /// asks (a refused key, a wrong zone): the way out. The run exits 3.
    pub setup_hint: Option<String>,
    /// Failed in a way running it again cannot change (a file in the way,
    /// no target, a bad path): the plan or `--force` must change first.
    pub permanent: bool,
    /// Failed because a provider could not be reached (see `PartError`).
    pub unreachable: bool,
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
    let target = sh.plan.part(number).and_then(|p| p.target.clone());
    let mut attempts = 0;
    let mut setup_hint = None;
    let mut permanent = false;
    let mut unreachable = false;
    // This PART's network requests, over its attempts (see `meter`).
    let meter = Arc::new(Meter::default());
    for attempt in 1..=max {
        attempts = attempt;
        sh.reporter.event(Event::PartStarted {
            part: number,
            title: title.clone(),
            attempt,
        });
        let now = clock::rfc3339(clock::now());
        let batch = sh.graph.node(number).map(|n| n.batch).unwrap_or(0);
        let target = target.clone();
        if let Err(e) = sh
            .save_part(number, Durability::Appended, |p| {
                if p.target != target {
                    // The PART points at another file now: what its state
                    // said about the old one is not about this attempt.
                    p.drop = None;
                    p.target_lines = None;
                }
                p.status = PartStatus::Running;
                p.batch = batch;
                p.attempts += 1;
                p.error = None;
                p.started_at = Some(now);
                p.target = target;
            })
            .await
        {
            last_err = e;
            break;
        }
        match meter
            .scope(attempt_once(&sh, number, started, &meter))
            .await
        {
            Ok(out) => {
                let problems = match out.needs_review {
                    true => sh
                        .state
                        .lock()
                        .expect("state lock")
                        .part(number)
                        .map(|p| p.problems.clone())
                        .unwrap_or_default(),
                    false => Vec::new(),
                };
                sh.reporter.event(Event::PartDone {
                    part: number,
                    target: out.target.clone().unwrap_or_default(),
                    lines: out.lines,
                    duration_ms: out.duration_ms,
                    problems,
                });
                return Outcome {
                    attempts: attempt,
                    ..out
                };
            }
            Err(e) => {
                last_err = e.message;
                setup_hint = e.setup_hint;
                permanent = e.permanent;
                unreachable = e.unreachable;
                let will_retry = attempt < max && !e.permanent;
                // The next attempt's start, or the failure below, records it.
                sh.reporter.event(Event::PartFailed {
                    part: number,
                    error: last_err.clone(),
                    will_retry,
                });
                if !will_retry {
                    break;
                }
            }
        }
    }
    let duration_ms = started.elapsed().as_millis() as u64;
    // A failed PART's requests were sent, and billed, all the same.
    let requests = meter.take();
    let _ = sh
        .save_part(number, Durability::Synced, |p| {
            meter::add(&mut p.requests, requests);
            p.status = PartStatus::Failed;
            p.error = Some(last_err.clone());
            p.duration_ms = Some(duration_ms);
            p.finished_at = Some(clock::rfc3339(clock::now()));
        })
        .await;
    Outcome {
        part: number,
        ok: false,
        needs_review: false,
        error: Some(last_err),
        target: None,
        lines: 0,
        attempts,
        duration_ms,
        setup_hint,
        permanent,
        unreachable,
    }
}

/// One attempt at PART `number`, its requests counted by `meter` (the
/// caller runs it inside the meter's scope).
async fn attempt_once(
    sh: &Arc<Shared>,
    number: u32,
    started: Instant,
    meter: &Meter,
) -> Result<Outcome, PartError> {
    let part = sh
        .plan
        .part(number)
        .ok_or_else(|| PartError::permanent(format!("PART {number} is not in the plan")))?
        .clone();
    let target = part.target.clone().ok_or_else(|| {
        PartError::permanent(format!(
            "PART {number} names no knowledge file to create (add `Create folder/NN-name.md` to it)"
        ))
    })?;
    let target_path = sh.knowledge_dir.join(&target);
    let target_rel = sh.rel(&target_path);
    // Before any paid work: a file expand did not write is never replaced,
    // and a folder that cannot be written is found now, not after the
    // writer was paid.
    sh.refuse_foreign(&target_rel)?;
    let folder = target_path.parent().unwrap_or(&sh.knowledge_dir);
    sh.fs.probe_writable(folder).map_err(|e| {
        PartError::permanent(format!(
            "cannot write in `{}`: {e}; nothing was sent to the writer",
            sh.rel(folder)
        ))
    })?;
    let node = sh.graph.node(number).cloned().unwrap_or_default();
    tracing::info!(
        "PART {number}: {} → `{target_rel}` ({} reference(s), {} quer{})",
        part.title,
        node.reads.len(),
        part.queries().count(),
        if part.queries().count() == 1 {
            "y"
        } else {
            "ies"
        }
    );

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
            let sees = |by: u32| sh2.sees(number, by);
            steps::knowledge::run(&kb, &part2, &node, budget_chars, &sees)
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
    .map_err(|e| PartError::provider("research", e))?;
    // Recorded now, so a crash before the PART ends still shows what it
    // cost; the next durable change makes the record durable too.
    let requests = meter.take();
    if !requests.is_empty() {
        sh.save_part(number, Durability::Appended, |p| {
            meter::add(&mut p.requests, requests)
        })
        .await?;
    }
    sh.fault("research", number);

    // 3. Write.
    sh.reporter.event(Event::Step {
        part: number,
        step: "write",
    });
    // What the writer is given, for the drop's "read but not cited".
    let mut read: Vec<String> = pack.files.clone();
    for e in pack.evidence.iter().chain(found.evidence.iter()) {
        let key = match crate::markdown::source::Source::parse(&e.source) {
            Some(s) => s.key().to_string(),
            None => e.source.clone(),
        };
        if !read.contains(&key) {
            read.push(key);
        }
    }
    // URLs the writer may cite: what research retrieved, and those the
    // evidence it was given holds.
    let mut seen_urls = found.seen_urls();
    for e in pack.evidence.iter().chain(found.evidence.iter()) {
        seen_urls.extend(crate::markdown::urls_in(&e.text).map(crate::quality::url_key));
    }
    // The text retrieved from each URL (its page, its snippet): what a
    // quote attributed to it must be found in.
    let mut pages: std::collections::BTreeMap<String, String> = Default::default();
    for e in found
        .evidence
        .iter()
        .filter(|e| crate::markdown::source::is_url(&e.source))
    {
        let t = pages.entry(crate::quality::url_key(&e.source)).or_default();
        if !t.is_empty() {
            t.push_str("\n\n");
        }
        t.push_str(&e.text);
    }
    let mut evidence = pack.evidence;
    evidence.extend(found.evidence);
    // The files the plan's CITE lines name ("CITE: Files 1,5,9 explicitly").
    let must_cite: Vec<String> = sh
        .graph
        .node(number)
        .map(|n| {
            n.reads
                .iter()
                .filter(|r| r.kind == crate::graph::RefKind::Cite)
                .filter_map(|r| match &r.resolution {
                    crate::graph::references::Resolution::Existing(p)
                    | crate::graph::references::Resolution::Planned { path: p, .. } => {
                        Some(p.to_string())
                    }
                    _ => None,
                })
                .collect()
        })
        .unwrap_or_default();
    let count = |t: &str| sh.writer.count_tokens(t);
    let req = steps::write::request(
        &sh.plan,
        &part,
        evidence,
        must_cite.clone(),
        sh.config.budget.prompt_tokens,
        &count,
    );
    tracing::debug!(
        "PART {number}: prompt: {} chars, {} excerpt(s) of evidence, {} file(s) to cite",
        req.prompt.len(),
        req.evidence.len(),
        must_cite.len()
    );
    let planned: Vec<&str> = part.sections().map(|s| s.title.as_str()).collect();
    let judge = |text: &str| {
        sh.judge(
            number,
            &target,
            &planned,
            part.expected_lines,
            text,
            Retrieved {
                urls: &seen_urls,
                pages: &pages,
                must_cite: &must_cite,
            },
        )
    };
    let checked = steps::write::run(sh.writer.as_ref(), &req, judge, &sh.write)
        .await
        .map_err(|e| PartError::provider("write", e))?;
    let mut written = checked.written;
    let verdict = checked.verdict;
    {
        let st = &checked.stats;
        tracing::info!(
            "PART {number}: write: {} by {} ({}), {} request(s), {} continuation(s){}{}",
            if st.sections {
                "section by section"
            } else {
                "the whole file in one answer"
            },
            sh.writer.name(),
            written.model,
            st.requests,
            st.continued,
            if st.shrunk {
                ", evidence halved to fit the context"
            } else {
                ""
            },
            if checked.repaired {
                ", one repair asked"
            } else {
                ""
            },
        );
    }
    // Counted as soon as the writer answers: a PART that fails later still spent it.
    let cost = sh.cost_of(&written);
    sh.budget.record(&written.usage, cost);
    if !verdict.passes() {
        tracing::warn!(
            "PART {number}: the file still fails the check after one repair: {}",
            verdict.failures().join("; ")
        );
    }
    // Again: the file may have appeared while the writer worked.
    sh.refuse_foreign(&target_rel)?;
    let mut text = std::mem::take(&mut written.text);
    if !text.ends_with('\n') {
        text.push('\n');
    }
    let lines = text.lines().count();

    // The drop, rendered now so that one synced state write names both
    // files this attempt is about to create and claims their bytes: an
    // interrupted attempt's files are then known to be expand's own
    // (replaced, not refused or doubled), and nothing else ever is.
    let now = clock::now();
    let (date, hhmm) = clock::date_and_hhmm(now);
    let stamp = clock::stamp(now);
    let (drop_rel, old_drop) = sh.reserve_drop(number, &part, &date, &hhmm)?;
    let duration_s = started.elapsed().as_secs_f64();
    // Every Bright Data request of this PART so far: earlier attempts and
    // runs (in its state) and this one's (still in the meter).
    let brightdata_requests = {
        let recorded = sh
            .state
            .lock()
            .expect("state lock")
            .part(number)
            .map(|p| p.brightdata_requests())
            .unwrap_or(0);
        recorded + meter.count_of(crate::providers::brightdata::NAME)
    };
    let drop_text = steps::drop::render(&steps::drop::DropInfo {
        plan_title: &sh.plan.title,
        plan_path: &sh.plan_shown,
        part: &part,
        stamp: &stamp,
        target: &target,
        provider: sh.writer.name(),
        model: &written.model,
        input_tokens: written.usage.input_tokens,
        output_tokens: written.usage.output_tokens,
        cache_read_tokens: written.usage.cache_read_tokens,
        cache_write_tokens: written.usage.cache_write_tokens,
        cost,
        brightdata_requests,
        duration_s,
        verdict: &verdict,
        repaired: checked.repaired,
        writing: &checked.stats,
        search: sh.search.name(),
        queries: &found.queries,
        read: &read,
        missing: &pack.missing,
    });
    let claims = vec![
        (
            target_rel.clone(),
            crate::run::state::content_hash(text.as_bytes()),
        ),
        (
            drop_rel.clone(),
            crate::run::state::content_hash(drop_text.as_bytes()),
        ),
    ];
    sh.state_commit
        .save_claiming(&sh.state, number, Durability::Synced, claims, |p| {
            p.target = Some(target.clone());
            p.drop = Some(drop_rel.clone());
        })
        .await
        .map_err(|e| sh.state_error(e))?;
    sh.fs
        .write(&target_path, text.as_bytes())
        .map_err(|e| format!("failed to write `{target_rel}`: {e}"))?;
    sh.kb
        .write()
        .expect("kb lock")
        .upsert_written(target.clone(), text, Some(number));
    sh.fault("write", number);

    // 4. Drop. A drop left by an interrupted attempt is replaced, not doubled.
    sh.reporter.event(Event::Step {
        part: number,
        step: "drop",
    });
    if let Some(old) = old_drop {
        sh.remove_if_ours(&old);
    }
    sh.fs
        .write(sh.root.join(&drop_rel), drop_text.as_bytes())
        .map_err(|e| format!("failed to write `{drop_rel}`: {e}"))?;
    sh.fault("drop", number);

    // 5. Mark: a file that passes the check is ticked in the plan; one
    // that does not is recorded as needing review and left unticked.
    sh.reporter.event(Event::Step {
        part: number,
        step: "mark",
    });
    let done = verdict.passes();
    if done {
        tick(sh, number, &stamp)?;
        tracing::info!("PART {number}: done: `{target_rel}` ({lines} lines), ticked in the plan");
    } else {
        tracing::info!(
            "PART {number}: not ticked, needs review: {}",
            verdict.failures().join("; ")
        );
    }
    sh.fault("mark", number);
    let duration_ms = started.elapsed().as_millis() as u64;
    let (verified, fabricated) = verdict.verified_and_fabricated();
    let problems = verdict.failures();
    let seen: Vec<String> = seen_urls.into_iter().collect();
    // Before the PART is recorded done: review checks quotes against them.
    crate::run::state::save_pages(&sh.fs, &sh.plan.slug, number, &pages).map_err(|e| {
        format!(
            "failed to write `{}`: {e}",
            crate::run::state::pages_path(&sh.plan.slug, number)
        )
    })?;
    let requests = meter.take();
    sh.save_part(number, Durability::Synced, |p| {
        meter::add(&mut p.requests, requests);
        p.status = if done {
            PartStatus::Done
        } else {
            PartStatus::NeedsReview
        };
        p.error = None;
        p.finished_at = Some(clock::rfc3339(clock::now()));
        p.duration_ms = Some(duration_ms);
        p.target_lines = Some(lines);
        p.provider = Some(sh.writer.name().to_string());
        p.model = Some(written.model);
        p.usage = written.usage;
        p.cost = cost;
        p.sources = read;
        p.seen_urls = Some(seen);
        p.must_cite = must_cite;
        p.problems = problems.clone();
        p.verified = verified;
        p.fabricated = fabricated;
        p.accepted_at = None;
    })
    .await?;
    Ok(Outcome {
        part: number,
        ok: true,
        needs_review: !done,
        error: None,
        target: Some(target),
        lines,
        attempts: 1,
        duration_ms,
        setup_hint: None,
        permanent: false,
        unreachable: false,
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

    /// The quality check of `text`, written for the PART whose target is
    /// `target`: knowledge citations resolve against the base as this run
    /// knows it, URLs against what research retrieved.
    /// Whether PART `number` may see the file PART `by` wrote in this run:
    /// when `by` ran in an earlier batch, or `number` depends on it (and so
    /// waited for it). A sibling of the same batch might or might not have
    /// finished: never. In a rolling window an earlier batch might not have
    /// finished either: only what `number` depends on, directly or through
    /// other PARTs, is seen.
    pub fn sees(&self, number: u32, by: u32) -> bool {
        if self.window {
            return self.depends_on(number, by);
        }
        let batch = |n| self.graph.node(n).map(|x| x.batch).unwrap_or(0);
        batch(by) < batch(number)
            || self
                .graph
                .node(number)
                .is_some_and(|x| x.depends_on.contains(&by))
    }

    /// Whether `number` depends on `by`, directly or not.
    fn depends_on(&self, number: u32, by: u32) -> bool {
        let mut seen = std::collections::HashSet::new();
        let mut stack = vec![number];
        while let Some(n) = stack.pop() {
            let Some(node) = self.graph.node(n) else {
                continue;
            };
            for &d in &node.depends_on {
                if d == by {
                    return true;
                }
                if seen.insert(d) {
                    stack.push(d);
                }
            }
        }
        false
    }

    fn judge(
        &self,
        number: u32,
        target: &str,
        planned: &[&str],
        expected: Option<u32>,
        text: &str,
        retrieved: Retrieved,
    ) -> crate::quality::Verdict {
        let Retrieved {
            urls,
            pages,
            must_cite,
        } = retrieved;
        let kb = self.kb.read().expect("kb lock");
        // What this PART could see: the base, and files of this run only
        // from the PARTs it depends on (as the knowledge step gave them).
        let knowledge = |p: &str| {
            kb.resolve(p)
                .filter(|f| f.written_by.map_or(true, |by| self.sees(number, by)))
                .map(|f| (f.path.clone(), std::sync::Arc::from(f.text())))
        };
        crate::quality::check(
            planned,
            expected,
            text,
            &crate::quality::Context {
                target,
                knowledge: &knowledge,
                seen_urls: Some(urls),
                pages: Some(&|u: &str| pages.get(u).map(|t| std::sync::Arc::from(t.as_str()))),
                must_cite,
            },
        )
    }

    /// A workspace path as shown and as state records it.
    fn rel(&self, p: &std::path::Path) -> String {
        crate::fsutil::rel_str(&self.root, p)
    }

    fn state_error(&self, e: std::io::Error) -> String {
        format!(
            "failed to save run state to `{}`: {e}",
            self.rel(self.state_commit.path())
        )
    }

    /// Refuse to write over workspace-relative `rel` when something is
    /// there whose bytes expand did not write (unless `--force`). A refusal
    /// cannot change on a retry.
    fn refuse_foreign(&self, rel: &str) -> Result<(), PartError> {
        let meta = match self.fs.symlink_metadata(rel) {
            Ok(m) => m,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(PartError::permanent(format!("cannot write `{rel}`: {e}"))),
        };
        if !meta.is_file() {
            return Err(PartError::permanent(format!(
                "`{rel}` exists already and is not a plain file; not writing over it"
            )));
        }
        if self.force {
            return Ok(());
        }
        let bytes = self
            .fs
            .read(rel)
            .map_err(|e| PartError::permanent(format!("`{rel}`: {e}")))?;
        if self.state.lock().expect("state lock").owns(rel, &bytes) {
            return Ok(());
        }
        Err(PartError::permanent(format!(
            "`{rel}` exists already and is not a file expand wrote; not overwriting \
             (pass --force to replace it, or point the PART at a new file)"
        )))
    }

    /// Remove workspace-relative `rel` when its bytes are ones expand wrote.
    fn remove_if_ours(&self, rel: &str) {
        if let Ok(bytes) = self.fs.read(rel) {
            if self.state.lock().expect("state lock").owns(rel, &bytes) {
                let _ = self.fs.remove_file(rel);
            }
        }
    }

    /// Choose this attempt's drop path and reserve it in the state (in
    /// memory, under the state lock, so PARTs running at once never pick the
    /// same one): the plan's drop name, else with `-part<N>` (and a count)
    /// when another PART has that name or a file not expand's is there.
    /// Returns it with the drop of an interrupted attempt to replace.
    fn reserve_drop(
        &self,
        number: u32,
        part: &plan::Part,
        date: &str,
        hhmm: &str,
    ) -> Result<(String, Option<String>), PartError> {
        let dir = self.drops_dir.join(&self.plan.slug);
        let base = steps::drop::file_name(part, date, hhmm);
        let stem = base.trim_end_matches(".md");
        let mut st = self.state.lock().expect("state lock");
        let old = st.part(number).and_then(|p| p.drop.clone());
        let candidates = std::iter::once(base.clone())
            .chain(std::iter::once(format!("{stem}-part{number}.md")))
            .chain((2..1000).map(|k| format!("{stem}-part{number}-{k}.md")));
        for name in candidates {
            let rel = self.rel(&dir.join(&name));
            let other_part = st
                .parts
                .iter()
                .any(|(n, p)| *n != number && p.drop.as_deref() == Some(rel.as_str()));
            if other_part {
                continue;
            }
            let free = match self.fs.read_opt(&rel) {
                Ok(None) => true,
                Ok(Some(bytes)) => old.as_deref() == Some(rel.as_str()) && st.owns(&rel, &bytes),
                Err(_) => false,
            };
            if free {
                st.part_mut(number).drop = Some(rel.clone());
                let old = old.filter(|o| *o != rel);
                return Ok((rel, old));
            }
        }
        Err(PartError::permanent(format!(
            "no free name for PART {number}'s drop in `{}`",
            self.rel(&dir)
        )))
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
    // The edit is made again when someone else writes the plan meanwhile:
    // the last tick made is the one on disk.
    let mut last: Option<Ticked> = None;
    let mut late = sh.plan_late.lock().expect("plan late lock");
    sh.fs
        .rewrite(&sh.plan_file, &mut late, |bytes| {
            let t = cache
                .tick(&sh.plan_shown, bytes.to_vec(), number, stamp)
                .map_err(std::io::Error::other)?;
            let out = t.as_ref().map(|t| t.bytes.clone());
            last = t;
            Ok(out)
        })
        .map_err(|e| format!("failed to tick `{}`: {e}", sh.plan_shown))?;
    if let Some(t) = last {
        cache.wrote(t);
    }
    // Lines someone appended to an earlier version meanwhile.
    late.sweep(&sh.fs, &sh.plan_file).map_err(|e| {
        format!(
            "failed to carry over lines added to `{}`: {e}",
            sh.plan_shown
        )
    })?;
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
