//! Output: logging setup, colors, and printers for diagnostics (text, JSON,
//! GitHub workflow commands). stdout carries results; stderr logs and progress.

pub mod printer;

use std::io::{IsTerminal, Write};

use crate::cli::ColorChoice;

/// Logs go to stderr. `-v` info, `-vv` debug, `-vvv` trace; `EXPAND_LOG` overrides.
pub fn init_logging(verbose: u8, quiet: bool, color: ColorChoice) {
    let level = if quiet {
        "error"
    } else {
        match verbose {
            0 => "warn",
            1 => "info",
            2 => "debug",
            _ => "trace",
        }
    };
    let filter = tracing_subscriber::EnvFilter::try_from_env("EXPAND_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(format!("expand={level},warn")));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(LogWriter)
        .with_ansi(use_color(color, true))
        .with_target(false)
        .without_time()
        .try_init();
}

/// The progress bars being drawn, if any: logs are printed through them.
static BARS: std::sync::RwLock<Option<indicatif::MultiProgress>> = std::sync::RwLock::new(None);

/// Print logs through `bars` from now on (`None`: straight to stderr), so a
/// warning never lands in the middle of a bar or leaves a stale one behind.
pub fn log_through(bars: Option<indicatif::MultiProgress>) {
    *BARS.write().unwrap_or_else(|e| e.into_inner()) = bars;
}

/// Where the log lines go: stderr, above the progress bars while they are
/// drawn. tracing's formatter writes each event whole into one writer,
/// which prints it when dropped.
pub struct LogWriter;

pub struct LogLine(Vec<u8>);

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for LogWriter {
    type Writer = LogLine;
    fn make_writer(&'a self) -> LogLine {
        LogLine(Vec::new())
    }
}

impl std::io::Write for LogLine {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Drop for LogLine {
    fn drop(&mut self) {
        if self.0.is_empty() {
            return;
        }
        match &*BARS.read().unwrap_or_else(|e| e.into_inner()) {
            // Drawn where the bars are, above them.
            Some(bars) => {
                let text = String::from_utf8_lossy(&self.0);
                let _ = bars.println(text.strip_suffix('\n').unwrap_or(&text));
            }
            None => {
                let mut err = std::io::stderr().lock();
                let _ = err.write_all(&self.0);
                let _ = err.flush();
            }
        }
    }
}

/// A PART as every progress line and summary row names it: the number
/// right-aligned in three columns, so rows line up up to PART 999.
pub fn part_label(n: u32) -> String {
    format!("PART {n:>3}")
}

/// Whether to color a stream (`stderr` true for stderr).
pub fn use_color(choice: ColorChoice, stderr: bool) -> bool {
    match choice {
        ColorChoice::Always => true,
        ColorChoice::Never => false,
        ColorChoice::Auto => {
            std::env::var_os("NO_COLOR")
                .map(|v| v.is_empty())
                .unwrap_or(true)
                && if stderr {
                    std::io::stderr().is_terminal()
                } else {
                    std::io::stdout().is_terminal()
                }
        }
    }
}

/// Minimal ANSI styling that disappears when colors are off.
#[derive(Clone, Copy)]
pub struct Style {
    pub on: bool,
}

impl Style {
    fn wrap(&self, code: &str, s: &str) -> String {
        if self.on {
            format!("\x1b[{code}m{s}\x1b[0m")
        } else {
            s.to_string()
        }
    }
    pub fn red(&self, s: &str) -> String {
        self.wrap("1;31", s)
    }
    pub fn yellow(&self, s: &str) -> String {
        self.wrap("1;33", s)
    }
    pub fn green(&self, s: &str) -> String {
        self.wrap("1;32", s)
    }
    pub fn dim(&self, s: &str) -> String {
        self.wrap("2", s)
    }
    pub fn bold(&self, s: &str) -> String {
        self.wrap("1", s)
    }
    pub fn cyan(&self, s: &str) -> String {
        self.wrap("36", s)
    }
}
pub mod progress;

/// PART (or batch) numbers as people read them in a message: `1, 3, 4`.
pub fn numbers<'a>(ns: impl IntoIterator<Item = &'a u32>) -> String {
    ns.into_iter()
        .map(u32::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

/// The name of `names` nearest to `typed`, when one is near enough to be
/// what was meant (Jaro-Winkler, as cargo and clap suggest).
pub fn nearest<'a>(typed: &str, names: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    // Jaro-Winkler misses a swap in a short name (`cgo`); an edit
    // distance of a third of the name catches it.
    let typed = typed.to_lowercase();
    names
        .into_iter()
        .filter_map(|n| {
            let lower = n.to_lowercase();
            let edits = strsim::damerau_levenshtein(&typed, &lower);
            let jw = strsim::jaro_winkler(&typed, &lower);
            let near = jw > 0.85 || edits <= (typed.chars().count() / 3).max(1);
            near.then_some((edits, std::cmp::Reverse((jw * 1e6) as u64), n))
        })
        .min()
        .map(|(_, _, n)| n)
}

/// Numbers as ranges: `1–3, 5, 7–9` (sorted, duplicates once).
pub fn ranges(ns: &[u32]) -> String {
    let mut v = ns.to_vec();
    v.sort_unstable();
    v.dedup();
    let mut out: Vec<String> = Vec::new();
    let mut i = 0;
    while i < v.len() {
        let mut j = i;
        while j + 1 < v.len() && v[j + 1] == v[j] + 1 {
            j += 1;
        }
        out.push(match j - i {
            0 => v[i].to_string(),
            1 => format!("{}, {}", v[i], v[j]),
            _ => format!("{}–{}", v[i], v[j]),
        });
        i = j + 1;
    }
    out.join(", ")
}

/// At most `max` names, then "and N more".
pub fn list_some(names: &[String], max: usize) -> String {
    let shown: Vec<String> = names.iter().take(max).map(|n| format!("`{n}`")).collect();
    match names.len().saturating_sub(max) {
        0 => shown.join(", "),
        more => format!("{}, and {more} more", shown.join(", ")),
    }
}

#[cfg(test)]
mod nearest_tests {
    #[test]
    fn the_nearest_name_is_suggested_only_when_near() {
        let names = ["garden", "rust-cli", "seed000"];
        assert_eq!(super::nearest("gardn", names), Some("garden"));
        assert_eq!(
            super::nearest("batch_sise", ["batch_size", "retries"]),
            Some("batch_size")
        );
        assert_eq!(super::nearest("cgo", ["cog", "rust-cli"]), Some("cog"));
        assert_eq!(super::nearest("zzz", names), None);
    }

    #[test]
    fn numbers_read_as_ranges() {
        assert_eq!(super::ranges(&[8, 1, 2, 3, 5, 7, 3]), "1–3, 5, 7, 8");
        assert_eq!(super::ranges(&(1..=60).collect::<Vec<_>>()), "1–60");
        assert_eq!(super::ranges(&[4]), "4");
    }
}
