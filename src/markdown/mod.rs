//! Markdown, read once. Every reader of markdown other than the plan parser
//! (knowledge files, writer answers, drops, indexes, SKILL.md) asks this
//! module: it runs pulldown-cmark over the text with offsets and keeps what
//! the stages need — the title, headings, fenced and indented code, the
//! top-level blocks, links (percent-decoded), bare URLs, tables, list items
//! — each with its line. Fences, headings and link syntax are decided here
//! and nowhere else.
//!
//! `source` decides whether a cited thing is a URL or a knowledge file.

pub mod source;

use std::ops::Range;

use pulldown_cmark::{Event, HeadingLevel, Options, Parser, Tag, TagEnd};

/// A heading: `# Title` or `Title\n===`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Heading {
    pub level: u8,
    /// Its text, inline markup removed (`code` kept as its content).
    pub text: String,
    /// 1-based line of the heading.
    pub line: usize,
    /// Byte range of the heading in the text.
    pub range: Range<usize>,
}

/// What a top-level block is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BlockKind {
    Heading,
    Paragraph,
    /// Fenced or indented code.
    Code,
    Table,
    List,
    Quote,
    Html,
    Rule,
    Other,
}

/// A block at the top level of the document, with its lines (1-based,
/// inclusive): code and tables are one block each, never split.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Block {
    pub kind: BlockKind,
    pub first: usize,
    pub last: usize,
    pub range: Range<usize>,
}

/// A link or image: `[text](dest)`, `<dest>`, `[text][ref]`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Link {
    /// The destination as pulldown-cmark reads it (escapes resolved,
    /// balanced parentheses kept, `<…>` removed).
    pub dest: String,
    /// `dest` with `%XX` sequences decoded: the path a file link names.
    pub decoded: String,
    pub text: String,
    pub line: usize,
    pub image: bool,
    /// Byte range of the whole link in the text.
    pub range: Range<usize>,
}

/// One table: its rows (the header first), each a list of cell texts.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Table {
    pub line: usize,
    pub rows: Vec<Row>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Row {
    pub line: usize,
    /// Cell texts, inline markup removed.
    pub cells: Vec<String>,
    /// Cell sources as written (backticks and links kept).
    pub raw: Vec<String>,
    pub range: Range<usize>,
}

/// A list item: its own text (nested lists excluded) and where it is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Item {
    pub line: usize,
    pub text: String,
    /// The item's first line as written.
    pub raw: String,
    pub depth: usize,
}

/// A markdown document, read once.
#[derive(Clone, Debug, Default)]
pub struct Doc {
    line_starts: Vec<usize>,
    len: usize,
    pub headings: Vec<Heading>,
    pub blocks: Vec<Block>,
    pub links: Vec<Link>,
    /// `http(s)://…` written as plain text (not as a link), with its line.
    pub bare_urls: Vec<(String, usize)>,
    pub tables: Vec<Table>,
    pub items: Vec<Item>,
    /// Line ranges (1-based, inclusive) of fenced and indented code.
    pub code: Vec<(usize, usize)>,
}

/// Byte offsets at which each line starts (line 1 starts at 0).
pub fn line_starts(text: &str) -> Vec<usize> {
    let mut v = Vec::with_capacity(text.len() / 40 + 1);
    v.push(0);
    v.extend(memchr::memchr_iter(b'\n', text.as_bytes()).map(|i| i + 1));
    v
}

fn options() -> Options {
    Options::ENABLE_TABLES | Options::ENABLE_STRIKETHROUGH | Options::ENABLE_FOOTNOTES
}

/// `H1` → 1 … `H6` → 6 (pulldown-cmark numbers its levels so).
fn level(l: HeadingLevel) -> u8 {
    l as u8
}

/// The first level-1 heading's text: the title indexes, drops and evidence
/// show for a file.
///
/// The parser reads a document's whole block structure before its first
/// event, so this parses only the text up to the first line that could
/// hold a level-1 heading (`# …`, or a `===` underline): what comes after
/// cannot change the blocks before. When that prefix has no level-1
/// heading (the line was code, say), or its heading holds a `[` (a link
/// definition further down could change its text), the whole text is read.
pub fn title(text: &str) -> Option<String> {
    if let Some(end) = first_h1_candidate_end(text) {
        if end < text.len() {
            if let Some(t) = title_in(&text[..end]) {
                if !t.contains('[') {
                    return Some(t);
                }
            } else {
                return title_in(text);
            }
        }
    }
    title_in(text)
}

