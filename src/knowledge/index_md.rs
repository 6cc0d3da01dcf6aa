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

/// One entry of an index, as the markdown model reads it: a table row or
/// a list item that names a file or a folder. Prose lines are not entries.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    /// 1-based line.
    pub line: usize,
    /// What it names, as written (percent-decoded, `#fragment` dropped),
    /// relative to the index's folder: `b/00-x.md`, `00-x.md`, `sub/`.
    pub named: String,
    /// A row of a `| File | Description | Lines |` table: one expand
    /// maintains.
    pub managed: bool,
}

impl Entry {
    /// A folder row (`sub/`), which hands the folder to its own index.
    pub fn is_folder(&self) -> bool {
        self.named.ends_with('/')
    }
}

/// What a row's first cell or an item's text names: the destination of its
/// first link, else a backticked name, else a bare `*.md` name; a folder
/// when it ends with `/`. URLs and anchors name nothing.
fn named_in(raw: &str) -> Option<String> {
    let doc = crate::markdown::Doc::parse(raw);
    let pick = |s: &str| -> Option<String> {
        let s = s.split('#').next().unwrap_or("").trim();
        let s = s.trim_start_matches("./");
        (!s.is_empty() && !crate::markdown::source::is_url(s) && !s.contains("://"))
            .then(|| s.to_string())
    };
    if let Some(l) = doc.links.iter().find(|l| !l.image) {
        return pick(&l.decoded);
    }
    let mut ticks = raw.split('`').skip(1).step_by(2);
    if let Some(t) = ticks.find(|t| t.ends_with(".md") || t.ends_with('/')) {
        return pick(t);
    }
    md_names(raw).next().and_then(pick)
}

fn is_managed_header(cells: &[String]) -> bool {
    let c: Vec<String> = cells.iter().map(|c| c.trim().to_lowercase()).collect();
    c == ["file", "description", "lines"]
}

/// Every entry of an index: the rows of its tables (their header rows
/// aside) and its list items, each with what it names.
pub fn entries(text: &str) -> Vec<Entry> {
    let doc = crate::markdown::Doc::parse(text);
    let mut out = Vec::new();
    for t in &doc.tables {
        let managed = t.rows.first().is_some_and(|h| is_managed_header(&h.cells));
        for r in t.rows.iter().skip(1) {
            if let Some(named) = r.raw.first().and_then(|c| named_in(c)) {
                out.push(Entry {
                    line: r.line,
                    named,
                    managed,
                });
            }
        }
    }
    for it in &doc.items {
        if let Some(named) = named_in(&it.raw) {
            out.push(Entry {
                line: it.line,
                named,
                managed: false,
            });
        }
    }
    // A heading that names a folder (`### codebases/`) describes it, and
    // hands it to that folder's own index like a folder row.
    for h in &doc.headings {
        let t = h.text.trim().trim_matches('`');
        if t.ends_with('/') && t.len() > 1 && !t.contains(char::is_whitespace) && !t.contains("://")
        {
            out.push(Entry {
                line: h.line,
                named: t.trim_start_matches("./").to_string(),
                managed: false,
            });
        }
    }
    out.sort_by_key(|e| e.line);
    out
}

