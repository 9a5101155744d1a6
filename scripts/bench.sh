#!/usr/bin/env bash
# Runs Eddy's benchmark suite (release builds) and prints one report with the machine and the
# command of each part: engine path per window type, the Wasm boundary against a native
# closure, memory of 100 k and 1 M open windows, Kafka end to end against a bare rdkafka
# consumer in the same run (on a tansu broker process when one is installed, and on librdkafka's
# in-process mock cluster, at-least-once and exactly-once), checkpoint and recovery, hot swap;
# then the design budgets, each met or missed. Ratios come from one run of one bench, because
# these machines are noisy. Exits 1 when a budget is missed.
# Usage: scripts/bench.sh   (BENCH_EVENTS=… sets the mock-cluster Kafka runs' size; 500 000)
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh
[[ -f dist/plugins/count.wasm && -f dist/fixtures/sum-v3.wasm ]] || ./scripts/build-plugins.sh
out=$(mktemp -d)
run() {
  local name=$1; shift
  echo "running $name: $*" >&2
  if ! env "$@" > "$out/$name.txt" 2>&1; then
    echo "$name failed; its output is in $out/$name.txt" >&2
  fi
}

# A tansu broker process for the Kafka run against a real broker, when one is installed by hand
# (the tests moved to Apache Kafka, tests/kafka/; moving this bench there is still to do).
tansu=$(command -v tansu || echo "$HOME/.cargo/bin/tansu")
broker_pid=""
trap '[[ -n $broker_pid ]] && kill "$broker_pid" 2>/dev/null || true' EXIT
if [[ -x $tansu ]]; then
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  "$tansu" broker --listener-url "tcp://127.0.0.1:$port" --advertised-listener-url "tcp://127.0.0.1:$port" \
    --storage-engine memory://tansu/ >"$out/tansu.log" 2>&1 &
  broker_pid=$!
  for _ in $(seq 100); do (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break; sleep 0.2; done
  for topic in bench-events bench-results bench-late bench-dead; do
    "$tansu" topic create --broker "tcp://127.0.0.1:$port" --partitions 4 "$topic" >/dev/null
  done
fi

run aggregator cargo bench -p eddy --bench aggregator
run windows BENCH_OPEN_WINDOWS=100000,1000000 cargo bench -p eddy --bench windows
if [[ -n $broker_pid ]]; then
  run kafka-tansu BENCH_BROKERS="127.0.0.1:$port" BENCH_EVENTS=1000000 cargo bench -p eddy --bench kafka
  kill "$broker_pid" 2>/dev/null || true
  broker_pid=""
fi
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
echo "## Engine path and the Wasm boundary (cargo bench -p eddy --bench windows / aggregator; events/s, median of criterion's samples)"
echo
echo "| benchmark | throughput |"
echo "|---|---|"
criterion "$out/windows.txt"
criterion "$out/aggregator.txt"
echo
echo "## Memory of open windows (cargo bench -p eddy --bench windows, measured first in the process)"
echo
grep '^open windows' "$out/windows.txt" | sed 's/^/- /'
for bench in kafka-tansu kafka kafka-eos checkpoint swap; do
  [[ -f $out/$bench.txt ]] || continue
  echo
  echo "## $bench"
  echo
  grep -E '^\||^Kafka|^Checkpoint|^Hot swap' "$out/$bench.txt" || echo "(no table: see $out/$bench.txt)"
done

echo
echo "## Design budgets (../shared/design.md)"
echo
scripts/bench-budgets.sh "$out"