/// Where the first line that could make a level-1 heading ends (after
/// its newline): an ATX `#` opener or a setext `=` underline, indented
/// by at most three spaces.
fn first_h1_candidate_end(text: &str) -> Option<usize> {
    let mut at = 0;
    for line in text.split_inclusive('\n') {
        at += line.len();
        let t = line.trim_end_matches(['\n', '\r']);
        let indent = t.len() - t.trim_start_matches(' ').len();
        if indent > 3 {
            continue;
        }
        let t = &t[indent..];
        if atx_level(t) == Some(1) || underline_of(t, b'=') {
            return Some(at);
        }
    }
    None
}

fn title_in(text: &str) -> Option<String> {
    let mut inside = false;
    let mut t = String::new();
    for ev in Parser::new_ext(text, options()) {
        match ev {
            Event::Start(Tag::Heading {
                level: HeadingLevel::H1,
                ..
            }) => inside = true,
            Event::End(TagEnd::Heading(HeadingLevel::H1)) => {
                let t = t.trim().to_string();
                return (!t.is_empty()).then_some(t);
            }
            Event::Text(s) | Event::Code(s) if inside => t.push_str(&s),
            Event::SoftBreak | Event::HardBreak if inside => t.push(' '),
            _ => {}
        }
    }
    None
}

/// Level and 1-based line of every heading, as [`Doc::parse`] finds them
/// (the same parser and options), collecting nothing else: for callers
/// that need a long file's outline only.
///
/// Most knowledge files are plain to outline: `#` headings at the margin,
/// code fenced at the margin, blocks apart. Those are read line by line
/// (a tenth of a parse: excerpting a long file parsed it whole only to
/// find its `##` lines); any line whose meaning the scan does not model
/// sends the file to the parser.
pub fn heading_lines(text: &str) -> Vec<(u8, usize)> {
    match heading_lines_by_scan(text) {
        Some(v) => v,
        None => parsed_heading_lines(text),
    }
}

/// [`heading_lines`] by the parser.
fn parsed_heading_lines(text: &str) -> Vec<(u8, usize)> {
    let mut out = Vec::new();
    let (mut at, mut line) = (0usize, 1usize);
    for (ev, range) in Parser::new_ext(text, options()).into_offset_iter() {
        if let Event::Start(Tag::Heading { level: l, .. }) = ev {
            line += memchr::memchr_iter(b'\n', &text.as_bytes()[at..range.start]).count();
            at = range.start;
            out.push((level(l), line));
        }
    }
    out
}

/// [`heading_lines`] by a line scan, or `None` at the first line whose
/// meaning depends on block structure the scan does not follow: HTML, a
/// footnote, a quote or list item holding a heading or a fence, a fence
/// or heading indented (in a list item, or code), a setext underline, a
/// table next to a heading, a lone carriage return. A tab in an indent
/// counts as reaching column four.
/// What it keeps: ATX headings (`#` to `######` then a space, a tab or the
/// line's end, at most three spaces in), which end any paragraph, and
/// fenced code opened at the margin (backticks or tildes, three or more;
/// closed by a run of the same at least as long, or by the text's end).
fn heading_lines_by_scan(text: &str) -> Option<Vec<(u8, usize)>> {
    let bytes = text.as_bytes();
    // A carriage return that does not end a line is a line ending to
    // the parser and not to the line count.
    if memchr::memchr_iter(b'\r', bytes).any(|i| bytes.get(i + 1) != Some(&b'\n')) {
        return None;
    }
    let mut out = Vec::new();
    // The open fence: its character and length.
    let mut fence: Option<(u8, usize)> = None;
    let mut prev = Prev::Other;
    for (i, line) in text.split('\n').enumerate() {
        let line = line.strip_suffix('\r').unwrap_or(line);
        let lead = line
            .bytes()
            .take_while(|&b| b == b' ' || b == b'\t')
            .count();
        let rest = &line[lead..];
        // The indent in columns: a tab reaches the next multiple of four,
        // so a tab among the leading blanks makes at least four (code, or
        // a list item's content; never a closing fence).
        let indent = if line[..lead].contains('\t') {
            lead.max(4)
        } else {
            lead
        };
        if rest.is_empty() {
            prev = Prev::Other;
            continue;
        }
        if let Some((c, n)) = fence {
            let run = rest.bytes().take_while(|&b| b == c).count();
            if indent <= 3 && run >= n && rest[run..].bytes().all(|b| b == b' ' || b == b'\t') {
                fence = None;
            }
            prev = Prev::Other;
            continue;
        }
        let first = rest.as_bytes()[0];
        // HTML and footnotes hold blocks of their own.
        if first == b'<' || rest.starts_with("[^") {
            return None;
        }
        if first == b'>' {
            // A quote of plain text (`> "…"`, the common one): text. One
            // that holds a heading, code, a list's block or an underline
            // is handed over.
            if indent >= 4 || quote_holds_block(rest) {
                return None;
            }
            prev = Prev::text(rest);
            continue;
        }
        let opener = fence_opener(rest);
        if indent >= 4 {
            // Indented code, or a list item's content: either way a
            // heading, a fence or an underline here is one the scan
            // cannot place.
            if first == b'#' || opener.is_some() || underline(rest) || holds_block(rest) {
                return None;
            }
            prev = Prev::text(rest);
            continue;
        }
        if let Some(f) = opener {
            if indent > 0 {
                return None; // perhaps inside a list item
            }
            fence = Some(f);
            prev = Prev::Other;
            continue;
        }
        if let Some(level) = atx_level(rest) {
            if prev == (Prev::Text { pipe: true }) {
                return None; // a table's row, or a heading?
            }
            out.push((level, i + 1));
            prev = Prev::Heading;
            continue;
        }
        let under_text = matches!(prev, Prev::Text { .. }) && underline(rest);
        let under_heading = prev == Prev::Heading && rest.contains('|');
        if under_text || under_heading || holds_block(rest) {
            return None;
        }
        prev = Prev::text(rest);
    }
    Some(out)
}

