// `modelcar serve --enable-auto-tool-choice --tool-call-parser llama3_json` on a Llama-3-shaped
// model, through the official openai SDK. Random weights write no calls, so a regex (structured
// outputs) makes the model write the JSON calls Llama 3.x writes; what comes back is what vLLM's
// Llama3JsonToolParser returns: the calls (arguments as Python's json.dumps writes them, from
// "parameters" or "arguments"), no content, finish_reason "tool_calls".
// Usage: node llama_tools.cjs BASE_URL MODEL
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
      calls[tc.index] ??= { id: tc.id, name: '', arguments: '' };
      calls[tc.index].name += tc.function?.name || '';
      calls[tc.index].arguments += tc.function?.arguments || '';
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
};

require('./run_tests.cjs')(tests);
