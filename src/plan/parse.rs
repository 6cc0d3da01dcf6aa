//! Second pass of the parser: blocks to the plan model.
//!
//! Reads the title, `**Key**: value` metadata, declared totals, the
//! influential-files list, declared batches, and PARTs in their three
//! dialects with their steps and items. Problems found here become
//! diagnostics on the plan; parsing itself never fails on text.

use std::collections::hash_map::Entry;
use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::sync::OnceLock;

use super::blocks::{self, Block, BlockKind, Blocks, Lines};
use super::encoding::{self, DecodeError};
use super::model::*;
use super::text::*;

/// Read and parse a plan file. Fails only when the bytes are not text.
pub fn parse_bytes(path: &Path, bytes: &[u8]) -> Result<Plan, DecodeError> {
    let decoded = encoding::decode(bytes)?;
    let mut plan = parse_str(path, decoded.text);
    plan.encoding = decoded.encoding;
    plan.bom = decoded.bom;
    Ok(plan)
}

/// [`parse_bytes`] of bytes it may keep as the plan's text.
pub fn parse_vec(path: &Path, bytes: Vec<u8>) -> Result<Plan, DecodeError> {
    let decoded = encoding::decode_owned(bytes)?;
    let mut plan = parse_str(path, decoded.text);
    plan.encoding = decoded.encoding;
    plan.bom = decoded.bom;
    Ok(plan)
}

/// Parse plan text that is already clean UTF-8.
pub fn parse_str(path: &Path, text: String) -> Plan {
    parse_in_pieces(path, text, blocks::CHUNK)
}

/// [`parse_str`] with the first pass run on pieces of about `piece` bytes
/// (the tests hold every piece size to the same model).
fn parse_in_pieces(path: &Path, text: String, piece: usize) -> Plan {
    let slug = path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let mut p = Parser {
        lines: Lines::new(&text),
        text: &text,
        bs: Rc::default(),
        zone: Zone::Header,
        heading_batch: None,
        open: None,
        file_section: None,
        plan: Plan {
            path: path.to_path_buf(),
            slug,
            ..Plan::default()
        },
        files: Vec::new(),
        file_at: HashMap::new(),
        batch_at: HashMap::new(),
        steps: Vec::new(),
        items: Vec::new(),
        item_starts: Vec::new(),
    };
    // The first pass a piece at a time: its blocks are read and dropped
    // before the next piece is parsed (the model's strings keep only the
    // inline text they point into).
    for bs in blocks::chunks(&text, piece) {
        p.bs = Rc::new(bs);
        p.walk();
    }
    let open = p.open.take();
    p.close(open, text.len());
    p.finish();
    let mut plan = p.plan;
    plan.text = text;
    plan
}

struct Parser<'t> {
    text: &'t str,
    /// The first pass's blocks of the piece of `text` being walked.
    bs: Rc<Blocks>,
    lines: Lines<'t>,
    /// Where the walk is, carried from one piece to the next.
    zone: Zone,
    heading_batch: Option<u32>,
    /// The PART being read, and the heading level that opened it (0 for
    /// paragraph forms, which any heading ends).
    open: Option<(Part, u8)>,
    file_section: Option<u32>,
    plan: Plan,
    /// `### File N: …` sections with their `**Filename**:` (bold-form plans).
    files: Vec<(u32, String)>,
    /// File number → index in `files` of its first entry.
    file_at: HashMap<u32, usize>,
    /// Batch number → index in `plan.batches` (numbers are unique there
    /// while parsing): a plan may declare thousands of batches.
    batch_at: HashMap<u32, usize>,
    /// The open PART's steps, gathered here and moved into it when it closes
    /// (a list per step grown one push at a time cost a thousand
    /// reallocations per pass over the fixtures): the steps, with their
    /// items still in `items`, where `item_starts[k]` is step k's first.
    steps: Vec<Step>,
    items: Vec<Item>,
    item_starts: Vec<usize>,
}

/// Where the walk is.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Zone {
    Header,
    Body,
    Influential(u8),
}

impl<'t> Parser<'t> {
    fn line(&self, offset: usize) -> usize {
        self.lines.line(offset)
    }

    /// Walk the blocks of one piece (`self.bs`).
    fn walk(&mut self) {
        let bs = Rc::clone(&self.bs);
        let blocks = &bs.list;
        let mut zone = self.zone;
        let mut heading_batch = self.heading_batch;
        let mut open = self.open.take();
        let mut file_section = self.file_section;
        let mut i = 0;
        while i < blocks.len() {
            let b = &blocks[i];
            match b.kind {
                BlockKind::Heading(level) => {
                    let text = bs.text(b);
                    if self.plan.title.is_empty() && level == 1 {
                        self.plan.title = text.trim().to_string();
                        self.plan.title_line = self.line(b.range.start);
                        i += 1;
                        continue;
                    }
                    // Does this heading end the open PART?
                    if let Some((_, plevel)) = &open {
                        if part_header(&text).is_some() || *plevel == 0 || level <= *plevel {
                            self.close(open.take(), b.range.start);
                        }
                    }
                    if zone == Zone::Header || matches!(zone, Zone::Influential(l) if level <= l) {
                        zone = Zone::Body;
                    }
                    if contains_ci(&text, "influential") {
                        zone = Zone::Influential(level);
                    }
                    file_section = None;
                    if level == 1 {
                        heading_batch = self.batch_heading(&text, b);
                    } else if let Some(rest) = text.trim().strip_prefix("File ") {
                        file_section = leading_number(rest).map(|(n, _)| n);
                    }
                    if let Some((n, title)) = part_header(&text) {
                        let mut part = self.new_part(n, title, b, Dialect::Heading);
                        part.heading_batch = heading_batch;
                        open = Some((part, level));
                    } else if let Some(num) = bad_part_number(&text) {
                        self.bad_part_number(num, b);
                    }
                    i += 1;
                }
                BlockKind::Paragraph if b.depth == 0 => {
                    let first_strong = bs.first_strong(b).unwrap_or("");
                    if let Some((n, title)) = worker_header(first_strong) {
                        self.close(open.take(), b.range.start);
                        let mut part = self.new_part(n, title, b, Dialect::Worker);
                        // "✅ COMPLETE" after the bold title.
                        let first = bs.first(b);
                        if contains_ci(first, "complete") && first.contains('✅') {
                            part.status = Status::Done;
                        }
                        open = Some((part, 0));
                        i += 1;
                        continue;
                    }
                    if let Some(num) = bad_part_number(first_strong) {
                        self.bad_part_number(num, b);
                    }
                    if let Some((n, _)) = part_header(first_strong) {
                        let full = bs.first(b);
                        let title = full.find(':').map(|c| full[c + 1..].trim()).unwrap_or("");
                        self.close(open.take(), b.range.start);
                        let part = self.new_part(n, title, b, Dialect::Bold);
                        open = Some((part, 0));
                        i += 1;
                        continue;
                    }
                    match open.as_mut() {
                        Some((part, _)) => self.part_paragraph(part, b),
                        None => self.top_paragraph(zone, b, file_section),
                    }
                    i += 1;
                }
                BlockKind::Paragraph => {
                    // A later paragraph of a loose list item: part of that item.
                    i += 1;
                }
                BlockKind::Item => {
                    let end = subtree_end(blocks, i);
                    match open.as_mut() {
                        Some((part, _)) => self.part_items(part, &blocks[i..end]),
                        None => self.top_items(zone, &blocks[i..end]),
                    }
                    i = end;
                }
            }
        }
        self.zone = zone;
        self.heading_batch = heading_batch;
        self.open = open;
        self.file_section = file_section;
    }