/// What the line before was, as far as the scan's next line cares: text
/// (an underline or a table's rows could attach to it; `pipe` when it
/// held `|`), a heading (a table's delimiter row could follow it), or
/// anything else (a blank line, a fence's line).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Prev {
    Other,
    Text { pipe: bool },
    Heading,
}

impl Prev {
    fn text(line: &str) -> Prev {
        Prev::Text {
            pipe: line.contains('|'),
        }
    }
}

/// A quote line (`>` first) whose content, under every `>`, is anything
/// but plain text: a heading, a fence, indented code, HTML, a footnote,
/// an underline or a list item holding one of those.
fn quote_holds_block(rest: &str) -> bool {
    let mut content = rest;
    while let Some(after) = content.strip_prefix('>') {
        let after = after.strip_prefix(' ').unwrap_or(after);
        let indent = after
            .bytes()
            .take_while(|&b| b == b' ' || b == b'\t')
            .count();
        if indent >= 3 || after[..indent].contains('\t') {
            return true; // code, or an indent the scan does not count
        }
        content = &after[indent..];
    }
    content.starts_with(['#', '<'])
        || content.starts_with("[^")
        || fence_opener(content).is_some()
        || underline(content)
        || holds_block(content)
}

/// A setext underline: `=`s or `-`s alone (after text, a heading).
fn underline(rest: &str) -> bool {
    underline_of(rest, b'=') || underline_of(rest, b'-')
}

/// A run of `c` followed by nothing but spaces and tabs.
fn underline_of(rest: &str, c: u8) -> bool {
    let run = rest.bytes().take_while(|&b| b == c).count();
    run > 0 && rest[run..].bytes().all(|b| b == b' ' || b == b'\t')
}

/// A list item whose content opens with a heading, a fence, a quote,
/// HTML or an underline.
fn holds_block(rest: &str) -> bool {
    let mut content = rest;
    while let Some(after) = list_marker(content) {
        content = after.trim_start_matches([' ', '\t']);
    }
    content.len() < rest.len()
        && (content.starts_with(['#', '>', '<'])
            || fence_opener(content).is_some()
            || underline(content))
}

/// `#` to `######` followed by a space, a tab or nothing: the level.
fn atx_level(rest: &str) -> Option<u8> {
    let n = rest.bytes().take_while(|&b| b == b'#').count();
    let ok = (1..=6).contains(&n) && matches!(rest.as_bytes().get(n), None | Some(b' ' | b'\t'));
    ok.then_some(n as u8)
}

/// A code fence opener: three or more backticks (whose info string has
/// none) or tildes; its character and length.
fn fence_opener(rest: &str) -> Option<(u8, usize)> {
    let c = *rest.as_bytes().first()?;
    if c != b'`' && c != b'~' {
        return None;
    }
    let n = rest.bytes().take_while(|&b| b == c).count();
    (n >= 3 && !(c == b'`' && rest[n..].contains('`'))).then_some((c, n))
}

