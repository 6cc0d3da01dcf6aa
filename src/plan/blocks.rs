//! First pass of the parser: pulldown-cmark events to a flat list of blocks.
//!
//! A block is a heading, a paragraph or a list item, with its inline text split
//! into source lines (soft breaks separate `**Key**: value` lines that markdown
//! folds into one paragraph), the bold text that leads each line, the inline
//! code spans, and byte offsets into the source. The second pass
//! (`parse.rs`) reads plan structure off these blocks.
//!
//! The inline text of every line goes into one append-only buffer, and lines,
//! bold leads and code spans are spans of it: a plan has thousands of lines,
//! and a string (and a list of strings) per line cost more than pulldown-cmark
//! itself took to produce the events.

use std::borrow::Cow;
use std::cell::{Cell, OnceCell};
use std::ops::Range;

use pulldown_cmark::{Event, HeadingLevel, Options, Parser, Tag, TagEnd};

use super::model::{Marker, SharedStr, Status};
use super::text::trim;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BlockKind {
    Heading(u8),
    Paragraph,
    Item,
}

/// `start..end` in a buffer; `Copy`, unlike `Range`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Span {
    start: usize,
    end: usize,
}

impl Span {
    fn at(pos: usize) -> Self {
        Span {
            start: pos,
            end: pos,
        }
    }

    fn is_empty(self) -> bool {
        self.start >= self.end
    }

    fn of(self, buf: &str) -> &str {
        buf.get(self.start..self.end).unwrap_or("")
    }

    /// The sub-span that `sub` (a slice of `self.of(buf)`) covers.
    fn narrow(self, buf: &str, sub: &str) -> Span {
        let whole = self.of(buf);
        let start = self.start + (sub.as_ptr() as usize - whole.as_ptr() as usize);
        Span {
            start,
            end: start + sub.len(),
        }
    }
}

/// One source line of a block's inline content, as stored.
#[derive(Clone, Debug)]
struct LineData {
    /// The block (index in `Blocks::list`) the line belongs to.
    block: usize,
    text: Span,
    strong: Option<Span>,
    /// Indices into `Blocks::code` holding this line's code spans (among
    /// others' when lines of two blocks interleave, which nesting allows).
    code: Range<usize>,
    offset: usize,
    /// False once dropped as empty.
    live: bool,
}

/// One source line of a block's inline content.
#[derive(Clone, Copy, Debug)]
pub struct Line<'a> {
    pub text: &'a str,
    /// The text of a bold span that starts the line (`**Step 0: Read**`).
    pub strong: Option<&'a str>,
    /// Byte offset of the line's first inline event.
    pub offset: usize,
    blocks: &'a Blocks,
    index: usize,
}

impl<'a> Line<'a> {
    /// Inline code spans on the line, without backticks.
    pub fn code(&self) -> impl Iterator<Item = &'a str> + 'a {
        let (bs, index) = (self.blocks, self.index);
        bs.code[bs.lines[index].code.clone()]
            .iter()
            .filter(move |(l, _)| *l == index)
            .map(move |(_, s)| s.of(bs.inline_text()))
    }
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
    /// For items: the checkbox right after the bullet.
    pub marker: Option<Marker>,
    /// For items of ordered lists: the number written before the dot.
    pub ordinal: Option<u32>,
    /// Index in `Blocks::list`; the block's lines carry it.
    id: usize,
    /// Indices into `Blocks::lines` from the block's first line to past its
    /// last (lines of nested blocks may sit between them).
    lines: Range<usize>,
}

/// The blocks of one text and the buffer their lines point into.
#[derive(Debug, Default)]
pub struct Blocks {
    pub list: Vec<Block>,
    buf: String,
    /// `buf` once complete, shared by the model strings made from it.
    shared: Option<SharedStr>,
    lines: Vec<LineData>,
    /// Code spans: (line index, span in `buf`).
    code: Vec<(usize, Span)>,
}

impl Blocks {
    /// `s` as a model string: a span of the shared inline text when `s` is
    /// a slice of it (a line, or part of one), a copy otherwise.
    pub fn share(&self, s: &str) -> SharedStr {
        match &self.shared {
            Some(shared) => shared.sub(s),
            None => SharedStr::from(s),
        }
    }

