#!/usr/bin/python3
"""Writes the seed corpora of the fuzz targets (tests/fuzz/corpus/<target>/) from the tests' own
inputs: raw-string literals of the unit tests, the integration tests' fixtures (chat templates,
tokenizer texts, the AdmissionReview, the KServe golden pods), and a small image built by modelcar
itself (index.json, manifest, config, layers). Seeds stay small (< 64 KiB each). Files named
regress-* (inputs of fixed bugs) are kept; everything else is rewritten.

usage: make_seeds.py MODELCAR_BIN [CORPUS_DIR]
"""
import gzip
import hashlib
import io
import json
import pathlib
import re
import shutil
import struct
import subprocess
import sys
import tarfile
import tempfile

SRC = pathlib.Path(__file__).resolve().parents[2]
MC = sys.argv[1]
OUT = pathlib.Path(sys.argv[2]) if len(sys.argv) > 2 else SRC / "tests/fuzz/corpus"
MARK = b"\n--8<--\n"  # fuzz_check.h FuzzInput::Part separator
MAX = 64 << 10
seeds = {}


def add(target, data, sel=None):
    if isinstance(data, str):
        data = data.encode()
    if sel is not None:
        data = bytes([sel]) + data
    if len(data) <= MAX:
        seeds.setdefault(target, set()).add(data)


def raw_strings(path, call=None):
    """The R"(...)" literals of a test file (only the first argument of `call(` when given)."""
    text = (SRC / path).read_text()
    pat = r'R"\((.*?)\)"' if call is None else re.escape(call) + r'\(R"\((.*?)\)"'
    return re.findall(pat, text, re.S)


def c_strings(path, call):
    """The first argument of each `call(` in a test file when it is a (concatenated) C string."""
    out = []
    text = (SRC / path).read_text()
    for args in re.findall(re.escape(call) + r'\(\s*((?:"(?:[^"\\]|\\.)*"\s*)+)', text):
        try:
            out.append("".join(json.loads(p) for p in re.findall(r'"(?:[^"\\]|\\.)*"', args)))
        except ValueError:
            pass
    return out


# --- a tiny model and its image, built by modelcar
tmp = pathlib.Path(tempfile.mkdtemp())
model = tmp / "model"
model.mkdir()
header = json.dumps({"__metadata__": {"format": "pt"},
                     "w": {"dtype": "F32", "shape": [2, 2], "data_offsets": [0, 16]},
                     "b": {"dtype": "BF16", "shape": [3], "data_offsets": [16, 22]}}).encode()
st = struct.pack("<Q", len(header)) + header + bytes(range(22))
(model / "model.safetensors").write_bytes(st)
config = {"architectures": ["Qwen2ForCausalLM"], "model_type": "qwen2", "hidden_size": 64,
          "intermediate_size": 128, "num_hidden_layers": 2, "num_attention_heads": 4,
          "num_key_value_heads": 2, "vocab_size": 300, "max_position_embeddings": 512,
          "rope_theta": 1000000.0, "rms_norm_eps": 1e-6, "tie_word_embeddings": True,
          "torch_dtype": "bfloat16", "eos_token_id": [1, 2]}