/// The text after a list marker (`-`, `*`, `+`, or up to nine digits and
/// `.` or `)`, then a space, a tab or the line's end).
fn list_marker(s: &str) -> Option<&str> {
    let b = s.as_bytes();
    let n = match b.first()? {
        b'-' | b'*' | b'+' => 1,
        b'0'..=b'9' => {
            let d = b.iter().take_while(|c| c.is_ascii_digit()).count();
            if d > 9 || !matches!(b.get(d), Some(b'.' | b')')) {
                return None;
            }
            d + 1
        }
        _ => return None,
    };
    matches!(b.get(n), None | Some(b' ' | b'\t')).then(|| &s[n..])
}

/// Percent-decoding of a link destination (`a%20b.md` → `a b.md`).
pub fn percent_decode(s: &str) -> String {
    percent_encoding::percent_decode_str(s)
        .decode_utf8_lossy()
        .into_owned()
}

impl Doc {
    /// Read `text`.
    pub fn parse(text: &str) -> Doc {
        let line_starts = line_starts(text);
        let mut doc = Doc {
            len: text.len(),
            ..Doc::default()
        };
        doc.line_starts = line_starts;
        let line = |d: &Doc, off: usize| d.line_of(off);

        // Containers open around the current event: (tag kind, start offset).
        let mut depth = 0usize;
        let mut block_start: Option<(BlockKind, usize)> = None;
        let mut heading: Option<(u8, usize, String)> = None;
        let mut links: Vec<(Link, usize)> = Vec::new();
        let mut table: Option<Table> = None;
        let mut row: Option<Row> = None;
        let mut cell: Option<(String, usize)> = None;
        // Items open, with their text so far and whether a nested list
        // began (its text is not the item's).
        let mut items: Vec<(Item, bool)> = Vec::new();
        let mut list_depth = 0usize;
        let mut in_code = false;

        // A run of plain text not yet searched for URLs, and where it began.
        let mut run: Option<(String, usize)> = None;
        let flush_run = |run: &mut Option<(String, usize)>, doc: &mut Doc| {
            if let Some((t, start)) = run.take() {
                let at = doc.line_of(start);
                for u in bare_urls(&t) {
                    doc.bare_urls.push((u.to_string(), at));
                }
            }
        };
        for (ev, range) in Parser::new_ext(text, options()).into_offset_iter() {
            if !matches!(ev, Event::Text(_)) {
                flush_run(&mut run, &mut doc);
            }
            match &ev {
                Event::Start(tag) => {
                    if depth == 0 {
                        let kind = match tag {
                            Tag::Heading { .. } => BlockKind::Heading,
                            Tag::Paragraph => BlockKind::Paragraph,
                            Tag::CodeBlock(_) => BlockKind::Code,
                            Tag::Table(_) => BlockKind::Table,
                            Tag::List(_) => BlockKind::List,
                            Tag::BlockQuote(_) => BlockKind::Quote,
                            Tag::HtmlBlock => BlockKind::Html,
                            _ => BlockKind::Other,
                        };
                        block_start = Some((kind, range.start));
                    }
                    if !matches!(
                        tag,
                        Tag::Emphasis
                            | Tag::Strong
                            | Tag::Strikethrough
                            | Tag::Link { .. }
                            | Tag::Image { .. }
                    ) {
                        depth += 1;
                    }
                    match tag {
                        Tag::Heading { level: l, .. } => {
                            heading = Some((level(*l), range.start, String::new()))
                        }
                        Tag::CodeBlock(_) => {
                            in_code = true;
                            let (a, mut b) = (range.start, range.end);
                            // A fence's range ends after its closing line's newline.
                            if b > a && text.as_bytes()[b - 1] == b'\n' {
                                b -= 1;
                            }
                            doc.code.push((line(&doc, a), line(&doc, b.max(a))));
                        }
                        Tag::Link { dest_url, .. } | Tag::Image { dest_url, .. } => links.push((
                            Link {
                                dest: dest_url.to_string(),
                                decoded: percent_decode(dest_url),
                                text: String::new(),
                                line: line(&doc, range.start),
                                image: matches!(tag, Tag::Image { .. }),
                                range: range.clone(),
                            },
                            range.start,
                        )),
                        Tag::Table(_) => {
                            table = Some(Table {
                                line: line(&doc, range.start),
                                rows: Vec::new(),
                            })
                        }
                        Tag::TableHead | Tag::TableRow => {
                            row = Some(Row {
                                line: line(&doc, range.start),
                                range: range.clone(),
                                ..Row::default()
                            })
                        }
                        Tag::TableCell => cell = Some((String::new(), range.start)),
                        Tag::List(_) => {
                            list_depth += 1;
                            if let Some(last) = items.last_mut() {
                                last.1 = true;
                            }
                        }
                        Tag::Item => {
                            let first_line_end = text[range.start..range.end]
                                .find('\n')
                                .map_or(range.end, |i| range.start + i);
                            items.push((
                                Item {
                                    line: line(&doc, range.start),
                                    text: String::new(),
                                    raw: text[range.start..first_line_end].trim().to_string(),
                                    depth: list_depth,
                                },
                                false,
                            ))
                        }
                        _ => {}
                    }
                }
                Event::End(tag) => {
                    if !matches!(
                        tag,
                        TagEnd::Emphasis
                            | TagEnd::Strong
                            | TagEnd::Strikethrough
                            | TagEnd::Link
                            | TagEnd::Image
                    ) {
                        depth = depth.saturating_sub(1);
                    }
                    match tag {
                        TagEnd::Heading(_) => {
                            if let Some((l, start, t)) = heading.take() {
                                let end = range.end;
                                doc.headings.push(Heading {
                                    level: l,
                                    text: t.split_whitespace().collect::<Vec<_>>().join(" "),
                                    line: line(&doc, start),
                                    range: start..end,
                                });
                            }
                        }
                        TagEnd::CodeBlock => in_code = false,
                        TagEnd::Link | TagEnd::Image => {
                            if let Some((l, _)) = links.pop() {
                                // Nested (an image inside a link): the outer
                                // link's text takes the inner's.
                                if let Some((outer, _)) = links.last_mut() {
                                    outer.text.push_str(&l.text);
                                }
                                doc.links.push(l);
                            }
                        }
                        TagEnd::TableCell => {
                            if let (Some((t, start)), Some(r)) = (cell.take(), row.as_mut()) {
                                r.cells.push(t.trim().to_string());
                                r.raw.push(text[start..range.end].trim().to_string());
                            }
                        }
                        TagEnd::TableHead | TagEnd::TableRow => {
                            if let (Some(r), Some(t)) = (row.take(), table.as_mut()) {
                                t.rows.push(r);
                            }
                        }
                        TagEnd::Table => {
                            if let Some(t) = table.take() {
                                doc.tables.push(t);
                            }
                        }
                        TagEnd::List(_) => list_depth = list_depth.saturating_sub(1),
                        TagEnd::Item => {
                            if let Some((mut it, _)) = items.pop() {
                                it.text = it.text.split_whitespace().collect::<Vec<_>>().join(" ");
                                doc.items.push(it);
                            }
                        }
                        _ => {}
                    }
                    if depth == 0 {
                        if let Some((kind, start)) = block_start.take() {
                            let mut end = range.end.max(start);
                            while end > start && text.as_bytes()[end - 1] == b'\n' {
                                end -= 1;
                            }
                            doc.blocks.push(Block {
                                kind,
                                first: line(&doc, start),
                                last: line(&doc, end.max(start + 1) - 1).max(line(&doc, start)),
                                range: start..end,
                            });
                        }
                    }
                }
                Event::Text(s) | Event::Code(s) => {
                    if let Some((_, _, t)) = heading.as_mut() {
                        t.push_str(s);
                    }
                    if let Some((l, _)) = links.last_mut() {
                        l.text.push_str(s);
                    }
                    if let Some((c, _)) = cell.as_mut() {
                        c.push_str(s);
                    }
                    if let Some((it, nested)) = items.last_mut() {
                        if !*nested {
                            it.text.push_str(s);
                        }
                    }
                    // Plain text arrives in pieces (split at `_`, `*`…):
                    // URLs are looked for in whole runs.
                    if matches!(ev, Event::Text(_)) && !in_code && links.is_empty() {
                        match &mut run {
                            Some((t, _)) => t.push_str(s),
                            None => run = Some((s.to_string(), range.start)),
                        }
                        continue;
                    }
                }
                Event::SoftBreak | Event::HardBreak => {
                    if let Some((_, _, t)) = heading.as_mut() {
                        t.push(' ');
                    }
                    if let Some((it, nested)) = items.last_mut() {
                        if !*nested {
                            it.text.push(' ');
                        }
                    }
                }
                Event::Html(_) | Event::Rule if depth == 0 => {
                    let kind = if matches!(ev, Event::Rule) {
                        BlockKind::Rule
                    } else {
                        BlockKind::Html
                    };
                    doc.blocks.push(Block {
                        kind,
                        first: line(&doc, range.start),
                        last: line(&doc, range.end.saturating_sub(1).max(range.start)),
                        range: range.clone(),
                    });
                }
                _ => {}
            }
        }
        flush_run(&mut run, &mut doc);
        doc.items.sort_by_key(|i| i.line);
        doc
    }

