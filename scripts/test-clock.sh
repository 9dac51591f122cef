#!/usr/bin/env bash
# The tests that depend on the date, run again under a moved clock (issue 12), so that a
# fixed date beside code that reads the clock fails at once instead of weeks later:
#   1. a year ahead (`+365d`);
#   2. in Beijing time (TZ=Asia/Shanghai, not this machine's zone) a few seconds before
#      midnight of that day a year ahead, so "today" turns into tomorrow during the run.
# `make test-clock` runs it (and `make test` runs that); `make build` has built the binaries.
#
# The clock is moved by Debian's libfaketime (package faketime) in the test processes only:
# cargo builds first with the real clock (libfaketime under cargo upsets its file times and
# locks), then each already-built test binary runs with LD_PRELOAD. Every process a test
# starts inherits it and so shares the moved clock: examgate-server, -agent, -sim, pcscd,
# and PostgreSQL's initdb and postgres (which work under it; the server stores its times as
# integers and never asks PostgreSQL for the time). The offset is relative (FAKETIME="+N"
# seconds), so processes started later agree with the test on the time. Monotonic clocks
# are left real (FAKETIME_DONT_FAKE_MONOTONIC=1: tokio's timers and timeouts), and so are
# file times (NO_FAKE_STAT=1).
#
# Usage: scripts/test-clock.sh [FILTER]   (FILTER: passed to every test binary)
#
# The browser tests (web/tests) are not run here: under libfaketime 0.9.10 Python's
# time.sleep fails (EINVAL) when the monotonic clock is left real, and with it faked the ID
# card's events stop arriving through pcscd (the Rust login flow fails the same way), which is
# the library, not a date. They take their exam day once (centre.py TODAY, `serve --today`).
set -euo pipefail
cd "$(dirname "$0")/.."

CARGO=${CARGO:-cargo}
LIB=/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1
[[ -e $LIB ]] || LIB=$(dpkg -L libfaketime 2>/dev/null | grep -m1 '/libfaketime\.so\.1$' || true)
if [[ -z $LIB || ! -e $LIB ]]; then
  echo "test-clock: libfaketime is missing: scripts/install-deps.sh installs it (package faketime)" >&2
  exit 1
fi

if [[ ! -e /usr/share/zoneinfo/Asia/Shanghai ]]; then
  echo "test-clock: no time zone Asia/Shanghai: scripts/install-deps.sh installs it (package tzdata)" >&2
  exit 1
fi

# Package: its test targets touching dates (lib = its unit tests).
TARGETS=(
  # the exam day and card validity (roster::dates, login::card), every server suite:
  # roster (session dates, purge), login (today's bookings, card validity), seats, backups
  "examgate-server: --lib --tests"
  # the snapshot schedule and its scheduler, ID card dates, the outbox's retry times
  "examgate-agent: --lib"
  # the simulated roster's session date and the card files' validity dates
  "examgate-sim: --lib"
  # real processes: the day's roster logged in, the schedule's snapshots, the card read
  "examgate-e2e: --test login_flow --test agent_camera --test agent_idcard --test link_sigkill"
)

# TEST_CLOCK_ONLY="PACKAGE: SELECTION" runs that instead (e.g. "examgate-server: --test roster").
if [[ -n ${TEST_CLOCK_ONLY:-} ]]; then
  TARGETS=("$TEST_CLOCK_ONLY")
fi

# Build with the real clock (the binaries the tests start, then the tests); list each test
# executable with the directory cargo runs it in.
"$CARGO" build -p examgate-server -p examgate-agent -p examgate-sim --bins
list=$(mktemp)
trap 'rm -f "$list"' EXIT
for entry in "${TARGETS[@]}"; do
  pkg=${entry%%:*}
  read -ra selection <<<"${entry#*:}"
  "$CARGO" test --no-run --message-format=json-render-diagnostics -p "$pkg" "${selection[@]}" | python3 -c '
import json, os, sys
for line in sys.stdin:
    m = json.loads(line)
    if m.get("reason") == "compiler-artifact" and m["profile"]["test"] and m.get("executable"):
        print(os.path.dirname(m["manifest_path"]), m["executable"])
' >>"$list"
done

run_all() { # NAME TZ FAKETIME-OFFSET-FUNCTION
  local name=$1 tz=$2 offset_of=$3 failed=0 dir exe offset
  while read -r dir exe; do
    offset=$("$offset_of")
    echo "test-clock ($name): $(env ${tz:+TZ=$tz} date -d "@$(($(date +%s) + offset))" '+%F %T %Z') ${exe##*/}"
    if ! (cd "$dir" && env ${tz:+TZ=$tz} LD_PRELOAD=$LIB FAKETIME="+$offset" FAKETIME_DONT_FAKE_MONOTONIC=1 NO_FAKE_STAT=1 \
      "$exe" ${FILTER:+"$FILTER"} -q); then
      echo "test-clock ($name): FAILED ${exe##*/}" >&2
      failed=1
    fi
  done <"$list"
  return $failed
}

FILTER=${1:-}
a_year_ahead() { echo $((365 * 86400)); }
# Six seconds before midnight in Beijing a year ahead, at each binary's start: the longer
# binaries cross it mid-run.
before_midnight() {
  local now target
  now=$(date +%s)
  target=$(TZ=Asia/Shanghai date -d "$(TZ=Asia/Shanghai date -d "@$((now + 365 * 86400))" +%F) 23:59:54" +%s)
  echo $((target - now))
}

status=0
run_all "a year ahead" "${TZ:-}" a_year_ahead || status=1
run_all "before midnight, Beijing" Asia/Shanghai before_midnight || status=1
if ((status)); then
  echo "test-clock: a test depends on the date it runs on (see above)" >&2
fi
exit $status