(model / "config.json").write_text(json.dumps(config))
gen = {"do_sample": True, "temperature": 0.7, "top_p": 0.8, "top_k": 20, "eos_token_id": 2}
(model / "generation_config.json").write_text(json.dumps(gen))
(model / "sub").mkdir()
(model / "sub" / "notes.txt").write_text("a note\n")
subprocess.run([MC, "build", str(model), "--layout", f"{tmp}/lay:v1"], check=True,
               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
lay = tmp / "lay"
add("oci_manifest_fuzz", (lay / "index.json").read_bytes())
index = json.loads((lay / "index.json").read_text())


def blob(desc):
    return (lay / "blobs/sha256" / desc["digest"].split(":")[1]).read_bytes()


manifest = json.loads(blob(index["manifests"][0]))
add("oci_manifest_fuzz", blob(index["manifests"][0]))
add("oci_manifest_fuzz", blob(manifest["config"]))
layers = [blob(l) for l in manifest["layers"] if l["size"] <= MAX]
for layer in layers:
    add("tar_extract_fuzz", layer)
    add("tar_reader_fuzz", layer, 0)
    add("tar_reader_fuzz", layer, 0x80 | 0x18)  # skeleton mode is refused data: an error path
    add("tar_reader_fuzz", gzip.compress(layer, mtime=0), 1)
for s in raw_strings("src/oci/manifest_test.cc"):
    add("oci_manifest_fuzz", s)
for s in re.findall(r'Parse\("([^"\\]*)"\)', (SRC / "src/oci/reference_test.cc").read_text()):
    add("oci_reference_fuzz", s)
for s in ["busybox", "ghcr.io/org/model:v1", "oci://127.0.0.1:5000/m@sha256:" + "ab" * 32,
          "localhost/a/b_c__d-e.f:t@sha256:" + "0" * 64, "index.docker.io/library/x"]:
    add("oci_reference_fuzz", s)


# --- tar archives in every format, and the hostile layers of tests/store/store_faults.sh
def tar_bytes(entries, fmt=tarfile.PAX_FORMAT):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=fmt) as t:
        for kind, path, arg in entries:
            ti = tarfile.TarInfo(path)
            ti.mtime = 1700000000
            if kind == "file":
                ti.size = len(arg)
                t.addfile(ti, io.BytesIO(arg))
                continue
            ti.type = {"dir": tarfile.DIRTYPE, "sym": tarfile.SYMTYPE, "hard": tarfile.LNKTYPE,
                       "chr": tarfile.CHRTYPE, "fifo": tarfile.FIFOTYPE}[kind]
            if kind in ("sym", "hard"):
                ti.linkname = arg
            t.addfile(ti)
    return buf.getvalue()


long = "models/" + "d" * 120 + "/" + "f" * 110 + "-ünï.bin"
plain = [("dir", "models", None), ("file", "models/a.txt", b"hello\n"),
         ("file", long, b"x" * 700), ("sym", "models/link", "a.txt"),
         ("hard", "models/hard", "models/a.txt"), ("file", "models/.wh.gone", b"")]
for fmt in (tarfile.USTAR_FORMAT, tarfile.GNU_FORMAT, tarfile.PAX_FORMAT):
    entries = plain if fmt != tarfile.USTAR_FORMAT else plain[:2] + plain[3:]
    t = tar_bytes(entries, fmt)
    add("tar_extract_fuzz", t)
    add("tar_reader_fuzz", t, 0x04)
    add("tar_reader_fuzz", gzip.compress(t, mtime=0), 0x07)
hostile = {
    "abs": [("file", "/tmp/abs-pwned", b"x")],
    "dotdot": [("file", "models/../../outside/dotdot", b"x")],
    "symfile": [("sym", "models", "../outside"), ("file", "models/sym-pwned", b"x")],
    "hardout": [("hard", "models/h", "../../../etc/passwd")],
    "device": [("chr", "models/null", None)],
    "fifo": [("fifo", "models/pipe", None)],
}
for entries in hostile.values():
    add("tar_extract_fuzz", tar_bytes(entries, tarfile.GNU_FORMAT))
whiteouts = tar_bytes([("file", "models/.wh.a.txt", b""), ("file", "models/.wh..wh..opq", b""),
                       ("file", "models/new.txt", b"new")])
add("tar_extract_fuzz", tar_bytes(plain) + MARK + whiteouts)

# --- model files
add("llm_model_safetensors_fuzz", st, 0)
add("llm_model_safetensors_fuzz", st[:8 + len(header)], 4)  # data section beyond the input
for s in raw_strings("src/llm/model/safetensors_test.cc"):
    h = s.encode()
    add("llm_model_safetensors_fuzz", struct.pack("<Q", len(h)) + h + bytes(16), 0)
add("llm_model_safetensors_fuzz", json.dumps(
    {"metadata": {"total_size": 22}, "weight_map": {"w": "model-00001-of-00002.safetensors",
                                                    "b": "model-00002-of-00002.safetensors"}}), 1)
add("llm_model_safetensors_fuzz", json.dumps(config), 2)
add("llm_model_safetensors_fuzz", json.dumps(dict(config, architectures=["LlamaForCausalLM"],
                                                   model_type="llama", head_dim=16)), 2)
add("llm_model_safetensors_fuzz", json.dumps(gen), 3)


