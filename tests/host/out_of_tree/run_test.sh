#!/usr/bin/env bash
# Installs the SDK from the build tree into a temp prefix, builds the plugin
# in this folder against it with find_package(mike), and checks that the
# installed `mike` lists it as ok (and shows its embedded default config).
set -euo pipefail
build_dir="$1"
source_dir="$2"
work="$build_dir/test_scratch/out_of_tree"
rm -rf "$work"
mkdir -p "$work"
cmake --install "$build_dir" --prefix "$work/prefix" >"$work/install.log"
cmake -S "$source_dir" -B "$work/build" -G Ninja -DCMAKE_BUILD_TYPE=Release \
  -DCMAKE_PREFIX_PATH="$work/prefix" >"$work/configure.log" 2>&1 || { cat "$work/configure.log"; exit 1; }
cmake --build "$work/build" >"$work/build.log" 2>&1 || { cat "$work/build.log"; exit 1; }
plugin_dir="$work/build/lib/mike/plugins"
test -f "$plugin_dir/libmike_editor_third_party.so"
list=$("$work/prefix/bin/mike" plugins list --plugin-path "$plugin_dir")
echo "$list"
echo "$list" | grep -E "^editor +third_party +2\.0\.0 +ok +$plugin_dir/libmike_editor_third_party.so$"
info=$("$work/prefix/bin/mike" plugins info third_party --plugin-path "$plugin_dir")
echo "$info" | grep -q "^shift: 0.5$"
echo "out-of-tree plugin OK"
