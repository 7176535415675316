#!/usr/bin/env bash
# Fuzzes a live `engine-run serve` with schemathesis against schema/openapi.yaml, bounded: fails on
# any 5xx, any response the schema does not describe, and any schema-valid request refused.
# Usage: Tests/schemathesis/run.sh [path/to/engine-run] [max-examples]
set -euo pipefail
cd "$(dirname "$0")/../.."
binary=${1:-.build/debug/engine-run}
examples=${2:-30}
work=$(mktemp -d)
server=""
cleanup() {
    if [ -n "$server" ]; then kill "$server" 2>/dev/null || true; wait "$server" 2>/dev/null || true; fi
    rm -rf "$work"
}
trap cleanup EXIT

# A store with a real job, one item failed and one succeeded, so the reads have something to return.
cp Examples/news.json "$work/news.json"
"$binary" run "$work/news.json" --quiet --db "$work/engine.sqlite" >/dev/null 2>&1 || true

key=schemathesis-key
"$binary" serve --api-key "$key" --port 0 --poll-seconds 0.2 --db "$work/engine.sqlite" >"$work/serve.out" 2>"$work/serve.err" &
server=$!
port=""
for _ in $(seq 1 600); do
    port=$(grep -o 'http://127.0.0.1:[0-9]*' "$work/serve.out" 2>/dev/null | head -1 | sed 's/.*://') || true
    [ -n "$port" ] && break
    sleep 0.1
done
[ -n "$port" ] || { cat "$work/serve.err"; echo "serve did not start"; exit 1; }

schemathesis run schema/openapi.yaml --url "http://127.0.0.1:$port" -H "apikey: $key" \
    --max-examples "$examples" --checks all --seed "${SCHEMATHESIS_SEED:-20261202}" --no-color