    /// `# BATCH 2: Title (4 runners, ~2,800 lines)`.
    fn batch_heading(&mut self, text: &str, b: &Block) -> Option<u32> {
        let rest = strip_prefix_ci(text.trim(), "batch ")?;
        let (n, rest) = leading_number(rest.trim_start())?;
        let title = rest.trim_start().trim_start_matches(':').trim();
        let title = match title.rfind('(') {
            Some(p) if title.ends_with(')') => title[..p].trim(),
            _ => title,
        };
        let line = self.line(b.range.start);
        if let Entry::Vacant(e) = self.batch_at.entry(n) {
            e.insert(self.plan.batches.len());
            self.plan.batches.push(DeclaredBatch {
                number: n,
                title: title.to_string(),
                parts: Vec::new(),
                line,
            });
        }
        Some(n)
    }

    fn new_part(&mut self, number: u32, title: &str, b: &Block, dialect: Dialect) -> Part {
        let line = self.line(b.range.start);
        let (short_title, expected_lines) = title_and_lines(title);
        let mut part = Part {
            number,
            title: short_title.to_string(),
            line,
            dialect,
            target: None,
            target_line: None,
            status: Status::Pending,
            marker: None,
            status_line: None,
            status_end: None,
            completed_at: None,
            file_exists: false,
            expected_lines,
            heading_batch: None,
            influenced_by: Vec::new(),
            steps: Vec::new(),
            span: b.range.start..b.range.end,
        };
        if let Some(t) = create_target(title) {
            part.target = Some(t.to_string());
            part.target_line = Some(line);
        } else if dialect == Dialect::Bold {
            // "Create File 2 - …" names an entry of the plan's file list.
            if let Some(rest) = title.split("File ").nth(1) {
                if let Some((n, _)) = leading_number(rest) {
                    if let Some(&i) = self.file_at.get(&n) {
                        part.target = Some(self.files[i].1.clone());
                        part.target_line = Some(line);
                    }
                }
            }
        }
        part
    }

    /// Start a step of the open PART.
    fn push_step(&mut self, step: Step) {
        self.item_starts.push(self.items.len());
        self.steps.push(step);
    }

    /// Add an item to the open PART's last step, or to an implicit step for
    /// lists that come before any step (Worker and bold forms, or loose
    /// PARTs). Returns the item's index in `self.items`.
    fn push_item(&mut self, item: Item) -> usize {
        if self.steps.is_empty() {
            self.push_step(Step {
                number: None,
                name: instructions(),
                kind: StepKind::Write,
                line: item.line,
                items: Vec::new(),
            });
        }
        self.items.push(item);
        self.items.len() - 1
    }

    /// The open PART's steps with their items, each list allocated once at
    /// its final size; the gathering lists are left empty for the next PART.
    fn take_steps(&mut self) -> Vec<Step> {
        for (step, &start) in self.steps.iter_mut().zip(&self.item_starts).rev() {
            step.items = self.items.drain(start..).collect();
        }
        self.item_starts.clear();
        self.steps.drain(..).collect()
    }

    fn close(&mut self, open: Option<(Part, u8)>, end: usize) {
        let Some((mut part, _)) = open else { return };
        part.steps = self.take_steps();
        part.span.end = end.max(part.span.start);
        if part.target.is_none() {
            let found = part.items().find_map(|i| match &i.kind {
                ItemKind::CreateFile { path } => Some((path.to_string(), i.line)),
                _ => None,
            });
            if let Some((p, l)) = found {
                part.target = Some(p);
                part.target_line = Some(l);
            }
        }
        if part.target.is_none() && part.dialect == Dialect::Bold {
            // "Save as `x.md`" in the bullet list.
            let found = part.items().find_map(|i| {
                strip_prefix_ci(&i.text, "save as")
                    .and_then(md_path)
                    .map(|p| (p.to_string(), i.line))
            });
            if let Some((p, l)) = found {
                part.target = Some(p);
                part.target_line = Some(l);
            }
        }
        self.plan.parts.push(part);
    }

