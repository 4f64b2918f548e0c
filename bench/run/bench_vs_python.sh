#!/usr/bin/env bash
# mike vs the EasyEdit-style Python loop (issue 17): the default experiment
# (llava_xs + FT-LLM, protocol single, 26 test records) on VNA and on ELC.
#
#   bench/run/bench_vs_python.sh [build_dir] [runs=5]
#
# Run it from the repository root (like bench_runner.sh): mike reads data/synth
# from the working directory. Per task it alternates, `runs` times,
#   mike -q run [task=elc]                       (its defaults: threads 1)
#   easyedit_loop.py                             (no KV cache: the EasyEdit-style baseline)
#   easyedit_loop.py --kv-cache                  (the baseline's best case)
# and times each process from the outside (start-up, `import torch`, model
# load included). The Python thread setting is picked first from one run each
# of --threads 1/2 with OPENBLAS_NUM_THREADS=1 and unset (VNA, PICK_LIMIT
# records). The checker (bench/python/compare_metrics.py) compares the first
# round's mike run.h5 with both Python outputs, record by record.
# Env: PY (default /usr/bin/python3), DATA (default data/synth/test.jsonl),
#      ELC_LIMIT (records of the Python ELC loop, default 0 = all),
#      PICK_LIMIT (records of the thread pick runs, default 5: --threads 2 on a loaded
#      2-core machine took 42-50 s for 10 records in our first run).
set -euo pipefail
build_dir="${1:-build}"
runs="${2:-5}"
mike="$(cd "$build_dir" && pwd)/bin/mike"
loop="$(cd "$(dirname "${BASH_SOURCE[0]}")/../python" && pwd)"
py="${PY:-/usr/bin/python3}"
data="${DATA:-data/synth/test.jsonl}"
elc_limit="${ELC_LIMIT:-0}"
pick_limit="${PICK_LIMIT:-5}"
out="$(mktemp -d /tmp/mike_bench_vs_python.XXXXXX)"
mike_sum_before="$(md5sum "$mike" | cut -d' ' -f1)"
started=$EPOCHREALTIME

# timed LABEL CMD...: runs CMD, appends "LABEL seconds" to $out/times
timed() {
  local label="$1"; shift
  local t0=$EPOCHREALTIME
  if ! "$@" >"$out/last.out" 2>"$out/last.err"; then
    echo "FAILED ($label): $*" >&2; cat "$out/last.err" >&2; exit 1
  fi
  local t1=$EPOCHREALTIME
  awk -v l="$label" -v a="$t0" -v b="$t1" 'BEGIN { printf "%s %.3f\n", l, b - a }' | tee -a "$out/times"
}

# Warm-up (file cache, dataset/pretrained model made if missing) and the checkpoint mike uses.
"$mike" -q run out_dir="$out/warmup" data.limit=1 >/dev/null
ckpt="$(sed -n 's/.*using the pretrained model \(.*\)$/\1/p' "$out/warmup/mike.log" | head -1)"
[ -d "$ckpt" ] || { echo "cannot find the checkpoint in $out/warmup/mike.log" >&2; exit 1; }
echo "mike $mike ($("$mike" --version | head -1)), checkpoint $ckpt"
echo "python $py: $($py -c 'import torch; print("torch", torch.__version__)'), outputs in $out"

# Python thread setting: one run each, VNA, first $pick_limit records.
echo "--- python thread pick (VNA, --limit $pick_limit, one run each)"
for blas in 1 unset; do
  for threads in 1 2; do
    if [ "$blas" = unset ]; then
      timed "pick threads=$threads OPENBLAS_NUM_THREADS=unset" env -u OPENBLAS_NUM_THREADS \
        "$py" "$loop/easyedit_loop.py" --checkpoint "$ckpt" --data "$data" --threads "$threads" --limit "$pick_limit"
    else
      timed "pick threads=$threads OPENBLAS_NUM_THREADS=$blas" env OPENBLAS_NUM_THREADS="$blas" \
        "$py" "$loop/easyedit_loop.py" --checkpoint "$ckpt" --data "$data" --threads "$threads" --limit "$pick_limit"
    fi
  done
