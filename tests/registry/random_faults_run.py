#!/usr/bin/python3
"""Faults at scale: many pulls and pushes through fault_proxy.py in random mode (random_faults.py),
driven by random_faults_test.sh, which starts the real registry, pushes the reference images to it
directly and starts the proxy.

Operations, chosen by a seeded generator: pull into a new OCI layout (by digest; sometimes as
parallel ranged parts), pull into a node store (by digest and by tag; what mount, sidecar and
`serve oci://` use), mount, push of a layout, copy between repositories, build --push. Each
operation runs against a fresh destination. Then:
  - exit 0: the result is byte-exact and verified (the layout's blobs equal the reference's, the
    store passes `store verify` and its files equal the model's, the registry serves the pushed
    tag as the expected digest with every blob hashing to its digest);
  - any other exit: nothing is visible (no layout, no tree, no tag naming other bytes), and the
    same command is run again, through the same faults, until it succeeds (at most 8 runs);
    runs after a failure report the bytes they resumed.
Prints a summary (operations, faulted ones, faults injected by kind, failures, resumed bytes) and
appends it as one JSON line to $RESULTS when set.

usage: random_faults_run.py OPS SEED    env: MODELCAR_BIN REGISTRY PROXY WORK MODEL REF_DIGEST
"""
import hashlib
import json
import os
import pathlib
import random
import re
import shutil
import subprocess
import sys
import time
import urllib.request

MC = os.environ["MODELCAR_BIN"]
REGISTRY, PROXY = os.environ["REGISTRY"], os.environ["PROXY"]
WORK, MODEL = pathlib.Path(os.environ["WORK"]), pathlib.Path(os.environ["MODEL"])
REF = WORK / "ref"
DIGEST = os.environ["REF_DIGEST"]
OPS, SEED = int(sys.argv[1]), int(sys.argv[2])
NET = ["--retries", "5", "--stall-timeout", "1"]
rng = random.Random(SEED)
stats = {"operations": 0, "runs": 0, "faulted_runs": 0, "exit0_verified": 0, "failures": 0,
         "failures_clean": 0, "resumed_runs": 0, "resumed_bytes": 0, "by_op": {},
         "failure_reasons": {}}


def fail(msg):
    print("FAIL: " + msg, file=sys.stderr)
    sys.exit(1)


def faults():
    with urllib.request.urlopen(f"http://{PROXY}/_faults") as r:
        return json.loads(r.read())


def sha256(data):
    return "sha256:" + hashlib.sha256(data).hexdigest()


def http_get(url, accept=None):
    req = urllib.request.Request(url)
    if accept:
        req.add_header("Accept", accept)
    try:
        with urllib.request.urlopen(req) as r:
            return r.read()
    except urllib.error.HTTPError:
        return None


manifest = json.loads((REF / "blobs/sha256" / DIGEST.split(":")[1]).read_bytes())
BLOBS = [d["digest"] for d in [manifest["config"]] + manifest["layers"]]
MODEL_FILES = [p.relative_to(MODEL) for p in MODEL.rglob("*") if p.is_file()]


def check_layout(out):
    index = json.loads((out / "index.json").read_text())
    if index["manifests"][0]["digest"] != DIGEST:
        return "index names " + index["manifests"][0]["digest"]
    for d in [DIGEST] + BLOBS:
        h = d.split(":")[1]
        if (out / "blobs/sha256" / h).read_bytes() != (REF / "blobs/sha256" / h).read_bytes():
            return "blob " + d + " differs"
    return None


def check_store(store):
    p = subprocess.run([MC, "store", "verify", "--store", str(store)], capture_output=True,
                       text=True)
    if p.returncode != 0:
        return "store verify: " + p.stdout + p.stderr
    tree = store / "trees/sha256" / DIGEST.split(":")[1] / "rootfs/models"
    for f in MODEL_FILES:
        if (tree / f).read_bytes() != (MODEL / f).read_bytes():
            return f"{f} differs"
    return None


