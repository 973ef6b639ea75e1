// Automatic prefix caching through the official openai SDK: two servers on the same model, one
// with prefix caching (the default) and one with --no-enable-prefix-caching, both with
// --enable-prompt-tokens-details. The second turn of a chat reads the first turn's blocks from
// the cache (cached_tokens > 0) and every output (text and logprobs) is the same on both servers,
// one conversation at a time or several batched together (a batch with caching matches each
// request alone without it), streamed or not, n > 1 too (the choices of a new prompt share it).
// Usage: node prefix_cache.cjs URL_ON URL_OFF MODEL
const { OpenAI } = require('openai');
const assert = require('node:assert/strict');

const [baseOn, baseOff, model] = process.argv.slice(2);
const on = new OpenAI({ baseURL: baseOn + '/v1', apiKey: 'x', maxRetries: 0, timeout: 300000 });
const off = new OpenAI({ baseURL: baseOff + '/v1', apiKey: 'x', maxRetries: 0, timeout: 300000 });

const history = Array.from({ length: 40 }, (_, i) =>
  `Rule ${i + 1}: the harbour master logs every ship that enters, with its flag and cargo.`).join(' ');
const firstTurn = (k) => [
  { role: 'system', content: `Conversation ${k}. ${history}` },
  { role: 'user', content: `Which ships came in on day ${k}?` },
];
const args = (messages, seed) => ({ model, messages, max_tokens: 8, ignore_eos: true, seed,
  logprobs: true, top_logprobs: 2 });

// What must not change with caching: the text and every logprob.
const outcome = (r) => ({
  content: r.choices[0].message.content,
  logprobs: r.choices[0].logprobs.content.map((t) => [t.token, t.logprob, t.top_logprobs]),
});
// As vLLM: prompt_tokens_details is null when no prompt token came from the cache.
const cached = (r) => {
  const d = r.usage.prompt_tokens_details;
  assert.ok(d === null || d.cached_tokens > 0, JSON.stringify(r.usage));
  return d === null ? 0 : d.cached_tokens;
};

async function conversation(client, k) {
  const t1 = await client.chat.completions.create(args(firstTurn(k), 100 + k));
  const messages = [...firstTurn(k), { role: 'assistant', content: t1.choices[0].message.content },
    { role: 'user', content: 'And on the day after?' }];
  return { t1, messages };
}

async function metric(base, name) {
  const text = await (await fetch(base + '/metrics')).text();
  const m = text.match(new RegExp(`^${name}\\{[^}]*\\} (\\S+)$`, 'm'));
  assert.ok(m, `${name} missing`);
  return Number(m[1]);
}

