//! Run progress behind one trait: indicatif bars when stderr is a terminal,
//! plain log lines otherwise, or JSON events on stdout (`--json`).

use std::io::Write;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde_json::json;

#[derive(Clone, Debug)]
pub enum Event {
    /// The run is about to start: `parts` PARTs from a plan of `batches` batches.
    RunStarted {
        batches: u32,
        parts: usize,
    },
    /// A batch starts, or with `window` the rolling window that runs
    /// every remaining batch (`batch` is then the first of them).
    BatchStarted {
        batch: u32,
        parts: Vec<u32>,
        window: bool,
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
        window: bool,
    },
}

/// How a line names what started or ended: `batch 2`, or `window` for a
/// rolling window (it runs several of the plan's batches as one, and
/// `review batch 1` would show only the first of them).
pub fn unit(batch: u32, window: bool) -> String {
    if window {
        "window".to_string()
    } else {
        format!("batch {batch}")
    }
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
            // The NDJSON stream starts with the first batch, as it always has.
            Event::RunStarted { .. } => return,
            Event::BatchStarted {
                batch,
                parts,
                window,
            } => {
                let mut v = json!({"event": "batch_started", "batch": batch, "parts": parts});
                if window {
                    v["window"] = json!(true);
                }
                v
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
                window,
            } => {
                let mut v = json!({"event": "batch_done", "batch": batch, "done": done, "needs_review": needs_review, "failed": failed, "wall_ms": wall_ms});
                if window {
                    v["window"] = json!(true);
                }
                v
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
            Event::RunStarted { .. } => return,
            Event::BatchStarted {
                batch,
                parts,
                window,
            } => {
                format!("{}: starting PARTs {}", unit(batch, window), join(&parts))
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
                window,
            } => format!(
                "{}: {done} done, {needs_review} need review, {failed} failed in {:.1} s",
                unit(batch, window),
                wall_ms as f64 / 1000.0
            ),
        };
        eprintln!("{line}");
    }
}

/// A line per running PART (its step and elapsed time) above one overall
/// bar that the finished PARTs fold into: batch k/N, done / failed / needs
/// review, elapsed and ETA. Failures print above the bars; so do logs, as
/// long as the bars are drawn (see [`crate::report::LogWriter`]).
pub struct BarReporter {
    multi: MultiProgress,
    overall: ProgressBar,
    bars: Mutex<Bars>,
    counts: Arc<Counts>,
}

#[derive(Default)]
struct Bars {
    running: std::collections::BTreeMap<u32, ProgressBar>,
    batches: u32,
}

/// The finished PARTs by outcome, read by the overall bar as it draws: the
/// counts and the position never show two different moments.
#[derive(Default)]
struct Counts {
    done: AtomicUsize,
    failed: AtomicUsize,
    needs_review: AtomicUsize,
}

/// The overall bar's style: `template` with `{counts}` read from `counts`.
fn overall_style(template: &str, counts: &Arc<Counts>) -> ProgressStyle {
    let c = Arc::clone(counts);
    ProgressStyle::with_template(template)
        .expect("valid template")
        .with_key(
            "counts",
            move |_: &indicatif::ProgressState, w: &mut dyn std::fmt::Write| {
                let _ = write!(
                    w,
                    "{} done · {} failed · {} need review",
                    c.done.load(Ordering::SeqCst),
                    c.failed.load(Ordering::SeqCst),
                    c.needs_review.load(Ordering::SeqCst)
                );
            },
        )
}

const OVERALL: &str =
    "{spinner:.cyan} {prefix} [{bar:24.cyan/blue}] {pos}/{len} PARTs · {counts} · {elapsed} · ETA {eta}";
const OVERALL_DONE: &str = "{prefix} [{bar:24.cyan/blue}] {pos}/{len} PARTs · {counts} · {elapsed}";
const PART_LINE: &str = "{spinner} {prefix} {wide_msg} {elapsed:>4}";

impl BarReporter {
    /// Bars on stderr (a terminal).
    pub fn new() -> Self {
        Self::with_target(ProgressDrawTarget::stderr())
    }