    /// A top-level paragraph outside any PART: metadata, batch lines, file sections.
    fn top_paragraph(&mut self, zone: Zone, b: &Block, file_section: Option<u32>) {
        let bs = Rc::clone(&self.bs);
        for l in bs.lines(b) {
            // "**Inference (4 files)**:" then "5. `a/00-x.md` - …" on the next
            // line: a list that starts at 5 cannot interrupt a paragraph
            // (CommonMark), so its items are lines of the paragraph.
            if let Zone::Influential(_) = zone {
                let t = l.text.trim_start();
                if let Some((n, rest)) = leading_number(t) {
                    if let Some(rest) = rest.strip_prefix(". ").or_else(|| rest.strip_prefix(") "))
                    {
                        let code = l.code().find(|c| c.ends_with(".md") || c.ends_with('/'));
                        self.influential_entry(n, rest, code, self.line(l.offset));
                        continue;
                    }
                }
            }
            let Some(key) = l.strong else {
                continue;
            };
            let key = trim(key.trim_end_matches(':'));
            let value = value_after_strong(l.text, key);
            if let Some(rest) = strip_prefix_ci(key, "batch ") {
                self.batch_line(rest, value, self.line(l.offset));
                continue;
            }
            if key.eq_ignore_ascii_case("filename") {
                if let (Some(n), Some(p)) = (file_section, md_path(value)) {
                    self.file_at.entry(n).or_insert(self.files.len());
                    self.files.push((n, p.to_string()));
                }
                continue;
            }
            if zone == Zone::Header
                && !key.is_empty()
                && (l.text.trim_start().starts_with(key) || l.text.contains(':'))
            {
                self.plan.metadata.push(Meta {
                    key: key.to_string(),
                    value: value.to_string(),
                    line: self.line(l.offset),
                });
            }
        }
    }

    /// `**Batch N**: PARTs a-b (title)`.
    fn batch_line(&mut self, after_batch: &str, value: &str, line: usize) {
        let Some((n, _)) = leading_number(after_batch.trim()) else {
            return;
        };
        match batch_parts(value) {
            Some((parts, title)) => {
                if let Some(&i) = self.batch_at.get(&n) {
                    let b = &mut self.plan.batches[i];
                    if b.parts.is_empty() {
                        b.parts = parts;
                    }
                } else {
                    self.batch_at.insert(n, self.plan.batches.len());
                    self.plan.batches.push(DeclaredBatch {
                        number: n,
                        title,
                        parts,
                        line,
                    });
                }
            }
            None => self.plan.diagnostics.push(
                Diagnostic::error(
                    line,
                    "bad-batch-line",
                    format!("cannot read the PARTs of batch {n} from `{}`", value.trim()),
                )
                .with_hint("write it as `**Batch N**: PARTs 1-4 (title)`"),
            ),
        }
    }

    /// A PART header whose number cannot be held: an error, not a silence.
    fn bad_part_number(&mut self, num: &str, b: &Block) {
        let line = self.line(b.range.start);
        self.plan.diagnostics.push(
            Diagnostic::error(
                line,
                "bad-part-number",
                format!("PART number `{num}` is not one expand can use"),
            )
            .with_hint("number PARTs with whole numbers from 0 to 999999999"),
        );
    }

    /// A list outside any PART: influential files, batch lines. Every item at
    /// the list's own depth counts, not only the first.
    fn top_items(&mut self, zone: Zone, items: &[Block]) {
        let depth = items[0].depth;
        for root in items {
            if root.kind == BlockKind::Item && root.depth == depth {
                self.top_item(zone, root);
            }
        }
    }

    /// One top-level list item: an influential-file entry or a batch line.
    fn top_item(&mut self, zone: Zone, root: &Block) {
        let line = self.line(root.range.start);
        let bs = Rc::clone(&self.bs);
        if let Some(key) = bs.first_strong(root) {
            let key = key.trim_end_matches(':').trim();
            if let Some(rest) = strip_prefix_ci(key, "batch ") {
                let value = value_after_strong(bs.first(root), key);
                self.batch_line(rest, value, line);
                return;
            }
        }
        if let (Zone::Influential(_), Some(n)) = (zone, root.ordinal) {
            let code = bs
                .first_line(root)
                .and_then(|l| l.code().find(|c| c.ends_with(".md") || c.ends_with('/')));
            self.influential_entry(n, bs.first(root), code, line);
        }
    }

    /// Entry `n` of the influential-files list: its path is the first code
    /// span naming a file or folder, else the first `.md` word of `text`.
    fn influential_entry(&mut self, n: u32, text: &str, code: Option<&str>, line: usize) {
        let Some(path) = code.or_else(|| md_path(text)).map(str::to_string) else {
            return;
        };
        let description = text
            .find(&path)
            .map(|p| &text[p + path.len()..])
            .unwrap_or("")
            .trim()
            .trim_start_matches(['-', '–', '—', ':'])
            .trim()
            .to_string();
        self.plan.influential.push(Influential {
            number: n,
            path,
            description,
            line,
        });
    }

    /// A paragraph inside a PART: a step heading, "Influenced by", CITE, Filename.
    fn part_paragraph(&mut self, part: &mut Part, b: &Block) {
        let bs = Rc::clone(&self.bs);
        for l in bs.lines(b) {
            let line = self.line(l.offset);
            let strong = l.strong.map(|s| trim(s.trim_end_matches(':')));
            let text = trim(l.text);
            if let Some(key) = strong {
                let value = value_after_strong(text, key);
                if contains_ci(key, "influenced by") {
                    part.influenced_by = number_list(value);
                    continue;
                }
                // Written by the overlap check (`expand new`): a note for
                // people, not a step.
                if key.eq_ignore_ascii_case("overlaps") {
                    continue;
                }
                if key.eq_ignore_ascii_case("filename") {
                    if part.target.is_none() {
                        if let Some(p) = md_path(value) {
                            part.target = Some(p.to_string());
                            part.target_line = Some(line);
                        }
                    }
                    continue;
                }
                if key.eq_ignore_ascii_case("cite") {
                    let item = self.item(text, None, line);
                    self.push_item(item);
                    continue;
                }
                let (number, name) = match step_header(key) {
                    Some((n, name)) => (n, name),
                    None => (None, key),
                };
                let name = if name.is_empty() { value } else { name };
                self.push_step(Step {
                    number,
                    kind: classify_step(name),
                    name: bs.share(name),
                    line,
                    items: Vec::new(),
                });
                // "**Complete:** [✓] PART 1" and "**Content:** text" carry an item.
                if !value.is_empty() {
                    let src_end = self.lines.line_end(l.offset);
                    let src = self.text.get(l.offset..src_end).unwrap_or("");
                    let marker = src
                        .find('[')
                        .and_then(|p| blocks::marker_at(self.text, l.offset + p));
                    let v = value.trim();
                    let v = match &marker {
                        Some(m) => v
                            .strip_prefix(&self.text[m.span.clone()])
                            .map(str::trim)
                            .unwrap_or(v),
                        None => v,
                    };
                    let item = self.item(v, marker, line);
                    self.push_item(item);
                }
            } else if let Some((n, name)) = step_header(text) {
                // An unclosed `**Step 1: Name` shows its asterisks as text.
                self.push_step(Step {
                    number: n,
                    kind: classify_step(name),
                    name: bs.share(name),
                    line,
                    items: Vec::new(),
                });
            } else {
                // Loose prose inside a PART: instructions for the writer.
                let item = self.item(text, None, line);
                self.push_item(item);
            }
        }
    }

