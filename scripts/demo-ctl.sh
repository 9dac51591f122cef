#!/usr/bin/env bash
# Acts on the simulated devices of the running `make demo` centre, as a
# person would on real hardware:
#   scripts/demo-ctl.sh card insert|remove     the ID card on the console PC's reader
#   scripts/demo-ctl.sh finger SEAT K          simulated finger K on seat SEAT's sensor
#   scripts/demo-ctl.sh lift SEAT              the finger off seat SEAT's sensor
set -euo pipefail
current=${XDG_RUNTIME_DIR:-/tmp}/examgate-demo.current
[[ -r $current ]] || { echo "no demo is running: start it with make demo" >&2; exit 1; }
demo=$(cat "$current")

usage() { sed -n '2,7p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }

# Sends a script line to seat $1's simulated fingerprint reader.
sensor() {
  local seat=$1 line=$2 base device
  [[ $seat =~ ^[1-3]$ ]] || { echo "seat must be 1, 2 or 3" >&2; exit 2; }
  base="http://127.0.0.1:$((17480 + seat))"
  device=$(curl -sf "$base/v1/devices" | grep -oE '"id":"sim-fp-[0-9]+"' | head -1 | cut -d'"' -f4)
  [[ -n $device ]] || { echo "seat $seat has no simulated fingerprint reader (is the demo running?)" >&2; exit 1; }
  curl -sf -X POST "$base/v1/sim/$device/command" -H 'content-type: application/json' \
    -d "{\"command\":\"$line\"}" >/dev/null || { echo "seat $seat refused: $line" >&2; exit 1; }
}

case ${1:-} in
  card)
    [[ ${2:-} == insert || ${2:-} == remove ]] || usage
    [[ -p $demo/card.ctl ]] || { echo "the demo's card simulator is not running" >&2; exit 1; }
    echo "$2" >"$demo/card.ctl"
    ;;
  finger)
    [[ $# == 3 && $3 =~ ^[0-9]+$ ]] || usage
    sensor "$2" "finger $3"
    ;;
  lift)
    [[ $# == 2 ]] || usage
    sensor "$2" lift
    ;;
  *) usage ;;
esac
