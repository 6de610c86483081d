#!/usr/bin/env bash
# Static checks of the Helm chart charts/tabula; no cluster needed.
#
#   bash e2e/chart_check.sh
#
# For each values set (the chart defaults, ci/all-toggles-values.yaml with every option on,
# ci/all-off-values.yaml with every option off):
#   lint          helm lint --strict
#   validate      helm template --include-crds | kubernetes-validate --strict against the
#                 oldest Kubernetes the chart supports and newer ones (KUBE_VERSIONS below).
#                 kubernetes-validate only warns, and passes, on a kind it has no schema for;
#                 here that is a failure, except for the kinds in NO_SCHEMA_KINDS, which the
#                 refs check covers instead.
#   pod-security  e2e/check_pod_security.py: restricted profile, resources, probes,
#                 NetworkPolicy coverage (where the values enable it)
#   refs          e2e/check_chart_refs.py: selectors, ports, ServiceMonitor, RBAC subjects
# and once:
#   crds-in-sync  charts/tabula/crds/ holds exactly the files of crds/ (written by crdgen),
#                 byte for byte
#   example-manifests  e2e/manifests/*.yaml validate against the chart's CRD schemas
#                 (e2e/check_manifest_schema.py); skipped while there are no CRDs
#
# Tools (helm, kubernetes-validate, a python with PyYAML) come from e2e/tools.sh, unless
# TABULA_HELM, TABULA_KUBE_VALIDATE and TABULA_PY are already set. Every check runs even after
# a failure; the last line is `chart_check: N passed, M failed` and the exit status is 1 if any
# check failed.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1

if [[ -z "${TABULA_HELM:-}" || -z "${TABULA_KUBE_VALIDATE:-}" || -z "${TABULA_PY:-}" ]]; then
    tools="$(bash e2e/tools.sh)" || { echo "chart_check: FAIL: e2e/tools.sh could not provide the tools"; exit 1; }
    eval "$tools"
fi

CHART=charts/tabula
RELEASE=tabula
NAMESPACE=tabula-system
# The chart's kubeVersion floor, a middle one and the newest the validator knows.
KUBE_VERSIONS=(1.27.0 1.30.0 1.37.0)
# CRD-defined kinds the chart may render that kubernetes-validate has no schema for.
NO_SCHEMA_KINDS=("ServiceMonitor monitoring.coreos.com/v1")
# name|values file|checks beyond lint+validate
VALUE_SETS=(
    "defaults||pod-security-np refs"
    "all-toggles|$CHART/ci/all-toggles-values.yaml|pod-security-np refs"
    "all-off|$CHART/ci/all-off-values.yaml|pod-security"
)

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
passed=0
failed=0
failures=()

# run_check NAME COMMAND...: runs the command with its output captured; shows the output only
# when it fails.
run_check() {
    local check="$1"; shift
    if "$@" >"$work/out" 2>&1; then
        passed=$((passed + 1))
        printf 'ok    %s\n' "$check"
    else
        failed=$((failed + 1))
        failures+=("$check")
        printf 'FAIL  %s\n' "$check"
        sed 's/^/      /' "$work/out"
    fi
}

values_args() { [[ -n "$1" ]] && printf '%s\n' -f "$1"; }

lint() {
    local values="$1" args
    mapfile -t args < <(values_args "$values")
    "$TABULA_HELM" lint --strict "$CHART" "${args[@]}"
}

render() {
    local values="$1" out="$2" args
    mapfile -t args < <(values_args "$values")
    "$TABULA_HELM" template "$RELEASE" "$CHART" --namespace "$NAMESPACE" --include-crds \
        "${args[@]}" >"$out"
}

