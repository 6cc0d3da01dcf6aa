//! The outline a plan is drafted from: PARTs, their sections and queries.
//! It comes from a markdown list a person wrote (`--from OUTLINE`) or from
//! a language model's JSON answer, checked against one schema; either way
//! the rest of drafting sees only this model.

use serde_json::Value;

/// What the plan will hold, before it is placed in the base.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Outline {
    /// A `# Title` the outline gave, if any.
    pub title: Option<String>,
    pub parts: Vec<OutlinePart>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct OutlinePart {
    pub title: String,
    /// The file name asked for (`name.md`, no folder, no number).
    pub file: Option<String>,
    pub lines: Option<u32>,
    pub sections: Vec<OutlineSection>,
    pub queries: Vec<String>,
    /// Line of the outline it came from (0 for a model's answer).
    pub line: usize,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct OutlineSection {
    pub title: String,
    pub lines: Option<u32>,
    pub brief: Vec<String>,
}

/// A problem in an outline file, at its line.
#[derive(Debug, thiserror::Error)]
#[error("{path}:{line}: {message}")]
pub struct OutlineError {
    pub path: String,
    pub line: usize,
    pub message: String,
}

/// Read a markdown outline: one top-level list item per PART (`Title
/// (~300 lines)`), nested items as its sections (`Section title (~60
/// lines)`, their own nested items the section's brief), and two kinds of
/// nested item that are not sections: `File: name.md` and `Search: query`.
pub fn parse_markdown(path: &str, text: &str) -> Result<Outline, OutlineError> {
    let err = |line: usize, message: String| OutlineError {
        path: path.to_string(),
        line,
        message,
    };
    let doc = crate::markdown::Doc::parse(text);
    let title = doc
        .headings
        .iter()
        .find(|h| h.level == 1)
        .map(|h| h.text.trim().to_string())
        .filter(|t| !t.is_empty());
    let Some(top) = doc.items.iter().map(|i| i.depth).min() else {
        return Err(err(
            1,
            "no list items: write one `- PART title (~300 lines)` item per PART, \
             with its sections as nested items"
                .into(),
        ));
    };
    let mut parts: Vec<OutlinePart> = Vec::new();
    for item in &doc.items {
        let text = strip_checkbox(item.text.trim());
        let level = item.depth - top;
        if level == 0 {
            let (title, lines) = take_lines(strip_label(text, "part"));
            if title.is_empty() {
                return Err(err(item.line, "a PART item without a title".into()));
            }
            parts.push(OutlinePart {
                title,
                lines: lines.map_err(|m| err(item.line, m))?,
                line: item.line,
                ..OutlinePart::default()
            });
            continue;
        }
        let Some(part) = parts.last_mut() else {
            // Nested items above the first PART cannot happen in a list.
            continue;
        };
        if level == 1 {
            if let Some(v) = key_value(text, "file") {
                let name = check_file_name(v).map_err(|m| err(item.line, m))?;
                if part.file.is_some() {
                    return Err(err(
                        item.line,
                        format!("PART `{}` names its file twice", part.title),
                    ));
                }
                part.file = Some(name);
            } else if let Some(v) = key_value(text, "search") {
                let q = unquote(v);
                if q.is_empty() {
                    return Err(err(item.line, "an empty `Search:` query".into()));
                }
                part.queries.push(q.to_string());
            } else {
                let (title, lines) = take_lines(strip_label(text, "section"));
                if title.is_empty() {
                    return Err(err(item.line, "a section item without a title".into()));
                }
                part.sections.push(OutlineSection {
                    title,
                    lines: lines.map_err(|m| err(item.line, m))?,
                    brief: Vec::new(),
                });
            }
        } else if let Some(s) = part.sections.last_mut() {
            if !text.is_empty() {
                s.brief.push(text.to_string());
            }
        } else {
            return Err(err(
                item.line,
                "a brief line under no section (nest it under a section item)".into(),
            ));
        }
    }
    let mut seen: Vec<(&str, usize)> = Vec::new();
    for p in &parts {
        if let Some(f) = &p.file {
            if let Some((_, at)) = seen.iter().find(|(x, _)| *x == f) {
                return Err(err(
                    p.line,
                    format!("file `{f}` is already named by the PART at line {at}"),
                ));
            }
            seen.push((f, p.line));
        }
    }
    Ok(Outline { title, parts })
}

/// `PART 3: Title` → `Title`: the plan numbers PARTs and sections itself.
fn strip_label<'a>(s: &'a str, label: &str) -> &'a str {
    let t = s.trim_start_matches('*');
    let Some(head) = t.get(..label.len()) else {
        return s;
    };
    if !head.eq_ignore_ascii_case(label) {
        return s;
    }
    let rest = t[label.len()..].trim_start();
    let digits = rest.len() - rest.trim_start_matches(|c: char| c.is_ascii_digit()).len();
    if digits == 0 {
        return s;
    }
    match rest[digits..]
        .trim_start_matches('*')
        .trim_start()
        .strip_prefix(':')
    {
        Some(r) => r.trim_start_matches('*').trim(),
        None => s,
    }
}

