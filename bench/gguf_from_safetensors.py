#!/usr/bin/python3
"""Writes a GGUF file (arch qwen2) from a Qwen2 safetensors model directory, for bench/serve.sh.

  PYTHONPATH=<llama.cpp>/gguf-py /usr/bin/python3 bench/gguf_from_safetensors.py MODEL_DIR OUT.gguf

Same weights: 2-D bf16 tensors are copied bit for bit as GGUF BF16; 1-D tensors (norms, biases)
are widened to F32 (exact), as llama.cpp's own convert_hf_to_gguf.py does. A tied LM head is
omitted (llama.cpp then uses token_embd). The tokenizer comes from tokenizer.json (byte-level BPE,
pre-tokenizer "qwen2"), the chat template from tokenizer_config.json. Only what a Qwen2 model needs;
llama.cpp's converter wants `transformers`, which this machine does not have.
"""
import json
import os
import struct
import sys

import numpy as np
import gguf

src, out = sys.argv[1], sys.argv[2]
cfg = json.load(open(os.path.join(src, "config.json")))
tok = json.load(open(os.path.join(src, "tokenizer.json"), encoding="utf-8"))
tcfg = json.load(open(os.path.join(src, "tokenizer_config.json"), encoding="utf-8"))


def read_safetensors(path):
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
    base = 8 + n
    mm = np.memmap(path, dtype=np.uint8, mode="r")
    for name, info in header.items():
        if name == "__metadata__":
            continue
        a, b = info["data_offsets"]
        raw = mm[base + a:base + b]
        yield name, info["dtype"], info["shape"], raw


files = sorted(f for f in os.listdir(src) if f.endswith(".safetensors"))
tensors = {}
for fn in files:
    for name, dtype, shape, raw in read_safetensors(os.path.join(src, fn)):
        tensors[name] = (dtype, shape, raw)

w = gguf.GGUFWriter(out, "qwen2")
w.add_name("modelcar-bench-" + os.path.basename(os.path.normpath(src)))
w.add_context_length(cfg["max_position_embeddings"])
w.add_embedding_length(cfg["hidden_size"])
w.add_block_count(cfg["num_hidden_layers"])
w.add_feed_forward_length(cfg["intermediate_size"])
w.add_head_count(cfg["num_attention_heads"])
w.add_head_count_kv(cfg["num_key_value_heads"])
w.add_rope_freq_base(float(cfg["rope_theta"]))
w.add_layer_norm_rms_eps(float(cfg["rms_norm_eps"]))
w.add_file_type(gguf.LlamaFileType.MOSTLY_BF16)

# Tokenizer, as convert_hf_to_gguf.py's _set_vocab_gpt2 does: the vocabulary padded to
# config.vocab_size with [PADn] entries, added tokens CONTROL (special) or USER_DEFINED.
vocab_size = cfg["vocab_size"]
vocab = dict(tok["model"]["vocab"])
added = {t["content"]: t for t in tok.get("added_tokens", [])}
for t in added.values():
    vocab[t["content"]] = t["id"]
vocab_size = max(vocab_size, max(vocab.values()) + 1)
rev = {i: s for s, i in vocab.items()}
tokens, types = [], []
for i in range(vocab_size):
    if i not in rev:
        tokens.append(f"[PAD{i}]")
        types.append(gguf.TokenType.UNUSED)
    elif rev[i] in added:
        tokens.append(rev[i])
        types.append(gguf.TokenType.CONTROL if added[rev[i]].get("special") else gguf.TokenType.USER_DEFINED)
    else:
        tokens.append(rev[i])
        types.append(gguf.TokenType.NORMAL)
merges = tok["model"].get("merges", [])
merges = [m if isinstance(m, str) else " ".join(m) for m in merges]
w.add_tokenizer_model("gpt2")
w.add_tokenizer_pre("qwen2")
w.add_token_list(tokens)
w.add_token_types(types)
w.add_token_merges(merges)


def token_id(v):
    if isinstance(v, dict):
        v = v.get("content")
    return vocab.get(v) if isinstance(v, str) else None


bos = cfg.get("bos_token_id")
eos = token_id(tcfg.get("eos_token")) or cfg.get("eos_token_id")
pad = token_id(tcfg.get("pad_token"))
if bos is not None:
    w.add_bos_token_id(bos)
if eos is not None:
    w.add_eos_token_id(eos)
if pad is not None:
    w.add_pad_token_id(pad)
w.add_add_bos_token(bool(tcfg.get("add_bos_token", False)))
if tcfg.get("chat_template"):
    w.add_chat_template(tcfg["chat_template"])

# Tensors: HF Qwen2 names -> GGUF names.
layer_map = {
    "input_layernorm.weight": "attn_norm.weight",
    "self_attn.q_proj.weight": "attn_q.weight", "self_attn.q_proj.bias": "attn_q.bias",
    "self_attn.k_proj.weight": "attn_k.weight", "self_attn.k_proj.bias": "attn_k.bias",
    "self_attn.v_proj.weight": "attn_v.weight", "self_attn.v_proj.bias": "attn_v.bias",
    "self_attn.o_proj.weight": "attn_output.weight",
    "post_attention_layernorm.weight": "ffn_norm.weight",
    "mlp.gate_proj.weight": "ffn_gate.weight",
    "mlp.up_proj.weight": "ffn_up.weight",
    "mlp.down_proj.weight": "ffn_down.weight",
}
tied = cfg.get("tie_word_embeddings", False)


def gguf_name(name):
    if name == "model.embed_tokens.weight":
        return "token_embd.weight"
    if name == "model.norm.weight":
        return "output_norm.weight"
    if name == "lm_head.weight":
        return None if tied else "output.weight"
    p = name.split(".")
    if p[:2] == ["model", "layers"]:
        return f"blk.{p[2]}.{layer_map['.'.join(p[3:])]}"
    raise SystemExit(f"unknown tensor {name}")


def as_f32(dtype, raw):
    if dtype == "BF16":
        return (raw.view(np.uint16).astype(np.uint32) << 16).view(np.float32)
    if dtype == "F16":
        return raw.view(np.float16).astype(np.float32)
    if dtype == "F32":
        return raw.view(np.float32)
    raise SystemExit(f"unsupported dtype {dtype}")


for name, (dtype, shape, raw) in tensors.items():
    g = gguf_name(name)
    if g is None:
        continue
    if len(shape) == 1:
        w.add_tensor(g, np.ascontiguousarray(as_f32(dtype, raw)))
    elif dtype == "BF16":
        w.add_tensor(g, raw.view(np.uint16).reshape(shape), raw_dtype=gguf.GGMLQuantizationType.BF16)
    elif dtype in ("F16", "F32"):
        w.add_tensor(g, raw.view(np.float16 if dtype == "F16" else np.float32).reshape(shape))
    else:
        raise SystemExit(f"unsupported dtype {dtype} for {name}")

w.write_header_to_file()
w.write_kv_data_to_file()
w.write_tensors_to_file()
w.close()
print(f"wrote {out}: {len(tensors)} tensors, vocab {vocab_size}, {len(merges)} merges", file=sys.stderr)
