//! Knowledge-step benchmark (SPEC §10): scan a real 2,000-file knowledge base
//! once, then run the reads and greps of a seed plan's knowledge steps against
//! it, and compare with ripgrep running the same searches (and the same files
//! read from disk) when `rg` is on PATH.
//!
//! The base is `$EXPAND_SHARED/bench/karpathy-deep-oracle.tar.gz` (default
//! `../shared`); without it the bench prints why and exits 0.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use expand::knowledge::scan::KnowledgeBase;
use expand::plan::model::{GrepOp, ItemKind};
use expand::providers::offline::knowledge_index;

const READ_BUDGET: usize = 12_000;
const MAX_HITS: usize = 200;

enum Op {
    Read(String),
    Grep {
        terms: Vec<String>,
        op: GrepOp,
        folder: Option<String>,
    },
}

fn main() {
    let shared = std::env::var_os("EXPAND_SHARED")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared"));
    let tarball = shared.join("bench/karpathy-deep-oracle.tar.gz");
    if !tarball.is_file() {
        println!("knowledge bench skipped: {} not found", tarball.display());
        return;
    }
    let tmp = tempfile::tempdir().expect("temp dir");
    let status = Command::new("tar")
        .arg("xzf")
        .arg(&tarball)
        .arg("-C")
        .arg(tmp.path())
        .status()
        .expect("run tar");
    assert!(status.success(), "tar failed");
    let root = tmp.path().join("karpathy-deep-oracle");

    let t = Instant::now();
    let fs = expand::workspace::jail::Jail::open(&root.canonicalize().expect("canonical"))
        .expect("open the base");
    let kb = KnowledgeBase::scan(&fs, fs.root(), &[]).expect("scan");
    let scan_time = t.elapsed();
    let bytes: usize = kb.files().iter().map(|f| f.text.len()).sum();
    println!(
        "knowledge base: {} files, {:.1} MB",
        kb.len(),
        bytes as f64 / 1e6
    );
    let t = Instant::now();
    let index = knowledge_index(&kb);
    let index_time = t.elapsed();

    let rg = Command::new("rg").arg("--version").output().is_ok();
    let mut rows: Vec<(String, Duration, Option<Duration>)> = vec![
        ("scan (once per run)".into(), scan_time, None),
        (
            format!("bm25 index, {} passages (once per run)", index.len()),
            index_time,
            None,
        ),
    ];

    for prefix in ["000_", "002_"] {
        let Some(seed) = find_seed(&shared, prefix) else {
            continue;
        };
        let bytes = std::fs::read(&seed).expect("read seed");
        let plan = expand::plan::parse::parse_bytes(&seed, &bytes).expect("parse seed");
        let mut ops = Vec::new();
        for part in &plan.parts {
            for item in part.items() {
                match &item.kind {
                    ItemKind::Read { reference, .. } => ops.push(Op::Read(reference.to_string())),
                    ItemKind::Grep { terms, op, folder } => ops.push(Op::Grep {
                        terms: terms.iter().map(|t| t.to_string()).collect(),
                        op: *op,
                        folder: folder.as_ref().map(|f| f.to_string()),
                    }),
                    _ => {}
                }
            }
        }
        let reads = ops.iter().filter(|o| matches!(o, Op::Read(_))).count();
        let greps = ops.len() - reads;
        let name = seed.file_name().unwrap().to_string_lossy().into_owned();

        let (ours, found) = best_of(5, || run_ours(&kb, &ops));
        let theirs = rg.then(|| best_of(3, || run_rg(&root, &kb, &ops)).0);
        rows.push((
            format!(
                "{name}: {} PARTs, {reads} reads, {greps} greps ({found} files/hits)",
                plan.parts.len()
            ),
            ours,
            theirs,
        ));
        if let Some(theirs) = theirs {
            rows.push((format!("{name} incl. scan"), ours + scan_time, Some(theirs)));
        }
    }

    println!();
    println!(
        "{:<72} {:>12} {:>12} {:>8}",
        "step", "expand", "ripgrep", "ratio"
    );
    for (what, ours, theirs) in rows {
        match theirs {
            Some(t) => println!(
                "{:<72} {:>10.2}ms {:>10.2}ms {:>7.2}x",
                what,
                ms(ours),
                ms(t),
                ms(t) / ms(ours).max(1e-6)
            ),
            None => println!("{:<72} {:>10.2}ms {:>12} {:>8}", what, ms(ours), "-", "-"),
        }
    }
    if !rg {
        println!("\n(rg not on PATH: ripgrep column skipped)");
    } else {
        println!("\nratio = ripgrep time / expand time (above 1: expand is faster)");
    }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn best_of<T>(n: usize, mut f: impl FnMut() -> T) -> (Duration, T) {
    let mut best = Duration::MAX;
    let mut out = None;
    for _ in 0..n {
        let t = Instant::now();
        let r = f();
        best = best.min(t.elapsed());
        out = Some(r);
    }
    (best, out.unwrap())
}

fn find_seed(shared: &Path, prefix: &str) -> Option<PathBuf> {
    let dir = shared.join("fixtures/seeds");
    let mut found: Vec<PathBuf> = std::fs::read_dir(dir)
        .ok()?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with(prefix) && n.ends_with(".txt"))
        })
        .collect();
    found.sort();
    found.into_iter().next()
}

