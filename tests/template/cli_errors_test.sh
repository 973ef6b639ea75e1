#!/usr/bin/env bash
# `modelcar chat-template` on bad input: clear errors naming the file / construct, non-zero exit,
# nothing on stdout.
source "$MODELCAR_SRC/tests/lib/common.sh"
mc_tmpdir
bin=$MODELCAR_BIN
m=$MC_TMP/model
mkdir -p "$m"
echo '[{"role": "user", "content": "hi"}]' > "$MC_TMP/msgs.json"

expect_error() {  # expect_error PATTERN ARGS...
  local pattern=$1; shift
  local out
  out=$(mktemp)
  if "$bin" chat-template "$@" > "$out" 2> "$out.err"; then mc_fail "expected failure: $*"; fi
  [ ! -s "$out" ] || mc_fail "stdout not empty on error: $(head -c 200 "$out")"
  grep -qF -- "$pattern" "$out.err" || mc_fail "stderr lacks '$pattern': $(cat "$out.err")"
  rm -f "$out" "$out.err"
}

expect_error "tokenizer_config.json" "$m" --messages "$MC_TMP/msgs.json"

echo '{"chat_template": "{{ messages | nosuchfilter }}"}' > "$m/tokenizer_config.json"
expect_error "unknown filter 'nosuchfilter'" "$m" --messages "$MC_TMP/msgs.json"

printf '%s' '{"chat_template": "a\n{% include \"x\" %}"}' > "$m/tokenizer_config.json"
expect_error "line 2: unsupported Jinja construct '{% include %}'" "$m" --messages "$MC_TMP/msgs.json"

printf '%s' '{"chat_template": "{% for m in messages %}{{ m.content }}"}' > "$m/tokenizer_config.json"
expect_error "missing '{% endfor %}' to close the block opened on line 1" "$m" --messages "$MC_TMP/msgs.json"

printf '%s' '{"chat_template": "{% if messages[0].role != \"system\" %}{{ raise_exception(\"System message required\") }}{% endif %}"}' \
  > "$m/tokenizer_config.json"
expect_error "System message required" "$m" --messages "$MC_TMP/msgs.json"

echo '{"chat_template": "{{ messages[0].content }}"}' > "$m/tokenizer_config.json"
echo '[{"role": "user", "content": ' > "$MC_TMP/bad.json"
expect_error "bad.json: not valid JSON" "$m" --messages "$MC_TMP/bad.json"
echo '{"role": "user"}' > "$MC_TMP/obj.json"
expect_error "messages must be a JSON array" "$m" --messages "$MC_TMP/obj.json"
echo '{"messages": []}' > "$MC_TMP/kw.json"
expect_error "may not set 'messages'" "$m" --messages "$MC_TMP/msgs.json" --kwargs "$MC_TMP/kw.json"

echo '{"chat_template": "not json' > "$m/tokenizer_config.json"
expect_error "tokenizer_config.json: not valid JSON" "$m" --messages "$MC_TMP/msgs.json"

# Success prints exactly the prompt (no added newline), and chat_template.jinja overrides.
echo '{"chat_template": "{{ messages[0].content }}!"}' > "$m/tokenizer_config.json"
[ "$("$bin" chat-template "$m" --messages "$MC_TMP/msgs.json" | od -An -c | tr -s ' ')" = " h i !" ] ||
  mc_fail "unexpected output"
printf 'J{{ add_generation_prompt }}\n' > "$m/chat_template.jinja"
out=$("$bin" chat-template "$m" --messages "$MC_TMP/msgs.json" --no-generation-prompt)
[ "$out" = "JFalse" ] || mc_fail "chat_template.jinja not used: $out"
echo "PASS"
