#!/usr/bin/env bash
# Node store faults against the real registry: hostile tar layers, disk full (tmpfs), refusal
# before a pull that cannot fit, kill -9 mid-pull then resume, corruption found by verify and
# repaired by the next pull, gc racing pull and mount.
source "$MODELCAR_SRC/tests/lib/common.sh"
B=$MODELCAR_BIN
PY=/usr/bin/python3
MK=$MODELCAR_SRC/tests/store/make_layout.py
mc_tmpdir
mc_start_registry
S=$MC_TMP/store
push_layout() { skopeo copy -q --preserve-digests --dest-tls-verify=false "oci:$1:$2" "docker://$REGISTRY/$3"; }
trees() { ls "$1/trees/sha256" 2>/dev/null | wc -l; }

# --- hostile layers: each refused, naming the entry; nothing outside the tree, no leftovers.
OUT=$MC_TMP/outside && mkdir -p "$OUT"
$PY - "$MC_TMP" "$OUT" <<'PYEOF'
import io, sys, tarfile
tmp, out = sys.argv[1], sys.argv[2]
def tar(name, entries):
    with tarfile.open(f"{tmp}/{name}.tar", "w", format=tarfile.GNU_FORMAT) as t:
        for kind, path, arg in entries:
            ti = tarfile.TarInfo(path)
            if kind == "file":
                ti.size = len(arg); t.addfile(ti, io.BytesIO(arg))
            elif kind == "sym":
                ti.type, ti.linkname = tarfile.SYMTYPE, arg; t.addfile(ti)
            elif kind == "hard":
                ti.type, ti.linkname = tarfile.LNKTYPE, arg; t.addfile(ti)
            elif kind == "chr":
                ti.type, ti.devmajor, ti.devminor = tarfile.CHRTYPE, 1, 3; t.addfile(ti)
            elif kind == "fifo":
                ti.type = tarfile.FIFOTYPE; t.addfile(ti)
tar("abs", [("file", out + "/abs-pwned", b"x")])
tar("dotdot", [("file", "models/../../dotdot-pwned", b"x")])
tar("symfile", [("sym", "models", out), ("file", "models/sym-pwned", b"x")])
tar("hardout", [("hard", "models/h", "../../../etc/passwd")])
tar("device", [("chr", "models/null", None)])
tar("fifo", [("fifo", "models/pipe", None)])
PYEOF
declare -A expect=([abs]="$OUT/abs-pwned" [dotdot]="models/../../dotdot-pwned"
                   [symfile]="models/sym-pwned" [hardout]="models/h" [device]="models/null"
                   [fifo]="models/pipe")
for name in abs dotdot symfile hardout device fifo; do
  $PY "$MK" "$MC_TMP/l-$name" t "$MC_TMP/$name.tar"
  push_layout "$MC_TMP/l-$name" t "hostile/$name:t"
  mc_expect_fail $B pull "$REGISTRY/hostile/$name:t" --store "$S"
  grep -qF "${expect[$name]}" <<<"$MC_ERR" || mc_fail "$name: error does not name the entry: $MC_ERR"
  [ "$(trees "$S")" = 0 ] || mc_fail "$name: a tree was committed"
  [ -z "$(ls "$S/ingest")" ] || mc_fail "$name: ingest leftovers"
  [ -z "$(ls "$OUT")" ] || mc_fail "$name: wrote outside the tree"
  echo "refused $name: $MC_ERR"
done

# --- disk full in the middle of a pull (the pre-check passes: the gzip layer is small).
SMALL=$MC_TMP/small && mkdir -p "$SMALL" && mount -t tmpfs -o size=16m tmpfs "$SMALL"
MC_CLEANUP+=("umount -l '$SMALL'")
head -c 40000000 /dev/zero > "$MC_TMP/zeros.bin"
tar -C "$MC_TMP" -cf "$MC_TMP/zeros.tar" zeros.bin
$PY "$MK" "$MC_TMP/l-zeros" t "$MC_TMP/zeros.tar:gzip"
push_layout "$MC_TMP/l-zeros" t zeros:t
mc_expect_fail $B pull "$REGISTRY/zeros:t" --store "$SMALL/store"
grep -qi "space" <<<"$MC_ERR" || mc_fail "disk full: unclear error: $MC_ERR"
[ "$(trees "$SMALL/store")" = 0 ] || mc_fail "disk full: partial tree committed"
[ -z "$(ls "$SMALL/store/ingest")" ] || mc_fail "disk full: ingest not removed"
used=$(df --output=used -k "$SMALL" | tail -1)
(( used < 1024 )) || mc_fail "disk full: $used KiB still used on the tmpfs"
echo "disk full: $MC_ERR"

