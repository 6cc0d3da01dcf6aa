//! Every human output, and the JSON of each, pinned with insta on a real
//! run (a `command` writer answering like a model, the clock fixed with
//! `EXPAND_CLOCK`): run, status, review, audit, consolidate. Durations and
//! the temp folder's path are filtered; everything else must not drift.

use crate::review_util::{Ws, CLOCK};

/// Stamps and durations that differ between runs, and the workspace path.
fn filters(w: &Ws) -> Vec<(String, String)> {
    let root = regex_escape(&w.root().canonicalize().unwrap().to_string_lossy());
    vec![
        (root, "[ws]".into()),
        (r"\d+\.\d s\b".into(), "[secs] s".into()),
        (r"\b\d+\.\ds\b".into(), "[secs]".into()),
        (
            r#""(duration_ms|wall_ms)": ?\d+"#.into(),
            r#""$1": "[ms]""#.into(),
        ),
        (
            r"\*\*Duration\*\*: [\d.]+ s".into(),
            "**Duration**: [secs] s".into(),
        ),
    ]
}

fn regex_escape(s: &str) -> String {
    s.chars()
        .flat_map(|c| {
            if "\\.+*?()|[]{}^$#&-~".contains(c) {
                vec!['\\', c]
            } else {
                vec![c]
            }
        })
        .collect()
}

fn run(w: &Ws, args: &[&str]) -> (i32, String) {
    let out = w
        .expand()
        .args(args)
        .env("EXPAND_CLOCK", CLOCK)
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

macro_rules! snap {
    ($w:expr, $name:expr, $value:expr) => {{
        let f = filters($w);
        let refs: Vec<(&str, &str)> = f.iter().map(|(a, b)| (a.as_str(), b.as_str())).collect();
        insta::with_settings!({filters => refs, prepend_module_to_snapshot => false}, {
            insta::assert_snapshot!($name, $value);
        });
    }};
}

#[test]
fn every_human_output_and_its_json() {
    let w = Ws::new();
    // PART 2's answer needs review: the outputs show both outcomes.
    w.craft(
        2,
        "# Beta\n\n## Overview\n\nBeta, per `old/00-x.md` and https://made-up.example/beta.\n\n\
         ## Beta Internals\n\nInternals, per `old/00-x.md` once more.\n\n## Sources\n\n- `old/00-x.md`\n",
    );
    let (code, out) = run(&w, &["run", "p", "--all"]);
    assert_eq!(code, 1, "{out}");
    snap!(&w, "run_text", out);
    let (_, out) = run(&w, &["--json", "run", "p", "--all"]);
    snap!(&w, "run_json_nothing_to_do", out);
    let (_, out) = run(&w, &["status", "p"]);
    snap!(&w, "status_text", out);
    let (_, out) = run(&w, &["--json", "status", "p"]);
    snap!(&w, "status_json", out);
    let (code, out) = run(&w, &["review", "batch", "1", "p"]);
    assert_eq!(code, 1);
    snap!(&w, "review_text", out);
    let (_, out) = run(&w, &["--json", "review", "batch", "1", "p"]);
    snap!(&w, "review_json", out);
    let drop = w.read("drops/p/KNOWLEDGE-DROP-topic-01-beta-2025-11-21-1405.md");
    snap!(&w, "drop_needs_review", drop);
    let (code, out) = run(&w, &["audit"]);
    assert_eq!(code, 1);
    snap!(&w, "audit_text", out);
    let (_, out) = run(&w, &["--json", "audit"]);
    snap!(&w, "audit_json", out);
    w.expand()
        .args(["review", "part", "2", "p", "--accept"])
        .env("EXPAND_CLOCK", CLOCK)
        .assert()
        .code(0);
    let (code, out) = run(&w, &["consolidate", "p", "--no-commit"]);
    assert_eq!(code, 0, "{out}");
    snap!(&w, "consolidate_text", out);
    let (_, out) = run(&w, &["--json", "consolidate", "p", "--no-commit"]);
    snap!(&w, "consolidate_json_again", out);
}

#[test]
fn the_run_json_event_stream() {
    let w = Ws::new();
    let (code, out) = run(&w, &["--json", "run", "p", "--all"]);
    assert_eq!(code, 0, "{out}");
    // Events of PARTs running at once interleave: sort the stream's lines
    // for the snapshot, the order tested elsewhere.
    let mut lines: Vec<String> = out
        .lines()
        .map(|l| {
            let mut v: serde_json::Value = serde_json::from_str(l).expect("one JSON event a line");
            for k in ["duration_ms", "wall_ms"] {
                if let Some(x) = v.get_mut(k) {
                    *x = serde_json::json!("[ms]");
                }
                if let Some(bs) = v.get_mut("batches").and_then(|b| b.as_array_mut()) {
                    for b in bs {
                        b[k] = serde_json::json!("[ms]");
                    }
                }
            }
            v.to_string()
        })
        .collect();
    lines.sort_unstable();
    snap!(&w, "run_json_events", lines.join("\n"));
}