    /// The inline text lines point into: `buf` while blocks are built, the
    /// shared copy once they are done.
    fn inline_text(&self) -> &str {
        self.shared.as_deref().unwrap_or(&self.buf)
    }

    /// The live lines of a block, in order.
    pub fn lines<'a>(&'a self, b: &Block) -> impl Iterator<Item = Line<'a>> + 'a {
        let id = b.id;
        b.lines
            .clone()
            .filter(move |&k| self.lines[k].block == id && self.lines[k].live)
            .map(move |k| self.line(k))
    }

    fn line(&self, index: usize) -> Line<'_> {
        let l = &self.lines[index];
        Line {
            text: l.text.of(self.inline_text()),
            strong: l.strong.map(|s| s.of(self.inline_text())),
            offset: l.offset,
            blocks: self,
            index,
        }
    }

    /// Index of the block's first live line.
    fn first_index(&self, b: &Block) -> Option<usize> {
        // The first line in a block's range is its own: the filter is only
        // needed when that line was dropped as empty.
        let own = |k: &usize| self.lines[*k].block == b.id && self.lines[*k].live;
        let k = b.lines.start;
        if k < b.lines.end && own(&k) {
            Some(k)
        } else {
            b.lines.clone().find(own)
        }
    }

    pub fn first_line<'a>(&'a self, b: &Block) -> Option<Line<'a>> {
        self.first_index(b).map(|k| self.line(k))
    }

    /// The block's lines joined by spaces (borrowed when there is one line,
    /// as for most blocks: the parser calls this for every block).
    pub fn text<'a>(&'a self, b: &Block) -> Cow<'a, str> {
        if b.lines.len() == 1 {
            return Cow::Borrowed(self.first(b));
        }
        let mut lines = self.lines(b);
        let Some(first) = lines.next() else {
            return Cow::Borrowed("");
        };
        let Some(second) = lines.next() else {
            return Cow::Borrowed(first.text);
        };
        let mut s = String::with_capacity(first.text.len() + second.text.len() + 16);
        s.push_str(first.text);
        for l in std::iter::once(second).chain(lines) {
            s.push(' ');
            s.push_str(l.text);
        }
        Cow::Owned(s)
    }

    pub fn first<'a>(&'a self, b: &Block) -> &'a str {
        self.first_index(b)
            .map_or("", |k| self.lines[k].text.of(self.inline_text()))
    }

    pub fn first_strong<'a>(&'a self, b: &Block) -> Option<&'a str> {
        let k = self.first_index(b)?;
        self.lines[k].strong.map(|s| s.of(self.inline_text()))
    }

    /// Split a block before its `at`-th line: the block keeps the lines before
    /// it, and the rest becomes a paragraph (a step line that markdown read
    /// as a lazy continuation of an item).
    pub fn split(&self, b: &Block, at: usize) -> (Block, Block) {
        let cut = self
            .lines(b)
            .nth(at)
            .map_or(b.lines.end, |l| l.index)
            .max(b.lines.start);
        let head = Block {
            lines: b.lines.start..cut,
            ..b.clone()
        };
        let tail = Block {
            kind: BlockKind::Paragraph,
            marker: None,
            ordinal: None,
            lines: cut..b.lines.end,
            ..b.clone()
        };
        (head, tail)
    }

    fn has_lines(&self, b: usize) -> bool {
        !self.list[b].lines.is_empty()
    }

    /// The block's last line, if it has one.
    fn last_line(&mut self, b: usize) -> Option<&mut LineData> {
        let r = &self.list[b].lines;
        if r.is_empty() {
            None
        } else {
            self.lines.get_mut(r.end - 1)
        }
    }

    fn last_text(&self, b: usize) -> Option<&str> {
        let r = &self.list[b].lines;
        (!r.is_empty()).then(|| self.lines[r.end - 1].text.of(self.inline_text()))
    }

    /// Start a new line in block `b`.
    fn push_line(&mut self, b: usize, offset: usize) {
        let index = self.lines.len();
        self.lines.push(LineData {
            block: b,
            text: Span::at(self.buf.len()),
            strong: None,
            code: 0..0,
            offset,
            live: true,
        });
        let r = &mut self.list[b].lines;
        if r.start >= r.end {
            *r = index..index + 1;
        } else {
            r.end = index + 1;
        }
    }

    /// Append `t` to the last line of block `b`; returns where it went.
    fn append(&mut self, b: usize, t: &str, at: usize) -> Span {
        if !self.has_lines(b) {
            self.push_line(b, at);
        }
        let li = self.list[b].lines.end - 1;
        let len = self.buf.len();
        let l = &mut self.lines[li];
        if l.text.is_empty() {
            l.offset = at;
            l.text = Span::at(len);
        } else if l.text.end != len {
            // Another block's text came after this line's (nesting): copy the
            // line to the end of the buffer (rare, so a temporary copy will
            // do). The buffer only grows: spans into the old copy stay valid.
            let old = l.text;
            l.text = Span {
                start: len,
                end: len + (old.end - old.start),
            };
            let moved = old.of(&self.buf).to_owned();
            self.buf.push_str(&moved);
        }
        let w = self.buf.len();
        self.buf.push_str(t);
        let span = Span {
            start: w,
            end: self.buf.len(),
        };
        self.lines[li].text.end = span.end;
        span
    }

    fn push_code(&mut self, b: usize, span: Span) {
        let li = self.list[b].lines.end - 1;
        let k = self.code.len();
        self.code.push((li, span));
        let r = &mut self.lines[li].code;
        if r.start >= r.end {
            *r = k..k + 1;
        } else {
            r.end = k + 1;
        }
    }

    fn trim_span(&self, s: Span) -> Span {
        s.narrow(&self.buf, trim(s.of(&self.buf)))
    }
}

