//! The batch schedule (SPEC §3): the plan's declared batches when it has them,
//! else consecutive groups of `batch_size` PARTs in dependency order. Within a
//! batch PARTs start in dependency order, ties broken by plan order, so the
//! schedule never depends on timing.
//!
//! Linear in the PARTs and edges (but for the ready queue's log factor): each
//! PART is placed once, into a bucket of its batch, and the first batch with
//! room is found through a skip list over the full ones, so 100,000 PARTs
//! schedule as fast per PART as 100.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};

use super::{Batch, PartNode};
use crate::plan::{Diagnostic, Plan};

/// The graph over distinct PART numbers. A number defined twice (an error
/// reported by validation) is one PART here, with the dependencies and plan
/// position of its last definition.
struct Dense {
    /// PART number → id.
    id: Ids,
    /// By id: the PART number.
    number: Vec<u32>,
    /// By id: the index in `nodes` of its last definition.
    last: Vec<usize>,
    /// By id: its dependencies among known PARTs, as ids in ascending PART
    /// number, at `deps[dep_start[id]..dep_start[id + 1]]`.
    dep_start: Vec<usize>,
    deps: Vec<usize>,
}

/// PART number → id: a table indexed by number when the numbers are not
/// much sparser than the PARTs (plans number 1, 2, 3 …), else a hash map.
/// (Hashing each of 100,000 numbers several times was a tenth of the
/// schedule's time, and grew faster than the plan.)
enum Ids {
    Table(Vec<u32>),
    Map(HashMap<u32, usize>),
}

impl Ids {
    fn new(nodes: &[PartNode]) -> Ids {
        let max = nodes.iter().map(|n| n.number as usize).max().unwrap_or(0);
        if max <= 4 * nodes.len() + 1024 {
            Ids::Table(vec![u32::MAX; max + 1])
        } else {
            Ids::Map(HashMap::with_capacity(nodes.len()))
        }
    }

    fn get(&self, number: u32) -> Option<usize> {
        match self {
            Ids::Table(t) => t
                .get(number as usize)
                .filter(|&&k| k != u32::MAX)
                .map(|&k| k as usize),
            Ids::Map(m) => m.get(&number).copied(),
        }
    }

    /// The id of a number every node has.
    fn of(&self, number: u32) -> usize {
        self.get(number).expect("every node's number has an id")
    }

    fn get_or_insert(&mut self, number: u32, new: usize) -> usize {
        match self {
            Ids::Table(t) => {
                let slot = &mut t[number as usize];
                if *slot == u32::MAX {
                    *slot = u32::try_from(new).expect("under 4 billion PARTs");
                }
                *slot as usize
            }
            Ids::Map(m) => *m.entry(number).or_insert(new),
        }
    }
}

impl Dense {
    fn new(nodes: &[PartNode]) -> Dense {
        let mut id = Ids::new(nodes);
        let (mut number, mut last) = (Vec::new(), Vec::new());
        for (i, n) in nodes.iter().enumerate() {
            let k = id.get_or_insert(n.number, number.len());
            if k == number.len() {
                number.push(n.number);
                last.push(i);
            } else {
                last[k] = i;
            }
        }
        let mut dep_start = Vec::with_capacity(number.len() + 1);
        let mut deps = Vec::new();
        for &i in &last {
            dep_start.push(deps.len());
            deps.extend(nodes[i].depends_on.iter().filter_map(|&d| id.get(d)));
        }
        dep_start.push(deps.len());
        Dense {
            id,
            number,
            last,
            dep_start,
            deps,
        }
    }

    fn deps(&self, k: usize) -> &[usize] {
        &self.deps[self.dep_start[k]..self.dep_start[k + 1]]
    }
}

