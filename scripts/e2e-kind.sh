#!/usr/bin/env bash
# End-to-end run on a throwaway kind cluster (needs docker with a running engine, kind, kubectl, Node):
#   1. creates the cluster (or reuses it), builds the image and loads it into kind;
#   2. deploys deploy/ (CRD, RBAC, Deployment) with that image and waits for the rollout;
#   3. applies a MySQLTopology whose servers do not exist and checks, through the deployed operator, that
#      the finalizer is added, the status is written (schema-valid, observedGeneration), and that deleting
#      the topology lets it go;
#   4. scales the Deployment to 0 and runs test/e2e (the operator in-process, with the real reconciler);
#   5. deletes the cluster unless KEEP_CLUSTER=1.
# Environment: CLUSTER (default tributary-e2e), IMAGE (default tributary:e2e), KEEP_CLUSTER=1.
# Without kind: test/e2e runs against any cluster KUBECONFIG names, when its context is kind-* or with
# TRIBUTARY_E2E=1 (it creates the CRD and a namespace of its own):
#   KUBECONFIG=~/.kube/config TRIBUTARY_E2E=1 npx vitest run test/e2e
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)
CLUSTER=${CLUSTER:-tributary-e2e}
IMAGE=${IMAGE:-tributary:e2e}

for tool in docker kind kubectl node npx; do
  command -v "$tool" >/dev/null 2>&1 || { echo "e2e-kind: $tool is required" >&2; exit 1; }
done
docker info >/dev/null 2>&1 || { echo "e2e-kind: no Docker engine reachable (docker info failed)" >&2; exit 1; }

work=$(mktemp -d)
export KUBECONFIG="$work/kubeconfig"
cleanup() {
  status=$?
  if [ "${KEEP_CLUSTER:-0}" != 1 ]; then kind delete cluster --name "$CLUSTER" >/dev/null 2>&1 || true; fi
  rm -rf "$work"
  exit $status
}
trap cleanup EXIT

if ! kind get clusters 2>/dev/null | grep -qx "$CLUSTER"; then
  kind create cluster --name "$CLUSTER" --wait 180s
fi
kind get kubeconfig --name "$CLUSTER" >"$KUBECONFIG"

echo "e2e-kind: building $IMAGE"
docker build -t "$IMAGE" .
kind load docker-image "$IMAGE" --name "$CLUSTER"

# deploy/ references ../crds as a kustomization; make sure the copy has one, and pin the image.
cp -r deploy crds "$work/"
[ -f "$work/crds/kustomization.yaml" ] || printf 'resources:\n  - tributary.dev_mysqltopologies.yaml\n' >"$work/crds/kustomization.yaml"
mkdir -p "$work/overlay"
cat >"$work/overlay/kustomization.yaml" <<YAML
apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
resources: [../deploy]
images:
  - name: ghcr.io/tributary-dev/tributary
    newName: ${IMAGE%%:*}
    newTag: ${IMAGE##*:}
YAML
kubectl apply -k "$work/overlay"
kubectl wait --for=condition=Established crd/mysqltopologies.tributary.dev --timeout=60s
kubectl -n tributary-system rollout status deploy/tributary-operator --timeout=180s

echo "e2e-kind: checking the deployed operator"
kubectl create namespace e2e-deployed --dry-run=client -o yaml | kubectl apply -f -
kubectl -n e2e-deployed create secret generic tributary-admin --from-literal=username=tributary --from-literal=password=x --dry-run=client -o yaml | kubectl apply -f -
kubectl -n e2e-deployed create secret generic tributary-repl --from-literal=username=repl --from-literal=password=x --dry-run=client -o yaml | kubectl apply -f -
kubectl apply -f - <<YAML
apiVersion: tributary.dev/v1alpha1
kind: MySQLTopology
metadata: {name: nowhere, namespace: e2e-deployed}
spec:
  adminSecretRef: {name: tributary-admin}
  replicationSecretRef: {name: tributary-repl}
  failover: {enabled: false, pollIntervalSeconds: 2}
  groups:
    - name: g
      members: [{name: m-0, host: m-0.nowhere.invalid, port: 3306}]
YAML
for _ in $(seq 1 60); do
  gen=$(kubectl -n e2e-deployed get mytopo nowhere -o jsonpath='{.status.observedGeneration}' 2>/dev/null || true)
  [ "$gen" = 1 ] && break
  sleep 2
done
[ "$gen" = 1 ] || { echo "e2e-kind: the deployed operator wrote no status" >&2; kubectl -n tributary-system logs deploy/tributary-operator --tail=50 >&2; exit 1; }
kubectl -n e2e-deployed get mytopo nowhere -o jsonpath='{.metadata.finalizers}' | grep -q tributary.dev/finalizer
kubectl -n e2e-deployed get mytopo
curl_pod_metrics=$(kubectl -n tributary-system get --raw "/api/v1/namespaces/tributary-system/services/tributary-operator-metrics:metrics/proxy/metrics")
echo "$curl_pod_metrics" | grep -q '^tributary_leader 1' || { echo "e2e-kind: metrics show no leader" >&2; exit 1; }
kubectl -n e2e-deployed delete mytopo nowhere --timeout=60s
kubectl delete namespace e2e-deployed --wait=false

echo "e2e-kind: running test/e2e with the operator in-process"
kubectl -n tributary-system scale deploy/tributary-operator --replicas=0
printf "export default { test: { include: ['test/e2e/**/*.test.ts'], testTimeout: 120000, hookTimeout: 180000 } };\n" >"$work/vitest.e2e.config.mjs"
TRIBUTARY_E2E_REQUIRED=1 npx vitest run --config "$work/vitest.e2e.config.mjs" --root "$repo"
echo "e2e-kind: passed"