/// `[ ] text` → `text`: a checklist outline reads like a plain one.
fn strip_checkbox(s: &str) -> &str {
    for m in ["[ ] ", "[x] ", "[X] "] {
        if let Some(r) = s.strip_prefix(m) {
            return r.trim_start();
        }
    }
    s
}

/// `Key: value` (case-insensitive key, optional bold) → value.
fn key_value<'a>(text: &'a str, key: &str) -> Option<&'a str> {
    let t = text.trim_start_matches('*');
    let (k, v) = t.split_once(':')?;
    let k = k.trim().trim_end_matches('*').trim();
    k.eq_ignore_ascii_case(key)
        .then(|| v.trim().trim_start_matches('*').trim())
}

fn unquote(s: &str) -> &str {
    let s = s.trim();
    s.strip_prefix('"')
        .and_then(|x| x.strip_suffix('"'))
        .unwrap_or(s)
        .trim()
}

/// A file name as a PART may ask for it: one kebab-case name ending in
/// `.md`, without a folder (the draft chooses the folder and the number).
pub fn check_file_name(v: &str) -> Result<String, String> {
    let v = v.trim().trim_matches('`');
    let bad = |why: &str| Err(format!("file name `{v}` {why}"));
    if v.contains('/') || v.contains('\\') {
        return bad(
            "has a folder; give the name only (the folder is --folder or the best-matching one)",
        );
    }
    let Some(stem) = v.strip_suffix(".md") else {
        return bad("does not end in `.md`");
    };
    // A number the name came with is dropped: numbers are the draft's to give.
    let stem = stem
        .trim_start_matches(|c: char| c.is_ascii_digit())
        .trim_start_matches('-');
    if stem.is_empty()
        || !stem
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        || stem.starts_with('-')
        || stem.ends_with('-')
        || stem.len() > 80
    {
        return bad("is not a kebab-case name (lowercase letters, digits and `-`, up to 80)");
    }
    Ok(format!("{stem}.md"))
}

/// `Title (~300 lines)` or `Title ~300 lines` → (`Title`, Some(300)).
fn take_lines(text: &str) -> (String, Result<Option<u32>, String>) {
    let Some(at) = text.rfind('~') else {
        return (text.trim().to_string(), Ok(None));
    };
    let rest = &text[at + 1..];
    let digits: String = rest
        .chars()
        .take_while(|c| c.is_ascii_digit() || *c == ',')
        .collect();
    let after = rest[digits.len()..].trim_start();
    let Some(after) = after.strip_prefix("lines").or(after.strip_prefix("line")) else {
        return (text.trim().to_string(), Ok(None));
    };
    let after = after.trim_start();
    let mut head = text[..at].trim_end();
    let tail_ok = match head.strip_suffix('(') {
        Some(h) if after.starts_with(')') => {
            head = h.trim_end();
            after[1..].trim().is_empty()
        }
        _ => after.is_empty(),
    };
    if !tail_ok {
        return (text.trim().to_string(), Ok(None));
    }
    let n = digits.replace(',', "").parse::<u32>();
    let lines = match n {
        Ok(n) if (1..=100_000).contains(&n) => Ok(Some(n)),
        _ => Err(format!(
            "`~{digits} lines` is not a line count from 1 to 100000"
        )),
    };
    (
        head.trim_end_matches([' ', '-', '—', ':'])
            .trim()
            .to_string(),
        lines,
    )
}

/// What a language model is asked for: the outline as one JSON object.
pub fn prompt(topic: &str, parts: usize, known: &[(String, String)]) -> String {
    let mut p = format!(
        "Draft the outline of a knowledge-expansion plan on the topic: \"{topic}\".\n\n\
         The plan has {parts} PARTs; each PART becomes one new markdown knowledge file of a \
         few hundred lines, researched on the web.\n"
    );
    if !known.is_empty() {
        p.push_str(
            "\nThe knowledge base already has these files on or near the topic; do not repeat \
             them, build on them:\n",
        );
        for (path, what) in known {
            p.push_str(&format!("- {path} — {what}\n"));
        }
    }
    p.push_str(&format!(
        "\nAnswer with one JSON object and nothing else, of this shape:\n\n\
         {{\"title\": \"plan title\",\n \"parts\": [{{\"title\": \"PART title\",\n            \
         \"file\": \"kebab-case-name.md\",\n            \"lines\": 300,\n            \
         \"sections\": [{{\"title\": \"Section title\", \"brief\": \"one line: what it covers\", \"lines\": 60}}],\n            \
         \"queries\": [\"web search query\", \"...\", \"...\"]}}]}}\n\n\
         Rules: exactly {parts} parts; each file name unique, lowercase letters, digits and `-`, \
         ending in `.md`, no folder; 2 to 8 sections per part, each with a one-line brief; \
         3 or 4 search queries per part; lines (optional) between 50 and 3000.\n"
    ));
    p
}