    /// A list (root item and its descendants) inside a PART.
    fn part_items(&mut self, part: &mut Part, items: &[Block]) {
        let bs = Rc::clone(&self.bs);
        let root_depth = items[0].depth;
        // Where the last item at root depth went (an index into `self.items`).
        let mut last: Option<usize> = None;
        for b in items {
            if b.kind != BlockKind::Item {
                continue;
            }
            let line = self.line(b.range.start);
            if b.depth == root_depth {
                // `**Step 2: Name**` right below an item, with no blank line, is
                // a lazy continuation of the item in markdown; a reader sees a
                // step. Split it off and read it as the paragraph it looks like.
                let step_at = bs
                    .lines(b)
                    .skip(1)
                    .position(|l| l.strong.is_some_and(|s| step_header(s).is_some()));
                let split;
                let (b, tail) = match step_at {
                    Some(i) => {
                        let (head, tail) = bs.split(b, i + 1);
                        split = head;
                        (&split, Some(tail))
                    }
                    None => (b, None),
                };
                let text = bs.text(b);
                let text = trim(&text);
                // The status line: `- [ ] PART N: Create …`.
                let status = part_header(text)
                    .filter(|(n, _)| *n == part.number && part.status_line.is_none());
                if let Some((_, rest)) = status {
                    self.status_line(part, b, rest, line);
                    last = None;
                } else {
                    let item = self.item(text, b.marker.clone(), line);
                    last = Some(self.push_item(item));
                }
                if let Some(tail) = tail {
                    self.part_paragraph(part, &tail);
                    last = None;
                }
            } else {
                let text = bs.text(b);
                let text = trim(&text);
                // Nested: a brief of its parent, or an item of its own when it
                // has a checkbox or is a CITE list.
                let own = b.marker.is_some()
                    || strip_prefix_ci(text, "cite").is_some()
                    || bs
                        .first_strong(b)
                        .map(|s| s.trim_end_matches(':').eq_ignore_ascii_case("cite"))
                        .unwrap_or(false);
                if let Some(parent) = last.and_then(|i| self.items.get_mut(i)) {
                    if let ItemKind::Section(s) = &mut parent.kind {
                        s.brief.push(bs.share(text));
                    }
                }
                if own {
                    let item = self.item(text, b.marker.clone(), line);
                    self.push_item(item);
                }
            }
        }
    }

    fn status_line(&mut self, part: &mut Part, b: &Block, rest: &str, line: usize) {
        part.status_line = Some(line);
        part.status_end = Some(self.lines.line_end(b.range.start));
        if let Some(m) = &b.marker {
            part.status = m.status;
            part.marker = Some(m.clone());
        }
        if part.target.is_none() {
            if let Some(t) = create_target(rest) {
                part.target = Some(t.to_string());
                part.target_line = Some(line);
            }
        }
        if part.expected_lines.is_none() {
            part.expected_lines = expected_lines(rest);
        }
        if let Some(p) = rest.find("(Completed") {
            let c = &rest[p + 1..];
            let c = c.split(')').next().unwrap_or(c);
            part.completed_at = Some(c.trim_start_matches("Completed").trim().to_string());
        }
        if rest.contains("FILE EXISTS") {
            part.file_exists = true;
        }
    }

    /// Classify one step item.
    fn item(&self, text: &str, marker: Option<Marker>, line: usize) -> Item {
        // The text and the payload strings sliced from it share the first
        // pass's inline text: no allocation for most items.
        let text = self.bs.share(text);
        Item {
            line,
            kind: classify_item(&text),
            text,
            marker,
        }
    }

    fn finish(&mut self) {
        let plan = &mut self.plan;
        if plan.title.is_empty() {
            plan.title = plan.slug.clone();
        }
        fold_outline_parts(&mut plan.parts);
        plan.declared = declared(plan);
        // Parts listed under `# BATCH N` headings join that batch, once.
        let mut listed: Option<HashSet<(usize, u32)>> = None;
        for p in &plan.parts {
            let Some(&i) = p.heading_batch.and_then(|b| self.batch_at.get(&b)) else {
                continue;
            };
            let listed = listed.get_or_insert_with(|| {
                plan.batches
                    .iter()
                    .enumerate()
                    .flat_map(|(i, b)| b.parts.iter().map(move |&n| (i, n)))
                    .collect()
            });
            if listed.insert((i, p.number)) {
                plan.batches[i].parts.push(p.number);
            }
        }
        plan.batches.sort_by_key(|b| b.number);
        // Kept as long as the plan: without the room the growing list left.
        plan.parts.shrink_to_fit();
        plan.index_parts();
    }
}

