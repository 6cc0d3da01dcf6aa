//! Parse throughput (SPEC §10: within 2x of pulldown-cmark merely iterating
//! the same events). Reads every plan of ../shared/fixtures (or
//! $EXPAND_SHARED/fixtures) and times, per iteration over all of them:
//! (a) pulldown-cmark's offset iterator, (b) `parse_str`, (c) parse +
//! validate + graph::analyze. `cargo bench --bench parse [-- ITERATIONS]`.
//!
//! Wall time on a shared machine swings by tens of percent. For a figure
//! that does not, count instructions: run the bench binary under
//! `valgrind --tool=cachegrind --cache-sim=no` with `EXPAND_BENCH_ONLY=a`
//! (then `b`) at two iteration counts N1 < N2; the difference of the two
//! totals over `ROUNDS * (N2 - N1)` is the cost of one iteration.

use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use expand::plan::encoding::decode;
use expand::plan::parse::parse_str;
use pulldown_cmark::{Options, Parser};

/// Rounds of timed runs. A round runs every measure once, back to back, so
/// the ratio of (b) to (a) is taken per round, under the same load, and the
/// median of those is reported; throughputs are each measure's best round.
const ROUNDS: usize = 11;

/// Each plan's path and text.
type Plans = [(PathBuf, String)];

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
    // EXPAND_BENCH_ONLY=a|blocks|b|c runs one measure (for instruction
    // counts under valgrind, which a busy machine does not disturb).
    let only = std::env::var("EXPAND_BENCH_ONLY").ok();
    let run = |k: &str| only.as_deref().map_or(true, |o| o == k);
    let a = |plans: &Plans| {
        for (_, t) in plans {
            let mut n = 0usize;
            for (ev, range) in Parser::new_ext(t, opts).into_offset_iter() {
                black_box(&ev);
                n += range.start;
            }
            black_box(n);
        }
    };
    let b1 = |plans: &Plans| {
        for (_, t) in plans {
            black_box(expand::plan::blocks::blocks(t));
        }
    };
    let c = |plans: &Plans| {
        let mut parsed: Vec<_> = plans
            .iter()
            .map(|(p, t)| {
                let mut plan = parse_str(p, t.clone());
                expand::plan::validate::check(&mut plan);
                plan
            })
            .collect();
        black_box(expand::graph::analyze(&mut parsed, &[], None, 4));
    };
    // parse_str takes its text by value: the copies are made before the
    // clock starts, so (b) times the parser and not memcpy.
    let b = |plans: &Plans| {
        let texts: Vec<String> = (0..iters)
            .flat_map(|_| plans.iter().map(|(_, t)| t.clone()))
            .collect();
        let paths = plans.iter().map(|(p, _)| p.as_path()).cycle();
        let t = Instant::now();
        for (p, text) in paths.zip(texts) {
            black_box(parse_str(p, text));
        }
        t.elapsed()
    };
    // Each round runs every measure once, so load on a shared machine that
    // comes and goes falls on all of them alike; each keeps its best round.
    let timed = |f: &dyn Fn(&Plans)| {
        let t = Instant::now();
        for _ in 0..iters {
            f(&plans);
        }
        t.elapsed()
    };
    let [mut a_t, mut b1_t, mut b_t, mut c_t] = [Duration::MAX; 4];
    let mut ratios = Vec::new();
    if run("a") {
        a(&plans); // warm up
    }
    if run("blocks") {
        b1(&plans);
    }
    if run("b") {
        for (p, t) in &plans {
            black_box(parse_str(p, t.clone()));
        }
    }
    if run("c") {
        c(&plans);
    }
    for round in 0..ROUNDS {
        // (a) and (b) take turns going first: neither always runs on the
        // caches and clock the other left.
        let (mut ra, mut rb) = (Duration::MAX, Duration::MAX);
        if run("b") && round % 2 == 1 {
            rb = b(&plans);
        }
        if run("a") {
            ra = timed(&a);
        }
        if run("b") && round % 2 == 0 {
            rb = b(&plans);
        }
        if run("blocks") {
            b1_t = b1_t.min(timed(&b1));
        }
        a_t = a_t.min(ra);
        b_t = b_t.min(rb);
        if ra < Duration::MAX && rb < Duration::MAX {
            ratios.push(rb.as_secs_f64() / ra.as_secs_f64());
        }
        if run("c") {
            c_t = c_t.min(timed(&c));
        }
    }
    let (a, b1, b, c) = (a_t, b1_t, b_t, c_t);
    let skip = Duration::MAX;
    let mbs = |d: Duration| bytes as f64 * f64::from(iters) / d.as_secs_f64() / 1e6;
    for (name, d) in [
        ("(a) pulldown-cmark events     ", a),
        ("    first pass (blocks) only  ", b1),
        ("(b) parse_str                 ", b),
        ("(c) parse + validate + analyze", c),
    ] {
        if d < skip {
            println!("{name} {:8.1} MB/s", mbs(d));
        }
    }
    if ratios.is_empty() {
        return;
    }
    ratios.sort_by(f64::total_cmp);
    let ratio = ratios[ratios.len() / 2];
    println!(
        "ratio b/a = {ratio:.2}x, median of {} rounds [{:.2}x–{:.2}x] ({})",
        ratios.len(),
        ratios[0],
        ratios[ratios.len() - 1],
        if ratio <= 2.0 {
            "goal ≤ 2x met"
        } else {
            "goal ≤ 2x MISSED"
        }
    );
    println!(
        "ROW | parse: `parse_str` / pulldown-cmark iterating the same events, every fixture, in process (median of {} rounds) | {ratio:.2}x | ≤ 2x | {}",
        ratios.len(),
        if ratio <= 2.0 { "pass" } else { "MISS" }
    );
}
