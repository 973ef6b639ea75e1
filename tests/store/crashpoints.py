#!/usr/bin/python3
"""kill -9 at every crash point (MODELCAR_CRASHPOINT, base/crashpoint.h) of build, push, pull,
store commit, refs, mount, gc and verify; driven by crashpoints.sh (which starts the real registry
and fault_proxy.py in pass-through mode, logging every request with its body bytes).

After each kill: nothing half-done is visible (no layout, no tag, no tree that is not whole),
`store verify` passes, and the next run succeeds with a byte-exact result. The proxy log shows
that no finished byte is fetched again: a blob verified (or a layer unpacked) before the kill is
not requested again, and an interrupted one is resumed exactly where its bytes on disk end.
Every CrashPoint("...") in src/ must be exercised here (the test fails on a point it does not
know).

env: MODELCAR_BIN, MODELCAR_SRC, REGISTRY (direct), PROXY (logging pass-through), PROXY_LOG, WORK
"""
import hashlib
import json
import os
import pathlib
import re
import shutil
import subprocess
import sys
import time
import urllib.request

MC = os.environ["MODELCAR_BIN"]
SRC = pathlib.Path(os.environ["MODELCAR_SRC"])
REGISTRY, PROXY = os.environ["REGISTRY"], os.environ["PROXY"]
LOG = pathlib.Path(os.environ["PROXY_LOG"])
WORK = pathlib.Path(os.environ["WORK"])
exercised = set()
stats = {"kills": 0, "refetched_finished_bytes": 0, "resumed_bytes": 0, "inflight_lost": 0}


def fail(msg):
    print("FAIL: " + msg, file=sys.stderr)
    sys.exit(1)


def run(args, crash=None, check=True):
    env = dict(os.environ)
    env.pop("MODELCAR_CRASHPOINT", None)
    if crash:
        env["MODELCAR_CRASHPOINT"] = crash
    p = subprocess.run([MC] + args, env=env, capture_output=True, text=True, timeout=300)
    if crash:
        name = crash.split("@")[0]
        if p.returncode != -9 or f"crash point {name} reached" not in p.stderr:
            fail(f"{crash}: {' '.join(args)} exited {p.returncode}, not killed at the point:\n"
                 + p.stderr[-2000:])
        exercised.add(name)
        stats["kills"] += 1
    elif check and p.returncode != 0:
        fail(f"{' '.join(args)} failed ({p.returncode}):\n{p.stderr[-3000:]}")
    return p


def log_mark():
    """The end of the proxy log once the requests of a killed run are logged (quiet for 0.3 s)."""
    size = -1
    while LOG.stat().st_size != size:
        size = LOG.stat().st_size
        time.sleep(0.3)
    return size


def requests_since(mark):
    """(method, path, range_start, status, bytes) of the proxy log lines since `mark`."""
    out = []
    with LOG.open() as f:
        f.seek(mark)
        for line in f:
            m = re.match(r"(\w+) (\S+)(?: Range: bytes=(\d+)-\S*)?.* -> (\d+) (\d+)", line)
            if m:
                out.append((m[1], m[2], int(m[3] or 0), int(m[4]), int(m[5])))
    return out


def blob_gets(reqs, hexd):
    return [r for r in reqs if r[0] == "GET" and r[1].endswith("/blobs/sha256:" + hexd)]


def files_equal(a, b, what):
    r = subprocess.run(["diff", "-r", str(a), str(b)], capture_output=True, text=True)
    if r.returncode != 0:
        fail(f"{what}: {a} and {b} differ:\n{r.stdout[:2000]}")


def store_verify(store, what):
    p = run(["store", "verify", "--store", str(store)], check=False)
    if p.returncode != 0:
        fail(f"{what}: store verify failed after the kill:\n{p.stdout}{p.stderr}")


def registry_has_blob(repo, hexd):
    req = urllib.request.Request(f"http://{REGISTRY}/v2/{repo}/blobs/sha256:{hexd}", method="HEAD")
    try:
        urllib.request.urlopen(req)
        return True
    except urllib.error.HTTPError:
        return False


def registry_has_manifest(repo, ref):
    req = urllib.request.Request(f"http://{REGISTRY}/v2/{repo}/manifests/{ref}", method="HEAD")
    req.add_header("Accept", "application/vnd.oci.image.manifest.v1+json")
    try:
        urllib.request.urlopen(req)
        return True
    except urllib.error.HTTPError:
        return False