/// A PART whose section holds nothing but its heading (and perhaps its
/// status line) is an entry of an outline when the plan defines that PART
/// again with its steps: hand-run plans open a batch with the list of its
/// PART headings before the PART sections. The outline entry is folded into
/// the definition (its target and status fill what the definition lacks);
/// two definitions with steps stay two, and `validate` says so.
fn fold_outline_parts(parts: &mut Vec<Part>) {
    let bare = |p: &Part| {
        p.items()
            .all(|i| Some(i.line) == p.status_line || matches!(i.kind, ItemKind::CreateFile { .. }))
    };
    let mut full: HashMap<u32, usize> = HashMap::new();
    let mut count: HashMap<u32, usize> = HashMap::new();
    for (i, p) in parts.iter().enumerate() {
        *count.entry(p.number).or_default() += 1;
        if !bare(p) {
            full.entry(p.number).or_insert(i);
        }
    }
    if count.values().all(|&c| c == 1) {
        return;
    }
    let mut drop = vec![false; parts.len()];
    for i in 0..parts.len() {
        let n = parts[i].number;
        let Some(&f) = full.get(&n) else { continue };
        if f == i || count[&n] < 2 || !bare(&parts[i]) {
            continue;
        }
        drop[i] = true;
        let outline = parts[i].clone();
        let def = &mut parts[f];
        if def.target.is_none() {
            def.target = outline.target;
            def.target_line = outline.target_line;
        }
        if def.status_line.is_none() && outline.status_line.is_some() {
            def.status = outline.status;
            def.marker = outline.marker;
            def.status_line = outline.status_line;
            def.status_end = outline.status_end;
            def.completed_at = outline.completed_at;
            def.file_exists |= outline.file_exists;
        }
        def.expected_lines = def.expected_lines.or(outline.expected_lines);
    }
    let mut k = 0;
    parts.retain(|_| {
        k += 1;
        !drop[k - 1]
    });
}

/// The name of the implicit step, shared by every parse.
fn instructions() -> SharedStr {
    static NAME: OnceLock<SharedStr> = OnceLock::new();
    NAME.get_or_init(|| SharedStr::from("Instructions")).clone()
}

/// The text after a leading bold key and its colon: "Date: 2025" → "2025".
fn value_after_strong<'a>(text: &'a str, key: &str) -> &'a str {
    let t = text.trim_start();
    // The key almost always opens the line: skip the substring search then.
    let rest = match t.strip_prefix(key) {
        Some(r) => r,
        None => t.find(key).map(|p| &t[p + key.len()..]).unwrap_or(t),
    };
    trim(rest.trim_start().trim_start_matches(':'))
}

/// The end (exclusive) of the list subtree starting at `blocks[start]`.
fn subtree_end(blocks: &[Block], start: usize) -> usize {
    let root_depth = blocks[start].depth;
    let mut i = start + 1;
    while i < blocks.len() {
        let b = &blocks[i];
        let nested = b.depth > root_depth
            || (b.depth == root_depth && b.kind == BlockKind::Item)
            || (b.kind == BlockKind::Paragraph && b.parent.is_some());
        if !nested || matches!(b.kind, BlockKind::Heading(_)) || b.depth == 0 {
            break;
        }
        i += 1;
    }
    i
}

/// `h.contains(n)` for the short step names: a plain window scan costs less
/// than setting up `str::contains`' searcher for each of a dozen needles.
fn has(h: &str, n: &str) -> bool {
    h.as_bytes().windows(n.len()).any(|w| w == n.as_bytes())
}

/// SPEC §2: steps are classified by their name.
pub fn classify_step(name: &str) -> StepKind {
    // Step names are short and ASCII: lowercase them on the stack (the same
    // as `to_lowercase` for ASCII) instead of allocating for each.
    let mut buf = [0u8; 64];
    let owned;
    let n: &str = match buf.get_mut(..name.len()) {
        Some(b) if name.is_ascii() => {
            b.copy_from_slice(name.as_bytes());
            b.make_ascii_lowercase();
            std::str::from_utf8(b).unwrap_or_default()
        }
        _ => {
            owned = name.to_lowercase();
            &owned
        }
    };
    if has(n, "knowledge drop") || has(n, "knowledge-drop") {
        StepKind::Drop
    } else if n.starts_with("check existing")
        || n.starts_with("read")
        || has(n, "existing knowledge")
    {
        StepKind::Knowledge
    } else if has(n, "research") || has(n, "search") || has(n, "source code hunting") {
        StepKind::Research
    } else if ((n.starts_with("create") || n.starts_with("write")) && has(n, "file"))
        || has(n, "knowledge file")
        || n.starts_with("extract")
        || n.starts_with("structure")
        || n.starts_with("synthesize")
        || has(n, "citations")
        || n.starts_with("content to extract")
    {
        StepKind::Write
    } else if n == "complete" || n.starts_with("mark complete") || n == "completion" {
        StepKind::Complete
    } else {
        StepKind::Other
    }
}

