// What the serving benchmarks' drivers (bench/serve_load.mjs, bench/structured.mjs,
// bench/prefix_cache.mjs) share: one chat completion against an OpenAI-compatible server, streamed
// (fetch + SSE) and timed, and the statistics they print.
//
// streamChat(base, body): POSTs body (stream forced on, usage asked) to BASE/v1/chat/completions
// and reads the stream to its end. Returns
//   ms          request sent -> stream ended
//   ttft        request sent -> first chunk carrying a token (content or a logprob entry)
//   first, last performance.now() of the first and the last such chunk
//   chunks      how many chunks carried a token
//   tokens      [token, logprob] of every streamed logprob entry (when logprobs were asked)
//   usage       the usage chunk's usage (null when the server sent none)
//   retries     how many times the server closed a kept-alive connection before answering and
//               the request was sent again (llama-server does at times under load, sometimes on
//               the next pooled connection too), at most kMaxRetries; the times count from the
//               first attempt
// A non-2xx answer throws with its body.
const kMaxRetries = 3;
export async function streamChat(base, body) {
  const t0 = performance.now();
  let res, retries = 0;
  for (;;) {
    try {
      res = await fetch(`${base}/v1/chat/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ ...body, stream: true, stream_options: { include_usage: true } }),
      });
      break;
    } catch (e) {
      if (retries >= kMaxRetries || e.cause?.code !== 'UND_ERR_SOCKET') throw e;
      retries++;
    }
  }
  if (!res.ok) throw new Error(`HTTP ${res.status}: ${await res.text()}`);
  const out = { ms: 0, ttft: null, first: null, last: null, chunks: 0, tokens: [], usage: null, retries };
  for await (const j of sseChunks(res)) {
    if (j.usage) out.usage = j.usage;
    const choice = j.choices?.[0];
    const lp = choice?.logprobs?.content;
    if (lp?.length) for (const t of lp) out.tokens.push([t.token, t.logprob]);
    if (!choice?.delta?.content && !lp?.length) continue;
    const now = performance.now();
    if (out.first === null) {
      out.first = now;
      out.ttft = now - t0;
    }
    out.last = now;
    out.chunks++;
  }
  out.ms = performance.now() - t0;
  return out;
}

// The JSON chunks of a streamed (SSE) answer, in order, up to its `data: [DONE]`.
export async function* sseChunks(res) {
  const dec = new TextDecoder();
  let buf = '';
  for await (const part of res.body) {
    buf += dec.decode(part, { stream: true });
    let k;
    while ((k = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, k).trim();
      buf = buf.slice(k + 1);
      if (!line.startsWith('data:')) continue;
      const data = line.slice(5).trim();
      if (data !== '[DONE]') yield JSON.parse(data);
    }
  }
}

// Decode tokens/s of a streamed completion: tokens after the first over the time from the first
// to the last token chunk.
export const decodeRate = (r) => (r.usage.completion_tokens - 1) / ((r.last - r.first) / 1000);

export const median = (a) => {
  const s = [...a].sort((x, y) => x - y);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};

// The p-quantile (0..1) by the nearest rank below.
export const percentile = (a, p) => {
  const s = [...a].sort((x, y) => x - y);
  return s[Math.min(s.length - 1, Math.floor(p * s.length))];
};

// { median, min, max } rounded to `digits`.
export const spread = (a, digits = 1) => ({
  median: +median(a).toFixed(digits),
  min: +Math.min(...a).toFixed(digits),
  max: +Math.max(...a).toFixed(digits),
});
