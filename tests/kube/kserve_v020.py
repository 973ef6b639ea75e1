"""Stand-in for KServe v0.20.0's storage wiring, for the coexistence tests.

KServe's webhook and controller are Go programs that need an API server and Go modules; neither can
run here, so this module re-states, in Python, the parts that touch model storage, written from
KServe v0.20.0's source (tag v0.20.0 of github.com/kserve/kserve):

  pod_webhook()     pkg/webhook/admission/pod/mutator.go: the storage steps of the pod mutator,
                    InjectStorageInitializer then (when OCI support is on) InjectModelcar, from
                    storage_initializer_injector.go and pkg/utils/storage.go
                    (ConfigureModelcarToContainer, ConfigureOciNativeToContainer, ParseOciScheme,
                    CreateInitContainerWithConfig). An error answers 500, which the API server
                    turns into a rejection (failurePolicy Fail): KServeError here.
  predictor_pod()   what the controller puts into the predictor's pod template for
                    spec.predictor.model.storageUri: the runtime container as kserve-container, the
                    labels, and the annotation internal.serving.kserve.io/storage-initializer-sourceuri
                    after ValidateStorageURI's scheme check (pkg/controller/v1beta1/inferenceservice).

Not modelled (they add nothing in these tests): ClusterStorageContainer lookups (none matches
oci://), service-account credentials (the default service account has no secrets), the local model
cache, Istio, the agent/logger/batcher and metrics steps.
"""
import copy

MODEL_PATH = "/mnt/models"
ANNOTATION = "internal.serving.kserve.io/storage-initializer-sourceuri"
ISVC_LABEL = "serving.kserve.io/inferenceservice"

# config/configmap/inferenceservice.yaml, data.storageInitializer, at v0.20.0.
SHIPPED_CONFIG = {
    "image": "kserve/storage-initializer:latest",
    "memoryRequest": "100Mi",
    "memoryLimit": "1Gi",
    "cpuRequest": "100m",
    "cpuLimit": "1",
    "caBundleConfigMapName": "",
    "caBundleVolumeMountPath": "/etc/ssl/custom-certs",
    "enableModelcar": True,
    "cpuModelcar": "10m",
    "memoryModelcar": "15Mi",
    "uidModelcar": 1010,
}

# pkg/controller/v1beta1/inferenceservice/utils/utils.go SupportedStorageURIPrefixList, v0.20.0.
CONTROLLER_PREFIXES = ["gs://", "s3://", "pvc://", "file://", "https://", "http://", "hdfs://",
                       "webhdfs://", "oci://", "oci+native://", "hf://"]

# config/webhook/manifests.yaml at v0.20.0: the configuration that holds the pod mutator.
CONFIGURATION_NAME = "inferenceservice.serving.kserve.io"
WEBHOOK_NAME = "inferenceservice.kserve-webhook-server.pod-mutator"
REINVOCATION = "IfNeeded"


class KServeError(Exception):
    pass


def oci_mode(cfg):
    """types.ResolveOciModelMode."""
    if cfg.get("ociModelMode"):
        return cfg["ociModelMode"]
    if cfg.get("enableModelcar") or cfg.get("enableOciModelSupport"):
        return "modelcar"
    return ""


def parse_oci_scheme(uri):
    """utils.ParseOciScheme: (mode, normalized oci:// uri, is_oci)."""
    if uri.startswith("oci+"):
        rest = uri[4:]
        sep = rest.find("://")
        if sep > 0:
            return rest[:sep], "oci://" + rest[sep + 3:], True
    if uri.startswith("oci://"):
        return "", uri, True
    return "", uri, False


def shell_quote(s):
    if s == "":
        return "''"
    if all(c.isascii() and (c.isalnum() or c in "/._-") for c in s):
        return s
    return "'" + s.replace("'", "'\\''") + "'"


def parent_dir(path):
    """utils.GetParentDirectory."""
    head = path.rstrip("/").rsplit("/", 1)[0]
    return head if head not in ("", ".") else "/"


def volume_name_from_path(path):
    return path.strip("/").replace("/", "-")


def find(spec, name, key="containers"):
    for c in spec.get(key) or []:
        if c.get("name") == name:
            return c
    return None


def add_or_replace_env(c, name, value):
    for e in c.setdefault("env", []):
        if e.get("name") == name:
            e["value"] = value  # KServe keeps a valueFrom next to it
            return
    c["env"].append({"name": name, "value": value})