    /// The 1-based line holding byte `offset`.
    pub fn line_of(&self, offset: usize) -> usize {
        match self.line_starts.binary_search(&offset) {
            Ok(i) => i + 1,
            Err(i) => i,
        }
    }

    /// Number of lines (a trailing newline does not start another line).
    pub fn line_count(&self) -> usize {
        let n = self.line_starts.len();
        if self.len == 0 {
            0
        } else if n > 1 && self.line_starts[n - 1] == self.len {
            n - 1
        } else {
            n
        }
    }

    /// Byte range of lines `first..=last` (1-based).
    pub fn line_range(&self, first: usize, last: usize) -> Range<usize> {
        let start = self
            .line_starts
            .get(first.saturating_sub(1))
            .copied()
            .unwrap_or(self.len);
        let end = self.line_starts.get(last).copied().unwrap_or(self.len);
        start..end.max(start)
    }

    /// The first level-1 heading.
    pub fn title(&self) -> Option<&Heading> {
        self.headings.iter().find(|h| h.level == 1)
    }

    /// Whether 1-based `line` is inside fenced or indented code.
    pub fn in_code(&self, line: usize) -> bool {
        self.code.iter().any(|&(a, b)| a <= line && line <= b)
    }

    /// Each heading with the lines of its section: from the heading to the
    /// line before the next heading of the same or a higher level (or the
    /// end). `(heading index, first line, last line)`.
    pub fn sections(&self) -> Vec<(usize, usize, usize)> {
        let end = self.line_count();
        self.headings
            .iter()
            .enumerate()
            .map(|(i, h)| {
                let last = self.headings[i + 1..]
                    .iter()
                    .find(|n| n.level <= h.level)
                    .map_or(end, |n| n.line.saturating_sub(1));
                (i, h.line, last.max(h.line))
            })
            .collect()
    }
}