def check_registry(repo, tag, digest):
    body = http_get(f"http://{REGISTRY}/v2/{repo}/manifests/{tag}",
                    "application/vnd.oci.image.manifest.v1+json")
    if body is None or sha256(body) != digest:
        return f"{repo}:{tag} is not {digest}"
    m = json.loads(body)
    for d in [m["config"]] + m["layers"]:
        blob = http_get(f"http://{REGISTRY}/v2/{repo}/blobs/{d['digest']}")
        if blob is None or sha256(blob) != d["digest"]:
            return f"blob {d['digest']} of {repo} is missing or damaged"
    return None


def tag_state(repo, tag, digest):
    """None when the tag is absent or names `digest` (a failed push must not leave other bytes)."""
    body = http_get(f"http://{REGISTRY}/v2/{repo}/manifests/{tag}",
                    "application/vnd.oci.image.manifest.v1+json")
    if body is not None and sha256(body) != digest:
        return f"a failed push left {repo}:{tag} naming {sha256(body)}"
    return None


BUILT = {}  # digest of `build --push` of MODEL (the same bytes as `build --layout`)


def op_pull_layout(i):
    out = WORK / f"lay{i}"
    extra = ["--part-size-mib", "1", "--parallel-parts", "3"] if rng.random() < 0.5 else []
    cmd = ["pull", f"{PROXY}/rf/m@{DIGEST}", "--layout", f"{out}:v1", "--progress", "none",
           "-j", str(rng.choice([1, 2, 4]))] + extra
    ok = lambda: check_layout(out)
    visible = lambda: "a failed pull left a layout" if out.exists() else None
    return cmd, ok, visible, lambda: (shutil.rmtree(out, ignore_errors=True),
                                      shutil.rmtree(WORK / f".lay{i}.modelcar-pull",
                                                    ignore_errors=True))


def op_pull_store(i, by_tag=False, mount=False):
    store = WORK / f"store{i}"
    ref = f"{PROXY}/rf/m:v1" if by_tag else f"{PROXY}/rf/m@{DIGEST}"
    link = WORK / f"mnt{i}" / "models"
    cmd = (["mount", ref, str(link), "--store", str(store), "-q"] if mount
           else ["pull", ref, "--store", str(store)])

    def ok():
        err = check_store(store)
        if err is None and mount and (link / MODEL_FILES[0]).read_bytes() != (
                MODEL / MODEL_FILES[0]).read_bytes():
            err = "the mount link does not show the model"
        return err

    def visible():
        trees = list((store / "trees/sha256").glob("*")) if store.exists() else []
        if trees:
            return f"a failed pull left trees {trees}"
        if mount and (link.exists() or link.is_symlink()):
            return "a failed mount left a link"
        if store.exists():
            v = subprocess.run([MC, "store", "verify", "--store", str(store)],
                               capture_output=True, text=True)
            if v.returncode != 0:
                return "store verify after a failed pull: " + v.stdout + v.stderr
        return None

    return cmd, ok, visible, lambda: (shutil.rmtree(store, ignore_errors=True),
                                      shutil.rmtree(link.parent, ignore_errors=True))


def op_push(i):
    repo = f"rf/push{i}"
    cmd = ["push", "--layout", f"{REF}:v1", f"{PROXY}/{repo}:v1", "--progress", "none",
           "-j", str(rng.choice([1, 3]))]
    return cmd, lambda: check_registry(repo, "v1", DIGEST), lambda: tag_state(repo, "v1", DIGEST), \
        lambda: None


def op_copy(i):
    repo = f"rf/copy{i}"
    cmd = ["copy", f"{PROXY}/rf/m@{DIGEST}", f"{PROXY}/{repo}:v1", "--progress", "none"]
    return cmd, lambda: check_registry(repo, "v1", DIGEST), lambda: tag_state(repo, "v1", DIGEST), \
        lambda: None


