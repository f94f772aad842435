#!/usr/bin/env bash
# Starts a local Kafka-protocol broker (tansu, in-memory storage) on 127.0.0.1:${PORT:-9092}
# for `wardstream produce` and `wardstream run --kafka 127.0.0.1:9092`; stop it with
# `kill $(cat "${TMPDIR:-/tmp}/wardstream-broker.pid")`. Its data is gone when it stops.
# Tests start private brokers of their own (tests/src/kafka.rs).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-tansu.sh
port="${PORT:-9092}"
tansu="${WARDSTREAM_TANSU:-$HOME/.cache/wardstream/tools/bin/tansu}"
pidfile="${TMPDIR:-/tmp}/wardstream-broker.pid"
log="${TMPDIR:-/tmp}/wardstream-broker.log"
if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
  echo "something already listens on 127.0.0.1:$port" >&2
  exit 1
fi
url="tcp://127.0.0.1:$port"
nohup "$tansu" broker --listener-url "$url" --advertised-listener-url "$url" \
  --storage-engine memory://tansu/ >"$log" 2>&1 &
echo $! >"$pidfile"
for _ in $(seq 1 150); do
  if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
    echo "tansu listening on 127.0.0.1:$port (pid $(cat "$pidfile"), log $log)"
    exit 0
  fi
  if ! kill -0 "$(cat "$pidfile")" 2>/dev/null; then
    echo "tansu exited:" >&2; cat "$log" >&2; exit 1
  fi
  sleep 0.2
done
echo "tansu did not listen on $port within 30 s; see $log" >&2
exit 1