    /// Bars drawn on `target`: a terminal, or (tests, `EXPAND_PROGRESS=tty`)
    /// an [`AnsiTerm`].
    pub fn with_target(target: ProgressDrawTarget) -> Self {
        let multi = MultiProgress::with_draw_target(target);
        let overall = multi.add(ProgressBar::new(0));
        let counts = Arc::new(Counts::default());
        overall.set_style(overall_style(OVERALL, &counts));
        crate::report::log_through(Some(multi.clone()));
        BarReporter {
            multi,
            overall,
            bars: Mutex::new(Bars::default()),
            counts,
        }
    }

    fn line(&self, s: String) {
        let _ = self.multi.println(s);
    }
}

impl Default for BarReporter {
    fn default() -> Self {
        Self::new()
    }
}

impl Reporter for BarReporter {
    fn event(&self, e: Event) {
        let mut bars = self.bars.lock().expect("bars lock");
        match e {
            Event::RunStarted { batches, parts } => {
                bars.batches = batches;
                self.overall.set_length(parts as u64);
                self.overall.reset_elapsed();
                self.overall.reset_eta();
                // The clock runs on while no PART finishes.
                self.overall.enable_steady_tick(Duration::from_millis(120));
            }
            Event::BatchStarted { window: true, .. } => {
                self.overall.set_prefix("window");
            }
            Event::BatchStarted { batch, .. } => {
                self.overall
                    .set_prefix(format!("batch {batch}/{}", bars.batches.max(batch)));
            }
            Event::PartStarted {
                part,
                title,
                attempt,
            } => {
                let b = self
                    .multi
                    .insert_before(&self.overall, ProgressBar::new_spinner());
                b.set_style(ProgressStyle::with_template(PART_LINE).expect("valid template"));
                b.set_prefix(crate::report::part_label(part));
                let retry = if attempt > 1 {
                    format!(" (attempt {attempt})")
                } else {
                    String::new()
                };
                b.set_message(format!("{title}{retry} · starting"));
                b.enable_steady_tick(Duration::from_millis(120));
                if let Some(old) = bars.running.insert(part, b) {
                    self.fold(&old);
                }
            }
            Event::Step { part, step } => {
                if let Some(b) = bars.running.get(&part) {
                    let m = b.message();
                    let head = m
                        .rsplit_once(" · ")
                        .map(|(h, _)| h.to_string())
                        .unwrap_or(m);
                    b.set_message(format!("{head} · {step}"));
                }
            }
            Event::PartDone { part, problems, .. } => {
                if let Some(b) = bars.running.remove(&part) {
                    self.fold(&b);
                }
                let c = &self.counts;
                match problems.is_empty() {
                    true => c.done.fetch_add(1, Ordering::SeqCst),
                    false => c.needs_review.fetch_add(1, Ordering::SeqCst),
                };
                self.overall.inc(1);
            }
            Event::PartFailed {
                part,
                error,
                will_retry,
            } => {
                if let Some(b) = bars.running.remove(&part) {
                    self.fold(&b);
                }
                let label = crate::report::part_label(part);
                if will_retry {
                    self.line(format!("✗ {label} failed, will retry: {error}"));
                } else {
                    self.line(format!("✗ {label} failed: {error}"));
                    self.counts.failed.fetch_add(1, Ordering::SeqCst);
                    self.overall.inc(1);
                }
            }
            Event::BatchDone { .. } => {}
        }
    }

    fn finish(&self) {
        let mut bars = self.bars.lock().expect("bars lock");
        for (_, b) in std::mem::take(&mut bars.running) {
            self.fold(&b);
        }
        self.overall.disable_steady_tick();
        self.overall
            .set_style(overall_style(OVERALL_DONE, &self.counts));
        self.overall.finish();
        crate::report::log_through(None);
    }
}

impl BarReporter {
    /// A finished PART's line goes: cleared and taken out of the
    /// `MultiProgress`, so no later redraw (a log line, a warning) can
    /// bring it back.
    fn fold(&self, b: &ProgressBar) {
        b.disable_steady_tick();
        b.finish_and_clear();
        self.multi.remove(b);
    }
}