def add_volume_mount(c, name, path, read_only=False, sub_path=""):
    """utils.AddVolumeMountIfNotPresent(WithSubPath): by name."""
    mounts = c.setdefault("volumeMounts", [])
    if any(m.get("name") == name for m in mounts):
        return False
    m = {"name": name, "mountPath": path}
    if sub_path:
        m["subPath"] = sub_path
    if read_only:
        m["readOnly"] = True
    mounts.append(m)
    return True


def add_empty_dir(spec, name):
    vols = spec.setdefault("volumes", [])
    if not any(v.get("name") == name for v in vols):
        vols.append({"name": name, "emptyDir": {}})


def resources(cpu, mem):
    return {"limits": {"cpu": cpu, "memory": mem}, "requests": {"cpu": cpu, "memory": mem}}


def modelcar_command(path):
    link = "ln -sf /proc/$$$$/root/models %s && sleep infinity" % shell_quote(path)
    if path == MODEL_PATH:
        return link
    return "mkdir -p %s && %s" % (shell_quote(parent_dir(path)), link)


def configure_modelcar(uri, spec, target_name, path, cfg, index):
    target = find(spec, target_name)
    if target is None:
        raise KServeError("no container found with name %s" % target_name)
    sfx = "" if index == 0 else "-%d" % index
    sidecar, init, volume = "modelcar" + sfx, "modelcar-init" + sfx, "kserve-provision-location" + sfx
    add_or_replace_env(target, "MODEL_INIT_MODE", "async")
    add_empty_dir(spec, volume)
    add_volume_mount(target, volume, parent_dir(path))
    uid = cfg.get("uidModelcar")
    if uid is not None:
        target.setdefault("securityContext", {})["runAsUser"] = uid
    if find(spec, sidecar) is None:
        image = uri[len("oci://"):] if uri.startswith("oci://") else uri
        cpu = cfg.get("cpuModelcar") or "10m"
        mem = cfg.get("memoryModelcar") or "15Mi"
        c = {"name": sidecar, "image": image,
             "volumeMounts": [{"name": volume, "mountPath": parent_dir(path)}],
             "args": ["sh", "-c", modelcar_command(path)],
             "resources": resources(cpu, mem),
             "terminationMessagePolicy": "FallbackToLogsOnError"}
        if uid is not None:
            c["securityContext"] = {"runAsUser": uid}
        spec.setdefault("containers", []).append(c)
        script = ("echo 'Pre-fetching modelcar " + image + ": ' && [ -d /models ] && "
                  "[ \"$$(ls -A /models)\" ] && echo 'OK ... Prefetched and valid (/models exists)' "
                  "|| (echo 'NOK ... Prefetched but modelcar is invalid (/models does not exist or "
                  "is empty)' && exit 1)")
        spec.setdefault("initContainers", []).append(
            {"name": init, "image": image, "args": ["sh", "-c", script],
             "resources": resources(cpu, mem),
             "terminationMessagePolicy": "FallbackToLogsOnError"})
    spec["shareProcessNamespace"] = True


def configure_native(uri, spec, target_name, path):
    target = find(spec, target_name)
    if target is None:
        raise KServeError("no container found with name %s" % target_name)
    image = uri[len("oci://"):]
    name = volume_name_from_path(path) or "oci-model"
    for m in target.get("volumeMounts") or []:
        if m.get("mountPath") == path and m.get("name") != name:
            raise KServeError("mountPath %r already used by volume %r" % (path, m.get("name")))
    vols = spec.setdefault("volumes", [])
    if not any(v.get("name") == name for v in vols):
        vols.append({"name": name, "image": {"reference": image, "pullPolicy": "IfNotPresent"}})
    add_volume_mount(target, name, path, read_only=True, sub_path="models")


def inject_modelcar(pod, cfg):
    src = pod["metadata"].get("annotations", {}).get(ANNOTATION)
    if src is None:
        return
    mode, uri, is_oci = parse_oci_scheme(src)
    if not is_oci:
        return
    mode = mode or oci_mode(cfg)
    spec = pod["spec"]

    def configure(name):
        if mode == "native":
            configure_native(uri, spec, name, MODEL_PATH)
        else:  # "modelcar", and every other oci+X:// mode at v0.20.0
            configure_modelcar(uri, spec, name, MODEL_PATH, cfg, 0)

    if find(spec, "kserve-container") is not None:
        configure("kserve-container")
    elif find(spec, "worker-container") is not None:
        configure("worker-container")
    else:
        raise KServeError("Invalid configuration: cannot find container: kserve-container")
    if find(spec, "transformer-container") is not None:
        configure("transformer-container")


