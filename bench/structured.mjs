// Structured outputs against free generation on one `modelcar serve`: decode tokens/s of a
// streamed chat completion (tokens after the first, over the time between the first and the last
// chunk), for an unconstrained request and for each constraint, interleaved round by round.
//   node bench/structured.mjs BASE_URL MODEL ROUNDS MAX_TOKENS
// Every request generates MAX_TOKENS tokens (temperature 0, ignore_eos; the schemas force long
// strings so the grammar never ends first). The first constrained request of each kind (grammar
// compiled, token masks computed) is reported separately as "cold"; rounds use warm caches, as a
// server does for a schema it has seen. Prints one JSON line per kind: median and min/max decode
// tokens/s and the ratio to the unconstrained median.
const [base, model, roundsArg, maxArg] = process.argv.slice(2);
const rounds = Number(roundsArg), max_tokens = Number(maxArg);

const kinds = {
  free: {},
  json_schema: { response_format: { type: 'json_schema', json_schema: { name: 'profile', strict: true,
    schema: { type: 'object', additionalProperties: false, required: ['name', 'age', 'tags', 'bio'],
      properties: { name: { type: 'string', maxLength: 40 }, age: { type: 'integer', minimum: 0, maximum: 150 },
        tags: { type: 'array', items: { enum: ['a', 'b', 'c'] }, maxItems: 4 },
        bio: { type: 'string', minLength: 2000 } } } } } },
  json_object: { response_format: { type: 'json_object' } },
  regex: { structured_outputs: { regex: '(?:[a-z]+ ){1000,}' } },
};

async function one(extra) {
  const t0 = performance.now();
  const res = await fetch(`${base}/v1/chat/completions`, {
    method: 'POST', headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ model, messages: [{ role: 'user', content: 'Describe a person as JSON.' }],
      stream: true, stream_options: { include_usage: true }, max_tokens, temperature: 0,
      ignore_eos: true, ...extra }),
  });
  if (!res.ok) throw new Error(`HTTP ${res.status}: ${await res.text()}`);
  let first = null, last = null, usage = null, buf = '';
  const dec = new TextDecoder();
  for await (const part of res.body) {
    buf += dec.decode(part, { stream: true });
    let k;
    while ((k = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, k).trim(); buf = buf.slice(k + 1);
      if (!line.startsWith('data:') || line.includes('[DONE]')) continue;
      const j = JSON.parse(line.slice(5));
      if (j.usage) { usage = j.usage; continue; }
      if (j.choices?.[0]?.delta?.content) { const t = performance.now(); if (first === null) first = t; last = t; }
    }
  }
  const tokens = usage.completion_tokens;
  return { tokens, ms: performance.now() - t0, tok_s: (tokens - 1) / ((last - first) / 1000) };
}

const median = (a) => { const s = [...a].sort((x, y) => x - y); return s[Math.floor(s.length / 2)]; };
const cold = {};
for (const [k, extra] of Object.entries(kinds)) cold[k] = await one(extra);
const runs = Object.fromEntries(Object.keys(kinds).map((k) => [k, []]));
for (let r = 0; r < rounds; ++r) {
  const order = Object.keys(kinds);
  if (r % 2) order.reverse();
  for (const k of order) runs[k].push(await one(kinds[k]));
}
const free = median(runs.free.map((x) => x.tok_s));
for (const k of Object.keys(kinds)) {
  const t = runs[k].map((x) => x.tok_s);
  console.log(JSON.stringify({ kind: k, tokens: median(runs[k].map((x) => x.tokens)),
    tok_s_median: +median(t).toFixed(2), tok_s_min: +Math.min(...t).toFixed(2),
    tok_s_max: +Math.max(...t).toFixed(2), vs_free: +(median(t) / free).toFixed(3),
    cold_tok_s: +cold[k].tok_s.toFixed(2), cold_total_ms: Math.round(cold[k].ms) }));
}
