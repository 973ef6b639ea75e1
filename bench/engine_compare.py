#!/usr/bin/python3
"""Runs modelcar and llama.cpp side by side on the same weights and prints the ratio table.
Called by bench/engine.sh (which builds everything and writes the model and the GGUF)."""
import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "lib"))
import free_port  # noqa: E402  (tests/lib: ports reserved below the ephemeral range)

p = argparse.ArgumentParser()
p.add_argument("--modelcar", required=True)
p.add_argument("--llama-bin", required=True)
p.add_argument("--model", required=True)
p.add_argument("--gguf", required=True)
p.add_argument("--membw", required=True)
p.add_argument("--runs", type=int, default=5)
p.add_argument("--serve-rounds", type=int, default=1)
p.add_argument("--load-script", required=True)
p.add_argument("--precision", default="fast")
p.add_argument("--threads", type=int, default=2)
p.add_argument("--variant", nargs=4, action="append", default=[],
               metavar=("LABEL", "MODEL_DIR", "MODELCAR_ARGS", "GGUF"),
               help="a decode-only pair: modelcar on MODEL_DIR with MODELCAR_ARGS (space-separated, "
                    "may be empty) against llama-bench on GGUF; repeatable")
a = p.parse_args()
MC, BIN, T = a.modelcar, a.llama_bin, str(a.threads)


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def load():
    return open("/proc/loadavg").read().split()[0]


def run(cmd):
    """Runs cmd; returns (stdout, the child's peak RSS in MiB)."""
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    out = proc.stdout.read()
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise SystemExit(f"{cmd[0]} exited with {proc.returncode}")
    return out, usage.ru_maxrss / 1024  # KiB


def mc_generate(ids, tokens, model=None, extra=()):
    out, rss = run([MC, "generate", model or a.model, "--prompt-ids", json.dumps(ids),
                    "--max-tokens", str(tokens), "--ignore-eos", "--json", "--threads", T,
                    "--precision", a.precision, *extra])
    return json.loads(out)["timing"], rss


def llama_bench(n_prompt, n_gen, gguf=None):
    out, rss = run([os.path.join(BIN, "llama-bench"), "-m", gguf or a.gguf, "-t", T, "-p", str(n_prompt),
                    "-n", str(n_gen), "-r", "1", "-o", "json"])
    return json.loads(out)[0]["avg_ts"], rss


rng = random.Random(5)
prompt512 = [rng.randrange(151643) for _ in range(512)]
rows = {}  # name -> (modelcar values, llama values)
rss = {"modelcar generate": 0.0, "llama-bench": 0.0}


def add(name, mc, lc):
    rows.setdefault(name, ([], []))
    rows[name][0].append(mc)
    rows[name][1].append(lc)


# 1. Memory-read limit.
membw = {}
if os.path.exists(a.membw):
    for t in (1, 2):
        out = subprocess.run([a.membw, str(t)], check=True, capture_output=True, text=True).stdout
        membw[t] = float(out.split(":")[1].split()[0])
weight_bytes = os.path.getsize(os.path.join(a.model, "model.safetensors"))

# 2. Decode at batch 1 and prefill at 512, interleaved.
log(f"decode and prefill: {a.runs} interleaved runs (load {load()})")
loads = [load()]
for i in range(a.runs):
    order = [0, 1] if i % 2 == 0 else [1, 0]
    for who in order:
        if who == 0:
            t, r = mc_generate([9707], 129)
            d = t["decode_tokens_per_second"]
            t2, r2 = mc_generate(prompt512, 1)
            pf = t2["prefill_tokens_per_second"]
            rss["modelcar generate"] = max(rss["modelcar generate"], r, r2)
            mc = (d, pf)
        else:
            d, r = llama_bench(0, 128)
            pf, r2 = llama_bench(512, 0)
            rss["llama-bench"] = max(rss["llama-bench"], r, r2)
            lc = (d, pf)
    add("decode tok/s, batch 1", mc[0], lc[0])
    add("prefill tok/s, 512 tokens", mc[1], lc[1])
    log(f"  run {i + 1}: decode {mc[0]:.1f} vs {lc[0]:.1f}, prefill {mc[1]:.1f} vs {lc[1]:.1f}")

