//! Property tests: the parser never panics, marker spans are exact, and a
//! tick edits only marker bytes and the status-line end.

use std::ops::Range;
use std::path::Path;

use expand::plan::edit::{apply, tick_part, untick_part};
use expand::plan::encoding::{decode, encode};
use expand::plan::parse::{parse_bytes, parse_str};
use expand::plan::{Encoding, Marker, Plan};
use proptest::prelude::*;

/// 256 cases each in a normal `cargo test` (CI); `PROPTEST_CASES=N` runs a
/// longer fuzzing session.
fn config() -> ProptestConfig {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(256);
    ProptestConfig {
        cases,
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

/// One line of a plan-like document.
fn line() -> impl Strategy<Value = String> {
    let n = 0u32..30;
    let mark = prop_oneof![
        Just("[ ]"),
        Just("[x]"),
        Just("[X]"),
        Just("[✓]"),
        Just("[✔]"),
        Just("[/]"),
        Just("[?]"),
        Just("[]"),
        Just("")
    ];
    let word = prop_oneof![
        Just("Deep Dive"),
        Just("**bold**"),
        Just("`code.md`"),
        Just("é — ✓ 日本"),
        Just("Create éé"),
        Just("Read aéé"),
        Just("(~700 lines)"),
        Just("(Completed 2025-11-16 15:05)"),
        Just("(FILE EXISTS - 22.6 KB)"),
        Just("a/00-x.md"),
        Just("../up.md"),
        Just("**"),
        Just("["),
        Just("]"),
        Just(""),
    ];
    let word = prop_oneof![
        3 => word.prop_map(str::to_string),
        1 => "[a-zA-Z0-9 ./*_`#\\[\\]()-]{0,12}",
    ];
    let indent = prop_oneof![Just(""), Just("  "), Just("    "), Just("\t"), Just("   ")];
    let hashes = prop_oneof![Just("#"), Just("##"), Just("###"), Just("####")];
    prop_oneof![
        4 => (hashes.clone(), n.clone(), word.clone())
            .prop_map(|(h, n, w)| format!("{h} PART {n}: Create t/{n:02}-p.md {w}")),
        1 => (hashes.clone(), word.clone()).prop_map(|(h, w)| format!("{h} {w}")),
        1 => (n.clone(), word.clone()).prop_map(|(n, w)| format!("# BATCH {n}: {w}")),
        4 => (indent.clone(), mark.clone(), n.clone(), word.clone())
            .prop_map(|(i, m, n, w)| format!("{i}- {m} PART {n}: Create t/{n:02}-p.md {w}")),
        4 => (indent.clone(), mark.clone(), word.clone())
            .prop_map(|(i, m, w)| format!("{i}- {m} Read t/01-p.md {w}")),
        1 => (indent.clone(), mark.clone(), word.clone())
            .prop_map(|(i, m, w)| format!("{i}* {m} Search: \"{w}\"")),
        1 => (indent.clone(), mark.clone(), n.clone(), word.clone())
            .prop_map(|(i, m, n, w)| format!("{i}{n}. {m} Section {n}: {w} (~100 lines)")),
        1 => (indent.clone(), mark.clone(), word.clone())
            .prop_map(|(i, m, w)| format!("{i}+ {m}{w}")),
        1 => (n.clone(), word.clone()).prop_map(|(n, w)| format!("**Step {n}: Check Existing {w}**")),
        1 => (n.clone(), word.clone()).prop_map(|(n, w)| format!("**Step {n}: {w}")),
        1 => (n.clone(), word.clone()).prop_map(|(n, w)| format!("**PART {n}**: {w}")),
        1 => (n.clone(), word.clone()).prop_map(|(n, w)| format!("**Worker {n}: {w}** ✅ COMPLETE")),
        1 => (n.clone(), n.clone()).prop_map(|(a, b)| format!("- **Batch {a}**: PARTs {a}-{b} (t)")),
        1 => word.clone().prop_map(|w| format!("**Complete:** [✓] PART 1 {w}")),
        1 => word.clone().prop_map(|w| format!("**CITE**: t/00 ({w}); t/01")),
        1 => word.clone().prop_map(|w| format!("**Influenced by**: Files 1, 2 {w}")),
        1 => word.clone().prop_map(|w| format!("**Filename**: `{w}`")),
        1 => Just("## INFLUENTIAL FILES".to_string()),
        1 => n.clone().prop_map(|n| format!("{n}. `t/{n:02}-p.md` - file")),
        1 => Just("```".to_string()),
        1 => Just("~~~".to_string()),
        1 => Just("| a | b |\n|---|---|\n| [ ] | x |".to_string()),
        1 => Just("> - [ ] quoted".to_string()),
        1 => Just("<div>".to_string()),
        1 => Just("---".to_string()),
        1 => Just(String::new()),
        1 => word.prop_map(|w| w.to_string()),
    ]
}

/// A plan-like document: lines joined by LF or CRLF, maybe with a BOM-free title.
fn plan_text() -> impl Strategy<Value = String> {
    (
        prop::collection::vec(line(), 0..60),
        any::<bool>(),
        any::<bool>(),
    )
        .prop_map(|(lines, crlf, title)| {
            let eol = if crlf { "\r\n" } else { "\n" };
            let mut s = String::new();
            if title {
                s.push_str("# Knowledge Expansion: Props (4 runners in 1 batches)");
                s.push_str(eol);
                s.push_str(eol);
            }
            s.push_str(&lines.join(eol));
            s
        })
}

fn parse(text: &str) -> Plan {
    parse_str(Path::new("plans/p.md"), text.to_string())
}

/// Every checkbox marker the plan holds, with who holds it.
fn markers(plan: &Plan) -> Vec<(String, Marker)> {
    let mut v = Vec::new();
    for p in &plan.parts {
        if let Some(m) = &p.marker {
            v.push((format!("PART {}", p.number), m.clone()));
        }
        for i in p.items() {
            if let Some(m) = &i.marker {
                v.push((format!("PART {} item line {}", p.number, i.line), m.clone()));
            }
        }
    }
    v
}

fn check_markers(plan: &Plan) -> Result<(), TestCaseError> {
    for (who, m) in markers(plan) {
        let s = plan.text.get(m.span.clone());
        prop_assert!(s.is_some(), "{who}: span {:?} is not a char range", m.span);
        let s = s.unwrap();
        let mut c = s.chars();
        let (open, mid, close, rest) = (c.next(), c.next(), c.next(), c.next());
        prop_assert!(
            open == Some('[') && close == Some(']') && rest.is_none(),
            "{who}: span {:?} holds `{s}`",
            m.span
        );
        prop_assert!(
            matches!(mid, Some(' ' | 'x' | 'X' | '✓' | '✔' | '/')),
            "{who}: `{s}` is not a marker"
        );
    }
    Ok(())
}

/// Tick (then untick) every PART and prove each edit touches only a marker
/// span or the status line's end, and that every other byte is unchanged.
fn check_ticks(plan: &Plan) -> Result<(), TestCaseError> {
    for part in &plan.parts {
        for edits in [
            tick_part(plan, part, "2025-11-21 10:00"),
            untick_part(plan, part),
        ] {
            let spans: Vec<Range<usize>> = part
                .marker
                .iter()
                .chain(part.items().filter_map(|i| i.marker.as_ref()))
                .map(|m| m.span.clone())
                .collect();
            for e in &edits {
                let is_marker = spans.contains(&e.span);
                // The `(Completed …)` suffix lives between the status marker
                // and the end of the status line (a space before it may go).
                let in_suffix = match (&part.marker, part.status_end) {
                    (Some(m), Some(end)) => e.span.start + 1 >= m.span.end && e.span.end <= end,
                    _ => false,
                };
                prop_assert!(
                    is_marker || in_suffix,
                    "PART {}: edit {:?} touches `{}`",
                    part.number,
                    e.span,
                    plan.text.get(e.span.clone()).unwrap_or("?")
                );
                if in_suffix && !is_marker {
                    let cut = &plan.text[e.span.clone()];
                    prop_assert!(
                        !cut.contains('\n'),
                        "PART {}: suffix edit crosses a line",
                        part.number
                    );
                }
            }
            let out = apply(&plan.text, &edits);
            prop_assert!(out.is_ok(), "PART {}: {:?}", part.number, out.err());
            let out = out.unwrap();
            // Diff: walking the edits in order, every gap between them is the
            // same bytes in both texts.
            let mut sorted = edits.clone();
            sorted.sort_by_key(|e| e.span.start);
            let (mut a, mut b) = (0usize, 0usize);
            for e in &sorted {
                let gap = e.span.start - a;
                prop_assert_eq!(&plan.text[a..e.span.start], &out[b..b + gap]);
                prop_assert_eq!(&out[b + gap..b + gap + e.text.len()], e.text.as_str());
                a = e.span.end;
                b += gap + e.text.len();
            }
            prop_assert_eq!(&plan.text[a..], &out[b..]);
            // Ticking keeps the plan's shape.
            let again = parse(&out);
            prop_assert_eq!(again.parts.len(), plan.parts.len());
            check_markers(&again)?;
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn parser_never_panics_on_arbitrary_text(s in any::<String>()) {
        let plan = parse(&s);
        check_markers(&plan)?;
    }

    #[test]
    fn parser_never_panics_on_markdownish_text(s in "[-*+#>`~\\[\\] x✓/0-9a-zA-Z:.()\\r\\n\\t|_]{0,400}") {
        let plan = parse(&s);
        check_markers(&plan)?;
        check_ticks(&plan)?;
    }

    #[test]
    fn generated_plans_parse_with_exact_marker_spans(s in plan_text()) {
        let plan = parse(&s);
        check_markers(&plan)?;
        for p in &plan.parts {
            prop_assert!(p.line >= 1 && p.span.start <= p.span.end && p.span.end <= s.len());
            if let Some(end) = p.status_end {
                prop_assert!(s.is_char_boundary(end));
            }
        }
    }

    #[test]
    fn ticks_change_only_markers_and_status_ends(s in plan_text()) {
        let plan = parse(&s);
        check_ticks(&plan)?;
    }

    #[test]
    fn a_tick_reads_back_as_done(
        parts in prop::collection::vec((prop::sample::select(vec![" ", "x", "/", "✓"]), "[a-zé✓— ]{1,10}", 0usize..4), 1..6),
        crlf in any::<bool>(),
    ) {
        // Well-formed heading-form PARTs with a status line and a step checklist.
        let eol = if crlf { "\r\n" } else { "\n" };
        let mut t = format!("# Plan{eol}{eol}");
        for (k, (m, title, items)) in parts.iter().enumerate() {
            let n = k + 1;
            t += &format!("## PART {n}: {title} (~100 lines){eol}{eol}- [{m}] PART {n}: Create t/{n:02}-p.md{eol}{eol}**Step 1: Research**{eol}");
            for j in 0..*items {
                t += &format!("- [{m}] Search: \"{title} {j}\"{eol}  - brief {j}{eol}");
            }
            t += eol;
        }
        let plan = parse(&t);
        prop_assert_eq!(plan.parts.len(), parts.len());
        for part in &plan.parts {
            let out = apply(&plan.text, &tick_part(&plan, part, "2025-11-21 10:00")).unwrap();
            let again = parse(&out);
            let p = again.part(part.number).unwrap();
            prop_assert_eq!(p.status, expand::plan::Status::Done);
            prop_assert_eq!(p.completed_at.as_deref(), Some("2025-11-21 10:00"));
            prop_assert_eq!(p.items().count(), part.items().count());
            prop_assert!(p.items().all(|i| i.marker.as_ref().map(|m| m.status) == Some(expand::plan::Status::Done)));
            // The other PARTs are untouched.
            for q in &again.parts {
                if q.number != part.number {
                    let before = plan.part(q.number).unwrap();
                    prop_assert_eq!(q.status, before.status);
                    prop_assert_eq!(&again.text[q.span.clone()], &plan.text[before.span.clone()]);
                }
            }
        }
    }

    #[test]
    fn contains_ci_matches_a_window_scan(h in "[a-cA-C✓ ]{0,12}", n in "[a-cA-C✓]{0,3}") {
        let naive = h
            .as_bytes()
            .windows(n.len().max(1))
            .any(|w| w.eq_ignore_ascii_case(n.as_bytes()));
        prop_assert_eq!(expand::plan::text::contains_ci(&h, &n), naive);
    }

    #[test]
    fn expected_lines_matches_counted_words(s in "[0-9~, a-zA-Z✓K()]{0,24}|.*") {
        use expand::plan::text::{counted_words, expected_lines};
        let want = counted_words(&s)
            .into_iter()
            .find(|(_, w)| w == "lines")
            .and_then(|(v, _)| u32::try_from(v).ok());
        prop_assert_eq!(expected_lines(&s), want);
    }

    #[test]
    fn trim_matches_str_trim(s in "[ \t\r\na.✓\u{a0}\u{2003}]{0,6}|.*") {
        prop_assert_eq!(expand::plan::text::trim(&s), s.trim());
    }

    #[test]
    fn title_and_lines_matches_its_two_scans(
        s in "[0-9~, a-zA-Z✓()]{0,24}( ?\\(~?[0-9,]{1,6} [lL]ines\\) ?)?|.*"
    ) {
        use expand::plan::text::{expected_lines, strip_lines_suffix, title_and_lines};
        prop_assert_eq!(title_and_lines(&s), (strip_lines_suffix(&s), expected_lines(&s)));
    }

    #[test]
    fn decoding_arbitrary_bytes_never_panics(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        if let Ok(d) = decode(&bytes) {
            // What decodes writes back to the same bytes.
            prop_assert_eq!(encode(&d.text, d.encoding, d.bom), bytes.clone());
        }
        let _ = parse_bytes(Path::new("p.md"), &bytes);
    }

    #[test]
    fn mojibake_repairs_to_the_original(
        s in plan_text(),
        enc in prop_oneof![Just(Encoding::MacRomanRepaired), Just(Encoding::Windows1252Repaired)],
    ) {
        // The text as it looks after being decoded in a codepage and saved again.
        let bytes = encode(&s, enc, false);
        let d = decode(&bytes);
        prop_assert!(d.is_ok(), "{:?}", d.err());
        let d = d.unwrap();
        if !s.is_ascii() {
            prop_assert_eq!(d.encoding, enc);
        }
        prop_assert_eq!(&d.text, &s);
        prop_assert_eq!(encode(&d.text, d.encoding, d.bom), bytes);
    }
}

/// SPEC "Encoding": ticks written into a mis-encoded plan use the file's own
/// encoding, so the whole file still repairs in one round trip.
#[cfg_attr(
    not(has_shared),
    ignore = "needs ../shared (or EXPAND_SHARED): the fixtures and the bench base"
)]
#[test]
fn ticks_in_mis_encoded_seeds_keep_the_file_encoding() {
    let shared = crate::util::shared_or_skip!();
    for prefix in ["000", "001", "003"] {
        let bytes = std::fs::read(crate::util::seed(&shared, prefix)).unwrap();
        let plan = parse_bytes(Path::new("p.md"), &bytes).unwrap();
        assert_ne!(plan.encoding, Encoding::Utf8);
        // Untouched, the plan writes back byte for byte.
        assert!(
            expand::plan::to_bytes(&plan, &plan.text) == bytes,
            "seed {prefix}"
        );
        for part in &plan.parts {
            for edits in [
                tick_part(&plan, part, "2025-11-21 10:00"),
                untick_part(&plan, part),
            ] {
                let text = apply(&plan.text, &edits).unwrap();
                let written = expand::plan::to_bytes(&plan, &text);
                let again = parse_bytes(Path::new("p.md"), &written).unwrap();
                assert_eq!(
                    again.encoding, plan.encoding,
                    "seed {prefix} PART {}",
                    part.number
                );
                assert_eq!(again.text, text, "seed {prefix} PART {}", part.number);
            }
        }
    }
}
