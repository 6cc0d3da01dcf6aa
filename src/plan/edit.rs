//! Surgical edits to a plan's text: tick checkboxes and stamp completion,
//! changing only the bytes of the markers and the status-line suffix.

use std::ops::Range;

use super::model::{Part, Plan};

/// Replace `span` of the plan text with `text`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Edit {
    pub span: Range<usize>,
    pub text: String,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum EditError {
    #[error("edit at bytes {0}..{1} is outside the plan or splits a character")]
    OutOfBounds(usize, usize),
    #[error("edits at bytes {0} and {1} overlap")]
    Overlap(usize, usize),
}

/// Apply non-overlapping edits (in any order) to `text`.
pub fn apply(text: &str, edits: &[Edit]) -> Result<String, EditError> {
    let mut sorted: Vec<&Edit> = edits.iter().collect();
    sorted.sort_by_key(|e| (e.span.start, e.span.end));
    let mut out = String::with_capacity(text.len() + edits.len() * 24);
    let mut at = 0;
    for e in sorted {
        let Range { start, end } = e.span;
        if start > end
            || end > text.len()
            || !text.is_char_boundary(start)
            || !text.is_char_boundary(end)
        {
            return Err(EditError::OutOfBounds(start, end));
        }
        if start < at {
            return Err(EditError::Overlap(at, start));
        }
        out.push_str(&text[at..start]);
        out.push_str(&e.text);
        at = end;
    }
    out.push_str(&text[at..]);
    Ok(out)
}

pub const DONE: &str = "[✓]";
pub const PENDING: &str = "[ ]";

/// Tick a finished PART: its status marker and every step item's marker become
/// `[✓]`, and the status line gets `(Completed <stamp>)` (replacing an old one).
pub fn tick_part(plan: &Plan, part: &Part, stamp: &str) -> Vec<Edit> {
    let mut edits = Vec::new();
    if let Some(m) = &part.marker {
        if &plan.text[m.span.clone()] != DONE {
            edits.push(Edit {
                span: m.span.clone(),
                text: DONE.to_string(),
            });
        }
    }
    for item in part.items() {
        if let Some(m) = &item.marker {
            if &plan.text[m.span.clone()] != DONE {
                edits.push(Edit {
                    span: m.span.clone(),
                    text: DONE.to_string(),
                });
            }
        }
    }
    if let (Some(m), Some(end)) = (&part.marker, part.status_end) {
        let stamp_text = format!("(Completed {stamp})");
        match completed_suffix(plan, m.span.end, end) {
            Some(span) => edits.push(Edit {
                span,
                text: stamp_text,
            }),
            None => edits.push(Edit {
                span: end..end,
                text: format!(" {stamp_text}"),
            }),
        }
    }
    dedup(edits)
}

/// Undo a tick: markers back to `[ ]` and the `(Completed …)` suffix removed.
pub fn untick_part(plan: &Plan, part: &Part) -> Vec<Edit> {
    let mut edits = Vec::new();
    let markers = part
        .marker
        .iter()
        .chain(part.items().filter_map(|i| i.marker.as_ref()));
    for m in markers {
        if &plan.text[m.span.clone()] != PENDING {
            edits.push(Edit {
                span: m.span.clone(),
                text: PENDING.to_string(),
            });
        }
    }
    if let (Some(m), Some(end)) = (&part.marker, part.status_end) {
        if let Some(span) = completed_suffix(plan, m.span.end, end) {
            // Also remove the one space before it.
            let start = if span.start > 0 && plan.text.as_bytes()[span.start - 1] == b' ' {
                span.start - 1
            } else {
                span.start
            };
            edits.push(Edit {
                span: start..span.end,
                text: String::new(),
            });
        }
    }
    dedup(edits)
}

/// The span of `(Completed …)` on the status line between `from` and `to`.
fn completed_suffix(plan: &Plan, from: usize, to: usize) -> Option<Range<usize>> {
    let line = plan.text.get(from..to)?;
    let open = line.find("(Completed")?;
    let close = line[open..].find(')')?;
    Some(from + open..from + open + close + 1)
}

fn dedup(mut edits: Vec<Edit>) -> Vec<Edit> {
    edits.sort_by_key(|e| (e.span.start, e.span.end));
    edits.dedup_by(|a, b| a.span == b.span);
    edits
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::parse::parse_text;

    const PLAN: &str = "# T\n\n## PART 1: A (~10 lines)\n\n- [ ] PART 1: Create a/00-x.md\n\n**Step 0: Check Existing Knowledge**\n- [ ] Read a/01-y.md\n- [x] Search: \"q\"\n";

    #[test]
    fn tick_changes_only_markers_and_suffix() {
        let plan = parse_text("p.md", PLAN);
        let edits = tick_part(&plan, &plan.parts[0], "2025-11-21 10:00");
        let out = apply(&plan.text, &edits).unwrap();
        assert_eq!(
            out,
            PLAN.replace(
                "- [ ] PART 1: Create a/00-x.md",
                "- [✓] PART 1: Create a/00-x.md (Completed 2025-11-21 10:00)"
            )
            .replace("[ ] Read", "[✓] Read")
            .replace("[x] Search", "[✓] Search")
        );
        // Ticking again replaces the stamp instead of adding one.
        let plan2 = parse_text("p.md", &out);
        let again = apply(
            &plan2.text,
            &tick_part(&plan2, &plan2.parts[0], "2025-11-22 09:00"),
        )
        .unwrap();
        assert_eq!(again, out.replace("2025-11-21 10:00", "2025-11-22 09:00"));
        // Untick restores the original except the item that was [x].
        let plan3 = parse_text("p.md", &again);
        let back = apply(&plan3.text, &untick_part(&plan3, &plan3.parts[0])).unwrap();
        assert_eq!(back, PLAN.replace("[x] Search", "[ ] Search"));
    }

    #[test]
    fn overlapping_edits_are_refused() {
        let e = [
            Edit {
                span: 0..3,
                text: "a".into(),
            },
            Edit {
                span: 2..4,
                text: "b".into(),
            },
        ];
        assert!(matches!(apply("abcdef", &e), Err(EditError::Overlap(..))));
        assert!(apply(
            "é",
            &[Edit {
                span: 1..2,
                text: String::new()
            }]
        )
        .is_err());
    }
}
