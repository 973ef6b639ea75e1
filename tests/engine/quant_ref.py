#!/usr/bin/python3
"""Quantized checkpoints for the engine tests and benchmarks, and their torch dequantizers.

Both are written from the formats' descriptions, not from the engine:
- GPTQ ("gptq" checkpoint format of AutoGPTQ/optimum, as Qwen's official *-GPTQ-Int4/Int8 models
  ship): qweight int32 [K*bits/32, N] packs 32/bits consecutive inputs of one output, lowest bits
  first; qzeros int32 [K/G, N*bits/32] packs consecutive outputs, stored as zero - 1; scales
  fp16 [K/G, N]; g_idx int32 [K], the group of each input (k // G, or an act-order permutation's
  g_idx[perm[i]] = i // G). W[n, k] = scales[g_idx[k], n] * (q[k, n] - zeros[g_idx[k], n]).
- AWQ (AutoAWQ WQLinear_GEMM, version "gemm"): qweight int32 [K, N/8], word (k, j) holds outputs
  8j + [0, 2, 4, 6, 1, 3, 5, 7][i] in bits 4i..4i+3; qzeros int32 [K/G, N/8] likewise, stored as
  they are; scales fp16 [K/G, N]. W[n, k] = (q[k, n] - z[k//G, n]) * s[k//G, n].
- int8 made at load (modelcar's --quantization int8): per output row, groups of 128 inputs (the
  whole row when 128 does not divide it), scale = max|w| / 127, q = round(w / scale) (half to
  even), w = scale * q.

  quant_ref.py quantize SRC DST gptq|awq BITS GROUP [desc_act]
writes DST: SRC's config with a quantization_config (Qwen's official GPTQ/AWQ fields),
torch_dtype float16, every other tensor in F16 (as those checkpoints store them), the layers'
linear weights quantized by round-to-nearest (symmetric for GPTQ, as Qwen's; min/max for AWQ).
"""
import json
import os
import shutil
import struct
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import torch_ref  # noqa: E402

LINEARS = ("self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj", "self_attn.o_proj",
           "mlp.gate_proj", "mlp.up_proj", "mlp.down_proj")
AWQ_ORDER = [0, 2, 4, 6, 1, 3, 5, 7]
AWQ_REVERSE_ORDER = [0, 4, 1, 5, 2, 6, 3, 7]


# ---- dequantizers ------------------------------------------------------------------------------

def unpack_rows(packed, bits):
    """int32 [R, C] holding 32/bits values per word along R -> [R * 32/bits, C]."""
    per = 32 // bits
    shifts = torch.arange(0, 32, bits, dtype=torch.int64)
    w = packed.to(torch.int64) & 0xFFFFFFFF
    v = (w[:, None, :] >> shifts[None, :, None]) & ((1 << bits) - 1)
    return v.reshape(packed.shape[0] * per, packed.shape[1])


def unpack_cols(packed, bits):
    """int32 [R, C] holding 32/bits values per word along C -> [R, C * 32/bits]."""
    per = 32 // bits
    shifts = torch.arange(0, 32, bits, dtype=torch.int64)
    w = packed.to(torch.int64) & 0xFFFFFFFF
    v = (w[:, :, None] >> shifts[None, None, :]) & ((1 << bits) - 1)
    return v.reshape(packed.shape[0], packed.shape[1] * per)


def dequant_gptq(qweight, qzeros, scales, g_idx, bits, zero_offset=1):
    q = unpack_rows(qweight, bits)                      # [K, N]
    z = unpack_cols(qzeros, bits) + zero_offset         # [G, N]
    g = g_idx.to(torch.int64)
    w = scales.float()[g] * (q - z[g]).float()          # [K, N]
    return w.t().contiguous()


def dequant_awq(qweight, qzeros, scales, group):
    q = unpack_cols(qweight, 4)
    q = q.reshape(-1, 8)[:, AWQ_REVERSE_ORDER].reshape(q.shape)    # [K, N]
    z = unpack_cols(qzeros, 4)
    z = z.reshape(-1, 8)[:, AWQ_REVERSE_ORDER].reshape(z.shape)    # [G, N]
    g = torch.arange(q.shape[0]) // group
    return (scales.float()[g] * (q - z[g]).float()).t().contiguous()