# ---- the image: busybox base, two weight files (one layer each), small files
model = WORK / "model"
(model / "sub").mkdir(parents=True)
(model / "a.safetensors").write_bytes(os.urandom(3 << 20))
(model / "b.safetensors").write_bytes(os.urandom(2 << 20))
(model / "config.json").write_text('{"model_type": "qwen2"}\n')
(model / "sub" / "note.txt").write_text("hello\n")
REF = WORK / "ref"
digest = run(["build", str(model), "--layout", f"{REF}:v1"]).stdout.strip().split()[-1]
run(["push", "--layout", f"{REF}:v1", f"{REGISTRY}/cp/m:v1", "--progress", "none"])
index = json.loads((REF / "index.json").read_text())
manifest = json.loads((REF / "blobs/sha256" / digest.split(":")[1]).read_bytes())
blobs = {d["digest"].split(":")[1]: d["size"] for d in [manifest["config"]] + manifest["layers"]}
layers = [d["digest"].split(":")[1] for d in manifest["layers"]]
SRC_REF = f"{PROXY}/cp/m@{digest}"
n = 0


def fresh(name):
    global n
    n += 1
    d = WORK / f"{name}-{n}"
    d.mkdir()
    return d


# ---- build into a new layout: invisible until complete; stale temp dirs cleaned by the next run
def build_new(point):
    d = fresh("build")
    out = d / "out"
    run(["build", str(model), "--layout", f"{out}:v1"], crash=point)
    if out.exists():
        fail(f"{point}: a killed build left a visible layout")
    got = run(["build", str(model), "--layout", f"{out}:v1"]).stdout.strip().split()[-1]
    if got != digest:
        fail(f"{point}: rebuilt digest {got} != {digest}")
    files_equal(REF / "blobs", out / "blobs", point)
    left = [p.name for p in d.iterdir() if p.name != "out"]
    if left:
        fail(f"{point}: leftovers after the next build: {left}")


# ---- build a second tag into an existing layout: the old index stays until the new one is whole
def build_existing(point):
    d = fresh("build-ex")
    out = d / "out"
    shutil.copytree(REF, out)
    before = (out / "index.json").read_bytes()
    (model / "sub" / "extra.txt").write_text(point)
    try:
        run(["build", str(model), "--layout", f"{out}:v2"], crash=point)
        if (out / "index.json").read_bytes() != before:  # replaced: then v2 must be whole
            run(["inspect", "--layout", f"{out}:v2"])
        run(["inspect", "--layout", f"{out}:v1"])
        run(["build", str(model), "--layout", f"{out}:v2"])
        run(["inspect", "--layout", f"{out}:v2"])
        run(["inspect", "--layout", f"{out}:v1"])
    finally:
        (model / "sub" / "extra.txt").unlink()


# ---- push: no tag before the manifest; finished blobs are not uploaded again
def push(point):
    repo = f"cp/push{n + 1}"
    fresh("push")
    run(["push", "--layout", f"{REF}:v1", f"{PROXY}/{repo}:v1", "--progress", "none", "-j", "1"],
        crash=point)
    if registry_has_manifest(repo, "v1"):
        fail(f"{point}: the tag exists after a killed push")
    done = [h for h in blobs if registry_has_blob(repo, h)]
    mark = log_mark()
    pinned = run(["push", "--layout", f"{REF}:v1", f"{PROXY}/{repo}:v1", "--progress", "none"])
    if not pinned.stdout.strip().endswith("@" + digest):
        fail(f"{point}: push printed {pinned.stdout}")
    sent = sum(r[4] for r in requests_since(mark) if r[0] in ("PATCH", "PUT") and "/blobs/" in r[1])
    limit = sum(s for h, s in blobs.items() if h not in done)
    if sent > limit:
        fail(f"{point}: the second push uploaded {sent} bytes, only {limit} were missing")
    stats["refetched_finished_bytes"] += max(0, sent - limit)


def check_resume(point, reqs, finished, partial):
    """finished: blobs verified before the kill; partial: hex -> [(start, end, done)]."""
    for h in finished:
        got = blob_gets(reqs, h)
        if got:
            fail(f"{point}: blob {h[:12]} was finished before the kill and fetched again: {got}")
    for h, spans in partial.items():
        for start, end, done in spans:
            if done == 0:
                continue
            # The first request for bytes of this span must start where its bytes on disk end.
            inside = [r for r in blob_gets(reqs, h) if start <= r[2] < start + done]
            if inside:
                fail(f"{point}: blob {h[:12]} bytes [{start}, {start + done}) were on disk and "
                     f"fetched again: {inside}")
            if start + done < end and not [r for r in blob_gets(reqs, h) if r[2] == start + done]:
                fail(f"{point}: blob {h[:12]} not resumed at byte {start + done}: "
                     f"{blob_gets(reqs, h)}")
            stats["resumed_bytes"] += done