/// Resolve a read reference as the runner would: exact path, else a file
/// whose path ends with it; a folder reference reads the folder's files.
fn resolve<'a>(kb: &'a KnowledgeBase, reference: &'a str) -> Vec<&'a str> {
    let r = reference.trim().trim_start_matches("./");
    if r.ends_with('/') {
        return kb.in_folder(r).map(|f| f.path.as_str()).collect();
    }
    if let Some(f) = kb.get(r) {
        return vec![f.path.as_str()];
    }
    let suffix = format!("/{r}");
    kb.files()
        .iter()
        .find(|f| f.path.ends_with(&suffix))
        .map(|f| vec![f.path.as_str()])
        .unwrap_or_default()
}

fn run_ours(kb: &KnowledgeBase, ops: &[Op]) -> usize {
    let mut n = 0;
    for op in ops {
        match op {
            Op::Read(r) => {
                for p in resolve(kb, r) {
                    n += kb.excerpt(p, READ_BUDGET, &[]).len().min(1);
                }
            }
            Op::Grep { terms, op, folder } => {
                n += kb.grep(terms, *op, folder.as_deref(), MAX_HITS).len();
            }
        }
    }
    n
}

/// The same work without an in-memory base: each read goes to disk, each
/// grep is one ripgrep process per step (`-l` per AND term, then `-n`).
fn run_rg(root: &Path, kb: &KnowledgeBase, ops: &[Op]) -> usize {
    let mut n = 0;
    for op in ops {
        match op {
            Op::Read(r) => {
                for p in resolve(kb, r) {
                    n += std::fs::read(root.join(p))
                        .map(|b| b.len().min(1))
                        .unwrap_or(0);
                }
            }
            Op::Grep { terms, op, folder } => {
                let dirs: Vec<PathBuf> = match folder.as_deref() {
                    Some(f) if kb.in_folder(f).next().is_some() => {
                        let mut d: Vec<PathBuf> = kb
                            .in_folder(f)
                            .filter_map(|x| Path::new(&x.path).parent().map(|p| root.join(p)))
                            .collect();
                        d.sort();
                        d.dedup();
                        d
                    }
                    _ => vec![root.to_path_buf()],
                };
                let mut targets = dirs;
                if *op == GrepOp::And {
                    for t in terms {
                        let out = Command::new("rg")
                            .args(["-i", "-l", "-F", "-g", "*.md", "-e", t])
                            .args(&targets)
                            .output()
                            .expect("run rg");
                        targets = String::from_utf8_lossy(&out.stdout)
                            .lines()
                            .map(PathBuf::from)
                            .collect();
                        if targets.is_empty() {
                            break;
                        }
                    }
                    if targets.is_empty() {
                        continue;
                    }
                }
                let mut cmd = Command::new("rg");
                cmd.args(["-i", "-n", "-F", "-g", "*.md", "-m", "200"]);
                for t in terms {
                    cmd.arg("-e").arg(t);
                }
                let out = cmd.args(&targets).output().expect("run rg");
                n += out
                    .stdout
                    .iter()
                    .filter(|&&b| b == b'\n')
                    .count()
                    .min(MAX_HITS);
            }
        }
    }
    n
}