struct Open {
    block: usize,
    strong_depth: usize,
    /// Inside a strong span that started a line: the text it holds so far
    /// (`Some(None)` before any). `Some` also marks that the line had its lead.
    lead_strong: Option<Option<Span>>,
    lead_strong_open: bool,
}

/// Parse `text` into blocks. Never panics on any input.
pub fn blocks(text: &str) -> Blocks {
    blocks_in(text, 0..text.len()).0
}

/// The size of text [`Chunks`] hands to pulldown-cmark at a time.
pub const CHUNK: usize = 256 * 1024;

/// The blocks of `text` in pieces of about [`CHUNK`] bytes, each cut where
/// the whole text's block structure is closed, so the pieces' blocks are
/// exactly the whole text's.
///
/// pulldown-cmark builds a tree of the whole text before its first event,
/// about 12 bytes per byte of plan, and the block lists take about 4 more:
/// for a plan of 100,000 PARTs that was most of the process's memory. A
/// piece at a time, they take the same per piece, freed before the next.
///
/// A cut goes before a line that starts with `#` and follows a blank line:
/// that line starts a top-level block in the whole text too, unless an
/// unclosed fenced code or HTML block runs through it, which the piece
/// before it shows (such a block then reaches the piece's end: the cut
/// moves on). Link reference definitions apply to the whole text, so a
/// text that may hold one (`]:`) is one piece.
pub struct Chunks<'t> {
    text: &'t str,
    at: usize,
    size: usize,
}

/// The pieces of `text` (see [`Chunks`]); `size` is [`CHUNK`] but in tests.
pub fn chunks(text: &str, size: usize) -> Chunks<'_> {
    let whole = memchr::memmem::find(text.as_bytes(), b"]:").is_some();
    Chunks {
        text,
        at: 0,
        size: if whole { usize::MAX } else { size.max(1) },
    }
}

impl Iterator for Chunks<'_> {
    type Item = Blocks;

    fn next(&mut self) -> Option<Blocks> {
        let (text, start) = (self.text, self.at);
        if start >= text.len() && !(start == 0 && text.is_empty()) {
            return None;
        }
        let mut from = start.saturating_add(self.size);
        // A few tries at most: then the rest is one piece, as a whole text is.
        for _ in 0..8 {
            let Some(end) = cut_after(text, from) else {
                break;
            };
            let (bs, open_at_end) = blocks_in(text, start..end);
            if !open_at_end {
                self.at = end;
                return Some(bs);
            }
            from = end + 1;
        }
        self.at = text.len().max(1);
        Some(blocks_in(text, start..text.len()).0)
    }
}