/// The rows of `| File | Description | Lines |` tables: the ones expand may
/// add and remove.
pub fn managed_rows(text: &str) -> Vec<Found> {
    entries(text)
        .into_iter()
        .filter(|e| e.managed)
        .map(|e| Found {
            line: e.line - 1,
            file: e.named,
        })
        .collect()
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

/// Add `rows` under `## <heading>` (creating the section and its table when
/// missing). A file the index already lists, in any form (a link, a
/// backticked name, a bare name, in a table or a list), is left as it is:
/// a file is never listed twice. New rows go in file-name order. Returns
/// the new text (equal to `text` when nothing was added).
pub fn add_rows(text: &str, heading: &str, rows: &[Row]) -> String {
    let listed: BTreeSet<String> = entries(text).into_iter().map(|e| e.named).collect();
    let name = |f: &str| f.rsplit('/').next().unwrap_or(f).to_string();
    let named_names: BTreeSet<String> = listed.iter().map(|l| name(l)).collect();
    let mut todo: Vec<&Row> = rows
        .iter()
        .filter(|r| !listed.contains(&r.file))
        // A bare name lists the file when it is the only one by that name
        // the rows bring (an index of one folder names its files so).
        .filter(|r| {
            !(named_names.contains(&name(&r.file))
                && listed
                    .iter()
                    .any(|l| !l.contains('/') && *l == name(&r.file)))
        })
        .collect();
    if todo.is_empty() {
        return text.to_string();
    }
    todo.sort_by(|a, b| a.file.cmp(&b.file));
    todo.dedup_by(|a, b| a.file == b.file);
    let mut lines = split_keep(text);
    if lines.is_empty() {
        lines.push("# Knowledge Base Index".into());
        return add_rows(&join(&lines, true), heading, rows);
    }
    let doc = crate::markdown::Doc::parse(text);
    // The section: a `## <heading>` and the lines up to the next heading
    // of level 2 or above, as the markdown model reads them.
    let section = doc
        .sections()
        .into_iter()
        .find(|&(h, _, _)| doc.headings[h].level == 2 && doc.headings[h].text == heading);
    let Some((_, first, last)) = section else {
        // A new section, before the first `## x/` section sorting after it.
        let at = doc
            .headings
            .iter()
            .find(|h| h.level == 2 && h.text.ends_with('/') && h.text.as_str() > heading)
            .map(|h| h.line - 1);
        let block = [
            format!("## {heading}"),
            String::new(),
            TABLE_HEADER.to_string(),
            TABLE_RULE.to_string(),
        ];
        match at {
            Some(at) => {
                lines.splice(at..at, block.into_iter().chain([String::new()]));
            }
            None => {
                while lines.last().is_some_and(|l| l.trim().is_empty()) {
                    lines.pop();
                }
                lines.push(String::new());
                lines.extend(block);
            }
        }
        return add_rows(&join(&lines, true), heading, rows);
    };
    // Its managed table.
    let table = doc.tables.iter().find(|t| {
        t.line > first
            && t.line <= last
            && t.rows.first().is_some_and(|h| is_managed_header(&h.cells))
    });
    let Some(table) = table else {
        let mut at = last;
        while at > first && lines[at - 1].trim().is_empty() {
            at -= 1;
        }
        lines.splice(
            at..at,
            [
                String::new(),
                TABLE_HEADER.to_string(),
                TABLE_RULE.to_string(),
            ],
        );
        return add_rows(&join(&lines, true), heading, rows);
    };
    // Rows in file order: each new one before the first row naming a later
    // file, else after the last row (or the rule line).
    let body: Vec<(usize, Option<String>)> = table
        .rows
        .iter()
        .skip(1)
        .map(|r| (r.line - 1, r.raw.first().and_then(|c| named_in(c))))
        .collect();
    let end = body.last().map_or(table.line + 1, |(l, _)| l + 1);
    for (inserted, r) in todo.into_iter().enumerate() {
        let at = body
            .iter()
            .find(|(_, f)| f.as_deref().is_some_and(|f| f > r.file.as_str()))
            .map_or(end, |(l, _)| *l);
        // New rows come in file order: every one inserted before went in
        // at or above this place, and moved it down by one.
        lines.insert(at + inserted, r.render());
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
    fn entries_are_rows_and_items_in_every_form() {
        let t = "# I\n\nProse naming `99-prose.md` is no entry.\n\n| File | Description | Lines |\n|---|---|---|\n\
                 | [00-a.md](b/00-a.md) | first | 10 |\n\n| Name | What |\n|---|---|\n| `01-b.md` | second |\n\n\
                 - [My File](My%20File.md)\n- 03-c.md - bare\n- [sub](sub/) folder\n- `x_(y).md` parens\n- [web](https://e.com/x.md)\n";
        let all = entries(t);
        let e: Vec<(usize, &str, bool)> = all
            .iter()
            .map(|e| (e.line, e.named.as_str(), e.managed))
            .collect();
        assert_eq!(
            e,
            [
                (7, "b/00-a.md", true),
                (11, "01-b.md", false),
                (13, "My File.md", false),
                (14, "03-c.md", false),
                (15, "sub/", false),
                (16, "x_(y).md", false),
            ]
        );
        assert!(entries(t)[4].is_folder());
    }

    #[test]
    fn a_file_listed_in_backticks_is_not_listed_twice() {
        let t = "# I\n\n## b/\n\n| File | What |\n|---|---|\n| `b/00-a.md` | hand row |\n";
        assert_eq!(add_rows(t, "b/", &[row("b/00-a.md")]), t);
        let t = "# I\n\n- `00-a.md` - hand item\n";
        assert_eq!(add_rows(t, "./", &[row("00-a.md")]), t);
    }
}
