//! Stage 2: the task graph. Resolves every PART's references, turns them into
//! dependency edges (within a plan and across plans read together), finds
//! cycles, and forms the batch schedule (SPEC §3).

pub mod references;
pub mod schedule;

use std::collections::{BTreeMap, BTreeSet, HashSet};

use crate::plan::{Diagnostic, ItemKind, Plan, Severity, SharedStr, Status};
use crate::workspace::jail::Jail;
use references::{Catalog, Resolution};

/// A reference written as a path: a `.md` file, a folder with its slash,
/// a glob, `folder/NN`, or one that climbs out of the knowledge folder.
/// Only these are reported when they resolve nowhere.
fn path_shaped(r: &str) -> bool {
    let r = r.trim();
    let last = r.rsplit('/').next().unwrap_or(r);
    crate::plan::text::ends_with_md(r)
        || r.starts_with('/')
        || r.split(['/', '\\']).any(|s| s == "..")
        || r.ends_with('/')
        || r.contains('*')
        || (!last.is_empty() && last.bytes().all(|b| b.is_ascii_digit()))
}

fn starts_with_read(text: &str) -> bool {
    crate::plan::text::strip_prefix_ci(text.trim_start_matches(['*', ' ']), "read ").is_some()
}

/// How a PART mentions a reference.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RefKind {
    Read,
    Cite,
    Influence,
}

impl RefKind {
    pub fn as_str(self) -> &'static str {
        match self {
            RefKind::Read => "read",
            RefKind::Cite => "cite",
            RefKind::Influence => "influence",
        }
    }
}

#[derive(Clone, Debug)]
pub struct ResolvedRef {
    /// As written: shares the plan's text (a graph holds one per read).
    pub reference: SharedStr,
    pub line: usize,
    pub kind: RefKind,
    pub resolution: Resolution,
}

/// The graph view of one PART.
#[derive(Clone, Debug, Default)]
pub struct PartNode {
    pub number: u32,
    pub reads: Vec<ResolvedRef>,
    /// PARTs of the same plan that must finish first.
    pub depends_on: BTreeSet<u32>,
    /// PARTs of other plans read together whose targets this PART reads: (plan slug, PART).
    pub waits_on: BTreeSet<(String, u32)>,
    pub batch: u32,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Batch {
    pub number: u32,
    pub title: String,
    /// PART numbers in the order they start (dependencies first).
    pub parts: Vec<u32>,
    pub declared: bool,
}

#[derive(Clone, Debug, Default)]
pub struct PlanGraph {
    /// One node per PART, in plan order.
    pub nodes: Vec<PartNode>,
    pub batches: Vec<Batch>,
    /// (PART number, index in `nodes` of its first node), sorted by number.
    index: Vec<(u32, u32)>,
}

impl PlanGraph {
    fn new(nodes: Vec<PartNode>, batches: Vec<Batch>) -> PlanGraph {
        let mut index: Vec<(u32, u32)> = nodes
            .iter()
            .enumerate()
            .map(|(i, n)| (n.number, i as u32))
            .collect();
        // Stable: of a number defined twice, the first node leads.
        index.sort_by_key(|&(n, _)| n);
        index.dedup_by_key(|&mut (n, _)| n);
        PlanGraph {
            nodes,
            batches,
            index,
        }
    }

