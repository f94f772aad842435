#!/usr/bin/env bash
# The test suite: unit, doc, golden (real data in ../shared/data) and property tests.
# Set WARDSTREAM_DATA_DIR to use data elsewhere.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
if [ -z "${WARDSTREAM_DATA_DIR:-}" ] && [ -d ../shared/data ]; then
  WARDSTREAM_DATA_DIR="$(cd ../shared/data && pwd)"
  export WARDSTREAM_DATA_DIR
fi
cargo test --workspace --locked "$@"
