#!/usr/bin/env bash
# Installs what building and testing wardstream needs on a fresh Debian machine. Idempotent.
# Today: a C toolchain (for zstd/lz4-sys style crates), cmake + libclang (HiGHS, built from source
# by good_lp's highs feature) and the Rust toolchain's rustfmt/clippy.
# ClickHouse: Debian's clickhouse-server (18.16); the tests start private servers from it
# (tests/src/clickhouse.rs), so no service is started here.
# Kafka: tansu (crates.io), built once into $HOME/.cache/wardstream/tools (scripts/install-tansu.sh);
# the tests start private brokers from it (tests/src/kafka.rs).
set -euo pipefail

need=()
command -v cc >/dev/null 2>&1 || need+=(gcc)
command -v make >/dev/null 2>&1 || need+=(make)
command -v pkg-config >/dev/null 2>&1 || need+=(pkg-config)
command -v cmake >/dev/null 2>&1 || need+=(cmake)
command -v c++ >/dev/null 2>&1 || need+=(g++)
dpkg -s libclang-dev >/dev/null 2>&1 || need+=(libclang-dev)
command -v clickhouse-server >/dev/null 2>&1 || need+=(clickhouse-server clickhouse-client)
# PostgreSQL: the API's tests start private servers from Debian's binaries (tests/src/postgres.rs).
ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1 || need+=(postgresql)
# Chromium and ChromeDriver: the browser tests of /docs and the dashboard (tests/src/browser.rs).
command -v chromium >/dev/null 2>&1 || need+=(chromium)
command -v chromedriver >/dev/null 2>&1 || need+=(chromium-driver)
if [ ${#need[@]} -gt 0 ]; then
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -q
  # The package's own service start fails without systemd; that is expected and harmless.
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q "${need[@]}"
fi
if command -v rustup >/dev/null 2>&1; then
  rustup component list --installed 2>/dev/null | grep -q '^rustfmt' || rustup component add rustfmt
  rustup component list --installed 2>/dev/null | grep -q '^clippy' || rustup component add clippy
fi
[ -n "${WARDSTREAM_SKIP_TANSU:-}" ] || "$(dirname "$0")/install-tansu.sh"
