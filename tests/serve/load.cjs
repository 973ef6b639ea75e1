// 16 concurrent streaming clients, then a client that disconnects mid-stream.
// Usage: node load.cjs BASE_URL MODEL_NAME
const { OpenAI } = require('openai');
const assert = require('node:assert/strict');

const [base, model] = process.argv.slice(2);
const client = new OpenAI({ baseURL: base + '/v1', apiKey: 'x', maxRetries: 0, timeout: 300000 });

async function metric(name) {
  let text;
  for (let attempt = 0; ; attempt++) {
    try {
      text = await (await fetch(base + '/metrics', { headers: { connection: 'close' } })).text();
      break;
    } catch (e) {
      if (attempt === 2) throw e;
    }
  }
  const m = text.match(new RegExp(name.replace(/[{}]/g, '\\$&') + ' ([0-9.e+-]+)'));
  assert.ok(m, `metric ${name} present`);
  return Number(m[1]);
}

async function one(i, maxTokens) {
  const stream = await client.chat.completions.create({
    model, messages: [{ role: 'user', content: `Client ${i}: tell me a story.` }],
    max_tokens: maxTokens, ignore_eos: true, stream: true, temperature: 0, stream_options: { include_usage: true },
  });
  let finish = null, usage = null, logprobTokens = 0, chunks = 0;
  for await (const c of stream) {
    if (c.usage) usage = c.usage;
    else {
      chunks++;
      if (c.choices[0].finish_reason) finish = c.choices[0].finish_reason;
    }
  }
  return { finish, usage, chunks };
}

(async () => {
  // 16 streams at once, with different lengths: all finish with exactly their token counts.
  const lens = Array.from({ length: 16 }, (_, i) => 8 + (i % 4) * 6);
  const results = await Promise.all(lens.map((n, i) => one(i, n)));
  results.forEach((r, i) => {
    assert.equal(r.finish, 'length', `client ${i}`);
    assert.equal(r.usage.completion_tokens, lens[i], `client ${i} token count`);
    assert.ok(r.chunks >= 2, `client ${i} got a stream`);
  });
  console.log('ok   16 concurrent streams');
  const generated = await metric(`vllm:generation_tokens_total{model_name="${model}"}`);
  assert.ok(generated >= lens.reduce((a, b) => a + b, 0));

  // A client that goes away mid-stream: its slot and KV blocks are freed.
  const abortsBefore = await metric(`vllm:request_success_total{model_name="${model}",finished_reason="abort"}`);
  const ac = new AbortController();
  const stream = await client.chat.completions.create({
    model, messages: [{ role: 'user', content: 'Write forever.' }], max_tokens: 20000,
    ignore_eos: true, stream: true, temperature: 0,
  }, { signal: ac.signal });
  let seen = 0, aborted = false;
  try {
    for await (const c of stream) {
      if (++seen === 5) {
        assert.equal(await metric(`vllm:num_requests_running{model_name="${model}"}`), 1);
        assert.ok(await metric(`vllm:kv_cache_usage_perc{model_name="${model}"}`) > 0);
        aborted = true;
        ac.abort();
      }
    }
  } catch (e) {
    if (!aborted) throw e;
  }
  let running = 1, kv = 1, aborts = abortsBefore;
  for (let i = 0; i < 100 && (running !== 0 || kv !== 0 || aborts === abortsBefore); i++) {
    await new Promise((r) => setTimeout(r, 100));
    running = await metric(`vllm:num_requests_running{model_name="${model}"}`);
    kv = await metric(`vllm:kv_cache_usage_perc{model_name="${model}"}`);
    aborts = await metric(`vllm:request_success_total{model_name="${model}",finished_reason="abort"}`);
  }
  assert.equal(running, 0, 'slot freed after disconnect');
  assert.equal(kv, 0, 'KV cache freed after disconnect');
  assert.equal(aborts, abortsBefore + 1, 'the request ended as abort');
  const generatedAfter = await metric(`vllm:generation_tokens_total{model_name="${model}"}`);
  assert.ok(generatedAfter - generated < 20000, 'generation stopped early');
  console.log('ok   disconnect frees the slot');
})().catch((e) => { console.error('FAIL', e.stack || e); process.exit(1); });
