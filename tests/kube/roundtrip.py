#!/usr/bin/python3
"""Round-trips every object of a multi-document YAML file through kubectl's typed objects.

Usage: roundtrip.py FILE.yaml
Objects with a pod template (or Pods) go through `kubectl set image --local` (which decodes into
the typed Go structs and re-encodes: unknown or misspelled fields are dropped); the others through
`kubectl label --local`. Every field of the input must come back with the same value (kubectl may
add empty defaults such as creationTimestamp: null). Exits 1 listing dropped or changed fields.
"""
import json
import subprocess
import sys
import tempfile

import yaml

SENTINEL = "roundtrip.invalid/sentinel:1"


def containers(obj):
    kind = obj.get("kind")
    if kind == "Pod":
        return obj["spec"].get("containers", [])
    if kind in ("Deployment", "DaemonSet", "StatefulSet", "ReplicaSet", "Job"):
        return obj["spec"]["template"]["spec"].get("containers", [])
    return None


def missing(want, got, path=""):
    """Paths in `want` whose value is absent from or different in `got`."""
    out = []
    if isinstance(want, dict):
        if not isinstance(got, dict):
            return [path or "/"]
        for k, v in want.items():
            if k not in got:
                out.append(path + "/" + k)
            else:
                out += missing(v, got[k], path + "/" + k)
    elif isinstance(want, list):
        if not isinstance(got, list) or len(got) != len(want):
            return [path]
        for i, (a, b) in enumerate(zip(want, got)):
            out += missing(a, b, "%s/%d" % (path, i))
    elif want != got:
        out.append("%s (%r != %r)" % (path, want, got))
    return out


def roundtrip(obj):
    cs = containers(obj)
    with tempfile.NamedTemporaryFile("w", suffix=".yaml") as f:
        yaml.safe_dump(obj, f)
        f.flush()
        if cs:
            cmd = ["kubectl", "set", "image", "--local", "-f", f.name,
                   "%s=%s" % (cs[0]["name"], SENTINEL), "-o", "json"]
        else:
            cmd = ["kubectl", "label", "--local", "-f", f.name, "modelcar.dev/roundtrip=1",
                   "-o", "json"]
        p = subprocess.run(cmd, capture_output=True, text=True)
    if p.returncode != 0:
        return ["kubectl failed: " + p.stderr.strip()]
    got = json.loads(p.stdout)
    if cs:
        got_cs = containers(got)
        if got_cs[0]["image"] != SENTINEL:
            return ["image was not set"]
        got_cs[0]["image"] = cs[0]["image"]
    else:
        got["metadata"]["labels"].pop("modelcar.dev/roundtrip")
        if not got["metadata"]["labels"]:
            del got["metadata"]["labels"]
    return missing(obj, got)


def main():
    bad = 0
    n = 0
    for obj in yaml.safe_load_all(open(sys.argv[1])):
        if not obj:
            continue
        n += 1
        problems = roundtrip(obj)
        name = "%s/%s" % (obj.get("kind"), obj.get("metadata", {}).get("name", obj.get("metadata", {}).get("generateName")))
        if problems:
            bad += 1
            print("FAIL %s: %s" % (name, "; ".join(problems)))
        else:
            print("PASS %s" % name)
    if n == 0:
        print("FAIL no objects")
        sys.exit(1)
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
