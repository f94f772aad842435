#!/usr/bin/env bash
# Installs tansu (an Apache-Kafka-compatible broker, crates.io) with in-memory storage into
# $HOME/.cache/wardstream/tools, once: a cold release build takes ~30 minutes on 2 cores, so it
# lives outside the clone and later runs reuse it. Idempotent.
set -euo pipefail
TANSU_VERSION=0.6.0
root="${WARDSTREAM_TOOLS:-$HOME/.cache/wardstream/tools}"
if [ -x "$root/bin/tansu" ] && [ -f "$root/.crates.toml" ] && grep -q "tansu $TANSU_VERSION" "$root/.crates.toml"; then
  exit 0
fi
echo "== installing tansu $TANSU_VERSION into $root (once; ~30 min cold)"
# The dynostore feature gives the memory:// storage engine the tests use.
CARGO_TARGET_DIR="$HOME/.cache/wardstream/tansu-target" \
  cargo install tansu --version "$TANSU_VERSION" --locked --features dynostore --root "$root"
rm -rf "$HOME/.cache/wardstream/tansu-target"