/// SPEC §2: what a step item asks for.
pub fn classify_item(text: &SharedStr) -> ItemKind {
    let whole = text;
    // `trim_start_matches("**")` without building a substring searcher for
    // every item of every plan.
    let mut t = trim(whole);
    while let Some(r) = t.strip_prefix("**") {
        t = r;
    }
    // Every kind below starts with a word of its own: test only the words
    // with the item's first letter (most items are instructions).
    let c0 = t.as_bytes().first().map_or(0, u8::to_ascii_lowercase);
    let read = if c0 == b'r' {
        strip_prefix_ci(t, "read ")
    } else {
        None
    };
    if let Some(rest) = read {
        let rest = rest.trim();
        if let Some(r) = strip_prefix_ci(rest, "index.md") {
            let topic = r.trim();
            let topic = strip_prefix_ci(topic, "for ").unwrap_or(topic);
            let topic = topic.trim_end_matches("mentions").trim();
            return ItemKind::IndexLookup {
                topic: whole.sub(topic),
            };
        }
        if let Some(tok) = ref_token(rest) {
            let note = match rest.find('(') {
                Some(p) => Some(whole.sub(rest[p + 1..].trim_end().trim_end_matches(')'))),
                None => {
                    let mut pieces = rest.split(tok);
                    let before = pieces.next().unwrap_or("").trim();
                    let after = pieces
                        .next()
                        .unwrap_or("")
                        .trim()
                        .trim_start_matches('`')
                        .trim();
                    // `format!("{before} {after}").trim()`: both are trimmed.
                    match (before.is_empty(), after.is_empty()) {
                        (true, true) => None,
                        (true, false) => Some(whole.sub(after)),
                        (false, true) => Some(whole.sub(before)),
                        (false, false) => Some([before, " ", after].concat().into()),
                    }
                }
            };
            return ItemKind::Read {
                reference: whole.sub(tok),
                note,
            };
        }
        return ItemKind::Instruction;
    }
    if c0 == b'g' {
        if let Some(rest) = strip_prefix_ci(t, "grep for ").or_else(|| strip_prefix_ci(t, "grep "))
        {
            return grep_item(whole, rest);
        }
    }
    if c0 != b's' && c0 != b'w' && c0 != b'c' && c0 != b'k' {
        return ItemKind::Instruction;
    }
    if let Some(rest) = strip_prefix_ci(t, "search:").or_else(|| strip_prefix_ci(t, "search ")) {
        if let Some(local) = local_search(whole, rest) {
            return local;
        }
        let q = unquote(rest.trim());
        if !q.is_empty() {
            return ItemKind::Search {
                query: whole.sub(q),
            };
        }
    }
    if let Some(rest) = strip_prefix_ci(t, "scrape") {
        let rest = rest.trim_start_matches(':').trim();
        let top =
            strip_prefix_ci(rest, "top ").and_then(|r| leading_number(r.trim()).map(|(n, _)| n));
        return ItemKind::Scrape {
            what: whole.sub(rest),
            top,
        };
    }
    let sec = strip_prefix_ci(t, "write section ").or_else(|| strip_prefix_ci(t, "section "));
    if let Some(rest) = sec {
        if let Some((n, r)) = leading_number(trim(rest)) {
            let title = trim(r.trim_start().trim_start_matches([':', '-', '.']));
            let (title, expected_lines) = title_and_lines(title);
            return ItemKind::Section(Section {
                number: Some(n),
                title: whole.sub(title),
                expected_lines,
                brief: Vec::new(),
            });
        }
    }
    if let Some(rest) = strip_prefix_ci(t, "cite") {
        let rest = rest
            .trim_start_matches('*')
            .trim_start()
            .trim_start_matches(':')
            .trim_start_matches('*')
            .trim();
        return ItemKind::Cite {
            refs: cite_refs(whole, rest),
        };
    }
    // Cheap prefix tests first: most items are instructions that match none.
    let create = strip_prefix_ci(t, "create").is_some();
    if (create || t.starts_with("KNOWLEDGE-DROP:") || t.starts_with("KNOWLEDGE-DROP-"))
        && t.contains("KNOWLEDGE-DROP-")
    {
        let name = t
            .split_whitespace()
            .map(|w| w.trim_matches(|c: char| matches!(c, '`' | '"' | ',' | '(' | ')' | '*')))
            .find(|w| w.starts_with("KNOWLEDGE-DROP-"));
        if let Some(name) = name {
            return ItemKind::CreateDrop {
                name: whole.sub(name),
            };
        }
    }
    if create {
        if let Some(p) = create_target(t) {
            return ItemKind::CreateFile { path: whole.sub(p) };
        }
    }
    ItemKind::Instruction
}

/// "Search existing files for "active inference" and "free energy"": a
/// search of the knowledge base, not of the web, for any of the quoted
/// phrases (or the words after "for" when nothing is quoted).
fn local_search(whole: &SharedStr, rest: &str) -> Option<ItemKind> {
    const LOCAL: &[&str] = &[
        "existing files",
        "existing knowledge",
        "the existing knowledge",
        "the knowledge base",
        "knowledge base",
        "the oracle",
        "our knowledge",
        "local files",
    ];
    let r = rest.trim().trim_start_matches(':').trim_start();
    let after = LOCAL.iter().find_map(|p| strip_prefix_ci(r, p))?;
    let after = after.trim_start();
    let after = strip_prefix_ci(after, "for ")
        .or_else(|| strip_prefix_ci(after, "about "))
        .or_else(|| strip_prefix_ci(after, "mentioning "))
        .unwrap_or(after);
    let mut terms: Vec<SharedStr> = Vec::new();
    let mut quoted = after.split(['"', '“', '”']);
    quoted.next();
    for (i, piece) in quoted.enumerate() {
        if i % 2 == 0 && !piece.trim().is_empty() {
            terms.push(whole.sub(piece.trim()));
        }
    }
    if terms.is_empty() {
        let words = trim(after.trim_end_matches(['.', ')']));
        if words.is_empty() {
            return None;
        }
        terms.push(whole.sub(words));
    }
    Some(ItemKind::Grep {
        terms,
        op: GrepOp::Or,
        folder: None,
    })
}

/// `"A" AND "B" in folder/` / `pipeline AND parallelism in karpathy/ folder`
/// (`rest` is a slice of `whole`, the item's text).
fn grep_item(whole: &SharedStr, rest: &str) -> ItemKind {
    let rest = rest.trim();
    // The folder: after the last " in " outside quotes.
    let mut folder = None;
    let mut terms_part = rest;
    let mut in_quote = false;
    let mut split_at = None;
    for (i, c) in rest.char_indices() {
        if c == '"' {
            in_quote = !in_quote;
        }
        if !in_quote && rest[i..].starts_with(" in ") {
            split_at = Some(i);
        }
    }
    if let Some(i) = split_at {
        let f = rest[i + 4..].trim();
        let f = f.split_whitespace().next().unwrap_or("").trim_matches('`');
        if !f.is_empty() {
            folder = Some(whole.sub(f));
        }
        terms_part = &rest[..i];
    }
    let (op, sep) = if terms_part.contains(" OR ") {
        (GrepOp::Or, " OR ")
    } else {
        (GrepOp::And, " AND ")
    };
    let terms = terms_part
        .split(sep)
        .map(unquote)
        .filter(|t| !t.is_empty())
        .map(|t| whole.sub(t))
        .collect();
    ItemKind::Grep { terms, op, folder }
}