# --- tokenizer: the unit tests' tiny byte-level BPE, and the tokenizer test corpus
def byte_level(b):
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(0xA1, 0xAD)) + list(range(0xAE, 0x100))
    cs, n = bs[:], 0
    for x in range(256):
        if x not in bs:
            bs.append(x)
            cs.append(256 + n)
            n += 1
    return chr(dict(zip(bs, cs))[b])


qwen2_regex = re.search(r'kQwen2SplitRegex\s*=\s*\n?\s*R"\w*\((.*?)\)\w*"',
                        (SRC / "src/llm/tokenizer/pretokenize.cc").read_text(), re.S)
vocab = {byte_level(b): b for b in range(256)}
vocab.update({"he": 256, "ll": 257, "hell": 258, "hello": 259, "Ġw": 260})
tok = {"version": "1.0",
       "added_tokens": [{"id": 261, "content": "<|end|>", "special": True},
                        {"id": 262, "content": "<tool>", "special": False, "lstrip": True}],
       "normalizer": {"type": "NFC"},
       "pre_tokenizer": {"type": "Sequence", "pretokenizers": [
           {"type": "Split", "pattern": {"Regex": qwen2_regex.group(1) if qwen2_regex else ""},
            "behavior": "Isolated", "invert": False},
           {"type": "ByteLevel", "add_prefix_space": False, "use_regex": False}]},
       "decoder": {"type": "ByteLevel"},
       "model": {"type": "BPE", "vocab": vocab, "merges": ["h e", "l l", ["he", "ll"], "hell o", "Ġ w"]}}
tok_config = json.dumps({"eos_token": {"content": "<|end|>"}, "bos_token": None,
                         "added_tokens_decoder": {"261": {"content": "<|end|>", "special": True}}})
add("llm_tokenizer_load_fuzz", json.dumps(tok).encode() + MARK + tok_config.encode() + MARK +
    "hello world<|end|> <tool>é".encode())
add("llm_tokenizer_load_fuzz", json.dumps(dict(tok, normalizer=None)).encode() + MARK + MARK + b"hi")
for i, f in enumerate(sorted((SRC / "tests/tokenizer/corpus").iterdir())):
    text = f.read_bytes()[:4000]
    add("llm_tokenizer_encode_fuzz", text, i & 3)
add("llm_tokenizer_encode_fuzz", "hello<|end|> world <tool>e\u0301 >\u0338", 1)

# --- chat templates with the parity test's conversations
conv = json.loads((SRC / "tests/template/fixtures/conversations.json").read_text())
tools = json.loads((SRC / "tests/template/fixtures/tools.json").read_text())
contexts = [{"messages": msgs, "add_generation_prompt": True, "bos_token": "<s>",
             "eos_token": "</s>"} for msgs in list(conv.values())[:3]]
contexts.append(dict(contexts[0], tools=tools))
for i, f in enumerate(sorted((SRC / "tests/template/fixtures").glob("*.jinja"))):
    ctx = json.dumps(contexts[i % len(contexts)]).encode()
    add("llm_template_chat_template_fuzz", f.read_bytes() + MARK + ctx)
for s in c_strings("src/llm/template/chat_template_test.cc", "Render"):
    add("llm_template_chat_template_fuzz", s)

# --- the webhook's AdmissionReview, the golden pods, a ConfigMap
review = (SRC / "tests/kube/testdata/admission_review.json").read_bytes()
for sel in (0, 1, 2, 3, 4, 0x40 | 8):
    add("kube_admission_fuzz", review, sel)
for f in sorted((SRC / "src/kube/testdata/golden").glob("*.yaml")):
    add("kube_json_yaml_fuzz", f.read_bytes(), 0)
for f in sorted((SRC / "deploy").glob("*.yaml")) if (SRC / "deploy").is_dir() else []:
    data = f.read_bytes()
    add("kube_json_yaml_fuzz", data, 0)
    add("kube_json_yaml_fuzz", data, 1 if b"ConfigMap" in data else 2)
add("kube_json_yaml_fuzz", b"""apiVersion: serving.kserve.io/v1beta1
kind: InferenceService
metadata: {name: m, namespace: ns}
spec:
  predictor:
    containers:
    - name: kserve-container
      image: vllm/vllm-openai:latest
      args: ["--model", "/mnt/models"]
    model:
      storageUri: oci://127.0.0.1:5000/m@sha256:""" + b"ab" * 32 + b"\n", 2)
