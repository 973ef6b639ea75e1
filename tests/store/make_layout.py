#!/usr/bin/python3
"""Writes a minimal OCI image layout whose layers are the given tar files, taken byte for byte.

Usage: make_layout.py LAYOUT_DIR TAG LAYER.tar[:gzip] ...

Used to push hostile or unusual layers (made with Python's tarfile, which writes whatever names
and types it is given) to the real registry, since real builders refuse to produce them.
"""
import gzip
import hashlib
import json
import os
import sys


def put_blob(layout, data):
    digest = hashlib.sha256(data).hexdigest()
    path = os.path.join(layout, "blobs", "sha256", digest)
    with open(path, "wb") as f:
        f.write(data)
    return "sha256:" + digest, len(data)


def main():
    layout, tag, layers = sys.argv[1], sys.argv[2], sys.argv[3:]
    os.makedirs(os.path.join(layout, "blobs", "sha256"), exist_ok=True)
    with open(os.path.join(layout, "oci-layout"), "w") as f:
        json.dump({"imageLayoutVersion": "1.0.0"}, f)
    descs, diff_ids = [], []
    for spec in layers:
        path, _, comp = spec.partition(":")
        raw = open(path, "rb").read()
        diff_ids.append("sha256:" + hashlib.sha256(raw).hexdigest())
        media = "application/vnd.oci.image.layer.v1.tar"
        if comp == "gzip":
            raw = gzip.compress(raw, mtime=0)
            media += "+gzip"
        d, n = put_blob(layout, raw)
        descs.append({"mediaType": media, "digest": d, "size": n})
    config = {"architecture": "amd64", "os": "linux",
              "rootfs": {"type": "layers", "diff_ids": diff_ids}}
    cd, cn = put_blob(layout, json.dumps(config).encode())
    manifest = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                           "digest": cd, "size": cn},
                "layers": descs}
    md, mn = put_blob(layout, json.dumps(manifest).encode())
    index = {"schemaVersion": 2, "manifests": [
        {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": md, "size": mn,
         "annotations": {"org.opencontainers.image.ref.name": tag}}]}
    with open(os.path.join(layout, "index.json"), "w") as f:
        json.dump(index, f)


if __name__ == "__main__":
    main()
