#!/usr/bin/env bash
# deploy/: every kustomization renders with `kubectl kustomize`; the rendered objects survive a
# round trip through kubectl's typed objects without dropped fields; the self-signed overlay's
# script makes a CA whose bundle lands in the webhook configuration; the webhook ConfigMap is a
# config modelcar accepts; the cache agents' Service, RBAC, NetworkPolicy and DaemonSet fit
# together and modelcar accepts the DaemonSet's arguments; the example InferenceService injects
# to a pod that passes smoke.
# No cluster here: kubectl runs client-side only.
source "$MODELCAR_SRC/tests/lib/common.sh"
here=$(cd "$(dirname "$0")" && pwd)
deploy=$MODELCAR_SRC/deploy
mc_tmpdir
cd "$MC_TMP"

n=0
while read -r k; do
  dir=$(dirname "$k")
  case "$dir" in */overlays/self-signed) continue ;; esac
  out=render-$n.yaml
  kubectl kustomize "$dir" > "$out" 2> err.txt || { cat err.txt; mc_fail "kubectl kustomize $dir"; }
  [ -s "$out" ] || mc_fail "$dir rendered nothing"
  /usr/bin/python3 "$here/roundtrip.py" "$out" > rt.txt || { cat rt.txt; mc_fail "round trip of $dir"; }
  echo "rendered and round-tripped $dir ($(grep -c PASS rt.txt) objects)"
  n=$((n + 1))
done < <(find "$deploy" -name kustomization.yaml | sort)
[ $n -ge 7 ] || mc_fail "only $n kustomizations found"

# Self-signed overlay: run its script on a copy, then render.
cp -r "$deploy" deploy-copy
bash deploy-copy/overlays/self-signed/gen-certs.sh > /dev/null
kubectl kustomize deploy-copy/overlays/self-signed > self-signed.yaml
/usr/bin/python3 - self-signed.yaml deploy-copy/overlays/self-signed/ca.crt <<'PY' || mc_fail "self-signed overlay"
import base64, sys, yaml
docs = [d for d in yaml.safe_load_all(open(sys.argv[1])) if d]
ca = open(sys.argv[2], "rb").read()
mwc = [d for d in docs if d["kind"] == "MutatingWebhookConfiguration"][0]
assert [w["name"] for w in mwc["webhooks"]] == ["pods.modelcar.dev", "models.modelcar.dev"], mwc
for w in mwc["webhooks"]:
    assert base64.b64decode(w["clientConfig"]["caBundle"]) == ca, "caBundle is not ca.crt"
# The API server calls mutating webhooks by configuration name: modelcar's must come first.
assert mwc["metadata"]["name"] < "inferenceservice.serving.kserve.io", mwc["metadata"]["name"]
sec = [d for d in docs if d["kind"] == "Secret"][0]
assert sec["metadata"]["name"] == "modelcar-webhook-tls" and sec["type"] == "kubernetes.io/tls"
assert sec["metadata"]["namespace"] == "modelcar-system"
PY
openssl verify -CAfile deploy-copy/overlays/self-signed/ca.crt deploy-copy/overlays/self-signed/tls.crt > /dev/null \
  || mc_fail "serving certificate does not verify against the CA"
openssl x509 -in deploy-copy/overlays/self-signed/tls.crt -noout -ext subjectAltName \
  | mc_contains 'DNS:modelcar-webhook.modelcar-system.svc' || mc_fail "SAN"
/usr/bin/python3 "$here/roundtrip.py" self-signed.yaml > rt.txt || { cat rt.txt; mc_fail "round trip self-signed"; }

# The MutatingWebhookConfiguration says what the issue requires.
kubectl kustomize "$deploy/overlays/cert-manager" > cm.yaml
/usr/bin/python3 - cm.yaml <<'PY' || mc_fail "webhook configuration fields"
import sys, yaml
docs = [d for d in yaml.safe_load_all(open(sys.argv[1])) if d]
w = [d for d in docs if d["kind"] == "MutatingWebhookConfiguration"][0]["webhooks"][0]
assert w["failurePolicy"] == "Fail" and w["sideEffects"] == "None"
assert w["reinvocationPolicy"] == "IfNeeded" and w["timeoutSeconds"] <= 10
assert w["objectSelector"]["matchExpressions"][0]["key"] == "serving.kserve.io/inferenceservice"
assert w["admissionReviewVersions"] == ["v1"] and w["clientConfig"]["service"]["path"] == "/mutate-pods"
cm = [d for d in docs if d["kind"] == "ConfigMap"][0]
open("webhook-config.json", "w").write(cm["data"]["storageInitializer"])
open("webhook-configmap.yaml", "w").write(yaml.safe_dump(cm))
PY