def int8_at_load(w):
    """modelcar's --quantization int8 rule on a float [N, K] weight; returns the dequantized one."""
    n, k = w.shape
    group = 128 if k % 128 == 0 else k
    wg = w.float().reshape(n, k // group, group)
    scale = wg.abs().amax(dim=2, keepdim=True) / 127.0
    q = torch.where(scale > 0, torch.round(wg / torch.where(scale > 0, scale, torch.ones_like(scale))),
                    torch.zeros_like(wg)).clamp(-127, 127)
    return (scale * q).reshape(n, k)


def dequantized_weights(model_dir, int8=False):
    """config and float32 weights of a model dir, quantized layers dequantized (torch_ref's input)."""
    cfg, w = torch_ref.load(model_dir)
    qc = cfg.get("quantization_config")
    out = {}
    for name, t in w.items():
        if name.endswith((".qweight", ".qzeros", ".scales", ".g_idx")):
            continue
        out[name] = t
    for name in list(w):
        if not name.endswith(".qweight"):
            continue
        p = name[:-len(".qweight")]
        if qc["quant_method"] == "gptq":
            k = w[p + ".qweight"].shape[0] * 32 // qc["bits"]
            group = k if qc.get("group_size", -1) == -1 else qc["group_size"]
            g_idx = w.get(p + ".g_idx", torch.arange(k, dtype=torch.int32) // group)
            fmt = qc.get("checkpoint_format", qc.get("format", "gptq"))
            out[p + ".weight"] = dequant_gptq(w[p + ".qweight"], w[p + ".qzeros"], w[p + ".scales"],
                                              g_idx, qc["bits"], 1 if fmt == "gptq" else 0)
        else:
            out[p + ".weight"] = dequant_awq(w[p + ".qweight"], w[p + ".qzeros"], w[p + ".scales"],
                                             qc["group_size"])
    if int8:
        for name in list(out):
            if any(name.endswith(l + ".weight") for l in LINEARS) and out[name].shape[1] % 32 == 0:
                out[name] = int8_at_load(out[name])
    return cfg, {k: v.float() for k, v in out.items()}


# ---- quantizer (round to nearest, packed as AutoGPTQ / AutoAWQ pack) ----------------------------

def pack_rows(v, bits):
    per = 32 // bits
    v = v.to(torch.int64).reshape(v.shape[0] // per, per, v.shape[1])
    shifts = torch.arange(0, 32, bits, dtype=torch.int64)[None, :, None]
    return to_i32((v << shifts).sum(dim=1))


def pack_cols(v, bits, order=None):
    per = 32 // bits
    v = v.to(torch.int64).reshape(v.shape[0], v.shape[1] // per, per)
    if order is not None:
        v = v[:, :, order]
    shifts = torch.arange(0, 32, bits, dtype=torch.int64)[None, None, :]
    return to_i32((v << shifts).sum(dim=2))


def to_i32(x):
    x = x & 0xFFFFFFFF
    return torch.where(x >= 2**31, x - 2**32, x).to(torch.int32)


def quantize_gptq(w, bits, group, desc_act, seed):
    """w [N, K] float -> qweight, qzeros, scales (f16), g_idx; symmetric RTN."""
    n, k = w.shape
    g = k if group == -1 else group
    if desc_act:
        perm = torch.randperm(k, generator=torch.Generator().manual_seed(seed))
        g_idx = torch.empty(k, dtype=torch.int32)
        g_idx[perm] = (torch.arange(k) // g).to(torch.int32)
    else:
        g_idx = (torch.arange(k) // g).to(torch.int32)
    maxq = (1 << bits) - 1
    zero = (maxq + 1) // 2
    scales = torch.zeros(k // g, n)
    for gi in range(k // g):
        cols = (g_idx == gi).nonzero().flatten()
        amax = w[:, cols].abs().amax(dim=1)
        scales[gi] = torch.where(amax > 0, amax / (maxq - zero), torch.ones_like(amax))
    scales = scales.half()
    s = scales.float()[g_idx.long()].t()                          # [N, K]
    q = torch.clamp(torch.round(w / s) + zero, 0, maxq).t()       # [K, N]
    zeros = torch.full((k // g, n), zero - 1)                     # stored minus one
    return pack_rows(q, bits), pack_cols(zeros, bits), scales, g_idx


def quantize_awq(w, group):
    n, k = w.shape
    wg = w.reshape(n, k // group, group)
    lo, hi = wg.amin(dim=2), wg.amax(dim=2)
    scales = ((hi - lo).clamp(min=1e-5) / 15).half()
    zeros = torch.clamp(torch.round(-lo / scales.float()), 0, 15)
    s = scales.float().repeat_interleave(group, dim=1)
    z = zeros.repeat_interleave(group, dim=1)
    q = torch.clamp(torch.round(w / s) + z, 0, 15).t()            # [K, N]
    return pack_cols(q, 4, AWQ_ORDER), pack_cols(zeros.t(), 4, AWQ_ORDER), scales.t().contiguous()


def write_safetensors(path, tensors):
    header, blobs, off = {}, [], 0
    for name, t in tensors.items():
        a = t.contiguous().numpy()
        dtype = {np.dtype("float16"): "F16", np.dtype("int32"): "I32", np.dtype("float32"): "F32"}[a.dtype]
        b = a.tobytes()
        header[name] = {"dtype": dtype, "shape": list(a.shape), "data_offsets": [off, off + len(b)]}
        blobs.append(b)
        off += len(b)
    h = json.dumps(header).encode()
    h += b" " * ((8 - (len(h) + 8) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)) + h)
        for b in blobs:
            f.write(b)


def quantize_dir(src, dst, method, bits, group, desc_act=False):
    cfg, w = torch_ref.load(src)
    os.makedirs(dst, exist_ok=True)
    for f in os.listdir(src):
        if not f.endswith(".safetensors") and f not in ("config.json", "model.safetensors.index.json"):
            shutil.copy(os.path.join(src, f), dst)
    out = {}
    for i, (name, t) in enumerate(sorted(w.items())):
        p = name[:-len(".weight")]
        if name.endswith(".weight") and p.split(".", 3)[-1] in LINEARS:
            if method == "gptq":
                qw, qz, sc, gi = quantize_gptq(t, bits, group, desc_act, i)
                out.update({p + ".qweight": qw, p + ".qzeros": qz, p + ".scales": sc, p + ".g_idx": gi})
            else:
                qw, qz, sc = quantize_awq(t, group)
                out.update({p + ".qweight": qw, p + ".qzeros": qz, p + ".scales": sc})
        else:
            out[name] = t.half()
    write_safetensors(os.path.join(dst, "model.safetensors"), out)
    if method == "gptq":
        cfg["quantization_config"] = {"bits": bits, "damp_percent": 0.01, "desc_act": desc_act,
                                      "group_size": group, "is_marlin_format": False,
                                      "model_file_base_name": "model", "model_name_or_path": None,
                                      "quant_method": "gptq", "static_groups": False, "sym": True,
                                      "true_sequential": True}
    else:
        cfg["quantization_config"] = {"bits": 4, "group_size": group, "modules_to_not_convert": None,
                                      "quant_method": "awq", "version": "gemm", "zero_point": True}
    cfg["torch_dtype"] = "float16"
    with open(os.path.join(dst, "config.json"), "w") as f:
        json.dump(cfg, f, indent=2)


if __name__ == "__main__":
    if len(sys.argv) < 7 or sys.argv[1] != "quantize":
        sys.exit(__doc__)
    quantize_dir(sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5]), int(sys.argv[6]),
                 len(sys.argv) > 7 and sys.argv[7] == "desc_act")