pub fn schedule(
    plan: &Plan,
    nodes: &mut [PartNode],
    batch_size: usize,
    diags: &mut Vec<Diagnostic>,
) -> Vec<Batch> {
    let batch_size = batch_size.max(1);
    let g = Dense::new(nodes);
    let topo = topo_order(nodes, &g);

    let mut batches: Vec<Batch> = Vec::new();
    if !plan.batches.is_empty() {
        // (id, declared batch index) for each membership, one per pair:
        // a PART listed twice in one batch is in it once.
        let ids = &g.id;
        let mut member: Vec<(usize, usize)> = plan
            .batches
            .iter()
            .enumerate()
            .flat_map(|(bi, b)| {
                b.parts
                    .iter()
                    .filter_map(move |&n| ids.get(n).map(|k| (k, bi)))
            })
            .collect();
        member.sort_unstable();
        member.dedup();
        let mut parts: Vec<Vec<u32>> = vec![Vec::new(); plan.batches.len()];
        for &k in &topo {
            let from = member.partition_point(|&(m, _)| m < k);
            for &(_, bi) in member[from..].iter().take_while(|&&(m, _)| m == k) {
                parts[bi].push(g.number[k]);
            }
        }
        for (b, parts) in plan.batches.iter().zip(parts) {
            batches.push(Batch {
                number: b.number,
                title: b.title.clone(),
                parts,
                declared: true,
            });
        }
    } else {
        // Each PART goes to the first batch after all of its dependencies' batches
        // that still has room.
        let mut batch_of: Vec<Option<usize>> = vec![None; g.number.len()];
        let mut sizes: Vec<usize> = Vec::new();
        // `skip[b] == b` while batch b has room; a full one points further on.
        let mut skip: Vec<usize> = Vec::new();
        for &k in &topo {
            let min = g
                .deps(k)
                .iter()
                .filter_map(|&d| batch_of[d])
                .map(|b| b + 1)
                .max()
                .unwrap_or(0);
            let b = first_with_room(&mut skip, min);
            if b == sizes.len() {
                sizes.push(0);
                skip.push(b);
            }
            sizes[b] += 1;
            if sizes[b] >= batch_size {
                skip[b] = b + 1;
            }
            batch_of[k] = Some(b);
        }
        // A PART placed twice (a number defined twice on a cycle) is listed
        // where it was placed last, as often as the order holds it.
        let mut parts: Vec<Vec<u32>> = vec![Vec::new(); sizes.len()];
        for &k in &topo {
            if let Some(b) = batch_of[k] {
                parts[b].push(g.number[k]);
            }
        }
        for (i, parts) in parts.into_iter().enumerate() {
            batches.push(Batch {
                number: i as u32 + 1,
                title: String::new(),
                parts,
                declared: false,
            });
        }
    }

    // The batch of each PART (the last batch that lists it).
    let mut batch_num: Vec<Option<u32>> = vec![None; g.number.len()];
    for b in &batches {
        for p in &b.parts {
            batch_num[g.id.of(*p)] = Some(b.number);
        }
    }
    for node in nodes.iter_mut() {
        node.batch = batch_num[g.id.of(node.number)].unwrap_or(0);
    }
    for node in nodes.iter() {
        let k = g.id.of(node.number);
        let Some(mine) = batch_num[k] else {
            continue;
        };
        let line = plan.part(node.number).map(|p| p.line).unwrap_or(1);
        let same: Vec<String> = g
            .deps(k)
            .iter()
            .filter(|&&d| batch_num[d] == Some(mine))
            .map(|&d| g.number[d].to_string())
            .collect();
        if !same.is_empty() {
            diags.push(
                Diagnostic::warning(line, "dependency-in-batch", format!("PART {} depends on PART{} {} in its own batch {mine}", node.number, if same.len() > 1 { "s" } else { "" }, same.join(", ")))
                    .with_hint("they start first and PART waits for them; move it to a later batch to keep the batch fully parallel"),
            );
        }
        let later: Vec<String> = g
            .deps(k)
            .iter()
            .filter(|&&d| batch_num[d].is_some_and(|b| b > mine))
            .map(|&d| g.number[d].to_string())
            .collect();
        if !later.is_empty() {
            diags.push(Diagnostic::warning(
                line,
                "dependency-order",
                format!(
                    "PART {} in batch {mine} reads the target of PART {} from a later batch",
                    node.number,
                    later.join(", ")
                ),
            ));
        }
    }
    batches
}

