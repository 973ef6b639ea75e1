#include "serve/logit_rules.h"

#include <algorithm>

namespace modelcar::serve {

bool HasBans(const SamplingOptions& s) { return s.min_tokens > 0 || !s.bad_words_ids.empty(); }

void BannedTokens(const SamplingOptions& s, std::span<const int32_t> eos_token_ids,
                  std::span<const int32_t> generated, std::vector<int32_t>* out) {
  out->clear();
  if (static_cast<int>(generated.size()) < s.min_tokens) {
    out->insert(out->end(), eos_token_ids.begin(), eos_token_ids.end());
    out->insert(out->end(), s.stop_token_ids.begin(), s.stop_token_ids.end());
  }
  for (const std::vector<int32_t>& word : s.bad_words_ids) {
    const size_t prefix = word.size() - 1;
    if (prefix > generated.size()) continue;
    if (std::equal(word.begin(), word.end() - 1, generated.end() - prefix)) {
      out->push_back(word.back());
    }
  }
}

}  // namespace modelcar::serve
