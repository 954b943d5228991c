#!/usr/bin/env bash
# Aerie vs the official TypeScript PDS, same machine, same run, same `aerie bench` scenarios.
# Starts both servers on loopback (sharing one did:plc stand-in), runs every scenario against
# Aerie then the reference, records each server's RSS, prints a Markdown table, and stops
# only the processes it started, by PID.
#
#   env: AERIE_BIN   release `aerie` binary (default <repo>/target/release/aerie)
#        PEER_DIR    official PDS install from ../../shared/peer/install.sh (/tmp/peer/pds)
#        OUT         result directory (default /tmp/aerie-compare)
#        DURATION    seconds per run (10)   ACCOUNTS (10)
#        AERIE_PORT (2883)  REF_PORT (2983)  PLC_PORT (2982)
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/../../.." && pwd)
PEER_SCRIPTS=${PEER_SCRIPTS:-$(cd "$REPO/.." && pwd)/shared/peer}
AERIE_BIN=${AERIE_BIN:-$REPO/target/release/aerie}
export PEER_DIR=${PEER_DIR:-/tmp/peer/pds}
OUT=${OUT:-/tmp/aerie-compare}
DURATION=${DURATION:-10}
ACCOUNTS=${ACCOUNTS:-10}
AERIE_PORT=${AERIE_PORT:-2883}
REF_PORT=${REF_PORT:-2983}
export PLC_PORT=${PLC_PORT:-2982}
ADMIN=bench-admin

rm -rf "$OUT"; mkdir -p "$OUT/aerie-data"
export DATA_DIR="$OUT/ref-data" LOG_DIR="$OUT/ref-logs" PDS_PORT="$REF_PORT" ADMIN_PASSWORD="$ADMIN"
# Production-like mode: the reference skips its response schema checks, as it would in service.
export PDS_HOSTNAME=pds.test PDS_DEV_MODE=false

AERIE_PID=
cleanup() {
  if [ -n "$AERIE_PID" ] && kill -0 "$AERIE_PID" 2>/dev/null; then kill -TERM "$AERIE_PID"; wait "$AERIE_PID" 2>/dev/null || true; fi
  bash "$PEER_SCRIPTS/stop.sh" || true
}
trap cleanup EXIT

FRESH=1 bash "$PEER_SCRIPTS/start.sh"
REF_PID=$(cat "$DATA_DIR/pds.pid")

# Aerie in dev mode (handles under .test) but with the same PLC stand-in as the reference, so
# createAccount does the same PLC round trip on both.
PDS_PORT=$AERIE_PORT PDS_BIND_HOST=127.0.0.1 PDS_DATA_DIRECTORY="$OUT/aerie-data" \
  PDS_ADMIN_PASSWORD=$ADMIN PDS_DID_PLC_URL="http://localhost:$PLC_PORT" RUST_LOG=warn \
  "$AERIE_BIN" serve >"$OUT/aerie.log" 2>&1 &
AERIE_PID=$!
for _ in $(seq 1 100); do curl -fsS -o /dev/null "http://127.0.0.1:$AERIE_PORT/xrpc/_health" 2>/dev/null && break; sleep 0.1; done

rss() { ps -o rss= -p "$1" | tr -d ' '; }
echo "server rss_kb_after_start aerie=$(rss $AERIE_PID) reference=$(rss $REF_PID)" | tee "$OUT/rss.txt"

# CPU time (user + system, all threads) of a process in milliseconds: with other work on the
# machine, server CPU per request is a steadier comparison than requests/s.
TICK=$(getconf CLK_TCK)
cpu_ms() { awk -v t="$TICK" '{print ($14 + $15) * 1000 / t}' "/proc/$1/stat"; }

run() { # name scenario concurrency [extra bench args...]
  local name=$1 scenario=$2 c=$3; shift 3
  for server in aerie reference; do
    local port=$AERIE_PORT pid=$AERIE_PID
    [ $server = reference ] && { port=$REF_PORT; pid=$REF_PID; }
    local cpu0; cpu0=$(cpu_ms "$pid")
    "$AERIE_BIN" bench --url "http://127.0.0.1:$port" --scenario "$scenario" \
      --accounts "$ACCOUNTS" --concurrency "$c" --duration "$DURATION" \
      --admin-password "$ADMIN" --json "$@" >"$OUT/$name.$server.json"
    # The CPU delta includes setup (accounts, logins, seed posts); the script subtracts
    # nothing, so the figure slightly overstates the cost of the measured requests.
    local cpu1; cpu1=$(cpu_ms "$pid")
    jq -c --argjson cpu "$(awk -v a="$cpu0" -v b="$cpu1" 'BEGIN{print b-a}')" --argjson rss "$(rss "$pid")" \
      '{scenario, concurrency, requests, failed, rps: .requests_per_second, p50: .latency_ms.p50, p99: .latency_ms.p99, cpu_ms: $cpu, rss_kb: $rss}' \
      "$OUT/$name.$server.json" | tee "$OUT/$name.$server.server.json" | sed "s/^/$server /"
  done
}

run cr-c1 create-records 1
run cr-c8 create-records 8
run cr-c32 create-records 32
run gr-c8 get-records 8
run gr-c32 get-records 32
run mx-c8 mixed 8
run ca-c8 create-accounts 8
echo "server rss_kb_after_runs aerie=$(rss $AERIE_PID) reference=$(rss $REF_PID)" | tee -a "$OUT/rss.txt"

python3 - "$OUT" <<'PY'
import json, sys, pathlib
out = pathlib.Path(sys.argv[1])
rows = ["cr-c1", "cr-c8", "cr-c32", "gr-c8", "gr-c32", "mx-c8", "ca-c8"]
print("| scenario | workers | Aerie ok/s | reference ok/s | ratio | Aerie p50 / p99 ms | reference p50 / p99 ms "
      "| server CPU ms/req (A / ref) | CPU ratio | RSS MB after (A / ref) | errors (A / ref) |")
print("|---|---|---|---|---|---|---|---|---|---|---|")
for r in rows:
    a = json.loads((out / f"{r}.aerie.json").read_text())
    b = json.loads((out / f"{r}.reference.json").read_text())
    sa = json.loads((out / f"{r}.aerie.server.json").read_text())
    sb = json.loads((out / f"{r}.reference.server.json").read_text())
    ratio = a["succeeded_per_second"] / b["succeeded_per_second"] if b["succeeded_per_second"] else float("inf")
    ca = sa["cpu_ms"] / max(a["succeeded"], 1)
    cb = sb["cpu_ms"] / max(b["succeeded"], 1)
    print(f"| {a['scenario']} | {a['concurrency']} | {a['succeeded_per_second']:.0f} | {b['succeeded_per_second']:.0f} | "
          f"{ratio:.1f}x | {a['latency_ms']['p50']:.1f} / {a['latency_ms']['p99']:.1f} | "
          f"{b['latency_ms']['p50']:.1f} / {b['latency_ms']['p99']:.1f} | {ca:.2f} / {cb:.2f} | "
          f"{cb / ca if ca else float('inf'):.1f}x | {sa['rss_kb'] / 1024:.0f} / {sb['rss_kb'] / 1024:.0f} | "
          f"{a['failed']} / {b['failed']} |")
PY
