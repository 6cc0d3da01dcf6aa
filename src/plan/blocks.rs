//! First pass of the parser: pulldown-cmark events to a flat list of blocks.
//!
//! A block is a heading, a paragraph or a list item, with its inline text split
//! into source lines (soft breaks separate `**Key**: value` lines that markdown
//! folds into one paragraph), the bold text that leads each line, the inline
//! code spans, and byte offsets into the source. The second pass
//! (`parse.rs`) reads plan structure off these blocks.

use std::borrow::Cow;
use std::ops::Range;

use pulldown_cmark::{Event, HeadingLevel, Options, Parser, Tag, TagEnd};

use super::model::{Marker, Status};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BlockKind {
    Heading(u8),
    Paragraph,
    Item,
}

/// One source line of a block's inline content.
#[derive(Clone, Debug, Default)]
pub struct Line {
    pub text: String,
    /// The text of a bold span that starts the line (`**Step 0: Read**`).
    pub strong: Option<String>,
    /// Inline code spans on the line, without backticks.
    pub code: Vec<String>,
    /// Byte offset of the line's first inline event.
    pub offset: usize,
}

#[derive(Clone, Debug)]
pub struct Block {
    pub kind: BlockKind,
    /// Nesting depth of lists around the block (0 = top level; an item of a
    /// top-level list has depth 1).
    pub depth: usize,
    /// Index of the enclosing item block, for content nested in a list item.
    pub parent: Option<usize>,
    pub range: Range<usize>,
    pub lines: Vec<Line>,
    /// For items: the checkbox right after the bullet.
    pub marker: Option<Marker>,
    /// For items of ordered lists: the number written before the dot.
    pub ordinal: Option<u32>,
}

impl Block {
    /// The block's lines joined by spaces (borrowed when there is one line,
    /// as for most blocks: the parser calls this for every block).
    pub fn text(&self) -> Cow<'_, str> {
        match self.lines.as_slice() {
            [] => Cow::Borrowed(""),
            [one] => Cow::Borrowed(&one.text),
            many => {
                let len = many.iter().map(|l| l.text.len() + 1).sum();
                let mut s = String::with_capacity(len);
                for (i, l) in many.iter().enumerate() {
                    if i > 0 {
                        s.push(' ');
                    }
                    s.push_str(&l.text);
                }
                Cow::Owned(s)
            }
        }
    }

    pub fn first(&self) -> &str {
        self.lines.first().map(|l| l.text.as_str()).unwrap_or("")
    }

    pub fn first_strong(&self) -> Option<&str> {
        self.lines.first().and_then(|l| l.strong.as_deref())
    }
}

struct Open {
    block: usize,
    strong_depth: usize,
    /// Inside a strong span that started a line: collect its text.
    lead_strong: Option<String>,
    lead_strong_open: bool,
}

