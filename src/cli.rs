//! Command-line definitions (clap derive) and nothing else.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// Shown after `expand --help`, line by line as written.
const TYPICAL_WEEK: &str = "\
Typical week:
  expand new TOPIC --from o.md   draft a plan placed in the base
  expand validate plans/*.md     check plans (CI: --format github)
  expand run plans/x.md          run the next batch
  expand review batch 1 x        check what it wrote
  expand run x --all             run the rest
  expand consolidate x           index, archive, commit
  expand audit                   prove the base agrees with its plans";

/// Shown after `expand new --help`, line by line as written.
const NEW_EXAMPLE: &str = "\
Example outline (outline.md):
  # Rust async runtimes
  - Cancellation safety (~400 lines)
    - File: cancellation-safety.md
    - What cancellation means (~80 lines)
      - a future dropped at an await point
    - select! pitfalls
    - Search: \"tokio select cancellation safety\"
  - Structured concurrency with JoinSet ~300 lines
    - Spawning and joining
    - Aborting on the first error

Examples:
  expand new \"Rust async runtimes\" --from outline.md --dry-run   print the draft, write nothing
  expand new \"Rust async runtimes\" --from outline.md             write plans/rust-async-runtimes.md
  expand new \"Rust async runtimes\" --parts 5                     a configured model drafts the outline";

/// Orchestrate batched knowledge-expansion runs.
///
/// A plan (markdown) lists numbered PARTs; each PART reads what the knowledge
/// base knows, researches, writes one cited knowledge file and a KNOWLEDGE-DROP
/// report. expand parses plans into a task graph, runs PARTs in batches of at
/// most --batch-size runners with review between batches, then consolidates
/// INDEX.md and SKILL.md, archives the plan and makes one git commit.
const INIT_EXAMPLES: &str = "\
Examples:
  expand init                      a new workspace here
  expand init kb                   a new workspace in ./kb
  expand init --adopt ~/my-oracle  describe a knowledge base built by hand";

const VALIDATE_EXAMPLES: &str = "\
Examples:
  expand validate                        every plan in plans/
  expand validate plans/x.md plans/y.md  two plans read together
  expand validate --format github plans/*.md   annotations in GitHub Actions
  expand validate --overlaps plans/x.md  also name files that already cover a PART";

const GRAPH_EXAMPLES: &str = "\
Examples:
  expand graph x                         batches and dependencies as text
  expand graph x --format dot | dot -Tsvg > x.svg
  expand graph x --format mermaid        paste into a markdown file";

const RUN_EXAMPLES: &str = "\
Examples:
  expand run x                  the next pending batch, then stop for review
  expand run x --all            every remaining batch (stops after a failure)
  expand run x --part 3,5-7     only these PARTs
  expand run x --dry-run        what would run and be written; nothing changes (CI)
  expand run x --all --keep-going --retries 2   unattended

Exit: 0 all ran; 1 a PART failed or needs review; 2 bad input (plan, flag, config);\n3 environment (lock held, network, git); 130 Ctrl-C: run the same command to resume.";

const STATUS_EXAMPLES: &str = "\
Examples:
  expand status           every plan in plans/
  expand status x         one plan, batch by batch
  expand --json status x  the same as one JSON document";

const REVIEW_EXAMPLES: &str = "\
Examples:
  expand review batch 1 x         the quality report of batch 1
  expand review batch 1 x --show  with each PART's KNOWLEDGE-DROP
  expand review part 3 x --accept take a file that needs review as it is";

const CONSOLIDATE_EXAMPLES: &str = "\
Examples:
  expand consolidate x                  index, SKILL.md, archive, one commit
  expand consolidate x --no-commit      the same files, no commit
  expand consolidate x --allow-partial  with failed PARTs named in the commit";

const AUDIT_EXAMPLES: &str = "\
Examples:
  expand audit                 findings, one per line, with file:line
  expand -C ~/my-oracle audit  any knowledge base
  expand audit --fix           add missing index rows; nothing else is touched
  expand --json audit          for CI";

const RESET_EXAMPLES: &str = "\
Examples:
  expand reset x --part 3        PART 3 pending again (its file is kept)
  expand reset x                 every PART of x
  expand reset x --rebuild-state a damaged run state rebuilt from ticks, drops and files";

const FIX_ENCODING_EXAMPLES: &str = "\
Examples:
  expand validate plans/x.md     says `mis-encoded` when it is
  expand fix-encoding plans/x.md rewrites it as clean UTF-8";

const COMPLETIONS_EXAMPLES: &str = "\
Install:
  bash:  expand completions bash > ~/.local/share/bash-completion/completions/expand
  zsh:   expand completions zsh > ~/.zfunc/_expand   (with fpath+=~/.zfunc before compinit)
  fish:  expand completions fish > ~/.config/fish/completions/expand.fish
  powershell: expand completions powershell >> $PROFILE";

const MAN_EXAMPLES: &str = "\
Examples:
  expand man | man -l -                    read it now
  expand man > /usr/local/share/man/man1/expand.1   install it";

#[derive(Debug, Parser)]
#[command(
    name = "expand",
    version,
    about,
    long_about,
    after_help = TYPICAL_WEEK,
    propagate_version = true,
    max_term_width = 100
)]
pub struct Cli {
    /// Run as if started in DIR (the workspace root, or a folder inside it).
    #[arg(
        short = 'C',
        global = true,
        help_heading = "Global options",
        value_name = "DIR"
    )]
    pub dir: Option<PathBuf>,
    /// More log output (-v info, -vv debug, -vvv trace).
    #[arg(short, long, global = true, help_heading = "Global options", action = clap::ArgAction::Count)]
    pub verbose: u8,
    /// Only errors on stderr.
    #[arg(
        short,
        long,
        global = true,
        help_heading = "Global options",
        conflicts_with = "verbose"
    )]
    pub quiet: bool,
    /// Machine output: JSON on stdout (events, one per line, for `run`); logs stay on stderr.
    #[arg(long, global = true, help_heading = "Global options")]
    pub json: bool,
    /// When to use colors (honours NO_COLOR).
    #[arg(long, global = true, help_heading = "Global options", value_enum, default_value_t = ColorChoice::Auto, env = "EXPAND_COLOR")]
    pub color: ColorChoice,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum ColorChoice {
    Auto,
    Always,
    Never,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Create a workspace: expand.yaml (every key, commented), plans/, knowledge/
    /// with INDEX.md and SKILL.md, drops/, completed/, .gitignore; git init when
    /// not inside a repository.
    #[command(after_help = INIT_EXAMPLES)]
    Init {
        /// Folder to create the workspace in (default: the current folder, or -C DIR).
        #[arg(value_name = "DIR")]
        dir: Option<PathBuf>,
        /// Describe an existing knowledge base instead of creating one (the
        /// default when DIR already holds a SKILL.md or INDEX.md beside
        /// topic folders): find its layout, write an expand.yaml for it,
        /// ignore .expand/ in git, create no folder it does not use.
        #[arg(long)]
        adopt: bool,
    },
    /// Parse plans, resolve references, build the graph and schedule; print
    /// diagnostics with file:line. Exit 2 when a plan has errors.
    ///
    /// Several plans are checked together: a PART that reads another plan's
    /// target waits on it.
    ///
    /// CI: expand validate --format github plans/*.md
    #[command(after_help = VALIDATE_EXAMPLES)]
    Validate {
        /// Plan paths or slugs (default: every plan in plans/).
        plans: Vec<String>,
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
        /// Batch size used when a plan declares no batches.
        #[arg(long, env = "EXPAND_BATCH_SIZE")]
        batch_size: Option<usize>,
        /// Also warn about PARTs that existing knowledge files already cover
        /// (the check `expand new` runs), with each file's score.
        #[arg(long)]
        overlaps: bool,
    },
    /// Draft a plan on TOPIC, placed in the knowledge base it will grow.
    ///
    /// Writes plans/<slug>.md (never over an existing plan) and prints its
    /// validation. The PARTs come from an outline: a markdown list given
    /// with --from (works offline), or, with a language-model writer
    /// configured (writer.kind), one request that returns it as JSON.
    ///
    /// The outline (example below): one top-level item per PART, its
    /// sections nested under it, each with an optional `~N lines` and its
    /// brief as nested items; optional `File: name.md` and `Search: query`
    /// items under a PART.
    ///
    /// The draft reads the base: the influential files are the ones the
    /// runner's search ranks first for the topic and each PART; each PART's
    /// Step 0 reads and cites the closest of them; targets continue the
    /// numbering of --folder or of the best-matching folder (never a number
    /// a file or another plan has); batches hold --batch-size PARTs. A PART
    /// that existing files already cover (score 0.5 or more) gets an
    /// `**Overlaps**:` line naming them with their score, and a warning;
    /// `expand validate --overlaps` runs the same check on any plan.
    #[command(after_long_help = NEW_EXAMPLE)]
    New(NewArgs),
    /// Print the task graph with batches as clusters.
    #[command(after_help = GRAPH_EXAMPLES)]
    Graph {
        /// Plan path or slug.
        #[arg(value_name = "PLAN")]
        plan: String,
        #[arg(long, value_enum, default_value_t = GraphFormat::Text)]
        format: GraphFormat,
        #[arg(long)]
        batch_size: Option<usize>,
    },
    /// Run the next pending batch of a plan (or --batch K, --part N, --all).
    ///
    /// Ends with a summary: what ran, what failed and why, and what to type next.
    /// --dry-run prints the schedule, the resolved reads, the queries and the
    /// files that would be written, and changes nothing (the CI mode).
    #[command(after_help = RUN_EXAMPLES)]
    Run(RunArgs),
    /// Per plan and batch: done / failed / pending, timings, tokens and cost.
    #[command(after_help = STATUS_EXAMPLES)]
    Status {
        /// Plan path or slug (default: every plan in plans/).
        #[arg(value_name = "PLAN")]
        plan: Option<String>,
    },
    /// Quality report for a batch or a PART that has run; exit 1 when a check fails.
    #[command(after_help = REVIEW_EXAMPLES)]
    Review {
        #[command(subcommand)]
        what: ReviewWhat,
    },
    /// Update INDEX.md and SKILL.md, archive the plan and its drops, make one git commit.
    ///
    /// Without PLAN: every plan in plans/ whose PARTs have all run. Running it
    /// twice changes nothing.
    #[command(after_help = CONSOLIDATE_EXAMPLES)]
    Consolidate {
        /// Plan path or slug (default: every plan whose PARTs have all run).
        #[arg(value_name = "PLAN")]
        plan: Option<String>,
        /// Consolidate even though some PARTs failed (they are named in the commit).
        #[arg(long)]
        allow_partial: bool,
        /// Change the files but make no git commit.
        #[arg(long)]
        no_commit: bool,
    },
    /// Check that the knowledge base agrees with its plans, indexes and drops.
    ///
    /// Works on any knowledge base (-C DIR); configure its layout in expand.yaml.
    #[command(after_help = AUDIT_EXAMPLES)]
    Audit {
        /// Make the safe repairs: add missing index rows, drop expand's rows of missing files.
        #[arg(long)]
        fix: bool,
    },
    /// Mark PARTs pending again (state and plan ticks); their files are kept.
    ///
    /// With --rebuild-state: replace a damaged run state with one rebuilt
    /// from the plan's ticks, its drops and the files on disk.
    #[command(after_help = RESET_EXAMPLES)]
    Reset {
        /// Plan path or slug.
        #[arg(value_name = "PLAN")]
        plan: String,
        /// Only these PARTs (default: all): `--part 3`, `--part 1,3`, `--part 2-5 9`.
        #[arg(long = "part", num_args = 1.., value_name = "N", value_parser = parse_parts)]
        parts: Vec<PartList>,
        /// Rebuild the plan's run state instead (the old files are kept in
        /// `.expand/state/damaged/`); ticks and files are left as they are.
        #[arg(long, conflicts_with = "parts")]
        rebuild_state: bool,
    },
    /// Rewrite a mis-encoded plan (UTF-8 once decoded as Mac Roman or Windows-1252) as clean UTF-8.
    #[command(after_help = FIX_ENCODING_EXAMPLES)]
    FixEncoding {
        /// Plan path or slug.
        #[arg(value_name = "PLAN")]
        plan: String,
    },
    /// Print a shell completion script (bash, zsh, fish, powershell, elvish).
    #[command(after_help = COMPLETIONS_EXAMPLES)]
    Completions {
        /// The shell to complete for.
        #[arg(value_name = "SHELL")]
        shell: clap_complete::Shell,
    },
    /// Print the manual page (roff) for `man`: for packagers and readers.
    #[command(after_help = MAN_EXAMPLES)]
    Man,
}

#[derive(Clone, Debug, Args)]
#[command(next_help_heading = "Run options")]
pub struct RunArgs {
    /// Plan path or slug.
    #[arg(value_name = "PLAN", help_heading = "Arguments")]
    pub plan: String,
    /// Runners at once (and PARTs per batch when the plan declares none).
    #[arg(long, env = "EXPAND_BATCH_SIZE")]
    pub batch_size: Option<usize>,
    /// Run this batch (default: the next one with pending PARTs).
    #[arg(long, conflicts_with_all = ["all", "parts"])]
    pub batch: Option<u32>,
    /// Run only these PARTs: `--part 3`, `--part 1,3`, `--part 2-5 9`.
    #[arg(long = "part", num_args = 1.., conflicts_with = "all", value_name = "N", value_parser = parse_parts)]
    pub parts: Vec<PartList>,
    /// Run every remaining batch (stops after a batch with a failure unless --keep-going).
    #[arg(long)]
    pub all: bool,
    /// With --all: go on after a batch with a failed PART.
    #[arg(long, requires = "all")]
    pub keep_going: bool,
    /// With --all: a rolling window, no wait between batches: a PART starts as soon as a
    /// runner is free and its dependencies are done (config `window`).
    #[arg(long, requires = "all")]
    pub window: bool,
    /// Print what would run and be written; call no provider, write nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Writer to use (offline, openai, anthropic, command), overriding expand.yaml.
    #[arg(long)]
    pub provider: Option<String>,
    /// Extra attempts for a failed PART (default: config `retries`, 1).
    #[arg(long)]
    pub retries: Option<u32>,
    /// Overwrite knowledge files that exist already, and re-run done PARTs named with --part.
    #[arg(long)]
    pub force: bool,
}

#[derive(Clone, Debug, Args)]
pub struct NewArgs {
    /// What the plan expands the base with; also its file name (plans/<slug>.md).
    pub topic: String,
    /// A markdown outline: one list item per PART, nested items its sections.
    #[arg(long, value_name = "OUTLINE")]
    pub from: Option<std::path::PathBuf>,
    /// PARTs to draft (asked of the model; with --from, the first N items).
    #[arg(long, value_name = "N")]
    pub parts: Option<usize>,
    /// Knowledge folder the new files go in (default: the one that best matches the topic).
    #[arg(long, value_name = "F")]
    pub folder: Option<String>,
    /// PARTs per batch (default: config `batch_size`, 4).
    #[arg(long, value_name = "K", env = "EXPAND_BATCH_SIZE")]
    pub batch_size: Option<usize>,
    /// Leave out PARTs that existing files already cover.
    #[arg(long)]
    pub skip_covered: bool,
    /// Print the plan and its validation; write nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Writer that drafts the outline when there is no --from (offline, openai, anthropic, command).
    #[arg(long)]
    pub provider: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum ReviewWhat {
    /// Review every PART of batch K.
    #[command(after_help = REVIEW_EXAMPLES)]
    Batch {
        /// The batch's number (1 is the first).
        #[arg(value_name = "K")]
        number: u32,
        /// Plan path or slug (default: the only plan in plans/).
        #[arg(value_name = "PLAN")]
        plan: Option<String>,
        /// Print each PART's KNOWLEDGE-DROP.
        #[arg(long)]
        show: bool,
    },
    /// Review one PART.
    #[command(after_help = REVIEW_EXAMPLES)]
    Part {
        /// The PART's number.
        #[arg(value_name = "N")]
        number: u32,
        /// Plan path or slug (default: the only plan in plans/).
        #[arg(value_name = "PLAN")]
        plan: Option<String>,
        /// Print the PART's KNOWLEDGE-DROP.
        #[arg(long)]
        show: bool,
        /// Accept a PART whose file needs review: a person read it and takes
        /// it as it is. Recorded with the time; the plan is ticked and
        /// consolidate takes the file.
        #[arg(long)]
        accept: bool,
    },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Format {
    Text,
    Json,
    /// GitHub Actions workflow commands (::error file=…,line=…::…).
    Github,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum GraphFormat {
    Text,
    Dot,
    Mermaid,
}

/// PART numbers as one `--part` value wrote them: `3`, `1,3`, `2-5`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PartList(pub Vec<u32>);

/// Parse one `--part` value: numbers and ranges separated by commas.
pub fn parse_parts(s: &str) -> Result<PartList, String> {
    let mut out = Vec::new();
    for piece in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let number = |t: &str| {
            t.trim()
                .parse::<u32>()
                .map_err(|_| format!("`{t}` is not a PART number (write 3, 1,3 or 2-5)"))
        };
        match piece.split_once(['-', '–']) {
            Some((a, b)) => {
                let (a, b) = (number(a)?, number(b)?);
                if b < a {
                    return Err(format!("`{piece}` is an empty range: write {b}-{a}"));
                }
                if b - a >= 10_000 {
                    return Err(format!("`{piece}` names more than 10,000 PARTs"));
                }
                out.extend(a..=b);
            }
            None => out.push(number(piece)?),
        }
    }
    if out.is_empty() {
        return Err("no PART number given (write 3, 1,3 or 2-5)".to_string());
    }
    Ok(PartList(out))
}

/// Every PART number the `--part` values name, in order, each once.
pub fn part_numbers(lists: &[PartList]) -> Vec<u32> {
    let mut seen = std::collections::HashSet::new();
    lists
        .iter()
        .flat_map(|l| l.0.iter().copied())
        .filter(|n| seen.insert(*n))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn part_values_take_lists_and_ranges() {
        assert_eq!(parse_parts("3"), Ok(PartList(vec![3])));
        assert_eq!(parse_parts("1,3"), Ok(PartList(vec![1, 3])));
        assert_eq!(parse_parts("2-5,9"), Ok(PartList(vec![2, 3, 4, 5, 9])));
        assert!(parse_parts("5-2").unwrap_err().contains("write 2-5"));
        assert!(parse_parts("x").unwrap_err().contains("not a PART number"));
        assert!(parse_parts("1-99999").is_err());
        let lists = [PartList(vec![1, 3]), PartList(vec![3, 4])];
        assert_eq!(part_numbers(&lists), vec![1, 3, 4]);
    }
}
