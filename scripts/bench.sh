#!/usr/bin/env bash
# Runs Eddy's benchmark suite (release builds) and prints one table of the results, with the
# machine and the command of each row: engine path per window type, the Wasm boundary against a
# native closure, Kafka end to end against a bare rdkafka consumer in the same run, memory of
# 100 k and 1 M open windows, checkpoint and recovery, hot swap. Ratios come from one run of
# one bench, because these machines are noisy.
# Usage: scripts/bench.sh            (BENCH_EVENTS=… sets the Kafka bench's size; 500 000)
set -euo pipefail
cd "$(dirname "$0")/.."
[[ -f dist/plugins/count.wasm && -f dist/fixtures/sum-v3.wasm ]] || ./scripts/build-plugins.sh
out=$(mktemp -d)
run() {
  local name=$1; shift
  echo "running $name: $*" >&2
  if ! env "$@" > "$out/$name.txt" 2>&1; then
    echo "$name failed; its output is in $out/$name.txt" >&2
  fi
}
run aggregator cargo bench -p eddy --bench aggregator
run windows BENCH_OPEN_WINDOWS=100000,1000000 cargo bench -p eddy --bench windows
run kafka BENCH_EVENTS="${BENCH_EVENTS:-500000}" cargo bench -p eddy --bench kafka
run kafka-eos BENCH_EVENTS="${BENCH_EVENTS:-500000}" BENCH_DELIVERY=exactly_once cargo bench -p eddy --bench kafka
run checkpoint cargo bench -p eddy --bench checkpoint
run swap cargo bench -p eddy --bench swap

# Criterion prints the benchmark's id, then its `thrpt: [low mid high]` line.
criterion() {
  awk '/^[a-z0-9_]+\/[^ ]+/ {name=$1; done=0} /thrpt:/ && !done {gsub(/\[|\]/, ""); printf "| %s | %s %s |\n", name, $4, $5; done=1}' "$1"
}

cpu=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)
echo "# Eddy benchmarks, $(date -u +%F)"
echo
echo "Machine: $(nproc) cores ($cpu), $(free -g | awk '/Mem:/ {print $2}') GiB; release builds; commit $(git rev-parse --short HEAD)."
echo
echo "## Engine path and the Wasm boundary (events/s, median of criterion's samples)"
echo
echo "| benchmark | throughput |"
echo "|---|---|"
criterion "$out/windows.txt"
criterion "$out/aggregator.txt"
echo
echo "## Memory of open windows (cargo bench -p eddy --bench windows)"
echo
grep '^open windows' "$out/windows.txt" | sed 's/^/- /'
for bench in kafka kafka-eos checkpoint swap; do
  echo
  echo "## $bench"
  echo
  grep -E '^\||^Kafka|^Checkpoint|^Hot swap' "$out/$bench.txt" || echo "(no table: see $out/$bench.txt)"
done
