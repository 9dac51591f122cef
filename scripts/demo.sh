#!/usr/bin/env bash
# Start a seat agent with simulated devices: the built-in simulated reader,
# the Rust example plugin and the C example plugin (both in driver hosts).
set -euo pipefail
cd "$(dirname "$0")/.."
target=${CARGO_TARGET_DIR:-target}/release
agent=$target/examgate-agent
rust_plugin=$target/libexamgate_example_plugin.so
c_plugin=$(ls -t "$target"/build/examgate-c-example-*/out/libexamgate_c_example.so 2>/dev/null | head -n 1 || true)
listen=${EXAMGATE_LISTEN:-127.0.0.1:17480}

devices=(--device "sim:fingerprint" --device "plugin:$rust_plugin")
[[ -n $c_plugin ]] && devices+=(--device "plugin:$c_plugin")

cat <<MSG
examgate seat agent with simulated devices on http://$listen
  seat page:       http://$listen/
  devices:         curl -s http://$listen/v1/devices
  GetTemplate:     curl -s -X POST http://$listen/legacy/GetTemplate
  put finger 2 on: curl -s -X POST http://$listen/v1/sim/sim-fp-0/command -H 'content-type: application/json' -d '{"command":"finger 2"}'
  events:          websocat ws://$listen/v1/events
  OpenAPI:         http://$listen/v1/openapi.json
Ctrl-C stops it.
MSG
exec "$agent" run --listen "$listen" "${devices[@]}"