done
best="$(grep '^pick ' "$out/times" | sort -k4 -g | head -1)"
py_threads="$(echo "$best" | sed 's/.*threads=\([0-9]*\).*/\1/')"
py_blas="$(echo "$best" | sed 's/.*OPENBLAS_NUM_THREADS=\([^ ]*\).*/\1/')"
echo "picked: --threads $py_threads, OPENBLAS_NUM_THREADS=$py_blas"
pyenv=(env)
if [ "$py_blas" = unset ]; then pyenv=(env -u OPENBLAS_NUM_THREADS); else pyenv=(env OPENBLAS_NUM_THREADS="$py_blas"); fi

for task in vna elc; do
  limit=0
  [ "$task" = elc ] && limit="$elc_limit"
  echo "--- $task: $runs alternating runs (python --limit $limit; 0 = all records)"
  for i in $(seq 1 "$runs"); do
    timed "$task mike" "$mike" -q run out_dir="$out/$task.mike.$i" task="$task"
    timed "$task python" "${pyenv[@]}" "$py" "$loop/easyedit_loop.py" --checkpoint "$ckpt" --data "$data" \
      --task "$task" --threads "$py_threads" --limit "$limit" --out "$out/$task.python.$i.json"
    timed "$task python_kv" "${pyenv[@]}" "$py" "$loop/easyedit_loop.py" --checkpoint "$ckpt" --data "$data" \
      --task "$task" --threads "$py_threads" --limit "$limit" --kv-cache --out "$out/$task.python_kv.$i.json"
  done
  echo "--- $task agreement (round 1)"
  "$py" "$loop/compare_metrics.py" "$out/$task.mike.1" "$out/$task.python.1.json" || true
  "$py" "$loop/compare_metrics.py" "$out/$task.mike.1" "$out/$task.python_kv.1.json" || true
  # mike may be rebuilt while this runs: its metrics must stay identical from round to round.
  "$py" - "$out" "$task" "$runs" <<'PY'
import h5py, numpy as np, sys
out, task, runs = sys.argv[1], sys.argv[2], int(sys.argv[3])
def rows(i):
    with h5py.File(f"{out}/{task}.mike.{i}/run.h5", "r") as f:
        return {m: (f["metrics"][m]["pre"][()], f["metrics"][m]["post"][()]) for m in f["metrics"]}
first = rows(1)
bad = [(i, m) for i in range(2, runs + 1) for m, (a, b) in rows(i).items()
       if m not in first or not (np.array_equal(a, first[m][0]) and np.array_equal(b, first[m][1]))]
print(f"  mike runs 2..{runs} vs run 1: " + ("identical metrics" if not bad else f"DIFFER: {bad[:10]}"))
PY
done

echo "--- medians of external wall time per process (s), $runs runs each"
"$py" - "$out/times" "$runs" "$elc_limit" <<'PY'
import statistics, sys
times = {}
for line in open(sys.argv[1]):
    *label, t = line.split()
    times.setdefault(" ".join(label), []).append(float(t))
print(f"{'task':5} {'mike':>8} {'python':>8} {'py_kv':>8} {'python/mike':>12} {'py_kv/mike':>11}  runs (s)")
for task in ("vna", "elc"):
    m, p, k = (statistics.median(times[f"{task} {x}"]) for x in ("mike", "python", "python_kv"))
    note = f"  [python ELC on --limit {sys.argv[3]} records: ratios not like for like]" if task == "elc" and sys.argv[3] != "0" else ""
    print(f"{task:5} {m:8.2f} {p:8.2f} {k:8.2f} {p / m:12.2f} {k / m:11.2f}  "
          f"mike {times[task + ' mike']} python {times[task + ' python']} py_kv {times[task + ' python_kv']}{note}")
PY
mike_sum_after="$(md5sum "$mike" | cut -d' ' -f1)"
[ "$mike_sum_before" = "$mike_sum_after" ] || echo "WARNING: $mike changed during the benchmark (md5 $mike_sum_before -> $mike_sum_after)"
awk -v a="$started" -v b="$EPOCHREALTIME" 'BEGIN { printf "total %.0f s\n", b - a }'
