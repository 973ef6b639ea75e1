#!/usr/bin/python3
"""A/B of two modelcar binaries on one model, interleaved (A B, B A, ...). Prints each round, the
median [min-max] of each binary and the per-round ratio B/A; the load average before and after.
  decode:   decode tok/s of `generate --json` (1-token prompt, 65 steps) and the process's CPU
            seconds (user + sys, model load included)
  prefill:  prefill tok/s of `generate --json` (512-token prompt), CPU seconds as above
  serveN:   aggregate tok/s through `serve` (fast precision, --max-num-seqs 16) at N streams,
            2N requests of 64 tokens each (bench/serve_load.mjs, node), and the server's CPU
            seconds over the load; a fresh server per run, warmed up with one request
  bench/engine_ab.py decode|prefill|serveN ROUNDS MODEL_DIR BIN_A BIN_B [THREADS]"""
import json
import os
import random
import signal
import statistics
import subprocess
import sys
import time
import urllib.request
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "lib"))
import free_port  # noqa: E402  (tests/lib: ports reserved below the ephemeral range)

mode, rounds, model, bins = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4:6]
threads = sys.argv[6] if len(sys.argv) > 6 else "2"
streams = int(mode[5:]) if mode.startswith("serve") and mode[5:].isdigit() else 0
if mode not in ("decode", "prefill") and streams <= 0:
    sys.exit(__doc__)
load_script = os.path.join(os.path.dirname(os.path.abspath(__file__)), "serve_load.mjs")
rng = random.Random(5)
prompt = [9707] if mode == "decode" else [rng.randrange(151643) for _ in range(512)]
steps = 65 if mode == "decode" else 1
unit = "tok/s"


def run_generate(binary):
    proc = subprocess.Popen([binary, "generate", model, "--prompt-ids", json.dumps(prompt),
                             "--max-tokens", str(steps), "--ignore-eos", "--json", "--threads",
                             threads], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    out = proc.stdout.read()
    _, status, usage = os.wait4(proc.pid, 0)
    if os.waitstatus_to_exitcode(status) != 0:
        sys.exit(f"{binary} exited with {os.waitstatus_to_exitcode(status)}")
    return json.loads(out)["timing"][f"{mode}_tokens_per_second"], usage.ru_utime + usage.ru_stime


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def run_serve(binary):
    port = free_port.reserve(os.getpid())
    url = f"http://127.0.0.1:{port}"
    proc = subprocess.Popen([binary, "serve", model, "--host", "127.0.0.1", "--port", str(port),
                             "--served-model-name", "m", "--threads", threads, "--max-num-seqs",
                             "16", "--precision", "fast"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        t0 = time.monotonic()
        while True:
            if proc.poll() is not None or time.monotonic() - t0 > 120:
                sys.exit(f"{binary} serve did not get ready")
            try:
                with urllib.request.urlopen(url + "/health", timeout=1) as r:
                    if r.status == 200:
                        break
            except OSError:
                time.sleep(0.01)
        load = ["node", load_script, url, "m"]
        subprocess.run(load + ["1", "1", "8"], check=True, capture_output=True)  # warm-up
        cpu0 = cpu_seconds(proc.pid)
        out = subprocess.run(load + [str(streams), str(2 * streams), "64"], check=True,
                             capture_output=True, text=True).stdout
        return json.loads(out)["tok_s"], cpu_seconds(proc.pid) - cpu0
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait()


def load():
    return open("/proc/loadavg").read().split()[0]


run = run_serve if streams else run_generate
res = ([], [])
loads = [load()]
for i in range(rounds):
    for who in ((0, 1) if i % 2 == 0 else (1, 0)):
        res[who].append(run(bins[who]))
    (ta, ca), (tb, cb) = res[0][-1], res[1][-1]
    print(f"round {i + 1}: A {ta:.2f} {unit} {ca:.2f} CPU-s | B {tb:.2f} {unit} {cb:.2f} CPU-s",
          flush=True)
loads.append(load())
for who in (0, 1):
    tok = [r[0] for r in res[who]]
    cpu = [r[1] for r in res[who]]
    print(f"{'AB'[who]} {bins[who]}: {mode} {unit} {statistics.median(tok):.2f} "
          f"[{min(tok):.2f}-{max(tok):.2f}], CPU-s {statistics.median(cpu):.2f} "
          f"[{min(cpu):.2f}-{max(cpu):.2f}]")
ratios = sorted(b[0] / a[0] for a, b in zip(*res))
print(f"B/A {unit} per round: median {statistics.median(ratios):.3f} "
      f"[{ratios[0]:.3f}-{ratios[-1]:.3f}]; load average {' -> '.join(loads)}")