/// The one follow-up sent when the answer does not fit the schema.
pub fn repair_prompt(prompt: &str, answer: &str, problems: &[String]) -> String {
    let mut p = String::from(prompt);
    p.push_str("\nYour previous answer was:\n\n");
    p.push_str(answer.trim());
    p.push_str("\n\nIt does not fit the schema:\n");
    for x in problems {
        p.push_str(&format!("- {x}\n"));
    }
    p.push_str("\nAnswer again with the corrected JSON object only.\n");
    p
}

/// The JSON object in a model's answer: the whole answer, or the text
/// from its first `{` to its last `}` (a fence or a sentence around it).
fn json_in(answer: &str) -> Result<Value, String> {
    let t = answer.trim();
    if let Ok(v) = serde_json::from_str::<Value>(t) {
        return Ok(v);
    }
    let (Some(a), Some(z)) = (t.find('{'), t.rfind('}')) else {
        return Err("the answer holds no JSON object".into());
    };
    if z < a {
        return Err("the answer holds no JSON object".into());
    }
    serde_json::from_str(&t[a..=z]).map_err(|e| format!("the answer is not valid JSON: {e}"))
}

fn text(v: &Value) -> Option<&str> {
    v.as_str().map(str::trim).filter(|s| !s.is_empty())
}

