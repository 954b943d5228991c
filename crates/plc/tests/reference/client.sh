#!/usr/bin/env bash
# Starts `aerie plc` on a free loopback port with a temporary data dir, drives it with the
# reference client (client.mjs), and stops it again. Installs @did-plc/lib outside the
# repository first if needed (see gen.sh).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../../../.." && pwd)"
dir="${AERIE_PLC_REF_DIR:-/tmp/aerie-plc-ref}"
if [ ! -d "$dir/node_modules/@did-plc/lib" ]; then
  mkdir -p "$dir"
  [ -f "$dir/package.json" ] || echo '{"name":"aerie-plc-ref","private":true}' > "$dir/package.json"
  (cd "$dir" && npm install --no-audit --no-fund --silent @did-plc/lib@0.0.4)
fi
(cd "$root" && cargo build -q -p aerie)
data="$(mktemp -d)"
port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
"$root/target/debug/aerie" plc --port "$port" --data-dir "$data" &
pid=$!
trap 'kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; rm -rf "$data"' EXIT
for _ in $(seq 50); do curl -sf "http://127.0.0.1:$port/_health" >/dev/null && break; sleep 0.1; done
AERIE_PLC_REF_DIR="$dir" node "$here/client.mjs" "http://127.0.0.1:$port"
