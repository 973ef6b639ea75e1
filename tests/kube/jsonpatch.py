#!/usr/bin/python3
"""Applies an AdmissionReview response's JSON Patch (RFC 6902) to the request's object.

Usage: jsonpatch.py REQUEST.json RESPONSE.json > patched-object.json
Checks the response envelope (apiVersion, kind, uid echo, allowed, patchType) on the way. Written
for the tests from RFC 6902 (add, remove, replace; the ops the webhook emits), independent of the
C++ code under test.
"""
import base64
import json
import sys


def unescape(token):
    return token.replace("~1", "/").replace("~0", "~")


def walk(doc, pointer):
    parts = [unescape(p) for p in pointer.split("/")[1:]]
    parent = doc
    for p in parts[:-1]:
        parent = parent[int(p)] if isinstance(parent, list) else parent[p]
    return parent, parts[-1]


def apply(doc, ops):
    for op in ops:
        parent, key = walk(doc, op["path"])
        kind = op["op"]
        if isinstance(parent, list):
            idx = len(parent) if key == "-" else int(key)
            if kind == "add":
                assert idx <= len(parent), op
                parent.insert(idx, op["value"])
            elif kind == "remove":
                del parent[idx]
            elif kind == "replace":
                parent[idx] = op["value"]
            else:
                raise SystemExit("unsupported op %s" % kind)
        else:
            if kind == "add":
                parent[key] = op["value"]
            elif kind == "remove":
                del parent[key]
            elif kind == "replace":
                assert key in parent, op
                parent[key] = op["value"]
            else:
                raise SystemExit("unsupported op %s" % kind)
    return doc


def main():
    req = json.load(open(sys.argv[1]))
    resp = json.load(open(sys.argv[2]))
    assert resp["apiVersion"] == "admission.k8s.io/v1", resp
    assert resp["kind"] == "AdmissionReview", resp
    r = resp["response"]
    assert r["uid"] == req["request"]["uid"], (r["uid"], req["request"]["uid"])
    assert r["allowed"] is True, r
    assert r["patchType"] == "JSONPatch", r
    ops = json.loads(base64.b64decode(r["patch"]))
    json.dump(apply(req["request"]["object"], ops), sys.stdout, indent=1)


if __name__ == "__main__":
    main()
