#!/usr/bin/env bash
# Installs @did-plc/lib (outside the repository) if missing and prints the reference vectors.
set -euo pipefail
dir="${AERIE_PLC_REF_DIR:-/tmp/aerie-plc-ref}"
if [ ! -d "$dir/node_modules/@did-plc/lib" ]; then
  mkdir -p "$dir"
  [ -f "$dir/package.json" ] || echo '{"name":"aerie-plc-ref","private":true}' > "$dir/package.json"
  (cd "$dir" && npm install --no-audit --no-fund --silent @did-plc/lib@0.0.4)
fi
AERIE_PLC_REF_DIR="$dir" node "$(dirname "$0")/gen.mjs"
