//! The batch schedule (SPEC §3): the plan's declared batches when it has them,
//! else consecutive groups of `batch_size` PARTs in dependency order. Within a
//! batch PARTs start in dependency order, ties broken by plan order, so the
//! schedule never depends on timing.

use std::collections::{BTreeMap, BTreeSet};

use super::{Batch, PartNode};
use crate::plan::{Diagnostic, Plan};

pub fn schedule(
    plan: &Plan,
    nodes: &mut [PartNode],
    batch_size: usize,
    diags: &mut Vec<Diagnostic>,
) -> Vec<Batch> {
    let batch_size = batch_size.max(1);
    let known: BTreeSet<u32> = nodes.iter().map(|n| n.number).collect();
    let deps: BTreeMap<u32, BTreeSet<u32>> = nodes
        .iter()
        .map(|n| {
            (
                n.number,
                n.depends_on.intersection(&known).copied().collect(),
            )
        })
        .collect();
    let plan_order: Vec<u32> = nodes.iter().map(|n| n.number).collect();
    let topo = topo_order(&plan_order, &deps);

    let mut batches: Vec<Batch> = Vec::new();
    if !plan.batches.is_empty() {
        for b in &plan.batches {
            let members: BTreeSet<u32> = b
                .parts
                .iter()
                .copied()
                .filter(|n| known.contains(n))
                .collect();
            let parts: Vec<u32> = topo
                .iter()
                .copied()
                .filter(|n| members.contains(n))
                .collect();
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
        let mut batch_of: BTreeMap<u32, usize> = BTreeMap::new();
        let mut sizes: Vec<usize> = Vec::new();
        for &n in &topo {
            let min = deps[&n]
                .iter()
                .filter_map(|d| batch_of.get(d))
                .map(|b| b + 1)
                .max()
                .unwrap_or(0);
            let mut b = min.max(
                sizes
                    .iter()
                    .position(|&s| s < batch_size)
                    .unwrap_or(sizes.len()),
            );
            while b < sizes.len() && sizes[b] >= batch_size {
                b += 1;
            }
            if b == sizes.len() {
                sizes.push(0);
            }
            sizes[b] += 1;
            batch_of.insert(n, b);
        }
        for (i, _) in sizes.iter().enumerate() {
            let parts: Vec<u32> = topo.iter().copied().filter(|n| batch_of[n] == i).collect();
            batches.push(Batch {
                number: i as u32 + 1,
                title: String::new(),
                parts,
                declared: false,
            });
        }
    }

    let batch_num: BTreeMap<u32, u32> = batches
        .iter()
        .flat_map(|b| b.parts.iter().map(move |&p| (p, b.number)))
        .collect();
    for node in nodes.iter_mut() {
        node.batch = batch_num.get(&node.number).copied().unwrap_or(0);
    }
    for node in nodes.iter() {
        let Some(&mine) = batch_num.get(&node.number) else {
            continue;
        };
        let line = plan.part(node.number).map(|p| p.line).unwrap_or(1);
        let same: Vec<String> = deps[&node.number]
            .iter()
            .filter(|d| batch_num.get(d) == Some(&mine))
            .map(|d| d.to_string())
            .collect();
        if !same.is_empty() {
            diags.push(
                Diagnostic::warning(line, "dependency-in-batch", format!("PART {} depends on PART{} {} in its own batch {mine}", node.number, if same.len() > 1 { "s" } else { "" }, same.join(", ")))
                    .with_hint("they start first and PART waits for them; move it to a later batch to keep the batch fully parallel"),
            );
        }
        let later: Vec<String> = deps[&node.number]
            .iter()
            .filter(|d| batch_num.get(d).map(|b| *b > mine).unwrap_or(false))
            .map(|d| d.to_string())
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

/// Kahn's algorithm; among ready PARTs the one first in the plan goes first.
/// PARTs on a cycle are appended in plan order (the cycle is reported elsewhere).
fn topo_order(plan_order: &[u32], deps: &BTreeMap<u32, BTreeSet<u32>>) -> Vec<u32> {
    let pos: BTreeMap<u32, usize> = plan_order
        .iter()
        .enumerate()
        .map(|(i, &n)| (n, i))
        .collect();
    let mut indeg: BTreeMap<u32, usize> = plan_order.iter().map(|&n| (n, deps[&n].len())).collect();
    let mut users: BTreeMap<u32, Vec<u32>> = BTreeMap::new();
    for (&n, ds) in deps {
        for &d in ds {
            users.entry(d).or_default().push(n);
        }
    }
    let mut ready: BTreeSet<(usize, u32)> = indeg
        .iter()
        .filter(|(_, &d)| d == 0)
        .map(|(&n, _)| (pos[&n], n))
        .collect();
    let mut out = Vec::with_capacity(plan_order.len());
    while let Some(first) = ready.pop_first() {
        out.push(first.1);
        for &u in users.get(&first.1).map(|v| v.as_slice()).unwrap_or(&[]) {
            let e = indeg.get_mut(&u).expect("known PART");
            *e -= 1;
            if *e == 0 {
                ready.insert((pos[&u], u));
            }
        }
    }
    if out.len() < plan_order.len() {
        let done: BTreeSet<u32> = out.iter().copied().collect();
        out.extend(plan_order.iter().copied().filter(|n| !done.contains(n)));
    }
    out
}
