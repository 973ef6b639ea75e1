#!/usr/bin/python3
"""PyTorch reference forward pass for the engine tests: Qwen2, Qwen3, Llama (3.x rope scaling,
tied embeddings) and Mistral, written from the math of Hugging Face transformers' modeling code
(modeling_qwen2/qwen3/llama/mistral.py, modeling_rope_utils.py).

Reads config.json and model.safetensors (single or sharded) with struct + numpy (no
safetensors/transformers packages here), runs the model in float32 with a KV cache, and writes
JSON: the last-position logits of the prompt (as a .npy file next to it) and greedy tokens.

  torch_ref.py MODEL_DIR PROMPT_IDS_JSON STEPS OUT_PREFIX
writes OUT_PREFIX.logits.f32 (raw little-endian float32, vocab entries) and OUT_PREFIX.json
({"greedy": [...]}).
"""
import json
import math
import os
import struct
import sys

import numpy as np
import torch

torch.set_num_threads(2)


def read_safetensors(path):
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
    data = np.memmap(path, dtype=np.uint8, mode="r", offset=8 + n)
    out = {}
    for name, t in header.items():
        if name == "__metadata__":
            continue
        b, e = t["data_offsets"]
        raw = data[b:e]
        if t["dtype"] == "BF16":
            u = raw.view(np.uint16).astype(np.uint32) << 16
            arr = u.view(np.float32)
        elif t["dtype"] == "F16":
            arr = raw.view(np.float16).astype(np.float32)
        elif t["dtype"] == "F32":
            arr = np.array(raw.view(np.float32))
        elif t["dtype"] == "I32":  # quantized checkpoints' packed tensors (quant_ref.py)
            arr = np.array(raw.view(np.int32))
        else:
            raise ValueError(f"{name}: dtype {t['dtype']}")
        out[name] = torch.from_numpy(arr.reshape(t["shape"]))
    return out


def load(model_dir):
    cfg = json.load(open(os.path.join(model_dir, "config.json")))
    single = os.path.join(model_dir, "model.safetensors")
    if os.path.exists(single):
        w = read_safetensors(single)
    else:
        idx = json.load(open(os.path.join(model_dir, "model.safetensors.index.json")))
        w = {}
        for f in sorted(set(idx["weight_map"].values())):
            w.update(read_safetensors(os.path.join(model_dir, f)))
    return cfg, w


def rope_inv_freq(cfg, dim):
    """transformers' ROPE_INIT_FUNCTIONS: default, linear and llama3."""
    base = cfg.get("rope_theta", 10000.0)
    inv_freq = 1.0 / (base ** (torch.arange(0, dim, 2, dtype=torch.int64).float() / dim))
    rs = cfg.get("rope_scaling") or {}
    kind = rs.get("rope_type", rs.get("type", "default"))
    if kind == "default":
        return inv_freq
    if kind == "linear":
        return inv_freq / rs["factor"]
    assert kind == "llama3", kind
    factor = rs["factor"]
    low_freq_factor = rs["low_freq_factor"]
    high_freq_factor = rs["high_freq_factor"]
    old_context_len = rs["original_max_position_embeddings"]
    low_freq_wavelen = old_context_len / low_freq_factor
    high_freq_wavelen = old_context_len / high_freq_factor
    wavelen = 2 * math.pi / inv_freq
    inv_freq_llama = torch.where(wavelen > low_freq_wavelen, inv_freq / factor, inv_freq)
    smooth_factor = (old_context_len / wavelen - low_freq_factor) / (high_freq_factor - low_freq_factor)
    smoothed_inv_freq = (1 - smooth_factor) * inv_freq_llama / factor + smooth_factor * inv_freq_llama
    is_medium_freq = ~(wavelen < high_freq_wavelen) * ~(wavelen > low_freq_wavelen)
    return torch.where(is_medium_freq, smoothed_inv_freq, inv_freq_llama)


def rms_norm(x, weight, eps):
    var = x.pow(2).mean(-1, keepdim=True)
    return x * torch.rsqrt(var + eps) * weight


