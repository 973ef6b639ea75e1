// Structured outputs against free generation on one `modelcar serve`: decode tokens/s of a
// streamed chat completion (tokens after the first, over the time between the first and the last
// chunk), for an unconstrained request and for each constraint, interleaved round by round.
//   node bench/structured.mjs BASE_URL MODEL ROUNDS MAX_TOKENS
// Every request generates MAX_TOKENS tokens (temperature 0, ignore_eos; the schemas force long
// strings so the grammar never ends first). The first constrained request of each kind (grammar
// compiled, token masks computed) is reported separately as "cold"; rounds use warm caches, as a
// server does for a schema it has seen. A round runs every kind once, the order reversed every
// other round, so each constrained run has a free run next to it in time: on a shared machine
// the load drifts, and the ratio within a round cancels most of it. Prints one JSON line per
// kind: median and min/max decode tokens/s, the ratio of its median to the free median, and the
// median and min/max of the per-round ratios to the free run of the same round.
import { decodeRate, median, spread, streamChat } from './serve_client.mjs';

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
  const r = await streamChat(base, { model, messages: [{ role: 'user', content: 'Describe a person as JSON.' }],
    max_tokens, temperature: 0, ignore_eos: true, ...extra });
  return { tokens: r.usage.completion_tokens, ms: r.ms, tok_s: decodeRate(r) };
}

const cold = {};
for (const [k, extra] of Object.entries(kinds)) cold[k] = await one(extra);
const runs = Object.fromEntries(Object.keys(kinds).map((k) => [k, []]));
for (let r = 0; r < rounds; ++r) {
  const order = Object.keys(kinds);
  if (r % 2) order.reverse();
  for (const k of order) runs[k].push(await one(kinds[k]));
}
const freeRates = runs.free.map((x) => x.tok_s);
for (const k of Object.keys(kinds)) {
  const t = runs[k].map((x) => x.tok_s);
  const paired = spread(t.map((x, i) => x / freeRates[i]), 3);
  console.log(JSON.stringify({ kind: k, tokens: median(runs[k].map((x) => x.tokens)),
    tok_s: spread(t, 2), vs_free_of_medians: +(median(t) / median(freeRates)).toFixed(3),
    vs_free_per_round: paired, cold_tok_s: +cold[k].tok_s.toFixed(2), cold_total_ms: Math.round(cold[k].ms) }));
}
