#!/usr/bin/env bash
# Bad input to `modelcar build`: each case fails with a message naming the file, a non-zero exit,
# and leaves no layout (or no change to an existing one) behind.
source "$MODELCAR_SRC/tests/lib/common.sh"
source "$(dirname "$0")/lib.sh"
mc_tmpdir
cd "$MC_TMP"

# expect_build_fail PATTERN ARGS...: build must fail, stderr must match PATTERN, and no layout
# named "out" (nor a temporary sibling) may exist afterwards.
expect_build_fail() {
  local pattern=$1; shift
  mc_expect_fail "$MC" build "$@" --layout out:v1
  echo "$MC_ERR" | mc_contains -- "$pattern" || mc_fail "message for [$*] lacks '$pattern': $MC_ERR"
  [ ! -e out ] || mc_fail "a layout was left behind after [$*]"
  ! ls -a | mc_contains '^\.out\.tmp-' || mc_fail "a temporary layout was left behind after [$*]"
}

expect_build_fail "missing-dir" missing-dir
mkdir empty-dir; expect_build_fail "holds no files" empty-dir
mkdir -p only-dirs/a/b; expect_build_fail "holds no files" only-dirs

mc_make_model m
ln -s /etc/hostname m/escape
expect_build_fail "escape: symlink points outside the model directory" m
"$MC" build m --layout ok1 --allow-outside-symlinks >/dev/null 2>&1 || mc_fail "--allow-outside-symlinks"
rm m/escape

ln -s ../nowhere m/dangling
expect_build_fail "dangling" m
rm m/dangling

mkfifo m/sub/pipe
expect_build_fail "sub/pipe: is a fifo" m
rm m/sub/pipe

mknod m/null c 1 3
expect_build_fail "null: is a character device" m
rm m/null

touch "m/bad-$(printf '\xff')-name"
expect_build_fail "not valid UTF-8" m
rm m/bad-*

# Symlinks inside the model dir are followed: the image holds the content as a regular file.
ln -s model.safetensors m/alias.safetensors
ln -s sub m/subdir-link
"$MC" build m --layout inside >/dev/null 2>&1 || mc_fail "symlinks inside the model dir"
umoci unpack --image inside:latest bundle >/dev/null
[ -f bundle/rootfs/models/alias.safetensors ] && [ ! -L bundle/rootfs/models/alias.safetensors ] \
  || mc_fail "inside symlink not stored as a file"
cmp bundle/rootfs/models/alias.safetensors m/model.safetensors || mc_fail "symlink content"
cmp bundle/rootfs/models/subdir-link/adapter.safetensors m/sub/adapter.safetensors || mc_fail "dir symlink"
ln -s . m/sub/loop
expect_build_fail "loop" m
rm m/sub/loop m/alias.safetensors m/subdir-link

# An unreadable file (run as nobody: root reads everything).
chmod 755 "$MC_TMP" && mkdir -p nobody && chmod 777 nobody && cp -r m nobody/m && chmod -R a+rX nobody/m
chmod 000 nobody/m/config.json
mc_expect_fail setpriv --reuid=65534 --regid=65534 --clear-groups "$MC" build nobody/m --layout nobody/out
echo "$MC_ERR" | mc_contains "config.json" || mc_fail "unreadable file not named: $MC_ERR"
[ ! -e nobody/out ] || mc_fail "layout left after unreadable file"

# A directory that is not a layout is refused and left as it was.
mkdir notlayout && echo keep > notlayout/file
mc_expect_fail "$MC" build m --layout notlayout:v1
echo "$MC_ERR" | mc_contains "notlayout.*not an OCI image layout" || mc_fail "non-layout message: $MC_ERR"
[ "$(ls notlayout)" = file ] || mc_fail "non-layout dir was modified"

# Bad flags.
mc_expect_fail "$MC" build m --layout out --owner root
echo "$MC_ERR" | mc_contains -- "--owner" || mc_fail "bad --owner message: $MC_ERR"
mc_expect_fail "$MC" build m --layout out --base layout:missing-base
echo "$MC_ERR" | mc_contains "missing-base" || mc_fail "bad --base message: $MC_ERR"
mc_expect_fail "$MC" build m --layout "out:bad tag"
mc_expect_fail "$MC" build m --layout out --models-path relative
[ ! -e out ] || mc_fail "layout left after bad flags"

# Disk full: a 4 MiB tmpfs cannot hold the model; nothing is left there.
mkdir small
if mount -t tmpfs -o size=4m tmpfs small 2>/dev/null; then
  MC_CLEANUP+=("umount '$MC_TMP/small'")
  mc_expect_fail "$MC" build m --layout small/out
  echo "$MC_ERR" | mc_contains "No space left" || mc_fail "disk full message: $MC_ERR"
  [ -z "$(ls -A small)" ] || mc_fail "disk full left files: $(ls -A small)"
else
  echo "SKIP disk-full case: cannot mount tmpfs here"
fi

# Disk full on ext4, where big aligned pieces are written with direct I/O: the same clean error.
mkdir small4 big
truncate -s 16M ext4.img
if mkfs.ext4 -q ext4.img 2>/dev/null && mount -o loop ext4.img small4 2>/dev/null; then
  MC_CLEANUP+=("umount '$MC_TMP/small4'")
  head -c $((24 << 20)) /dev/urandom > big/model.safetensors
  echo '{"model_type":"qwen2"}' > big/config.json
  mc_expect_fail "$MC" build big --layout small4/out --base none
  echo "$MC_ERR" | mc_contains "No space left" || mc_fail "ext4 disk full message: $MC_ERR"
  left=$(ls -A small4 | grep -v '^lost+found$' || true)
  [ -z "$left" ] || mc_fail "ext4 disk full left files: $left"
else
  echo "SKIP ext4 disk-full case: cannot mount a loop device here"
fi

# A failing build into an existing layout leaves its index.json as it was.
"$MC" build m --layout keep:v1 --base none >/dev/null 2>&1
before=$(cat keep/index.json)
mkfifo m/pipe2
mc_expect_fail "$MC" build m --layout keep:v2
[ "$(cat keep/index.json)" = "$before" ] || mc_fail "failed build changed index.json"
! ls keep/blobs/sha256 | mc_contains '^\.tmp' || mc_fail "temporary blobs left"
echo "PASS build_bad_input"
