#!/usr/bin/env bash
# The default job end to end with each of issue 17's shortcuts switched off
# and on, as ratios measured in one run (alternating rounds, medians).
#
#   bench/run/bench_speedups.sh [build_dir] [runs=5] [before_build_dir]
#
# Run from the repository root (mike reads data/synth from there). Per round
# it runs `mike -q run` (VNA, llava_xs + FT-LLM, 26 records, pretrained model
# cached) once per setting below, timing each process from the outside
# (start-up included), and reads edit/eval/log seconds from its summary.json:
#   all_on        the defaults
#   no_image_cache    model.image_feature_cache_mb=0
#   no_tf_reuse       eval.reuse_teacher_forcing=false
#   no_resume         model.cache_below_edit=false
#   all_off           the three above at once
#   before            (only with before_build_dir) another build's mike, e.g. the
#                     commit before issue 17, at its threads=1
# Also checks that every setting gives the same aggregate metrics as all_on.
set -euo pipefail
build_dir="${1:-build}"
runs="${2:-5}"
before_dir="${3:-}"
mike="$(cd "$build_dir" && pwd)/bin/mike"
out="$(mktemp -d /tmp/mike_bench_speedups.XXXXXX)"
declare -A settings=(
  [all_on]=""
  [no_image_cache]="model.image_feature_cache_mb=0"
  [no_tf_reuse]="eval.reuse_teacher_forcing=false"
  [no_resume]="model.cache_below_edit=false"
  [all_off]="model.image_feature_cache_mb=0 eval.reuse_teacher_forcing=false model.cache_below_edit=false"
)
order=(all_on no_image_cache no_tf_reuse no_resume all_off)
if [ -n "$before_dir" ]; then
  before_mike="$(cd "$before_dir" && pwd)/bin/mike"
  order+=(before)
fi
"$mike" -q run out_dir="$out/warmup" data.limit=1 >/dev/null  # world + pretrained model, file cache
for i in $(seq 1 "$runs"); do
  for name in "${order[@]}"; do
    dir="$out/$name.$i"
    t0=$EPOCHREALTIME
    if [ "$name" = before ]; then
      # The old build's default was threads: 1 (its OpenBLAS pool left at all cores).
      "$before_mike" -q run --config-dir "$before_dir/../configs" threads=1 out_dir="$dir" >/dev/null
    else
      # shellcheck disable=SC2086
      "$mike" -q run out_dir="$dir" ${settings[$name]} >/dev/null
    fi
    t1=$EPOCHREALTIME
    awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f\n", b - a }' >"$dir/process_s"
  done 2>/dev/null
done
/usr/bin/python3 - "$out" "$runs" "${order[@]}" <<'PY'
import json, statistics, sys
out, runs, order = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
def load(name, i):
    s = json.load(open(f"{out}/{name}.{i}/summary.json"))
    s["process_s"] = float(open(f"{out}/{name}.{i}/process_s").read())
    return s
rows = {n: [load(n, i) for i in range(1, runs + 1)] for n in order}
ref = rows["all_on"][0]["metrics"]
med = lambda n, f: statistics.median(f(s) for s in rows[n])
base = med("all_on", lambda s: s["process_s"])
print(f"default job (VNA, 26 records), medians of {runs} alternating rounds; ratio = setting / all_on")
print(f"{'setting':<16}{'process s':>10}{'ratio':>7}{'edit s':>8}{'pre-eval s':>11}{'post-eval s':>12}{'log s':>7}  same metrics")
for n in order:
    same = all(json.dumps(s["metrics"]) == json.dumps(ref) for s in rows[n])
    p = med(n, lambda s: s["process_s"])
    t = lambda k: med(n, lambda s: s["timing"][k])
    print(f"{n:<16}{p:>10.3f}{p / base:>7.2f}{t('edit_s'):>8.3f}{t('pre_eval_s'):>11.3f}{t('post_eval_s'):>12.3f}"
          f"{t('log_s'):>7.3f}  {'yes' if same else 'NO'}")
print(f"runs in {out}")
PY
