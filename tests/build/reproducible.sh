#!/usr/bin/env bash
# Same content -> same digest, whatever the mtimes, owners, modes, umask or creation order; the
# timestamp comes from --created / SOURCE_DATE_EPOCH only.
source "$MODELCAR_SRC/tests/lib/common.sh"
source "$(dirname "$0")/lib.sh"
mc_tmpdir
cd "$MC_TMP"
mc_make_model a

# Copy b: files created in reverse order under another umask, other owners, modes and mtimes.
(
  umask 077
  mkdir b
  cd a
  find . -type d | sort -r | while read -r d; do mkdir -p "../b/$d"; done
  find . -type f | sort -r | while read -r f; do cat "$f" > "../b/$f"; done
)
chown -R 1234:5678 b
chmod 0600 b/config.json
find b -exec touch -h -d '2001-02-03 04:05:06' {} +
touch -d '2030-01-01' a/model.safetensors

da=$("$MC" build a --layout la 2>/dev/null | tail -n1)
db=$("$MC" build b --layout lb -j 1 2>/dev/null | tail -n1)
[ "$da" = "$db" ] || mc_fail "copies of the same model gave $da and $db"
cmp la/index.json lb/index.json || mc_fail "index.json differs"
# Rebuilding into the same layout gives the same digest.
da2=$("$MC" build a --layout la 2>/dev/null | tail -n1)
[ "$da" = "$da2" ] || mc_fail "rebuild changed the digest"

# Timestamps: SOURCE_DATE_EPOCH and --created agree; both differ from the default epoch 0.
de=$(SOURCE_DATE_EPOCH=1700000000 "$MC" build a --layout le 2>/dev/null | tail -n1)
dc=$("$MC" build a --layout lc --created 2023-11-14T22:13:20Z 2>/dev/null | tail -n1)
[ "$de" = "$dc" ] || mc_fail "SOURCE_DATE_EPOCH and --created disagree"
[ "$de" != "$da" ] || mc_fail "--created had no effect"
skopeo inspect oci:lc:latest | mc_contains '"Created": "2023-11-14T22:13:20Z"' || mc_fail "config created time"

# One changed byte changes the digest.
mc_flip_byte b/model.safetensors 100
db2=$("$MC" build b --layout lb2 2>/dev/null | tail -n1)
[ "$db2" != "$da" ] || mc_fail "changed content, same digest"
echo "PASS build_reproducible"