/// `distributed-training/00 (memory); gcp-vertex/12 (TensorBoard)` and
/// `distributed-training/00, 03; inference-optimization/00, 02`.
/// `s` is a slice of `whole`, the item's text.
pub fn cite_refs(whole: &SharedStr, s: &str) -> Vec<Reference> {
    let mut out: Vec<Reference> = Vec::new();
    let mut push = |reference: SharedStr, note: Option<&str>| {
        if out.capacity() == 0 {
            // At most one reference per piece: size the list once.
            // (exactly: `reserve` would round a small list up to four)
            out.reserve_exact(1 + s.bytes().filter(|&b| b == b',' || b == b';').count());
        }
        out.push(Reference {
            reference,
            note: note.map(|n| whole.sub(n)),
        });
    };
    for group in s.split(';') {
        let mut folder: Option<&str> = None;
        for piece in split_outside_parens(group, ',') {
            let piece = trim(piece);
            if piece.is_empty() {
                continue;
            }
            let (head, note) = match piece.find('(') {
                Some(p) => (
                    trim(&piece[..p]),
                    Some(trim(piece[p + 1..].trim_end_matches(')'))),
                ),
                None => (piece, None),
            };
            let head = head.trim_matches(|c: char| matches!(c, '`' | '*' | '"'));
            if let Some(tok) = ref_token(head) {
                if let Some(slash) = tok.rfind('/') {
                    folder = Some(&tok[..slash + 1]);
                }
                push(whole.sub(tok), note);
            } else if let (Some(f), Some((_, _))) = (folder, leading_number(head)) {
                // "03" after "distributed-training/00,": same folder.
                push([f, head].concat().into(), note);
            }
        }
    }
    out
}

fn split_outside_parens(s: &str, sep: char) -> impl Iterator<Item = &str> {
    let mut depth = 0i32;
    let mut chars = s.char_indices();
    // Where the next piece starts; None once the last was given.
    let mut start = Some(0);
    std::iter::from_fn(move || {
        let from = start?;
        for (i, c) in chars.by_ref() {
            match c {
                '(' => depth += 1,
                ')' => depth -= 1,
                c if c == sep && depth <= 0 => {
                    start = Some(i + c.len_utf8());
                    return Some(&s[from..i]);
                }
                _ => {}
            }
        }
        start = None;
        Some(&s[from..])
    })
}

/// Declared totals from the title and the header metadata.
fn declared(plan: &Plan) -> Declared {
    let mut d = Declared::default();
    let mut sources: Vec<(&str, &str)> = vec![("title", plan.title.as_str())];
    for m in &plan.metadata {
        sources.push((m.key.as_str(), m.value.as_str()));
    }
    for (key, text) in &sources {
        let key = key.to_lowercase();
        if d.parts.is_none() && (key == "workers" || key == "total parts" || key == "parts") {
            d.parts = leading_number(text.trim()).map(|(n, _)| n);
        }
        let words = counted_words(text);
        for (v, w) in &words {
            let v32 = u32::try_from(*v).ok();
            match w.as_str() {
                "runners" | "parts" | "workers" if d.parts.is_none() => d.parts = v32,
                "batches" if d.batches.is_none() => d.batches = v32,
                "lines" if d.lines.is_none() && (key == "title" || key.starts_with("total")) => {
                    d.lines = Some(*v)
                }
                "files" if d.parts.is_none() && key.starts_with("total") => d.parts = v32,
                _ => {}
            }
        }
    }
    d
}