/// Parse `text` into blocks. Never panics on any input.
pub fn blocks(text: &str) -> Vec<Block> {
    let opts = Options::ENABLE_TABLES | Options::ENABLE_STRIKETHROUGH;
    let parser = Parser::new_ext(text, opts).into_offset_iter();

    // Plans hold about one block per 50 bytes; sizing once avoids copying
    // the growing list again and again.
    let mut out: Vec<Block> = Vec::with_capacity(text.len() / 50 + 8);
    // Stack of open list items (block indices).
    let mut items: Vec<usize> = Vec::new();
    let mut list_depth = 0usize;
    // The block receiving inline content now.
    let mut cur: Option<Open> = None;
    // Inside a code block, table or html block: ignore inline content.
    let mut opaque = 0usize;

    for (event, range) in parser {
        match event {
            Event::Start(tag) => match tag {
                Tag::Heading { level, .. } => {
                    let idx = push(
                        &mut out,
                        BlockKind::Heading(level_num(level)),
                        list_depth,
                        items.last().copied(),
                        range.clone(),
                    );
                    cur = Some(Open::new(idx));
                }
                Tag::Paragraph => {
                    // The first paragraph of an item is the item's own text.
                    if let Some(&it) = items.last() {
                        if out[it].lines.is_empty() && cur.as_ref().map(|c| c.block) == Some(it) {
                            continue;
                        }
                    }
                    let idx = push(
                        &mut out,
                        BlockKind::Paragraph,
                        list_depth,
                        items.last().copied(),
                        range.clone(),
                    );
                    cur = Some(Open::new(idx));
                }
                Tag::List(_) => {
                    list_depth += 1;
                    cur = None;
                }
                Tag::Item => {
                    let idx = push(
                        &mut out,
                        BlockKind::Item,
                        list_depth,
                        items.last().copied(),
                        range.clone(),
                    );
                    let (marker, ordinal) = item_prefix(text, range.start);
                    out[idx].marker = marker;
                    out[idx].ordinal = ordinal;
                    items.push(idx);
                    cur = Some(Open::new(idx));
                }
                Tag::CodeBlock(_) | Tag::Table(_) | Tag::HtmlBlock | Tag::MetadataBlock(_) => {
                    opaque += 1;
                }
                Tag::Strong => {
                    if let Some(c) = cur.as_mut() {
                        c.strong_depth += 1;
                        let b = &out[c.block];
                        let at_line_start = b
                            .lines
                            .last()
                            .map(|l| l.text.trim().is_empty() || is_marker_only(&l.text))
                            .unwrap_or(true);
                        if c.strong_depth == 1 && at_line_start && c.lead_strong.is_none() {
                            c.lead_strong = Some(String::new());
                            c.lead_strong_open = true;
                        }
                    }
                }
                _ => {}
            },
            Event::End(tag) => match tag {
                TagEnd::Heading(_) | TagEnd::Paragraph => {
                    if let Some(c) = cur.take() {
                        finish(&mut out, c);
                    }
                    // Back to the enclosing item, so later paragraphs of a loose
                    // item are not mistaken for its first one.
                    if let Some(&it) = items.last() {
                        cur = Some(Open::new(it));
                        cur.as_mut().unwrap().lead_strong = None;
                        if out[it].lines.is_empty() {
                            out[it].lines.push(Line::default());
                        }
                    }
                }
                TagEnd::Item => {
                    if let Some(c) = cur.take() {
                        finish(&mut out, c);
                    }
                    if let Some(it) = items.pop() {
                        out[it].range.end = range.end.max(out[it].range.start);
                        strip_marker_text(&mut out[it]);
                    }
                    cur = items.last().map(|&it| Open::new(it));
                }
                TagEnd::List(_) => {
                    list_depth = list_depth.saturating_sub(1);
                    cur = items.last().map(|&it| Open::new(it));
                }
                TagEnd::CodeBlock
                | TagEnd::Table
                | TagEnd::HtmlBlock
                | TagEnd::MetadataBlock(_) => {
                    opaque = opaque.saturating_sub(1);
                }
                TagEnd::Strong => {
                    if let Some(c) = cur.as_mut() {
                        c.strong_depth = c.strong_depth.saturating_sub(1);
                        if c.strong_depth == 0 && c.lead_strong_open {
                            c.lead_strong_open = false;
                            // Move the text out: once closed it is never read
                            // again, and `Some` (now empty) still marks the line
                            // as having had its lead.
                            let mut s = c
                                .lead_strong
                                .as_mut()
                                .map(std::mem::take)
                                .unwrap_or_default();
                            let b = &mut out[c.block];
                            if b.lines.is_empty() {
                                b.lines.push(Line {
                                    offset: range.start,
                                    ..Line::default()
                                });
                            }
                            if let Some(l) = b.lines.last_mut() {
                                if l.strong.is_none() {
                                    trim_in_place(&mut s);
                                    l.strong = Some(s);
                                }
                            }
                        }
                    }
                }
                _ => {}
            },
            Event::Text(t) if opaque == 0 => {
                inline(text, &mut out, cur.as_mut(), &t, range.start, false)
            }
            Event::Code(t) if opaque == 0 => {
                inline(text, &mut out, cur.as_mut(), &t, range.start, true)
            }
            Event::SoftBreak | Event::HardBreak if opaque == 0 => {
                if let Some(c) = cur.as_mut() {
                    let b = &mut out[c.block];
                    b.lines.push(Line {
                        offset: range.end,
                        ..Line::default()
                    });
                    // A bold span can only lead the line it starts on.
                    if !c.lead_strong_open {
                        c.lead_strong = None;
                    }
                }
            }
            _ => {}
        }
    }
    for b in &mut out {
        b.lines
            .retain(|l| !l.text.trim().is_empty() || l.strong.is_some());
        for l in &mut b.lines {
            trim_in_place(&mut l.text);
        }
    }
    out
}

