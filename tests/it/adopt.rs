//! `expand init` inside a knowledge base run by hand: it finds the layout,
//! writes an expand.yaml that describes it, ignores .expand/ in git, and
//! creates nothing the base does not use; the audit then finds the
//! archived plans without a key a user would have to guess.

use crate::util::Ws;

/// A base laid out like the bench's: the root is the knowledge tree,
/// per-folder indexes, plans in `_ingest-auto/inprocess/<slug>/ingestion.md`,
/// archives in `_ingest-auto/completed/<slug>/`, a plan template, drops.
fn hand_run_base() -> Ws {
    let ws = Ws::new();
    ws.write("SKILL.md", "# Skill\n\nA base run by hand.\n")
        .write(
            "topic/INDEX.md",
            "# Topic\n\n- `00-a.md` first\n- `01-b.md` second\n",
        )
        .write("topic/00-a.md", "# A\n\nAlpha.\n")
        .write("topic/01-b.md", "# B\n\nBeta.\n")
        .write(
            "_ingest-auto/inprocess/expansion-next/ingestion.md",
            "# Next\n\n## PART 1: C\n\n- [ ] PART 1: Create topic/02-c.md\n",
        )
        .write(
            "_ingest-auto/completed/expansion-first/ingestion.md",
            "# First\n\n## PART 1: A\n\n- [✓] PART 1: Create topic/00-a.md\n\n\
             ## PART 2: Z\n\n- [✓] PART 2: Create topic/09-z.md\n",
        )
        .write(
            "_ingest-auto/completed/expansion-first/STATUS.md",
            "# Status\n\nAll done.\n",
        )
        .write(
            "_ingest-auto/TEMPLATE-PLAN/ingestion.md",
            "# Template\n\n## PART 1: Title\n\n- [ ] PART 1: Create folder/00-x.md\n",
        )
        .write(
            "_KNOWLEDGE-DROPS/KNOWLEDGE-DROP-b-2025-01-01-1200.md",
            "# Drop\n\n- **File**: `topic/01-b.md`\n",
        );
    ws
}

#[test]
fn init_adopts_a_hand_run_base_and_audit_finds_its_archive() {
    let ws = hand_run_base();
    let before: Vec<_> = ws.snapshot().into_keys().collect();
    let out = ws.expand_bare(&["init"]).code(0);
    assert!(
        out.stdout.contains("adopted the knowledge base"),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout.contains("1 pending") && out.stdout.contains("1 archived"),
        "{}",
        out.stdout
    );
    // Nothing created but the config and .gitignore.
    let after: Vec<_> = ws.snapshot().into_keys().collect();
    let added: Vec<String> = after
        .iter()
        .filter(|p| !before.contains(p))
        .map(|p| p.to_string_lossy().into_owned())
        .collect();
    assert_eq!(added, [".gitignore", "expand.yaml"]);
    assert_eq!(
        String::from_utf8(ws.read(".gitignore")).unwrap(),
        ".expand/\n"
    );
    let cfg = String::from_utf8(ws.read("expand.yaml")).unwrap();
    for want in [
        "knowledge_dir: \".\"",
        "plans_dir: _ingest-auto/inprocess",
        "completed_dir: _ingest-auto/completed",
        "drops_dir: _KNOWLEDGE-DROPS",
        "index: { mode: per-folder }",
    ] {
        assert!(cfg.contains(want), "{want} in {cfg}");
    }
    assert!(
        !cfg.contains("\ncompleted_plan_name:"),
        "found without it: {cfg}"
    );
    // The audit reads the archived plan (its STATUS.md is no plan), and
    // never the template.
    let v = ws.expand(&["--json", "audit"]).code(1).json();
    assert_eq!(v["checked"]["plans"], 2, "{v:#}");
    assert_eq!(v["checked"]["ticked"]["present"], 1);
    assert_eq!(v["checked"]["ticked"]["missing"], 1);
    let findings = v["findings"].to_string();
    assert!(!findings.contains("TEMPLATE"), "{findings}");
    // The plan kept in a folder of its own goes by the folder's name.
    let out = ws.expand(&["run", "expansion-next", "--dry-run"]).code(0);
    assert!(
        out.stdout.contains("write  topic/02-c.md"),
        "{}",
        out.stdout
    );
    assert!(
        !out.stdout.contains("/topic/"),
        "no leading slash: {}",
        out.stdout
    );
    // Run twice: already a workspace, nothing changes.
    let snap = ws.snapshot();
    ws.expand_bare(&["init"]).code(0);
    assert_eq!(snap, ws.snapshot());
}

