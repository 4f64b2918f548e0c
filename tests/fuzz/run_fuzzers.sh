#!/usr/bin/env bash
# Runs each fuzz target of a MIKE_FUZZ build folder in turn (one process at a
# time) on its seed corpus, and fails on the first finding.
#
#   tests/fuzz/run_fuzzers.sh BUILD_DIR smoke N [TARGET...]     N executions each from the seed corpus
#                                     alone, libFuzzer seed 1: the same inputs on every machine, so
#                                     CI's smoke is reproducible (what ./bootstrap.sh fuzz and CI run)
#   tests/fuzz/run_fuzzers.sh BUILD_DIR seconds N [TARGET...]   N seconds each
#   tests/fuzz/run_fuzzers.sh BUILD_DIR runs N [TARGET...]      N executions each
#                                     (at most $MIKE_FUZZ_MAX_SECONDS each when that is set)
#
# Each target runs at `nice -n ${MIKE_FUZZ_NICE:-19}`. libFuzzer's 10 s
# timeout is wall-clock, so beside a build at nice 0 a nice-19 target gets too
# little CPU and reports slow inputs as hangs; set MIKE_FUZZ_NICE=0 then.
#
# Inputs libFuzzer finds are kept in BUILD_DIR/fuzz/corpus/<target>/ (a
# later run starts from them), findings in BUILD_DIR/fuzz/findings/<target>/,
# each target's log in BUILD_DIR/fuzz/<target>.log. Prints one line per
# target: executions, coverage (cov/ft of libFuzzer's last line), seconds.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
build_dir="$(cd "$1" && pwd)"
mode="$2"
amount="$3"
shift 3
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  for corpus in "$here"/corpus/*/; do targets+=("$(basename "$corpus")"); done
fi
fresh=0
case "$mode" in
  smoke) limit=(-runs="$amount" -seed=1); fresh=1 ;;
  seconds) limit=(-max_total_time="$amount") ;;
  runs) limit=(-runs="$amount"); [ -n "${MIKE_FUZZ_MAX_SECONDS:-}" ] && limit+=(-max_total_time="$MIKE_FUZZ_MAX_SECONDS") ;;
  *) echo "run_fuzzers: mode must be 'smoke', 'seconds' or 'runs', not '$mode'" >&2; exit 2 ;;
esac

status=0
for target in "${targets[@]}"; do
  binary="$build_dir/bin/$target"
  [ -x "$binary" ] || { echo "run_fuzzers: $binary is not built (cmake --build $build_dir --target mike_fuzzers)" >&2; exit 2; }
  work="$build_dir/fuzz/corpus/$target"
  if [ $fresh -eq 1 ]; then  # what earlier runs found would make the smoke differ from machine to machine
    work="$build_dir/fuzz/smoke/$target"
    rm -rf "$work"
  fi
  findings="$build_dir/fuzz/findings/$target"
  log="$build_dir/fuzz/$target.log"
  mkdir -p "$work" "$findings"
  options=("${limit[@]}" -timeout=10 -rss_limit_mb=2048 -max_len=8192 -print_final_stats=1
           -artifact_prefix="$findings/")
  [ -f "$here/$target.dict" ] && options+=(-dict="$here/$target.dict")
  start=$(date +%s)
  if nice -n "${MIKE_FUZZ_NICE:-19}" "$binary" "${options[@]}" "$work" "$here/corpus/$target" >"$log" 2>&1; then
    result=ok
  else
    result="FINDING (see $log and $findings/)"
    status=1
  fi
  seconds=$(( $(date +%s) - start ))
  last=$(grep -E '^#[0-9]+' "$log" | tail -n1 || true)
  runs=$(grep -E '^stat::number_of_executed_units' "$log" | awk '{print $2}' || true)
  cov=$(sed -nE 's/.* cov: ([0-9]+).*/\1/p' <<<"$last")
  ft=$(sed -nE 's/.* ft: ([0-9]+).*/\1/p' <<<"$last")
  printf '%-20s %s: %s execs, cov %s, ft %s, %ss\n' "$target" "$result" "${runs:-?}" "${cov:-?}" "${ft:-?}" "$seconds"
  [ $status -eq 0 ] || break
done
exit $status
