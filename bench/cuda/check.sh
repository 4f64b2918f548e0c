#!/usr/bin/env bash
# CUDA check for a machine with an NVIDIA GPU and a CUDA PyTorch (pip or
# conda). Builds mike against that PyTorch's LibTorch in build-cuda/, then:
#   1. `mike --version` must report the CUDA devices;
#   2. the Hugging Face parity test (tests/model/test_hf_llava) on device=cuda;
#   3. one `mike run` edit (FT-LLM) of a tiny Hugging Face checkpoint on CUDA;
#   4. where transformers is installed: `mike model score` against
#      transformers.LlavaForConditionalGeneration on a tiny random model saved
#      with save_pretrained (bench/cuda/transformers_parity.py).
# usage: bench/cuda/check.sh [PYTHON]   (default: python3 on PATH)
# The build needs the same Debian packages as ./bootstrap.sh (yaml-cpp, HDF5,
# spdlog, Boost, doctest, sentencepiece, ...); the Python needs torch, numpy,
# pillow, sentencepiece (and transformers for step 4).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
python="${1:-python3}"
build="$here/build-cuda"
log() { printf '\n== %s\n' "$*"; }

log "PyTorch"
"$python" - <<'PY'
import torch
print("torch", torch.__version__, "cuda", torch.version.cuda, "devices", torch.cuda.device_count())
print("cxx11 abi", torch._C._GLIBCXX_USE_CXX11_ABI)
assert torch.cuda.is_available(), "this PyTorch sees no GPU"
PY
torch_dir="$("$python" -c 'import torch.utils; print(torch.utils.cmake_prefix_path)')/Torch"
abi="$("$python" -c 'import torch; print(int(torch._C._GLIBCXX_USE_CXX11_ABI))')"
if [ "$abi" != 1 ]; then
  echo "warning: this PyTorch uses the pre-C++11 libstdc++ ABI; Debian's yaml-cpp/spdlog/Boost use the new one," >&2
  echo "         so linking may fail. Use a PyTorch built with the C++11 ABI (pip wheels >= 2.7, conda-forge)." >&2
fi

log "build against $torch_dir"
cmake -S "$here" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DTorch_DIR="$torch_dir" \
  -DCMAKE_C_COMPILER_LAUNCHER=ccache -DCMAKE_CXX_COMPILER_LAUNCHER=ccache
cmake --build "$build" -j "$(nproc)"
"$build/bin/mike" --version | tee "$build/version.txt"
grep -q "device(s) visible" "$build/version.txt" || { echo "mike does not see CUDA" >&2; exit 1; }

log "parity test on CUDA (tests/model/test_hf_llava)"
# Score and generate parity plus the error cases run with device=cuda; the
# reference stays on the CPU in float64.
MIKE_TEST_DEVICE=cuda MIKE_TEST_PYTHON="$python" "$build/bin/test_hf_llava"

log "one edit on CUDA"
work="$(mktemp -d)"
/usr/bin/env "$python" "$here/tests/model/hf_llava_fixture.py" "$work/checkpoint" --layout new --dtype F16
"$build/bin/mike" run --config-dir "$here/configs" model=llava_hf model.path="$work/checkpoint" device=cuda \
  editor=ft_llm data.dir="$work/world" data.generate=new data.limit=4 data.synth.entities=52 data.synth.image_size=16 \
  data.synth.images_per_entity=4 out_dir="$work/run"
"$python" - "$work/run/summary.json" <<'PY'
import json, sys
s = json.load(open(sys.argv[1]))
print("device", s["device"], "edits", s["edits"], "peak RSS MB", s["memory"]["peak_rss_bytes"] / 2**20,
      "peak CUDA allocated MB", s["memory"].get("peak_cuda_allocated_bytes", 0) / 2**20)
assert s["device"].startswith("cuda") and "peak_cuda_allocated_bytes" in s["memory"]
PY

if "$python" -c 'import transformers' 2>/dev/null; then
  log "mike model score vs transformers.LlavaForConditionalGeneration"
  "$python" "$here/bench/cuda/transformers_parity.py" "$build/bin/mike" "$here/configs" "$work/transformers"
else
  log "transformers is not installed: skipped the transformers comparison"
fi
log "CUDA check passed"
