#!/usr/bin/python3
"""Writes a GGUF file from a Qwen2 (arch qwen2) or Llama 3.x (arch llama) safetensors model
directory, for bench/serve.sh.

  PYTHONPATH=<llama.cpp>/gguf-py /usr/bin/python3 bench/gguf_from_safetensors.py MODEL_DIR OUT.gguf

The arch follows config.json's architectures[0]: Qwen2ForCausalLM (or none given) -> qwen2,
LlamaForCausalLM -> llama. Same weights: 2-D bf16 tensors are copied bit for bit as GGUF BF16; 1-D
tensors (norms, biases) are widened to F32 (exact), as llama.cpp's own convert_hf_to_gguf.py does.
A tied LM head is omitted (llama.cpp then uses token_embd). The tokenizer comes from tokenizer.json
(byte-level BPE), the chat template from tokenizer_config.json. llama.cpp's converter wants
`transformers`, which this machine does not have.

Llama, as convert_hf_to_gguf.py's LlamaModel does: HF rotates (i, i + d/2) pairs of each head
(rotate_half), llama.cpp's llama arch rotates adjacent pairs (2i, 2i+1), so q_proj/k_proj rows are
permuted within each head (row 2j <- j, 2j+1 <- j + d/2); a row permutation, so the bf16 bits are
still copied unchanged and q.k products are the same. rope_scaling rope_type llama3 becomes the
rope_freqs.weight tensor (head_dim/2 F32 divisors of the base frequencies: 1 for high, `factor`
for low frequencies, smoothed in between, the HF formula). Also written: vocab_size,
rope.dimension_count and key/value_length (head_dim), pre-tokenizer "llama-bpe" (Llama 3's split
regex), added tokens that are special or look like <|...|> as CONTROL, add_bos_token from
tokenizer.json's TemplateProcessing (Llama 3 prepends <|begin_of_text|>). Qwen2 output is
unchanged from the qwen2-only version of this script (same bytes).
"""
import json
import math
import os
import struct
import sys

import numpy as np
import gguf

src, out = sys.argv[1], sys.argv[2]
cfg = json.load(open(os.path.join(src, "config.json")))
tok = json.load(open(os.path.join(src, "tokenizer.json"), encoding="utf-8"))
tcfg = json.load(open(os.path.join(src, "tokenizer_config.json"), encoding="utf-8"))
hf_arch = (cfg.get("architectures") or ["Qwen2ForCausalLM"])[0]
ARCHS = {"Qwen2ForCausalLM": "qwen2", "LlamaForCausalLM": "llama"}
if hf_arch not in ARCHS:
    raise SystemExit(f"unsupported architecture {hf_arch} (have: {', '.join(ARCHS)})")
arch = ARCHS[hf_arch]
llama = arch == "llama"
head_dim = cfg.get("head_dim") or cfg["hidden_size"] // cfg["num_attention_heads"]


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

w = gguf.GGUFWriter(out, arch)
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
if llama:
    w.add_vocab_size(cfg["vocab_size"])
    w.add_rope_dimension_count(head_dim)
    if cfg.get("head_dim") is not None:
        w.add_key_length(head_dim)
        w.add_value_length(head_dim)
    rope_scaling = cfg.get("rope_scaling") or {}
    rope_type = rope_scaling.get("rope_type", rope_scaling.get("type", "default"))
    if rope_type not in ("default", "llama3"):
        raise SystemExit(f"unsupported rope_scaling rope_type {rope_type}")

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
        special = added[rev[i]].get("special")
        if llama:  # convert_hf_to_gguf's does_token_look_special (kept off for qwen2: same bytes)
            special = special or (rev[i].startswith("<|") and rev[i].endswith("|>"))
        types.append(gguf.TokenType.CONTROL if special else gguf.TokenType.USER_DEFINED)
    else:
        tokens.append(rev[i])
        types.append(gguf.TokenType.NORMAL)
merges = tok["model"].get("merges", [])
merges = [m if isinstance(m, str) else " ".join(m) for m in merges]
w.add_tokenizer_model("gpt2")
LLAMA3_SPLIT = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}|"
                r" ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+")


