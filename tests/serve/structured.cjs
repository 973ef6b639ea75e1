// Structured outputs of `modelcar serve` through the official openai SDK, every output checked
// with a real JSON Schema validator (ajv + ajv-formats): response_format json_schema and
// json_object, vLLM's structured_outputs json / regex / choice / grammar, streamed and not, chat
// and completions, and the 400s that name unsupported keywords. The model has random weights, so
// only the constraint makes the output well-formed.
// Usage: node structured.cjs BASE_URL MODEL
const { OpenAI } = require('openai');
const Ajv2020 = require('ajv/dist/2020').default;
const addFormats = require('ajv-formats').default;
const assert = require('node:assert/strict');

const [base, model] = process.argv.slice(2);
const client = new OpenAI({ baseURL: base + '/v1', apiKey: 'x', maxRetries: 0, timeout: 300000 });
const ajv = new Ajv2020({ strict: false, allErrors: true });
addFormats(ajv);
const msgs = [{ role: 'user', content: 'Describe a person as JSON.' }];

const schema = {
  type: 'object',
  properties: {
    name: { type: 'string', minLength: 1, maxLength: 12 },
    age: { type: 'integer', minimum: 0, maximum: 130 },
    height: { type: 'number', minimum: 0, maximum: 3 },
    email: { type: 'string', format: 'email' },
    born: { type: 'string', format: 'date' },
    seen: { type: 'string', format: 'date-time' },
    id: { type: 'string', format: 'uuid' },
    ip: { type: 'string', format: 'ipv4' },
    code: { type: 'string', pattern: '^[A-Z]{2}-\\d{3}$' },
    role: { enum: ['admin', 'user', 42, null] },
    kind: { const: 'person' },
    active: { type: 'boolean' },
    tags: { type: 'array', items: { type: 'string', maxLength: 4 }, minItems: 1, maxItems: 3 },
    pair: { type: 'array', prefixItems: [{ type: 'integer' }, { type: 'boolean' }], items: false,
      minItems: 2 },
    nick: { anyOf: [{ type: 'string', maxLength: 5 }, { type: 'null' }] },
    home: { $ref: '#/$defs/place' },
  },
  required: ['name', 'age', 'kind', 'home', 'code'],
  additionalProperties: false,
  $defs: { place: { type: 'object', properties: { city: { type: 'string', maxLength: 8 },
    zip: { type: 'integer', exclusiveMinimum: 999, exclusiveMaximum: 100000 } },
  required: ['city'], additionalProperties: false } },
};
const validate = ajv.compile(schema);

function check(text, finish, what) {
  assert.equal(finish, 'stop', `${what}: the grammar ends the output (${finish}): ${text}`);
  const value = JSON.parse(text);
  assert.ok(validate(value), `${what}: ${JSON.stringify(validate.errors)} in ${text}`);
  return value;
}

async function expect400(body, param, re, path = '/chat/completions') {
  const r = await fetch(base + '/v1' + path, { method: 'POST',
    headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model, ...body }) });
  const j = await r.json();
  assert.equal(r.status, 400, JSON.stringify(j));
  assert.equal(j.error.param, param);
  assert.match(j.error.message, re);
}

const responseFormat = { type: 'json_schema', json_schema: { name: 'person', strict: true, schema } };