# The cache agents find each other (docs/peers.md): a headless Service over the DaemonSet's pods
# with a port named mirror, RBAC to read its EndpointSlices and nothing else, the DaemonSet
# running --mirror --peer-service with NODE_NAME from the downward API, and a NetworkPolicy that
# lets only the agents reach the mirror.
kubectl kustomize "$deploy/cache-agent" > cache-agent.yaml
/usr/bin/python3 - cache-agent.yaml > agent-args.txt <<'PY' || mc_fail "cache-agent manifests"
import sys, yaml
docs = [d for d in yaml.safe_load_all(open(sys.argv[1])) if d]
by = {d["kind"]: d for d in docs}
ds, svc, sa = by["DaemonSet"], by["Service"], by["ServiceAccount"]
role, rb, np = by["Role"], by["RoleBinding"], by["NetworkPolicy"]
ns = ds["metadata"]["namespace"]
assert all(d["metadata"].get("namespace") == ns for d in docs), "one namespace"
pod = ds["spec"]["template"]
labels, spec = pod["metadata"]["labels"], pod["spec"]
c = spec["containers"][0]
args = c["args"]
# The Service: headless, selecting the agents, its port named mirror on the container's port.
assert svc["spec"]["clusterIP"] == "None", svc["spec"]
assert svc["spec"]["selector"].items() <= labels.items(), (svc["spec"]["selector"], labels)
[port] = [p for p in svc["spec"]["ports"] if p["name"] == "mirror"]
[cport] = [p for p in c["ports"] if p["name"] == port["targetPort"]]
listen = [a for a in args if a.startswith("--listen=")]
assert listen == ["--listen=0.0.0.0:%d" % cport["containerPort"]], (listen, cport)
assert port["port"] == cport["containerPort"] and cport.get("protocol", "TCP") == "TCP"
# The DaemonSet: mirror, the Service by name, NODE_NAME from spec.nodeName, the service account.
assert "--mirror" in args, args
assert "--peer-service=" + svc["metadata"]["name"] in args, args
[node] = [e for e in c["env"] if e["name"] == "NODE_NAME"]
assert node["valueFrom"]["fieldRef"]["fieldPath"] == "spec.nodeName", node
assert spec["serviceAccountName"] == sa["metadata"]["name"]
assert spec.get("automountServiceAccountToken", True) and sa.get("automountServiceAccountToken", True)
# RBAC: read endpointslices in the namespace, nothing else.
assert role["rules"] == [{"apiGroups": ["discovery.k8s.io"], "resources": ["endpointslices"],
                          "verbs": ["get", "list", "watch"]}], role["rules"]
assert rb["roleRef"] == {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role",
                         "name": role["metadata"]["name"]}, rb["roleRef"]
assert rb["subjects"] == [{"kind": "ServiceAccount", "name": sa["metadata"]["name"],
                           "namespace": ns}], rb["subjects"]
# The NetworkPolicy: the agents' pods, reachable on the mirror port from agents only.
assert np["spec"]["podSelector"]["matchLabels"].items() <= labels.items()
assert np["spec"]["ingress"] == [{"from": [{"podSelector": {"matchLabels": svc["spec"]["selector"]}}],
                                  "ports": [{"port": "mirror", "protocol": "TCP"}]}], np["spec"]
# The agent's arguments, for the binary below: every one but the paths and the port.
skip = ("--config=", "--store=", "--listen=")
print("\n".join(a for a in args if a != "cache-agent" and not a.startswith(skip)))
PY
# modelcar accepts the DaemonSet's arguments; outside a cluster the agent says so and goes on.
echo "# none" > refs.txt
mapfile -t agent_args < agent-args.txt
NODE_NAME=node-1 "$MODELCAR_BIN" cache-agent "${agent_args[@]}" --config refs.txt --store store \
  --listen "127.0.0.1:$(mc_free_port)" --once 2> agent.log || { cat agent.log; mc_fail "cache-agent with the DaemonSet's arguments"; }
grep -q "peers from service modelcar-cache-agent: .*not in a Kubernetes cluster" agent.log ||
  mc_fail "cache-agent outside a cluster: $(cat agent.log)"

# The shipped config and the example InferenceService: inject + smoke, as the runbook says.
kubectl kustomize "$deploy/runtime" > runtime.yaml
kubectl kustomize "$deploy/examples/qwen-oci" > isvc.yaml
for cfg in webhook-config.json webhook-configmap.yaml; do
  "$MODELCAR_BIN" inject -f isvc.yaml --serving-runtime runtime.yaml --config "$cfg" > pod.yaml \
    || mc_fail "inject with $cfg"
  "$MODELCAR_BIN" smoke -f pod.yaml > smoke.txt || { cat smoke.txt; mc_fail "smoke with $cfg"; }
done
/usr/bin/python3 "$here/roundtrip.py" pod.yaml > rt.txt || { cat rt.txt; mc_fail "injected pod round trip"; }
grep -q -- '--served-model-name=qwen2.5-0.5b-instruct' pod.yaml || mc_fail "served model name"
echo "PASS deploy_test"
