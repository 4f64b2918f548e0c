#!/usr/bin/env bash
# Runner benchmark: evaluation throughput with and without batching, and the
# share of run time spent writing run.h5 (no taps vs 4 taps). Every figure is
# read from the summary.json of real `mike run` invocations made here, in one
# go, so ratios compare runs on the same machine state.
#
#   bench/run/bench_runner.sh [build_dir] [records]
#
# Uses the default config (llava_xs + FT-LLM, VNA, single); the first call
# may pretrain the model (cached afterwards).
set -euo pipefail
build_dir="${1:-build}"
records="${2:-10}"
mike="$build_dir/bin/mike"
out="$(mktemp -d /tmp/mike_bench_runner.XXXXXX)"
run() {  # name, overrides...
  local name="$1"; shift
  "$mike" -q run data.limit="$records" out_dir="$out/$name" "$@" >/dev/null
  /usr/bin/python3 - "$out/$name/summary.json" "$name" <<'PY'
import json, sys
s = json.load(open(sys.argv[1])); t = s["timing"]
print(f"{sys.argv[2]:<14} wall {s['wall_time_s']:7.2f} s  pre-eval {t['pre_eval_records_per_s']:7.2f} records/s"
      f"  edit {t['edit_s']:6.2f} s  post-eval {t['post_eval_s']:6.2f} s  log {t['log_s']:6.3f} s"
      f" ({100 * t['log_s'] / s['wall_time_s']:.1f}% of wall)")
PY
}
# Warm-up: makes the world and the pretrained model if they are not cached yet.
"$mike" -q run data.limit=1 out_dir="$out/warmup" >/dev/null
run unbatched eval.batch_size=1 log.weights=false
run batched eval.batch_size=16 log.weights=false
run weights eval.batch_size=16 log.weights=true
run taps4 eval.batch_size=16 log.weights=true \
  'log.taps=[lm.layers.0.mlp.down_proj.in,lm.layers.1.mlp.down_proj.in,lm.layers.1.out,projector.out]'
echo "runs in $out"
