#!/usr/bin/env bash
# The one command that runs Tabula's tests on a fresh machine. It installs what the tests need
# (the C toolchain bits RocksDB's bindings want, cargo-nextest, the AWS CLI in a virtualenv),
# then runs: formatting and lint checks, every Rust test (unit, integration with the official
# AWS SDK, crash tests with SIGKILL, operator builders and CRD rules), the AWS CLI smoke script
# and the differential test against a real server, and the Helm chart / Kubernetes schema checks.
#
#   ./test.sh            # everything
#   ./test.sh --quick    # Rust tests only
set -euo pipefail
cd "$(dirname "$0")"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-/var/cache/tabula/target}"
mkdir -p "$CARGO_TARGET_DIR"
quick=0
[ "${1:-}" = "--quick" ] && quick=1

say() { printf '\n== %s\n' "$*"; }

# --- tools -------------------------------------------------------------------------------
if ! { [ -e /usr/lib/llvm-14/lib/libclang.so ] || ls /usr/lib/x86_64-linux-gnu/libclang*.so* >/dev/null 2>&1; }; then
  say "installing libclang-dev (bindgen for RocksDB)"
  if [ "$(id -u)" = 0 ]; then apt-get update -qq && apt-get install -y -qq libclang-dev >/dev/null
  else sudo apt-get update -qq && sudo apt-get install -y -qq libclang-dev >/dev/null; fi
fi
# DynamoDB Local, the oracle of the differential test, runs on Java 17 (Debian 12's default JRE).
if [ "$quick" = 0 ] && ! command -v java >/dev/null 2>&1; then
  say "installing default-jre-headless (Java for DynamoDB Local)"
  if [ "$(id -u)" = 0 ]; then apt-get update -qq && apt-get install -y -qq default-jre-headless >/dev/null
  else sudo apt-get update -qq && sudo apt-get install -y -qq default-jre-headless >/dev/null; fi
fi
if ! cargo nextest --version >/dev/null 2>&1; then
  say "installing cargo-nextest"
  cargo install --locked cargo-nextest
fi

# --- static checks -------------------------------------------------------------------------
say "cargo fmt --check"
cargo fmt --all -- --check
say "cargo clippy"
cargo clippy --workspace --all-targets --quiet -- -D warnings

# --- Rust tests ----------------------------------------------------------------------------
say "cargo nextest (unit + integration with the AWS SDK for Rust)"
# The replication tests keep each replica's log here; a failing test's are shown below.
export TABULA_TEST_LOG_DIR="${TABULA_TEST_LOG_DIR:-$(mktemp -d)}"
export TABULA_TEST_LOG="${TABULA_TEST_LOG:-info,openraft=warn}"
nextest_out=$(mktemp)
failed=0
cargo nextest run --workspace --no-fail-fast 2>&1 | tee "$nextest_out" || failed=1
if [ "$failed" = 1 ]; then
  for t in $(grep "^ *FAIL " "$nextest_out" | grep -o "replication::[a-z_0-9]*" | sort -u); do
    for f in "$TABULA_TEST_LOG_DIR/${t//::/-}"/node*.log; do
      [ -f "$f" ] || continue
      say "last lines of $t, $(basename "$f")"
      sed 's/\x1b\[[0-9;]*m//g' "$f" | tail -25
    done
  done
  exit 1
fi

[ "$quick" = 1 ] && exit 0

# --- against the real binary: AWS CLI smoke test and differential test ----------------------
say "starting the data plane binary for the CLI and differential tests"
eval "$(bash e2e/tools.sh)"
# The integration tests already built the binary; building it the same way (tests included,
# so features unify identically) is a no-op here and avoids a second RocksDB build.
cargo test --workspace --no-run --quiet 2>/dev/null
data=$(mktemp -d)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
"$CARGO_TARGET_DIR/debug/tabula-dataplane" --listen "127.0.0.1:$port" --data-dir "$data" --log error &
server=$!
trap 'kill $server 2>/dev/null || true; rm -rf "$data"' EXIT
for _ in $(seq 1 100); do
  (exec 3<>/dev/tcp/127.0.0.1/"$port") 2>/dev/null && break
  sleep 0.1
done

say "AWS CLI smoke test"
bash e2e/cli_smoke.sh "http://127.0.0.1:$port"

# --- Kubernetes artefacts: the chart, and the objects the operator's builders generate --------
say "Helm chart checks (helm lint, kubernetes-validate, pod security, CRDs in sync)"
bash e2e/chart_check.sh
say "operator builders' output against the Kubernetes schemas and the pod security rules"
for v in 1.27.0 1.33.0; do
  "$TABULA_KUBE_VALIDATE" --strict -k "$v" operator/tests/golden/*.yaml
done
"$TABULA_PY" e2e/check_pod_security.py --require-network-policy operator/tests/golden/*.yaml

# The same requests to AWS's DynamoDB Local (the oracle) and to Tabula; where DynamoDB Local
# is known to differ from the real service, the harness checks the documented answer instead.
say "differential test against DynamoDB Local"
"$TABULA_PY" e2e/differential.py "http://127.0.0.1:$port"
