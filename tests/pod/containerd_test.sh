#!/usr/bin/env bash
# containerd (the runtime behind kubelet on GKE and EKS), a private daemon with its own
# config.toml, root, state and socket under this test's temp dir (the CRI plugin off): it pulls
# the model image and modelcar's runtime image by digest from the local registry and runs them.
# The model image's /models holds the model byte for byte; the runtime image runs `modelcar
# version` and `modelcar serve oci://MODEL` (host network, 127.0.0.1), which pulls the model into
# a store inside the container and answers /v1/models.
source "$MODELCAR_SRC/tests/lib/common.sh"
source "$MODELCAR_SRC/tests/pod/lib.sh"
mc_tmpdir
command -v containerd >/dev/null && command -v ctr >/dev/null ||
  mc_fail "containerd and ctr are not installed (scripts/setup test installs them)"
POD_ROOT=$MC_TMP/podman  # pod_images writes a registries.conf there (unused by containerd)
mkdir -p "$POD_ROOT"
pod_images
cd "$MC_TMP"

D=$MC_TMP/containerd
mkdir -p "$D"
cat > "$D/config.toml" <<EOF
version = 2
root = "$D/root"
state = "$D/state"
disabled_plugins = ["io.containerd.grpc.v1.cri"]
[grpc]
  address = "$D/containerd.sock"
[ttrpc]
  address = "$D/containerd-ttrpc.sock"
[debug]
  address = ""
[metrics]
  address = ""
[plugins."io.containerd.internal.v1.opt"]
  path = "$D/opt"
EOF
containerd --config "$D/config.toml" > "$D/log" 2>&1 &
cpid=$!
MC_CLEANUP+=("containerd_teardown")
# Kills and deletes this daemon's tasks (their shims exit with them), stops the daemon, unmounts
# what is left under its root.
containerd_teardown() {
  local id
  ctr -a "$D/containerd.sock" -n modelcar-test containers ls -q 2>/dev/null | while read -r id; do
    ctr -a "$D/containerd.sock" -n modelcar-test tasks kill -s KILL "$id" >/dev/null 2>&1 || true
    for _ in 1 2 3 4 5; do
      ctr -a "$D/containerd.sock" -n modelcar-test tasks rm -f "$id" >/dev/null 2>&1 && break
      sleep 0.2
    done
    ctr -a "$D/containerd.sock" -n modelcar-test containers rm "$id" >/dev/null 2>&1 || true
  done
  kill "$cpid" 2>/dev/null && wait "$cpid" 2>/dev/null
  findmnt -rn -o TARGET | grep "^$D/" | sort -r | while read -r m; do umount "$m" || umount -l "$m"; done
}
c() { ctr -a "$D/containerd.sock" -n modelcar-test "$@"; }
for _ in $(seq 1 100); do
  c version >/dev/null 2>&1 && break
  kill -0 "$cpid" 2>/dev/null || { cat "$D/log" >&2; mc_fail "containerd exited"; }
  sleep 0.1
done
c version >/dev/null || { cat "$D/log" >&2; mc_fail "containerd did not start"; }

# Pulls by digest: what containerd stores is exactly the pushed manifest.
for ref in "$MODEL_REF" "$RUNTIME_REF"; do
  c images pull --plain-http "$ref" > pull.log 2>&1 || { cat pull.log >&2; mc_fail "ctr pull $ref"; }
  c images ls | grep -c "^$ref .*${ref##*@}" >/dev/null || mc_fail "ctr images ls: $(c images ls)"
done

# The containers write what the test reads into a bind-mounted directory: ctr run at times
# returns a short task's exit status 0 before its stdout reached ctr (an empty capture, seen
# under the ASan phase's load).
mkdir -p out && chmod 0777 out  # writable whichever user a container runs as
out=(--mount "type=bind,src=$PWD/out,dst=/out,options=rbind:rw")

# The model image: its /models is the model directory.
c run --rm --net-host "${out[@]}" "$MODEL_REF" model-ls \
  sh -c 'cd /models && sha256sum config.json model.safetensors tokenizer.json > /out/sums.txt' ||
  mc_fail "run the model image"
(cd "$MODEL_DIR" && sha256sum config.json model.safetensors tokenizer.json) | cmp - out/sums.txt ||
  mc_fail "model files differ: $(cat out/sums.txt)"

# The runtime image: the entrypoint is modelcar; serve pulls the model and answers.
c run --rm --net-host "${out[@]}" "$RUNTIME_REF" rt-version \
  sh -c '/usr/bin/modelcar version > /out/version.txt' || mc_fail "run the runtime image"
[ "$(cat out/version.txt)" = "$("$MODELCAR_BIN" version)" ] ||
  mc_fail "modelcar version in the runtime image: $(cat out/version.txt)"
port=$(mc_free_port)
c run -d --net-host "$RUNTIME_REF" rt-serve /usr/bin/modelcar serve "oci://$MODEL_REF" \
  --store /tmp/store --host 127.0.0.1 --port "$port" >/dev/null || mc_fail "ctr run serve"
for _ in $(seq 1 600); do
  [ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/health")" = 200 ] && break
  sleep 0.1
done
curl -sf "http://127.0.0.1:$port/v1/models" | grep -c '"id":"tinyqwen"' >/dev/null ||
  mc_fail "serve in containerd: $(curl -s "http://127.0.0.1:$port/v1/models")"
c tasks kill -s TERM rt-serve
for _ in $(seq 1 100); do
  c tasks ls | grep -c "^rt-serve .*RUNNING" >/dev/null || break
  sleep 0.1
done
c tasks ls | grep -c "^rt-serve .*RUNNING" >/dev/null && mc_fail "serve did not stop on SIGTERM"
c tasks rm rt-serve >/dev/null 2>&1 || true
c containers rm rt-serve
echo "PASS containerd_test"
