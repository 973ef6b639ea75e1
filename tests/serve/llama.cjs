// `modelcar serve --enable-auto-tool-choice --tool-call-parser llama3_json` on a Llama-3-shaped
// model, through the official openai SDK. Random weights write no calls, so a regex (structured
// outputs) makes the model write the JSON calls Llama 3.x writes; what comes back is what vLLM's
// Llama3JsonToolParser returns: the calls (arguments as Python's json.dumps writes them, from
// "parameters" or "arguments"), no content, finish_reason "tool_calls". Then add_special_tokens
// as vLLM applies it.
// Usage: node llama.cjs BASE_URL MODEL
const { OpenAI } = require('openai');
const assert = require('node:assert/strict');

const [base, model] = process.argv.slice(2);
const client = new OpenAI({ baseURL: base + '/v1', apiKey: 'x', maxRetries: 0, timeout: 120000 });
const msgs = [{ role: 'user', content: 'What is the weather in Paris, and the time in Oslo?' }];
const tools = ['get_weather', 'get_time'].map((name) => ({ type: 'function', function: {
  name, parameters: { type: 'object', properties: { city: { type: 'string' } } } } }));
const escape = (s) => s.replace(/[{}[\]|.]/g, '\\$&');
const forced = (text) => ({ model, messages: msgs, tools, max_tokens: 60, temperature: 0,
  structured_outputs: { regex: escape(text) } });

async function streamed(args) {
  const s = await client.chat.completions.create({ ...args, stream: true });
  const calls = [];
  let content = '', finish = null;
  for await (const chunk of s) {
    const d = chunk.choices[0]?.delta || {};
    content += d.content || '';
    for (const tc of d.tool_calls || []) {
      // vLLM's streaming parser: the name (with the id) first, then argument fragments.
      if (!calls[tc.index]) assert.ok(tc.function?.name && tc.id, JSON.stringify(tc));
      calls[tc.index] ??= { id: tc.id, name: '', arguments: '', fragments: 0 };
      calls[tc.index].name += tc.function?.name || '';
      calls[tc.index].arguments += tc.function?.arguments || '';
      if (tc.function?.arguments) calls[tc.index].fragments++;
    }
    finish = chunk.choices[0]?.finish_reason || finish;
  }
  return { calls, content, finish };
}

const tests = {
  async jsonCallsAreParsed() {
    const text = '{"name": "get_weather", "parameters": {"city":"Paris"}}; ' +
      '{"name": "get_time", "arguments": {"city": "Oslo"}}';
    const r = await client.chat.completions.create(forced(text));
    const c = r.choices[0];
    assert.equal(c.finish_reason, 'tool_calls');
    assert.equal(c.message.content, null);
    const got = c.message.tool_calls.map((t) => [t.type, t.function.name, t.function.arguments]);
    assert.deepEqual(got, [['function', 'get_weather', '{"city": "Paris"}'],
      ['function', 'get_time', '{"city": "Oslo"}']]);
    for (const t of c.message.tool_calls) assert.match(t.id, /^chatcmpl-tool-/);
    const s = await streamed(forced(text));
    assert.equal(s.finish, 'tool_calls');
    assert.equal(s.content, '');
    assert.deepEqual(s.calls.map((t) => [t.name, t.arguments]), got.map((g) => [g[1], g[2]]));
    assert.ok(s.calls[0].fragments >= 2, 'arguments stream in fragments');
  },

  async textIsContent() {
    // Not a call (no "name"): the output is plain content, as vLLM returns it.
    const text = '{"city": "Paris"} is nice';
    const r = await client.chat.completions.create(forced(text));
    assert.equal(r.choices[0].finish_reason, 'stop');
    assert.equal(r.choices[0].message.content, text);
    assert.deepEqual(r.choices[0].message.tool_calls ?? [], []);
    const s = await streamed(forced(text));
    assert.equal(s.content, text);
    assert.deepEqual(s.calls, []);
  },
  async specialTokensAsVllm() {
    // The Llama 3.1 tokenizer's post-processor puts <|begin_of_text|> (128000) first: vLLM adds
    // it to text prompts (add_special_tokens defaults to true for completions and /tokenize),
    // not to chat prompts, whose template writes it.
    const BOT = 128000;
    const tok = async (body) => (await (await fetch(base + '/tokenize', { method: 'POST',
      headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model, ...body }) })).json()).tokens;
    const withBos = await tok({ prompt: 'Hello world' });
    const without = await tok({ prompt: 'Hello world', add_special_tokens: false });
    assert.deepEqual(withBos, [BOT, ...without]);
    assert.notEqual(without[0], BOT);
    const c = await client.completions.create({ model, prompt: 'Hello world', max_tokens: 1 });
    assert.equal(c.usage.prompt_tokens, withBos.length);
    const c2 = await client.completions.create({ model, prompt: 'Hello world', max_tokens: 1,
      add_special_tokens: false });
    assert.equal(c2.usage.prompt_tokens, without.length);
    const chat = await tok({ messages: msgs });
    assert.equal(chat[0], BOT);
    assert.notEqual(chat[1], BOT);
    const r = await client.chat.completions.create({ model, messages: msgs, max_tokens: 1 });
    assert.equal(r.usage.prompt_tokens, chat.length);
  },
};

require('./run_tests.cjs')(tests);
