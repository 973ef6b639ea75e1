// Driver for bench/prefix_cache.sh: the second turn of a chat with a long shared history, against
// two `modelcar serve` instances on the same model, prefix caching on (URL_ON) and off (URL_OFF).
//   node bench/prefix_cache.mjs URL_ON URL_OFF MODEL RUNS SENTENCES
// Each run is a new conversation (its history differs from the first token, so no earlier run is
// in the cache): turn 1 on both servers (the same seed, so the same reply), then turn 2 streamed
// on each server, in alternating order. TTFT is the time from sending turn 2 to the first chunk
// carrying a token. Prints one JSON line per run and a summary line: median and min-max of TTFT
// on and off, the ratio of medians, the per-run ratios, and whether every turn 2 had the same
// tokens and logprobs on both servers.
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

async function chat(base, messages, seed, stream) {
  const t0 = performance.now();
  const res = await fetch(`${base}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ model, messages, seed, max_tokens: 16, ignore_eos: true, logprobs: true,
      stream, ...(stream ? { stream_options: { include_usage: true } } : {}) }),
  });
  if (!res.ok) throw new Error(`HTTP ${res.status}: ${await res.text()}`);
  if (!stream) return { body: await res.json(), ms: performance.now() - t0 };
  let ttft = null, usage = null, buf = '';
  const tokens = [];
  const dec = new TextDecoder();
  for await (const part of res.body) {
    buf += dec.decode(part, { stream: true });
    let k;
    while ((k = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, k).trim(); buf = buf.slice(k + 1);
      if (!line.startsWith('data:')) continue;
      const data = line.slice(5).trim();
      if (data === '[DONE]') continue;
      const j = JSON.parse(data);
      if (j.usage) usage = j.usage;
      const lp = j.choices?.[0]?.logprobs?.content;
      if (lp?.length) {
        if (ttft === null) ttft = performance.now() - t0;
        for (const t of lp) tokens.push([t.token, t.logprob]);
      }
    }
  }
  return { ttft, usage, tokens, ms: performance.now() - t0 };
}

const median = (a) => { const s = [...a].sort((x, y) => x - y); const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2; };

const on = [], off = [];
let identical = true;
for (let r = 0; r < runs; ++r) {
  const messages = history(r);
  const seed = 1000 + r;
  const first = await Promise.all([chat(urlOn, messages, seed, false), chat(urlOff, messages, seed, false)]);
  const reply = first[0].body.choices[0].message.content;
  if (reply !== first[1].body.choices[0].message.content) identical = false;
  const turn2 = [...messages, { role: 'assistant', content: reply },
    { role: 'user', content: 'And on the second day?' }];
  const order = r % 2 ? [urlOff, urlOn] : [urlOn, urlOff];
  const got = {};
  for (const url of order) got[url] = await chat(url, turn2, seed + 1, true);
  const a = got[urlOn], b = got[urlOff];
  if (JSON.stringify(a.tokens) !== JSON.stringify(b.tokens) || a.tokens.length !== 16) identical = false;
  on.push(a.ttft); off.push(b.ttft);
  console.log(JSON.stringify({ run: r, history_tokens: first[0].body.usage.prompt_tokens,
    turn2_prompt_tokens: a.usage.prompt_tokens,
    cached_tokens_on: a.usage.prompt_tokens_details?.cached_tokens,
    cached_tokens_off: b.usage.prompt_tokens_details?.cached_tokens,
    ttft_on_ms: +a.ttft.toFixed(1), ttft_off_ms: +b.ttft.toFixed(1),
    ratio: +(b.ttft / a.ttft).toFixed(2), same_tokens: JSON.stringify(a.tokens) === JSON.stringify(b.tokens) }));
}
const ratios = on.map((x, i) => off[i] / x);
console.log(JSON.stringify({ summary: true, runs,
  ttft_on_ms: { median: +median(on).toFixed(1), min: +Math.min(...on).toFixed(1), max: +Math.max(...on).toFixed(1) },
  ttft_off_ms: { median: +median(off).toFixed(1), min: +Math.min(...off).toFixed(1), max: +Math.max(...off).toFixed(1) },
  speedup_of_medians: +(median(off) / median(on)).toFixed(2),
  speedup_per_run: { median: +median(ratios).toFixed(2), min: +Math.min(...ratios).toFixed(2), max: +Math.max(...ratios).toFixed(2) },
  identical_outputs: identical }));