# --- refusal before pulling an image that cannot fit.
head -c 30000000 /dev/urandom > "$MC_TMP/big.bin"
tar -C "$MC_TMP" -cf "$MC_TMP/big.tar" big.bin
$PY "$MK" "$MC_TMP/l-big" t "$MC_TMP/big.tar"
push_layout "$MC_TMP/l-big" t big:t
mc_expect_fail $B pull "$REGISTRY/big:t" --store "$SMALL/store"
grep -q "needs 3[0-9]* bytes, [0-9]* bytes are free" <<<"$MC_ERR" || mc_fail "no needed/free message: $MC_ERR"
echo "refused up front: $MC_ERR"

# --- kill -9 at two points, then resume without refetching finished bytes.
mkdir -p "$MC_TMP/model"
size=400000000
head -c $size /dev/urandom > "$MC_TMP/model/model.safetensors"
echo '{}' > "$MC_TMP/model/config.json"
$B build "$MC_TMP/model" --layout "$MC_TMP/l-model:v1" > /dev/null 2>&1
push_layout "$MC_TMP/l-model" v1 model:v1
for cut in 100000000 250000000; do
  $B pull "$REGISTRY/model:v1" --store "$S" > /dev/null 2>&1 &
  pid=$!
  while kill -0 $pid 2>/dev/null; do
    got=$(du -sb "$S/ingest" 2>/dev/null | cut -f1)
    if (( ${got:-0} >= cut )); then kill -9 $pid; break; fi
    sleep 0.02
  done
  wait $pid 2>/dev/null && mc_fail "pull finished before kill -9 at $cut"
  echo "killed at $(du -sb "$S/ingest" | cut -f1) bytes on disk"
done
pinned=$($B pull "$REGISTRY/model:v1" --store "$S" 2>"$MC_TMP/err") || mc_fail "resume failed: $(cat "$MC_TMP/err")"
summary=$(grep "fetched" "$MC_TMP/err")
echo "resume: $summary"
fetched=$(sed -E 's/.*fetched ([0-9]+) bytes.*/\1/' <<<"$summary")
resumed=$(sed -E 's/.*resumed ([0-9]+) bytes.*/\1/' <<<"$summary")
(( resumed >= 200000000 )) || mc_fail "resumed only $resumed bytes"
(( fetched <= size - 200000000 )) || mc_fail "refetched: $fetched bytes fetched after two kills"
tree=$S/trees/sha256/${pinned#*@sha256:}/rootfs
cmp "$tree/models/model.safetensors" "$MC_TMP/model/model.safetensors" || mc_fail "resumed content"
$B store verify "$pinned" --store "$S" > /dev/null || mc_fail "verify after resume"

# --- corruption: verify finds it, the next pull (IfNotPresent) repairs it.
chmod u+w "$tree/models/model.safetensors"
mc_flip_byte "$tree/models/model.safetensors" 12345
if $B store verify "$pinned" --store "$S" > "$MC_TMP/verify"; then mc_fail "verify missed corruption"; fi
grep -q CORRUPT "$MC_TMP/verify" || mc_fail "verify output: $(cat "$MC_TMP/verify")"
$B pull "$pinned" --store "$S" 2>"$MC_TMP/err" > /dev/null || mc_fail "repair pull failed"
grep -q "fetched" "$MC_TMP/err" || mc_fail "repair pull used no network: $(cat "$MC_TMP/err")"
cmp "$tree/models/model.safetensors" "$MC_TMP/model/model.safetensors" || mc_fail "not repaired"
$B store verify "$pinned" --store "$S" > /dev/null || mc_fail "verify after repair"
echo "corruption found and repaired"

# --- gc racing pull and mount: nothing in use is removed.
$B mount "$pinned" "$MC_TMP/mnt-a" --store "$S" -q > /dev/null
head -c 150000000 /dev/urandom > "$MC_TMP/model/model.safetensors"
$B build "$MC_TMP/model" --layout "$MC_TMP/l-model2:v1" > /dev/null 2>&1
push_layout "$MC_TMP/l-model2" v1 model2:v1
( while [ ! -e "$MC_TMP/stop-gc" ]; do
    $B store gc --store "$S" --max-size 0 --no-watermarks > /dev/null 2>&1 || true
  done ) &
gcpid=$!
MC_CLEANUP+=("touch '$MC_TMP/stop-gc'; wait $gcpid 2>/dev/null")
target=$($B mount "$REGISTRY/model2:v1" "$MC_TMP/mnt-b" --store "$S" -q) || mc_fail "mount during gc"
sleep 1
touch "$MC_TMP/stop-gc"; wait $gcpid || true
cmp "$MC_TMP/mnt-b/model.safetensors" "$MC_TMP/model/model.safetensors" || mc_fail "mount B lost to gc"
[ -f "$MC_TMP/mnt-a/model.safetensors" ] || mc_fail "mount A lost to gc"
$B store verify --store "$S" > /dev/null || mc_fail "verify after gc race"
echo PASS