# 2b. Decode of the other weights (quantized, other architectures): modelcar and llama.cpp
# interleaved per variant, alternating which goes first. A variant of the bf16 model's shape is
# also compared with modelcar's own bf16 decode run right after it: on a VM whose memory
# bandwidth moves by half from minute to minute, a ratio of runs made minutes apart (section 2's
# bf16 against this section's) measures the machine as much as the engine.
shape = lambda d: json.load(open(os.path.join(d, "config.json")))["hidden_size"]
own = {}  # label -> [variant tok/s / bf16 tok/s of the run right after it]
for i in range(a.runs if a.variant else 0):
    for j, (label, model, extra, gguf) in enumerate(a.variant):
        first_mc = (i + j) % 2 == 0
        for who in ([0, 1] if first_mc else [1, 0]):
            if who == 0:
                t, _ = mc_generate([9707], 129, model, extra.split())
                mc = t["decode_tokens_per_second"]
                bf16 = None
                if shape(model) == shape(a.model):
                    t, _ = mc_generate([9707], 129)
                    bf16 = t["decode_tokens_per_second"]
                    own.setdefault(label, []).append(mc / bf16)
            else:
                lc, _ = llama_bench(0, 128, gguf)
        add(f"decode tok/s, batch 1, {label}", mc, lc)
        after = f", modelcar bf16 right after {bf16:.1f}" if bf16 else ""
        log(f"  run {i + 1}, {label}: decode {mc:.1f} vs {lc:.1f}{after} (load {load()})")
loads.append(load())


# 3. Serving: one server at a time, 4 and 16 streams.
def server_log_tail(f):
    f.flush()
    f.seek(0)
    return "".join(f.read().decode(errors="replace").splitlines(True)[-20:])