/// A terminal seen through ANSI escapes written to any stream: how
/// `EXPAND_PROGRESS=tty` draws the bars on a stderr that is not a terminal,
/// so tests can replay what a terminal would show.
pub struct AnsiTerm<W> {
    out: Mutex<W>,
    width: u16,
}

impl<W: Write + Send> AnsiTerm<W> {
    pub fn new(out: W, width: u16) -> Self {
        AnsiTerm {
            out: Mutex::new(out),
            width,
        }
    }

    fn put(&self, s: &str) -> std::io::Result<()> {
        self.out.lock().expect("term lock").write_all(s.as_bytes())
    }

    /// Move the cursor `n` cells in direction `dir` (`A` up, `B` down, `C`
    /// right, `D` left); a move of none writes nothing.
    fn cursor(&self, n: usize, dir: char) -> std::io::Result<()> {
        match n {
            0 => Ok(()),
            n => self.put(&format!("\x1b[{n}{dir}")),
        }
    }
}

impl<W> std::fmt::Debug for AnsiTerm<W> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AnsiTerm")
            .field("width", &self.width)
            .finish()
    }
}

impl<W: Write + Send> indicatif::TermLike for AnsiTerm<W> {
    fn width(&self) -> u16 {
        self.width
    }
    fn move_cursor_up(&self, n: usize) -> std::io::Result<()> {
        self.cursor(n, 'A')
    }
    fn move_cursor_down(&self, n: usize) -> std::io::Result<()> {
        self.cursor(n, 'B')
    }
    fn move_cursor_right(&self, n: usize) -> std::io::Result<()> {
        self.cursor(n, 'C')
    }
    fn move_cursor_left(&self, n: usize) -> std::io::Result<()> {
        self.cursor(n, 'D')
    }
    fn write_line(&self, s: &str) -> std::io::Result<()> {
        self.put(&format!("{s}\n"))
    }
    fn write_str(&self, s: &str) -> std::io::Result<()> {
        self.put(s)
    }
    fn clear_line(&self) -> std::io::Result<()> {
        self.put("\r\x1b[2K")
    }
    fn flush(&self) -> std::io::Result<()> {
        self.out.lock().expect("term lock").flush()
    }
}

/// The progress wanted on stderr: `EXPAND_PROGRESS=tty` draws bars even
/// when stderr is not a terminal (as ANSI escapes), `plain` writes lines
/// even on a terminal; otherwise bars exactly when stderr is a terminal.
pub fn bar_reporter_for_stderr() -> Option<BarReporter> {
    use std::io::IsTerminal;
    match std::env::var("EXPAND_PROGRESS").as_deref() {
        Ok("tty") => {
            let width = std::env::var("COLUMNS")
                .ok()
                .and_then(|c| c.parse().ok())
                .unwrap_or(100);
            let term = AnsiTerm::new(std::io::stderr(), width);
            Some(BarReporter::with_target(
                ProgressDrawTarget::term_like_with_hz(Box::new(term), 20),
            ))
        }
        Ok("plain") => None,
        _ => std::io::stderr().is_terminal().then(BarReporter::new),
    }
}

