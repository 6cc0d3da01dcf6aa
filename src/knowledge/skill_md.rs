//! The managed section of `SKILL.md`: the topic folders with their file
//! counts, between expand's markers. Only the text between the markers is
//! ever rewritten; a file without them gets the section appended.

use std::collections::BTreeMap;

pub const START: &str = "<!-- expand:topics:start -->";
pub const END: &str = "<!-- expand:topics:end -->";

/// A topic line: `` - `folder/` (N files) — description ``.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Topic {
    pub count: usize,
    pub description: String,
}

/// The topics listed between the markers, by folder.
pub fn topics(text: &str) -> BTreeMap<String, Topic> {
    let mut out = BTreeMap::new();
    let Some((a, b)) = section(text) else {
        return out;
    };
    for line in text[a..b].lines() {
        let t = line.trim();
        let Some(rest) = t.strip_prefix("- `") else {
            continue;
        };
        let Some(q) = rest.find('`') else { continue };
        let folder = rest[..q].trim_end_matches('/').to_string();
        let after = &rest[q + 1..];
        let count = after
            .trim_start()
            .strip_prefix('(')
            .and_then(|s| s.split_whitespace().next())
            .and_then(|n| n.parse().ok())
            .unwrap_or(0);
        let description = after
            .split_once(" — ")
            .map(|(_, d)| d.trim().to_string())
            .unwrap_or_default();
        out.insert(folder, Topic { count, description });
    }
    out
}

/// Byte range of the text between the markers.
fn section(text: &str) -> Option<(usize, usize)> {
    let a = text.find(START)? + START.len();
    let b = a + text[a..].find(END)?;
    Some((a, b))
}

pub fn render(topics: &BTreeMap<String, Topic>) -> String {
    let mut s = String::from("\n");
    for (folder, t) in topics {
        let files = if t.count == 1 { "file" } else { "files" };
        s.push_str(&format!("- `{folder}/` ({} {files})", t.count));
        if !t.description.is_empty() {
            s.push_str(&format!(" — {}", t.description));
        }
        s.push('\n');
    }
    s
}

/// `text` with its managed section set to `topics` (appended when absent).
pub fn update(text: &str, topics: &BTreeMap<String, Topic>) -> String {
    let body = render(topics);
    match section(text) {
        Some((a, b)) => format!("{}{}{}", &text[..a], body, &text[b..]),
        None => {
            let mut s = text.to_string();
            if s.is_empty() {
                s.push_str("# Skill\n");
            }
            if !s.ends_with('\n') {
                s.push('\n');
            }
            s.push_str(&format!("\n## Topics\n\n{START}{body}{END}\n"));
            s
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_only_between_markers() {
        let mut m = BTreeMap::new();
        m.insert(
            "a".to_string(),
            Topic {
                count: 2,
                description: "about a".into(),
            },
        );
        let t = update("# S\n\nhand\n", &m);
        assert!(t.starts_with("# S\n\nhand\n"));
        assert_eq!(topics(&t), m);
        assert_eq!(update(&t, &m), t);
        m.get_mut("a").unwrap().count = 3;
        let t2 = update(&t, &m);
        assert!(t2.contains("- `a/` (3 files) — about a"));
        assert_eq!(t2.len(), t.len());
    }
}
