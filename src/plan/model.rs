//! The plan model: what the parser produces and every later stage reads.
//!
//! Every element carries the 1-based line it was found on. Checkbox markers
//! also carry their byte span in the (repaired) plan text, so the runner can
//! tick them in place without touching any other byte.

use std::ops::Range;
use std::path::PathBuf;

use serde::Serialize;

pub use super::encoding::Encoding;
pub use super::shared::SharedStr;

/// A parsed plan.
#[derive(Clone, Debug, Default)]
pub struct Plan {
    /// The path the plan was read from, as given (workspace-relative when possible).
    pub path: PathBuf,
    /// File stem: how commands name the plan and the folder its drops go to.
    pub slug: String,
    pub title: String,
    pub title_line: usize,
    pub encoding: Encoding,
    /// A UTF-8 byte order mark was stripped before parsing.
    pub bom: bool,
    /// The plan text after encoding repair; all spans index into it.
    pub text: String,
    pub metadata: Vec<Meta>,
    pub declared: Declared,
    pub influential: Vec<Influential>,
    pub batches: Vec<DeclaredBatch>,
    pub parts: Vec<Part>,
    /// Problems found while parsing (validation adds more).
    pub diagnostics: Vec<Diagnostic>,
    /// (PART number, index in `parts` of its first definition), sorted by
    /// number: what [`Plan::part`] searches. Set by the parser.
    pub(super) part_index: Vec<(u32, u32)>,
}

impl Plan {
    /// The first PART numbered `number`. Commands and the graph ask this
    /// once per PART, so it is a binary search, not a scan: a scan made
    /// every pass over a 100,000-PART plan quadratic.
    pub fn part(&self, number: u32) -> Option<&Part> {
        if self.part_index.len() != self.parts.len() {
            // Not made by the parser (or changed since): no index to trust.
            return self.parts.iter().find(|p| p.number == number);
        }
        let i = self
            .part_index
            .binary_search_by_key(&number, |&(n, _)| n)
            .ok()?;
        let p = &self.parts[self.part_index[i].1 as usize];
        if p.number == number {
            Some(p)
        } else {
            self.parts.iter().find(|p| p.number == number)
        }
    }

    /// Index the PARTs by number for [`Plan::part`].
    pub(super) fn index_parts(&mut self) {
        let mut index: Vec<(u32, u32)> = self
            .parts
            .iter()
            .enumerate()
            .map(|(i, p)| (p.number, i as u32))
            .collect();
        // Stable: of a number defined twice, the first definition leads.
        index.sort_by_key(|&(n, _)| n);
        index.dedup_by_key(|&mut (n, _)| n);
        self.part_index = index;
    }
}

/// `**Key**: value` lines under the title.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct Meta {
    pub key: String,
    pub value: String,
    pub line: usize,
}

/// Totals the plan announces about itself ("24 runners in 6 batches", "~16,800 lines").
#[derive(Clone, Debug, Default, Serialize, PartialEq, Eq)]
pub struct Declared {
    pub parts: Option<u32>,
    pub batches: Option<u32>,
    pub lines: Option<u64>,
}

/// An entry of the influential-files list: `` N. `path.md` - description ``.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct Influential {
    pub number: u32,
    pub path: String,
    pub description: String,
    pub line: usize,
}

/// A batch the plan declares itself, as a `**Batch N**: PARTs a-b` item or a `# BATCH N:` heading.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct DeclaredBatch {
    pub number: u32,
    pub title: String,
    pub parts: Vec<u32>,
    pub line: usize,
}

#[derive(Clone, Copy, Debug, Default, Serialize, PartialEq, Eq, Hash)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    #[default]
    Pending,
    Done,
    Partial,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Pending => "pending",
            Status::Done => "done",
            Status::Partial => "partial",
        }
    }
}

/// A checkbox marker (`[ ]`, `[x]`, `[✓]`, ...) and where it sits in the plan text.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Marker {
    pub span: Range<usize>,
    pub status: Status,
}

/// Which of the three PART forms the plan uses.
#[derive(Clone, Copy, Debug, Serialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Dialect {
    /// `## PART N: Title` headings with a status line and `**Step K**` paragraphs.
    Heading,
    /// `**Worker N: Title**` paragraphs under `### Workers a-b` headings.
    Worker,
    /// `**PART N**: Title` paragraphs followed by a bullet list.
    Bold,
}

