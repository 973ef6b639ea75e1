// `modelcar serve --reasoning-parser qwen3` on a Qwen3-style model (its template writes
// <think>\n\n</think> when enable_thinking is false; the server default here is false, from
// --default-chat-template-kwargs), through the official openai SDK. The model has random weights:
// allowed_token_ids / logit_bias make it write <think> and </think>, and the expected split is
// computed here from the raw token ids.
// Usage: node reasoning.cjs BASE_URL MODEL
const { OpenAI } = require('openai');
const Ajv = require('ajv').default;
const assert = require('node:assert/strict');

const [base, model] = process.argv.slice(2);
const client = new OpenAI({ baseURL: base + '/v1', apiKey: 'x', maxRetries: 0, timeout: 120000 });
const msgs = [{ role: 'user', content: 'Think, then answer.' }];
const post = async (path, body) => (await fetch(base + path, { method: 'POST',
  headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) })).json();
const id = async (text) => {
  const t = (await post('/tokenize', { model, prompt: text })).tokens;
  assert.equal(t.length, 1, text);
  return t[0];
};
const decode = async (tokens) => (await post('/detokenize', { model, tokens })).prompt;
const thinking = { chat_template_kwargs: { enable_thinking: true } };

// vLLM's split of an output that starts inside the reasoning: up to the first </think>.
function split(raw) {
  const k = raw.indexOf('</think>');
  return k < 0 ? { reasoning: raw, content: '' } : { reasoning: raw.slice(0, k), content: raw.slice(k + 8) };
}

async function streamed(args) {
  const s = await client.chat.completions.create({ ...args, stream: true });
  let reasoning = '', content = '', sawReasoning = false;
  for await (const c of s) {
    const d = c.choices[0]?.delta || {};
    if (d.reasoning !== undefined) { sawReasoning = true; reasoning += d.reasoning; }
    content += d.content || '';
  }
  return { reasoning, content, sawReasoning };
}

const tests = {
  async templateKwargsDefaultAndOverride() {
    const off = await client.chat.completions.create({ model, messages: msgs, max_tokens: 1,
      return_prompt_text: true });
    assert.match(off.prompt_text, /<think>\n\n<\/think>\n\n$/, 'server default: thinking off');
    const on = await client.chat.completions.create({ model, messages: msgs, max_tokens: 1,
      return_prompt_text: true, ...thinking });
    assert.ok(!on.prompt_text.includes('<think>'), 'the request wins');
    const effort = await client.chat.completions.create({ model, messages: msgs, max_tokens: 1,
      return_prompt_text: true, reasoning_effort: 'low' });
    assert.ok(!effort.prompt_text.includes('<think>'), 'reasoning_effort enables thinking');
  },

  async splitWhenThePromptOpensTheThought() {
    // The assistant turn is prefilled with "<think>": the output starts inside the reasoning.
    const open = [...msgs, { role: 'assistant', content: '<think>' }];
    const allowed = [await id('</think>'), await id(' sea'), await id(' wave'), await id('!')];
    for (const seed of [1, 2, 3, 4]) {
      const args = { model, messages: open, add_generation_prompt: false,
        continue_final_message: true, max_tokens: 12, ignore_eos: true, seed,
        allowed_token_ids: allowed, return_token_ids: true, ...thinking };
      const r = await client.chat.completions.create(args);
      const raw = await decode(r.choices[0].token_ids);
      const want = split(raw);
      assert.equal(r.choices[0].message.reasoning ?? '', want.reasoning, `seed ${seed}: ${raw}`);
      assert.equal(r.choices[0].message.content ?? '', want.content, `seed ${seed}: ${raw}`);
      const s = await streamed(args);
      assert.equal(s.reasoning, want.reasoning);
      assert.equal(s.content, want.content);
      // include_reasoning false: the same content, no reasoning.
      const hidden = await client.chat.completions.create({ ...args, include_reasoning: false });
      assert.equal(hidden.choices[0].message.reasoning, null);
      assert.equal(hidden.choices[0].message.content ?? '', want.content);
      const hs = await streamed({ ...args, include_reasoning: false });
      assert.equal(hs.sawReasoning, false);
    }
  },

  async qwen3DetectsALeadingThink() {
    const think = await id('<think>');
    const r = await client.chat.completions.create({ model, messages: msgs, max_tokens: 4,
      ignore_eos: true, temperature: 0, allowed_token_ids: [think, await id(' sea')],
      logit_bias: { [think]: 100 }, ...thinking });
    assert.equal(r.choices[0].message.reasoning, '<think>'.repeat(3), 'the leading tag is dropped');
    assert.equal(r.choices[0].message.content, null, 'no content: null, as vLLM');
    // Thinking off: the prompt closed the thought; tags in the output are content.
    const off = await client.chat.completions.create({ model, messages: msgs, max_tokens: 4,
      ignore_eos: true, temperature: 0, allowed_token_ids: [think, await id(' sea')],
      logit_bias: { [think]: 100 } });
    assert.equal(off.choices[0].message.reasoning, null);
    assert.equal(off.choices[0].message.content, '<think>'.repeat(4));
  },

  async structuredOutputAfterTheReasoning() {
    const schema = { type: 'object', properties: { ok: { type: 'boolean' } }, required: ['ok'],
      additionalProperties: false };
    const end = await id('</think>');
    const open = [...msgs, { role: 'assistant', content: '<think>' }];
    const r = await client.chat.completions.create({ model, messages: open,
      add_generation_prompt: false, continue_final_message: true, max_tokens: 200, temperature: 0,
      logit_bias: { [end]: 100 }, response_format: { type: 'json_schema',
        json_schema: { name: 'r', schema } }, ...thinking });
    const m = r.choices[0].message;
    assert.equal(m.reasoning ?? '', '', 'the thought ended at once');
    assert.equal(r.choices[0].finish_reason, 'stop', m.content);
    const v = JSON.parse(m.content);
    assert.ok(new Ajv().compile(schema)(v), m.content);
  },
};

require('./run_tests.cjs')(tests);