/// `s.trim()` without a new allocation.
fn trim_in_place(s: &mut String) {
    let end = s.trim_end().len();
    s.truncate(end);
    let start = s.len() - s.trim_start().len();
    if start > 0 {
        s.drain(..start);
    }
}

fn inline(src: &str, out: &mut [Block], cur: Option<&mut Open>, t: &str, at: usize, is_code: bool) {
    let Some(c) = cur else { return };
    let b = &mut out[c.block];
    if b.lines.is_empty() {
        b.lines.push(Line {
            offset: at,
            ..Line::default()
        });
    }
    let l = b.lines.last_mut().expect("a line was pushed");
    if l.text.is_empty() {
        l.offset = at;
        // A line's text arrives in several events: size it once, to the
        // rest of its source line, instead of growing it event by event.
        if l.text.capacity() == 0 {
            let rest = src.as_bytes().get(at..).unwrap_or(&[]);
            let len = memchr::memchr(b'\n', rest).unwrap_or(rest.len());
            l.text.reserve(len.max(t.len()));
        }
    }
    l.text.push_str(t);
    if is_code {
        l.code.push(t.to_string());
    }
    if c.lead_strong_open {
        if let Some(s) = c.lead_strong.as_mut() {
            s.push_str(t);
        }
    }
}

impl Open {
    fn new(block: usize) -> Self {
        Open {
            block,
            strong_depth: 0,
            lead_strong: None,
            lead_strong_open: false,
        }
    }
}

fn push(
    out: &mut Vec<Block>,
    kind: BlockKind,
    depth: usize,
    parent: Option<usize>,
    range: Range<usize>,
) -> usize {
    out.push(Block {
        kind,
        depth,
        parent,
        range,
        // Most blocks are one line.
        lines: Vec::with_capacity(1),
        marker: None,
        ordinal: None,
    });
    out.len() - 1
}

fn finish(out: &mut [Block], c: Open) {
    if c.lead_strong_open {
        // An unclosed bold span: keep what it held as the line's lead.
        if let Some(s) = c.lead_strong {
            if let Some(l) = out[c.block].lines.last_mut() {
                if l.strong.is_none() {
                    l.strong = Some(s.trim().to_string());
                }
            }
        }
    }
}

fn level_num(l: HeadingLevel) -> u8 {
    match l {
        HeadingLevel::H1 => 1,
        HeadingLevel::H2 => 2,
        HeadingLevel::H3 => 3,
        HeadingLevel::H4 => 4,
        HeadingLevel::H5 => 5,
        HeadingLevel::H6 => 6,
    }
}

/// The status a checkbox character stands for.
pub fn marker_status(c: char) -> Option<Status> {
    match c {
        ' ' => Some(Status::Pending),
        'x' | 'X' | '✓' | '✔' => Some(Status::Done),
        '/' => Some(Status::Partial),
        _ => None,
    }
}

/// Find a checkbox `[c]` at `at` in `text`; returns its span and status.
pub fn marker_at(text: &str, at: usize) -> Option<Marker> {
    let rest = text.get(at..)?;
    let mut chars = rest.char_indices();
    let (_, open) = chars.next()?;
    if open != '[' {
        return None;
    }
    let (_, c) = chars.next()?;
    let (close_at, close) = chars.next()?;
    if close != ']' {
        return None;
    }
    let status = marker_status(c)?;
    Some(Marker {
        span: at..at + close_at + 1,
        status,
    })
}

/// The checkbox and ordered-list number at the start of a list item.
fn item_prefix(text: &str, start: usize) -> (Option<Marker>, Option<u32>) {
    let bytes = text.as_bytes();
    let mut i = start;
    while i < bytes.len() && (bytes[i] == b' ' || bytes[i] == b'\t') {
        i += 1;
    }
    let mut ordinal = None;
    if i < bytes.len() && matches!(bytes[i], b'-' | b'*' | b'+') {
        i += 1;
    } else {
        let d0 = i;
        while i < bytes.len() && bytes[i].is_ascii_digit() && i - d0 < 9 {
            i += 1;
        }
        if i > d0 && i < bytes.len() && matches!(bytes[i], b'.' | b')') {
            ordinal = text[d0..i].parse().ok();
            i += 1;
        } else {
            return (None, None);
        }
    }
    while i < bytes.len() && (bytes[i] == b' ' || bytes[i] == b'\t') {
        i += 1;
    }
    (marker_at(text, i), ordinal)
}

