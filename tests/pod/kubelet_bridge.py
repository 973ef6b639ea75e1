#!/usr/bin/env python3
"""Turns a Pod (YAML/JSON, as `modelcar inject` or the webhook admits it; or the pod template of a
Deployment/DaemonSet) into the Pod that `podman kube play` runs the way kubelet would run the
original. Each change bridges a difference between podman 4.3 and kubelet, or keeps the test on
this machine's loopback:

  - command/args get kubelet's expansion (k8s.io/kubernetes third_party/forked/golang/expansion):
    `$$` -> `$`, `$(VAR)` -> the container's env value VAR (left as is when VAR is not defined).
    podman plays them verbatim, so KServe's `ln -sf /proc/$$$$/root/models` would link a wrong
    PID ($$$$ is the shell's PID twice) instead of the shell's own;
  - an env var from the downward API's spec.nodeName gets this machine's host name (kubelet's
    default node name): podman 4.3 takes only metadata.name, metadata.uid, labels and annotations
    from a fieldRef and refuses to play a pod with any other;
  - emptyDir volumes become hostPath directories under --volume-dir, created with mode 0777 as
    kubelet creates emptyDir (podman's emptyDir is a root-owned 0755 volume, which a container
    running as uid 1010 cannot write the /mnt/models link into). A new directory per play, like
    a new pod's emptyDir;
  - a secret volume marked optional becomes an empty hostPath directory, which is what kubelet
    mounts when the Secret does not exist (podman 4.3 refuses to play it; no test uses Secrets);
  - configMap volumes (their ConfigMaps given with --configmap FILE) become hostPath files
    written from the ConfigMap's data, one per key, and a mount with subPath mounts that key's
    file: podman 4.3 mounts a configMap subPath as a directory, where kubelet mounts the file;
  - restartPolicy OnFailure when it is Always (or unset): podman 4.3 gives init containers the
    pod's restart policy, so under Always it restarts a finished init container forever, where
    kubelet runs each init container once to completion. A failing container is still restarted;
    one that exits 0 is not (no container of these pods exits 0 while it is tested);
  - hostNetwork: true and every `ports` list dropped (host networking, never a bridge network);
    "0.0.0.0" in command/args becomes "127.0.0.1", and --replace=OLD::NEW swaps whole words (a
    free port for --port=8080: every pod on host networking shares the machine's ports);
  - --host-path=OLD::NEW points hostPath volumes at OLD to NEW on this machine (the containers
    still mount them where the pod says), so a test never touches e.g. /var/lib/modelcar;
  - metadata.name set to --name (KServe's pods only have generateName);
  - metadata.annotations dropped: podman 4.3 refuses annotation values longer than 63 characters
    (a limit Kubernetes sets for label values only), and the storage-URI annotation is longer.
    Containers never see pod annotations (no downward API here), so nothing at run time changes.
Everything else (images, pull policies, securityContext, shareProcessNamespace, init containers,
resources, configMap volumes) is passed through unchanged.
"""
import argparse
import os
import socket
import sys

import yaml


def expand(s, env):
    """kubelet's expansion of one command/args string with the container's env mapping."""
    out, i, n = [], 0, len(s)
    while i < n:
        c = s[i]
        if c != "$" or i + 1 >= n:
            out.append(c)
            i += 1
            continue
        nxt = s[i + 1]
        if nxt == "$":  # escaped: $$ -> $
            out.append("$")
            i += 2
        elif nxt == "(":
            end = s.find(")", i + 2)
            if end < 0:  # unterminated: kept as written
                out.append(s[i:])
                break
            name = s[i + 2:end]
            out.append(env[name] if name in env else s[i:end + 1])
            i = end + 1
        else:  # a lone $ is kept
            out.append("$")
            i += 1
    return "".join(out)