validate() {
    local rendered="$1" rc=0 line kind_ok allowed
    # A file, not stdin: kubernetes-validate reads '-' only once however many versions it checks.
    local versions=()
    for v in "${KUBE_VERSIONS[@]}"; do versions+=(-k "$v"); done
    "$TABULA_KUBE_VALIDATE" --strict --quiet "${versions[@]}" "$rendered" >"$work/validate.out" 2>&1 || rc=1
    while IFS= read -r line; do
        case "$line" in
            WARN*"Couldn't find schema for kind"*)
                kind_ok=0
                for allowed in "${NO_SCHEMA_KINDS[@]}"; do
                    # "... kind ServiceMonitor with api version monitoring.coreos.com/v1 ..."
                    [[ "$line" == *"kind ${allowed% *} with api version ${allowed#* } "* ]] && kind_ok=1
                done
                if [[ $kind_ok == 1 ]]; then
                    echo "note: ${line#WARN - } (not schema-checked; see the refs check)"
                else
                    echo "$line"
                    echo "error: kubernetes-validate has no schema for this kind; a typo in kind/apiVersion, or a CRD kind to add to NO_SCHEMA_KINDS"
                    rc=1
                fi
                ;;
            "") ;;
            *) echo "$line" ;;
        esac
    done <"$work/validate.out"
    [[ -s "$rendered" ]] || { echo "error: nothing rendered"; rc=1; }
    return $rc
}

crds_in_sync() {
    local src=crds dst="$CHART/crds" f rc=0
    local src_files dst_files
    src_files="$(find "$src" -maxdepth 1 -type f ! -name '.*' -printf '%f\n' 2>/dev/null | sort)"
    dst_files="$(find "$dst" -maxdepth 1 -type f ! -name '.*' -printf '%f\n' 2>/dev/null | sort)"
    if [[ -z "$src_files" ]]; then
        echo "crds/ is empty: run cargo run -p tabula-operator --bin crdgen"
        echo "(crdgen writes both crds/ and $dst/)"
        return 1
    fi
    while IFS= read -r f; do
        if [[ ! -f "$dst/$f" ]]; then
            echo "$dst/$f is missing (crds/$f exists)"; rc=1
        elif ! cmp -s "$src/$f" "$dst/$f"; then
            echo "$dst/$f differs from crds/$f"; rc=1
        fi
    done <<<"$src_files"
    while IFS= read -r f; do
        [[ -n "$f" && ! -f "$src/$f" ]] && { echo "$dst/$f has no counterpart in crds/ (stale: remove it)"; rc=1; }
    done <<<"$dst_files"
    if [[ $rc != 0 ]]; then
        echo "the chart's CRDs are out of date; fix: cargo run -p tabula-operator --bin crdgen (writes both), or cp crds/* $dst/"
    fi
    return $rc
}

echo "chart_check: $("$TABULA_HELM" version --short 2>/dev/null), kubernetes-validate $("$TABULA_KUBE_VALIDATE" --version 2>/dev/null), Kubernetes ${KUBE_VERSIONS[*]}"
for set in "${VALUE_SETS[@]}"; do
    IFS='|' read -r label values extra <<<"$set"
    rendered="$work/$label.yaml"
    run_check "lint ($label)" lint "$values"
    if ! render "$values" "$rendered" >"$work/render.out" 2>&1; then
        failed=$((failed + 1))
        failures+=("render ($label)")
        printf 'FAIL  %s\n' "render ($label): helm template failed; checks on its output not run"
        sed 's/^/      /' "$work/render.out"
        continue
    fi
    run_check "validate ($label)" validate "$rendered"
    for c in $extra; do
        case "$c" in
            pod-security-np)
                run_check "pod-security ($label)" \
                    "$TABULA_PY" e2e/check_pod_security.py --require-network-policy "$rendered" ;;
            pod-security)
                run_check "pod-security ($label)" "$TABULA_PY" e2e/check_pod_security.py "$rendered" ;;
            refs)
                run_check "refs ($label)" "$TABULA_PY" e2e/check_chart_refs.py "$rendered" ;;
        esac
    done
done
run_check "crds-in-sync" crds_in_sync
# The example manifests must be accepted by the CRDs the chart installs.
if compgen -G "$CHART/crds/*.yaml" >/dev/null; then
    run_check "example-manifests" "$TABULA_PY" e2e/check_manifest_schema.py "$CHART/crds" e2e/manifests/*.yaml
else
    printf 'skip  %s\n' "example-manifests (no CRDs in $CHART/crds/ to check e2e/manifests/ against)"
fi

if [[ $failed == 0 ]]; then
    echo "chart_check: PASS"
else
    joined="$(printf '%s, ' "${failures[@]}")"
    echo "chart_check: FAIL: ${joined%, }"
fi
echo "chart_check: $passed passed, $failed failed"
[[ $failed == 0 ]]