def split_regexes(pre):
    if not isinstance(pre, dict):
        return []
    found = [pre["pattern"].get("Regex")] if pre.get("type") == "Split" and isinstance(pre.get("pattern"), dict) else []
    for sub in pre.get("pretokenizers", []):
        found += split_regexes(sub)
    return found


if llama and split_regexes(tok.get("pre_tokenizer")) != [LLAMA3_SPLIT]:
    print("warning: tokenizer.json's split regex is not Llama 3's; writing pre-tokenizer llama-bpe anyway",
          file=sys.stderr)
w.add_tokenizer_pre("llama-bpe" if llama else "qwen2")
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
add_bos = bool(tcfg.get("add_bos_token", False))
if llama and "add_bos_token" not in tcfg:
    # As gguf-py's SpecialVocab: a TemplateProcessing whose single template starts with a special
    # token adds BOS (Llama 3's tokenizer.json has no add_bos_token key, the processor adds it).
    pp = tok.get("post_processor") or {}
    for proc in pp.get("processors", [pp]):
        if proc.get("type") == "TemplateProcessing" and proc.get("single"):
            add_bos = "SpecialToken" in proc["single"][0]
w.add_add_bos_token(add_bos)
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


def rope_permute(a, n_head):
    """Rows of q_proj/k_proj (weight or bias): per head, HF's halves (i, i + d/2) -> llama.cpp's
    adjacent pairs (2i, 2i+1). Only moves elements, so bf16 bits stay as they are."""
    d = a.shape[0] // n_head
    return np.ascontiguousarray(a.reshape(n_head, 2, d // 2, *a.shape[1:]).swapaxes(1, 2).reshape(a.shape))


def permuted(name, a):
    if llama and name.endswith(("q_proj.weight", "q_proj.bias")):
        return rope_permute(a, cfg["num_attention_heads"])
    if llama and name.endswith(("k_proj.weight", "k_proj.bias")):
        return rope_permute(a, cfg["num_key_value_heads"])
    return a


def llama3_rope_factors():
    """Divisors of the rope base frequencies for rope_type llama3 (HF's _compute_llama3_parameters:
    inv_freq / factor for long wavelengths, unchanged for short ones, smoothed in between); float32
    arithmetic as convert_hf_to_gguf.py's generate_extra_tensors."""
    base = np.float32(cfg.get("rope_theta", 10000.0))
    freqs = np.float32(1.0) / (base ** (np.arange(0, head_dim, 2, dtype=np.float32) / np.float32(head_dim)))
    factor = rope_scaling.get("factor", 8.0)
    low = rope_scaling.get("low_freq_factor", 1.0)
    high = rope_scaling.get("high_freq_factor", 4.0)
    old_ctx = rope_scaling.get("original_max_position_embeddings", 8192)
    low_wavelen, high_wavelen = old_ctx / low, old_ctx / high
    out = []
    for f in freqs:
        wavelen = np.float32(2 * math.pi) / f
        if wavelen < high_wavelen:
            out.append(1.0)
        elif wavelen > low_wavelen:
            out.append(factor)
        else:
            smooth = (np.float32(old_ctx) / wavelen - np.float32(low)) / np.float32(high - low)
            out.append(np.float32(1) / ((np.float32(1) - smooth) / np.float32(factor) + smooth))
    return np.array(out, dtype=np.float32)


if llama and rope_type == "llama3":
    w.add_tensor("rope_freqs.weight", llama3_rope_factors())

for name, (dtype, shape, raw) in tensors.items():
    g = gguf_name(name)
    if g is None:
        continue
    if len(shape) == 1:
        w.add_tensor(g, permuted(name, np.ascontiguousarray(as_f32(dtype, raw))))
    elif dtype == "BF16":
        w.add_tensor(g, permuted(name, raw.view(np.uint16).reshape(shape)), raw_dtype=gguf.GGMLQuantizationType.BF16)
    elif dtype in ("F16", "F32"):
        w.add_tensor(g, permuted(name, raw.view(np.float16 if dtype == "F16" else np.float32).reshape(shape)))
    else:
        raise SystemExit(f"unsupported dtype {dtype} for {name}")

w.write_header_to_file()
w.write_kv_data_to_file()
w.write_tensors_to_file()
w.close()
print(f"wrote {out} ({arch}): {len(tensors)} tensors, vocab {vocab_size}, {len(merges)} merges", file=sys.stderr)