add("kube_json_yaml_fuzz", b'{"enableModelcar": true, "ociModelMode": "fetch", "digestPolicy": '
    b'"require", "cpuModelcar": "10m", "uidModelcar": 1010, "nodeCache": {"hostPath": "/x"}}', 1)

# --- registry authentication
for s in raw_strings("src/registry/auth_test.cc", "ParseChallenge") + [
        'Bearer realm="https://auth.docker.io/token",service="registry.docker.io"',
        'Basic realm="Registry Realm"', 'bearer REALM=x, error="insufficient_scope"']:
    add("registry_auth_fuzz", s, 0)
for s in ['{"token": "abc", "expires_in": 300}', '{"access_token": "abc", "expires_in": 1e99}',
          '{"token": ""}']:
    add("registry_auth_fuzz", s, 1)
for s in raw_strings("src/registry/auth_test.cc", "Parse") + [
        '{"auths": {"https://index.docker.io/v1/": {"username": "u", "password": "p"}, '
        '"127.0.0.1:5000": {"identitytoken": "t"}, "ghcr.io": {"auth": "dTpw"}}}']:
    add("registry_auth_fuzz", s, 2)

# --- serve request bodies and model output with tool calls
for s in raw_strings("src/serve/request_test.cc"):
    if s.lstrip().startswith("{"):
        kind = 1 if '"prompt"' in s else 0
        add("serve_request_fuzz", s, kind)
        add("serve_request_fuzz", s, 2)
add("serve_request_fuzz", '{"tokens": [1, 2, 3], "model": "m"}', 3)
for s in c_strings("src/serve/tool_parser_test.cc", "ParseHermesToolCalls"):
    add("serve_tool_parser_fuzz", s, 5)
add("serve_tool_parser_fuzz", 'Let me check. <tool_call>\n{"name": "get_weather", "arguments": '
    '{"city": "Paris"}}\n</tool_call>\n<tool_call>{"name": "x", "arguments": "raw"}', 3)

# --- structured-output grammars: selector 0 JSON Schema, 1 regex, 2 EBNF/Lark; then a text to walk
for s in raw_strings("src/llm/grammar/grammar_test.cc"):
    if s.lstrip().startswith("{") and '"type"' in s:
        add("llm_grammar_compile_fuzz", s.encode() + MARK + b'{"name": "Al", "age": 42}', 0)
    elif "::=" in s or "start:" in s:
        add("llm_grammar_compile_fuzz", s.encode() + MARK + b"yes,no,42", 2)
for spec, walk in [('{"type": "array", "items": {"type": "number"}, "maxItems": 4}', "[1.5, -2e10, 0]"),
                   ('{"type": "string", "format": "date-time"}', '"2026-12-04T18:00:00Z"'),
                   ('{"type": "integer", "minimum": -40, "maximum": 1234}', "-39"),
                   ('{"anyOf": [{"type": "null"}, {"type": "string", "pattern": "[a-z]+"}]}', '"abc"'),
                   ("{}", '{"x": [1, {"y": null}], "z": "\\u00e9"}')]:
    add("llm_grammar_compile_fuzz", spec.encode() + MARK + walk.encode(), 0)
for spec, walk in [(r"^[A-Z]{2}[0-9]{2}$", "AB12"), (r"(?P<w>\w+)@(\d{1,3}\.){3}\d{1,3}", "me@10.0.0.1"),
                   (r"(a|b)*c{2,5}[^xyz]?.", "ababccc!q"), (r"\u00e9+\xff?(?:yes|no)", "\u00e9yes")]:
    add("llm_grammar_compile_fuzz", spec.encode() + MARK + walk.encode(), 1)
add("llm_grammar_compile_fuzz", b'root ::= "(" root ")" | "x"' + MARK + b"((x))", 2)

shutil.rmtree(tmp)
for target, datas in sorted(seeds.items()):
    d = OUT / target
    d.mkdir(parents=True, exist_ok=True)
    for old in d.iterdir():
        if not old.name.startswith("regress-"):
            old.unlink()
    for data in datas:
        (d / ("seed-" + hashlib.sha1(data).hexdigest()[:16])).write_bytes(data)
    print(f"{target}: {len(datas)} seeds")
