#!/usr/bin/python3
"""The engine's fast precision (bf16 matrix inputs and KV cache) against the float32 PyTorch
reference (torch_ref.py).

Teacher forcing on the Qwen2.5-0.5B-shaped model: one prompt of 512 random ids, the logits of every
position from `modelcar generate --precision fast --dump-prompt-logits` against torch's forward of
the same ids. At every position max |logit error| <= 2% of max |ref logit|, and the top-1 token is
the same at >= 99% of positions. On the tiny model: 32 greedy tokens identical to torch's.
  fast_vs_torch.py [qwen2.5-0.5b|tiny ...]     (default: both)
"""
import json
import os
import random
import subprocess
import sys
import tempfile

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import torch_ref  # noqa: E402

MODELCAR = os.environ["MODELCAR_BIN"]
POSITIONS = 512
MAX_ERR = 0.02
MIN_TOP1 = 0.99


def generate(model_dir, ids, steps, extra):
    out = subprocess.run(
        [MODELCAR, "generate", model_dir, "--prompt-ids", json.dumps(ids), "--max-tokens", str(steps),
         "--temperature", "0", "--ignore-eos", "--json", "--precision", "fast"] + extra,
        check=True, capture_output=True, text=True)
    return json.loads(out.stdout)


def teacher_forcing(d, tmp, failures):
    cfg, w = torch_ref.load(d)
    vocab = cfg["vocab_size"]
    rng = random.Random(42)
    ids = [rng.randrange(0, 151643) for _ in range(POSITIONS)]
    dump = os.path.join(tmp, "prompt_logits.f32")
    generate(d, ids, 1, ["--dump-prompt-logits", dump])
    got = np.fromfile(dump, dtype="<f4").reshape(POSITIONS, vocab)
    os.remove(dump)
    with torch.no_grad():
        ref = torch_ref.Model(cfg, w).forward(ids).numpy()
    err = np.max(np.abs(got - ref), axis=1) / np.max(np.abs(ref), axis=1)
    top1 = float(np.mean(np.argmax(got, axis=1) == np.argmax(ref, axis=1)))
    worst = int(np.argmax(err))
    print(f"teacher forcing {POSITIONS} positions: max |err| / max |logit| = {err.max():.4f} "
          f"(position {worst}), median {np.median(err):.4f}; same top-1 at {top1 * 100:.2f}% of "
          f"positions", flush=True)
    if not err.max() <= MAX_ERR:
        failures.append(f"logit error {err.max():.4f} of max |logit| at position {worst} > {MAX_ERR}")
    if not top1 >= MIN_TOP1:
        failures.append(f"same top-1 at {top1 * 100:.2f}% of positions < {MIN_TOP1 * 100:.0f}%")


def greedy(d, failures):
    cfg, w = torch_ref.load(d)
    rng = random.Random(42)
    ids = [rng.randrange(0, 151643) for _ in range(17)]
    ours = generate(d, ids, 32, [])["ids"]
    m = torch_ref.Model(cfg, w)
    with torch.no_grad():
        logits = m.forward(ids)[-1]
        ref = []
        for _ in range(32):
            t = int(torch.argmax(logits))
            ref.append(t)
            logits = m.forward([t])[-1]
    same = sum(a == b for a, b in zip(ours, ref))
    print(f"greedy 32 tokens: {same} identical to torch's", flush=True)
    if ours != ref:
        failures.append(f"greedy {ours} != torch {ref}")


def main():
    shapes = sys.argv[1:] or ["qwen2.5-0.5b", "tiny"]
    failures = []
    with tempfile.TemporaryDirectory(prefix="modelcar-fast-") as tmp:
        for shape in shapes:
            d = os.path.join(tmp, shape)
            subprocess.run([MODELCAR, "testmodel", "--shape", shape, "--out", d, "--seed", "7"],
                           check=True)
            print(shape, flush=True)
            if shape == "tiny":
                greedy(d, failures)
            else:
                teacher_forcing(d, tmp, failures)
    if failures:
        print("FAIL:\n  " + "\n  ".join(failures), file=sys.stderr)
        sys.exit(1)
    print("PASS")


if __name__ == "__main__":
    main()
