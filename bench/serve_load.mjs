// Load generator for bench/serve.sh: streaming chat completions (fetch + SSE) against an
// OpenAI-compatible server, CONCURRENCY streams at a time until REQUESTS are done.
//   node bench/serve_load.mjs BASE_URL MODEL CONCURRENCY REQUESTS MAX_TOKENS
// Every request asks for exactly MAX_TOKENS tokens (temperature 0, ignore_eos, no prompt cache)
// with a slightly different prompt. Prints one JSON line: generated tokens (from the usage
// chunk), aggregate tokens/s over the wall time of the whole level, TTFT p50/p90/p99 (time from
// sending the request to the first chunk carrying content), and how many requests were sent again
// after the server closed their kept-alive connection unanswered (serve_client.mjs).
import { percentile, streamChat } from './serve_client.mjs';

const [base, model, conc, total, maxTokens] = process.argv.slice(2);
const concurrency = Number(conc), requests = Number(total), max_tokens = Number(maxTokens);

async function one(i) {
  const r = await streamChat(base, {
    model,
    messages: [{ role: 'user', content: `Request ${i}: write a long story about a lighthouse keeper and the sea.` }],
    max_tokens, temperature: 0, ignore_eos: true, cache_prompt: false,
  });
  return { ttft: r.ttft, tokens: r.usage?.completion_tokens ?? r.chunks, ms: r.ms, retries: r.retries };
}

const results = [];
let next = 0;
const t0 = performance.now();
await Promise.all(Array.from({ length: concurrency }, async () => {
  while (next < requests) results.push(await one(next++));
}));
const wall = (performance.now() - t0) / 1000;
const tokens = results.reduce((s, r) => s + r.tokens, 0);
const ttfts = results.map(r => r.ttft ?? r.ms);
console.log(JSON.stringify({
  concurrency, requests, max_tokens, wall_s: wall, tokens,
  tokens_min: Math.min(...results.map(r => r.tokens)), tokens_max: Math.max(...results.map(r => r.tokens)),
  tok_s: tokens / wall, ttft_p50_ms: percentile(ttfts, 0.5), ttft_p90_ms: percentile(ttfts, 0.9),
  ttft_p99_ms: percentile(ttfts, 0.99), retries: results.reduce((s, r) => s + r.retries, 0),
}));
