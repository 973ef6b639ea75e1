#!/usr/bin/python3
"""Qwen3, Llama 3.x and Mistral: the engine (exact precision) against the PyTorch reference
(torch_ref.py, written from transformers' modeling code) on the tiny synthetic models of each
architecture.

Per shape: last-position logits of prompts of 1, 17 and 300 tokens within TOL relative
(max |diff| over the vocab / max |ref|), and 32 greedy tokens identical. llama3-tiny carries
Llama 3.2's config (rope_scaling llama3 with factor 32, tied embeddings), qwen3-tiny q/k norms and
head_dim * heads != hidden_size, mistral-tiny Mistral 7B v0.3's config.
  arch_vs_torch.py [qwen3-tiny|llama3-tiny|mistral-tiny ...]     (default: all)
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
TOL = 1e-5


def generate(model_dir, ids, steps, dump):
    out = subprocess.run(
        [MODELCAR, "generate", model_dir, "--prompt-ids", json.dumps(ids), "--max-tokens", str(steps),
         "--temperature", "0", "--ignore-eos", "--json", "--precision", "exact", "--dump-logits", dump],
        check=True, capture_output=True, text=True)
    return json.loads(out.stdout)


def check_shape(shape, tmp, failures):
    d = os.path.join(tmp, shape)
    subprocess.run([MODELCAR, "testmodel", "--shape", shape, "--out", d, "--seed", "7", "--no-tokenizer"],
                   check=True, capture_output=True)
    cfg, w = torch_ref.load(d)
    vocab = cfg["vocab_size"]
    rng = random.Random(42)
    for n in (1, 17, 300):
        ids = [rng.randrange(3, vocab - 1000) for _ in range(n)]  # ordinary ids
        steps = 32 if n == 17 else 4
        dump = os.path.join(tmp, "logits.f32")
        ours = generate(d, ids, steps, dump)
        got = np.fromfile(dump, dtype="<f4")
        m = torch_ref.Model(cfg, w)
        with torch.no_grad():
            logits = m.forward(ids)[-1]
            ref = logits.numpy()
            greedy = []
            for _ in range(steps):
                t = int(torch.argmax(logits))
                greedy.append(t)
                logits = m.forward([t])[-1]
        assert got.shape == (vocab,), got.shape
        rel = float(np.max(np.abs(got - ref)) / np.max(np.abs(ref)))
        same = ours["ids"] == greedy
        print(f"{shape} prompt={n}: rel={rel:.2e} greedy {steps} steps identical={same}"
              f" (ref max |logit| {np.max(np.abs(ref)):.2f})", flush=True)
        if not rel < TOL:
            failures.append(f"{shape} prompt {n}: logits rel diff {rel:.3e} >= {TOL}")
        if not same:
            failures.append(f"{shape} prompt {n}: greedy {ours['ids']} != torch {greedy}")


def main():
    shapes = sys.argv[1:] or ["qwen3-tiny", "llama3-tiny", "mistral-tiny"]
    failures = []
    with tempfile.TemporaryDirectory(prefix="modelcar-arch-") as tmp:
        for shape in shapes:
            check_shape(shape, tmp, failures)
    if failures:
        print("FAIL:\n  " + "\n  ".join(failures), file=sys.stderr)
        sys.exit(1)
    print("PASS")


if __name__ == "__main__":
    main()
