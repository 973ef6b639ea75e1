#!/usr/bin/python3
"""A/B of two modelcar binaries on one model, interleaved (A B, B A, ...): decode tok/s (1-token
prompt, 65 steps) or prefill tok/s (512-token prompt) from `generate --json`, and the process's
CPU seconds (user + sys, model load included). Prints each round, the median [min-max] of each
binary and the per-round ratio B/A; the load average before and after.
  bench/engine_ab.py decode|prefill ROUNDS MODEL_DIR BIN_A BIN_B [THREADS]"""
import json
import os
import random
import statistics
import subprocess
import sys

mode, rounds, model, bins = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4:6]
threads = sys.argv[6] if len(sys.argv) > 6 else "2"
if mode not in ("decode", "prefill"):
    sys.exit(__doc__)
rng = random.Random(5)
prompt = [9707] if mode == "decode" else [rng.randrange(151643) for _ in range(512)]
steps = 65 if mode == "decode" else 1
key = f"{mode}_tokens_per_second"


def run(binary):
    proc = subprocess.Popen([binary, "generate", model, "--prompt-ids", json.dumps(prompt),
                             "--max-tokens", str(steps), "--ignore-eos", "--json", "--threads",
                             threads], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    out = proc.stdout.read()
    _, status, usage = os.wait4(proc.pid, 0)
    if os.waitstatus_to_exitcode(status) != 0:
        sys.exit(f"{binary} exited with {os.waitstatus_to_exitcode(status)}")
    return json.loads(out)["timing"][key], usage.ru_utime + usage.ru_stime


def load():
    return open("/proc/loadavg").read().split()[0]


res = ([], [])
loads = [load()]
for i in range(rounds):
    for who in ((0, 1) if i % 2 == 0 else (1, 0)):
        res[who].append(run(bins[who]))
    (ta, ca), (tb, cb) = res[0][-1], res[1][-1]
    print(f"round {i + 1}: A {ta:.2f} tok/s {ca:.2f} CPU-s | B {tb:.2f} tok/s {cb:.2f} CPU-s",
          flush=True)
loads.append(load())
for who in (0, 1):
    tok = [r[0] for r in res[who]]
    cpu = [r[1] for r in res[who]]
    print(f"{'AB'[who]} {bins[who]}: {mode} tok/s {statistics.median(tok):.2f} "
          f"[{min(tok):.2f}-{max(tok):.2f}], CPU-s {statistics.median(cpu):.2f} "
          f"[{min(cpu):.2f}-{max(cpu):.2f}]")
ratios = sorted(b[0] / a[0] for a, b in zip(*res))
print(f"B/A tok/s per round: median {statistics.median(ratios):.3f} "
      f"[{ratios[0]:.3f}-{ratios[-1]:.3f}]; load average {' -> '.join(loads)}")
