#!/usr/bin/env bash
# `make demo`: an exam centre on this machine. examgate-server with its
# embedded database, three simulated seats (agents with a simulated
# fingerprint reader and camera; seat 1 also reads a simulated ID card
# through the real pcscd and vsmartcard's vpcd), each enrolled with the
# server and approved, each with its link running (heartbeats, deliveries,
# commands). Prints the console URL and the demo logins; Ctrl-C stops it all.
set -euo pipefail
cd "$(dirname "$0")/.."
target=${CARGO_TARGET_DIR:-target}/release
server=$target/examgate-server
agent=$target/examgate-agent
sim=$target/examgate-sim
port=${EXAMGATE_PORT:-8443}
demo=${EXAMGATE_DEMO_DIR:-$(mktemp -d /tmp/examgate-demo.XXXXXX)}
mkdir -p "$demo"

pids=()
stop() {
  trap - EXIT INT TERM
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
}
trap stop EXIT INT TERM

# Waits (at most 30 s) until FILE holds a line matching PATTERN; prints the match.
await_line() {
  local file=$1 pattern=$2
  for _ in $(seq 300); do
    if grep -qE "$pattern" "$file" 2>/dev/null; then grep -m1 -oE "$pattern" "$file"; return 0; fi
    sleep 0.1
  done
  echo "timed out waiting for '$pattern' in $file" >&2
  return 1
}

data=$demo/server
if [[ ! -e $data/examgate.db ]]; then
  printf 'examiner-demo\n' | "$server" user add examiner --role examiner --data-dir "$data" >/dev/null
  printf 'invigilator-demo\n' | "$server" user add invigilator --role invigilator --data-dir "$data" >/dev/null
fi
"$server" serve --listen "127.0.0.1:$port" --data-dir "$data" >"$demo/server.out" 2>"$demo/server.log" &
pids+=($!)
pin=$(await_line "$demo/server.out" 'pin: [0-9a-f]{64}' | cut -d' ' -f2)

# Seat 1's ID card: the real pcscd (one per machine) and a simulated card on vpcd.
idcard=()
if ! pgrep -x pcscd >/dev/null && command -v pcscd >/dev/null; then
  pcscd -f -i >"$demo/pcscd.log" 2>&1 &
  pids+=($!)
fi
if pgrep -x pcscd >/dev/null || [[ -n ${pids[1]:-} ]]; then
  "$sim" idcard --vpcd 127.0.0.1:35963 --card simulators/cards/resident.toml </dev/null >"$demo/card.log" 2>&1 &
  pids+=($!)
  idcard=(--device pcsc-idcard)
fi

for n in 1 2 3; do
  seat=$demo/seat$n
  mkdir -p "$seat/snapshots"
  cat >"$seat/agent.toml" <<TOML
listen = "127.0.0.1:$((17480 + n))"
[snapshots]
dir = "$seat/snapshots"
seat = "$n"
exam = "demo-k1"
TOML
  devices=(--device "sim:fingerprint?seed=$n" --device sim:camera)
  [[ $n == 1 ]] && devices+=("${idcard[@]}")
  "$agent" run --config "$seat/agent.toml" "${devices[@]}" >"$seat/agent.log" 2>&1 &
  pids+=($!)
  if [[ ! -e $seat/link.toml ]]; then
    key=$("$agent" enrol --server "https://127.0.0.1:$port" --pin "$pin" --state-dir "$seat" | grep -oE 'key [0-9a-f]{32}' | cut -d' ' -f2)
    "$server" seat approve "$n" --key "$key" --data-dir "$data" >/dev/null
  fi
  "$agent" link run --state-dir "$seat" --agent "http://127.0.0.1:$((17480 + n))" >"$seat/link.out" 2>"$seat/link.log" &
  pids+=($!)
done

cat <<MSG
examgate demo centre (files in $demo)
  console:   https://127.0.0.1:$port/console/   (the server's own certificate: accept it in the browser)
  logins:    examiner / examiner-demo  and  invigilator / invigilator-demo  (both, on the same console)
  pin:       $pin
  seats:     1 http://127.0.0.1:17481/  (fingerprint, camera${idcard:+, ID card through pcscd + vpcd})
             2 http://127.0.0.1:17482/  (fingerprint, camera)
             3 http://127.0.0.1:17483/  (fingerprint, camera)
  a spare:   $agent enrol --server https://127.0.0.1:$port --pin $pin --state-dir $demo/spare
             then rebind a seat to it on the console
  operator:  $server seat list --data-dir $data ; $server audit verify --data-dir $data
Ctrl-C stops everything.
MSG
wait