/// The first line start at or after `from` where a piece may end: a line
/// beginning with `#` right after a blank line.
fn cut_after(text: &str, from: usize) -> Option<usize> {
    let b = text.as_bytes();
    let mut i = from;
    while i < b.len() {
        let nl = memchr::memmem::find(&b[i..], b"\n#")? + i;
        let line = nl + 1;
        // The line before `nl`'s: blank (spaces, tabs, `\r` only)?
        let prev = b[..nl]
            .iter()
            .rposition(|&c| c == b'\n')
            .map_or(0, |p| p + 1);
        if b[prev..nl]
            .iter()
            .all(|c| matches!(c, b' ' | b'\t' | b'\r'))
        {
            return Some(line);
        }
        i = line;
    }
    None
}

/// Parse `text[range]` into blocks whose offsets are offsets into `text`;
/// also says whether a code or HTML block may still be open at its end
/// (it reaches the last non-blank byte and is not visibly closed).
fn blocks_in(text: &str, range: Range<usize>) -> (Blocks, bool) {
    let opts = Options::ENABLE_TABLES | Options::ENABLE_STRIKETHROUGH;
    let base = range.start;
    let piece = &text[range];
    let parser = Parser::new_ext(piece, opts).into_offset_iter();
    let last = piece.trim_end().len();
    let mut open_at_end = false;

    // Plans hold about one block per 50 bytes and one line per 40; the
    // inline text is shorter than the source. Sizing once avoids copying
    // the growing lists again and again.
    let mut out = Blocks {
        list: Vec::with_capacity(piece.len() / 50 + 8),
        buf: String::with_capacity(piece.len() + 64),
        shared: None,
        lines: Vec::with_capacity(piece.len() / 40 + 8),
        code: Vec::with_capacity(piece.len() / 200 + 8),
    };
    // Stack of open list items (block indices).
    let mut items: Vec<usize> = Vec::new();
    let mut list_depth = 0usize;
    // The block receiving inline content now.
    let mut cur: Option<Open> = None;
    // Inside a code block, table or html block: ignore inline content.
    let mut opaque = 0usize;

    for (event, range) in parser {
        if let Event::End(TagEnd::CodeBlock | TagEnd::HtmlBlock) = event {
            if range.end >= last && !closed_fence(piece, range.clone()) {
                open_at_end = true;
            }
        }
        let range = range.start + base..range.end + base;
        // Matched by reference: the event is dropped once, not its tag
        // first and then the rest of it.
        match &event {
            Event::Start(tag) => match tag {
                Tag::Heading { level, .. } => {
                    let idx = push(
                        &mut out.list,
                        BlockKind::Heading(level_num(*level)),
                        list_depth,
                        items.last().copied(),
                        range.clone(),
                    );
                    cur = Some(Open::new(idx));
                }
                Tag::Paragraph => {
                    // The first paragraph of an item is the item's own text.
                    if let Some(&it) = items.last() {
                        if !out.has_lines(it) && cur.as_ref().map(|c| c.block) == Some(it) {
                            continue;
                        }
                    }
                    let idx = push(
                        &mut out.list,
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
                        &mut out.list,
                        BlockKind::Item,
                        list_depth,
                        items.last().copied(),
                        range.clone(),
                    );
                    let (marker, ordinal) = item_prefix(text, range.start);
                    out.list[idx].marker = marker;
                    out.list[idx].ordinal = ordinal;
                    items.push(idx);
                    cur = Some(Open::new(idx));
                }
                Tag::CodeBlock(_) | Tag::Table(_) | Tag::HtmlBlock | Tag::MetadataBlock(_) => {
                    opaque += 1;
                }
                Tag::Strong => {
                    if let Some(c) = cur.as_mut() {
                        c.strong_depth += 1;
                        let at_line_start = out
                            .last_text(c.block)
                            .map_or(true, |t| trim(t).is_empty() || is_marker_only(t));
                        if c.strong_depth == 1 && at_line_start && c.lead_strong.is_none() {
                            c.lead_strong = Some(None);
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
                        if !out.has_lines(it) {
                            out.push_line(it, 0);
                        }
                    }
                }
                TagEnd::Item => {
                    if let Some(c) = cur.take() {
                        finish(&mut out, c);
                    }
                    if let Some(it) = items.pop() {
                        let b = &mut out.list[it];
                        b.range.end = range.end.max(b.range.start);
                        strip_marker_text(&mut out, it);
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
                            // Take the text: once closed it is never read
                            // again, and `Some` (now empty) still marks the line
                            // as having had its lead.
                            let s = c.lead_strong.as_mut().and_then(Option::take);
                            if !out.has_lines(c.block) {
                                out.push_line(c.block, range.start);
                            }
                            let s = s.map_or(Span::default(), |s| out.trim_span(s));
                            if let Some(l) = out.last_line(c.block) {
                                if l.strong.is_none() {
                                    l.strong = Some(s);
                                }
                            }
                        }
                    }
                }
                _ => {}
            },
            Event::Text(t) if opaque == 0 => inline(&mut out, cur.as_mut(), t, range.start, false),
            Event::Code(t) if opaque == 0 => inline(&mut out, cur.as_mut(), t, range.start, true),
            Event::SoftBreak | Event::HardBreak if opaque == 0 => {
                if let Some(c) = cur.as_mut() {
                    out.push_line(c.block, range.end);
                    // A bold span can only lead the line it starts on.
                    if !c.lead_strong_open {
                        c.lead_strong = None;
                    }
                }
            }
            _ => {}
        }
    }
    let Blocks { buf, lines, .. } = &mut out;
    for l in lines.iter_mut() {
        let t = trim(l.text.of(buf));
        if t.is_empty() && l.strong.is_none() {
            l.live = false;
        } else {
            l.text = l.text.narrow(buf, t);
        }
    }
    // From here on lines are read from the shared copy, so `share` finds
    // them in it; the building buffer is freed.
    // The model keeps this text as long as the plan: not the room left over.
    let mut buf = std::mem::take(&mut out.buf);
    buf.shrink_to_fit();
    out.shared = Some(SharedStr::from(buf));
    (out, open_at_end)
}

