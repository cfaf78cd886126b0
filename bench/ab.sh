#!/usr/bin/env bash
# Paired A/B of two chainbook release binaries under single-entry load.
#
#   bench/ab.sh BIN_A BIN_B [ROUNDS]      (needs wrk: apt-get install wrk)
#
# Starts both services side by side (each with its own embedded cluster in a temporary
# folder), then for ROUNDS (10) rounds runs 5 s of `wrk -t2 -c64` posting one
# two-posting entry against each in turn, alternating which goes first (the second run
# of a pair pays for the first's dirty pages, so a fixed order biases the result).
# Prints each round and the means; the machines drift by tens of percent within
# minutes, so only a difference that holds across most pairs means anything.
set -euo pipefail
A_BIN=$(realpath "$1"); B_BIN=$(realpath "$2"); ROUNDS=${3:-10}
command -v wrk > /dev/null || { echo "wrk is needed: apt-get install wrk" >&2; exit 2; }
DIRS=(); PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2> /dev/null || true; done; sleep 3; rm -rf "${DIRS[@]}"; }
trap cleanup EXIT

start() { # BIN PORT: starts a service, opens ledger b with two accounts, writes the wrk script
  local dir; dir=$(mktemp -d /tmp/chainbook-ab.XXXX); chmod 755 "$dir"; DIRS+=("$dir")
  "$1" serve --listen "127.0.0.1:$2" --data-dir "$dir/data" > "$dir/out" 2>&1 &
  PIDS+=($!)
  for _ in $(seq 1 300); do grep -q "listening" "$dir/out" 2> /dev/null && break; sleep 0.2; done
  local key url; key=$(cat "$dir/data/admin.key"); url="http://127.0.0.1:$2/v1"
  curl -sf -o /dev/null -X POST "$url/ledgers" -H "Authorization: Bearer $key" \
    -d '{"id":"b","name":"B","base_currency":"USD"}'
  curl -sf -o /dev/null -X POST "$url/ledgers/b/accounts" -H "Authorization: Bearer $key" \
    -d '{"code":"assets:cash","type":"asset"}'
  curl -sf -o /dev/null -X POST "$url/ledgers/b/accounts" -H "Authorization: Bearer $key" \
    -d '{"code":"income:sales","type":"income"}'
  cat > "$dir/single.lua" << LUA
wrk.method = "POST"
wrk.headers["Authorization"] = "Bearer $key"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"description":"sale","postings":[{"account":"assets:cash","currency":"USD","debit":"12.34"},{"account":"income:sales","currency":"USD","credit":"12.34"}]}'
LUA
  echo "$dir"
}
run() { # DIR PORT SECONDS -> requests/s
  wrk -t2 -c64 -d"$3"s -s "$1/single.lua" "http://127.0.0.1:$2/v1/ledgers/b/transactions" \
    | awk '/Requests\/sec/ {print $2}'
}

A=$(start "$A_BIN" 18401); B=$(start "$B_BIN" 18402)
run "$A" 18401 3 > /dev/null; run "$B" 18402 3 > /dev/null   # warm-up
sum_a=0; sum_b=0; wins=0
for r in $(seq 1 "$ROUNDS"); do
  if (( r % 2 )); then a=$(run "$A" 18401 5); b=$(run "$B" 18402 5)
  else b=$(run "$B" 18402 5); a=$(run "$A" 18401 5); fi
  echo "round $r: A $a  B $b requests/s"
  sum_a=$(echo "$sum_a + $a" | bc); sum_b=$(echo "$sum_b + $b" | bc)
  if (( $(echo "$a > $b" | bc) )); then wins=$((wins + 1)); fi
done
echo "mean: A $(echo "$sum_a / $ROUNDS" | bc) B $(echo "$sum_b / $ROUNDS" | bc) requests/s; A ahead in $wins of $ROUNDS rounds"
