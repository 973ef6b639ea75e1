// Driver for bench/prefix_cache.sh: the second turn of a chat with a long shared history, against
// two `modelcar serve` instances on the same model, prefix caching on (URL_ON) and off (URL_OFF).
//   node bench/prefix_cache.mjs URL_ON URL_OFF MODEL RUNS SENTENCES
// Each run is a new conversation (its history differs from the first token, so no earlier run is
// in the cache): turn 1 on both servers (the same seed, so the same reply), then turn 2 streamed
// on each server, in alternating order. TTFT is the time from sending turn 2 to the first chunk
// carrying a token. Prints one JSON line per run and a summary line: median and min-max of TTFT
// on and off, the ratio of medians, the per-run ratios, and whether every turn 2 had the same
// tokens and logprobs on both servers.
import { median, spread, streamChat } from './serve_client.mjs';

const [urlOn, urlOff, model, runsArg, sentencesArg] = process.argv.slice(2);
const runs = Number(runsArg), sentences = Number(sentencesArg);

function history(run) {
  const rules = Array.from({ length: sentences }, (_, i) =>
    `Rule ${i + 1}: the harbour master logs every ship that enters, with its flag, cargo and crew.`);
  return [
    { role: 'system', content: `Log book ${run}. ${rules.join(' ')}` },
    { role: 'user', content: 'Which ships came in on the first day?' },
  ];
}

const body = (messages, seed) => ({ model, messages, seed, max_tokens: 16, ignore_eos: true, logprobs: true });

async function reply(base, messages, seed) {
  const res = await fetch(`${base}/v1/chat/completions`, {
    method: 'POST', headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body(messages, seed)),
  });
  if (!res.ok) throw new Error(`HTTP ${res.status}: ${await res.text()}`);
  return res.json();
}

const on = [], off = [];
let identical = true;
for (let r = 0; r < runs; ++r) {
  const messages = history(r);
  const seed = 1000 + r;
  const first = await Promise.all([reply(urlOn, messages, seed), reply(urlOff, messages, seed)]);
  const text = first[0].choices[0].message.content;
  if (text !== first[1].choices[0].message.content) identical = false;
  const turn2 = [...messages, { role: 'assistant', content: text },
    { role: 'user', content: 'And on the second day?' }];
  const order = r % 2 ? [urlOff, urlOn] : [urlOn, urlOff];
  const got = {};
  for (const url of order) got[url] = await streamChat(url, body(turn2, seed + 1));
  const a = got[urlOn], b = got[urlOff];
  const same = JSON.stringify(a.tokens) === JSON.stringify(b.tokens);
  if (!same || a.tokens.length !== 16) identical = false;
  on.push(a.ttft); off.push(b.ttft);
  console.log(JSON.stringify({ run: r, history_tokens: first[0].usage.prompt_tokens,
    turn2_prompt_tokens: a.usage.prompt_tokens,
    cached_tokens_on: a.usage.prompt_tokens_details?.cached_tokens ?? 0,
    cached_tokens_off: b.usage.prompt_tokens_details?.cached_tokens ?? 0,
    ttft_on_ms: +a.ttft.toFixed(1), ttft_off_ms: +b.ttft.toFixed(1),
    ratio: +(b.ttft / a.ttft).toFixed(2), same_tokens: same }));
}
const ratios = on.map((x, i) => off[i] / x);
console.log(JSON.stringify({ summary: true, runs, ttft_on_ms: spread(on), ttft_off_ms: spread(off),
  speedup_of_medians: +(median(off) / median(on)).toFixed(2), speedup_per_run: spread(ratios, 2),
  identical_outputs: identical }));