/// Whether `text[range]`, a code block, is a fenced one whose last line
/// closes it (at least as many of the same fence characters, nothing
/// after them). Indented code and HTML blocks count as not closed.
fn closed_fence(text: &str, range: Range<usize>) -> bool {
    let block = text.get(range).unwrap_or("");
    let mut lines = block.trim_end().lines();
    let (Some(first), Some(last)) = (lines.next(), lines.next_back()) else {
        return false;
    };
    /// A fence line: its character, its length and what follows it.
    fn fence(l: &str) -> Option<(char, usize, &str)> {
        let t = l.trim_start_matches(' ');
        let c = t.chars().next().filter(|c| matches!(c, '`' | '~'))?;
        let n = t.chars().take_while(|&x| x == c).count();
        (l.len() - t.len() <= 3 && n >= 3).then_some((c, n, &t[n..]))
    }
    match (fence(first), fence(last)) {
        (Some((c, n, _)), Some((d, m, rest))) => c == d && m >= n && rest.trim().is_empty(),
        _ => false,
    }
}

fn inline(out: &mut Blocks, cur: Option<&mut Open>, t: &str, at: usize, is_code: bool) {
    let Some(c) = cur else { return };
    let span = out.append(c.block, t, at);
    if is_code {
        out.push_code(c.block, span);
    }
    if c.lead_strong_open {
        if let Some(lead) = c.lead_strong.as_mut() {
            match lead {
                None => *lead = Some(span),
                Some(s) if s.end == span.start => s.end = span.end,
                Some(s) => {
                    // Not adjacent (cannot happen with pulldown-cmark's
                    // events, but stay exact): copy the lead's text and `t`
                    // to the end of the buffer.
                    let len = out.buf.len();
                    let lead = s.of(&out.buf).to_owned();
                    out.buf.push_str(&lead);
                    out.buf.push_str(t);
                    *s = Span {
                        start: len,
                        end: out.buf.len(),
                    };
                }
            }
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
    let id = out.len();
    out.push(Block {
        kind,
        depth,
        parent,
        range,
        marker: None,
        ordinal: None,
        id,
        lines: 0..0,
    });
    id
}

fn finish(out: &mut Blocks, c: Open) {
    if c.lead_strong_open {
        // An unclosed bold span: keep what it held as the line's lead.
        if let Some(s) = c.lead_strong {
            let s = s.map_or(Span::default(), |s| out.trim_span(s));
            if let Some(l) = out.last_line(c.block) {
                if l.strong.is_none() {
                    l.strong = Some(s);
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
fn strip_marker_text(out: &mut Blocks, b: usize) {
    let r = out.list[b].lines.clone();
    if out.list[b].marker.is_none() || r.is_empty() {
        return;
    }
    // A block's first line is its own (nested blocks' lines come later).
    let text = out.lines[r.start].text.of(&out.buf);
    let t = text.trim_start();
    if let Some(m) = t.strip_prefix('[') {
        let mut it = m.char_indices();
        if let (Some(_), Some((j, ']'))) = (it.next(), it.next()) {
            let rest = m[j + 1..].trim_start();
            let cut = text.len() - rest.len();
            out.lines[r.start].text.start += cut;
        }
    }
}

/// Offset → line number. The parser asks in source order, nearly always
/// forward, so it counts the newlines between the last offset asked and
/// the next instead of first indexing every line start of the plan. If
/// the asking jumps about (crafted input), it indexes the line starts
/// after all, so the work stays linear in the text.
pub struct Lines<'t> {
    text: &'t [u8],
    /// The last offset asked (at most the text's length) and its line.
    at: Cell<(usize, usize)>,
    /// Bytes counted so far.
    counted: Cell<usize>,
    /// Line starts, once counting has cost twice the text.
    starts: OnceCell<Vec<usize>>,
}

impl<'t> Lines<'t> {
    pub fn new(text: &'t str) -> Self {
        Lines {
            text: text.as_bytes(),
            at: Cell::new((0, 1)),
            counted: Cell::new(0),
            starts: OnceCell::new(),
        }
    }

    /// 1-based line of a byte offset.
    pub fn line(&self, offset: usize) -> usize {
        let offset = offset.min(self.text.len());
        if let Some(starts) = self.starts.get() {
            return line_of(starts, offset);
        }
        let (pos, line) = self.at.get();
        let (lo, hi) = if offset >= pos {
            (pos, offset)
        } else {
            (offset, pos)
        };
        let counted = self.counted.get() + (hi - lo);
        if counted > 2 * self.text.len() + 4096 {
            let starts = self.starts.get_or_init(|| {
                let mut starts = vec![0];
                starts.extend(memchr::memchr_iter(b'\n', self.text).map(|i| i + 1));
                starts
            });
            return line_of(starts, offset);
        }
        self.counted.set(counted);
        let n = count_newlines(&self.text[lo..hi]);
        let line = if offset >= pos { line + n } else { line - n };
        self.at.set((offset, line));
        line
    }

    /// Byte offset where the line holding `offset` ends (before `\r\n` or `\n`).
    pub fn line_end(&self, offset: usize) -> usize {
        let b = self.text;
        let end = match b.get(offset..) {
            Some(rest) => offset + memchr::memchr(b'\n', rest).unwrap_or(rest.len()),
            None => b.len(),
        };
        if end > 0 && b.get(end - 1) == Some(&b'\r') {
            end - 1
        } else {
            end
        }
    }
}

/// The number of `\n` bytes. Counting into a byte per chunk of 128 (it
/// cannot overflow) lets the compiler compare 16 bytes at a time.
fn count_newlines(b: &[u8]) -> usize {
    b.chunks(128)
        .map(|c| {
            let n = c
                .iter()
                .fold(0u8, |n, &x| n.wrapping_add(u8::from(x == b'\n')));
            usize::from(n)
        })
        .sum()
}

/// 1-based line of `offset` given the byte offsets of line starts.
fn line_of(starts: &[usize], offset: usize) -> usize {
    match starts.binary_search(&offset) {
        Ok(i) => i + 1,
        Err(i) => i,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metadata_lines_keep_their_bold_keys() {
        let t = "# T\n\n**Date**: 2025\n**Goal**: more\n";
        let bs = blocks(t);
        let b = &bs.list;
        assert_eq!(b.len(), 2);
        let lines: Vec<Line> = bs.lines(&b[1]).collect();
        assert_eq!(lines.len(), 2);
        assert_eq!(lines[0].strong, Some("Date"));
        assert_eq!(lines[0].text, "Date: 2025");
        assert_eq!(lines[1].strong, Some("Goal"));
    }

    #[test]
    fn item_markers_have_exact_spans() {
        let t = "- [✓] PART 1: Create a/00-x.md\n- [ ] Read b.md\n  - nested\n";
        let bs = blocks(t);
        let b = &bs.list;
        let items: Vec<_> = b.iter().filter(|b| b.kind == BlockKind::Item).collect();
        assert_eq!(items.len(), 3);
        let m = items[0].marker.clone().unwrap();
        assert_eq!(&t[m.span.clone()], "[✓]");
        assert_eq!(m.status, Status::Done);
        assert_eq!(bs.first(items[0]), "PART 1: Create a/00-x.md");
        assert_eq!(&t[items[1].marker.clone().unwrap().span], "[ ]");
        assert_eq!(items[2].depth, 2);
        assert_eq!(
            items[2].parent,
            Some(b.iter().position(|x| bs.first(x) == "Read b.md").unwrap())
        );
    }

    #[test]
    fn ordered_items_keep_their_numbers() {
        let t = "5. `a/00.md` - x\n6. `a/01.md` - y\n";
        let bs = blocks(t);
        let b = &bs.list;
        assert_eq!(b[0].ordinal, Some(5));
        assert_eq!(b[1].ordinal, Some(6));
        let code: Vec<&str> = bs.first_line(&b[0]).unwrap().code().collect();
        assert_eq!(code, vec!["a/00.md"]);
    }

    /// Text that reaches an item after a nested block's text (a tight item
    /// holding a heading) must still read as one line with its own code
    /// spans: lines share one buffer, and this one is moved to its end.
    #[test]
    fn item_text_after_nested_block_stays_whole() {
        let t = "- `a.md` x
  # H `h.md`
  y `b.md`
";
        let bs = blocks(t);
        let item = &bs.list[0];
        assert_eq!(bs.text(item), "a.md xy b.md");
        let code: Vec<&str> = bs.lines(item).flat_map(|l| l.code()).collect();
        assert_eq!(code, vec!["a.md", "b.md"]);
        let h = &bs.list[1];
        assert_eq!(bs.text(h), "H h.md");
        let code: Vec<&str> = bs.lines(h).flat_map(|l| l.code()).collect();
        assert_eq!(code, vec!["h.md"]);
    }

    #[test]
    fn lines_map_offsets() {
        let t = "a\nbc\r\nd";
        let l = Lines::new(t);
        assert_eq!(l.line(0), 1);
        assert_eq!(l.line(2), 2);
        assert_eq!(l.line(6), 3);
        assert_eq!(l.line_end(2), 4);
    }

    /// Offsets asked in any order, forward, back and past the end, give the
    /// line a count of the newlines before them gives; enough jumping about
    /// switches to the index of line starts, with the same answers.
    #[test]
    fn lines_agree_with_counting_in_any_order() {
        let t = "ab\ncd\r\n\néf\ng".repeat(300);
        let naive = |o: usize| {
            1 + t.as_bytes()[..o.min(t.len())]
                .iter()
                .filter(|&&b| b == b'\n')
                .count()
        };
        let l = Lines::new(&t);
        let mut o = 0usize;
        for k in 0..5000usize {
            // A scrambled walk over the whole text and a little past it.
            o = (o + 7919 * k + 13) % (t.len() + 5);
            assert_eq!(l.line(o), naive(o), "offset {o}");
        }
        assert!(
            l.starts.get().is_some(),
            "the walk should have switched to the index"
        );
        let l = Lines::new(&t);
        for o in (0..t.len() + 3).step_by(5) {
            assert_eq!(l.line(o), naive(o), "offset {o}");
        }
        assert!(l.starts.get().is_none(), "a forward walk only counts");
    }
}