/// The first batch at or after `from` with room (`skip.len()` for a new
/// one), shortening the paths it walked over full batches.
fn first_with_room(skip: &mut [usize], from: usize) -> usize {
    let mut b = from;
    while b < skip.len() && skip[b] != b {
        b = skip[b];
    }
    let end = b;
    let mut c = from;
    while c < skip.len() && skip[c] != c {
        let next = skip[c];
        skip[c] = end;
        c = next;
    }
    end
}

/// Kahn's algorithm over ids; among ready PARTs the one first in the plan
/// goes first. PARTs on a cycle are appended in plan order (the cycle is
/// reported elsewhere).
fn topo_order(nodes: &[PartNode], g: &Dense) -> Vec<usize> {
    let n = g.number.len();
    let mut indeg: Vec<usize> = (0..n).map(|k| g.deps(k).len()).collect();
    // Who depends on each id, as one flat list by id.
    let mut user_start = vec![0usize; n + 1];
    for &d in &g.deps {
        user_start[d + 1] += 1;
    }
    for k in 0..n {
        user_start[k + 1] += user_start[k];
    }
    let mut fill = user_start.clone();
    let mut users = vec![0usize; g.deps.len()];
    for k in 0..n {
        for &d in g.deps(k) {
            users[fill[d]] = k;
            fill[d] += 1;
        }
    }
    // Ordered by the position of the PART's (last) definition: unique per id.
    let mut ready: BinaryHeap<Reverse<(usize, usize)>> = (0..n)
        .filter(|&k| indeg[k] == 0)
        .map(|k| Reverse((g.last[k], k)))
        .collect();
    let mut out = Vec::with_capacity(nodes.len());
    let mut done = vec![false; n];
    while let Some(Reverse((_, k))) = ready.pop() {
        out.push(k);
        done[k] = true;
        for &u in &users[user_start[k]..user_start[k + 1]] {
            indeg[u] -= 1;
            if indeg[u] == 0 {
                ready.push(Reverse((g.last[u], u)));
            }
        }
    }
    if out.len() < nodes.len() {
        out.extend(
            nodes
                .iter()
                .map(|node| g.id.of(node.number))
                .filter(|&k| !done[k]),
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Nodes numbered `numbers`, node `a` depending on node `b` for each
    /// `(a, b)` of `deps` (indices into `numbers`).
    fn nodes(numbers: &[u32], deps: &[(usize, usize)]) -> Vec<PartNode> {
        let mut v: Vec<PartNode> = numbers
            .iter()
            .map(|&number| PartNode {
                number,
                ..PartNode::default()
            })
            .collect();
        for &(a, b) in deps {
            v[a].depends_on.insert(numbers[b]);
        }
        v
    }

    /// Numbers far apart (looked up through a map) schedule as numbers
    /// 1, 2, 3 … (looked up through a table) do.
    #[test]
    fn sparse_numbers_schedule_as_dense_ones() {
        let dense: Vec<u32> = (1..=11).collect();
        let sparse: Vec<u32> = dense.iter().map(|n| n * 1_000_003).collect();
        assert!(matches!(Ids::new(&nodes(&dense, &[])), Ids::Table(_)));
        assert!(matches!(Ids::new(&nodes(&sparse, &[])), Ids::Map(_)));
        let deps = [(1, 0), (3, 1), (4, 3), (5, 4), (9, 0), (10, 2), (2, 8)];
        let run = |numbers: &[u32]| {
            let mut ns = nodes(numbers, &deps);
            let mut diags = Vec::new();
            let batches = schedule(&Plan::default(), &mut ns, 3, &mut diags);
            let at = |p: &u32| numbers.iter().position(|n| n == p).unwrap();
            let placed: Vec<Vec<usize>> = batches
                .iter()
                .map(|b| b.parts.iter().map(at).collect())
                .collect();
            let batch_of: Vec<u32> = ns.iter().map(|n| n.batch).collect();
            (placed, batch_of, diags.len())
        };
        let (placed, batch_of, diags) = run(&dense);
        assert_eq!((placed.clone(), batch_of.clone(), diags), run(&sparse));
        // Each node after the nodes it depends on, three a batch.
        assert!(placed.iter().all(|b| b.len() <= 3));
        for (a, b) in deps {
            assert!(batch_of[a] > batch_of[b], "{a} after {b}: {batch_of:?}");
        }
    }
}
