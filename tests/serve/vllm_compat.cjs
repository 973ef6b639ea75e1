// vLLM compatibility of `modelcar serve`, driven by the official openai SDK (and fetch for the
// routes the SDK has no method for): generation defaults, request fields, routes and headers.
// Usage: node vllm_compat.cjs BASE_URL MODEL_ID SERVE_LOG
const { OpenAI } = require('openai');
const assert = require('node:assert/strict');
const fs = require('node:fs');

const [base, model, logPath] = process.argv.slice(2);
const client = new OpenAI({ baseURL: base + '/v1', apiKey: 'x', maxRetries: 0, timeout: 120000 });
const msgs = [{ role: 'user', content: 'Write a haiku about the sea.' }];

async function post(path, body, headers = {}) {
  const r = await fetch(base + path, {
    method: 'POST', headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify(body),
  });
  return { status: r.status, headers: r.headers, body: await r.json() };
}

async function expectError(body, param, re, path = '/v1/chat/completions') {
  const r = await post(path, body);
  assert.equal(r.status, 400, JSON.stringify(r.body));
  assert.equal(r.body.error.param, param, JSON.stringify(r.body));
  if (re) assert.match(r.body.error.message, re);
}

async function tokenize(text) {
  return (await post('/tokenize', { model, prompt: text })).body.tokens;
}

const chat = (extra) => client.chat.completions.create({ model, messages: msgs, max_tokens: 8, ...extra });