def inject_storage_initializer(pod, cfg, namespace):
    annotations = pod["metadata"].get("annotations", {})
    src = annotations.get(ANNOTATION)
    if src is None:
        return
    spec = pod["spec"]
    if "serving.kserve.io/agent" in annotations:
        return
    mode, _, is_oci = parse_oci_scheme(src)
    if is_oci and (mode or oci_mode(cfg)):
        return  # the legacy path leaves OCI URIs to InjectModelcar
    if find(spec, "storage-initializer", "initContainers") is not None:
        return
    user = find(spec, "kserve-container") or find(spec, "worker-container")
    if user is None:
        raise KServeError("Invalid configuration: cannot find container")
    read_only = annotations.get("storage.kserve.io/readonly") != "false"
    names = [user["name"]]
    if find(spec, "transformer-container") is not None:
        names.append("transformer-container")
    init = {"name": "storage-initializer",
            "image": cfg.get("image") or "kserve/storage-initializer:latest",
            "args": [src, MODEL_PATH],
            "terminationMessagePolicy": "FallbackToLogsOnError",
            "resources": {"limits": {"cpu": cfg["cpuLimit"], "memory": cfg["memoryLimit"]},
                          "requests": {"cpu": cfg["cpuRequest"], "memory": cfg["memoryRequest"]}}}
    spec.setdefault("initContainers", []).append(init)
    names.append("storage-initializer")
    for name in names:  # utils.AddModelMount: containers first, then init containers (writable)
        c = find(spec, name)
        ro = read_only
        if c is None:
            c, ro = find(spec, name, "initContainers"), False
        if add_volume_mount(c, "kserve-provision-location", MODEL_PATH, read_only=ro):
            add_empty_dir(spec, "kserve-provision-location")
    for e in user.get("env") or []:
        if e.get("name") == "STORAGE_URI" and e.get("value"):
            e["value"] = MODEL_PATH
    init = find(spec, "storage-initializer", "initContainers")
    if cfg.get("caBundleConfigMapName"):
        cm = cfg["caBundleConfigMapName"] if namespace == "kserve" else "global-ca-bundle"
        path = cfg.get("caBundleVolumeMountPath") or "/etc/ssl/custom-certs"
        init.setdefault("env", []).extend([{"name": "CA_BUNDLE_CONFIGMAP_NAME", "value": cm},
                                           {"name": "CA_BUNDLE_VOLUME_MOUNT_POINT", "value": path}])
        spec.setdefault("volumes", []).append({"name": "cabundle-cert", "configMap": {"name": cm}})
        init.setdefault("volumeMounts", []).append(
            {"name": "cabundle-cert", "mountPath": path, "readOnly": True})
    for name, value in (("HF_HUB_ENABLE_HF_TRANSFER", "1"), ("HF_XET_HIGH_PERFORMANCE", "1"),
                        ("HF_XET_NUM_CONCURRENT_RANGE_GETS", "8")):
        if not any(e.get("name") == name for e in init.get("env") or []):
            init.setdefault("env", []).append({"name": name, "value": value})


def pod_webhook(pod, cfg, namespace="models"):
    """The pod mutator's storage steps on a copy of `pod`; raises KServeError."""
    pod = copy.deepcopy(pod)
    inject_storage_initializer(pod, cfg, namespace)
    if oci_mode(cfg):
        inject_modelcar(pod, cfg)
    return pod


def predictor_pod(isvc, runtime_container):
    """The predictor pod the controller creates for a model predictor with storageUri."""
    name = isvc["metadata"]["name"]
    uri = isvc["spec"]["predictor"]["model"]["storageUri"]
    if "://" in uri and not any(uri.startswith(p) for p in CONTROLLER_PREFIXES):
        raise KServeError("StorageURI not supported: storageUri, must be one of: [%s] or match "
                          "https://{}.blob.core.windows.net/{}/{} or be an absolute or relative "
                          "local path. StorageUri [%s] is not supported."
                          % (", ".join(CONTROLLER_PREFIXES), uri))
    container = copy.deepcopy(runtime_container)
    container["name"] = "kserve-container"
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"generateName": name + "-predictor-",
                         "namespace": isvc["metadata"].get("namespace", "default"),
                         "labels": {ISVC_LABEL: name, "component": "predictor"},
                         "annotations": {ANNOTATION: uri}},
            "spec": {"containers": [container]}}
