//! Scale (SPEC §10): generated plans of thousands of PARTs validate, every
//! generated dependency becomes an edge, and the schedule starts every PART
//! after the PARTs it depends on. The plans come from the benches'
//! generator, so the tests and the scale figures read the same plans.

use std::collections::HashMap;

use expand::plan::Severity;

#[path = "../../benches/support/plangen.rs"]
pub(crate) mod plangen;

use plangen::Shape;

/// Parse, validate and schedule `shape`'s plan (batches of 4 where the
/// plan declares none) and check the graph and schedule against it.
fn check(shape: Shape) {
    let mut plans = vec![expand::plan::parse::parse_text("big.md", &shape.plan())];
    expand::plan::validate::check(&mut plans[0]);
    let base: Vec<String> = plangen::knowledge_base()
        .into_iter()
        .map(|(p, _)| p)
        .collect();
    let graphs = expand::graph::analyze(&mut plans, &base, None, 4);
    let (plan, g) = (&plans[0], &graphs[0]);
    assert_eq!(plan.parts.len(), shape.parts);
    let errors: Vec<_> = plan
        .diagnostics
        .iter()
        .filter(|d| d.severity == Severity::Error)
        .collect();
    assert!(errors.is_empty(), "{errors:?}");

    // Where each PART starts: (batch index, position in its batch).
    let mut at: HashMap<u32, (usize, usize)> = HashMap::new();
    for (bi, b) in g.batches.iter().enumerate() {
        if shape.declared.is_none() {
            assert!(
                b.parts.len() <= 4,
                "batch {} has {}",
                b.number,
                b.parts.len()
            );
        }
        for (i, &p) in b.parts.iter().enumerate() {
            assert!(at.insert(p, (bi, i)).is_none(), "PART {p} scheduled twice");
        }
    }
    assert_eq!(at.len(), shape.parts, "every PART is scheduled once");

    let mut in_batch = 0;
    for (k, node) in (1..).zip(&g.nodes) {
        assert_eq!(node.number as usize, k);
        let want: Vec<u32> = shape.dependency(k).map(|d| d as u32).into_iter().collect();
        let got: Vec<u32> = node.depends_on.iter().copied().collect();
        assert_eq!(got, want, "PART {k}'s dependencies");
        assert_eq!(g.batches[at[&node.number].0].number, node.batch);
        for d in &node.depends_on {
            assert!(at[d] < at[&node.number], "PART {k} starts before PART {d}");
            in_batch += usize::from(at[d].0 == at[&node.number].0);
        }
    }
    // Formed batches never hold a PART with its dependency; declared ones
    // do where the plan put them there, and each is a warning.
    let warned = plan
        .diagnostics
        .iter()
        .filter(|d| d.code == "dependency-in-batch")
        .count();
    assert_eq!(warned, in_batch);
    if shape.declared.is_none() {
        assert_eq!(in_batch, 0);
        assert!(plan.diagnostics.is_empty(), "{:?}", &plan.diagnostics[..3]);
    } else {
        assert!(
            in_batch > 0,
            "the generator puts some dependencies in-batch"
        );
    }
}

#[test]
fn a_generated_5k_plan_schedules_after_its_dependencies() {
    check(Shape::lean(5_000));
}

#[test]
fn a_generated_5k_plan_with_declared_batches_keeps_them() {
    check(Shape::lean(5_000).declared(4));
}

#[test]
fn a_generated_full_plan_schedules_after_its_dependencies() {
    check(Shape::full(1_000));
}

/// Too slow for every `cargo test` in a debug build (about 3 s; the 5k
/// ones take under 1 s);
/// `cargo test --release -- --ignored` runs it.
#[test]
#[ignore]
fn a_generated_20k_plan_schedules_after_its_dependencies() {
    check(Shape::lean(20_000));
}