const tests = {
  // The model's generation_config.json (temperature 0.7, top_p 0.8, top_k 20,
  // repetition_penalty 1.05) fills what a request leaves out, as in vLLM.
  async generationDefaults() {
    const log = fs.readFileSync(logPath, 'utf8');
    assert.match(log, /Using default chat sampling params from model: \{'repetition_penalty': 1\.05, 'temperature': 0\.7, 'top_k': 20, 'top_p': 0\.8\}/);
    assert.match(log, /Using default completion sampling params from model:/);
    const implicit = await chat({ seed: 11, max_tokens: 12, ignore_eos: true });
    const explicit = await chat({ seed: 11, max_tokens: 12, ignore_eos: true, temperature: 0.7,
      top_p: 0.8, top_k: 20, repetition_penalty: 1.05 });
    assert.equal(implicit.choices[0].message.content, explicit.choices[0].message.content);
    // vLLM's neutral values sample differently (the same seed, another distribution).
    const neutral = await chat({ seed: 11, max_tokens: 12, ignore_eos: true, temperature: 1,
      top_p: 1, top_k: 0, repetition_penalty: 1 });
    assert.notEqual(neutral.choices[0].message.content, implicit.choices[0].message.content);
  },

  async logitBiasAllowedAndBadWords() {
    const ids = await tokenize(' ocean');
    assert.equal(ids.length, 1);
    const forced = await chat({ temperature: 0, logit_bias: { [ids[0]]: 100 }, max_tokens: 4,
      ignore_eos: true, return_token_ids: true, repetition_penalty: 1 });
    assert.deepEqual(forced.choices[0].token_ids, [ids[0], ids[0], ids[0], ids[0]]);
    assert.equal(forced.choices[0].message.content, ' ocean'.repeat(4));
    const allowed = [ids[0], ...(await tokenize(' wave')), ...(await tokenize(' sand'))];
    const r = await chat({ seed: 3, allowed_token_ids: allowed, max_tokens: 10, ignore_eos: true,
      return_token_ids: true });
    assert.equal(r.choices[0].token_ids.length, 10);
    for (const t of r.choices[0].token_ids) assert.ok(allowed.includes(t), `token ${t}`);
    // A bad word is never generated: ban the greedy first token's text.
    const greedy = await chat({ temperature: 0, max_tokens: 3, ignore_eos: true,
      return_token_ids: true });
    const first = greedy.choices[0].token_ids[0];
    const word = (await post('/detokenize', { model, tokens: [first] })).body.prompt;
    if (word.trim().length > 0) {
      const banned = await chat({ temperature: 0, max_tokens: 3, ignore_eos: true,
        return_token_ids: true, bad_words: [word] });
      assert.notEqual(banned.choices[0].token_ids[0], first, `bad word ${JSON.stringify(word)}`);
    }
    await expectError({ model, messages: msgs, logit_bias: { 999999: 1 } }, 'logit_bias',
      /out-of-vocab/);
    await expectError({ model, messages: msgs, allowed_token_ids: [999999] }, 'allowed_token_ids',
      /out-of-vocab/);
  },

  async minTokensMasksStopIds() {
    const g = await chat({ temperature: 0, max_tokens: 6, ignore_eos: true, return_token_ids: true });
    const ids = g.choices[0].token_ids;
    const stopId = ids[1];
    const plain = await chat({ temperature: 0, max_tokens: 6, ignore_eos: true,
      stop_token_ids: [stopId] });
    assert.equal(plain.choices[0].finish_reason, 'stop');
    assert.equal(plain.choices[0].stop_reason, stopId);
    assert.ok(plain.usage.completion_tokens <= 2);
    const min = await chat({ temperature: 0, max_tokens: 6, ignore_eos: true,
      stop_token_ids: [stopId], min_tokens: 5, return_token_ids: true });
    assert.ok(min.usage.completion_tokens >= 5, JSON.stringify(min.usage));
    assert.ok(!min.choices[0].token_ids.slice(0, 5).includes(stopId));
  },

  async tokenIdsTruncationAndEcho() {
    const t = await post('/tokenize', { model, messages: msgs });
    const r = await chat({ temperature: 0, max_tokens: 5, ignore_eos: true, return_token_ids: true,
      logprobs: true, return_tokens_as_token_ids: true });
    assert.deepEqual(r.prompt_token_ids, t.body.tokens);
    assert.equal(r.choices[0].token_ids.length, 5);
    assert.deepEqual(r.choices[0].logprobs.content.map((c) => c.token),
      r.choices[0].token_ids.map((id) => `token_id:${id}`));
    const cut = await chat({ max_tokens: 2, truncate_prompt_tokens: 5 });
    assert.equal(cut.usage.prompt_tokens, 5);
    // echo: with the last message from the assistant, its content starts the answer.
    const prefill = [...msgs, { role: 'assistant', content: 'The sea' }];
    const e = await client.chat.completions.create({ model, messages: prefill, max_tokens: 3,
      echo: true, add_generation_prompt: false, continue_final_message: true, ignore_eos: true });
    assert.ok(e.choices[0].message.content.startsWith('The sea'), e.choices[0].message.content);
    // Streamed: role chunk, echo chunk, then the rest; token ids per chunk.
    const s = await client.chat.completions.create({ model, messages: prefill, max_tokens: 3,
      echo: true, add_generation_prompt: false, continue_final_message: true, ignore_eos: true,
      stream: true, return_token_ids: true, stream_options: { include_usage: true,
        continuous_usage_stats: true } });
    let text = '', ids = 0, usages = 0, promptIds = null;
    for await (const c of s) {
      if (c.prompt_token_ids) promptIds = c.prompt_token_ids;
      if (c.usage) usages++;
      if (!c.choices.length) continue;
      text += c.choices[0].delta.content || '';
      ids += (c.choices[0].token_ids || []).length;
    }
    assert.ok(text.startsWith('The sea'));
    assert.equal(ids, 3);
    assert.ok(promptIds && promptIds.length > 5);
    assert.ok(usages >= 4, `continuous usage in every chunk (${usages})`);
  },

  async requestIdAndRefusals() {
    const r = await post('/v1/chat/completions', { model, messages: msgs, max_tokens: 2 },
      { 'X-Request-Id': 'trace-42' });
    assert.equal(r.body.id, 'chatcmpl-trace-42');
    const b = await post('/v1/completions', { model, prompt: 'hi', max_tokens: 2,
      request_id: 'mine' });
    assert.equal(b.body.id, 'cmpl-mine');
    await expectError({ model, messages: msgs, use_beam_search: true }, 'use_beam_search');
    await expectError({ model, messages: msgs, priority: 3 }, 'priority', /Priority scheduling/);
    await expectError({ model, messages: msgs, n: 2, temperature: 0 }, 'n', /greedy/);
    await expectError({ model, messages: msgs, chat_template: '{{ "x" }}' }, 'chat_template',
      /--trust-request-chat-template/);
    await expectError({ model, prompt: 'x', suffix: 'y' }, 'suffix', /suffix/, '/v1/completions');
    await expectError({ model, messages: msgs, logprobs: true, top_logprobs: 21 }, 'top_logprobs',
      /max allowed: 20/);
    // Tools ("auto" given or implied) need --enable-auto-tool-choice; "none" does not.
    const tools = [{ type: 'function', function: { name: 'f', parameters: { type: 'object' } } }];
    for (const extra of [{}, { tool_choice: 'auto' }]) {
      const t = await post('/v1/chat/completions', { model, messages: msgs, tools, ...extra });
      assert.equal(t.status, 400);
      assert.equal(t.body.error.message,
        '"auto" tool choice requires --enable-auto-tool-choice and --tool-call-parser to be set');
    }
    assert.equal((await post('/v1/chat/completions', { model, messages: msgs, tools,
      tool_choice: 'none', max_tokens: 1 })).status, 200);
    // stream_options {} without stream is accepted (vLLM); unknown fields are logged.
    const ok = await post('/v1/chat/completions', { model, messages: msgs, max_tokens: 1,
      stream_options: {}, not_a_vllm_field: 1 });
    assert.equal(ok.status, 200);
    assert.match(fs.readFileSync(logPath, 'utf8'),
      /The following fields were present in the request but ignored: \{'not_a_vllm_field'\}/);
  },

  async routes() {
    const models = await client.models.list();
    const card = models.data[0];
    assert.equal(card.id, model);
    assert.equal(card.owned_by, 'vllm');
    assert.equal(card.root, model);
    assert.equal(card.parent, null);
    assert.ok(card.max_model_len > 0);
    assert.equal(card.permission[0].object, 'model_permission');
    for (const method of ['GET', 'POST']) {
      const p = await fetch(base + '/ping', { method, body: method === 'POST' ? '' : undefined });
      assert.equal(p.status, 200);
    }
    const inv = await post('/invocations', { model, messages: msgs, max_tokens: 2 });
    assert.equal(inv.body.object, 'chat.completion');
    const invc = await post('/invocations', { model, prompt: 'hi', max_tokens: 2 });
    assert.equal(invc.body.object, 'text_completion');
    assert.equal((await post('/invocations', { model })).status, 400);
    // CORS (vLLM's defaults: every origin).
    const pre = await fetch(base + '/v1/chat/completions', { method: 'OPTIONS', headers: {
      Origin: 'https://app.example', 'Access-Control-Request-Method': 'POST',
      'Access-Control-Request-Headers': 'authorization,content-type' } });
    assert.equal(pre.status, 200);
    assert.equal(pre.headers.get('access-control-allow-origin'), '*');
    const simple = await fetch(base + '/v1/models', { headers: { Origin: 'https://app.example' } });
    assert.equal(simple.headers.get('access-control-allow-origin'), '*');
    // /load counts generation requests in flight (--enable-server-load-tracking).
    const busy = chat({ max_tokens: 200, ignore_eos: true });
    let seen = 0;
    for (let i = 0; i < 50 && !seen; ++i) {
      seen = (await (await fetch(base + '/load')).json()).server_load;
      if (!seen) await new Promise((r) => setTimeout(r, 20));
    }
    assert.equal(seen, 1);
    await busy;
    // The count drops once the server has finished the request, which may be just after the
    // client has read the whole response.
    for (let i = 0; i < 50 && seen; ++i) {
      seen = (await (await fetch(base + '/load')).json()).server_load;
      if (seen) await new Promise((r) => setTimeout(r, 20));
    }
    assert.equal(seen, 0);
    // --root-path: the routes also answer under the prefix; X-Request-Id comes back.
    const rooted = await fetch(base + '/proxy/v1/models', { headers: { 'X-Request-Id': 'r1' } });
    assert.equal(rooted.status, 200);
    assert.equal(rooted.headers.get('x-request-id'), 'r1');
    const fresh = await fetch(base + '/health');
    assert.match(fresh.headers.get('x-request-id'), /^[0-9a-f]{32}$/);
    // Usage details (--enable-prompt-tokens-details): this prompt was seen before, so the prefix
    // cache holds its whole blocks (all but the last token at most); serve_prefix checks more.
    const u = await chat({ max_tokens: 1 });
    const cached = u.usage.prompt_tokens_details?.cached_tokens;
    assert.ok(Number.isInteger(cached) && cached % 16 === 0 && cached < u.usage.prompt_tokens, `${cached}`);
  },
};

require('./run_tests.cjs')(tests);
