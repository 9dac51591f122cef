#!/usr/bin/env bash
# `make demo`: an exam centre on this machine. examgate-server with its
# embedded database, the simulator's question bank (a QTI 3.0 package, 1,800
# items in twelve languages) imported and an exam set as the day's default,
# and today's simulated roster imported; the examiner's
# console PC (an agent approved as the console, reading a simulated ID card
# through the real pcscd and vsmartcard's vpcd); three simulated seats
# (agents with a simulated ISO fingerprint reader and camera), each enrolled
# with the server and approved, each with its link running (heartbeats,
# deliveries, commands). Prints the console URL, the demo logins and how to
# put the card on the reader or a finger on a seat's sensor
# (scripts/demo-ctl.sh); Ctrl-C stops it all.
set -euo pipefail
cd "$(dirname "$0")/.."
target=${EXAMGATE_BIN_DIR:-${CARGO_TARGET_DIR:-target}/release}
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
# The console is bound to the console PC's IP (the seeds' rule); here that PC is this one.
# Every candidate takes the default exam (the roster names none): C1 Subject One, 100
# questions in 45 minutes, unless EXAMGATE_DEMO_EXAM names another of the bank's exams
# (subject-four: 50 in 30 minutes; practice: 90 in 60 minutes, no pass mark).
exam=${EXAMGATE_DEMO_EXAM:-c1-subject-one}
[[ $exam =~ ^[A-Za-z0-9_-]+$ ]] || { echo "EXAMGATE_DEMO_EXAM must be an exam id such as c1-subject-one" >&2; exit 2; }
cat >"$demo/server.toml" <<TOML
[console]
allowed_ips = ["127.0.0.1"]
[exam]
default = "$exam"
TOML

# The question bank: the simulator's QTI 3.0 package (the same seed gives the same
# bytes), imported as a centre imports its national bank. A demo directory kept from
# another day imports it again, which finds the same content and stores nothing.
# exam check names every section the bank cannot fill, and stops the demo if one is.
if [[ ! -s $demo/bank/bank.zip ]]; then
  rm -rf "$demo/bank"
  "$sim" bank --out "$demo/bank" --zip >/dev/null
fi
"$server" bank import "$demo/bank/bank.zip" --config "$demo/server.toml" --data-dir "$data" >"$demo/bank.txt"
"$server" exam check "$exam" --config "$demo/server.toml" --data-dir "$data" >>"$demo/bank.txt" \
  || { cat "$demo/bank.txt" >&2; echo "the demo's bank cannot fill the exam $exam" >&2; exit 1; }
"$server" serve --listen "127.0.0.1:$port" --config "$demo/server.toml" --data-dir "$data" \
  >"$demo/server.out" 2>"$demo/server.log" &
pids+=($!)
pin=$(await_line "$demo/server.out" 'pin: [0-9a-f]{64}' | cut -d' ' -f2)

# Today's roster: six simulated candidates (candidate 1 holds the simulated
# resident card; candidate K's enrolled finger is simulated finger K).
# A demo directory kept from another day gets that day's roster anew.
seed=1
today=$(date +%F)
if ! grep -q ",$today " "$demo/roster/roster.csv" 2>/dev/null; then
  rm -rf "$demo/roster"
  "$sim" roster --date "$today" --out "$demo/roster" --seed "$seed" >"$demo/roster.txt"
  "$server" roster import "$demo/roster/roster.csv" --data-dir "$data" >/dev/null
fi

# The console PC's ID card reader: the real pcscd (one per machine) and a
# simulated card on vpcd, off the reader until scripts/demo-ctl.sh puts it on.
if ! pgrep -x pcscd >/dev/null; then
  pcscd -f -i >"$demo/pcscd.log" 2>&1 &
  pids+=($!)
fi
rm -f "$demo/card.ctl"
mkfifo "$demo/card.ctl"
exec 3<>"$demo/card.ctl"
"$sim" idcard --vpcd 127.0.0.1:35963 --card simulators/cards/resident.toml <&3 >"$demo/card.log" 2>&1 &
pids+=($!)
echo remove >&3