/// One unit of work: one runner, one knowledge file.
#[derive(Clone, Debug)]
pub struct Part {
    pub number: u32,
    pub title: String,
    pub line: usize,
    pub dialect: Dialect,
    /// Path of the knowledge file to create, relative to the knowledge root.
    pub target: Option<String>,
    pub target_line: Option<usize>,
    pub status: Status,
    /// The status line's checkbox, when the PART has one.
    pub marker: Option<Marker>,
    pub status_line: Option<usize>,
    /// Byte offset just after the status line's text, where `(Completed …)` goes.
    pub status_end: Option<usize>,
    /// `(Completed 2025-11-16 15:05)` as written.
    pub completed_at: Option<String>,
    /// `(FILE EXISTS - 22.6 KB)` was on the status line.
    pub file_exists: bool,
    pub expected_lines: Option<u32>,
    /// Declared batch from an enclosing `# BATCH N` heading.
    pub heading_batch: Option<u32>,
    /// "Influenced by: Files 1, 5, 16".
    pub influenced_by: Vec<u32>,
    pub steps: Vec<Step>,
    /// The PART's whole text (heading to the next PART or section), for the writer.
    pub span: Range<usize>,
}

impl Part {
    pub fn items(&self) -> impl Iterator<Item = &Item> {
        self.steps.iter().flat_map(|s| s.items.iter())
    }

    pub fn sections(&self) -> impl Iterator<Item = &Section> {
        self.items().filter_map(|i| match &i.kind {
            ItemKind::Section(s) => Some(s),
            _ => None,
        })
    }

    pub fn queries(&self) -> impl Iterator<Item = &str> {
        self.items().filter_map(|i| match &i.kind {
            ItemKind::Search { query } => Some(query.as_str()),
            _ => None,
        })
    }
}

#[derive(Clone, Copy, Debug, Serialize, PartialEq, Eq, Hash)]
#[serde(rename_all = "lowercase")]
pub enum StepKind {
    Knowledge,
    Research,
    Write,
    Drop,
    Complete,
    Other,
}

/// `**Step K: Name**` and the checklist below it.
#[derive(Clone, Debug)]
pub struct Step {
    pub number: Option<u32>,
    pub name: SharedStr,
    pub kind: StepKind,
    pub line: usize,
    pub items: Vec<Item>,
}

/// One checklist item of a step.
#[derive(Clone, Debug)]
pub struct Item {
    pub line: usize,
    /// The item's text without its checkbox.
    pub text: SharedStr,
    pub marker: Option<Marker>,
    pub kind: ItemKind,
}

#[derive(Clone, Copy, Debug, Serialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum GrepOp {
    And,
    Or,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ItemKind {
    /// `Read <path>.md (note)`, `Read folder/ (note)`, `Read ALL folder/ files`.
    Read {
        reference: SharedStr,
        note: Option<SharedStr>,
    },
    /// `Read INDEX.md for X mentions`.
    IndexLookup { topic: SharedStr },
    /// `Grep for "A" AND "B" in folder/`.
    Grep {
        terms: Vec<SharedStr>,
        op: GrepOp,
        folder: Option<SharedStr>,
    },
    /// `Search: "query"`.
    Search { query: SharedStr },
    /// `Scrape top N results`, `Scrape <what>`, `Scrape: <url>`.
    Scrape { what: SharedStr, top: Option<u32> },
    /// `Section N: Title (~100 lines)` with its nested brief.
    Section(Section),
    /// `**CITE**: folder/00 (note); folder/01 (note)`.
    Cite { refs: Vec<Reference> },
    /// `Create KNOWLEDGE-DROP-<topic>-<date>-[TIME].md`.
    CreateDrop { name: SharedStr },
    /// `Create <path>.md` naming the knowledge file.
    CreateFile { path: SharedStr },
    /// Anything else: instructions for the writer.
    Instruction,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Section {
    pub number: Option<u32>,
    pub title: SharedStr,
    pub expected_lines: Option<u32>,
    pub brief: Vec<SharedStr>,
}

/// A knowledge reference as written in a Read or CITE item.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reference {
    pub reference: SharedStr,
    pub note: Option<SharedStr>,
}

#[derive(Clone, Copy, Debug, Serialize, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Info,
    Warning,
    Error,
}

/// A finding about a plan, always with the line it concerns.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct Diagnostic {
    pub severity: Severity,
    pub line: usize,
    pub code: &'static str,
    pub message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hint: Option<String>,
}

impl Diagnostic {
    pub fn new(
        severity: Severity,
        line: usize,
        code: &'static str,
        message: impl Into<String>,
    ) -> Self {
        Diagnostic {
            severity,
            line,
            code,
            message: message.into(),
            hint: None,
        }
    }
    pub fn error(line: usize, code: &'static str, message: impl Into<String>) -> Self {
        Self::new(Severity::Error, line, code, message)
    }
    pub fn warning(line: usize, code: &'static str, message: impl Into<String>) -> Self {
        Self::new(Severity::Warning, line, code, message)
    }
    pub fn info(line: usize, code: &'static str, message: impl Into<String>) -> Self {
        Self::new(Severity::Info, line, code, message)
    }
    pub fn with_hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }
}
