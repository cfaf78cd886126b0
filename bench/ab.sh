#!/usr/bin/env bash
# Paired A/B of two chainbook release binaries under load from wrk.
#
#   bench/ab.sh BIN_A BIN_B [ROUNDS]        one entry per request, 64 connections
#   MODE=batch bench/ab.sh BIN_A BIN_B      500-entry atomic batches, 4 connections
#
# Needs wrk (apt-get install wrk). Starts both services side by side, each with its
# own embedded cluster in a temporary folder, then for ROUNDS (10) rounds runs 5 s of
# wrk against each in turn, alternating which goes first (the second run of a pair
# pays for the first's dirty pages, so a fixed order biases the result). Prints each
# round in entries/s and the means. Any answer but 201 fails the run. The machines
# drift by tens of percent within minutes: only a difference that holds across most
# rounds means anything, and an A/A run (one binary twice) shows the noise floor.
set -euo pipefail
A_BIN=$(realpath "$1"); B_BIN=$(realpath "$2"); ROUNDS=${3:-10}; MODE=${MODE:-single}
ENTRY='{"description":"sale","postings":[{"account":"assets:cash","currency":"USD","debit":"12.34"},{"account":"income:sales","currency":"USD","credit":"12.34"}]}'
if [ "$MODE" = batch ]; then
  BODY="{\"atomic\":true,\"entries\":[$(printf "$ENTRY,%.0s" $(seq 1 499))$ENTRY]}"
  ROUTE=transactions/batch; CONNECTIONS=4; PER=500
else
  BODY=$ENTRY; ROUTE=transactions; CONNECTIONS=64; PER=1
fi
command -v wrk > /dev/null || { echo "wrk is needed: apt-get install wrk" >&2; exit 2; }
DIRS=(); PIDS=(); STARTED=""
cleanup() {
  for pid in "${PIDS[@]}"; do kill "$pid" 2> /dev/null || true; done
  for pid in "${PIDS[@]}"; do while kill -0 "$pid" 2> /dev/null; do sleep 0.2; done; done
  rm -rf "${DIRS[@]}"
}
trap cleanup EXIT

# start BIN PORT: a service on PORT with ledger b and two accounts; sets STARTED to
# its folder (not a subshell, so that cleanup knows the process).
start() {
  if (exec 3<> "/dev/tcp/127.0.0.1/$2") 2> /dev/null; then
    echo "port $2 is taken: stop whatever listens there first" >&2; exit 2
  fi
  local dir; dir=$(mktemp -d /tmp/chainbook-ab.XXXX); chmod 755 "$dir"; DIRS+=("$dir")
  "$1" serve --listen "127.0.0.1:$2" --data-dir "$dir/data" > "$dir/out" 2>&1 &
  PIDS+=($!)
  for _ in $(seq 1 300); do grep -q "listening" "$dir/out" 2> /dev/null && break; sleep 0.2; done
  grep -q "listening" "$dir/out" || { cat "$dir/out" >&2; exit 2; }
  local key url; key=$(cat "$dir/data/admin.key"); url="http://127.0.0.1:$2/v1"
  for setup in "ledgers|{\"id\":\"b\",\"name\":\"B\",\"base_currency\":\"USD\"}" \
               "ledgers/b/accounts|{\"code\":\"assets:cash\",\"type\":\"asset\"}" \
               "ledgers/b/accounts|{\"code\":\"income:sales\",\"type\":\"income\"}"; do
    curl -sf -o /dev/null -X POST "$url/${setup%%|*}" -H "Authorization: Bearer $key" \
      -H 'Content-Type: application/json' -d "${setup#*|}"
  done
  curl -sf -o /dev/null -X POST "$url/ledgers/b/$ROUTE" -H "Authorization: Bearer $key" \
    -H 'Content-Type: application/json' -d "$BODY"
  cat > "$dir/load.lua" << LUA
wrk.method = "POST"
wrk.headers["Authorization"] = "Bearer $key"
wrk.headers["Content-Type"] = "application/json"
wrk.body = [[$BODY]]
LUA
  STARTED=$dir
}

# run DIR PORT SECONDS: entries/s acknowledged (fails on any other answer than 201).
run() {
  local out; out=$(wrk -t2 -c"$CONNECTIONS" -d"$3"s -s "$1/load.lua" "http://127.0.0.1:$2/v1/ledgers/b/$ROUTE")
  if grep -q "Non-2xx" <<< "$out"; then echo "$out" >&2; exit 1; fi
  awk -v per="$PER" '/Requests\/sec/ {printf "%.0f\n", $2 * per}' <<< "$out"
}

start "$A_BIN" 18401; A=$STARTED
start "$B_BIN" 18402; B=$STARTED
run "$A" 18401 3 > /dev/null; run "$B" 18402 3 > /dev/null   # warm-up
sum_a=0; sum_b=0; wins=0
for r in $(seq 1 "$ROUNDS"); do
  if (( r % 2 )); then a=$(run "$A" 18401 5); b=$(run "$B" 18402 5)
  else b=$(run "$B" 18402 5); a=$(run "$A" 18401 5); fi
  echo "round $r: A $a  B $b entries/s"
  sum_a=$((sum_a + a)); sum_b=$((sum_b + b))
  if (( a > b )); then wins=$((wins + 1)); fi
done
echo "mean: A $((sum_a / ROUNDS))  B $((sum_b / ROUNDS)) entries/s; A ahead in $wins of $ROUNDS rounds ($MODE)"
