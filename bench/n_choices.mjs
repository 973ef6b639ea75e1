// Driver for bench/n_choices.sh: n = 4 choices of a ~1,000-token prompt the cache does not hold,
// against `modelcar serve` instances given as NAME=URL (e.g. before=..., after=...).
//   node bench/n_choices.mjs MODEL RUNS SENTENCES NAME=URL...
// Each run uses two new prompts (they differ from the first token, so nothing is cached): one
// streamed (TTFT: request sent -> first chunk with a token, of any choice; total: -> [DONE]),
// one not streamed (total time, usage.prompt_tokens_details.cached_tokens). The servers take
// turns, the order alternating per run. Prints one JSON line per run and server and a summary
// per server (median, min-max), and whether every server gave the same tokens per choice.
import { median, spread, sseChunks } from './serve_client.mjs';

const [model, runsArg, sentencesArg, ...servers] = process.argv.slice(2);
const runs = Number(runsArg), sentences = Number(sentencesArg);
const urls = servers.map((s) => s.split('='));

const messages = (tag) => [
  { role: 'system', content: `Log book ${tag}. ` + Array.from({ length: sentences }, (_, i) =>
    `Rule ${i + 1}: the harbour master logs every ship that enters, with its flag, cargo and crew.`)
    .join(' ') },
  { role: 'user', content: 'Which ships came in on the first day?' },
];
const body = (tag) => ({ model, messages: messages(tag), n: 4, seed: 7, temperature: 1,
  max_tokens: 16, ignore_eos: true, logprobs: true });

async function streamed(base, tag) {
  const t0 = performance.now();
  const res = await fetch(`${base}/v1/chat/completions`, { method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ ...body(tag), stream: true, stream_options: { include_usage: true } }) });
  if (!res.ok) throw new Error(`HTTP ${res.status}: ${await res.text()}`);
  const tokens = [[], [], [], []];
  let ttft = null, usage = null;
  for await (const j of sseChunks(res)) {
    if (j.usage) usage = j.usage;
    const c = j.choices?.[0];
    const lp = c?.logprobs?.content;
    if (!lp?.length) continue;
    ttft ??= performance.now() - t0;
    for (const t of lp) tokens[c.index].push(t.token);
  }
  return { ttft, ms: performance.now() - t0, tokens, usage };
}

async function whole(base, tag) {
  const t0 = performance.now();
  const res = await fetch(`${base}/v1/chat/completions`, { method: 'POST',
    headers: { 'content-type': 'application/json' }, body: JSON.stringify(body(tag)) });
  if (!res.ok) throw new Error(`HTTP ${res.status}: ${await res.text()}`);
  const j = await res.json();
  return { ms: performance.now() - t0, usage: j.usage,
    tokens: j.choices.map((c) => c.logprobs.content.map((t) => t.token)) };
}

const stats = Object.fromEntries(urls.map(([name]) => [name, { ttft: [], stream_ms: [], whole_ms: [] }]));
let identical = true;
for (let r = 0; r < runs; ++r) {
  const order = r % 2 ? [...urls].reverse() : urls;
  const seen = {};
  for (const [name, url] of order) {
    const s = await streamed(url, `s${r}`), w = await whole(url, `w${r}`);
    const key = JSON.stringify([s.tokens, w.tokens]);
    seen[name] = key;
    stats[name].ttft.push(s.ttft); stats[name].stream_ms.push(s.ms); stats[name].whole_ms.push(w.ms);
    console.log(JSON.stringify({ run: r, server: name, prompt_tokens: w.usage.prompt_tokens,
      ttft_ms: +s.ttft.toFixed(1), stream_ms: +s.ms.toFixed(1), whole_ms: +w.ms.toFixed(1),
      cached_tokens_stream: s.usage.prompt_tokens_details?.cached_tokens ?? 0,
      cached_tokens_whole: w.usage.prompt_tokens_details?.cached_tokens ?? 0 }));
  }
  if (new Set(Object.values(seen)).size !== 1) identical = false;
}
for (const [name] of urls) {
  const st = stats[name];
  console.log(JSON.stringify({ summary: name, runs, ttft_ms: spread(st.ttft),
    stream_ms: spread(st.stream_ms), whole_ms: spread(st.whole_ms) }));
}
if (urls.length > 1) {
  const [a, b] = urls.map(([n]) => stats[n]);
  console.log(JSON.stringify({ [`${urls[0][0]}/${urls[1][0]}`]: {
    ttft: +(median(a.ttft) / median(b.ttft)).toFixed(2),
    stream_ms: +(median(a.stream_ms) / median(b.stream_ms)).toFixed(2),
    whole_ms: +(median(a.whole_ms) / median(b.whole_ms)).toFixed(2) }, identical_tokens: identical }));
}