/// Check a model's answer against the outline schema; every problem found
/// (for the repair request), or the outline.
pub fn from_answer(answer: &str, want_parts: usize) -> Result<Outline, Vec<String>> {
    let v = json_in(answer).map_err(|e| vec![e])?;
    let mut problems = Vec::new();
    let title = v["title"]
        .as_str()
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty());
    let Some(items) = v["parts"].as_array() else {
        return Err(vec!["no `parts` array".into()]);
    };
    if items.len() != want_parts {
        problems.push(format!(
            "`parts` has {} entries; {want_parts} were asked for",
            items.len()
        ));
    }
    let mut parts = Vec::new();
    let mut files: Vec<String> = Vec::new();
    for (i, it) in items.iter().enumerate() {
        let at = format!("parts[{i}]");
        let one_line = |s: &str| !s.contains('\n');
        let title = match text(&it["title"]) {
            // The plan format reads `Create x.md` in a PART heading as its file.
            Some(t) if t.to_ascii_lowercase().contains(".md") => {
                problems.push(format!(
                    "{at}.title names a file; give the file name in `file` only"
                ));
                t.to_string()
            }
            Some(t) if one_line(t) => t.to_string(),
            _ => {
                problems.push(format!("{at}.title is missing or not one line of text"));
                String::new()
            }
        };
        let file = match text(&it["file"]).map(check_file_name) {
            Some(Ok(f)) if files.contains(&f) => {
                problems.push(format!("{at}.file `{f}` is used by another part"));
                None
            }
            Some(Ok(f)) => {
                files.push(f.clone());
                Some(f)
            }
            Some(Err(e)) => {
                problems.push(format!("{at}.file: {e}"));
                None
            }
            None => {
                problems.push(format!("{at}.file is missing"));
                None
            }
        };
        let lines = match &it["lines"] {
            Value::Null => None,
            l => match l.as_u64() {
                Some(n @ 50..=3000) => Some(n as u32),
                _ => {
                    problems.push(format!("{at}.lines is not a number from 50 to 3000"));
                    None
                }
            },
        };
        let mut sections = Vec::new();
        match it["sections"].as_array() {
            Some(ss) if (2..=8).contains(&ss.len()) => {
                for (j, s) in ss.iter().enumerate() {
                    let sat = format!("{at}.sections[{j}]");
                    let st = text(&s["title"]).filter(|t| one_line(t));
                    let brief = text(&s["brief"]).filter(|t| one_line(t));
                    if st.is_none() {
                        problems.push(format!("{sat}.title is missing or not one line"));
                    }
                    if brief.is_none() {
                        problems.push(format!("{sat}.brief is missing or not one line"));
                    }
                    let sl = s["lines"]
                        .as_u64()
                        .filter(|n| (5..=2000).contains(n))
                        .map(|n| n as u32);
                    sections.push(OutlineSection {
                        title: st.unwrap_or_default().to_string(),
                        lines: sl,
                        brief: brief.map(|b| vec![b.to_string()]).unwrap_or_default(),
                    });
                }
            }
            _ => problems.push(format!("{at}.sections must be an array of 2 to 8 sections")),
        }
        let mut queries = Vec::new();
        match it["queries"].as_array() {
            Some(qs) if (3..=4).contains(&qs.len()) => {
                for (j, q) in qs.iter().enumerate() {
                    match text(q).filter(|t| one_line(t)) {
                        Some(q) => queries.push(unquote(q).to_string()),
                        None => problems.push(format!("{at}.queries[{j}] is not one line of text")),
                    }
                }
            }
            _ => problems.push(format!("{at}.queries must hold 3 or 4 search queries")),
        }
        parts.push(OutlinePart {
            title,
            file,
            lines,
            sections,
            queries,
            line: 0,
        });
    }
    if problems.is_empty() {
        Ok(Outline { title, parts })
    } else {
        Err(problems)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markdown_outline_gives_parts_sections_files_and_queries() {
        let text = "# Rust async\n\n- Cancellation safety (~400 lines)\n  - File: cancellation-safety.md\n  - What cancellation means (~80 lines)\n    - futures dropped at an await point\n  - select! pitfalls\n  - Search: \"tokio select cancellation safe\"\n- [ ] Structured concurrency ~300 lines\n  - JoinSet\n";
        let o = parse_markdown("o.md", text).unwrap();
        assert_eq!(o.title.as_deref(), Some("Rust async"));
        assert_eq!(o.parts.len(), 2);
        let p = &o.parts[0];
        assert_eq!(p.title, "Cancellation safety");
        assert_eq!(p.lines, Some(400));
        assert_eq!(p.file.as_deref(), Some("cancellation-safety.md"));
        assert_eq!(p.queries, vec!["tokio select cancellation safe"]);
        assert_eq!(p.sections.len(), 2);
        assert_eq!(p.sections[0].title, "What cancellation means");
        assert_eq!(p.sections[0].lines, Some(80));
        assert_eq!(
            p.sections[0].brief,
            vec!["futures dropped at an await point"]
        );
        assert_eq!(o.parts[1].title, "Structured concurrency");
        assert_eq!(o.parts[1].lines, Some(300));
        assert_eq!(o.parts[1].line, 9);
        let o = parse_markdown(
            "o.md",
            "- PART 3: Alpha\n  - Section 1: Beta (~40 lines)\n  - Section two\n",
        )
        .unwrap();
        assert_eq!(o.parts[0].title, "Alpha");
        assert_eq!(o.parts[0].sections[0].title, "Beta");
        assert_eq!(o.parts[0].sections[0].lines, Some(40));
        assert_eq!(o.parts[0].sections[1].title, "Section two");
    }

    #[test]
    fn bad_outlines_say_where() {
        let e = parse_markdown("o.md", "# nothing\n\nprose\n").unwrap_err();
        assert_eq!(e.line, 1);
        let e = parse_markdown("o.md", "- A\n  - File: x/y.md\n").unwrap_err();
        assert_eq!((e.line, e.to_string().contains("folder")), (2, true));
        let e = parse_markdown("o.md", "- A (~0 lines)\n").unwrap_err();
        assert_eq!(e.line, 1);
        let e = parse_markdown("o.md", "- A\n  - File: a.md\n- B\n  - File: a.md\n").unwrap_err();
        assert_eq!(e.line, 3, "{e}");
    }

    #[test]
    fn answers_are_checked_against_the_schema() {
        let good = r#"Here it is:
```json
{"title": "T", "parts": [{"title": "P", "file": "p-one.md", "lines": 200,
  "sections": [{"title": "A", "brief": "a"}, {"title": "B", "brief": "b", "lines": 40}],
  "queries": ["q1", "q2", "q3"]}]}
```"#;
        let o = from_answer(good, 1).unwrap();
        assert_eq!(o.parts[0].file.as_deref(), Some("p-one.md"));
        assert_eq!(o.parts[0].sections[1].lines, Some(40));
        let p = from_answer(good, 2).unwrap_err();
        assert!(p[0].contains("2 were asked for"), "{p:?}");
        let bad =
            r#"{"parts": [{"title": "P", "file": "Bad Name", "sections": [], "queries": ["a"]}]}"#;
        let p = from_answer(bad, 1).unwrap_err();
        assert_eq!(p.len(), 3, "{p:?}");
        assert!(from_answer("no json here", 1).is_err());
    }
}
