# Helpers for the pod tests (source after tests/lib/common.sh): a private podman that plays the
# pods modelcar admits, the local registry they pull from, and modelcar's own images in it.
#   pod_setup            a podman of its own under $MC_TMP/podman: CONTAINERS_CONF (runc,
#                        cgroupfs, no ulimits, file events and file locks in its own tmp_dir),
#                        storage root/runroot, registries.conf; `pm` runs podman with them. Other
#                        podman users on this machine are never touched (own db, locks, storage)
#   pod_images           registry with its access log (REGISTRY, REGISTRY_DIR); pushes modelcar's
#                        runtime image made by scripts/runtime-image (RUNTIME_REF, pinned) and a
#                        tiny synthetic model built by `modelcar build --push` (MODEL_REF,
#                        MODEL_DIGEST, MODEL_DIR)
#   pod_play FILE NAME [kubelet_bridge.py flags]
#                        bridges FILE (see kubelet_bridge.py) and plays it as pod NAME with a free
#                        port for the server's --port=8080 (POD_PORT, POD_URL); POD_PLAY_S: seconds
#                        `podman kube play` took (pulls, init containers, container starts); the
#                        pod is removed at exit
#   pod_rm NAME          removes pod NAME (its containers stop at once)
#   pod_wait_ready NAME  waits for GET $POD_URL/health == 200; sets POD_READY_S (seconds since
#                        the play began)
#   blob_gets [REPO]     blob GETs answered so far by the registry (for REPO, or all)
POD_BRIDGE=$MODELCAR_SRC/tests/pod/kubelet_bridge.py

pm() { podman --root "$POD_ROOT/root" --runroot "$POD_ROOT/run" "$@"; }

pod_setup() {
  [ -n "${MC_TMP:-}" ] || mc_tmpdir
  command -v podman >/dev/null && command -v runc >/dev/null ||
    mc_fail "podman and runc are not installed (scripts/setup test installs them)"
  POD_ROOT=$MC_TMP/podman
  mkdir -p "$POD_ROOT/tmp" "$POD_ROOT/net" "$POD_ROOT/volumes"
  # podman 4.3 here: crun refuses this machine's cgroup layout (runc works), there is no systemd
  # (cgroupfs, file events), raising RLIMIT_NOFILE/NPROC is not permitted (no default ulimits).
  # lock_type "file" keeps the locks in this tmp_dir: with the default shared-memory locks, a new
  # tmp_dir makes podman free every lock on the machine, other podman users' ones included.
  cat > "$POD_ROOT/containers.conf" <<EOF
[containers]
default_ulimits = []
[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"
events_logfile_path = "$POD_ROOT/events.log"
tmp_dir = "$POD_ROOT/tmp"
lock_type = "file"
volume_path = "$POD_ROOT/volumes"
[network]
network_config_dir = "$POD_ROOT/net"
EOF
  cat > "$POD_ROOT/storage.conf" <<EOF
[storage]
driver = "overlay"
graphroot = "$POD_ROOT/root"
runroot = "$POD_ROOT/run"
EOF
  : > "$POD_ROOT/registries.conf"
  export CONTAINERS_CONF=$POD_ROOT/containers.conf CONTAINERS_STORAGE_CONF=$POD_ROOT/storage.conf
  export CONTAINERS_REGISTRIES_CONF=$POD_ROOT/registries.conf
  MC_CLEANUP+=("pod_teardown")
}

# Stops and removes what this test's podman runs, then unmounts its storage (only mounts under
# its own root) so the temp dir can go.
pod_teardown() {
  pm pod rm -a -f -t 0 >/dev/null 2>&1 || true
  pm rm -a -f -t 0 >/dev/null 2>&1 || true
  findmnt -rn -o TARGET | grep "^$POD_ROOT/" | sort -r | while read -r m; do umount "$m" || umount -l "$m"; done
}

pod_images() {
  MC_REGISTRY_ACCESSLOG=1 mc_start_registry
  printf '[[registry]]\nlocation = "%s"\ninsecure = true\n' "$REGISTRY" > "$POD_ROOT/registries.conf"
  RUNTIME_REF=$(MODELCAR_BIN=$MODELCAR_BIN "$MODELCAR_SRC/scripts/runtime-image" "$REGISTRY/modelcar:test" 2>"$MC_TMP/runtime-image.log") ||
    { cat "$MC_TMP/runtime-image.log" >&2; mc_fail "scripts/runtime-image"; }
  [[ $RUNTIME_REF == "$REGISTRY/modelcar@sha256:"* ]] || mc_fail "runtime image ref: $RUNTIME_REF"
  MODEL_DIR=$MC_TMP/tinyqwen
  "$MODELCAR_BIN" testmodel --shape tiny --out "$MODEL_DIR" >/dev/null
  MODEL_REF=$("$MODELCAR_BIN" build "$MODEL_DIR" --push "$REGISTRY/models/tinyqwen:v1" 2>/dev/null | tail -1)
  [[ $MODEL_REF == *@sha256:* ]] || mc_fail "model push printed $MODEL_REF"
  MODEL_DIGEST=${MODEL_REF##*@}
}

pod_play() {
  local file=$1 name=$2; shift 2
  POD_PORT=$(mc_free_port)
  POD_URL=http://127.0.0.1:$POD_PORT
  local vols=$POD_ROOT/volumes/$name-$RANDOM
  mkdir -p "$vols"
  /usr/bin/python3 "$POD_BRIDGE" "$file" --name "$name" --volume-dir "$vols" \
    "--replace=--port=8080::--port=$POD_PORT" "$@" > "$MC_TMP/$name.play.yaml" || mc_fail "bridge $file"
  POD_T0=$(date +%s.%N)
  pm kube play --tls-verify=false "$MC_TMP/$name.play.yaml" > "$MC_TMP/$name.play.log" 2>&1 ||
    { cat "$MC_TMP/$name.play.log" >&2; mc_fail "podman kube play $name"; }
  POD_PLAY_S=$(/usr/bin/python3 -c "import time; print(f'{time.time() - $POD_T0:.2f}')")
}

# Retried: podman 4.3 can fail to remove a container that its restart policy is restarting at
# that moment ("container state improper"); the next try finds it stopped.
pod_rm() {
  local i
  for i in 1 2 3 4 5; do
    pm pod rm -f -t 0 "$1" > "$MC_TMP/pod-rm.log" 2>&1 && return 0
    sleep 0.5
  done
  cat "$MC_TMP/pod-rm.log" >&2
  mc_fail "pod rm $1"
}

pod_wait_ready() {
  local name=$1 i code
  for i in $(seq 1 600); do
    code=$(curl -s -o /dev/null -w '%{http_code}' "$POD_URL/health" || true)
    if [ "$code" = 200 ]; then
      POD_READY_S=$(/usr/bin/python3 -c "import time; print(f'{time.time() - $POD_T0:.2f}')")
      return 0
    fi
    sleep 0.1
  done
  pm ps -a --filter "pod=$name" >&2 || true
  pm logs "$name-kserve-container" >&2 || true
  mc_fail "pod $name: $POD_URL/health answered $code after 60 s"
}

blob_gets() {
  grep -c "\"GET /v2/${1:-.*}/blobs/sha256:[0-9a-f]* HTTP" "$REGISTRY_DIR/log" || true
}