# Enrols the agent whose state directory is $1 and approves it as seat $2 (role $3).
enrol() {
  local dir=$1 seat=$2 role=$3 key
  [[ -e $dir/link.toml ]] && return 0
  key=$("$agent" enrol --server "https://127.0.0.1:$port" --pin "$pin" --state-dir "$dir" | grep -oE 'key [0-9a-f]{32}' | cut -d' ' -f2)
  "$server" seat approve "$seat" --key "$key" --role "$role" --data-dir "$data" >/dev/null
}

console=$demo/console
mkdir -p "$console"
cat >"$console/agent.toml" <<TOML
listen = "127.0.0.1:17480"
[snapshots]
dir = "$console/snapshots"
TOML
enrol "$console" console console
"$agent" run --config "$console/agent.toml" --device pcsc-idcard --console --link-dir "$console" \
  >"$console/agent.log" 2>&1 &
pids+=($!)
"$agent" link run --state-dir "$console" --agent "http://127.0.0.1:17480" >"$console/link.out" 2>"$console/link.log" &
pids+=($!)

for n in 1 2 3; do
  seat=$demo/seat$n
  mkdir -p "$seat/snapshots"
  cat >"$seat/agent.toml" <<TOML
listen = "127.0.0.1:$((17480 + n))"
[snapshots]
dir = "$seat/snapshots"
seat = "$n"
exam = "$exam"
TOML
  enrol "$seat" "$n" seat
  "$agent" run --config "$seat/agent.toml" --device "sim:fingerprint?seed=$seed&format=iso19794-2" --device sim:camera \
    --link-dir "$seat" >"$seat/agent.log" 2>&1 &
  pids+=($!)
  "$agent" link run --state-dir "$seat" --agent "http://127.0.0.1:$((17480 + n))" >"$seat/link.out" 2>"$seat/link.log" &
  pids+=($!)
done
echo "$demo" >"${XDG_RUNTIME_DIR:-/tmp}/examgate-demo.current"
bank_version=$(grep -m1 -oE 'bank version [0-9a-f]{12}' "$demo/bank.txt")
if grep -q 'nothing new' "$demo/bank.txt"; then
  bank_note="was imported before ($bank_version…: importing it again stored nothing);"
else
  bank_note="is imported ($bank_version…);"
fi

cat <<MSG
examgate demo centre (files in $demo)
  console:    https://127.0.0.1:$port/console/   (the server's own certificate: accept it in the browser)
  logins:     examiner / examiner-demo  and  invigilator / invigilator-demo  (both, on the same console)
  pin:        $pin
  seats:      1 http://127.0.0.1:17481/   2 http://127.0.0.1:17482/   3 http://127.0.0.1:17483/
  console PC: agent http://127.0.0.1:17480/ with the ID card reader (pcscd + vpcd)
  roster:     today's six candidates ($demo/roster.txt):
$(sed 's/^/              /' "$demo/roster.txt")
  mode (a):   scripts/demo-ctl.sh card insert    (张伟's card on the console's reader; remove: card remove)
  mode (b):   at a seat type a booking number, then scripts/demo-ctl.sh finger SEAT K
              (candidate K's finger; any other K is a wrong finger)
  exam:       every candidate takes $exam; the bank $demo/bank/bank.zip
              $bank_note
              once admitted the seat shows it: Enter starts, 1-4 or A-D (Y/N) answer,
              arrows move, F flags, M the question map, S submits; the console's Exam panel
              follows every seat
  a spare:    $agent enrol --server https://127.0.0.1:$port --pin $pin --state-dir $demo/spare
              then rebind a seat to it on the console
  operator:   $server seat list --data-dir $data ; $server roster list --data-dir $data ;
              $server bank list --data-dir $data ; $server audit verify --data-dir $data
Ctrl-C stops everything.
MSG
wait