class Model:
    def __init__(self, cfg, w):
        self.cfg, self.w = cfg, w
        self.nh = cfg["num_attention_heads"]
        self.nkv = cfg.get("num_key_value_heads", self.nh)
        self.hd = cfg.get("head_dim") or cfg["hidden_size"] // self.nh
        self.eps = cfg["rms_norm_eps"]
        self.layers = cfg["num_hidden_layers"]
        self.inv_freq = rope_inv_freq(cfg, self.hd)
        self.lm_head = w["model.embed_tokens.weight"] if cfg.get("tie_word_embeddings") else w["lm_head.weight"]
        self.cache = [None] * self.layers

    def rope(self, x, pos):  # x [T, heads, hd]
        freqs = torch.outer(pos.float(), self.inv_freq)
        emb = torch.cat((freqs, freqs), dim=-1)
        cos, sin = emb.cos()[:, None, :], emb.sin()[:, None, :]
        h = self.hd // 2
        rot = torch.cat((-x[..., h:], x[..., :h]), dim=-1)
        return x * cos + rot * sin

    def forward(self, ids):
        """Feeds ids after the cached positions; returns logits of every fed position."""
        w, p = self.w, "model.layers."
        start = 0 if self.cache[0] is None else self.cache[0][0].shape[0]
        T = len(ids)
        pos = torch.arange(start, start + T)
        x = w["model.embed_tokens.weight"][torch.tensor(ids)]
        for l in range(self.layers):
            q_ = f"{p}{l}.self_attn."
            h = rms_norm(x, w[f"{p}{l}.input_layernorm.weight"], self.eps)
            q = h @ w[q_ + "q_proj.weight"].T
            k = h @ w[q_ + "k_proj.weight"].T
            v = h @ w[q_ + "v_proj.weight"].T
            if q_ + "q_proj.bias" in w:
                q = q + w[q_ + "q_proj.bias"]
                k = k + w[q_ + "k_proj.bias"]
                v = v + w[q_ + "v_proj.bias"]
            q = q.view(T, self.nh, self.hd)
            k = k.view(T, self.nkv, self.hd)
            v = v.view(T, self.nkv, self.hd)
            if q_ + "q_norm.weight" in w:
                q = rms_norm(q, w[q_ + "q_norm.weight"], self.eps)
                k = rms_norm(k, w[q_ + "k_norm.weight"], self.eps)
            q, k = self.rope(q, pos), self.rope(k, pos)
            if self.cache[l] is not None:
                k = torch.cat((self.cache[l][0], k), 0)
                v = torch.cat((self.cache[l][1], v), 0)
            self.cache[l] = (k, v)
            g = self.nh // self.nkv
            kk = k.repeat_interleave(g, dim=1).transpose(0, 1)  # [nh, S, hd]
            vv = v.repeat_interleave(g, dim=1).transpose(0, 1)
            qq = q.transpose(0, 1)  # [nh, T, hd]
            scores = qq @ kk.transpose(1, 2) / math.sqrt(self.hd)
            S = k.shape[0]
            mask = torch.arange(S)[None, :] > (torch.arange(T)[:, None] + start)
            scores = scores.masked_fill(mask, float("-inf"))
            attn = torch.softmax(scores, dim=-1) @ vv  # [nh, T, hd]
            attn = attn.transpose(0, 1).reshape(T, self.nh * self.hd)
            x = x + attn @ w[q_ + "o_proj.weight"].T
            h = rms_norm(x, w[f"{p}{l}.post_attention_layernorm.weight"], self.eps)
            m_ = f"{p}{l}.mlp."
            gate = h @ w[m_ + "gate_proj.weight"].T
            up = h @ w[m_ + "up_proj.weight"].T
            x = x + (torch.nn.functional.silu(gate) * up) @ w[m_ + "down_proj.weight"].T
        x = rms_norm(x, w["model.norm.weight"], self.eps)
        return x @ self.lm_head.T


def main():
    model_dir, prompt_json, steps, out = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
    ids = json.loads(open(prompt_json).read()) if os.path.exists(prompt_json) else json.loads(prompt_json)
    cfg, w = load(model_dir)
    m = Model(cfg, w)
    with torch.no_grad():
        logits = m.forward(ids)[-1]
        logits.numpy().astype("<f4").tofile(out + ".logits.f32")
        greedy = []
        for _ in range(steps):
            t = int(torch.argmax(logits))
            greedy.append(t)
            logits = m.forward([t])[-1]
    json.dump({"greedy": greedy}, open(out + ".json", "w"))


if __name__ == "__main__":
    main()