# ---- pull into a layout: nothing visible; verified blobs kept; partial ones resumed
def pull_layout(point, extra=()):
    d = fresh("pull")
    out, ingest = d / "out", d / ".out.modelcar-pull"
    args = ["pull", SRC_REF, "--layout", f"{out}:v1", "--progress", "none", "-j", "1"] + list(extra)
    run(args, crash=point)
    if out.exists():
        fail(f"{point}: a killed pull left a visible layout")
    finished = {p.name for p in (ingest / "blobs").glob("*")} if (ingest / "blobs").exists() else set()
    partial = {}
    for p in ingest.glob("*"):
        if p.is_file() and not p.name.endswith(".parts"):
            parts = ingest / (p.name + ".parts")
            if parts.exists():
                partial[p.name] = [tuple(int(x) for x in l.split())
                                   for l in parts.read_text().splitlines()]
            else:
                partial[p.name] = [(0, blobs[p.name], p.stat().st_size)]
    mark = log_mark()
    run(args)
    check_resume(point, requests_since(mark), finished, partial)
    files_equal(REF / "blobs", out / "blobs", point)
    if ingest.exists():
        fail(f"{point}: the ingest directory is left after a successful pull")


# ---- pull into the store: verify passes; finished layers and the config are not fetched again
def pull_store(point, store=None, prepare=None):
    d = fresh("store")
    store = store or d / "store"
    if prepare:
        prepare(store)
    args = ["pull", SRC_REF, "--store", str(store)]
    run(args, crash=point)
    store_verify(store, point)
    hexm = digest.split(":")[1]
    ing = store / "ingest" / hexm
    finished, partial = set(), {}
    if (store / "blobs/sha256" / manifest["config"]["digest"].split(":")[1]).exists():
        finished.add(manifest["config"]["digest"].split(":")[1])
    committed = (store / "trees/sha256" / hexm / "tree.json").exists() and not (
        store / "trees/sha256" / hexm / "corrupt").exists()
    for i, h in enumerate(layers):
        if committed or (ing / "layers" / f"{i}.done").exists():
            finished.add(h)
    mark = log_mark()
    p = run(args)
    reqs = requests_since(mark)
    for m in re.finditer(r"layer (\d+): resuming at byte (\d+)", p.stderr):
        h = layers[int(m[1])]
        partial[h] = [(0, blobs[h], int(m[2]))]
    if point.startswith("ingest.layer-bytes") and not partial:
        fail(f"{point}: the interrupted layer was not resumed:\n{p.stderr}")
    check_resume(point, reqs, finished, partial)
    store_verify(store, point + " (after the next pull)")
    tree = store / "trees/sha256" / hexm / "rootfs/models"
    for f in ("a.safetensors", "b.safetensors", "config.json", "sub/note.txt"):
        if (tree / f).read_bytes() != (model / f).read_bytes():
            fail(f"{point}: {f} differs in the store")
    return store


def pulled_store():
    s = fresh("st") / "store"
    run(["pull", SRC_REF, "--store", str(s)])
    return s


# ---- mount: a kill between lease and link leaves the old link; the next mount works
def mount(point):
    s = pulled_store()
    link = s.parent / "mnt" / "models"
    run(["mount", SRC_REF, str(link), "--store", str(s), "-q"], crash=point)
    if link.exists() or link.is_symlink():
        fail(f"{point}: link created by a killed mount")
    store_verify(s, point)
    run(["store", "gc", "--store", str(s)])  # a stale lease (no link) does not confuse gc
    run(["mount", SRC_REF, str(link), "--store", str(s), "-q"])
    if (link / "a.safetensors").read_bytes() != (model / "a.safetensors").read_bytes():
        fail(f"{point}: mount after the kill")


# ---- gc: an evicted tree disappears whole; the next gc empties the trash; pull works again
def gc(point):
    s = pulled_store()
    run(["store", "gc", "--store", str(s), "--max-size", "0", "--no-watermarks"], crash=point)
    store_verify(s, point)
    run(["store", "ls", "--store", str(s)])
    run(["store", "gc", "--store", str(s), "--max-size", "0", "--no-watermarks"])
    if list((s / "trash").iterdir()) or list((s / "trees/sha256").iterdir()):
        fail(f"{point}: trash or trees left after the next gc")
    run(["pull", SRC_REF, "--store", str(s)])
    store_verify(s, point + " (after pulling again)")