const tests = {
  async secondTurnIsCachedAndIdentical() {
    const a = await conversation(on, 1), b = await conversation(off, 1);
    assert.deepEqual(outcome(a.t1), outcome(b.t1));
    assert.equal(cached(b.t1), 0);
    const t2on = await on.chat.completions.create(args(a.messages, 7));
    const t2off = await off.chat.completions.create(args(b.messages, 7));
    assert.equal(t2on.usage.prompt_tokens, t2off.usage.prompt_tokens);
    const hit = cached(t2on);
    assert.ok(hit > 0 && hit % 16 === 0 && hit < t2on.usage.prompt_tokens, `cached_tokens ${hit}`);
    // The whole first prompt is shared but for its last partial block and the template's tail.
    assert.ok(hit >= a.t1.usage.prompt_tokens - 32, `cached ${hit} of ${a.t1.usage.prompt_tokens}`);
    assert.equal(cached(t2off), 0);
    assert.deepEqual(outcome(t2on), outcome(t2off));
  },

  async streamedUsageCarriesCachedTokens() {
    const { messages } = await conversation(on, 2);
    const plain = await on.chat.completions.create(args(messages, 9));
    const s = await on.chat.completions.create({ ...args(messages, 9), stream: true,
      stream_options: { include_usage: true } });
    let content = '', usage = null;
    for await (const c of s) {
      content += c.choices[0]?.delta?.content || '';
      if (c.usage) usage = c.usage;
    }
    assert.equal(content, plain.choices[0].message.content);
    assert.ok(cached({ usage }) >= cached(plain) - 16, JSON.stringify(usage));
    assert.ok(cached({ usage }) > 0);
  },

  async batchedSecondTurnsMatchWithoutCaching() {
    const ks = [3, 4, 5, 6];
    const convOn = await Promise.all(ks.map((k) => conversation(on, k)));
    const convOff = await Promise.all(ks.map((k) => conversation(off, k)));
    const second = (client, conv) => Promise.all(conv.map((c, i) =>
      client.chat.completions.create(args(c.messages, 20 + i))));
    const [rOn, rOff] = [await second(on, convOn), await second(off, convOff)];
    // The same requests one at a time, without caching: a seed gives the same tokens alone and
    // inside a batch, with caching and without.
    const alone = [];
    for (const [i, c] of convOff.entries()) alone.push(await off.chat.completions.create(args(c.messages, 20 + i)));
    for (let i = 0; i < ks.length; ++i) {
      assert.deepEqual(outcome(convOn[i].t1), outcome(convOff[i].t1), `turn 1 of ${ks[i]}`);
      assert.deepEqual(outcome(rOn[i]), outcome(rOff[i]), `turn 2 of ${ks[i]}`);
      assert.deepEqual(outcome(rOn[i]), outcome(alone[i]), `turn 2 of ${ks[i]} alone`);
      assert.ok(cached(rOn[i]) > 0, `conversation ${ks[i]}: ${cached(rOn[i])}`);
      assert.equal(cached(rOff[i]), 0);
    }
  },

  async completionsReportCachedTokens() {
    const prompt = `Log: ${history} Next entry:`;
    const req = { model, prompt, max_tokens: 4, ignore_eos: true, seed: 3, logprobs: 1 };
    const first = await on.completions.create(req);
    const again = await on.completions.create(req);
    const plain = await off.completions.create(req);
    assert.ok(cached(again) > 0);
    assert.equal(again.choices[0].text, plain.choices[0].text);
    assert.deepEqual(again.choices[0].logprobs, plain.choices[0].logprobs);
    assert.deepEqual(first.choices[0].logprobs, plain.choices[0].logprobs);
  },

  // vLLM runs the n choices of a prompt as n requests and reports the cached tokens of one (the
  // stream's first output; the one that completes the answer otherwise). Every choice here finds
  // the same prompt cached; the choices are the same with caching off.
  async nChoicesReportTheirCachedPrompt() {
    const messages = firstTurn(8);
    await on.chat.completions.create(args(messages, 1));  // the prompt's blocks are now cached
    const hit = cached(await on.chat.completions.create(args(messages, 2)));
    assert.ok(hit > 0 && hit % 16 === 0, `${hit}`);
    const req = { ...args(messages, 3), n: 3 };
    const many = await on.chat.completions.create(req);
    const manyOff = await off.chat.completions.create(req);
    assert.equal(many.choices.length, 3);
    assert.equal(cached(many), hit);
    assert.equal(cached(manyOff), 0);
    for (let i = 0; i < 3; ++i) {
      const one = (r) => outcome({ choices: [r.choices.find((c) => c.index === i)] });
      assert.deepEqual(one(many), one(manyOff), `choice ${i}`);
    }
    const s = await on.chat.completions.create({ ...req, stream: true, stream_options: { include_usage: true } });
    let usage = null;
    const text = ['', '', ''];
    for await (const c of s) {
      for (const ch of c.choices) text[ch.index] += ch.delta?.content || '';
      if (c.usage) usage = c.usage;
    }
    assert.equal(cached({ usage }), hit);
    assert.deepEqual(text, [0, 1, 2].map((i) => many.choices.find((c) => c.index === i).message.content));
    const prompt = `Log: ${history} Day 8:`;
    await on.completions.create({ model, prompt, max_tokens: 1 });
    const c = await on.completions.create({ model, prompt, max_tokens: 2, n: 2, seed: 4 });
    assert.ok(cached(c) > 0 && cached(c) % 16 === 0, JSON.stringify(c.usage));
  },

  async nChoicesShareAFreshPrompt() {
    // A prompt the cache does not hold: the first choice prefills it, the others take its full
    // blocks (vLLM's child requests meet them in its prefix cache). Non-streamed, the usage is
    // of the choice that finished last (a later one: its full blocks were cached); streamed, of
    // the first token's choice (the first: nothing cached). Each choice as without caching.
    const req = (k) => ({ ...args(firstTurn(k), 5), n: 3 });
    const many = await on.chat.completions.create(req(9));
    const manyOff = await off.chat.completions.create(req(9));
    const shared = Math.floor((many.usage.prompt_tokens - 1) / 16) * 16;
    assert.equal(cached(many), shared, JSON.stringify(many.usage));
    assert.equal(cached(manyOff), 0);
    for (let i = 0; i < 3; ++i) {
      const one = (r) => outcome({ choices: [r.choices.find((c) => c.index === i)] });
      assert.deepEqual(one(many), one(manyOff), `choice ${i}`);
    }
    const s = await on.chat.completions.create({ ...req(10), stream: true,
      stream_options: { include_usage: true } });
    let usage = null;
    for await (const c of s) if (c.usage) usage = c.usage;
    assert.equal(cached({ usage }), 0);
  },

  async metricsCountQueriesAndHits() {
    const hits = await metric(baseOn, 'vllm:prefix_cache_hits_total');
    const queries = await metric(baseOn, 'vllm:prefix_cache_queries_total');
    assert.ok(hits > 0 && queries > hits, `${hits} of ${queries}`);
    assert.equal(await metric(baseOff, 'vllm:prefix_cache_hits_total'), 0);
    assert.equal(await metric(baseOff, 'vllm:prefix_cache_queries_total'), 0);
  },
};

require('./run_tests.cjs')(tests);