    /// The first node of PART `part`: a binary search, since printers and
    /// the runner ask it once per PART.
    pub fn node(&self, part: u32) -> Option<&PartNode> {
        let i = self.index.binary_search_by_key(&part, |&(n, _)| n).ok()?;
        self.nodes.get(self.index[i].1 as usize)
    }
}

/// Where a workspace lets targets go: its knowledge folder, reached
/// through its jail, minus the folders and files that are expand's own.
pub struct Place<'a> {
    pub fs: &'a Jail,
    /// The knowledge folder (absolute, inside the jail).
    pub knowledge: std::path::PathBuf,
    /// Knowledge-relative folders that hold no knowledge (`.git`, `.expand`,
    /// the plans, drops and archive folders when they lie inside it).
    pub reserved: Vec<(String, &'static str)>,
}

/// Resolve, connect and schedule `plans` together. Diagnostics are added to
/// each plan. With `place`, targets are checked against the workspace:
/// links out of it, expand's own folders, files already there.
pub fn analyze(
    plans: &mut [Plan],
    existing: &[String],
    place: Option<&Place>,
    batch_size: usize,
) -> Vec<PlanGraph> {
    let mut planned = Vec::new();
    for (pi, plan) in plans.iter().enumerate() {
        for part in &plan.parts {
            if let Some(t) = &part.target {
                planned.push((t.clone(), pi, part.number));
            }
        }
    }
    let catalog = Catalog::new(existing, &planned);
    drop(planned); // the catalog has its own copy, held through the whole analysis

    let existing_set: BTreeSet<&str> = existing.iter().map(|s| s.as_str()).collect();
    let slugs: Vec<String> = plans.iter().map(|p| p.slug.clone()).collect();
    let disk = Disk {
        existing: &existing_set,
        place,
        roots: place.and_then(root_names),
    };
    let mut graphs = Vec::with_capacity(plans.len());
    for (pi, plan) in plans.iter_mut().enumerate() {
        let mut diags = Vec::new();
        let mut nodes = Vec::with_capacity(plan.parts.len());
        let order: BTreeMap<u32, usize> = plan
            .parts
            .iter()
            .enumerate()
            .map(|(i, p)| (p.number, i))
            .collect();
        // Influential entry number → its first entry.
        let mut influential: BTreeMap<u32, &str> = BTreeMap::new();
        for f in &plan.influential {
            influential.entry(f.number).or_insert(f.path.as_str());
        }
        for part in &plan.parts {
            let mut node = PartNode {
                number: part.number,
                ..PartNode::default()
            };
            let mut refs: Vec<(SharedStr, usize, RefKind)> = Vec::new();
            // `File N` names entry N of the influential-files list: in a
            // Read or CITE item ("CITE: Files 1,5,9 explicitly"), a section
            // ("(File 5: TensorRT for …)") or "Influenced by: Files 1, 5".
            let mut file_refs: Vec<(u32, usize, RefKind)> = Vec::new();
            for item in part.items() {
                let kind = match &item.kind {
                    ItemKind::Read { reference, .. } => {
                        refs.push((reference.clone(), item.line, RefKind::Read));
                        RefKind::Read
                    }
                    ItemKind::Cite { refs: r } => {
                        refs.extend(
                            r.iter()
                                .map(|r| (r.reference.clone(), item.line, RefKind::Cite)),
                        );
                        RefKind::Cite
                    }
                    ItemKind::Section(_) => RefKind::Influence,
                    ItemKind::Instruction if starts_with_read(&item.text) => RefKind::Read,
                    _ => continue,
                };
                if plan.influential.is_empty() {
                    continue;
                }
                for n in crate::plan::text::file_numbers(&item.text) {
                    file_refs.push((n, item.line, kind));
                }
                if kind != RefKind::Influence
                    && crate::plan::text::all_files(&item.text, influential.len())
                {
                    file_refs.extend(influential.keys().map(|&n| (n, item.line, kind)));
                }
            }
            for &n in &part.influenced_by {
                file_refs.push((n, part.line, RefKind::Influence));
            }
            // One reference per file number, as its strongest mention asks:
            // a CITE line over a Read over a section's or Influenced-by's.
            let rank = |k: RefKind| match k {
                RefKind::Cite => 2,
                RefKind::Read => 1,
                RefKind::Influence => 0,
            };
            let mut by_number: BTreeMap<u32, usize> = BTreeMap::new();
            let mut unique: Vec<(u32, usize, RefKind)> = Vec::new();
            for (n, line, kind) in file_refs {
                match by_number.get(&n) {
                    Some(&i) if rank(kind) > rank(unique[i].2) => unique[i] = (n, line, kind),
                    Some(_) => {}
                    None => {
                        by_number.insert(n, unique.len());
                        unique.push((n, line, kind));
                    }
                }
            }
            for (n, line, kind) in unique {
                match influential.get(&n) {
                    Some(&path) => refs.push((path.into(), line, kind)),
                    None if !plan.influential.is_empty() => diags.push(
                        Diagnostic::warning(
                            line,
                            "unknown-file-number",
                            format!(
                                "PART {}: File {n} is not in the plan's influential-files list",
                                part.number
                            ),
                        )
                        .with_hint("`File N` names entry N of the list under the INFLUENTIAL FILES heading"),
                    ),
                    None => {}
                }
            }
            node.reads.reserve_exact(refs.len());
            for (reference, line, kind) in refs {
                let resolution = catalog.resolve(&reference);
                // "PyTorch/TF", "training/inference/hardware": prose with a
                // slash, not a path, when it names nothing.
                if resolution == Resolution::Unresolved && !path_shaped(&reference) {
                    continue;
                }
                let mut deps: Vec<(usize, u32)> = Vec::new();
                match &resolution {
                    Resolution::Planned {
                        plan: p, part: q, ..
                    } => deps.push((*p, *q)),
                    Resolution::Folder(f) => {
                        // A folder read waits for the PARTs before it that write into it.
                        let me = order[&part.number];
                        deps.extend(catalog.planned_in(f).into_iter().filter(|(p, q)| {
                            *p == pi && order.get(q).map(|&i| i < me).unwrap_or(false)
                        }));
                    }
                    Resolution::Glob(v) => {
                        for path in v {
                            if let Resolution::Planned {
                                plan: p, part: q, ..
                            } = catalog.resolve(path)
                            {
                                deps.push((p, q));
                            }
                        }
                    }
                    Resolution::Unresolved if kind != RefKind::Influence => {
                        let outside = reference.starts_with('/')
                            || reference.split(['/', '\\']).any(|s| s == "..");
                        if outside {
                            diags.push(
                                Diagnostic::warning(
                                    line,
                                    "reference-outside",
                                    format!(
                                        "PART {}: `{reference}` is outside the knowledge folder; it will not be read",
                                        part.number
                                    ),
                                )
                                .with_hint("expand reads only files inside the knowledge folder"),
                            );
                            continue;
                        }
                        diags.push(Diagnostic::warning(line, "unresolved-reference", format!("PART {}: `{reference}` is not in the knowledge base (not yet created)", part.number)));
                    }
                    _ => {}
                }
                for (p, q) in deps {
                    if p == pi {
                        if q != part.number {
                            node.depends_on.insert(q);
                        }
                    } else {
                        node.waits_on.insert((slugs[p].clone(), q));
                    }
                }
                node.reads.push(ResolvedRef {
                    reference,
                    line,
                    kind,
                    resolution,
                });
            }
            if let Some(t) = &part.target {
                check_target(
                    part.number,
                    t,
                    part.target_line.unwrap_or(part.line),
                    part.status,
                    &disk,
                    &mut diags,
                );
            }
            nodes.push(node);
        }
        if let Some(cycle) = find_cycle(&nodes) {
            let line = plan.part(cycle[0]).map(|p| p.line).unwrap_or(1);
            let path: Vec<String> = cycle.iter().map(|n| format!("PART {n}")).collect();
            diags.push(
                Diagnostic::error(
                    line,
                    "dependency-cycle",
                    format!("dependency cycle: {}", path.join(" → ")),
                )
                .with_hint("a PART reads or cites the target of a PART that reads it back"),
            );
        }
        let batches = schedule::schedule(plan, &mut nodes, batch_size, &mut diags);
        plan.diagnostics.extend(diags);
        plan.diagnostics.sort_by(|a, b| {
            a.line
                .cmp(&b.line)
                .then(b.severity.cmp(&a.severity))
                .then(a.code.cmp(b.code))
        });
        plan.diagnostics.dedup();
        graphs.push(PlanGraph::new(nodes, batches));
    }
    graphs
}

fn check_target(
    part: u32,
    t: &str,
    line: usize,
    status: Status,
    disk: &Disk,
    diags: &mut Vec<Diagnostic>,
) {
    let (existing, place, roots) = (disk.existing, disk.place, disk.roots.as_ref());
    if crate::fsutil::check_relative(t).is_err() {
        return; // reported by plan validation
    }
    let name = t.rsplit('/').next().unwrap_or(t);
    if matches!(name, "INDEX.md" | "SKILL.md") || name.starts_with("KNOWLEDGE-DROP") {
        diags.push(
            Diagnostic::error(
                line,
                "target-reserved",
                format!("PART {part}: target `{t}` is a file expand maintains itself"),
            )
            .with_hint("consolidate writes indexes, SKILL.md and drops; give the PART a knowledge file of its own"),
        );
        return;
    }
    if let Some(place) = place {
        if let Some((dir, what)) = place
            .reserved
            .iter()
            .find(|(r, _)| t == r || t.starts_with(&format!("{r}/")))
        {
            diags.push(
                Diagnostic::error(
                    line,
                    "target-reserved",
                    format!("PART {part}: target `{t}` is inside {what} `{dir}`, not the knowledge base"),
                )
                .with_hint("with `knowledge_dir: \".\"`, targets go in topic folders of their own"),
            );
            return;
        }
        // A target whose first component is nowhere in the knowledge root
        // can neither exist nor lead out through a link: no system call
        // for it (a plan of 100,000 PARTs in new folders made 100,000).
        let first = t.split('/').next().unwrap_or(t);
        let absent = roots.is_some_and(|r| {
            !matches!(first, "" | "." | "..")
                && !r.contains(crate::fsutil::fold_name(first).as_ref())
        });
        let found = if absent {
            Err(std::io::ErrorKind::NotFound.into())
        } else {
            place.fs.symlink_metadata(place.knowledge.join(t))
        };
        match found {
            Err(e) if crate::workspace::jail::is_escape(&e) => {
                diags.push(Diagnostic::error(
                    line,
                    "target-outside",
                    format!("PART {part}: target `{t}` leads outside the workspace through a symbolic link"),
                ));
                return;
            }
            Ok(m) if status == Status::Pending => {
                let what = if m.is_file() {
                    "exists already"
                } else {
                    "exists and is not a file"
                };
                diags.push(
                    Diagnostic::warning(line, "target-exists", format!("PART {part}: target `{t}` {what}"))
                        .with_hint("`expand run` replaces a file only when its bytes are what expand wrote there; else it refuses (or pass --force)"),
                );
            }
            _ => {}
        }
    }
    if status == Status::Pending && !existing.contains(t) {
        // Another file in the folder already uses this number?
        let (dir, name) = match t.rsplit_once('/') {
            Some((d, n)) => (format!("{d}/"), n),
            None => (String::new(), t),
        };
        let num: String = name.chars().take_while(|c| c.is_ascii_digit()).collect();
        if !num.is_empty() {
            let prefix = format!("{dir}{num}-");
            // The paths that start with `prefix` are one run of the sorted set.
            if let Some(other) = existing
                .range(prefix.as_str()..)
                .take_while(|e| e.starts_with(&prefix))
                .find(|e| !e[dir.len()..].contains('/'))
            {
                diags.push(Diagnostic::warning(
                    line,
                    "number-taken",
                    format!("PART {part}: number {num} is already used by `{other}`"),
                ));
            }
        }
    }
}

/// What targets are checked against: the knowledge files, the workspace,
/// and the names in its knowledge root.
struct Disk<'a> {
    existing: &'a BTreeSet<&'a str>,
    place: Option<&'a Place<'a>>,
    roots: Option<HashSet<String>>,
}

