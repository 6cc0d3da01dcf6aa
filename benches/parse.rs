//! Parse throughput (SPEC §10: within 2x of pulldown-cmark merely iterating
//! the same events). Reads every plan of ../shared/fixtures (or
//! $EXPAND_SHARED/fixtures) and times, per iteration over all of them:
//! (a) pulldown-cmark's offset iterator, (b) `parse_str`, (c) parse +
//! validate + graph::analyze. `cargo bench --bench parse [-- ITERATIONS]`.

use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use expand::plan::encoding::decode;
use expand::plan::parse::parse_str;
use pulldown_cmark::{Options, Parser};

fn main() {
    let shared = std::env::var_os("EXPAND_SHARED")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared"));
    let fixtures = shared.join("fixtures");
    if !fixtures.is_dir() {
        println!(
            "skipped: {} not found (set EXPAND_SHARED)",
            fixtures.display()
        );
        return;
    }
    let mut plans: Vec<(PathBuf, String)> = Vec::new();
    for sub in ["seeds", "real"] {
        let Ok(dir) = std::fs::read_dir(fixtures.join(sub)) else {
            continue;
        };
        for e in dir.flatten() {
            let p = e.path();
            if let Ok(bytes) = std::fs::read(&p) {
                if let Ok(d) = decode(&bytes) {
                    plans.push((p, d.text));
                }
            }
        }
    }
    plans.sort();
    if plans.is_empty() {
        println!("skipped: no plans in {}", fixtures.display());
        return;
    }
    let iters: u32 = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(200);
    let bytes: usize = plans.iter().map(|(_, t)| t.len()).sum();
    println!(
        "{} plans, {:.1} KB, {iters} iterations",
        plans.len(),
        bytes as f64 / 1024.0
    );

    let opts = Options::ENABLE_TABLES | Options::ENABLE_STRIKETHROUGH;
    // EXPAND_BENCH_ONLY=a|blocks|b|c runs one measure (for `perf stat -e
    // instructions`, which a busy machine does not disturb).
    let only = std::env::var("EXPAND_BENCH_ONLY").ok();
    let run = |k: &str| only.as_deref().map_or(true, |o| o == k);
    let skip = Duration::ZERO;
    let a = if !run("a") {
        skip
    } else {
        time(iters, || {
            for (_, t) in &plans {
                let mut n = 0usize;
                for (ev, range) in Parser::new_ext(t, opts).into_offset_iter() {
                    black_box(&ev);
                    n += range.start;
                }
                black_box(n);
            }
        })
    };
    let b1 = if !run("blocks") {
        skip
    } else {
        time(iters, || {
            for (_, t) in &plans {
                black_box(expand::plan::blocks::blocks(t));
            }
        })
    };
    // parse_str takes its text by value: the copies are made before the
    // clock starts, so (b) times the parser and not memcpy.
    let b = if !run("b") {
        skip
    } else {
        time_owned(iters, &plans, |p, t| {
            black_box(parse_str(p, t));
        })
    };
    let c = if !run("c") {
        skip
    } else {
        time(iters, || {
            let mut parsed: Vec<_> = plans
                .iter()
                .map(|(p, t)| {
                    let mut plan = parse_str(p, t.clone());
                    expand::plan::validate::check(&mut plan);
                    plan
                })
                .collect();
            black_box(expand::graph::analyze(&mut parsed, &[], None, 4));
        })
    };
    let mbs = |d: Duration| bytes as f64 * f64::from(iters) / d.as_secs_f64() / 1e6;
    for (name, d) in [
        ("(a) pulldown-cmark events     ", a),
        ("    first pass (blocks) only  ", b1),
        ("(b) parse_str                 ", b),
        ("(c) parse + validate + analyze", c),
    ] {
        if d > skip {
            println!("{name} {:8.1} MB/s", mbs(d));
        }
    }
    if a == skip || b == skip {
        return;
    }
    let ratio = b.as_secs_f64() / a.as_secs_f64();
    println!(
        "ratio b/a = {ratio:.2}x ({})",
        if ratio <= 2.0 {
            "goal ≤ 2x met"
        } else {
            "goal ≤ 2x MISSED"
        }
    );
}

/// Like `time`, for a function that consumes each plan's text.
fn time_owned(
    iters: u32,
    plans: &[(PathBuf, String)],
    mut f: impl FnMut(&Path, String),
) -> Duration {
    let copies = || -> Vec<String> {
        (0..iters)
            .flat_map(|_| plans.iter().map(|(_, t)| t.clone()))
            .collect()
    };
    for t in copies().into_iter().take(plans.len()) {
        f(Path::new("warm-up.md"), t);
    }
    (0..3)
        .map(|_| {
            let texts = copies();
            let paths = plans.iter().map(|(p, _)| p.as_path()).cycle();
            let t = Instant::now();
            for (p, text) in paths.zip(texts) {
                f(p, text);
            }
            t.elapsed()
        })
        .min()
        .expect("three runs")
}

/// Best of three runs of `iters` iterations (a shared machine is noisy).
fn time(iters: u32, mut f: impl FnMut()) -> Duration {
    f(); // warm up
    (0..3)
        .map(|_| {
            let t = Instant::now();
            for _ in 0..iters {
                f();
            }
            t.elapsed()
        })
        .min()
        .expect("three runs")
}
