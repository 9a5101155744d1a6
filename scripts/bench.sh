#!/usr/bin/env bash
# Runs Eddy's benchmark suite (release builds) and prints one report with the machine and the
# command of each part: the whole `eddy run` process against a native baseline program and
# its start-up, engine path per window type, the Wasm boundary against a native
# closure, memory of 100 k and 1 M open windows, Kafka end to end against a bare rdkafka
# consumer in the same run (on an Apache Kafka broker process the script starts, and on
# librdkafka's in-process mock cluster; at-least-once and exactly-once), checkpoint and
# recovery, hot swap, and the spread aggregator in Rust, Python and JavaScript;
# then the design budgets, each met or missed. Ratios come from one run of one bench, because
# these machines are noisy. Exits 1 when a budget is missed.
# Usage: scripts/bench.sh   (BENCH_EVENTS=… sets the mock-cluster Kafka runs' size; 500 000;
# BENCH_HARNESS_TARGET_DIR=… takes the tests' broker and PostgreSQL harness, a debug build,
# from another build folder than CARGO_TARGET_DIR, e.g. the tests' own)
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh
[[ -f dist/plugins/count.wasm && -f dist/fixtures/sum-v3.wasm ]] || ./scripts/build-plugins.sh
[[ -f dist/examples/python-spread.wasm && -f dist/examples/js-spread.wasm ]] || ./scripts/build-polyglot.sh
out=$(mktemp -d)
run() {
  local name=$1; shift
  echo "running $name: $*" >&2
  if ! env "$@" > "$out/$name.txt" 2>&1; then
    echo "$name failed; its output is in $out/$name.txt" >&2
  fi
}

# An Apache Kafka broker process (the tests' harness: tests/src/broker.rs, installed from Maven
# Central by scripts/install-kafka.sh) for the Kafka runs against a real broker. It runs until
# its stdin closes; each bench run creates its own topics.
scripts/install-kafka.sh >/dev/null
harness=${BENCH_HARNESS_TARGET_DIR:-$CARGO_TARGET_DIR}
CARGO_TARGET_DIR=$harness cargo build -q -p eddy-tests --bin kafka-broker
coproc BROKER { exec "$harness/debug/kafka-broker" 4 2>"$out/kafka-broker.log"; }
broker_pid=$BROKER_PID
trap 'kill "$broker_pid" 2>/dev/null || true' EXIT
read -r -t 120 -u "${BROKER[0]}" brokers || { echo "the Kafka broker did not start: $out/kafka-broker.log" >&2; exit 1; }
echo "Apache Kafka broker on $brokers" >&2

run aggregator cargo bench -p eddy --bench aggregator
# The whole `eddy run` process against a single-purpose native program (bench/native-baseline).
cargo build -q --release -p eddy-native-baseline
run process cargo bench -p eddy --bench process
# The same filter over columns, over payloads and as a native closure (column transforms).
run columns cargo bench -p eddy --bench columns
run windows BENCH_OPEN_WINDOWS=100000,1000000 cargo bench -p eddy --bench windows
run workers cargo bench -p eddy --bench workers
run kafka-apache BENCH_BROKERS="$brokers" BENCH_EVENTS=1000000 cargo bench -p eddy --bench kafka
run kafka-apache-eos BENCH_BROKERS="$brokers" BENCH_EVENTS=1000000 BENCH_DELIVERY=exactly_once cargo bench -p eddy --bench kafka
# Results into PostgreSQL beside results into Kafka: a server of the tests' harness
# (tests/src/postgres.rs), running until its stdin (a fifo this script holds) closes.
CARGO_TARGET_DIR=$harness cargo build -q -p eddy-tests --bin postgres-server
mkfifo "$out/postgres-stdin"
"$harness/debug/postgres-server" <"$out/postgres-stdin" >"$out/postgres-url" 2>"$out/postgres-server.log" &
pg_pid=$!
exec {pg_hold}>"$out/postgres-stdin"
for _ in $(seq 120); do [[ -s $out/postgres-url ]] && break; sleep 1; done
if [[ -s $out/postgres-url ]]; then
  run postgres BENCH_POSTGRES_URL="$(head -1 "$out/postgres-url")" BENCH_BROKERS="$brokers" cargo bench -p eddy --bench postgres
else
  echo "the PostgreSQL server did not start: $out/postgres-server.log" >&2
fi
exec {pg_hold}>&-
wait "$pg_pid" || true
kill "$broker_pid" 2>/dev/null || true
run kafka BENCH_EVENTS="${BENCH_EVENTS:-500000}" cargo bench -p eddy --bench kafka
run kafka-eos BENCH_EVENTS="${BENCH_EVENTS:-500000}" BENCH_DELIVERY=exactly_once cargo bench -p eddy --bench kafka
run checkpoint cargo bench -p eddy --bench checkpoint
run stall cargo bench -p eddy --bench stall
run swap cargo bench -p eddy --bench swap
run polyglot cargo bench -p eddy --bench polyglot
# Allocations in steady state, per batch and not per event (dhat counts every block).
run allocations cargo test -q --release -p eddy-engine --test allocations -- --nocapture

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
criterion "$out/workers.txt"
echo
echo "## Memory of open windows (cargo bench -p eddy --bench windows, measured first in the process)"
echo
grep '^open windows' "$out/windows.txt" | sed 's/^/- /'
echo
echo "## Allocations in steady state (cargo test --release -p eddy-engine --test allocations; blocks over 40 batches)"
echo
grep 'events a batch:' "$out/allocations.txt" | sed 's/^/- /'
for bench in process columns kafka-apache kafka-apache-eos postgres kafka kafka-eos checkpoint stall swap polyglot; do
  [[ -f $out/$bench.txt ]] || continue
  echo
  echo "## $bench"
  echo
  grep -E '^\||^Kafka|^Checkpoint|^Hot swap|^Shadow run|^Results into|^Whole process|^Column filter|^Recovery|^\(first' "$out/$bench.txt" || echo "(no table: see $out/$bench.txt)"
done

echo
echo "## Design budgets (../shared/design.md)"
echo
scripts/bench-budgets.sh "$out"