fn join(v: &[u32]) -> String {
    crate::report::numbers(v)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    /// A stream the test reads back: what a terminal would have been sent.
    #[derive(Clone, Default)]
    struct Buf(Arc<Mutex<Vec<u8>>>);

    impl Write for Buf {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    impl Buf {
        fn screen(&self) -> (Vec<String>, Vec<String>) {
            crate::testing::screen(&String::from_utf8_lossy(&self.0.lock().unwrap()))
        }
    }

    fn started(part: u32) -> Event {
        Event::PartStarted {
            part,
            title: format!("Topic {part}"),
            attempt: 1,
        }
    }

    fn done(part: u32, problems: &[&str]) -> Event {
        Event::PartDone {
            part,
            target: format!("t/{part}.md"),
            lines: 10,
            duration_ms: 5,
            problems: problems.iter().map(|p| p.to_string()).collect(),
        }
    }

    /// Long enough for a redraw: the spinners tick every 120 ms.
    fn settle() {
        std::thread::sleep(Duration::from_millis(400));
    }

    #[test]
    fn finished_parts_fold_into_the_overall_bar_and_logs_print_above_it() {
        let buf = Buf::default();
        let target =
            ProgressDrawTarget::term_like_with_hz(Box::new(AnsiTerm::new(buf.clone(), 120)), 20);
        let r = BarReporter::with_target(target);
        r.event(Event::RunStarted {
            batches: 2,
            parts: 4,
        });
        r.event(Event::BatchStarted {
            batch: 1,
            parts: vec![1, 2, 12],
            window: false,
        });
        for p in [1, 2, 12] {
            r.event(started(p));
        }
        r.event(Event::Step {
            part: 1,
            step: "write",
        });
        r.event(Event::Step {
            part: 12,
            step: "research",
        });
        settle();
        let (rows, _) = buf.screen();
        let row = |needle: &str| rows.iter().filter(|l| l.contains(needle)).count();
        // A line per running PART, its number padded as the summary pads
        // it, with its step; then the overall bar.
        assert_eq!(row("PART   1 Topic 1 · write"), 1, "{rows:#?}");
        assert_eq!(row("PART   2 Topic 2 · starting"), 1, "{rows:#?}");
        assert_eq!(row("PART  12 Topic 12 · research"), 1, "{rows:#?}");
        assert!(
            rows.last().unwrap().contains("batch 1/2")
                && rows.last().unwrap().contains("0/4 PARTs")
                && rows
                    .last()
                    .unwrap()
                    .contains("0 done · 0 failed · 0 need review")
                && rows.last().unwrap().contains("ETA"),
            "{rows:#?}"
        );

        r.event(done(1, &[]));
        // A warning while PARTs run: printed above the bars, through them.
        {
            use tracing_subscriber::fmt::MakeWriter;
            let mut w = crate::report::LogWriter.make_writer();
            w.write_all(b"WARN retrying: HTTP 429\n").unwrap();
        }
        r.event(Event::PartFailed {
            part: 2,
            error: "write: HTTP 500".into(),
            will_retry: false,
        });
        settle();
        let (rows, _) = buf.screen();
        let row = |needle: &str| rows.iter().filter(|l| l.contains(needle)).count();
        assert_eq!(
            row("PART   1"),
            0,
            "a finished PART's line stays: {rows:#?}"
        );
        assert_eq!(row("Topic 2"), 0, "a failed PART's line stays: {rows:#?}");
        assert_eq!(row("PART  12 Topic 12 · research"), 1, "{rows:#?}");
        assert_eq!(row("WARN retrying: HTTP 429"), 1, "{rows:#?}");
        assert_eq!(row("✗ PART   2 failed: write: HTTP 500"), 1, "{rows:#?}");
        assert!(
            rows.last().unwrap().contains("2/4 PARTs")
                && rows
                    .last()
                    .unwrap()
                    .contains("1 done · 1 failed · 0 need review"),
            "{rows:#?}"
        );

        r.event(Event::BatchDone {
            batch: 1,
            done: 1,
            needs_review: 0,
            failed: 1,
            wall_ms: 5,
            window: false,
        });
        r.event(Event::BatchStarted {
            batch: 2,
            parts: vec![3],
            window: false,
        });
        r.event(done(12, &[]));
        r.event(started(3));
        r.event(done(3, &["too short"]));
        r.finish();
        let (rows, _) = buf.screen();
        // Only what was printed and the overall bar are left.
        assert_eq!(rows.len(), 3, "{rows:#?}");
        assert_eq!(rows[0], "WARN retrying: HTTP 429");
        assert_eq!(rows[1], "✗ PART   2 failed: write: HTTP 500");
        assert!(
            rows[2].starts_with("batch 2/2 [")
                && rows[2].contains("4/4 PARTs · 2 done · 1 failed · 1 need review"),
            "{rows:#?}"
        );
    }
}
