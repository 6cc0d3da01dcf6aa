//! The `INDEX.md` format: `## <folder>/` headings, each with a
//! `| File | Description | Lines |` table whose rows link to files. expand only
//! ever adds or removes rows of such tables (the *managed* rows); every other
//! line of the file, hand-written or not, is kept byte for byte.

use std::collections::BTreeSet;

/// The header of the tables expand manages.
pub const TABLE_HEADER: &str = "| File | Description | Lines |";
const TABLE_RULE: &str = "|---|---|---|";

/// One row of a managed table. `file` is relative to the index's folder.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Row {
    pub file: String,
    pub description: String,
    pub lines: usize,
}

impl Row {
    pub fn render(&self) -> String {
        let name = self.file.rsplit('/').next().unwrap_or(&self.file);
        let desc = self.description.replace('|', "\\|").replace('\n', " ");
        format!(
            "| [{name}]({}) | {} | {} |",
            self.file,
            desc.trim(),
            self.lines
        )
    }
}

/// A managed row found in an index: its 0-based line and the file it names.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Found {
    pub line: usize,
    pub file: String,
}

fn is_header(line: &str) -> bool {
    let cells: Vec<String> = line
        .trim()
        .trim_matches('|')
        .split('|')
        .map(|c| c.trim().to_lowercase())
        .collect();
    cells == ["file", "description", "lines"]
}

fn is_rule(line: &str) -> bool {
    let t = line.trim();
    t.starts_with('|') && t.chars().all(|c| matches!(c, '|' | '-' | ':' | ' '))
}

/// The file a table row names: the link target of its first cell, else a
/// backticked path, else the cell text.
pub fn row_file(line: &str) -> Option<String> {
    let t = line.trim();
    if !t.starts_with('|') {
        return None;
    }
    let cell = t[1..].split('|').next()?.trim();
    if let (Some(a), Some(b)) = (cell.find("]("), cell.rfind(')')) {
        if b > a + 2 {
            return Some(cell[a + 2..b].trim().to_string());
        }
    }
    let c = cell.trim_matches('`').trim();
    (!c.is_empty()).then(|| c.to_string())
}

/// Every managed row: rows of `| File | Description | Lines |` tables.
pub fn managed_rows(text: &str) -> Vec<Found> {
    let lines: Vec<&str> = text.lines().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        if is_header(lines[i]) && lines.get(i + 1).map(|l| is_rule(l)).unwrap_or(false) {
            i += 2;
            while i < lines.len() && lines[i].trim_start().starts_with('|') {
                if let Some(f) = row_file(lines[i]) {
                    out.push(Found { line: i, file: f });
                }
                i += 1;
            }
        } else {
            i += 1;
        }
    }
    out
}

/// Every `*.md` name the index mentions anywhere (links, backticks, bare
/// words), as written: how audit decides a file is listed, for indexes that
/// expand did not write.
pub fn mentions(text: &str) -> BTreeSet<String> {
    md_names(text).map(str::to_string).collect()
}

/// The `*.md` names in `text` in order (link targets, backticks or bare
/// words: a run of name characters ending in `.md`), without a leading `./`.
pub fn md_names(text: &str) -> impl Iterator<Item = &str> {
    let b = text.as_bytes();
    memchr::memmem::find_iter(b, b".md").filter_map(move |pos| {
        let end = pos + 3;
        if b.get(end).is_some_and(|c| c.is_ascii_alphanumeric()) {
            return None;
        }
        let mut start = pos;
        while start > 0 {
            let c = b[start - 1];
            if c.is_ascii_alphanumeric() || matches!(c, b'-' | b'_' | b'.' | b'/' | b'+') {
                start -= 1;
            } else {
                break;
            }
        }
        (start < pos).then(|| text[start..end].trim_start_matches("./"))
    })
}

fn split_keep(text: &str) -> Vec<String> {
    text.lines().map(str::to_string).collect()
}

fn join(lines: &[String], trailing_newline: bool) -> String {
    let mut s = lines.join("\n");
    if trailing_newline || !s.is_empty() {
        s.push('\n');
    }
    s
}

fn heading_of(line: &str) -> Option<(usize, &str)> {
    let t = line.trim_end();
    let level = t.bytes().take_while(|&c| c == b'#').count();
    if level == 0 || level > 6 || !t[level..].starts_with(' ') {
        return None;
    }
    Some((level, t[level..].trim()))
}