# ---- verify of a corrupt tree: killed before or while marking; the repair pull survives kills
def corrupt(s):
    f = s / "trees/sha256" / digest.split(":")[1] / "rootfs/models/b.safetensors"
    f.chmod(0o644)
    with f.open("r+b") as fh:  # flip a byte (random data holds any given byte 1 time in 256)
        fh.seek(1000)
        b = fh.read(1)
        fh.seek(1000)
        fh.write(bytes([b[0] ^ 0xFF]))


def verify(point):
    s = pulled_store()
    corrupt(s)
    run(["store", "verify", "--store", str(s)], crash=point)
    p = run(["store", "verify", "--store", str(s)], check=False)
    if p.returncode == 0 or "CORRUPT" not in p.stdout:
        fail(f"{point}: verify after the kill did not report the corruption: {p.stdout}")
    run(["pull", SRC_REF, "--store", str(s)])
    store_verify(s, point + " (after the repair pull)")


def repair(point):
    s = pulled_store()
    corrupt(s)
    run(["store", "verify", "--store", str(s)], check=False)
    pull_store(point, store=s)


# ---- every atomic replace (refs, tree.json, .done, blobs, index.json) of a pull, one by one
def sweep(kind, point, limit):
    for i in range(1, limit + 1):
        spec = f"{point}@{i}"
        args = {"store": ["pull", SRC_REF, "--store", str(WORK / "probe")],
                "layout": ["pull", SRC_REF, "--layout", str(WORK / "probe-l"), "--progress",
                           "none"]}[kind]
        shutil.rmtree(WORK / "probe", ignore_errors=True)
        shutil.rmtree(WORK / "probe-l", ignore_errors=True)
        for p in WORK.glob(".probe-l*"):
            shutil.rmtree(p)
        env = dict(os.environ, MODELCAR_CRASHPOINT=spec)
        probe = subprocess.run([MC] + args, env=env, capture_output=True, text=True)
        if probe.returncode == 0:
            return i - 1  # fewer atomic replaces than i
        (pull_store if kind == "store" else pull_layout)(spec)
    return limit


build_new("build.layer-committed@2")
build_new("build.before-finish")
build_new("layout.index-written")
build_existing("build.layer-committed")
build_existing("layout.index-written")
build_existing("file.atomic-replace@1")
push("push.blob-pushed@2")
push("push.before-manifest")
pull_layout("pull.blob-bytes@60")
pull_layout("pull.blob-verified@2")
pull_layout("pull.before-finish")
pull_layout("layout.index-written")
pull_layout("pull.part-bytes@40", ["--part-size-mib", "1", "--parallel-parts", "3"])
pull_layout("pull.part-bytes@150", ["--part-size-mib", "1", "--parallel-parts", "3"])
pull_store("pull.ref-set")
pull_store("ingest.config-stored")
for k in (20, 150, 260):
    pull_store(f"ingest.layer-bytes@{k}")
pull_store("ingest.layer-done@2")
pull_store("ingest.before-commit")
pull_store("store.commit-synced")
pull_store("store.commit-renamed")
mount("mount.leased")
gc("gc.tree-trashed")
gc("gc.refs-removed")
verify("verify.layer-hashed@2")
verify("verify.before-mark")
repair("store.corrupt-trashed")
swept = sweep("store", "file.atomic-replace", 20)
swept_layout = sweep("layout", "file.atomic-replace", 10)

points = set()
for f in list(SRC.glob("src/**/*.cc")):
    if not f.name.endswith("_test.cc"):
        points.update(re.findall(r'CrashPoint\("([a-z.-]+)"\)', f.read_text()))
missing = points - exercised
if missing:
    fail(f"crash points not exercised by this test: {sorted(missing)}")
print(f"crash points: {len(points)} in the code, all exercised; {stats['kills']} kills "
      f"(store pull atomic replaces swept: {swept}, layout pull: {swept_layout}); after each, "
      f"store verify passed, the next run succeeded byte-exact, finished bytes fetched again: "
      f"{stats['refetched_finished_bytes']}, "
      f"bytes resumed from disk: {stats['resumed_bytes']}")
print("PASS")