const tests = {
  async jsonSchemaValidates() {
    // Greedy, and sampled with several seeds (n > 1 in one request: a batch).
    const g = await client.chat.completions.create({ model, messages: msgs, max_tokens: 600,
      temperature: 0, response_format: responseFormat });
    check(g.choices[0].message.content, g.choices[0].finish_reason, 'greedy');
    for (const seed of [1, 2]) {
      const r = await client.chat.completions.create({ model, messages: msgs, max_tokens: 600,
        temperature: 1, seed, n: 2, response_format: responseFormat });
      for (const c of r.choices) check(c.message.content, c.finish_reason, `seed ${seed}`);
    }
    // Streamed: the same text as the whole answer.
    const s = await client.chat.completions.create({ model, messages: msgs, max_tokens: 600,
      temperature: 0, response_format: responseFormat, stream: true });
    let text = '', finish = null;
    for await (const c of s) {
      text += c.choices[0]?.delta?.content || '';
      finish = c.choices[0]?.finish_reason || finish;
    }
    assert.equal(text, g.choices[0].message.content);
    check(text, finish, 'stream');
  },

  async otherKeywordsValidate() {
    // The supported keywords the schema above leaves out. Greedy (deterministic), and nudged
    // (logit_bias) toward closing strings and objects and toward null, so that the open-ended
    // parts (digits of a duration, extra keys, the recursive list) end within max_tokens with
    // random weights.
    const more = {
      type: 'object',
      properties: {
        t: { type: ['integer', 'null'] },
        o: { oneOf: [{ type: 'boolean' }, { type: 'string', maxLength: 3 }] },
        a: { allOf: [{ type: 'integer', minimum: -5, maximum: 5 }] },
        u: { type: 'array', items: { type: 'integer', minimum: 0, maximum: 9 }, uniqueItems: false,
          maxItems: 3 },
        x: { type: 'number', exclusiveMinimum: 1, exclusiveMaximum: 4 },
        when: { type: 'string', format: 'time' },
        dur: { type: 'string', format: 'duration' },
        host: { type: 'string', format: 'hostname' },
        v6: { type: 'string', format: 'ipv6' },
        m: { type: 'object', additionalProperties: { type: 'integer', maximum: 9 } },
        list: { $ref: '#/$defs/node' },
      },
      required: ['t', 'o', 'a', 'u', 'x', 'when', 'dur', 'host', 'v6', 'm', 'list'],
      additionalProperties: false,
      $defs: { node: { type: 'object', properties: { v: { type: 'boolean' },
        next: { anyOf: [{ $ref: '#/$defs/node' }, { type: 'null' }] } },
      required: ['v', 'next'], additionalProperties: false } },
    };
    const valid = ajv.compile(more);
    const id = async (text) => (await (await fetch(base + '/tokenize', { method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model, prompt: text }) })).json()).tokens[0];
    const logit_bias = {};
    for (const t of ['}', ' }', 'null', ' null', '"']) logit_bias[await id(t)] = 100;
    const req = { model, messages: msgs, max_tokens: 600, logit_bias,
      structured_outputs: { json: more, disable_any_whitespace: true } };
    const g = await client.chat.completions.create({ ...req, temperature: 0 });
    for (const c of g.choices) {
      const text = c.message.content;
      assert.equal(c.finish_reason, 'stop', text);
      assert.ok(valid(JSON.parse(text)), `${JSON.stringify(valid.errors)} in ${text}`);
    }
  },

  async compactWhitespaceAndCompletions() {
    const r = await client.completions.create({ model, prompt: 'JSON:', max_tokens: 600,
      temperature: 0, structured_outputs: { json: JSON.stringify(schema),
        disable_any_whitespace: true } });
    const text = r.choices[0].text;
    check(text, r.choices[0].finish_reason, 'completions');
    assert.ok(!/\n/.test(text), `compact: ${text}`);
    assert.ok(text.startsWith('{"name": "'), text);
  },

  async jsonObject() {
    // With random weights only a nudge toward closing brackets makes the object short.
    const id = async (text) => (await (await fetch(base + '/tokenize', { method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model, prompt: text }) })).json()).tokens[0];
    const r = await client.chat.completions.create({ model, messages: msgs, max_tokens: 100,
      temperature: 0, response_format: { type: 'json_object' },
      logit_bias: { [await id('}')]: 30, [await id(']')]: 30 } });
    const text = r.choices[0].message.content;
    assert.equal(r.choices[0].finish_reason, 'stop', text);
    const v = JSON.parse(text);
    assert.ok(typeof v === 'object' && v !== null, text);
  },

  async regexChoiceGrammar() {
    const re = '\\d{3}-[a-z]{2,4}( [A-Z]{1,3})?';
    for (const seed of [1, 2, 3]) {
      const r = await client.completions.create({ model, prompt: 'id:', max_tokens: 40, seed,
        structured_outputs: { regex: re } });
      assert.match(r.choices[0].text, new RegExp(`^${re}$`));
      assert.equal(r.choices[0].finish_reason, 'stop');
    }
    const choices = ['positive', 'negative', 'neutral'];
    const c = await client.chat.completions.create({ model, messages: msgs, max_tokens: 10,
      structured_outputs: { choice: choices } });
    assert.ok(choices.includes(c.choices[0].message.content), c.choices[0].message.content);
    const grammar = 'root ::= item ("," item){0,3}\nitem ::= "yes" | "no" | [0-9]{1,2}';
    const g = await client.chat.completions.create({ model, messages: msgs, max_tokens: 40,
      temperature: 1, seed: 4, structured_outputs: { grammar } });
    assert.match(g.choices[0].message.content, /^(yes|no|[0-9]{1,2})(,(yes|no|[0-9]{1,2})){0,3}$/);
  },

  async errorsNameWhatIsUnsupported() {
    const bad = { type: 'json_schema', json_schema: { name: 'x', schema: {
      type: 'object', properties: { n: { type: 'integer', multipleOf: 3 } } } } };
    await expect400({ messages: msgs, response_format: bad }, 'response_format',
      /unsupported JSON Schema keyword\(s\): multipleOf \(at #\/properties\/n\)/);
    await expect400({ messages: msgs, response_format: { type: 'json_schema', json_schema: {
      name: 'x', schema: { type: 'array', uniqueItems: true } } } }, 'response_format',
    /uniqueItems/);
    await expect400({ messages: msgs, structured_outputs: { regex: 'a', choice: ['b'] } },
      'structured_outputs', /only use one kind/);
    await expect400({ messages: msgs, structured_outputs: { regex: '(?=x)y' } },
      'structured_outputs', /lookarounds/);
    await expect400({ messages: msgs, structured_outputs: { grammar: 'root ::= root "a"' } },
      'structured_outputs', /left-recursive/);
    await expect400({ messages: msgs, response_format: { type: 'json_schema' } },
      'response_format', /'json_schema' field must be provided/);
    await expect400({ prompt: 'x', structured_outputs: { nonsense: 1 } }, 'structured_outputs',
      /not a structured outputs field/, '/completions');
  },
};

require('./run_tests.cjs')(tests);
