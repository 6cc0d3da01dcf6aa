//! Run progress behind one trait: indicatif bars when stderr is a terminal,
//! plain log lines otherwise, or JSON events on stdout (`--json`).

use std::io::Write;
use std::sync::Mutex;
use std::time::Duration;

use indicatif::{MultiProgress, ProgressBar, ProgressStyle};
use serde_json::json;

#[derive(Clone, Debug)]
pub enum Event {
    BatchStarted {
        batch: u32,
        parts: Vec<u32>,
    },
    PartStarted {
        part: u32,
        title: String,
        attempt: u32,
    },
    Step {
        part: u32,
        step: &'static str,
    },
    /// The PART's file is written: done, or (with `problems`) needing review.
    PartDone {
        part: u32,
        target: String,
        lines: usize,
        duration_ms: u64,
        problems: Vec<String>,
    },
    PartFailed {
        part: u32,
        error: String,
        will_retry: bool,
    },
    BatchDone {
        batch: u32,
        done: usize,
        needs_review: usize,
        failed: usize,
        wall_ms: u64,
    },
}

pub trait Reporter: Send + Sync {
    fn event(&self, e: Event);
    fn finish(&self) {}
}

/// One JSON object per line on stdout.
pub struct JsonReporter;

impl Reporter for JsonReporter {
    fn event(&self, e: Event) {
        let v = match e {
            Event::BatchStarted { batch, parts } => {
                json!({"event": "batch_started", "batch": batch, "parts": parts})
            }
            Event::PartStarted {
                part,
                title,
                attempt,
            } => json!({"event": "part_started", "part": part, "title": title, "attempt": attempt}),
            Event::Step { part, step } => json!({"event": "step", "part": part, "step": step}),
            Event::PartDone {
                part,
                target,
                lines,
                duration_ms,
                problems,
            } => {
                let status = if problems.is_empty() {
                    "done"
                } else {
                    "needs-review"
                };
                json!({"event": "part_done", "part": part, "status": status, "target": target, "lines": lines, "duration_ms": duration_ms, "problems": problems})
            }
            Event::PartFailed {
                part,
                error,
                will_retry,
            } => {
                json!({"event": "part_failed", "part": part, "error": error, "will_retry": will_retry})
            }
            Event::BatchDone {
                batch,
                done,
                needs_review,
                failed,
                wall_ms,
            } => {
                json!({"event": "batch_done", "batch": batch, "done": done, "needs_review": needs_review, "failed": failed, "wall_ms": wall_ms})
            }
        };
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "{v}");
        let _ = out.flush();
    }
}

/// Plain lines on stderr (not a terminal, or bars not wanted).
pub struct LogReporter {
    pub quiet: bool,
}

impl Reporter for LogReporter {
    fn event(&self, e: Event) {
        if self.quiet {
            return;
        }
        let line = match e {
            Event::BatchStarted { batch, parts } => {
                format!("batch {batch}: starting PARTs {}", join(&parts))
            }
            Event::PartStarted {
                part,
                title,
                attempt,
            } if attempt > 1 => format!("PART {part}: retry (attempt {attempt}): {title}"),
            Event::PartStarted { part, title, .. } => format!("PART {part}: started: {title}"),
            Event::Step { .. } => return,
            Event::PartDone {
                part,
                target,
                lines,
                duration_ms,
                problems,
            } if problems.is_empty() => format!(
                "PART {part}: done: {target} ({lines} lines, {:.1} s)",
                duration_ms as f64 / 1000.0
            ),
            Event::PartDone {
                part,
                target,
                lines,
                problems,
                ..
            } => format!(
                "PART {part}: needs review: {target} ({lines} lines): {}",
                problems.join("; ")
            ),
            Event::PartFailed {
                part,
                error,
                will_retry,
            } => format!(
                "PART {part}: failed{}: {error}",
                if will_retry { ", will retry" } else { "" }
            ),
            Event::BatchDone {
                batch,
                done,
                needs_review,
                failed,
                wall_ms,
            } => format!(
                "batch {batch}: {done} done, {needs_review} need review, {failed} failed in {:.1} s",
                wall_ms as f64 / 1000.0
            ),
        };
        eprintln!("{line}");
    }
}

/// A spinner per running PART (PART, step, elapsed) and an overall bar.
pub struct BarReporter {
    multi: MultiProgress,
    overall: ProgressBar,
    bars: Mutex<std::collections::BTreeMap<u32, ProgressBar>>,
}

impl BarReporter {
    pub fn new(total_parts: u64) -> Self {
        let multi = MultiProgress::new();
        let overall = multi.add(ProgressBar::new(total_parts));
        overall.set_style(
            ProgressStyle::with_template("{bar:30.cyan/blue} {pos}/{len} PARTs  {elapsed}")
                .expect("valid template"),
        );
        BarReporter {
            multi,
            overall,
            bars: Mutex::new(Default::default()),
        }
    }
}

impl Reporter for BarReporter {
    fn event(&self, e: Event) {
        let mut bars = self.bars.lock().expect("bars lock");
        match e {
            Event::PartStarted {
                part,
                title,
                attempt,
            } => {
                let b = self
                    .multi
                    .insert_before(&self.overall, ProgressBar::new_spinner());
                b.set_style(
                    ProgressStyle::with_template("{spinner} PART {prefix:>3} {msg} {elapsed}")
                        .expect("valid template"),
                );
                b.set_prefix(part.to_string());
                let retry = if attempt > 1 {
                    format!(" (attempt {attempt})")
                } else {
                    String::new()
                };
                b.set_message(format!("{title}{retry}: starting"));
                b.enable_steady_tick(Duration::from_millis(120));
                bars.insert(part, b);
            }
            Event::Step { part, step } => {
                if let Some(b) = bars.get(&part) {
                    let m = b.message();
                    let head = m.rsplit_once(": ").map(|(h, _)| h.to_string()).unwrap_or(m);
                    b.set_message(format!("{head}: {step}"));
                }
            }
            Event::PartDone {
                part,
                target,
                lines,
                problems,
                ..
            } => {
                if let Some(b) = bars.remove(&part) {
                    b.finish_and_clear();
                }
                let mark = if problems.is_empty() { "✓" } else { "⚠" };
                let note = if problems.is_empty() {
                    ""
                } else {
                    ", needs review"
                };
                let _ = self
                    .multi
                    .println(format!("{mark} PART {part} {target} ({lines} lines{note})"));
                self.overall.inc(1);
            }
            Event::PartFailed {
                part,
                error,
                will_retry,
            } => {
                if let Some(b) = bars.remove(&part) {
                    b.finish_and_clear();
                }
                let _ = self.multi.println(format!(
                    "✗ PART {part} {error}{}",
                    if will_retry { " (retrying)" } else { "" }
                ));
                if !will_retry {
                    self.overall.inc(1);
                }
            }
            Event::BatchStarted { batch, .. } => {
                let _ = self.multi.println(format!("batch {batch}"));
            }
            Event::BatchDone { .. } => {}
        }
    }

    fn finish(&self) {
        self.overall.finish_and_clear();
    }
}

fn join(v: &[u32]) -> String {
    crate::report::numbers(v)
}
