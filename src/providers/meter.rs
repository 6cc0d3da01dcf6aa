//! Requests that reached a provider over the network, per provider, counted
//! for the PART that sent them. Some providers bill per request (Bright
//! Data), so a PART's drop and `expand status` show how many it sent.
//!
//! The providers are shared by every PART of a run, so the count cannot
//! live in them: a PART runs its steps inside [`Meter::scope`], and `Http`
//! calls [`count`] for each answer it got from the network, which lands in
//! the meter of the task that asked. Answers from the cache are never
//! counted (nothing was sent, nothing billed), nor are failed attempts
//! (providers bill delivered answers).

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::{Arc, Mutex};

tokio::task_local! {
    static METER: Arc<Meter>;
}

/// Requests by provider name (`Request::what`: `brightdata`, `openai`, …).
pub type Requests = BTreeMap<String, u64>;

#[derive(Debug, Default)]
pub struct Meter {
    counts: Mutex<Requests>,
}

impl Meter {
    /// Run `fut` with this meter counting the requests it sends.
    pub async fn scope<F: Future>(self: &Arc<Meter>, fut: F) -> F::Output {
        METER.scope(Arc::clone(self), fut).await
    }

    /// The count so far for `what`.
    pub fn count_of(&self, what: &str) -> u64 {
        let counts = self.counts.lock().expect("meter lock");
        counts.get(what).copied().unwrap_or(0)
    }

    /// The counts so far, leaving the meter at zero.
    pub fn take(&self) -> Requests {
        std::mem::take(&mut *self.counts.lock().expect("meter lock"))
    }
}

/// One answer from the network for `what`, counted in the current task's
/// meter (none outside a PART: nothing to count against).
pub(crate) fn count(what: &str) {
    let _ = METER.try_with(|m| {
        *m.counts
            .lock()
            .expect("meter lock")
            .entry(what.to_string())
            .or_insert(0) += 1;
    });
}

/// Answers from the network counted so far in the current task's meter
/// (0 outside a PART): a step compares two readings to tell an answer sent
/// for from one the cache gave.
pub(crate) fn sent() -> u64 {
    METER
        .try_with(|m| m.counts.lock().expect("meter lock").values().sum())
        .unwrap_or(0)
}

/// `into` plus `more`, provider by provider.
pub fn add(into: &mut Requests, more: Requests) {
    for (k, v) in more {
        *into.entry(k).or_insert(0) += v;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn counts_land_in_the_scope_that_sent_them() {
        let a = Arc::new(Meter::default());
        let b = Arc::new(Meter::default());
        count("outside");
        a.scope(async {
            count("brightdata");
            count("brightdata");
        })
        .await;
        b.scope(async { count("openai") }).await;
        let mut got = a.take();
        assert_eq!(got, Requests::from([("brightdata".to_string(), 2)]));
        assert!(a.take().is_empty(), "take leaves zero");
        add(&mut got, b.take());
        assert_eq!(got.len(), 2);
        assert_eq!(got["openai"], 1);
    }
}
