#!/usr/bin/env bash
# Benchmark: modelcar's CPU engine against the PyTorch reference forward (Debian python3-torch,
# f32 weights, 2 threads, same KV-cached algorithm as tests/engine/torch_ref.py) on the
# Qwen2.5-0.5B-shaped synthetic model: prefill of a PROMPT-token prompt and DECODE greedy steps.
#   bench/engine.sh [PROMPT] [DECODE] [RUNS]      defaults: 300 64 3 (best run of each counts)
# Also prints decode's effective weight bandwidth (bf16 weight bytes x tokens/s) to compare with
# the machine's DRAM read bandwidth (~34.5 GB/s two threads, PEERS.md).
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
prompt=${1:-300}
decode=${2:-64}
runs=${3:-3}
"$here/scripts/setup" test >/dev/null
export MODELCAR_NPM_DIR=$("$here/scripts/npm-deps" demo)
MC=${MODELCAR_BIN:-$("$here/scripts/build" release modelcar)/modelcar}
work=$(mktemp -d /var/tmp/modelcar-bench-engine-XXXXXX)
trap 'rm -rf "$work"' EXIT
"$MC" testmodel --shape qwen2.5-0.5b --out "$work/m" --seed 1 2>/dev/null
cat "$work/m/model.safetensors" > /dev/null
ids=$(/usr/bin/python3 -c "import json,random; r=random.Random(5); print(json.dumps([r.randrange(151643) for _ in range($prompt)]))")

best_pp=0 best_tg=0
for run in $(seq 1 "$runs"); do
  out=$("$MC" generate "$work/m" --prompt-ids "$ids" --max-tokens "$decode" --ignore-eos --json)
  read -r pp tg < <(echo "$out" | /usr/bin/python3 -c 'import json,sys; t=json.load(sys.stdin)["timing"]; print(t["prefill_tokens_per_second"], t["decode_tokens_per_second"])')
  best_pp=$(/usr/bin/python3 -c "print(max($best_pp, $pp))")
  best_tg=$(/usr/bin/python3 -c "print(max($best_tg, $tg))")
done

read -r tpp ttg < <(/usr/bin/python3 - "$work/m" "$ids" "$decode" "$runs" "$here/tests/engine" <<'PY'
import json, sys, time
sys.path.insert(0, sys.argv[5])
import torch
import torch_ref
cfg, w = torch_ref.load(sys.argv[1])
ids = json.loads(sys.argv[2]); steps = int(sys.argv[3]); runs = int(sys.argv[4])
best_pp = best_tg = 0.0
with torch.no_grad():
    for _ in range(runs):
        m = torch_ref.Model(cfg, w)
        t0 = time.perf_counter(); logits = m.forward(ids)[-1]; t1 = time.perf_counter()
        tok = int(torch.argmax(logits))
        t2 = time.perf_counter()
        for _ in range(steps - 1):
            tok = int(torch.argmax(m.forward([tok])[-1]))
        t3 = time.perf_counter()
        best_pp = max(best_pp, len(ids) / (t1 - t0))
        best_tg = max(best_tg, (steps - 1) / (t3 - t2))
print(best_pp, best_tg)
PY
)
bytes=$(stat -c %s "$work/m/model.safetensors")
/usr/bin/python3 - "$best_pp" "$best_tg" "$tpp" "$ttg" "$bytes" "$prompt" "$decode" <<'PY'
import sys
pp, tg, tpp, ttg, b, n, d = map(float, sys.argv[1:])
print(f"| prefill {int(n)} tokens | modelcar {pp:.1f} tok/s | torch f32 {tpp:.1f} tok/s | ratio {pp/tpp:.2f}x |")
print(f"| decode {int(d)} tokens | modelcar {tg:.1f} tok/s | torch f32 {ttg:.1f} tok/s | ratio {tg/ttg:.2f}x |")
print(f"| decode weight bandwidth | modelcar {b*tg/1e9:.1f} GB/s | (DRAM ~34.5 GB/s) | {b*tg/1e9/34.5*100:.0f}% |")
PY
