#!/usr/bin/env bash
# fetch never follows a link out of the image: a top-level /models symlink to a node directory, a
# /models/.. walk and symlinks below /models that leave it are refused before anything is
# written; a link inside the tree is recreated as it is (real docker-registry, hostile images made
# with Python's tarfile since real builders refuse to write them).
source "$MODELCAR_SRC/tests/lib/common.sh"
B=$MODELCAR_BIN
MK=$MODELCAR_SRC/tests/store/make_layout.py
mc_tmpdir
mc_start_registry
S=$MC_TMP/store
NODE=$MC_TMP/node-secrets && mkdir -p "$NODE" && echo "node-canary-$RANDOM" > "$NODE/token"

/usr/bin/python3 - "$MC_TMP" "$NODE" <<'PYEOF'
import io, sys, tarfile
tmp, node = sys.argv[1], sys.argv[2]
def tar(name, entries):
    with tarfile.open(f"{tmp}/{name}.tar", "w", format=tarfile.GNU_FORMAT) as t:
        for kind, path, arg in entries:
            ti = tarfile.TarInfo(path)
            if kind == "dir":
                ti.type, ti.mode = tarfile.DIRTYPE, 0o755; t.addfile(ti)
            elif kind == "file":
                ti.size = len(arg); t.addfile(ti, io.BytesIO(arg))
            else:
                ti.type, ti.linkname = tarfile.SYMTYPE, arg; t.addfile(ti)
tar("abs", [("sym", "models", node)])                      # models -> /node/dir (absolute)
tar("rel", [("sym", "models", "../../../../../../../../.." + node)])
tar("inner", [("dir", "models", None), ("file", "models/config.json", b"{}"),
              ("sym", "models/token", node + "/token")])
tar("climb", [("dir", "models", None), ("dir", "models/sub", None),
              ("sym", "models/sub/up", "../../../../../../../../.." + node)])
tar("ok", [("dir", "data", None), ("dir", "data/models", None),
           ("file", "data/models/weights.bin", b"w" * 1000),
           ("sym", "data/models/alias.bin", "weights.bin"), ("sym", "models", "data/models")])
PYEOF

for name in abs rel inner climb ok; do
  /usr/bin/python3 "$MK" "$MC_TMP/lay-$name" v1 "$MC_TMP/$name.tar" >/dev/null
  "$B" push --layout "$MC_TMP/lay-$name:v1" "$REGISTRY/links/$name:v1" --progress none > "$MC_TMP/$name.ref" \
    || mc_fail "push $name"
done

for name in abs rel inner climb; do
  dest=$MC_TMP/dest-$name
  mc_expect_fail "$B" fetch "$(cat "$MC_TMP/$name.ref")" "$dest" --store "$S" -q
  echo "$MC_ERR" | mc_contains -E "leads outside the image's tree|leaves the copied tree" \
    || mc_fail "$name: unclear refusal: $MC_ERR"
  [ -z "$(ls -A "$dest" 2>/dev/null)" ] || mc_fail "$name: files written before the refusal: $(ls -A "$dest")"
  grep -rqs "node-canary" "$dest" && mc_fail "$name: node file copied"
done
# --subdir cannot climb out either.
mc_expect_fail "$B" fetch "$(cat "$MC_TMP/ok.ref")" "$MC_TMP/dest-sub" --store "$S" -q \
  --subdir ../../../../../../../..$NODE
echo "$MC_ERR" | mc_contains "leads outside" || mc_fail "--subdir climb: $MC_ERR"

# A /models link inside the image, and a link inside /models, are fine.
"$B" fetch "$(cat "$MC_TMP/ok.ref")" "$MC_TMP/dest-ok" --store "$S" -q >/dev/null || mc_fail "fetch ok"
cmp <(printf 'w%.0s' $(seq 1000)) "$MC_TMP/dest-ok/weights.bin" || mc_fail "weights differ"
[ "$(readlink "$MC_TMP/dest-ok/alias.bin")" = weights.bin ] || mc_fail "inner link not recreated"
echo PASS
