//! The crash-test hook `EXPAND_FAULT=<step>[:<part>]`: abort the process
//! right after the named step, as a `kill -9` there would, so tests can
//! prove that the next run picks up where the crash left off.
//! `EXPAND_FAULT=error@<step>` makes the step fail with an error instead, for
//! the paths a failure takes (messages, exit codes, undoing half a step).
//!
//! `expand run` names a PART's steps (`knowledge`, `research`, `write`,
//! `drop`, `mark`), optionally for one PART (`write:2`), and only crashes;
//! `expand consolidate` names its own steps (`consolidate-index`,
//! `consolidate-head`, …, listed in `consolidate::FAULTS`). One parser for
//! both, so the two never disagree on what a value means.

use std::sync::OnceLock;

/// Where to crash (or fail): a step, and for a run's steps, optionally one PART.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Fault {
    pub step: String,
    /// `None`: at that step of any PART (or a step that has no PART).
    pub part: Option<u32>,
    /// `error@step`: fail there instead of crashing.
    pub error: bool,
}

impl Fault {
    /// `[error@]step[:part]`; a part that is not a number means any PART.
    pub fn parse(s: &str) -> Option<Fault> {
        let s = s.trim();
        let (error, s) = match s.strip_prefix("error@") {
            Some(rest) => (true, rest),
            None => (false, s),
        };
        if s.is_empty() {
            return None;
        }
        let (step, part) = match s.split_once(':') {
            Some((step, part)) => (step, part.parse().ok()),
            None => (s, None),
        };
        Some(Fault {
            step: step.to_string(),
            part,
            error,
        })
    }

    /// The hook set in this process's environment, read once.
    pub fn from_env() -> Option<&'static Fault> {
        static FAULT: OnceLock<Option<Fault>> = OnceLock::new();
        FAULT
            .get_or_init(|| {
                std::env::var("EXPAND_FAULT")
                    .ok()
                    .and_then(|v| Fault::parse(&v))
            })
            .as_ref()
    }

    pub fn matches(&self, step: &str, part: Option<u32>) -> bool {
        self.step == step && (self.part.is_none() || self.part == part)
    }

    /// Abort when this is the place to crash: no destructors, no flushing.
    pub fn hit(&self, step: &str, part: Option<u32>) {
        if !self.error && self.matches(step, part) {
            std::process::abort();
        }
    }
}

/// The error `EXPAND_FAULT=error@<step>` makes a step fail with.
#[derive(Debug, thiserror::Error)]
#[error("stopped by EXPAND_FAULT at `{0}`")]
pub struct Injected(pub String);

/// At the end of `step` (a step without a PART): abort when `EXPAND_FAULT`
/// names it, fail when it says `error@` it.
pub fn at(step: &str) -> Result<(), Injected> {
    match Fault::from_env() {
        Some(f) if f.error && f.matches(step, None) => Err(Injected(step.to_string())),
        Some(f) => {
            f.hit(step, None);
            Ok(())
        }
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_a_step_with_and_without_a_part() {
        let f = Fault::parse("write:2").unwrap();
        assert!(f.matches("write", Some(2)) && !f.matches("write", Some(3)));
        assert!(!f.matches("drop", Some(2)));
        let f = Fault::parse("consolidate-index").unwrap();
        assert!(f.matches("consolidate-index", None));
        // A part that is not a number: every PART, as before.
        let f = Fault::parse("mark:x").unwrap();
        assert!(f.matches("mark", Some(7)));
        assert_eq!(Fault::parse("  "), None);
        let f = Fault::parse("error@consolidate-head").unwrap();
        assert!(f.error && f.matches("consolidate-head", None));
    }
}
