#!/usr/bin/env bash
# The third-party path as a new user walks it: installs the SDK from the build
# tree into a temp prefix, writes the plugin of README.md's SDK section
# (exactly its code blocks, found by their first line "# my_editor/<file>" or
# "// my_editor/<file>"), builds it with find_package(mike), checks that the
# installed `mike` lists it as ok with its embedded default config, then runs
# it from a directory outside the checkout on a small world.
set -euo pipefail
build_dir="$1"
source_dir="$2"   # the project root
work="$(mktemp -d /tmp/mike_out_of_tree.XXXXXX)"
trap 'rm -rf "$work"' EXIT
cmake --install "$build_dir" --prefix "$work/prefix" >"$work/install.log"

# Extract the README's plugin files.
/usr/bin/python3 - "$source_dir/README.md" "$work" <<'PY'
import os, re, sys
readme, work = sys.argv[1], sys.argv[2]
blocks = re.findall(r"```[a-z]*\n(.*?)```", open(readme).read(), re.S)
written = []
for block in blocks:
    first = block.split("\n", 1)[0]
    m = re.match(r"^(?:#|//) (my_editor/\S+)$", first)
    if m:
        path = os.path.join(work, m.group(1))
        os.makedirs(os.path.dirname(path), exist_ok=True)
        open(path, "w").write(block)
        written.append(m.group(1))
need = {"my_editor/CMakeLists.txt", "my_editor/my_editor.yaml", "my_editor/my_editor.cpp"}
if set(written) != need:
    sys.exit("README.md's SDK section should hold exactly %s; found %s" % (sorted(need), written))
PY

cmake -S "$work/my_editor" -B "$work/my_editor/build" -G Ninja -DCMAKE_BUILD_TYPE=Release \
  -DCMAKE_PREFIX_PATH="$work/prefix" >"$work/configure.log" 2>&1 || { cat "$work/configure.log"; exit 1; }
cmake --build "$work/my_editor/build" >"$work/build.log" 2>&1 || { cat "$work/build.log"; exit 1; }
plugin_dir="$work/my_editor/build/lib/mike/plugins"
test -f "$plugin_dir/libmike_editor_my_editor.so"
# The plugin links the SDK only, never the host.
# (No `| grep -q` after a producer: under pipefail its early exit can SIGPIPE
# the producer and turn the pipeline's status into a false answer.)
needed=$(readelf -d "$plugin_dir/libmike_editor_my_editor.so" | grep NEEDED)
if grep -v libmike_sdk <<<"$needed" | grep libmike >/dev/null; then
  echo "plugin links a mike library other than libmike_sdk"; exit 1
fi
mike="$work/prefix/bin/mike"
list=$("$mike" plugins list --plugin-path "$plugin_dir")
echo "$list"
echo "$list" | grep -E "^editor +my_editor +1\.0\.0 +ok +$plugin_dir/libmike_editor_my_editor.so$"
info=$("$mike" plugins info my_editor --plugin-path "$plugin_dir")
grep -q "^layer: 1 " <<<"$info"

# Run it as a user would: from a folder outside the checkout, with the
# installed configs, on a small world of its own.
mkdir -p "$work/study"
cd "$work/study"
"$mike" -q data synth --out world --entities 26 --size 32 >"$work/synth.log" 2>&1 || { cat "$work/synth.log"; exit 1; }
"$mike" -q run --plugin-path "$plugin_dir" editor=my_editor data.dir="$work/study/world" data.limit=2 \
  data.synth.entities=26 data.synth.image_size=32 \
  ++model.initial_weights=true out_dir=run >"$work/run.log" 2>&1 || { cat "$work/run.log"; exit 1; }
/usr/bin/python3 - <<'PY'
import json
s = json.load(open("run/summary.json"))
assert s["editor"] == "my_editor", s["editor"]
rel = s["final"]["reliability.token_acc"]
print("my_editor on 2 records: reliability token_acc pre %.3f post %.3f" % (rel["pre"]["mean"], rel["post"]["mean"]))
PY
echo "out-of-tree plugin OK"
