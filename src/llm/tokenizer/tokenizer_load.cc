// Loading tokenizer.json and tokenizer_config.json into a Tokenizer. Every field is checked and
// errors name the file and the JSON path; nlohmann exceptions never leave this file.
#include <fmt/format.h>

#include <algorithm>
#include <future>
#include <nlohmann/json.hpp>

#include "base/file.h"
#include "base/json.h"
#include "base/resident.h"
#include "llm/tokenizer/bpe.h"
#include "llm/tokenizer/byte_level.h"
#include "llm/tokenizer/pretokenize.h"
#include "llm/tokenizer/token_index.h"
#include "llm/tokenizer/tokenizer.h"
#include "llm/tokenizer/tokenizer_json.h"
#include "llm/tokenizer/unicode.h"

namespace modelcar::llm {

using json = nlohmann::json;

namespace {

constexpr int64_t kMaxTokenId = 16 * 1024 * 1024;
constexpr uint64_t kMaxTokenizerJson = uint64_t{512} << 20;

std::string Describe(const json& j) {
  std::string s = j.dump();
  if (s.size() > 120) s = s.substr(0, 117) + "...";
  return s;
}

// The error for model.merges[i], naming its two tokens.
Status BadMerge(const TokenizerJson& tj, size_t i, const char* what) {
  return InvalidArgument(fmt::format(
      "model.merges[{}] names a token {}: {}", i, what,
      json(fmt::format("{} {}", tj.View(tj.merges[i].first), tj.View(tj.merges[i].second)))
          .dump()));
}

bool IsNullOrEmptyString(const json& j) {
  return j.is_null() || (j.is_string() && j.get_ref<const std::string&>().empty());
}

Result<bool> OptBool(const json& obj, const char* key, bool dflt, const std::string& where) {
  auto it = obj.find(key);
  if (it == obj.end() || it->is_null()) return dflt;
  if (!it->is_boolean()) return InvalidArgument(where + "." + key + " must be a boolean");
  return it->get<bool>();
}

Result<AddedToken> ParseAddedToken(const json& j, const std::string& where) {
  if (!j.is_object()) return InvalidArgument(where + " must be an object");
  AddedToken t;
  auto content = j.find("content");
  if (content == j.end() || !content->is_string() ||
      content->get_ref<const std::string&>().empty()) {
    return InvalidArgument(where + ".content must be a non-empty string");
  }
  t.content = content->get<std::string>();
  RETURN_IF_ERROR(ValidateUtf8(t.content).WithContext(where + ".content"));
  ASSIGN_OR_RETURN(t.special, OptBool(j, "special", false, where));
  ASSIGN_OR_RETURN(t.lstrip, OptBool(j, "lstrip", false, where));
  ASSIGN_OR_RETURN(t.rstrip, OptBool(j, "rstrip", false, where));
  ASSIGN_OR_RETURN(t.single_word, OptBool(j, "single_word", false, where));
  ASSIGN_OR_RETURN(t.normalized, OptBool(j, "normalized", !t.special, where));
  return t;
}

Result<bool> ParseNormalizer(const json& n) {
  if (n.is_null()) return false;
  if (!n.is_object()) return InvalidArgument("normalizer must be an object or null");
  std::string type = n.value("type", "");
  if (type == "NFC") return true;
  if (type == "Sequence") {
    auto list = n.find("normalizers");
    if (list != n.end() && list->is_array()) {
      if (list->empty()) return false;
      if (list->size() == 1) return ParseNormalizer((*list)[0]);
    }
  }
  return Unimplemented("unsupported normalizer " + Describe(n) + " (supported: null, NFC)");
}

Result<SplitPattern> ParsePreTokenizer(const json& p) {
  auto bad = [&]() {
    return Unimplemented("unsupported pre_tokenizer " + Describe(p) +
                         " (supported: Sequence of a Split with the Qwen2 or Llama 3 regex "
                         "and a ByteLevel without add_prefix_space)");
  };
  if (!p.is_object() || p.value("type", "") != "Sequence") return bad();
  auto list = p.find("pretokenizers");
  if (list == p.end() || !list->is_array() || list->size() != 2) return bad();
  const json& split = (*list)[0];
  const json& byte_level = (*list)[1];
  if (!split.is_object() || split.value("type", "") != "Split") return bad();
  if (split.value("behavior", "") != "Isolated" || split.value("invert", false)) return bad();
  auto pattern = split.find("pattern");
  if (pattern == split.end() || !pattern->is_object() || !pattern->contains("Regex") ||
      !(*pattern)["Regex"].is_string()) {
    return bad();
  }
  if (!byte_level.is_object() || byte_level.value("type", "") != "ByteLevel" ||
      byte_level.value("add_prefix_space", false) || byte_level.value("use_regex", false)) {
    return bad();
  }
  return SplitPatternFromRegex((*pattern)["Regex"].get<std::string>());
}

// "bos_token": "<s>" | {"content": "<s>", ...} | null
Result<std::string> SpecialTokenName(const json& config, const char* key) {
  auto it = config.find(key);
  if (it == config.end() || it->is_null()) return std::string();
  if (it->is_string()) return it->get<std::string>();
  if (it->is_object() && it->contains("content") && (*it)["content"].is_string()) {
    return (*it)["content"].get<std::string>();
  }
  return InvalidArgument(std::string(key) +
                         " must be a string, an object with \"content\" or null");
}

// The special tokens tokenizer.json's post-processor puts around a single sequence (HF's
// add_special_tokens=True): TemplateProcessing's "single", alone or inside a "Sequence" of
// processors. Other processors (ByteLevel: offsets only) add none.
Status ParsePostProcessor(const json& p, std::vector<int32_t>* prefix,
                          std::vector<int32_t>* suffix) {
  if (!p.is_object()) return Status();
  const std::string type = p.value("type", "");
  if (type == "Sequence") {
    if (!p.contains("processors") || !p["processors"].is_array()) {
      return InvalidArgument("post_processor: a Sequence needs a processors list");
    }
    for (const json& q : p["processors"]) RETURN_IF_ERROR(ParsePostProcessor(q, prefix, suffix));
    return Status();
  }
  if (type != "TemplateProcessing") return Status();
  const json single = p.value("single", json::array());
  const json specials = p.value("special_tokens", json::object());
  if (!single.is_array() || !specials.is_object()) {
    return InvalidArgument("post_processor: TemplateProcessing needs single and special_tokens");
  }
  bool after = false;
  for (const json& item : single) {
    if (item.is_object() && item.contains("Sequence")) {
      after = true;
      continue;
    }
    if (!item.is_object() || !item.contains("SpecialToken") || !item["SpecialToken"].is_object() ||
        !item["SpecialToken"].contains("id") || !item["SpecialToken"]["id"].is_string()) {
      return InvalidArgument(
          "post_processor: single holds an item other than a Sequence or a "
          "SpecialToken");
    }
    const std::string name = item["SpecialToken"]["id"].get<std::string>();
    auto sp = specials.find(name);
    if (sp == specials.end() || !sp->is_object() || !sp->contains("ids") ||
        !(*sp)["ids"].is_array()) {
      return InvalidArgument("post_processor: special token " + json(name).dump() + " has no ids");
    }
    for (const json& id : (*sp)["ids"]) {
      if (!id.is_number_integer() || id.get<int64_t>() < 0 || id.get<int64_t>() > kMaxTokenId) {
        return InvalidArgument("post_processor: special token " + json(name).dump() +
                               " has an id out of range");
      }
      (after ? suffix : prefix)->push_back(static_cast<int32_t>(id.get<int64_t>()));
    }
  }
  return Status();
}

}  // namespace

// Builds Tokenizers; a friend of Tokenizer.
class TokenizerLoader {
 public:
  static Result<Tokenizer> Load(std::string_view tokenizer_json, std::string_view config_json);

