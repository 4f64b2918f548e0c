#!/usr/bin/env bash
# Every plugin of the build links the SDK (libmike_sdk) and no other mike
# library: `readelf -d` names libmike_sdk among its NEEDED entries and nothing
# else starting with libmike.
set -euo pipefail
plugin_dir="$1"
count=0
for plugin in "$plugin_dir"/libmike_*.so; do
  needed=$(readelf -d "$plugin" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p')
  echo "$(basename "$plugin"): $(echo $needed | tr ' ' '\n' | grep '^libmike' | tr '\n' ' ')"
  # Here-strings, not `echo | grep -q`: under pipefail, grep -q exiting at its
  # first match can kill echo with SIGPIPE and fail a plugin that is fine.
  grep -qx 'libmike_sdk\.so\.[0-9.]*' <<<"$needed" || { echo "  does not link libmike_sdk"; exit 1; }
  if grep '^libmike' <<<"$needed" | grep -v '^libmike_sdk' >/dev/null; then
    echo "  links a mike library other than the SDK"
    exit 1
  fi
  count=$((count + 1))
done
[ "$count" -ge 10 ] || { echo "expected the in-tree plugins in $plugin_dir, found $count"; exit 1; }
echo "$count plugins link only the SDK"