/// The names in the knowledge root, folded as a case-insensitive
/// filesystem compares them; `None` when they cannot be listed or a name
/// is not UTF-8 (then every target is looked up).
fn root_names(place: &Place) -> Option<HashSet<String>> {
    let entries = place.fs.read_dir(&place.knowledge).ok()?;
    if entries.iter().any(|e| e.name.contains('\u{FFFD}')) {
        return None;
    }
    Some(
        entries
            .iter()
            .map(|e| crate::fsutil::fold_name(&e.name).into_owned())
            .collect(),
    )
}

/// A cycle among `depends_on` edges, as PART numbers (first repeated at the end).
fn find_cycle(nodes: &[PartNode]) -> Option<Vec<u32>> {
    let idx: BTreeMap<u32, usize> = nodes
        .iter()
        .enumerate()
        .map(|(i, n)| (n.number, i))
        .collect();
    // 0 = unvisited, 1 = on stack, 2 = done. Iterative DFS: plans can be large.
    let mut state = vec![0u8; nodes.len()];
    for start in 0..nodes.len() {
        if state[start] != 0 {
            continue;
        }
        let mut stack: Vec<(usize, Vec<usize>)> = vec![(start, deps_of(nodes, &idx, start))];
        state[start] = 1;
        while let Some((at, pending)) = stack.last_mut() {
            let at = *at;
            match pending.pop() {
                Some(next) if state[next] == 1 => {
                    let mut cycle: Vec<u32> = stack.iter().map(|(i, _)| nodes[*i].number).collect();
                    let from = cycle
                        .iter()
                        .position(|&n| n == nodes[next].number)
                        .unwrap_or(0);
                    cycle.drain(..from);
                    cycle.push(nodes[next].number);
                    return Some(cycle);
                }
                Some(next) if state[next] == 0 => {
                    state[next] = 1;
                    let d = deps_of(nodes, &idx, next);
                    stack.push((next, d));
                }
                Some(_) => {}
                None => {
                    state[at] = 2;
                    stack.pop();
                }
            }
        }
    }
    None
}

fn deps_of(nodes: &[PartNode], idx: &BTreeMap<u32, usize>, i: usize) -> Vec<usize> {
    nodes[i]
        .depends_on
        .iter()
        .rev()
        .filter_map(|d| idx.get(d).copied())
        .collect()
}

/// Number of error diagnostics across plans.
pub fn error_count(plans: &[Plan]) -> usize {
    plans
        .iter()
        .flat_map(|p| &p.diagnostics)
        .filter(|d| d.severity == Severity::Error)
        .count()
}
