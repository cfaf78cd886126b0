#!/usr/bin/env bash
# Paired A/B of two chainbook release binaries under load from wrk.
#
#   bench/ab.sh BIN_A BIN_B [ROUNDS]        one entry per request, 64 connections
#   MODE=batch bench/ab.sh BIN_A BIN_B      500-entry atomic batches, 4 connections
#
# Needs wrk (apt-get install wrk). Starts both services side by side, each with its
# own embedded cluster in a temporary folder and 20 accounts, then for ROUNDS (10)
# rounds runs SECONDS_PER_RUN (5) seconds of wrk against each in turn, alternating
# which goes first (the second run of a pair pays for the first's dirty pages, so a
# fixed order biases the result). The bodies are made like http-load's
# (`api::write_entry`): debits and credits spread over the 20 accounts, amounts
# varying, so that a group touches as many balance and sum rows as it would in
# http-load (one fixed body flattered batches by ~17%). Prints each round in entries/s and
# the means. Any answer but 201 fails the run. The machines drift by tens of percent
# within minutes: only a difference that holds across most rounds means anything, and
# an A/A run (one binary twice) shows the noise floor.
set -euo pipefail
A_BIN=$(realpath "$1"); B_BIN=$(realpath "$2"); ROUNDS=${3:-10}; MODE=${MODE:-single}
SECONDS_PER_RUN=${SECONDS_PER_RUN:-5}
if [ "$MODE" = batch ]; then
  ROUTE=transactions/batch; CONNECTIONS=4; PER=500
else
  ROUTE=transactions; CONNECTIONS=64; PER=1
fi
command -v wrk > /dev/null || { echo "wrk is needed: apt-get install wrk" >&2; exit 2; }
DIRS=(); PIDS=(); STARTED=""
cleanup() {
  for pid in "${PIDS[@]}"; do kill "$pid" 2> /dev/null || true; done
  for pid in "${PIDS[@]}"; do while kill -0 "$pid" 2> /dev/null; do sleep 0.2; done; done
  rm -rf "${DIRS[@]}"
}
trap cleanup EXIT

# start BIN PORT: a service on PORT with ledger b and 20 accounts; sets STARTED to
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
  local setups=("ledgers|{\"id\":\"b\",\"name\":\"B\",\"base_currency\":\"USD\"}"
                "ledgers/b/accounts|{\"code\":\"assets:cash\",\"type\":\"asset\"}"
                "ledgers/b/accounts|{\"code\":\"income:sales\",\"type\":\"income\"}")
  for i in 01 02 03 04 05 06 07 08 09; do
    setups+=("ledgers/b/accounts|{\"code\":\"assets:till:$i\",\"type\":\"asset\"}"
             "ledgers/b/accounts|{\"code\":\"income:sales:$i\",\"type\":\"income\"}")
  done
  for setup in "${setups[@]}"; do
    curl -sf -o /dev/null -X POST "$url/${setup%%|*}" -H "Authorization: Bearer $key" \
      -H 'Content-Type: application/json' -d "${setup#*|}"
  done
  cat > "$dir/load.lua" << LUA
wrk.method = "POST"
wrk.headers["Authorization"] = "Bearer $key"
wrk.headers["Content-Type"] = "application/json"
-- Like http-load's api::write_entry: client c's n-th entry debits assets:till:((c+n)%10)
-- and credits income:sales:((c+floor(n/7))%10) (index 0 is assets:cash / income:sales).
local function code(base, first, i)
  if i == 0 then return first end
  return string.format("%s:%02d", base, i)
end
local function entry(c, n)
  local amount = string.format("%d.%02d", 1 + n % 500, n % 100)
  return string.format('{"description":"bench sale %d-%d","postings":[{"account":"%s",'
    .. '"currency":"USD","debit":"%s"},{"account":"%s","credit":"%s","currency":"USD"}]}',
    c, n, code("assets:till", "assets:cash", (c + n) % 10), amount,
    code("income:sales", "income:sales", (c + math.floor(n / 7)) % 10), amount)
end
bodies = {}
if $PER > 1 then
  for b = 0, 15 do
    local entries = {}
    for i = 0, $PER - 1 do entries[#entries + 1] = entry(b, b * $PER + i) end
    bodies[#bodies + 1] = '{"atomic":true,"entries":[' .. table.concat(entries, ",") .. ']}'
  end
else
  for b = 0, 255 do bodies[#bodies + 1] = entry(b % 64, b * 7) end
end
counter = 0
request = function()
  counter = counter + 1
  return wrk.format(nil, nil, nil, bodies[counter % #bodies + 1])
end
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
  if (( r % 2 )); then a=$(run "$A" 18401 "$SECONDS_PER_RUN"); b=$(run "$B" 18402 "$SECONDS_PER_RUN")
  else b=$(run "$B" 18402 "$SECONDS_PER_RUN"); a=$(run "$A" 18401 "$SECONDS_PER_RUN"); fi
  echo "round $r: A $a  B $b entries/s"
  sum_a=$((sum_a + a)); sum_b=$((sum_b + b))
  if (( a > b )); then wins=$((wins + 1)); fi
done
echo "mean: A $((sum_a / ROUNDS))  B $((sum_b / ROUNDS)) entries/s; A ahead in $wins of $ROUNDS rounds ($MODE)"