fn is_marker_only(s: &str) -> bool {
    let t = s.trim();
    let mut c = t.chars();
    t.starts_with('[')
        && t.ends_with(']')
        && c.clone().count() == 3
        && marker_status(c.nth(1).unwrap_or('?')).is_some()
}

/// The item text arrives as "[ ] PART 1: …": drop the checkbox from it.
fn strip_marker_text(b: &mut Block) {
    if b.marker.is_none() {
        return;
    }
    if let Some(l) = b.lines.first_mut() {
        let t = l.text.trim_start();
        if let Some(m) = t.strip_prefix('[') {
            let mut it = m.char_indices();
            if let (Some(_), Some((j, ']'))) = (it.next(), it.next()) {
                let rest = m[j + 1..].trim_start();
                let cut = l.text.len() - rest.len();
                l.text.drain(..cut);
            }
        }
    }
}

/// Byte offsets of line starts, for offset → line number.
pub struct Lines {
    starts: Vec<usize>,
}

impl Lines {
    pub fn new(text: &str) -> Self {
        let mut starts = Vec::with_capacity(text.len() / 40 + 1);
        starts.push(0);
        starts.extend(memchr::memchr_iter(b'\n', text.as_bytes()).map(|i| i + 1));
        Lines { starts }
    }

    /// 1-based line of a byte offset.
    pub fn line(&self, offset: usize) -> usize {
        match self.starts.binary_search(&offset) {
            Ok(i) => i + 1,
            Err(i) => i,
        }
    }

    /// Byte offset where the line holding `offset` ends (before `\r\n` or `\n`).
    pub fn line_end(&self, text: &str, offset: usize) -> usize {
        let l = self.line(offset);
        let end = self.starts.get(l).map(|&s| s - 1).unwrap_or(text.len());
        let b = text.as_bytes();
        if end > 0 && end <= b.len() && b.get(end - 1) == Some(&b'\r') {
            end - 1
        } else {
            end
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metadata_lines_keep_their_bold_keys() {
        let t = "# T\n\n**Date**: 2025\n**Goal**: more\n";
        let b = blocks(t);
        assert_eq!(b.len(), 2);
        assert_eq!(b[1].lines.len(), 2);
        assert_eq!(b[1].lines[0].strong.as_deref(), Some("Date"));
        assert_eq!(b[1].lines[0].text, "Date: 2025");
        assert_eq!(b[1].lines[1].strong.as_deref(), Some("Goal"));
    }

    #[test]
    fn item_markers_have_exact_spans() {
        let t = "- [✓] PART 1: Create a/00-x.md\n- [ ] Read b.md\n  - nested\n";
        let b = blocks(t);
        let items: Vec<_> = b.iter().filter(|b| b.kind == BlockKind::Item).collect();
        assert_eq!(items.len(), 3);
        let m = items[0].marker.clone().unwrap();
        assert_eq!(&t[m.span.clone()], "[✓]");
        assert_eq!(m.status, Status::Done);
        assert_eq!(items[0].first(), "PART 1: Create a/00-x.md");
        assert_eq!(&t[items[1].marker.clone().unwrap().span], "[ ]");
        assert_eq!(items[2].depth, 2);
        assert_eq!(
            items[2].parent,
            Some(b.iter().position(|x| x.first() == "Read b.md").unwrap())
        );
    }

    #[test]
    fn ordered_items_keep_their_numbers() {
        let t = "5. `a/00.md` - x\n6. `a/01.md` - y\n";
        let b = blocks(t);
        assert_eq!(b[0].ordinal, Some(5));
        assert_eq!(b[1].ordinal, Some(6));
        assert_eq!(b[0].lines[0].code, vec!["a/00.md".to_string()]);
    }

    #[test]
    fn lines_map_offsets() {
        let t = "a\nbc\r\nd";
        let l = Lines::new(t);
        assert_eq!(l.line(0), 1);
        assert_eq!(l.line(2), 2);
        assert_eq!(l.line(6), 3);
        assert_eq!(l.line_end(t, 2), 4);
    }
}
