// Tokenizer benchmark program for bench/tokenizer.sh (built on demand: target tokenizer_bench).
//   tokenizer_bench MODEL_DIR FILE ROUNDS [THREADS]
// Prints one JSON line: load seconds, and for encoding FILE's lines ROUNDS times (each thread
// encodes all of them): bytes, seconds, tokens.
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

#include "base/file.h"
#include "llm/tokenizer/tokenizer.h"

int main(int argc, char** argv) {
  if (argc < 4) {
    std::fprintf(stderr, "usage: tokenizer_bench MODEL_DIR FILE ROUNDS [THREADS]\n");
    return 2;
  }
  using Clock = std::chrono::steady_clock;
  auto t0 = Clock::now();
  auto tok = modelcar::llm::Tokenizer::FromDir(argv[1]);
  if (!tok.ok()) {
    std::fprintf(stderr, "%s\n", tok.status().ToString().c_str());
    return 1;
  }
  double load = std::chrono::duration<double>(Clock::now() - t0).count();
  auto text = modelcar::ReadFile(argv[2]);
  if (!text.ok()) {
    std::fprintf(stderr, "%s\n", text.status().ToString().c_str());
    return 1;
  }
  std::vector<std::string> lines;  // split after each '\n', as the JS side does
  size_t start = 0;
  while (start < text->size()) {
    size_t nl = text->find('\n', start);
    size_t end = nl == std::string::npos ? text->size() : nl + 1;
    lines.push_back(text->substr(start, end - start));
    start = end;
  }
  int rounds = std::atoi(argv[3]);
  int threads = argc > 4 ? std::atoi(argv[4]) : 1;
  for (size_t i = 0; i < lines.size() && i < 200; ++i) (void)tok->Encode(lines[i]);  // warm up
  std::vector<size_t> tokens(static_cast<size_t>(threads), 0);
  auto t1 = Clock::now();
  std::vector<std::thread> pool;
  for (int th = 0; th < threads; ++th) {
    pool.emplace_back([&, th] {
      std::vector<int32_t> ids;
      for (int r = 0; r < rounds; ++r) {
        for (const std::string& l : lines) {
          ids.clear();
          if (tok->EncodeTo(l, true, &ids).ok()) tokens[static_cast<size_t>(th)] += ids.size();
        }
      }
    });
  }
  for (auto& t : pool) t.join();
  double secs = std::chrono::duration<double>(Clock::now() - t1).count();
  size_t total_tokens = 0;
  for (size_t t : tokens) total_tokens += t;
  std::printf("{\"load_seconds\":%.4f,\"bytes\":%zu,\"seconds\":%.4f,\"tokens\":%zu,\"threads\":%d}\n",
              load, text->size() * static_cast<size_t>(rounds) * static_cast<size_t>(threads), secs,
              total_tokens, threads);
  return 0;
}