/// Add `rows` under `## <heading>` (creating the section and its table when
/// missing). A row whose file is already listed anywhere in a managed table
/// is left as it is. New rows go in file-name order. Returns the new text
/// (equal to `text` when nothing was added).
pub fn add_rows(text: &str, heading: &str, rows: &[Row]) -> String {
    let listed: BTreeSet<String> = managed_rows(text).into_iter().map(|f| f.file).collect();
    let mut todo: Vec<&Row> = rows.iter().filter(|r| !listed.contains(&r.file)).collect();
    if todo.is_empty() {
        return text.to_string();
    }
    todo.sort_by(|a, b| a.file.cmp(&b.file));
    todo.dedup_by(|a, b| a.file == b.file);
    let mut lines = split_keep(text);
    if lines.is_empty() {
        lines.push("# Knowledge Base Index".into());
    }
    // Find the section.
    let sec = lines
        .iter()
        .position(|l| heading_of(l).map(|(lv, h)| lv == 2 && h == heading) == Some(true));
    let sec = match sec {
        Some(s) => s,
        None => {
            // Insert a new section before the first `## x/` heading sorting after it.
            let at = lines
                .iter()
                .position(|l| {
                    heading_of(l)
                        .map(|(lv, h)| lv == 2 && h.ends_with('/') && h > heading)
                        .unwrap_or(false)
                })
                .unwrap_or(lines.len());
            let mut block = vec![
                format!("## {heading}"),
                String::new(),
                TABLE_HEADER.to_string(),
                TABLE_RULE.to_string(),
                String::new(),
            ];
            if at == lines.len() {
                while lines.last().map(|l| l.trim().is_empty()).unwrap_or(false) {
                    lines.pop();
                }
                lines.push(String::new());
                block.pop();
                let at = lines.len();
                lines.splice(at..at, block);
                return add_rows(&join(&lines, true), heading, rows);
            }
            lines.splice(at..at, block);
            return add_rows(&join(&lines, true), heading, rows);
        }
    };
    let end = lines[sec + 1..]
        .iter()
        .position(|l| heading_of(l).map(|(lv, _)| lv <= 2).unwrap_or(false))
        .map(|p| sec + 1 + p)
        .unwrap_or(lines.len());
    let table = (sec + 1..end)
        .find(|&i| is_header(&lines[i]) && lines.get(i + 1).map(|l| is_rule(l)).unwrap_or(false));
    let table = match table {
        Some(t) => t,
        None => {
            let mut at = end;
            while at > sec + 1 && lines[at - 1].trim().is_empty() {
                at -= 1;
            }
            let block = vec![
                String::new(),
                TABLE_HEADER.to_string(),
                TABLE_RULE.to_string(),
            ];
            lines.splice(at..at, block);
            at + 1
        }
    };
    let first_row = table + 2;
    let mut last = first_row;
    while last < lines.len() && lines[last].trim_start().starts_with('|') {
        last += 1;
    }
    for r in todo {
        let mut at = last;
        if let Some(p) = lines[first_row..last]
            .iter()
            .position(|l| row_file(l).is_some_and(|f| f > r.file))
        {
            at = first_row + p;
        }
        lines.insert(at, r.render());
        last += 1;
    }
    join(&lines, true)
}

/// Remove the managed rows naming any of `files`. Other lines stay.
pub fn remove_rows(text: &str, files: &BTreeSet<String>) -> String {
    let drop: BTreeSet<usize> = managed_rows(text)
        .into_iter()
        .filter(|f| files.contains(&f.file))
        .map(|f| f.line)
        .collect();
    if drop.is_empty() {
        return text.to_string();
    }
    let lines: Vec<String> = text
        .lines()
        .enumerate()
        .filter(|(i, _)| !drop.contains(i))
        .map(|(_, l)| l.to_string())
        .collect();
    join(&lines, text.ends_with('\n'))
}

#[cfg(test)]
mod tests {
    use super::*;

    const BASE: &str = "# Index\n\nHand text.\n\n## b/\n\nAbout b.\n\n| File | Description | Lines |\n|---|---|---|\n| [00-a.md](b/00-a.md) | first | 10 |\n| [02-c.md](b/02-c.md) | third | 30 |\n\n## d/\n\nmore\n";

    fn row(f: &str) -> Row {
        Row {
            file: f.into(),
            description: "new".into(),
            lines: 5,
        }
    }

    #[test]
    fn adds_sorted_and_keeps_hand_text() {
        let t = add_rows(BASE, "b/", &[row("b/01-b.md")]);
        assert!(t.contains("Hand text.\n") && t.contains("About b.\n") && t.contains("more\n"));
        let order: Vec<String> = managed_rows(&t).into_iter().map(|f| f.file).collect();
        assert_eq!(order, ["b/00-a.md", "b/01-b.md", "b/02-c.md"]);
        // Idempotent.
        assert_eq!(add_rows(&t, "b/", &[row("b/01-b.md")]), t);
    }

    #[test]
    fn new_section_goes_in_order() {
        let t = add_rows(BASE, "c/", &[row("c/00-x.md")]);
        let c = t.find("## c/").unwrap();
        assert!(
            t.find("## b/").unwrap() < c && c < t.find("## d/").unwrap(),
            "{t}"
        );
        let t2 = add_rows(&t, "z/", &[row("z/00-x.md")]);
        assert!(
            t2.trim_end()
                .ends_with("| [00-x.md](z/00-x.md) | new | 5 |"),
            "{t2}"
        );
        let t3 = add_rows("", "a/", &[row("a/00-x.md")]);
        assert_eq!(managed_rows(&t3).len(), 1);
    }

    #[test]
    fn removes_only_named_rows() {
        let t = remove_rows(BASE, &["b/00-a.md".to_string()].into_iter().collect());
        assert!(!t.contains("00-a.md") && t.contains("02-c.md") && t.contains("Hand text."));
    }

    #[test]
    fn mentions_finds_names() {
        let m = mentions("- `00-x.md` - a\n[y](sub/01-y.md) and ./02-z.md.");
        assert!(m.contains("00-x.md") && m.contains("sub/01-y.md") && m.contains("02-z.md"));
    }
}
