// Drives `modelcar serve` with the official openai SDK (and fetch for raw HTTP cases).
// Usage: node openai_sdk.cjs BASE_URL MODEL_NAME MAX_MODEL_LEN
const { OpenAI } = require('openai');
const assert = require('node:assert/strict');

const [base, model, maxLenArg] = process.argv.slice(2);
const maxLen = Number(maxLenArg);
const client = new OpenAI({ baseURL: base + '/v1', apiKey: 'x', maxRetries: 0, timeout: 120000 });
const msgs = [{ role: 'user', content: 'Hello! Who are you?' }];

async function expectError(promise, status, re) {
  try {
    await promise;
  } catch (e) {
    assert.equal(e.status, status, `status of ${e.message}`);
    if (re) assert.match(e.message, re);
    return e;
  }
  assert.fail(`expected HTTP ${status}`);
}

const tests = {
  async models() {
    const page = await client.models.list();
    assert.equal(page.data.length, 1);
    assert.equal(page.data[0].id, model);
    assert.equal(page.data[0].object, 'model');
  },

  async chatNonStream() {
    const r = await client.chat.completions.create({
      model, messages: msgs, max_tokens: 8, temperature: 0, ignore_eos: true,
    });
    assert.equal(r.object, 'chat.completion');
    assert.match(r.id, /^chatcmpl-/);
    assert.match(r.system_fingerprint, /^modelcar-[0-9.]+-[a-z0-9_]+-bf16-[0-9a-f]{12}$/);
    assert.equal(r.choices.length, 1);
    assert.equal(r.choices[0].message.role, 'assistant');
    assert.equal(typeof r.choices[0].message.content, 'string');
    assert.equal(r.choices[0].finish_reason, 'length');
    assert.equal(r.usage.completion_tokens, 8);
    assert.ok(r.usage.prompt_tokens > 5);
    assert.equal(r.usage.total_tokens, r.usage.prompt_tokens + 8);
    // Greedy decoding is deterministic: the same request gives the same text.
    const again = await client.chat.completions.create({
      model, messages: msgs, max_tokens: 8, temperature: 0, ignore_eos: true,
    });
    assert.equal(again.choices[0].message.content, r.choices[0].message.content);
  },

  async chatStreamWithUsage() {
    const whole = await client.chat.completions.create({
      model, messages: msgs, max_tokens: 12, temperature: 0, ignore_eos: true,
    });
    const stream = await client.chat.completions.create({
      model, messages: msgs, max_tokens: 12, temperature: 0, ignore_eos: true, stream: true,
      stream_options: { include_usage: true },
    });
    let text = '', role = null, finish = null, usage = null, chunks = 0;
    for await (const c of stream) {
      chunks++;
      assert.equal(c.object, 'chat.completion.chunk');
      if (c.usage) { usage = c.usage; assert.equal(c.choices.length, 0); continue; }
      const d = c.choices[0].delta;
      if (d.role) role = d.role;
      if (d.content) text += d.content;
      if (c.choices[0].finish_reason) finish = c.choices[0].finish_reason;
    }
    assert.equal(role, 'assistant');
    assert.equal(finish, 'length');
    assert.ok(chunks >= 3);
    assert.equal(usage.completion_tokens, 12);
    assert.equal(usage.prompt_tokens, whole.usage.prompt_tokens);
    assert.equal(text, whole.choices[0].message.content, 'stream and non-stream agree');
  },

  async chatNAndLogprobsAndSeed() {
    const r = await client.chat.completions.create({
      model, messages: msgs, max_tokens: 5, n: 2, seed: 42, temperature: 1, top_p: 0.9,
      top_k: 50, logprobs: true, top_logprobs: 3, ignore_eos: true,
    });
    assert.equal(r.choices.length, 2);
    assert.deepEqual(r.choices.map((c) => c.index), [0, 1]);
    assert.equal(r.usage.completion_tokens, 10);
    const lp = r.choices[0].logprobs.content;
    assert.equal(lp.length, 5);
    assert.equal(lp[0].top_logprobs.length, 3);
    assert.ok(lp[0].logprob <= 0);
    const s = await client.chat.completions.create({
      model, messages: msgs, max_tokens: 5, n: 2, seed: 42, temperature: 1, top_p: 0.9,
      top_k: 50, ignore_eos: true,
    });
    assert.equal(s.choices[0].message.content, r.choices[0].message.content, 'seeded sampling repeats');
  },

  async stopString() {
    const base = await client.completions.create({
      model, prompt: 'The capital of France is', max_tokens: 10, temperature: 0, ignore_eos: true,
    });
    const full = base.choices[0].text;
    // Stop at a piece of the greedy output: the text ends right before it.
    const stop = full.slice(4, 7);
    const cut = full.indexOf(stop);
    assert.ok(stop.length > 0 && cut >= 0);
    const r = await client.completions.create({
      model, prompt: 'The capital of France is', max_tokens: 10, temperature: 0, stop: [stop],
      ignore_eos: true,
    });
    assert.equal(r.choices[0].text, full.slice(0, cut));
    assert.equal(r.choices[0].finish_reason, 'stop');
    assert.equal(r.choices[0].stop_reason, stop);
  },

  async completions() {
    const r = await client.completions.create({
      model, prompt: 'Once upon a time', max_tokens: 6, temperature: 0, echo: true, logprobs: 2,
      ignore_eos: true,
    });
    assert.equal(r.object, 'text_completion');
    assert.ok(r.choices[0].text.startsWith('Once upon a time'));
    // echo + logprobs covers the prompt tokens too (vLLM); echoLogprobs checks the details.
    assert.equal(r.choices[0].logprobs.tokens.length, 4 + 6);
    assert.equal(r.choices[0].logprobs.text_offset[4], 'Once upon a time'.length);
    assert.equal(r.usage.completion_tokens, 6);
    // Token prompts and several prompts in one request.
    const t = await (await fetch(base + '/tokenize', {
      method: 'POST', headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model, prompt: 'Hello world' }),
    })).json();
    assert.deepEqual(t.tokens, [9707, 1879]);
    assert.equal(t.count, 2);
    assert.equal(t.max_model_len, maxLen);
    const m = await client.completions.create({
      model, prompt: [t.tokens, [9707]], max_tokens: 3, n: 2, ignore_eos: true,
    });
    assert.equal(m.choices.length, 4);
    assert.equal(m.usage.prompt_tokens, 3);
    assert.equal(m.usage.completion_tokens, 12);
    const d = await (await fetch(base + '/detokenize', {
      method: 'POST', headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model, tokens: t.tokens }),
    })).json();
    assert.equal(d.prompt, 'Hello world');
    // Streaming completions.
    const stream = await client.completions.create({
      model, prompt: 'Once upon a time', max_tokens: 6, stream: true, ignore_eos: true,
      stream_options: { include_usage: true },
    });
    let usage = null, finish = null;
    for await (const c of stream) {
      if (c.usage) usage = c.usage;
      else if (c.choices[0].finish_reason) finish = c.choices[0].finish_reason;
    }
    assert.equal(finish, 'length');
    assert.equal(usage.completion_tokens, 6);
  },

  async echoLogprobs() {
    const prompt = 'Once upon a time';
    const ids = (await (await fetch(base + '/tokenize', {
      method: 'POST', headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model, prompt }),
    })).json()).tokens;
    const P = ids.length;
    const args = { model, prompt, max_tokens: 6, temperature: 0, logprobs: 2, ignore_eos: true };
    const plain = await client.completions.create(args);
    const r = await client.completions.create({ ...args, echo: true });
    const c = r.choices[0], lp = c.logprobs, want = plain.choices[0].logprobs;
    assert.equal(c.text, prompt + plain.choices[0].text);
    assert.equal(lp.tokens.length, P + 6);
    assert.equal(lp.tokens.slice(0, P).join(''), prompt);
    assert.equal(lp.token_logprobs[0], null, 'the first prompt token has no logprob');
    assert.equal(lp.top_logprobs[0], null);
    for (let i = 1; i < P; ++i) {
      assert.ok(Number.isFinite(lp.token_logprobs[i]) && lp.token_logprobs[i] <= 0, `prompt ${i}`);
      assert.equal(Object.keys(lp.top_logprobs[i]).length, 2);
    }
    assert.deepEqual(lp.tokens.slice(P), want.tokens);
    for (let i = 0; i < 6; ++i) {
      assert.ok(Math.abs(lp.token_logprobs[P + i] - want.token_logprobs[i]) < 1e-4,
        `completion logprob ${i}: ${lp.token_logprobs[P + i]} vs ${want.token_logprobs[i]}`);
    }
    assert.equal(lp.text_offset[0], 0);
    assert.equal(lp.text_offset[P], prompt.length);
    for (let i = 1; i < lp.text_offset.length; ++i) assert.ok(lp.text_offset[i] >= lp.text_offset[i - 1]);
    assert.equal(c.prompt_logprobs, null, 'prompt_logprobs only when asked');
    // Streaming: the prompt and its logprobs come with the first delta.
    const stream = await client.completions.create({ ...args, echo: true, stream: true });
    let text = '', tokens = [], lps = [];
    for await (const ch of stream) {
      text += ch.choices[0].text;
      if (ch.choices[0].logprobs) {
        tokens.push(...ch.choices[0].logprobs.tokens);
        lps.push(...ch.choices[0].logprobs.token_logprobs);
      }
    }
    assert.equal(text, c.text);
    assert.deepEqual(tokens, lp.tokens);
    assert.equal(lps[0], null);
    // vLLM's prompt_logprobs extension: null, then {id: {logprob, rank, decoded_token}}.
    const pr = await (await fetch(base + '/v1/completions', {
      method: 'POST', headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model, prompt, max_tokens: 1, prompt_logprobs: 1 }),
    })).json();
    const pl = pr.choices[0].prompt_logprobs;
    assert.equal(pl.length, P);
    assert.equal(pl[0], null);
    for (let i = 1; i < P; ++i) {
      const e = pl[i][String(ids[i])];
      assert.ok(e, `entry ${i} holds the prompt token ${ids[i]}`);
      assert.ok(Number.isFinite(e.logprob) && e.logprob <= 0);
      assert.ok(e.rank >= 1);
      assert.ok(Math.abs(e.logprob - lp.token_logprobs[i]) < 1e-4, 'same score as the echo');
      assert.ok(Object.keys(pl[i]).length <= 2);
    }
    const bad = await fetch(base + '/v1/completions', {
      method: 'POST', headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model, prompt, prompt_logprobs: 1, stream: true }),
    });
    assert.equal(bad.status, 400);
    assert.equal((await bad.json()).error.param, 'prompt_logprobs');
    // Chat: prompt_logprobs at the top level.
    const chat = await (await fetch(base + '/v1/chat/completions', {
      method: 'POST', headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model, messages: msgs, max_tokens: 1, prompt_logprobs: 0 }),
    })).json();
    assert.equal(chat.prompt_logprobs.length, chat.usage.prompt_tokens);
    assert.equal(chat.prompt_logprobs[0], null);
    assert.equal(Object.keys(chat.prompt_logprobs[1]).length, 1);
  },

  async tools() {
    const tools = [{
      type: 'function',
      function: {
        name: 'get_weather', description: 'Weather in a city',
        parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] },
      },
    }];
    // The tools reach the prompt through the chat template.
    const plain = await (await fetch(base + '/tokenize', {
      method: 'POST', headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model, messages: msgs }),
    })).json();
    const withTools = await (await fetch(base + '/tokenize', {
      method: 'POST', headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model, messages: msgs, tools }),
    })).json();
    assert.ok(withTools.count > plain.count + 20, 'tool definitions are rendered into the prompt');
    // Random weights do not call tools; the request must still be answered in the right shape.
    const r = await client.chat.completions.create({ model, messages: msgs, tools, max_tokens: 6 });
    assert.ok(['stop', 'length', 'tool_calls'].includes(r.choices[0].finish_reason));
    assert.ok(Array.isArray(r.choices[0].message.tool_calls));
    // An assistant turn with a tool call and the tool's answer render and run.
    const history = [
      ...msgs,
      { role: 'assistant', content: null, tool_calls: [{ id: 'call_1', type: 'function',
        function: { name: 'get_weather', arguments: '{"city": "Paris"}' } }] },
      { role: 'tool', tool_call_id: 'call_1', content: '21 C, sunny' },
    ];
    const r2 = await client.chat.completions.create({ model, messages: history, tools, max_tokens: 4 });
    assert.equal(r2.choices.length, 1);
  },

  async autoToolCallsParsed() {
    // --tool-call-parser hermes: calls the model writes are parsed out of the text. Random
    // weights write none, so a regex (structured outputs) makes the model write two Hermes calls.
    const tools = ['get_weather', 'get_time'].map((name) => ({ type: 'function', function: {
      name, parameters: { type: 'object', properties: { city: { type: 'string' } } } } }));
    const call = (name, city) =>
      `<tool_call>\n{"name": "${name}", "arguments": {"city": "${city}"}}\n</tool_call>`;
    const text = call('get_weather', 'Paris') + '\n' + call('get_time', 'Oslo');
    const regex = text.replace(/[{}]/g, '\\$&');
    const args = { model, messages: msgs, tools, max_tokens: 80, structured_outputs: { regex } };
    const want = [['get_weather', { city: 'Paris' }], ['get_time', { city: 'Oslo' }]];
    const check = (calls, n) => {
      assert.equal(calls.length, n, JSON.stringify(calls));
      calls.forEach((c, k) => {
        assert.equal(c.type, 'function');
        assert.match(c.id, /^chatcmpl-tool-/);
        assert.equal(c.function.name, want[k][0]);
        assert.deepEqual(JSON.parse(c.function.arguments), want[k][1]);
        // As vLLM returns them: Python's json.dumps of the parsed arguments.
        assert.equal(c.function.arguments, `{"city": "${want[k][1].city}"}`);
      });
    };
    const r = await client.chat.completions.create(args);
    assert.equal(r.choices[0].finish_reason, 'tool_calls');
    assert.ok(!r.choices[0].message.content, r.choices[0].message.content);
    check(r.choices[0].message.tool_calls, 2);
    // Streamed: the same calls, assembled from the deltas as the SDK's users do.
    const s = await client.chat.completions.create({ ...args, stream: true });
    const calls = [];
    let finish = null, content = '';
    for await (const chunk of s) {
      const d = chunk.choices[0]?.delta || {};
      content += d.content || '';
      for (const tc of d.tool_calls || []) {
        calls[tc.index] ??= { type: tc.type, id: tc.id, function: { name: '', arguments: '' } };
        if (tc.function?.name) calls[tc.index].function.name += tc.function.name;
        calls[tc.index].function.arguments += tc.function?.arguments || '';
      }
      finish = chunk.choices[0]?.finish_reason || finish;
    }
    assert.equal(finish, 'tool_calls');
    assert.equal(content.trim(), '');
    check(calls, 2);
    // parallel_tool_calls false keeps the first call.
    const one = await client.chat.completions.create({ ...args, parallel_tool_calls: false });
    check(one.choices[0].message.tool_calls, 1);
    // tool_choice "none": no parsing, the text is the content.
    const none = await client.chat.completions.create({ ...args, tool_choice: 'none' });
    assert.equal(none.choices[0].message.content, text);
    assert.deepEqual(none.choices[0].message.tool_calls ?? [], []);
    assert.equal(none.choices[0].finish_reason, 'stop');
  },

  async autoToolCallsStreamed() {
    // Streamed as vLLM's hermes parser streams them: text before the call as content, then the
    // call's index, id and name in one delta, then its arguments in fragments as the model writes
    // them (the raw text when streamed; the non-streamed answer re-serializes), finish
    // "tool_calls".
    const tools = ['get_weather'].map((name) => ({ type: 'function', function: {
      name, parameters: { type: 'object', properties: { city: { type: 'string' } } } } }));
    const raw = '{"city":"Paris","days":[1,2]}';
    const text = `Checking.\n<tool_call>\n{"name": "get_weather", "arguments": ${raw}}\n</tool_call>`;
    const regex = text.replace(/[{}[\].]/g, '\\$&');
    const args = { model, messages: msgs, tools, max_tokens: 80, structured_outputs: { regex } };
    const s = await client.chat.completions.create({ ...args, stream: true });
    const events = [];
    let finish = null;
    for await (const chunk of s) {
      const c = chunk.choices[0];
      if (!c) continue;
      if (c.delta?.content) events.push({ kind: 'content', text: c.delta.content });
      for (const tc of c.delta?.tool_calls || []) {
        if (tc.function?.name) {
          assert.equal(tc.type, 'function');
          assert.match(tc.id, /^chatcmpl-tool-/);
          events.push({ kind: 'name', index: tc.index, name: tc.function.name });
        }
        if (tc.function?.arguments) events.push({ kind: 'args', index: tc.index, text: tc.function.arguments });
      }
      finish = c.finish_reason || finish;
    }
    const at = (kind) => events.findIndex((e) => e.kind === kind);
    const lastContent = events.map((e) => e.kind).lastIndexOf('content');
    assert.equal(events.filter((e) => e.kind === 'content').map((e) => e.text).join(''), 'Checking.\n');
    assert.ok(lastContent < at('name') && at('name') < at('args'), JSON.stringify(events));
    const names = events.filter((e) => e.kind === 'name');
    assert.deepEqual(names.map((e) => [e.index, e.name]), [[0, 'get_weather']]);
    const fragments = events.filter((e) => e.kind === 'args');
    assert.ok(fragments.length >= 2, `arguments in fragments: ${JSON.stringify(fragments)}`);
    assert.equal(fragments.map((e) => e.text).join(''), raw);
    assert.equal(finish, 'tool_calls');
    const r = await client.chat.completions.create(args);
    assert.equal(r.choices[0].message.content, 'Checking.\n');
    assert.equal(r.choices[0].message.tool_calls[0].function.arguments,
      '{"city": "Paris", "days": [1, 2]}');
  },

  async toolChoiceForced() {
    const fn = (name) => ({ type: 'function', function: { name, description: name,
      parameters: { type: 'object', properties: { city: { type: 'string' } } } } });
    const tools = [fn('get_weather'), fn('get_time')];
    const base = { model, messages: msgs, tools, temperature: 0, max_tokens: 40 };
    // "required": calls of the tools only, content "", even from random weights (one call with
    // parallel_tool_calls false; several are checked in toolChoiceRequiredSeveral).
    const req = await client.chat.completions.create({ ...base, tool_choice: 'required', seed: 1,
      parallel_tool_calls: false });
    const rc = req.choices[0];
    assert.equal(rc.message.content, '');
    assert.equal(rc.message.tool_calls.length, 1);
    const call = rc.message.tool_calls[0];
    assert.ok(['get_weather', 'get_time'].includes(call.function.name), call.function.name);
    assert.match(call.id, /^chatcmpl-tool-/);
    assert.equal(call.type, 'function');
    assert.ok(call.function.arguments.startsWith('{'), call.function.arguments);
    // vLLM: "tool_calls" when the call completed, "length" when max_tokens cut it.
    assert.ok(['tool_calls', 'length'].includes(rc.finish_reason), rc.finish_reason);
    if (rc.finish_reason === 'tool_calls') JSON.parse(call.function.arguments);
    assert.ok(req.usage.completion_tokens <= 40);
    // Sampled (temperature 1) with several seeds: the name is always one of the tools.
    for (const seed of [2, 3, 4]) {
      const s = await client.chat.completions.create({
        ...base, temperature: 1, seed, tool_choice: 'required', n: 2,
      });
      for (const ch of s.choices) {
        assert.ok(ch.message.tool_calls.length >= 1);
        for (const c of ch.message.tool_calls) {
          assert.ok(['get_weather', 'get_time'].includes(c.function.name));
        }
      }
    }
    // A named function: that call, whatever the model prefers; finish "stop" or "length".
    for (const name of ['get_time', 'get_weather']) {
      const named = await client.chat.completions.create({
        ...base, tool_choice: { type: 'function', function: { name } },
      });
      const nc = named.choices[0];
      assert.equal(nc.message.tool_calls.length, 1);
      assert.equal(nc.message.tool_calls[0].function.name, name);
      assert.equal(nc.message.content, '');
      assert.ok(['stop', 'length'].includes(nc.finish_reason), nc.finish_reason);
      assert.equal(typeof nc.message.tool_calls[0].function.arguments, 'string');
      // The forced text counts as generated tokens.
      assert.ok(named.usage.completion_tokens >= 5);
      // Streaming gives the same call: id, type and name first, then argument pieces.
      const stream = await client.chat.completions.create({
        ...base, tool_choice: { type: 'function', function: { name } }, stream: true,
      });
      let sname = null, sid = null, args = '', finish = null, content = '';
      for await (const c of stream) {
        const d = c.choices[0].delta;
        if (d.content) content += d.content;
        for (const tc of d.tool_calls || []) {
          assert.equal(tc.index, 0);
          if (tc.id) { assert.equal(sid, null, 'the id comes once'); sid = tc.id; sname = tc.function.name; }
          if (tc.function && tc.function.arguments) args += tc.function.arguments;
        }
        if (c.choices[0].finish_reason) finish = c.choices[0].finish_reason;
      }
      assert.equal(content, '');
      assert.equal(sname, name);
      assert.match(sid, /^chatcmpl-tool-/);
      assert.equal(args, nc.message.tool_calls[0].function.arguments, 'greedy: same arguments');
      assert.equal(finish, nc.finish_reason);
    }
    // Too few tokens for the forced text: a named call is still reported, "required" has none.
    const short = await client.chat.completions.create({
      ...base, max_tokens: 2, tool_choice: { type: 'function', function: { name: 'get_time' } },
    });
    assert.equal(short.choices[0].message.tool_calls[0].function.name, 'get_time');
    assert.equal(short.choices[0].finish_reason, 'length');
    // Errors name the parameter.
    const e = await expectError(client.chat.completions.create({
      ...base, tool_choice: { type: 'function', function: { name: 'nope' } },
    }), 400, /does not match any of the specified `tools`/);
    assert.equal(e.param, 'tool_choice');
    await expectError(client.chat.completions.create({
      model, messages: msgs, tool_choice: 'required',
    }), 400, /`tools` must be set/);
  },

  // "required" returns one or more calls, as vLLM's. logit_bias steers the random weights: " {"
  // ends each forced call prefix exactly, "}" then closes the arguments at once ({}), and the
  // end-of-turn tokens decide whether another call follows (-100: always) or the output ends
  // (+75: after the first call; below "}" so that they do not end the arguments early).
  async toolChoiceRequiredSeveral() {
    const fn = (name) => ({ type: 'function', function: { name, description: name,
      parameters: { type: 'object', properties: {} } } });
    const tools = [fn('get_weather'), fn('get_time')];
    const id = async (text) => (await (await fetch(base + '/tokenize', {
      method: 'POST', headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model, prompt: text, add_special_tokens: false }),
    })).json()).tokens;
    const [close] = await id('}'), [open] = await id(' {');
    const ends = [...await id('<|im_end|>'), ...await id('<|endoftext|>')];
    const bias = (endBias) => Object.fromEntries([[close, 100], [open, 50],
      ...ends.map((t) => [t, endBias])]);
    const args = { model, messages: msgs, tools, tool_choice: 'required', temperature: 0,
      max_tokens: 64, logit_bias: bias(-100) };
    const r = await client.chat.completions.create(args);
    const calls = r.choices[0].message.tool_calls;
    assert.ok(calls.length >= 2, JSON.stringify(calls));
    assert.equal(new Set(calls.map((c) => c.id)).size, calls.length, 'distinct ids');
    for (const c of calls) assert.ok(['get_weather', 'get_time'].includes(c.function.name));
    for (const c of calls.slice(0, -1)) assert.equal(c.function.arguments, '{}');
    assert.equal(r.choices[0].finish_reason, 'length');
    assert.equal(r.choices[0].message.content, '');
    // Streamed: the same calls, each with its index, id and name first, then its arguments.
    const stream = await client.chat.completions.create({ ...args, stream: true });
    const got = [];
    for await (const c of stream) {
      for (const tc of c.choices[0].delta.tool_calls || []) {
        if (tc.id) {
          assert.equal(tc.index, got.length);
          got.push({ name: tc.function.name, arguments: tc.function.arguments || '' });
        } else {
          got[tc.index].arguments += tc.function.arguments;
        }
      }
    }
    assert.deepEqual(got, calls.map((c) => ({ name: c.function.name, arguments: c.function.arguments })));
    // The end-of-turn token after the first call: one call, finish "tool_calls".
    const one = await client.chat.completions.create({ ...args, logit_bias: bias(75) });
    assert.equal(one.choices[0].message.tool_calls.length, 1);
    assert.equal(one.choices[0].message.tool_calls[0].function.arguments, '{}');
    assert.equal(one.choices[0].finish_reason, 'tool_calls');
    // parallel_tool_calls false: the output ends with the first call's arguments.
    const single = await client.chat.completions.create({ ...args, parallel_tool_calls: false });
    assert.equal(single.choices[0].message.tool_calls.length, 1);
    assert.equal(single.choices[0].finish_reason, 'tool_calls');
  },

  async errors() {
    await expectError(client.chat.completions.create({ model: 'nope', messages: msgs }), 404,
      /The model `nope` does not exist/);
    await expectError(client.chat.completions.create({ model, messages: msgs, max_tokens: maxLen }),
      400, /maximum context length is \d+ tokens and your request has \d+ input tokens/);
    const long = 'hello '.repeat(maxLen + 10);
    await expectError(client.completions.create({ model, prompt: long, max_tokens: 1 }), 400,
      /This model's maximum context length is \d+ tokens. However, your request has \d+ input tokens/);
    await expectError(client.chat.completions.create({ model, messages: msgs, temperature: 5 }),
      400, /temperature/);
    const bad = await fetch(base + '/v1/chat/completions', {
      method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"messages": [',
    });
    assert.equal(bad.status, 400);
    const body = await bad.json();
    assert.equal(body.error.type, 'BadRequestError');
    assert.equal(body.error.code, 400);
    assert.ok('param' in body.error);
    assert.match(body.error.message, /Malformed JSON/);
    const big = await fetch(base + '/v1/completions', {
      method: 'POST', headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model, prompt: 'x'.repeat(9 << 20) }),
    });
    assert.equal(big.status, 413);
    const unknown = await fetch(base + '/v1/nothing');
    assert.equal(unknown.status, 404);
  },

  async misc() {
    const v = await (await fetch(base + '/version')).json();
    assert.match(v.version, /^\d+\.\d+\.\d+/);
    const h = await fetch(base + '/health');
    assert.equal(h.status, 200);
    assert.equal((await h.text()).length, 0);
    const m = await (await fetch(base + '/metrics')).text();
    for (const name of ['vllm:num_requests_running', 'vllm:num_requests_waiting',
      'vllm:prompt_tokens_total', 'vllm:generation_tokens_total',
      'vllm:time_to_first_token_seconds_bucket', 'vllm:inter_token_latency_seconds_bucket',
      'vllm:e2e_request_latency_seconds_count', 'vllm:kv_cache_usage_perc']) {
      assert.ok(m.includes(name + '{model_name="' + model + '"'), name);
    }
    const gen = Number(m.match(/vllm:generation_tokens_total\{[^}]*\} (\d+)/)[1]);
    assert.ok(gen > 0, 'generation tokens were counted');
  },
};

require('./run_tests.cjs')(tests);