#[cfg_attr(
    not(has_shared),
    ignore = "needs ../shared (or EXPAND_SHARED): the fixtures and the bench base"
)]
#[test]
fn init_adopts_the_bench_base() {
    let shared = crate::util::shared_or_skip!();
    let (_d, root) = crate::util::extract_bench(&shared);
    let out = crate::util::expand_cmd()
        .arg("init")
        .arg(&root)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}");
    eprintln!("{stdout}");
    assert!(stdout.contains("62 archived"), "{stdout}");
    let out = crate::util::expand_cmd()
        .arg("-C")
        .arg(&root)
        .args(["--json", "audit"])
        .output()
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["checked"]["plans"], 62, "{}", v["checked"]);
    assert!(v["checked"]["ticked"]["present"].as_u64().unwrap() > 400);
}

/// Every reference the real plans make, resolved against the bench base
/// they were written for: the rate is printed, and a reference left
/// unresolved must be one the base truly lacks (no file of that name, no
/// folder of that name, nothing the glob matches anywhere in the tree).
#[cfg_attr(
    not(has_shared),
    ignore = "needs ../shared (or EXPAND_SHARED): the fixtures and the bench base"
)]
#[test]
fn fixture_reads_resolve_against_the_bench_base_or_are_truly_absent() {
    let shared = crate::util::shared_or_skip!();
    let (_d, root) = crate::util::extract_bench(&shared);
    crate::util::expand_cmd()
        .arg("init")
        .arg(&root)
        .output()
        .unwrap();
    // Every file and folder name in the tree, lowercased.
    let (mut names, mut folders) = (
        std::collections::HashSet::new(),
        std::collections::HashSet::new(),
    );
    let mut stack = vec![root.clone()];
    while let Some(dir) = stack.pop() {
        for e in std::fs::read_dir(&dir).unwrap() {
            let e = e.unwrap();
            let name = e.file_name().to_string_lossy().to_lowercase();
            if e.file_type().unwrap().is_dir() {
                if name.starts_with('.') || name.starts_with('_') {
                    continue;
                }
                folders.insert(name);
                stack.push(e.path());
            } else {
                names.insert(name);
            }
        }
    }
    let glob = |pat: &str, name: &str| {
        let (a, b) = pat.split_once('*').unwrap_or((pat, ""));
        name.len() >= a.len() + b.len() && name.starts_with(a) && name.ends_with(b)
    };
    let (mut total, mut resolved) = (0usize, 0usize);
    let mut wrong: Vec<String> = Vec::new();
    for f in crate::util::all_fixtures(&shared) {
        let out = crate::util::expand_cmd()
            .arg("-C")
            .arg(&root)
            .args(["validate", "--format", "json"])
            .arg(&f)
            .output()
            .unwrap();
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
            panic!(
                "{}: {e}: {}",
                f.display(),
                String::from_utf8_lossy(&out.stderr)
            )
        });
        for plan in v["plans"].as_array().unwrap() {
            for part in plan["parts"].as_array().unwrap() {
                for r in part["reads"].as_array().unwrap() {
                    total += 1;
                    if !r["resolved"].is_null() {
                        resolved += 1;
                        continue;
                    }
                    let reference = r["ref"].as_str().unwrap().to_lowercase();
                    let last = reference
                        .trim_end_matches('/')
                        .rsplit('/')
                        .next()
                        .unwrap()
                        .to_string();
                    let present = if reference.contains('*') {
                        names.iter().any(|n| glob(&last, n))
                    } else if reference.ends_with(".md") {
                        names.contains(&last)
                    } else {
                        folders.contains(&last)
                    };
                    if present {
                        wrong.push(format!(
                            "{}: PART {}: `{reference}`",
                            f.display(),
                            part["number"]
                        ));
                    }
                }
            }
        }
    }
    eprintln!(
        "fixture reads against the bench base: {resolved} of {total} resolved ({:.1}%)",
        100.0 * resolved as f64 / total.max(1) as f64
    );
    assert!(total > 500, "{total} reads");
    assert!(
        wrong.is_empty(),
        "unresolved although the base has them:\n{}",
        wrong.join("\n")
    );
}

