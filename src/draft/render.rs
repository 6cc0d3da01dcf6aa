//! A drafted plan as markdown, in the heading dialect the parser reads
//! (the shape of `plans/sample-expansion.md`): header with declared
//! totals, influential files, declared batches, then one `## PART` per
//! runner under its `# BATCH` heading.

use std::fmt::Write as _;

use super::{overlap, Draft, DraftPart};

fn s(n: usize) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}

fn thousands(n: u64) -> String {
    let d = n.to_string();
    let mut out = String::new();
    for (i, c) in d.chars().enumerate() {
        if i > 0 && (d.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

pub fn render(d: &Draft) -> String {
    let n = d.parts.len();
    let b = d.batches.len();
    let size = d.batches.iter().map(Vec::len).max().unwrap_or(1);
    let mut o = String::new();
    let title = super::one_line(&d.title);
    let _ = writeln!(
        o,
        "# Knowledge Expansion: {title} ({n} runner{} in {b} batch{})\n",
        s(n),
        if b == 1 { "" } else { "es" }
    );
    let _ = writeln!(o, "**Date**: {}", d.date);
    let _ = writeln!(
        o,
        "**Goal**: Extend the knowledge base on {}",
        super::one_line(&d.topic)
    );
    let _ = writeln!(
        o,
        "**Strategy**: {n} runner{}, {size} at a time ({b} batch{})",
        s(n),
        if b == 1 { "" } else { "es" }
    );
    let _ = writeln!(
        o,
        "**Total**: ~{} lines across {n} file{}",
        thousands(d.total_lines()),
        s(n)
    );
    let _ = writeln!(o, "**Target**: `{}/`", d.folder);
    o.push_str("\n---\n\n");
    o.push_str(
        "## HOW TO EXECUTE THIS EXPANSION\n\n\
         Drafted by `expand new`: review the PARTs, sections and queries, then\n\
         `expand validate` and `expand run`. Every runner reads the existing files\n\
         named in Step 0 before writing, researches the listed queries and cites\n\
         what it used, and writes exactly one new knowledge file and one KNOWLEDGE DROP.\n",
    );
    if !d.skipped.is_empty() {
        o.push_str("\nLeft out because existing files already cover them (`--skip-covered`):\n\n");
        for (t, v) in &d.skipped {
            let _ = writeln!(o, "- {}: {}", super::one_line(t), overlap::list(v));
        }
    }
    o.push_str("\n---\n\n");
    if !d.influential.is_empty() {
        let _ = writeln!(
            o,
            "## 📋 THE {} INFLUENTIAL FILES (Explicit Reference)\n",
            d.influential.len()
        );
        for (i, f) in d.influential.iter().enumerate() {
            let _ = writeln!(o, "{}. `{}` - {}", i + 1, f.path, f.description);
        }
        o.push_str("\n---\n\n");
    }
    let _ = writeln!(
        o,
        "## ⚠️ EXECUTION PLAN: {b} BATCH{} OF UP TO {size} RUNNER{}\n",
        if b == 1 { "" } else { "ES" },
        if size == 1 { "" } else { "S" }
    );
    for (i, batch) in d.batches.iter().enumerate() {
        let titles: Vec<String> = d
            .parts
            .iter()
            .filter(|p| batch.contains(&p.number))
            .map(|p| super::one_line(&p.title).replace(['(', ')'], ""))
            .collect();
        let _ = writeln!(
            o,
            "- **Batch {}**: {} ({})",
            i + 1,
            range(batch),
            titles.join("; ")
        );
    }
    o.push_str("\n---\n\n");
    for (i, batch) in d.batches.iter().enumerate() {
        let parts: Vec<&DraftPart> = d
            .parts
            .iter()
            .filter(|p| batch.contains(&p.number))
            .collect();
        let lines: u64 = parts.iter().map(|p| u64::from(p.lines)).sum();
        let _ = writeln!(
            o,
            "# BATCH {}: {} ({} runner{}, ~{} lines)\n",
            i + 1,
            range(batch),
            parts.len(),
            s(parts.len()),
            thousands(lines)
        );
        for p in parts {
            part(&mut o, d, p);
        }
    }
    o
}

/// `PARTs 1-4`, `PART 5`.
fn range(batch: &[u32]) -> String {
    match (batch.first(), batch.last()) {
        (Some(a), Some(z)) if a != z => format!("PARTs {a}-{z}"),
        (Some(a), _) => format!("PART {a}"),
        _ => String::new(),
    }
}

fn part(o: &mut String, d: &Draft, p: &DraftPart) {
    let title = super::one_line(&p.title);
    let _ = writeln!(o, "## PART {}: {title} (~{} lines)\n", p.number, p.lines);
    let _ = writeln!(o, "- [ ] PART {}: Create {}\n", p.number, p.target);
    if !p.overlaps.is_empty() {
        let _ = writeln!(
            o,
            "**Overlaps**: {} - existing files that already cover this PART; narrow it to what they lack\n",
            overlap::list(&p.overlaps)
        );
    }
    o.push_str("**Step 0: Check Existing Knowledge**\n");
    for r in &p.reads {
        let _ = writeln!(o, "- [ ] Read {} ({})", r.path, r.note);
    }
    // A new folder holds nothing to grep yet: search the whole base.
    let folder_ref = if d.folder_reason == "new" {
        String::new()
    } else {
        format!(" in {}/", d.folder)
    };
    let terms = grep_terms(&p.title);
    match terms.as_slice() {
        [] => {}
        [a] => {
            let _ = writeln!(o, "- [ ] Grep for \"{a}\"{folder_ref}");
        }
        [a, b, ..] => {
            let _ = writeln!(o, "- [ ] Grep for \"{a}\" AND \"{b}\"{folder_ref}");
        }
    }
    o.push('\n');
    if !p.reads.is_empty() {
        let files: Vec<String> = p.reads.iter().map(|r| r.file.to_string()).collect();
        let _ = writeln!(
            o,
            "**Influenced by**: Files {} - the existing files closest to this PART\n",
            files.join(", ")
        );
    }
    o.push_str("**Step 1: Web Research**\n");
    for q in &p.queries {
        let _ = writeln!(o, "- [ ] Search: \"{q}\"");
    }
    o.push('\n');
    o.push_str("**Step 2: Create Knowledge File**\n");
    for (i, sec) in p.sections.iter().enumerate() {
        let _ = writeln!(
            o,
            "- [ ] Section {}: {} (~{} lines)",
            i + 1,
            sec.title,
            sec.lines
        );
        for b in &sec.brief {
            let _ = writeln!(o, "  - {b}");
        }
    }
    if !p.reads.is_empty() {
        let cites: Vec<String> = p
            .reads
            .iter()
            .map(|r| format!("{} ({})", r.path, r.note))
            .collect();
        let _ = writeln!(o, "- [ ] **CITE**: {}", cites.join("; "));
    }
    o.push('\n');
    o.push_str("**Step 3: Create KNOWLEDGE DROP**\n");
    let stem = p
        .target
        .rsplit('/')
        .next()
        .unwrap_or(&p.target)
        .trim_end_matches(".md")
        .trim_start_matches(|c: char| c.is_ascii_digit())
        .trim_start_matches('-');
    let _ = writeln!(
        o,
        "- [ ] Create KNOWLEDGE-DROP-{stem}-{}-[TIME].md\n",
        d.date
    );
    o.push_str("---\n\n");
}

/// The two most telling words of a title, for the Step 0 grep.
fn grep_terms(title: &str) -> Vec<String> {
    let mut v: Vec<String> = Vec::new();
    crate::knowledge::bm25::tokenize(title, |t| {
        if t.len() > 2 && !t.chars().all(|c| c.is_ascii_digit()) && !v.iter().any(|x| x == t) {
            v.push(t.to_string());
        }
    });
    v.sort_by(|a, b| b.len().cmp(&a.len()).then(a.cmp(b)));
    v.truncate(2);
    v
}