def op_build_push(i):
    repo = f"rf/build{i}"
    cmd = ["build", str(MODEL), "--push", f"{PROXY}/{repo}:v1"]
    return cmd, lambda: check_registry(repo, "v1", BUILT["digest"]), \
        lambda: tag_state(repo, "v1", BUILT["digest"]), lambda: None


OPS_TABLE = [("pull-layout", op_pull_layout, 3), ("pull-store", op_pull_store, 3),
             ("pull-store-tag", lambda i: op_pull_store(i, by_tag=True), 1),
             ("mount", lambda i: op_pull_store(i, mount=True), 1), ("push", op_push, 2),
             ("copy", op_copy, 1), ("build-push", op_build_push, 1)]


def run_once(cmd):
    before = faults()
    p = subprocess.run([MC] + cmd + NET, capture_output=True, timeout=600)
    after = faults()
    # Messages may quote what a registry sent, but never raw bytes that are not UTF-8.
    for name in ("stdout", "stderr"):
        raw = getattr(p, name)
        try:
            setattr(p, name, raw.decode())
        except UnicodeDecodeError as e:
            line = raw[raw.rfind(b"\n", 0, e.start) + 1:].split(b"\n")[0]
            line = line.decode(errors="backslashreplace")
            fail(f"{' '.join(cmd)} printed bytes that are not UTF-8 on {name}: {line[:500]}")
    stats["runs"] += 1
    if sum(after.values()) > sum(before.values()):
        stats["faulted_runs"] += 1
    m = re.search(r"resumed (\d+) bytes", p.stderr)
    return p, (int(m[1]) if m else 0)


BUILT["digest"] = json.loads((REF / "index.json").read_text())["manifests"][0]["digest"]
start = time.time()
names = [n for n, _, w in OPS_TABLE for _ in range(w)]
for i in range(OPS):
    name = rng.choice(names)
    make = dict((n, f) for n, f, _ in OPS_TABLE)[name]
    cmd, ok, visible, cleanup = make(i)
    stats["operations"] += 1
    stats["by_op"][name] = stats["by_op"].get(name, 0) + 1
    for attempt in range(8):
        p, resumed = run_once(cmd)
        if attempt > 0 and resumed:
            stats["resumed_runs"] += 1
            stats["resumed_bytes"] += resumed
        if p.returncode == 0:
            err = ok()
            if err:
                fail(f"{name} #{i} exited 0 but the result is wrong: {err}\n{' '.join(cmd)}\n"
                     + p.stderr[-3000:])
            stats["exit0_verified"] += 1
            break
        if p.returncode < 0:
            fail(f"{name} #{i} died by signal {-p.returncode}:\n{p.stderr[-3000:]}")
        stats["failures"] += 1
        reason = ([l for l in p.stderr.splitlines() if "error:" in l] or ["?"])[-1]
        reason = re.sub(r"sha256:[0-9a-f]{64}|[0-9]+|127\.0\.0\.1:[0-9]+|/v2/\S+", "#",
                        reason.split("error:", 1)[-1])[:100]
        stats["failure_reasons"][reason] = stats["failure_reasons"].get(reason, 0) + 1
        err = visible()
        if err:
            fail(f"{name} #{i}: {err}\n{p.stderr[-2000:]}")
        stats["failures_clean"] += 1
    else:
        fail(f"{name} #{i} did not succeed in 8 runs:\n{' '.join(cmd)}\n{p.stderr[-3000:]}")
    cleanup()

stats["faults"] = faults()
stats["faults_total"] = sum(stats["faults"].values())
stats["seconds"] = round(time.time() - start)
stats["seed"] = SEED
print(json.dumps(stats, sort_keys=True))
if os.environ.get("RESULTS"):
    with open(os.environ["RESULTS"], "a") as f:
        f.write(json.dumps(stats, sort_keys=True) + "\n")
print("PASS")