def serve(name, cmd, port, levels):
    t0 = time.monotonic()
    # The server's log in a temporary file: its last lines are printed if a level fails.
    log_file = tempfile.TemporaryFile()
    proc = subprocess.Popen(cmd, stdout=log_file, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    ready = None
    try:
        while time.monotonic() - t0 < 120:
            if proc.poll() is not None:
                raise SystemExit(f"{name} exited with {proc.returncode}")
            try:
                with urllib.request.urlopen(url + "/health", timeout=1) as r:
                    if r.status == 200:
                        ready = time.monotonic() - t0
                        break
            except OSError:
                time.sleep(0.01)
        if ready is None:
            raise SystemExit(f"{name} not ready after 120 s")
        subprocess.run(["node", a.load_script, url, "m", "1", "1", "8"], check=True,
                       capture_output=True)  # warm-up
        res = {}
        for c, n in levels:
            log(f"  {name}: {c} streams, {n} requests x 128 tokens (load {load()})")
            run = subprocess.run(["node", a.load_script, url, "m", str(c), str(n), "128"],
                                 capture_output=True, text=True)
            if run.returncode != 0:
                raise SystemExit(f"{name}: serve_load.mjs failed at {c} streams (exit "
                                 f"{run.returncode}, server {'running' if proc.poll() is None else f'exited with {proc.returncode}'}): "
                                 f"{run.stderr.strip()[-1500:]}\nthe server's last lines:\n"
                                 f"{server_log_tail(log_file)}")
            res[c] = json.loads(run.stdout)
            if res[c].get("retries"):
                log(f"  note: {name} closed {res[c]['retries']} kept-alive connection(s) unanswered "
                    f"at {c} streams; those requests were sent again (times from the first try)")
            if res[c]["tokens_min"] != 128 or res[c]["tokens_max"] != 128:
                log(f"  warning: {name} generated {res[c]['tokens_min']}-{res[c]['tokens_max']} tokens")
        with open(f"/proc/{proc.pid}/status") as f:
            hwm = next(int(l.split()[1]) for l in f if l.startswith("VmHWM")) / 1024
        return ready, res, hwm
    finally:
        proc.terminate()
        proc.wait()


levels = [(4, 16), (16, 32)]
for rnd in range(a.serve_rounds):
    port = free_port.reserve(os.getpid())
    mc_cmd = [MC, "serve", a.model, "--host", "127.0.0.1", "--port", str(port),
              "--served-model-name", "m", "--threads", T, "--max-num-seqs", "16", "--precision",
              a.precision]
    lc_cmd = [os.path.join(BIN, "llama-server"), "-m", a.gguf, "--host", "127.0.0.1", "--port",
              str(port), "-a", "m", "--jinja", "-t", T, "-tb", T, "-np", "16", "-c",
              str(16 * (128 + 256))]
    order = [("modelcar", mc_cmd), ("llama.cpp", lc_cmd)]
    if rnd % 2:
        order.reverse()
    got = {}
    for name, cmd in order:
        got[name] = serve(name, cmd, port, levels)
    (mr, mres, mh), (lr, lres, lh) = got["modelcar"], got["llama.cpp"]
    add("load to ready, s (serve start to /health 200)", mr, lr)
    for c, _ in levels:
        add(f"serve {c} streams: aggregate tok/s", mres[c]["tok_s"], lres[c]["tok_s"])
        add(f"serve {c} streams: TTFT p50, ms", mres[c]["ttft_p50_ms"], lres[c]["ttft_p50_ms"])
        add(f"serve {c} streams: TTFT p99, ms", mres[c]["ttft_p99_ms"], lres[c]["ttft_p99_ms"])
    add("serve peak RSS, MiB", mh, lh)
loads.append(load())

# 4. The table.
def fmt(v):
    med = statistics.median(v)
    s = f"{med:.3f}" if med < 10 else f"{med:.1f}"
    if len(v) > 1:
        lo, hi = min(v), max(v)
        s += f" [{lo:.3f}-{hi:.3f}]" if med < 10 else f" [{lo:.1f}-{hi:.1f}]"
    return s


lower_better = ("TTFT", "load to ready", "RSS")
print(f"modelcar {a.precision} precision vs llama.cpp, {T} threads, {os.cpu_count()} cores; "
      f"median [min-max] of {a.runs} interleaved runs ({a.serve_rounds} for serve); "
      f"load average {' -> '.join(loads)}")
print("| measure | modelcar | llama.cpp | modelcar / llama.cpp |")
print("| --- | --- | --- | --- |")
for name, (m, l) in rows.items():
    ratio = statistics.median(m) / statistics.median(l)
    note = " (lower is better)" if any(k in name for k in lower_better) else ""
    print(f"| {name} | {fmt(m)} | {fmt(l)} | {ratio:.2f}x{note} |")
if a.runs:
    print(f"| peak RSS, MiB (generate / llama-bench) | {rss['modelcar generate']:.0f} | "
          f"{rss['llama-bench']:.0f} | |")
for label, ratios in own.items():
    print(f"| modelcar decode, {label} / modelcar bf16 decode run right after it | "
          f"{statistics.median(ratios):.2f}x [{min(ratios):.2f}-{max(ratios):.2f}] | | |")
if membw and a.runs:
    dec = statistics.median(rows["decode tok/s, batch 1"][0])
    ldec = statistics.median(rows["decode tok/s, batch 1"][1])
    print(f"| memory-read limit (bench/membw.c), GB/s | 1 thread {membw[1]:.1f}, 2 threads "
          f"{membw[2]:.1f} | | |")
    print(f"| decode weight reads (988 MB x tok/s), GB/s | {weight_bytes * dec / 1e9:.1f} "
          f"({weight_bytes * dec / 1e9 / membw[2] * 100:.0f}% of 2-thread limit) | "
          f"{weight_bytes * ldec / 1e9:.1f} | |")
