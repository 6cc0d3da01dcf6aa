//! Batches: which PARTs to run, at most `batch_size` at once (a semaphore),
//! dependencies inside a batch first, a failure never stopping the others.
//! Once the budget is reached no PART starts; the ones running finish.
//! When the run is stopped (a signal), no PART starts, and dropping the
//! batch's future aborts the PARTs running.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Instant;

use tokio::sync::{watch, Semaphore};

use super::runner::{run_part, Outcome, Shared};
use crate::graph::Batch;
use crate::report::progress::Event;

#[derive(Clone, Debug)]
pub struct BatchResult {
    pub batch: u32,
    /// The rolling window's result (`batch` is its first batch).
    pub window: bool,
    /// The PARTs that ran, by number.
    pub outcomes: Vec<Outcome>,
    /// PARTs not started because the budget was reached; they stay pending.
    pub not_started: Vec<u32>,
    pub wall_ms: u64,
}

/// Aborts the tasks when dropped.
struct AbortOnDrop(Vec<tokio::task::AbortHandle>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        for h in &self.0 {
            h.abort();
        }
    }
}

/// Run `parts` (a subset of `batch`, in the batch's start order).
pub async fn run_batch(
    sh: Arc<Shared>,
    batch: &Batch,
    parts: &[u32],
    batch_size: usize,
) -> BatchResult {
    let started = Instant::now();
    sh.reporter.event(Event::BatchStarted {
        batch: batch.number,
        parts: parts.to_vec(),
        window: sh.window,
    });
    let sem = Arc::new(Semaphore::new(batch_size.max(1)));
    // Each PART announces its end on a watch channel; dependents in the batch wait on it.
    let mut done_tx: BTreeMap<u32, watch::Sender<bool>> = BTreeMap::new();
    let mut done_rx: BTreeMap<u32, watch::Receiver<bool>> = BTreeMap::new();
    for &p in parts {
        let (tx, rx) = watch::channel(false);
        done_tx.insert(p, tx);
        done_rx.insert(p, rx);
    }
    let mut handles = Vec::with_capacity(parts.len());
    for &p in parts {
        let deps: Vec<watch::Receiver<bool>> = sh
            .graph
            .node(p)
            .map(|n| {
                n.depends_on
                    .iter()
                    .filter_map(|d| done_rx.get(d).cloned())
                    .collect()
            })
            .unwrap_or_default();
        let tx = done_tx.remove(&p).expect("one sender per PART");
        // A PART that waits for nothing takes its slot here, in start order: the
        // runtime polls new tasks in no set order, and which PARTs run first (and
        // which stay pending when the budget runs out) must not depend on it.
        let ready = if deps.is_empty() {
            Some(Arc::clone(&sem).acquire_owned().await)
        } else {
            None
        };
        let sem = Arc::clone(&sem);
        let sh = Arc::clone(&sh);
        handles.push(tokio::spawn(async move {
            for mut rx in deps {
                let _ = rx.wait_for(|d| *d).await;
            }
            let permit = match ready {
                Some(p) => p,
                None => sem.acquire_owned().await,
            }
            .expect("semaphore never closes");
            // Checked at the last moment: a PART that just finished may have
            // spent it, or the run was stopped.
            let stopped = sh.stop.load(std::sync::atomic::Ordering::SeqCst);
            let out = match sh.budget.exhausted() {
                Some(_) => None,
                None if stopped => None,
                None => Some(run_part(sh, p).await),
            };
            drop(permit);
            let _ = tx.send(true);
            out
        }));
    }
    // Cancelled (the run was stopped): the PARTs' tasks go with it.
    let _abort = AbortOnDrop(handles.iter().map(|h| h.abort_handle()).collect());
    let mut outcomes = Vec::with_capacity(handles.len());
    let mut not_started = Vec::new();
    for (h, &p) in handles.into_iter().zip(parts) {
        match h.await {
            Ok(Some(o)) => outcomes.push(o),
            Ok(None) => not_started.push(p),
            Err(e) => outcomes.push(Outcome {
                part: p,
                ok: false,
                needs_review: false,
                error: Some(format!("runner crashed: {e}")),
                target: None,
                lines: 0,
                attempts: 1,
                duration_ms: 0,
                setup_hint: None,
                permanent: false,
                unreachable: false,
            }),
        }
    }
    outcomes.sort_by_key(|o| o.part);
    not_started.sort_unstable();
    let wall_ms = started.elapsed().as_millis() as u64;
    let failed = outcomes.iter().filter(|o| !o.ok).count();
    let needs_review = outcomes.iter().filter(|o| o.needs_review).count();
    sh.reporter.event(Event::BatchDone {
        batch: batch.number,
        done: outcomes.len() - failed - needs_review,
        needs_review,
        failed,
        wall_ms,
        window: sh.window,
    });
    BatchResult {
        batch: batch.number,
        window: sh.window,
        outcomes,
        not_started,
        wall_ms,
    }
}
