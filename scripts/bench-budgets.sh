#!/usr/bin/env bash
# Reads the outputs of one scripts/bench.sh run (the directory given) and prints each design
# budget with what was measured and whether it holds; exits 1 if one is missed or was not
# measured. Usage: scripts/bench-budgets.sh DIR
set -uo pipefail
out=$1
missed=0
verdict() { # name, measured (text), holds (0/1; empty: not measured)
  local state
  case $3 in 1) state=met ;; 0) state="**missed**"; missed=1 ;; *) state="not measured"; missed=1 ;; esac
  echo "| $1 | $2 | $state |"
}
# A criterion rate in events/s from the `thrpt:` line after the benchmark's id.
rate() {
  awk -v id="$2" '$1 == id {found=1} found && /thrpt:/ {gsub(/\[|\]/, ""); v=$4; u=$5;
    if (u ~ /^M/) v *= 1e6; else if (u ~ /^K/) v *= 1e3; printf "%.0f", v; exit}' "$1"
}
cell() { # file, row label pattern, column (1-based among the | cells)
  awk -F'|' -v pat="$2" -v col="$3" '$0 ~ pat {gsub(/^ +| +$/, "", $(col+1)); print $(col+1); exit}' "$1"
}
ge() { awk -v a="$1" -v b="$2" 'BEGIN {print (a ~ /^[0-9.]+$/ && a + 0 >= b + 0) ? 1 : 0}'; }
lt() { awk -v a="$1" -v b="$2" 'BEGIN {print (a ~ /^[0-9.]+$/ && a + 0 < b + 0) ? 1 : 0}'; }

echo "| budget | measured | |"
echo "|---|---|---|"
tumbling=$(rate "$out/windows.txt" engine_10k_keys/tumbling_10s)
verdict "engine path ≥ 1 M events/s on one core (10 s tumbling, 10 k keys, 5 aggregates)" \
  "${tumbling:-?} events/s" "$([[ -n $tumbling ]] && ge "$tumbling" 1000000)"
session=$(rate "$out/windows.txt" engine_10k_keys/session_1s)
session_share=$(awk -v a="$session" -v b="$tumbling" 'BEGIN {if (a != "" && b > 0) printf "%.2f", a / b}')
verdict "sessions ≥ 0.8 × tumbling events/s (engine path, 10 k keys, same run)" \
  "${session:-?} events/s (${session_share:-?} ×)" "$([[ -n $session_share ]] && ge "$session_share" 0.8)"
few_tumbling=$(rate "$out/windows.txt" engine_100_keys/tumbling_10s)
few_sliding=$(rate "$out/windows.txt" engine_100_keys/sliding_60s_1s)
sliding_share=$(awk -v a="$few_sliding" -v b="$few_tumbling" 'BEGIN {if (a != "" && b > 0) printf "%.2f", a / b}')
verdict "sliding 60 s every 1 s ≥ 0.7 × tumbling 10 s events/s (engine path, 100 keys, same run)" \
  "${few_sliding:-?} events/s (${sliding_share:-?} ×)" "$([[ -n $sliding_share ]] && ge "$sliding_share" 0.7)"
# Before sliding windows by slices (682106b) this benchmark wrote 614 k results/s while 10 s
# tumbling over 10 k keys read 3.41 M events/s in the same run (2026-12-05, an Intel Xeon VM):
# 0.18 results per tumbling event. Against tumbling in the same run, the budget (twice that)
# means the same on a faster or a slower machine.
sparse=$(rate "$out/windows.txt" sliding_10k_keys_sparse/results_60s_1s)
sparse_share=$(awk -v a="$sparse" -v b="$tumbling" 'BEGIN {if (a != "" && b > 0) printf "%.2f", a / b}')
verdict "sliding 60 s every 1 s, 10 k keys, one event per key and window: results/s ≥ 2 × before slices (0.18 × tumbling 10 k keys events/s, same run)" \
  "${sparse:-?} results/s (${sparse_share:-?} × tumbling)" "$([[ -n $sparse_share ]] && ge "$sparse_share" 0.36)"
# Issue 19, item 3: the allocation test passes (four times the events per batch, at most a
# quarter more blocks, for tumbling, sliding and session windows); the sliding row is shown.
sliding_allocs=$(awk '/^\{ type: sliding/ && /events a batch:/ {
    match($0, /[0-9]+ events a batch/); n=substr($0, RSTART, RLENGTH); sub(/ events a batch/, "", n)
    match($0, /[0-9]+ in the operator/); a=substr($0, RSTART, RLENGTH); sub(/ in the operator/, "", a)
    printf "%s%s blocks at %s events a batch", sep, a, n; sep=", "}' "$out/allocations.txt" 2>/dev/null)
allocations_ok=$(grep -q '^test result: ok' "$out/allocations.txt" 2>/dev/null && echo 1 || echo 0)
verdict "steady state allocates per batch, not per event (decode and window operator, 1 024 then 4 096 events a batch)" \
  "sliding windows, operator: ${sliding_allocs:-?} (40 batches)" "$([[ -n $sliding_allocs ]] && echo "$allocations_ok")"
one=$(rate "$out/workers.txt" engine_4_partitions/workers_1)
two=$(rate "$out/workers.txt" engine_4_partitions/workers_2)
workers_gain=$(awk -v a="$two" -v b="$one" 'BEGIN {if (a != "" && b > 0) printf "%.2f", a / b}')
verdict "2 workers ≥ 1.6 × one worker (engine path, 4 partitions, same run)" \
  "${two:-?} events/s against ${one:-?} (${workers_gain:-?} ×)" "$([[ -n $workers_gain ]] && ge "$workers_gain" 1.6)"