 private:
  static Status LoadModel(TokenizerJson& tj, Tokenizer* t, std::vector<std::string>* vocab_text);
  static Status AddToken(const AddedToken& a, Tokenizer* t, const std::string& where);
  static Status LoadConfig(std::string_view config_json, Tokenizer* t);
};

Status TokenizerLoader::LoadModel(TokenizerJson& tj, Tokenizer* t,
                                  std::vector<std::string>* vocab_text) {
  auto model_it = tj.rest.find("model");
  if (model_it == tj.rest.end()) return InvalidArgument("no \"model\"");
  const json& model = *model_it;
  if (!model.is_object()) return InvalidArgument("model must be an object");
  auto type = model.find("type");
  if (type != model.end() && !(type->is_string() && type->get<std::string>() == "BPE")) {
    return Unimplemented("unsupported model.type " + Describe(*type) + " (supported: BPE)");
  }
  if (type == model.end() && !model.contains("merges")) {
    return Unimplemented("model without a type and without merges is not a BPE model");
  }
  if (auto d = model.find("dropout");
      d != model.end() && !d->is_null() && !(d->is_number() && d->get<double>() == 0.0)) {
    return Unimplemented("model.dropout is not supported");
  }
  if (model.value("byte_fallback", false))
    return Unimplemented("model.byte_fallback is not supported");
  for (const char* key : {"continuing_subword_prefix", "end_of_word_suffix"}) {
    if (auto it = model.find(key); it != model.end() && !IsNullOrEmptyString(*it)) {
      return Unimplemented(std::string("model.") + key + " is not supported");
    }
  }
  if (!tj.has_vocab || tj.vocab.empty())
    return InvalidArgument("model.vocab must be a non-empty object");
  int64_t max_id = 0;
  for (const auto& [span, id64] : tj.vocab) {
    if (id64 < 0 || id64 >= kMaxTokenId) {
      return InvalidArgument(fmt::format("model.vocab[{}] must be an id in [0, {})",
                                         json(tj.View(span)).dump(), kMaxTokenId));
    }
    max_id = std::max(max_id, id64);
  }
  // Room for the added tokens that usually follow the vocabulary (AddToken grows both vectors).
  constexpr size_t kAddedRoom = 1024;
  ReserveResident(*vocab_text, static_cast<size_t>(max_id) + 1 + kAddedRoom);
  vocab_text->resize(static_cast<size_t>(max_id) + 1);
  for (const auto& [span, id64] : tj.vocab) {
    const std::string_view token = tj.View(span);
    auto id = static_cast<size_t>(id64);
    if (!(*vocab_text)[id].empty()) {
      return InvalidArgument(fmt::format("model.vocab: id {} is used twice", id));
    }
    if (token.empty())
      return InvalidArgument(fmt::format("model.vocab: empty token for id {}", id));
    (*vocab_text)[id] = token;
  }
  tj.vocab = {};
  if (!tj.has_merges) return InvalidArgument("model.merges must be an array");
  // Two halves side by side (each ~40 ms for Qwen's 151k tokens and merges): the text index and
  // the merges by id on a second thread; the raw bytes of each token and their index here.
  t->index_ = std::make_unique<TokenIndex>();
  StringIdMap& by_text = t->index_->by_text;
  std::vector<std::pair<int32_t, int32_t>> pairs;
  auto resolve = std::async(std::launch::async, [&]() -> Status {
    by_text.Reserve(vocab_text->size() + kAddedRoom, tj.strings.size());
    for (size_t id = 0; id < vocab_text->size(); ++id) {
      if (!(*vocab_text)[id].empty()) by_text.Insert((*vocab_text)[id], static_cast<int32_t>(id));
    }
    ReserveResident(pairs, tj.merges.size());
    for (size_t i = 0; i < tj.merges.size(); ++i) {
      const int32_t ia = by_text.Find(tj.View(tj.merges[i].first));
      const int32_t ib = by_text.Find(tj.View(tj.merges[i].second));
      if (ia < 0 || ib < 0) return BadMerge(tj, i, "missing from model.vocab");
      pairs.emplace_back(ia, ib);
    }
    return Status();
  });
  // Raw bytes of each vocabulary token (the byte-level alphabet decoded).
  std::vector<std::string> bpe_bytes;
  ReserveResident(bpe_bytes, vocab_text->capacity());
  bpe_bytes.resize(vocab_text->size());
  for (size_t id = 0; id < vocab_text->size(); ++id) {
    if ((*vocab_text)[id].empty()) continue;
    if (auto b = ByteLevelDecode((*vocab_text)[id])) bpe_bytes[id] = std::move(*b);
  }
  BpeModel bpe = BpeModel::FromVocabulary(bpe_bytes, tj.merges.size());
  RETURN_IF_ERROR(resolve.get());
  for (size_t i = 0; i < pairs.size(); ++i) {
    if (bpe_bytes[pairs[i].first].empty() || bpe_bytes[pairs[i].second].empty()) {
      return BadMerge(tj, i, "outside the byte-level alphabet");
    }
  }
  tj.merges = {};
  tj.strings = {};
  int32_t unk_id = -1;
  if (auto unk = model.find("unk_token"); unk != model.end() && !unk->is_null()) {
    if (!unk->is_string()) return InvalidArgument("model.unk_token must be a string or null");
    unk_id = by_text.Find(unk->get_ref<const std::string&>());
    if (unk_id < 0) return InvalidArgument("model.unk_token is not in model.vocab");
  }
  bool ignore_merges = model.value("ignore_merges", false);
  RETURN_IF_ERROR(bpe.AddMerges(bpe_bytes, pairs, ignore_merges, unk_id));
  t->bpe_ = std::make_unique<BpeModel>(std::move(bpe));
  // Decoding: the byte-level alphabet decoded; tokens outside it stand for their own UTF-8
  // (as HF's ByteLevel decoder does).
  t->bytes_ = std::move(bpe_bytes);
  for (size_t id = 0; id < vocab_text->size(); ++id) {
    if (t->bytes_[id].empty()) t->bytes_[id] = (*vocab_text)[id];
  }
  t->text_ = std::move(*vocab_text);
  t->flags_.assign(t->text_.size(), 0);
  return Status();
}

Status TokenizerLoader::AddToken(const AddedToken& a, Tokenizer* t, const std::string& where) {
  if (a.id < 0 || a.id >= kMaxTokenId) return InvalidArgument(where + ".id is out of range");
  auto id = static_cast<size_t>(a.id);
  for (const AddedToken& other : t->added_) {
    if (other.id == a.id) {
      if (other.content != a.content) {
        return InvalidArgument(fmt::format("{}: id {} is already the added token {}", where, a.id,
                                           json(other.content).dump()));
      }
      return Status();  // the same token again
    }
  }
  if (id >= t->text_.size()) {
    t->text_.resize(id + 1);
    t->bytes_.resize(id + 1);
    t->flags_.resize(id + 1);
  }
  t->text_[id] = a.content;
  t->bytes_[id] = a.content;
  t->flags_[id] = kTokenAdded | (a.special ? kTokenSpecial : 0);
  t->index_->by_text.Set(a.content, a.id);
  t->added_.push_back(a);
  return Status();
}

Status TokenizerLoader::LoadConfig(std::string_view config_json, Tokenizer* t) {
  json config = json::parse(config_json, nullptr, /*allow_exceptions=*/false);
  if (config.is_discarded() || !config.is_object()) {
    return InvalidArgument("tokenizer_config.json is not a JSON object");
  }
  if (auto dec = config.find("added_tokens_decoder"); dec != config.end() && !dec->is_null()) {
    if (!dec->is_object())
      return InvalidArgument("tokenizer_config.json: added_tokens_decoder must be an object");
    for (auto it = dec->begin(); it != dec->end(); ++it) {
      std::string where = "tokenizer_config.json: added_tokens_decoder[\"" + it.key() + "\"]";
      char* end = nullptr;
      long long id = std::strtoll(it.key().c_str(), &end, 10);
      if (it.key().empty() || *end != '\0')
        return InvalidArgument(where + ": key must be a token id");
      ASSIGN_OR_RETURN(AddedToken a, ParseAddedToken(it.value(), where));
      a.id = static_cast<int32_t>(std::min<long long>(std::max<long long>(id, -1), kMaxTokenId));
      RETURN_IF_ERROR(AddToken(a, t, where));
    }
  }
  struct Named {
    const char* key;
    int32_t* id;
  };
  for (Named n : {Named{"bos_token", &t->bos_id_}, Named{"eos_token", &t->eos_id_},
                  Named{"pad_token", &t->pad_id_}}) {
    Result<std::string> name = SpecialTokenName(config, n.key);
    if (!name.ok()) return name.status().WithContext("tokenizer_config.json");
    if (name->empty()) continue;
    *n.id = t->TokenId(*name);
    if (*n.id < 0) {
      return InvalidArgument("tokenizer_config.json: " + std::string(n.key) + " " +
                             json(*name).dump() + " is not a token of this tokenizer");
    }
  }
  return Status();
}

Result<Tokenizer> TokenizerLoader::Load(std::string_view tokenizer_json,
                                        std::string_view config_json) {
  ASSIGN_OR_RETURN(TokenizerJson tj, ParseTokenizerJson(tokenizer_json));
  const json& root = tj.rest;
  if (!root.is_object()) return InvalidArgument("tokenizer.json is not a JSON object");
  Tokenizer t;
  try {
    std::vector<std::string> vocab_text;
    RETURN_IF_ERROR(LoadModel(tj, &t, &vocab_text).WithContext("tokenizer.json"));
    {
      Result<bool> nfc = ParseNormalizer(root.value("normalizer", json()));
      if (!nfc.ok()) return nfc.status().WithContext("tokenizer.json");
      t.nfc_ = *nfc;
    }
    {
      Result<SplitPattern> p = ParsePreTokenizer(root.value("pre_tokenizer", json()));
      if (!p.ok()) return p.status().WithContext("tokenizer.json");
      t.split_pattern_ = static_cast<int>(*p);
    }
    RETURN_IF_ERROR(ParsePostProcessor(root.value("post_processor", json()), &t.special_prefix_,
                                       &t.special_suffix_)
                        .WithContext("tokenizer.json"));
    const json decoder = root.value("decoder", json());
    if (!decoder.is_object() || decoder.value("type", "") != "ByteLevel") {
      return Unimplemented("tokenizer.json: unsupported decoder " + Describe(decoder) +
                           " (supported: ByteLevel)");
    }
    if (auto added = root.find("added_tokens"); added != root.end() && !added->is_null()) {
      if (!added->is_array())
        return InvalidArgument("tokenizer.json: added_tokens must be an array");
      for (size_t i = 0; i < added->size(); ++i) {
        std::string where = fmt::format("tokenizer.json: added_tokens[{}]", i);
        ASSIGN_OR_RETURN(AddedToken a, ParseAddedToken((*added)[i], where));
        auto id = (*added)[i].find("id");
        if (id == (*added)[i].end() || !id->is_number_integer())
          return InvalidArgument(where + ".id must be an integer");
        a.id = static_cast<int32_t>(
            std::min<int64_t>(std::max<int64_t>(id->get<int64_t>(), -1), kMaxTokenId));
        RETURN_IF_ERROR(AddToken(a, &t, where));
      }
    }
    if (!config_json.empty()) RETURN_IF_ERROR(LoadConfig(config_json, &t));
    for (const auto* ids : {&t.special_prefix_, &t.special_suffix_}) {
      for (int32_t id : *ids) {
        if (t.TokenText(id).empty()) {
          return InvalidArgument(fmt::format(
              "tokenizer.json: post_processor: id {} is not a token of this tokenizer", id));
        }
      }
    }
  } catch (const json::exception& e) {
    return InvalidArgument(std::string("tokenizer.json: unexpected JSON shape: ") +
                           PrintableAscii(e.what()));
  }
  t.matcher_ = AddedTokenMatcher(t.added_);
  return t;
}

Result<Tokenizer> Tokenizer::FromJson(std::string_view tokenizer_json,
                                      std::string_view tokenizer_config_json,
                                      std::string_view name) {
  Result<Tokenizer> t = TokenizerLoader::Load(tokenizer_json, tokenizer_config_json);
  if (!t.ok()) return t.status().WithContext(name);
  return t;
}

Result<Tokenizer> Tokenizer::FromDir(const std::string& dir) {
  ASSIGN_OR_RETURN(std::string tj, ReadFile(dir + "/tokenizer.json", kMaxTokenizerJson));
  std::string config;
  Result<std::string> c = ReadFile(dir + "/tokenizer_config.json", kMaxTokenizerJson);
  if (c.ok()) {
    config = std::move(*c);
  } else if (c.status().code() != Code::kNotFound) {
    return c.status();
  }
  return FromJson(tj, config, dir);
}

}  // namespace modelcar::llm