def bridge_container(c, replace):
    env = {}
    for e in c.get("env") or []:
        field = ((e.get("valueFrom") or {}).get("fieldRef") or {}).get("fieldPath")
        if field == "spec.nodeName":
            del e["valueFrom"]
            e["value"] = socket.gethostname()
        if "value" in e:
            env[e["name"]] = expand(str(e["value"]), env)  # earlier vars are visible, as in kubelet
    for key in ("command", "args"):
        if key in c:
            words = [expand(w, env).replace("0.0.0.0", "127.0.0.1") for w in c[key]]
            c[key] = [replace.get(w, w) for w in words]
    c.pop("ports", None)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("manifest")
    p.add_argument("--name", required=True)
    p.add_argument("--volume-dir", required=True)
    p.add_argument("--replace", action="append", default=[], metavar="OLD::NEW")
    p.add_argument("--host-path", action="append", default=[], metavar="OLD::NEW")
    p.add_argument("--configmap", action="append", default=[], metavar="FILE")
    args = p.parse_args()
    with open(args.manifest) as f:
        obj = yaml.safe_load(f)
    if not isinstance(obj, dict):
        sys.exit(f"{args.manifest}: not a manifest")
    if obj.get("kind") in ("Deployment", "DaemonSet"):
        tmpl = obj["spec"]["template"]
        obj = {"apiVersion": "v1", "kind": "Pod", "metadata": tmpl.get("metadata") or {},
               "spec": tmpl["spec"]}
    if obj.get("kind", "Pod") != "Pod":
        sys.exit(f"{args.manifest}: kind {obj.get('kind')} is not a Pod, Deployment or DaemonSet")
    md = obj.setdefault("metadata", {})
    md.pop("generateName", None)
    md.pop("annotations", None)
    md["name"] = args.name
    spec = obj["spec"]
    spec["hostNetwork"] = True
    if spec.get("restartPolicy", "Always") == "Always":
        spec["restartPolicy"] = "OnFailure"
    replace = dict(r.split("::", 1) for r in args.replace)
    for key in ("initContainers", "containers"):
        for c in spec.get(key) or []:
            bridge_container(c, replace)
    host_paths = dict(h.split("::", 1) for h in args.host_path)
    for v in spec.get("volumes") or []:
        if "emptyDir" in v:
            path = os.path.join(args.volume_dir, v["name"])
            os.makedirs(path)
            os.chmod(path, 0o777)
            del v["emptyDir"]
            v["hostPath"] = {"path": path, "type": "Directory"}
        elif "secret" in v and v["secret"].get("optional"):
            path = os.path.join(args.volume_dir, v["name"])
            os.makedirs(path)
            del v["secret"]
            v["hostPath"] = {"path": path, "type": "Directory"}
        elif "hostPath" in v and v["hostPath"]["path"] in host_paths:
            v["hostPath"]["path"] = host_paths[v["hostPath"]["path"]]
    configmaps = {}
    for path in args.configmap:
        with open(path) as f:
            cm = yaml.safe_load(f)
        configmaps[cm["metadata"]["name"]] = cm.get("data") or {}
    materialize_configmaps(spec, configmaps, args.volume_dir)
    yaml.safe_dump(obj, sys.stdout, sort_keys=False)


def materialize_configmaps(spec, configmaps, volume_dir):
    """configMap volumes -> hostPath (a directory of key files; a subPath mount -> that file)."""
    files = {}  # volume name -> directory of its keys
    kept = []
    for v in spec.get("volumes") or []:
        if "configMap" not in v:
            kept.append(v)
            continue
        name = v["configMap"]["name"]
        if name not in configmaps:
            sys.exit(f"configMap {name}: not given with --configmap")
        d = os.path.join(volume_dir, "configmap-" + v["name"])
        os.makedirs(d)
        for key, value in configmaps[name].items():
            with open(os.path.join(d, key), "w") as f:
                f.write(value)
        files[v["name"]] = d
        kept.append({"name": v["name"], "hostPath": {"path": d, "type": "Directory"}})
    for key in ("initContainers", "containers"):
        for c in spec.get(key) or []:
            for m in c.get("volumeMounts") or []:
                if m["name"] in files and m.get("subPath"):
                    sub = m.pop("subPath")
                    vol = f'{m["name"]}-{len(kept)}'
                    kept.append({"name": vol, "hostPath": {
                        "path": os.path.join(files[m["name"]], sub), "type": "File"}})
                    m["name"] = vol
    spec["volumes"] = kept


if __name__ == "__main__":
    main()
