//! The outputs people and tools read, pinned with insta: `validate` as text
//! and as the SPEC §4 JSON, the dry run, the graph. A change to any of them
//! shows up as a snapshot diff to review (`cargo insta review`), not as a
//! silent drift. The workspace is tests/fixtures/snapshot, copied to a temp
//! folder.

use std::path::Path;

use crate::util::Ws;

fn fixture() -> Ws {
    let ws = Ws::new();
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/snapshot");
    for e in walkdir::WalkDir::new(&src) {
        let e = e.unwrap();
        if e.file_type().is_file() {
            let rel = e
                .path()
                .strip_prefix(&src)
                .unwrap()
                .to_string_lossy()
                .into_owned();
            ws.copy(e.path(), &rel);
        }
    }
    ws
}

/// Drop names carry the local time of the run: `…-2026-11-21-2345.md`
/// (15 bytes: `YYYY-MM-DD-HHMM`).
fn redact_times(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let b = s.as_bytes();
    let mut i = 0;
    while i < s.len() {
        let stamp = b.len() >= i + 15
            && b[i..i + 15].iter().enumerate().all(|(k, &c)| match k {
                4 | 7 | 10 => c == b'-',
                _ => c.is_ascii_digit(),
            });
        if stamp {
            out.push_str("YYYY-MM-DD-HHMM");
            i += 15;
        } else {
            let c = s[i..].chars().next().unwrap();
            out.push(c);
            i += c.len_utf8();
        }
    }
    out
}

#[test]
fn validate_json_shape() {
    let ws = fixture();
    let v = ws
        .expand(&["validate", "--format", "json", "plans/snap.md"])
        .code(0)
        .json();
    insta::assert_json_snapshot!("validate_json", v);
}

#[test]
fn validate_text() {
    let ws = fixture();
    let out = ws.expand(&["validate", "plans/snap.md"]).code(0);
    insta::assert_snapshot!("validate_text", out.stdout);
}

#[test]
fn dry_run_text() {
    let ws = fixture();
    let before = ws.snapshot();
    let out = ws
        .expand(&["run", "plans/snap.md", "--all", "--dry-run"])
        .code(0);
    insta::assert_snapshot!("dry_run_text", redact_times(&out.stdout));
    assert_eq!(before, ws.snapshot(), "the dry run wrote something");
}

#[test]
fn graph_mermaid() {
    let ws = fixture();
    let out = ws
        .expand(&["graph", "plans/snap.md", "--format", "mermaid"])
        .code(0);
    insta::assert_snapshot!("graph_mermaid", out.stdout);
}