mb=$(awk '/^open windows: [0-9]+ groups/ && $3 < 200000 {print $10; exit}' "$out/windows.txt")
verdict "100 k open windows < 200 MB resident" "${mb:-?} MB" "$([[ -n $mb ]] && lt "$mb" 200)"
share=$(cell "$out/kafka-apache.txt" 'eddy / bare consumer' 2 | tr -d ' %')
verdict "Kafka end to end ≥ 70 % of a bare rdkafka consumer (Apache Kafka, at-least-once)" \
  "${share:-?} %" "$([[ -n $share ]] && ge "$share" 70)"
share=$(cell "$out/kafka-apache-eos.txt" 'eddy / bare consumer' 2 | tr -d ' %')
verdict "Kafka end to end ≥ 70 % of a bare rdkafka consumer (Apache Kafka, exactly-once)" \
  "${share:-?} %" "$([[ -n $share ]] && ge "$share" 70)"
p99=$(cell "$out/kafka-apache.txt" 'latency emit → ack' 2 | awk -F' / ' '{print $2}')
verdict "p99 window close → result acknowledged < 50 ms (Apache Kafka, at-least-once)" "${p99:-?} ms" \
  "$([[ -n $p99 ]] && lt "$p99" 50)"
# Exactly-once a result is visible when its checkpoint's transaction commits: budget one
# checkpoint interval (the bench's 1 s) + 50 ms.
p99=$(cell "$out/kafka-apache-eos.txt" 'visible to a read_committed' 2 | awk -F' / ' '{print $2}')
verdict "p99 window close → result visible < 1 checkpoint interval (1 s) + 50 ms (Apache Kafka, exactly-once)" \
  "${p99:-?} ms" "$([[ -n $p99 ]] && lt "$p99" 1050)"
checkpoint=$(cell "$out/checkpoint.txt" '^\| 1000000 ' 5 | tr -d ' ms')
recovery=$(cell "$out/checkpoint.txt" '^\| 1000000 ' 6 | tr -d ' ms')
verdict "checkpoint of 1 M keys < 1 s" "${checkpoint:-?} ms" \
  "$([[ -n $checkpoint ]] && lt "$checkpoint" 1000)"
verdict "recovery of 1 M keys < 3 s" "${recovery:-?} ms" "$([[ -n $recovery ]] && lt "$recovery" 3000)"
# Incremental checkpoints beside the loop: 1 M open keys, 1 % changing a second.
pause=$(cell "$out/stall.txt" '^\| incremental' 4 | tr -d ' ms')
verdict "checkpoint pause p99 < 50 ms (1 M keys, 1 % changing)" "${pause:-?} ms" \
  "$([[ -n $pause ]] && lt "$pause" 50)"
eos_pause=$(cell "$out/stall.txt" '^\| incremental, in the loop' 4 | tr -d ' ms')
verdict "exactly-once checkpoint pause p99 < 50 ms (changes written in the loop)" "${eos_pause:-?} ms" \
  "$([[ -n $eos_pause ]] && lt "$eos_pause" 50)"
restored=$(grep -m1 '^Recovery of' "$out/stall.txt" | grep -oE '[0-9]+ ms$' | tr -d ' ms')
verdict "recovery of 1 M keys from an incremental checkpoint < 3 s" "${restored:-?} ms" \
  "$([[ -n $restored ]] && lt "$restored" 3000)"
swap_pause=$(grep -m1 '^| (swap of' "$out/stall.txt" | grep -oE 'pause [0-9.]+' | tr -d 'pause ')
verdict "swap at a barrier under the same load < 50 ms" "${swap_pause:-?} ms" \
  "$([[ -n $swap_pause ]] && lt "$swap_pause" 50)"
base=$(cell "$out/swap.txt" 'no swap' 3 | awk -F' / ' '{print $2}')
swapped=$(cell "$out/swap.txt" 'every 100 batches' 3 | awk -F' / ' '{print $2}')
bump=$(awk -v a="$swapped" -v b="$base" 'BEGIN {if (a != "" && b != "") printf "%.2f", a - b}')
verdict "hot swap under load: batch p99 bump < 20 ms, no event lost" \
  "p99 ${base:-?} → ${swapped:-?} ms (+${bump:-?} ms)" "$([[ -n $bump ]] && lt "$bump" 20)"
for keys in 10000 100; do
  ratio=$(cell "$out/process.txt" "eddy / native baseline, $keys keys" 2 | tr -d ' ')
  verdict "whole eddy run process ≥ 0.8 × a native single-purpose program ($keys keys, start-up included)" \
    "${ratio:-?} ×" "$([[ -n $ratio ]] && ge "$ratio" 0.8)"
done
ratio=$(cell "$out/columns.txt" 'native / column filter' 2 | tr -d ' ×')
verdict "a column filter in Wasm ≥ 1/1.3 of a native closure over the same column (events/s, whole pipeline, 2 M events)" \
  "${ratio:-?} × slower" "$([[ -n $ratio ]] && lt "$ratio" 1.3)"
start=$(cell "$out/process.txt" 'compile cache warm' 2 | tr -d ' ms')
verdict "start-up of eddy run with five plugins < 50 ms (compile cache warm)" "${start:-?} ms" \
  "$([[ -n $start ]] && lt "$start" 50)"
exit $missed
