#!/usr/bin/env bash
# End-to-end test on a throwaway kind cluster: build the image, install the chart, create the
# example Table, write and read an item with the AWS CLI, delete the Table.
#
#   bash e2e/kind.sh
#
# Needs Docker (with a running daemon) and kind; without them it prints
# "e2e/kind.sh: skipped: <reason>" and exits 0. helm, kubectl and the AWS CLI come from
# e2e/tools.sh. Not part of CI. Knobs (environment):
#   TABULA_KIND_CLUSTER  cluster name (default tabula-e2e; an existing one is replaced)
#   TABULA_KIND_IMAGE    kind node image (default: kind's own default)
#   TABULA_KIND_KEEP=1   keep the cluster afterwards (kubeconfig path is printed)
set -euo pipefail
cd "$(dirname "$0")/.."

skip() { echo "e2e/kind.sh: skipped: $*"; exit 0; }
command -v docker >/dev/null 2>&1 || skip "docker not found"
docker info >/dev/null 2>&1 || skip "docker daemon not reachable ('docker info' failed)"
command -v kind >/dev/null 2>&1 || skip "kind not found"

eval "$(bash e2e/tools.sh)"

CLUSTER="${TABULA_KIND_CLUSTER:-tabula-e2e}"
RELEASE=tabula
OPERATOR_NS=tabula-system
TABLE_NS=default
TABLE=orders
IMAGE_REPO=tabula
IMAGE_TAG="e2e-$(git rev-parse --short HEAD 2>/dev/null || echo local)-$(date +%s)"
IMAGE="$IMAGE_REPO:$IMAGE_TAG"

work="$(mktemp -d)"
export KUBECONFIG="$work/kubeconfig"   # never touch the user's ~/.kube/config
kubectl() { "$TABULA_KUBECTL" "$@"; }
helm() { "$TABULA_HELM" "$@"; }
say() { printf '\n== %s\n' "$*"; }
die() { echo "e2e/kind.sh: FAIL: $*" >&2; exit 1; }

forward_pid=""
cluster_created=0
cleanup() {
    local rc=$?
    if [[ -n "$forward_pid" ]]; then kill "$forward_pid" 2>/dev/null || true; fi
    if [[ $rc != 0 && $cluster_created == 1 ]]; then
        echo "---- diagnostics ----" >&2
        kubectl get tables,statefulsets,pods,services,pvc -A -o wide >&2 2>&1 || true
        kubectl describe table "$TABLE" -n "$TABLE_NS" >&2 2>&1 || true
        kubectl logs -n "$OPERATOR_NS" "deployment/$RELEASE" --tail=200 >&2 2>&1 || true
        kubectl get events -A --sort-by=.lastTimestamp 2>&1 | tail -n 40 >&2 || true
        [[ -s "$work/port-forward.log" ]] && { echo "-- port-forward:" >&2; cat "$work/port-forward.log" >&2; }
    fi
    if [[ $cluster_created == 1 ]]; then
        if [[ "${TABULA_KIND_KEEP:-0}" == 1 ]]; then
            echo "e2e/kind.sh: keeping cluster $CLUSTER; KUBECONFIG=$KUBECONFIG" >&2
            return
        fi
        kind delete cluster --name "$CLUSTER" >/dev/null 2>&1 || true
    fi
    rm -rf "$work"
}
trap cleanup EXIT

shopt -s nullglob
crd_files=(charts/tabula/crds/*.yaml)
shopt -u nullglob
[[ ${#crd_files[@]} -gt 0 ]] \
    || die "charts/tabula/crds/ has no CRDs: run cargo run -p tabula-operator --bin crdgen, then copy crds/ into the chart"

say "creating kind cluster $CLUSTER (1 control plane, 3 workers in zones a, b, c)"
if kind get clusters 2>/dev/null | grep -qx "$CLUSTER"; then
    kind delete cluster --name "$CLUSTER"
fi
cat >"$work/kind.yaml" <<EOF
kind: Cluster
apiVersion: kind.x-k8s.io/v1alpha4
nodes:
  - role: control-plane
  - role: worker
    labels:
      topology.kubernetes.io/zone: zone-a
  - role: worker
    labels:
      topology.kubernetes.io/zone: zone-b
  - role: worker
    labels:
      topology.kubernetes.io/zone: zone-c
EOF
cluster_created=1
kind create cluster --name "$CLUSTER" --config "$work/kind.yaml" --kubeconfig "$KUBECONFIG" \
    ${TABULA_KIND_IMAGE:+--image "$TABULA_KIND_IMAGE"} --wait 180s
kubectl get nodes -L topology.kubernetes.io/zone

say "building image $IMAGE"
docker build -t "$IMAGE" .
kind load docker-image "$IMAGE" --name "$CLUSTER"

say "installing the chart"
helm install "$RELEASE" charts/tabula --namespace "$OPERATOR_NS" --create-namespace \
    --set image.repository="$IMAGE_REPO" --set image.tag="$IMAGE_TAG" \
    --wait --timeout 5m
kubectl wait --for=condition=Established crd/tables.tabula.dev --timeout=60s
kubectl -n "$OPERATOR_NS" rollout status "deployment/$RELEASE" --timeout=120s

say "creating Table $TABLE"
kubectl apply -n "$TABLE_NS" -f e2e/manifests/table.yaml
kubectl get tables -n "$TABLE_NS"
kubectl wait -n "$TABLE_NS" --for=condition=Ready "table/$TABLE" --timeout=300s
kubectl get tables,statefulsets,pods,services,pvc -n "$TABLE_NS" -o wide

say "AWS CLI through kubectl port-forward svc/$TABLE 8000"
port="$("$TABULA_PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
kubectl port-forward -n "$TABLE_NS" "svc/$TABLE" "$port:8000" >"$work/port-forward.log" 2>&1 &
forward_pid=$!
for _ in $(seq 1 60); do
    (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break
    kill -0 "$forward_pid" 2>/dev/null || die "kubectl port-forward exited (see its log above)"
    sleep 0.5
done
export AWS_ACCESS_KEY_ID=tabula-e2e AWS_SECRET_ACCESS_KEY=tabula-e2e AWS_DEFAULT_REGION=us-east-1
aws() { "$TABULA_AWS" --endpoint-url "http://127.0.0.1:$port" "$@"; }

aws dynamodb list-tables --output text --query 'TableNames' | tr '\t' '\n' | grep -qx "$TABLE" \
    || die "list-tables does not list $TABLE"
aws dynamodb put-item --table-name "$TABLE" \
    --item '{"pk":{"S":"order-1"},"sk":{"N":"1"},"total":{"N":"42.50"},"status":{"S":"NEW"}}'
got="$(aws dynamodb get-item --table-name "$TABLE" --consistent-read \
    --key '{"pk":{"S":"order-1"},"sk":{"N":"1"}}' --query 'Item.status.S' --output text)"
[[ "$got" == "NEW" ]] || die "get-item returned status '$got', want NEW"
echo "put-item/get-item round trip ok"
kill "$forward_pid" 2>/dev/null || true
forward_pid=""

say "deleting Table $TABLE"
kubectl delete -n "$TABLE_NS" "table/$TABLE" --wait=false
kubectl wait -n "$TABLE_NS" --for=delete "table/$TABLE" --timeout=180s

echo
echo "e2e/kind.sh: PASS"