/// Every http(s) URL a text holds, as a link or written out.
pub fn urls_in(text: &str) -> impl Iterator<Item = &str> {
    bare_urls(text)
}

/// `http://` and `https://` URLs in plain text, up to the first space or
/// closing bracket, trailing punctuation dropped.
pub fn bare_urls(s: &str) -> impl Iterator<Item = &str> {
    let b = s.as_bytes();
    let mut at = 0;
    std::iter::from_fn(move || {
        while at < b.len() {
            let rest = &s[at..];
            let i = rest.find("http")?;
            let start = at + i;
            let tail = &s[start..];
            let scheme = if tail.len() >= 8 && tail[..8].eq_ignore_ascii_case("https://") {
                8
            } else if tail.len() >= 7 && tail[..7].eq_ignore_ascii_case("http://") {
                7
            } else {
                at = start + 4;
                continue;
            };
            let len = tail
                .find(|c: char| c.is_whitespace() || matches!(c, '<' | '>' | '"' | '`' | ']'))
                .unwrap_or(tail.len());
            let mut url = &tail[..len];
            // Sentence punctuation and an unbalanced closing parenthesis
            // after a URL are not part of it.
            loop {
                let t = url.trim_end_matches(['.', ',', ';', ':', '!', '?', '\'', '*', '_']);
                let t = if t.ends_with(')') && t.matches('(').count() < t.matches(')').count() {
                    &t[..t.len() - 1]
                } else {
                    t
                };
                if t.len() == url.len() {
                    break;
                }
                url = t;
            }
            at = start + len.max(1);
            if url.len() > scheme {
                return Some(url);
            }
        }
        None
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn title_from_a_prefix_is_the_title_of_the_whole() {
        let mut texts: Vec<String> = [
            "# Plain\nbody\n",
            "intro\n\n```\n# not a title\n```\n\n# Real one\n",
            "Setext\ntitle\n===\n\n# Later\n",
            "    # indented code\n# After\n",
            "## Two\n#no space\n#\n# Empty above\n",
            "# [Linked] title\n\n[Linked]: https://example.com\n",
            "- item\n# In a list? no, after it\n",
            "> # quoted\n",
            "no title at all\n",
            "# Last line without newline",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        let dir = tempfile::tempdir().unwrap();
        crate::testing::write_sample(dir.path()).unwrap();
        for sub in ["knowledge", "plans"] {
            let root = dir.path().join(sub);
            for e in walk(&root) {
                texts.push(std::fs::read_to_string(e).unwrap());
            }
        }
        for t in &texts {
            assert_eq!(title(t), title_in(t), "{t:?}");
        }
    }

    fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
        let mut out = Vec::new();
        for e in std::fs::read_dir(dir).unwrap().flatten() {
            let p = e.path();
            if p.is_dir() {
                out.extend(walk(&p));
            } else if p.extension().is_some_and(|x| x == "md") {
                out.push(p);
            }
        }
        out
    }

    #[test]
    fn heading_lines_are_the_documents_headings() {
        let mut texts = vec![
            "# Title\n\n```\n## not a heading\n```\n\n## Real\nSetext\n---\n    # code\n> ## quoted\n".to_string(),
        ];
        let dir = tempfile::tempdir().unwrap();
        crate::testing::write_sample(dir.path()).unwrap();
        for rel in crate::knowledge::list_files(
            &crate::workspace::jail::Jail::open(&dir.path().canonicalize().unwrap()).unwrap(),
            &dir.path().canonicalize().unwrap().join("knowledge"),
            &[],
        )
        .unwrap()
        {
            texts.push(std::fs::read_to_string(dir.path().join("knowledge").join(rel)).unwrap());
        }
        for t in &texts {
            let d = Doc::parse(t);
            let want: Vec<(u8, usize)> = d.headings.iter().map(|h| (h.level, h.line)).collect();
            assert!(!want.is_empty());
            assert_eq!(heading_lines(t), want);
        }
    }

    /// Lines that make or hide headings, alone and in company: what the
    /// scan must read as the parser does, or hand to it.
    const LINES: &[&str] = &[
        "# One",
        "## Two",
        "###### Six",
        "####### seven",
        "#no-space",
        "#",
        "## x ##",
        "   ## three in",
        "    ## code",
        "\t## tab",
        "Text",
        "more text | cell",
        "| a | b |",
        "|---|---|",
        "a | b",
        "-|-",
        "",
        "  ",
        "```",
        "```rust",
        "````",
        "``` a`b",
        "~~~",
        "~~~ x`y",
        "   ```",
        "    ```",
        "- item",
        "- # in item",
        "1. item",
        "1) ## item",
        "- ```",
        "  - nested",
        "* > quote",
        "> ## quoted",
        ">",
        "<div>",
        "<!-- c -->",
        "[^1]: note",
        "[x]: /url",
        "===",
        "---",
        "- - -",
        "***",
        "  ---",
        "    ---",
        "-",
        "- ",
        "Title\r",
        "\\# escaped",
        "+ + # deep",
        "> \"quoted\"",
        "> text | x",
        ">> deeper",
        "> > # q",
        ">     code",
        "> ```",
        "> ---",
        "> - # x",
        "> <b>",
        "> [^2]: n",
        ">",
        "   > in",
        "> \t## t",
        "> ===",
        "> # h",
        "\tcode",
        "\t```",
        " \t# x",
        "\t---",
        "-\t# t",
        "\t- # y",
        "  \t~~~",
    ];

    fn scan_agrees(t: &str) -> Result<(), TestCaseError> {
        if let Some(v) = heading_lines_by_scan(t) {
            prop_assert_eq!(v, parsed_heading_lines(t), "{:?}", t);
        }
        Ok(())
    }

    proptest! {
        #[test]
        fn the_line_scan_finds_the_parsers_headings_or_hands_over(
            picks in proptest::collection::vec(0..LINES.len(), 0..24),
            crlf in any::<bool>(),
        ) {
            let eol = if crlf { "\r\n" } else { "\n" };
            let t: String = picks.iter().map(|&i| format!("{}{eol}", LINES[i])).collect();
            scan_agrees(&t)?;
            scan_agrees(t.trim_end())?;
        }
    }

    /// The common file takes the scan: headings, fenced code (with `#`
    /// lines), lists, tables, rules, a code span with backticks.
    #[test]
    fn a_plain_file_is_scanned_not_parsed() {
        let t = "# Title\n\nIntro with `code`.\n\n## One\n\n- a\n- b\n  1. c\n\n```bash\n# comment\n```\n\n| a | b |\n|---|---|\n| 1 | 2 |\n\n---\n\n### Deep\ntext\n#### Deeper\n~~~\n## no\n~~~\n";
        let v = heading_lines_by_scan(t).expect("scanned");
        assert_eq!(v, [(1, 1), (2, 5), (3, 21), (4, 23)]);
        assert_eq!(v, parsed_heading_lines(t));
        for hard in [
            "Setext\n===\n",
            "> # q\n",
            "> ```\n",
            "- # h\n",
            "<p>\n",
            "a\rb\n",
            "x\n    # y\n",
        ] {
            assert_eq!(heading_lines_by_scan(hard), None, "{hard:?}");
            assert_eq!(heading_lines(hard), parsed_heading_lines(hard));
        }
    }

    #[test]
    fn headings_outside_code_whatever_the_fences() {
        let t = "# Title\n\n```\n## not a heading\n~~~\n## still code\n```\n\n## Real\n\n~~~~ rust\n# code\n```\n~~~~\n\n### Deep `x`\nSetext\n===\n    # indented code\n";
        let d = Doc::parse(t);
        let hs: Vec<(u8, &str, usize)> = d
            .headings
            .iter()
            .map(|h| (h.level, h.text.as_str(), h.line))
            .collect();
        assert_eq!(
            hs,
            [
                (1, "Title", 1),
                (2, "Real", 9),
                (3, "Deep x", 16),
                (1, "Setext", 17)
            ]
        );
        assert!(d.in_code(4) && d.in_code(6) && d.in_code(12) && d.in_code(19));
        assert!(!d.in_code(9));
        assert_eq!(title(t).as_deref(), Some("Title"));
    }

    #[test]
    fn links_are_decoded_and_keep_parentheses() {
        let t = "See [a](dir/My%20File.md), [b](x_(y).md), [c](<sp ace.md>) and ![i](img.png).\n\n`[no](code.md)`\n\n```\n[no](fence.md)\n```\n";
        let d = Doc::parse(t);
        let dests: Vec<(&str, &str, bool)> = d
            .links
            .iter()
            .map(|l| (l.dest.as_str(), l.decoded.as_str(), l.image))
            .collect();
        assert_eq!(
            dests,
            [
                ("dir/My%20File.md", "dir/My File.md", false),
                ("x_(y).md", "x_(y).md", false),
                ("sp ace.md", "sp ace.md", false),
                ("img.png", "img.png", true),
            ]
        );
    }

    #[test]
    fn bare_urls_lose_trailing_punctuation() {
        // pulldown-cmark splits text at `_`: the URL is read whole anyway.
        let d = Doc::parse("See https://docs.rs/clap/latest/clap/_derive/index.html now.\n");
        assert_eq!(
            d.bare_urls,
            [(
                "https://docs.rs/clap/latest/clap/_derive/index.html".to_string(),
                1
            )]
        );
        let t =
            "Read https://a.example/x. Or (https://b.example/y_(z)) and http://c.example/q?x=1,\n";
        let v: Vec<&str> = bare_urls(t).collect();
        assert_eq!(
            v,
            [
                "https://a.example/x",
                "https://b.example/y_(z)",
                "http://c.example/q?x=1"
            ]
        );
        let d = Doc::parse("[x](https://in.link) and https://bare.example/p\n");
        assert_eq!(d.bare_urls, [("https://bare.example/p".to_string(), 1)]);
    }

    #[test]
    fn tables_items_and_blocks() {
        let t = "# I\n\n| File | Lines |\n|---|---|\n| `a.md` | 3 |\n| [b](b.md) | 4 |\n\n- one `x.md`\n  - nested\n- two\n\n```\nc\n```\n";
        let d = Doc::parse(t);
        assert_eq!(d.tables.len(), 1);
        let rows = &d.tables[0].rows;
        assert_eq!(rows.len(), 3);
        assert_eq!(rows[1].cells, ["a.md", "3"]);
        assert_eq!(rows[1].raw[0], "`a.md`");
        assert_eq!(rows[2].line, 6);
        let items: Vec<(&str, usize)> = d.items.iter().map(|i| (i.text.as_str(), i.line)).collect();
        assert_eq!(items, [("one x.md", 8), ("nested", 9), ("two", 10)]);
        let kinds: Vec<(BlockKind, usize, usize)> =
            d.blocks.iter().map(|b| (b.kind, b.first, b.last)).collect();
        assert_eq!(
            kinds,
            [
                (BlockKind::Heading, 1, 1),
                (BlockKind::Table, 3, 6),
                (BlockKind::List, 8, 10),
                (BlockKind::Code, 12, 14)
            ]
        );
        assert_eq!(d.line_count(), 14);
    }

    #[test]
    fn sections_run_to_the_next_heading_of_their_level() {
        let d = Doc::parse("# T\n\n## A\n\nx\n\n### A.1\n\ny\n\n## B\n\nz\n");
        assert_eq!(
            d.sections(),
            [(0, 1, 13), (1, 3, 10), (2, 7, 10), (3, 11, 13)]
        );
    }
}