/// Build a plan for tests and tools from a string.
pub fn parse_text(name: &str, text: &str) -> Plan {
    parse_str(&PathBuf::from(name), text.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Hand-run plans list a batch's PART headings before the PART sections
    /// (the bench's `expansion-sam-general` plan): the list is an outline,
    /// not a second definition. Two sections with steps still are two.
    #[test]
    fn searching_existing_files_is_a_local_search() {
        let kind = |t: &str| classify_item(&SharedStr::from(t));
        match kind(r#"Search existing files for "active inference" and "free energy""#) {
            ItemKind::Grep { terms, op, folder } => {
                let terms: Vec<&str> = terms.iter().map(|t| &**t).collect();
                assert_eq!(terms, vec!["active inference", "free energy"]);
                assert_eq!((op, folder), (GrepOp::Or, None));
            }
            other => panic!("{other:?}"),
        }
        match kind("Search the knowledge base for Markov blankets") {
            ItemKind::Grep { terms, .. } => assert_eq!(&*terms[0], "Markov blankets"),
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            kind(r#"Search: "existing tools for profiling 2024""#),
            ItemKind::Search { .. }
        ));
    }

    #[test]
    fn an_outline_of_part_headings_is_not_a_second_definition() {
        let t = "# T\n\n# BATCH 1: A\n\n## PART 1: One (~700 lines)\n## PART 2: Two (~700 lines)\n\n- [✓] PART 2: Create a/01-two.md (Completed 2025-11-20 08:56)\n\n---\n\n## PART 1: One (~700 lines)\n\n- [ ] PART 1: Create a/00-one.md\n\n**Step 1: Web Research**\n- [ ] Search: \"one\"\n\n## PART 2: Two\n\n**Step 1: Web Research**\n- [ ] Search: \"two\"\n";
        let mut plan = parse_text("p.md", t);
        crate::plan::validate::check(&mut plan);
        let errors: Vec<_> = plan.diagnostics.iter().map(|d| d.code).collect();
        assert!(
            !errors.contains(&"duplicate-part"),
            "{:?}",
            plan.diagnostics
        );
        let parts: Vec<(u32, usize, Option<&str>)> = plan
            .parts
            .iter()
            .map(|p| (p.number, p.line, p.target.as_deref()))
            .collect();
        assert_eq!(
            parts,
            vec![(1, 12, Some("a/00-one.md")), (2, 19, Some("a/01-two.md"))]
        );
        // The outline's status line is the definition's when it has none.
        assert_eq!(plan.parts[1].status, Status::Done);

        let twice = "# T\n\n## PART 1: One\n\n- [ ] Search: \"a\"\n\n## PART 1: Again\n\n- [ ] Search: \"b\"\n";
        let mut plan = parse_text("p.md", twice);
        crate::plan::validate::check(&mut plan);
        assert!(plan.diagnostics.iter().any(|d| d.code == "duplicate-part"));
    }

    /// Bug: a top-level list was handed over as one subtree and only its first
    /// item was read, so `**Batch 2**` (and influential files 2..N) vanished.
    #[test]
    fn regression_top_level_list_reads_every_item() {
        let t = "# T\n\n## INFLUENTIAL FILES\n\n1. `a/00-x.md` - one\n2. `a/01-y.md` - two\n\n## Batches\n\n- **Batch 1**: PARTs 1-2 (a)\n- **Batch 2**: PARTs 3-4 (b)\n\n## PART 1: X\n";
        let plan = parse_text("p.md", t);
        let b: Vec<(u32, Vec<u32>)> = plan
            .batches
            .iter()
            .map(|b| (b.number, b.parts.clone()))
            .collect();
        assert_eq!(b, vec![(1, vec![1, 2]), (2, vec![3, 4])]);
        assert_eq!(plan.batches[1].line, 11);
        let f: Vec<u32> = plan.influential.iter().map(|f| f.number).collect();
        assert_eq!(f, vec![1, 2]);
        assert_eq!(plan.influential[1].path, "a/01-y.md");
    }

    /// Step names are lowercased on the stack when ASCII and short; longer
    /// and non-ASCII names must classify as `to_lowercase` has them.
    #[test]
    fn step_names_classify_whatever_their_length_or_script() {
        let long = "Write the knowledge file with every section and citation listed above";
        assert!(long.len() > 64);
        assert_eq!(classify_step(long), StepKind::Write);
        assert_eq!(classify_step("Read Existing"), StepKind::Knowledge);
        assert_eq!(classify_step("Étape: RESEARCH ✓"), StepKind::Research);
        // KELVIN SIGN lowercases to an ASCII `k`.
        assert_eq!(classify_step("\u{212A}nowledge Drop"), StepKind::Drop);
        assert_eq!(classify_step("COMPLETE"), StepKind::Complete);
        assert_eq!(classify_step(""), StepKind::Other);
    }

    /// Bug: a `**Step N: Name**` line right below a list item (no blank line)
    /// is a lazy continuation of that item in markdown, so the step vanished
    /// into the item's text and its checklist joined the previous step.
    #[test]
    fn regression_step_line_right_below_an_item_is_a_step() {
        let t = "# T\n\n## PART 1: X (~100 lines)\n- [/] PART 1: Create e/01-x.md\n**Step 1: Research**\n- [ ] Search: \"q\"\n**Step 2: Write Knowledge File**\n- [ ] Section 1: Intro\n";
        let plan = parse_text("p.md", t);
        let p = &plan.parts[0];
        assert_eq!(p.target.as_deref(), Some("e/01-x.md"));
        assert_eq!(p.status, Status::Partial);
        assert_eq!(p.status_end, Some(t.find("\n**Step 1").unwrap()));
        let steps: Vec<(&str, StepKind, usize, usize)> = p
            .steps
            .iter()
            .map(|s| (s.name.as_str(), s.kind, s.line, s.items.len()))
            .collect();
        assert_eq!(
            steps,
            vec![
                ("Research", StepKind::Research, 5, 1),
                ("Write Knowledge File", StepKind::Write, 7, 1)
            ]
        );
        assert_eq!(p.steps[0].items[0].text, "Search: \"q\"");
    }

    /// The first pass in pieces gives the model the whole text gives, for
    /// every fixture and for texts built to trip a cut: fences and HTML
    /// blocks running through `#` lines, lists, quotes, CRLF, link
    /// reference definitions.
    #[test]
    fn pieces_parse_as_the_whole_text() {
        let mut texts: Vec<String> = vec![
            "# T\n\n```\n\n# not a heading\n\n## PART 1: X\n```\n\n## PART 2: Create a/00-y.md\n- [ ] Read b/01\n".into(),
            "# T\n\n~~~~\n\n## PART 1: X\n~~~\n\n# BATCH 1: b\n## PART 2: Y\n~~~~\n\n## PART 3: Z\n".into(),
            "# T\n\n<!--\n\n## PART 1: X\n\n-->\n\n## PART 2: Y\n- [x] PART 2: Create a/b.md\n".into(),
            "# T\r\n\r\n## PART 1: X\r\n- [ ] a\r\n  - b\r\n\r\n> q\r\n\r\n## PART 2: Y\r\n".into(),
            "# T\n\n## PART 1: [x][r]\n\n[r]: /u\n\n## PART 2: Y\n".into(),
            "# T\n\n- ```\n\n## PART 1: X\n\n   ```\n\n## PART 2: Y\n```\n\n## PART 3: Z\n".into(),
            "#\n\n#\n\n\n#x\n".into(),
            String::new(),
        ];
        let shared = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/fixtures");
        for sub in ["seeds", "real"] {
            for f in std::fs::read_dir(shared.join(sub))
                .into_iter()
                .flatten()
                .flatten()
            {
                let bytes = std::fs::read(f.path()).unwrap();
                texts.push(encoding::decode(&bytes).unwrap().text);
            }
        }
        for text in &texts {
            let p = Path::new("p.md");
            let whole = format!("{:?}", parse_in_pieces(p, text.clone(), usize::MAX));
            for piece in [1, 7, 100, 2000] {
                let got = format!("{:?}", parse_in_pieces(p, text.clone(), piece));
                assert!(got == whole, "piece {piece}:\n{text}");
            }
        }
    }
}