/// Seed 000 run end to end on a copy of the base it was written for, its
/// targets removed: the user's path is adopt, reset, fix the one defect
/// validate reports (two PARTs with one target), run, consolidate.
#[cfg_attr(
    not(has_shared),
    ignore = "needs ../shared (or EXPAND_SHARED): the fixtures and the bench base"
)]
#[test]
fn seed_000_runs_on_a_copy_of_the_bench_base_without_its_targets() {
    let shared = crate::util::shared_or_skip!();
    let (_d, root) = crate::util::extract_bench(&shared);
    let expand = |args: &[&str]| {
        let out = crate::util::expand_cmd()
            .arg("-C")
            .arg(&root)
            .args(args)
            .output()
            .unwrap();
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        (out.status.code(), text)
    };
    assert_eq!(expand(&["init"]).0, Some(0));
    let git = |args: &[&str]| {
        let st = std::process::Command::new("git")
            .arg("-C")
            .arg(&root)
            .args(["-c", "user.name=t", "-c", "user.email=t@example.com"])
            .args(args)
            .output()
            .unwrap();
        assert!(
            st.status.success(),
            "git {args:?}: {}",
            String::from_utf8_lossy(&st.stderr)
        );
        String::from_utf8_lossy(&st.stdout).into_owned()
    };
    git(&["init", "-q"]);
    git(&["add", "-A"]);
    git(&["commit", "-qm", "base"]);
    let plan_dir = root.join("_ingest-auto/inprocess/seed000");
    std::fs::create_dir_all(&plan_dir).unwrap();
    std::fs::copy(
        crate::util::seed(&shared, "000"),
        plan_dir.join("ingestion.md"),
    )
    .unwrap();
    let (_, dry) = expand(&["run", "seed000", "--all", "--dry-run", "--json"]);
    let v: serde_json::Value =
        serde_json::from_str(dry.lines().next().unwrap_or("{}")).unwrap_or_default();
    let mut targets: Vec<String> = Vec::new();
    for b in v["batches"].as_array().into_iter().flatten() {
        for p in b["parts"].as_array().unwrap() {
            targets.push(p["target"].as_str().unwrap().to_string());
        }
    }
    assert_eq!(targets.len(), 24, "{dry}");
    for t in &targets {
        let _ = std::fs::remove_file(root.join(t));
    }
    assert_eq!(expand(&["reset", "seed000"]).0, Some(0));
    // Reset, PARTs 21 and 23 both create one file: validate says so.
    let (code, out) = expand(&["run", "seed000", "--all"]);
    assert_eq!(code, Some(2), "{out}");
    assert!(
        out.contains("PARTs 21 and 23 both create `gcp-gpu/22-gpu-security-compliance.md`"),
        "{out}"
    );
    // PART 21 is "GPU Production Deployment Patterns": give it its own file.
    let plan = plan_dir.join("ingestion.md");
    let text = std::fs::read(&plan).unwrap();
    let text = String::from_utf8(text).unwrap();
    let fixed = text.replacen(
        "PART 21: Create gcp-gpu/22-gpu-security-compliance.md",
        "PART 21: Create gcp-gpu/20-gpu-production-deployment-patterns.md",
        1,
    );
    assert_ne!(fixed, text);
    std::fs::write(&plan, fixed).unwrap();

    let (code, out) = expand(&["run", "seed000", "--all", "--keep-going"]);
    assert_eq!(code, Some(0), "{out}");
    for p in 1..=24 {
        assert!(
            out.contains(&format!("PART {p}: done"))
                || out.contains(&format!("PART {p}: needs review")),
            "PART {p}:\n{out}"
        );
    }
    let mut drops: Vec<String> = std::fs::read_dir(root.join("_KNOWLEDGE-DROPS/seed000"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    drops.sort();
    drops.dedup();
    assert_eq!(drops.len(), 24, "{drops:?}");

    let (code, out) = expand(&["consolidate", "seed000"]);
    assert_eq!(code, Some(0), "{out}");
    // Archived as the base archives its plans: `<slug>/ingestion.md`.
    assert!(
        root.join("_ingest-auto/completed/seed000/ingestion.md")
            .is_file(),
        "{out}"
    );
    assert!(!plan_dir.exists(), "{out}");
    let log = git(&["log", "--name-only", "--format=%s", "-1"]);
    assert!(
        log.contains("gcp-gpu/20-gpu-production-deployment-patterns.md"),
        "{log}"
    );
    assert!(
        log.contains("gke-gpu/00-gke-gpu-clusters-setup.md"),
        "{log}"
    );
    assert!(git(&["status", "--porcelain"]).trim().is_empty());
    let index = std::fs::read_to_string(root.join("gcp-gpu/INDEX.md")).unwrap();
    assert_eq!(
        index.matches("22-gpu-security-compliance.md").count(),
        1,
        "{index}"
    );
}

/// The cognitive-science plan's PART 1 names its influential files only as
/// "Influenced by: Files 1,5,9" and "CITE: Files 1,5,9 explicitly": run on
/// the bench base (its hand-made file removed), it reads and cites them.
#[cfg_attr(
    not(has_shared),
    ignore = "needs ../shared (or EXPAND_SHARED): the fixtures and the bench base"
)]
#[test]
fn the_cognitive_science_part_1_reads_and_cites_its_influential_files() {
    let shared = crate::util::shared_or_skip!();
    let (_d, root) = crate::util::extract_bench(&shared);
    let expand = |args: &[&str]| {
        crate::util::expand_cmd()
            .arg("-C")
            .arg(&root)
            .args(args)
            .output()
            .unwrap()
    };
    assert!(expand(&["init"]).status.success());
    let dir = root.join("_ingest-auto/inprocess/cognitive");
    std::fs::create_dir_all(&dir).unwrap();
    let text = std::fs::read_to_string(crate::util::real(&shared, "cognitive-science")).unwrap();
    // PART 1 pending again, its file gone: the run writes it anew.
    let text = text.replacen("- [✓] PART 1:", "- [ ] PART 1:", 1);
    std::fs::write(dir.join("ingestion.md"), text).unwrap();
    std::fs::remove_file(root.join("cognitive-mastery/00-free-energy-principle-foundations.md"))
        .unwrap();
    let out = expand(&["run", "cognitive", "--part", "1"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("batch 1: 1 done, 0 failed"), "{stdout}");
    let written = std::fs::read_to_string(
        root.join("cognitive-mastery/00-free-energy-principle-foundations.md"),
    )
    .unwrap();
    for f in [
        "karpathy/distributed-training/00-deepspeed-zero-optimizer.md",
        "karpathy/inference-optimization/00-tensorrt-fundamentals.md",
        "karpathy/orchestration/00-kubernetes-gpu-scheduling.md",
    ] {
        assert!(written.contains(&format!("](../{f}")), "{f} not cited");
    }
}

/// On an adopted base, a plan kept in a folder of its own runs and is
/// archived as the base archives its plans (`completed/<slug>/ingestion.md`),
/// its empty folder gone from the plans folder.
#[test]
fn a_plan_in_its_own_folder_is_archived_under_its_own_name() {
    let ws = hand_run_base();
    ws.expand_bare(&["init"]).code(0);
    // Two lines of knowledge give the offline writer nothing to cite: the
    // file needs review, and a person takes it as it is.
    ws.expand(&["run", "expansion-next"]).code(1);
    ws.expand(&["review", "part", "1", "expansion-next", "--accept"])
        .code(0);
    let out = ws
        .expand(&["consolidate", "expansion-next", "--no-commit"])
        .code(0);
    assert!(
        ws.path()
            .join("_ingest-auto/completed/expansion-next/ingestion.md")
            .is_file(),
        "{}",
        out.stdout
    );
    assert!(
        !ws.path()
            .join("_ingest-auto/inprocess/expansion-next")
            .exists(),
        "{}",
        out.stdout
    );
    assert!(ws.path().join("topic/02-c.md").is_file());
}
