#!/usr/bin/env bash
# Property-based API testing: schemathesis (from PyPI) generates requests from the served
# /openapi.json and fails on any 5xx answer. Runs `wardstream serve` on a fresh SQLite store,
# onboards a tenant so that the protected routes are exercised with a real admin token.
# Usage: scripts/schemathesis.sh [extra `st run` flags]   (needs a built `wardstream` binary)
set -euo pipefail
cd "$(dirname "$0")/.."
target="${CARGO_TARGET_DIR:-target}"
bin="$target/debug/wardstream"
[ -x "$bin" ] || cargo build --locked
venv="${WARDSTREAM_SCHEMATHESIS_VENV:-$HOME/.cache/wardstream/schemathesis}"
if [ ! -x "$venv/bin/st" ]; then
  if ! python3 -m venv "$venv" 2>/dev/null; then
    SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q python3-venv
    python3 -m venv "$venv"
  fi
  "$venv/bin/pip" install -q "schemathesis==4.32.5"
fi
work="$(mktemp -d)"
port=$((20000 + RANDOM % 20000))
DATABASE_URL="sqlite://$work/ws.db" WARDSTREAM_JWT_SECRET="schemathesis key of at least thirty-two bytes" \
  "$bin" serve --listen "127.0.0.1:$port" >"$work/serve.log" 2>&1 &
server=$!
trap 'kill $server 2>/dev/null || true; rm -rf "$work"' EXIT
base="http://127.0.0.1:$port"
for _ in $(seq 1 100); do
  curl -sf "$base/readyz" >/dev/null 2>&1 && break
  kill -0 $server 2>/dev/null || { cat "$work/serve.log"; exit 1; }
  sleep 0.1
done
curl -sf "$base/v1/tenants" -H 'content-type: application/json' -d \
  '{"name":"Schemathesis","slug":"schemathesis","kind":"hospital","admin_email":"admin@schemathesis.example","admin_password":"correct horse battery"}' >/dev/null
token="$(curl -sf "$base/v1/auth/login" -H 'content-type: application/json' -d \
  '{"tenant":"schemathesis","email":"admin@schemathesis.example","password":"correct horse battery"}' \
  | python3 -c 'import json, sys; print(json.load(sys.stdin)["access_token"])')"
# A fixed seed keeps CI reproducible; pass --seed to explore elsewhere. Run from the scratch
# folder, so that schemathesis's cache stays out of the repository.
cd "$work"
"$venv/bin/st" run "$base/openapi.json" \
  --checks not_a_server_error \
  -H "Authorization: Bearer $token" \
  --max-examples 30 --seed 20261203 "$@"
