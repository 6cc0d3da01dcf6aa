#!/usr/bin/env bash
# Build expand in release and run its three benchmarks (SPEC section 10):
#   parse      plans of ../shared/fixtures vs pulldown-cmark iterating the same events
#   knowledge  a seed plan's knowledge step over ../shared/bench vs ripgrep
#   knowledge  also the scan against one rg process, and the warm start of an
#              offline run with and without the kept knowledge index
#   run        scheduler overhead, re-run, strict batches vs --window under
#              1 s ± 0.5 s latency, and the plan side: validate and dry-run
#              of 10,000-100,000 PARTs, memory per PART, and validate of every
#              fixture against examples/cmark_events (that row needs ../shared)
# Installs ripgrep when it is missing and the knowledge bench can run.
# Without ../shared (or $EXPAND_SHARED) the first two print why and skip.
#
# Usage: benches/run-all.sh            (from anywhere; CARGO_TARGET_DIR is honoured)
set -euo pipefail
cd "$(dirname "$0")/.."

shared="${EXPAND_SHARED:-../shared}"
export PATH="${CARGO_HOME:-$HOME/.cargo}/bin:$PATH"

if [ -f "$shared/bench/karpathy-deep-oracle.tar.gz" ] && ! command -v rg >/dev/null 2>&1; then
    echo "== installing ripgrep (the knowledge bench's baseline)" >&2
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
        apt-get install -y -q ripgrep >/dev/null 2>&1 ||
            { apt-get update -q >/dev/null 2>&1 && apt-get install -y -q ripgrep >/dev/null 2>&1; } || true
    fi
    if ! command -v rg >/dev/null 2>&1; then
        cargo install ripgrep --locked --quiet ||
            echo "could not install ripgrep; the knowledge bench runs without its baseline" >&2
    fi
fi

echo "== machine"
cpu_model=$(grep -m1 'model name' /proc/cpuinfo 2>/dev/null | cut -d: -f2- | sed 's/^ //')
cpu_fm=$(awk -F': ' '/^cpu family/ {f=$2} /^model\t/ {m=$2} END {if (f != "") printf "family %s model %s", f, m}' /proc/cpuinfo 2>/dev/null)
virt=$(lscpu 2>/dev/null | awk -F': *' '/Hypervisor vendor/ {print ", " $2 " guest"}')
echo "cpu:    $cpu_model ($cpu_fm), $(nproc) cores$virt"
echo "memory: $(awk '/MemTotal/ {printf "%.1f GiB", $2 / 1048576}' /proc/meminfo 2>/dev/null)"
echo "os:     $(. /etc/os-release 2>/dev/null && echo "$PRETTY_NAME"), kernel $(uname -r)"
echo "rustc:  $(rustc --version)"
echo "tmp fs: $(df -T "${TMPDIR:-/tmp}" 2>/dev/null | awk 'NR == 2 {print $2 " (" $7 ")"}')"
echo "rg:     $(rg --version 2>/dev/null | head -n1 || echo 'not installed')"
echo "commit: $(git rev-parse --short HEAD 2>/dev/null || echo unknown)"

echo "== building (release)"
cargo bench --no-run --quiet --bench parse --bench knowledge --bench run
# The whole-process baseline the run bench times `validate` against.
cargo build --release --quiet --example cmark_events

status=0
rows=$(mktemp)
trap 'rm -f "$rows"' EXIT
for bench in parse knowledge run; do
    echo
    echo "== bench: $bench"
    cargo bench --quiet --bench "$bench" | tee -a "$rows" || { echo "bench $bench failed" >&2; status=1; }
done

# Every row with a goal (issue #15's table and SPEC section 10's bars), as
# the benches measured them in this run.
echo
echo "== summary: every row with its goal"
echo "| measure | measured | goal | result |"
echo "|---|---|---|---|"
grep '^ROW | ' "$rows" | sed 's/^ROW | /| /; s/$/ |/' || echo "(no rows: see the skips above)"
exit $status
