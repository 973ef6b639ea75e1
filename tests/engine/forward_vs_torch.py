#!/usr/bin/python3
"""The engine's exact precision (f32 activations and KV cache) against the PyTorch reference
(torch_ref.py) on synthetic models.

For the tiny and the Qwen2.5-0.5B-shaped model: last-position logits of prompts of 1, 17 and 300
tokens within 1e-5 relative (max |diff| over the vocab / max |ref|), and 32 greedy tokens
identical. Models are written by `modelcar testmodel` into a temp dir. (fast_vs_torch.py tests
the fast precision.)
  forward_vs_torch.py [tiny|qwen2.5-0.5b ...]     (default: both)
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


def main():
    shapes = sys.argv[1:] or ["tiny", "qwen2.5-0.5b"]
    failures = []
    with tempfile.TemporaryDirectory(prefix="modelcar-engine-") as tmp:
        for shape in shapes:
            d = os.path.join(tmp, shape)
            subprocess.run([MODELCAR, "testmodel", "--shape", shape, "--out", d, "--seed", "7"], check=True)
            cfg, w = torch_ref.load(d)
            vocab = cfg["vocab_size"]
            rng = random.Random(42)
            for n in (1, 17, 300):
                # Ordinary vocabulary ids (below the added tokens).
                ids = [rng.randrange(0, 151643) for _ in range(n)]
                steps = 32 if n == 17 else 4
                ours = generate(d, ids, steps, os.path.join(tmp, "logits.f32"))
                got = np.fromfile(os.path.join(tmp, "logits.f32"), dtype="<f4")
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
            del w
    if failures:
        print("FAIL:\n  " + "\n  ".join(failures), file=sys.stderr)
        sys.exit(1)
    print("PASS")


if __name__ == "__main__":
    main()
