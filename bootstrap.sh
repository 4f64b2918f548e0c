#!/usr/bin/env bash
# Set up a fresh Debian 12 machine (as root), configure a Release build with
# ccache and build it. Safe to re-run: installed packages are skipped and the
# build is incremental.
#
#   ./bootstrap.sh                 install + build + run the default job
#   ./bootstrap.sh build           install + build only
#   ./bootstrap.sh test            install + build + the whole test suite (ctest)
#   ./bootstrap.sh mike ARGS...    install + build + `mike ARGS`
#   ./bootstrap.sh fuzz [RUNS]     install clang + libFuzzer, build the fuzz targets (tests/fuzz/) in
#                                  build-fuzz/ with ASan+UBSan, run each RUNS executions (default
#                                  20000, ~5-30 s) from its seed corpus with a fixed libFuzzer seed,
#                                  so every machine runs the same inputs; fails on any finding
#   ./bootstrap.sh sanitize        build everything with ASan+UBSan in build-sanitize/ and run the
#                                  whole test suite under them (suppressions: tests/sanitize/)
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
build_dir="${MIKE_BUILD_DIR:-$here/build}"

packages=(
  build-essential cmake ninja-build ccache pkg-config git
  libtorch-dev libopenblas0-pthread
  libboost-dev libboost-program-options-dev libboost-filesystem-dev
  libyaml-cpp-dev libhdf5-dev hdf5-tools libspdlog-dev doctest-dev
  nlohmann-json3-dev libstb-dev libjpeg-dev libsentencepiece-dev libbenchmark-dev
  python3-h5py python3-numpy python3-torch python3-nltk python3-sentencepiece python3-pil python3-sklearn gnuplot-nox
  slurmctld slurmd slurm-client munge
)
# libFuzzer comes with clang only; the fuzz targets need nothing else extra.
[ "${1:-}" = fuzz ] && packages+=(clang-14 libfuzzer-14-dev)
# The suite tests the human-evaluation rating sheet in a headless browser.
case "${1:-}" in test | sanitize) packages+=(chromium) ;; esac

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "bootstrap: installing ${missing[*]}" >&2
  if [ "$(id -u)" -ne 0 ]; then
    echo "bootstrap: missing packages and not root; run as root or install: ${missing[*]}" >&2
    exit 1
  fi
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q
  apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

# LibTorch on Debian picks BLAS through alternatives; make sure OpenBLAS
# (pthread) wins over the reference BLAS, which is ~20x slower here.
for alt in libblas.so.3-x86_64-linux-gnu liblapack.so.3-x86_64-linux-gnu; do
  target=$(update-alternatives --list "$alt" 2>/dev/null | grep openblas-pthread | head -n1 || true)
  if [ -n "$target" ] && [ "$(id -u)" -eq 0 ]; then update-alternatives --set "$alt" "$target" >/dev/null; fi
done

jobs="$(nproc)"

# The fuzz targets build in a folder of their own with clang (the main build
# is gcc's) and only their targets, so this mode skips the main build.
if [ "${1:-}" = fuzz ]; then
  fuzz_build_dir="${MIKE_FUZZ_BUILD_DIR:-$here/build-fuzz}"
  if [ ! -f "$fuzz_build_dir/build.ninja" ]; then
    CC=clang-14 CXX=clang++-14 cmake -S "$here" -B "$fuzz_build_dir" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
      -DMIKE_FUZZ=ON -DMIKE_BUILD_TESTS=OFF -DMIKE_BUILD_BENCH=OFF
  fi
  cmake --build "$fuzz_build_dir" -j "$jobs" --target mike_fuzzers
  exec "$here/tests/fuzz/run_fuzzers.sh" "$fuzz_build_dir" smoke "${2:-20000}"
fi

# The sanitizer build is a second build of everything, in a folder of its
# own, so it never mixes instrumented and plain objects with the main build.
if [ "${1:-}" = sanitize ]; then
  sanitize_build_dir="${MIKE_SANITIZE_BUILD_DIR:-$here/build-sanitize}"
  if [ ! -f "$sanitize_build_dir/build.ninja" ]; then
    cmake -S "$here" -B "$sanitize_build_dir" -G Ninja -DCMAKE_BUILD_TYPE=Release -DMIKE_SANITIZE=ON \
      -DMIKE_BUILD_BENCH=OFF
  fi
  cmake --build "$sanitize_build_dir" -j "$jobs"
  # exitcode 86: a sanitizer report can never pass for an exit code a test
  # expects (the CLI's own codes are 0-6); the `mike` processes the tests
  # start inherit these settings.
  supp="$here/tests/sanitize"
  # handle_segv/handle_sigbus=0: the fixture plugins that crash on purpose
  # must die of their signal as without sanitizers (tests assert it); a
  # real crash still fails its test.
  export ASAN_OPTIONS="exitcode=86:halt_on_error=1:handle_segv=0:handle_sigbus=0:detect_leaks=1:check_initialization_order=1:detect_stack_use_after_return=1:suppressions=$supp/asan.supp"
  export UBSAN_OPTIONS="exitcode=86:halt_on_error=1:print_stacktrace=1:suppressions=$supp/ubsan.supp"
  export LSAN_OPTIONS="suppressions=$supp/lsan.supp"
  cd "$sanitize_build_dir" && exec ctest --output-on-failure -j "$jobs"
fi

if [ ! -f "$build_dir/build.ninja" ]; then
  cmake -S "$here" -B "$build_dir" -G Ninja -DCMAKE_BUILD_TYPE=Release \
    -DCMAKE_C_COMPILER_LAUNCHER=ccache -DCMAKE_CXX_COMPILER_LAUNCHER=ccache
fi
cmake --build "$build_dir" -j "$jobs"

mike="$build_dir/bin/mike"
# The default job: `mike run` on the embedded defaults (configs/config.yaml):
# it generates the quick-start synthetic world into data/synth if absent,
# pretrains the default model preset if it is not cached yet, edits the test
# records with FT-LLM (VNA task, single protocol), prints the results table
# and writes run.h5 + summary.json + a report into outputs/default/<date>_<time>/.
default_job() {
  cd "$here"  # configs/, data/ and outputs/ are relative to the checkout
  "$mike" --version
  "$mike" pretrain  # cached by config hash: instant after the first time
  local out_dir
  out_dir="outputs/default/$(date +%Y-%m-%d_%H-%M-%S)"
  "$mike" run out_dir="$out_dir"
  "$mike" report "$out_dir"
}

case "${1:-}" in
  "")    default_job ;;
  build) ;;
  test)  cd "$build_dir" && exec ctest --output-on-failure -j "$jobs" ;;
  mike)  shift; exec "$mike" "$@" ;;
  *)     echo "bootstrap: unknown action '$1' (use: build | test | mike ARGS... | fuzz [RUNS] | sanitize)" >&2; exit 2 ;;
esac
