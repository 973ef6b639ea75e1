// `modelcar tokenize MODEL_DIR [--text T | --file F] [--decode] [--no-special] [--skip-special]`:
// prints the token ids of the text as a JSON array, or with --decode reads a JSON array of ids
// and prints the text exactly (no newline added).
#include <cstdio>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "base/file.h"
#include "cli/command.h"
#include "llm/tokenizer/tokenizer.h"

namespace {

struct Flags {
  std::string dir;
  std::string text;
  std::string file;
  bool decode = false;
  bool no_special = false;
  bool skip_special = false;
  CLI::Option* text_opt = nullptr;
  CLI::Option* file_opt = nullptr;
};

modelcar::Status Run(const Flags& f) {
  using modelcar::InvalidArgument;
  if (f.text_opt->count() == 0 && f.file_opt->count() == 0) {
    return InvalidArgument("give the input with --text or --file");
  }
  std::string input = f.text;
  if (!f.file.empty()) {
    ASSIGN_OR_RETURN(input, modelcar::ReadFile(f.file));
  }
  ASSIGN_OR_RETURN(modelcar::llm::Tokenizer tok, modelcar::llm::Tokenizer::FromDir(f.dir));
  if (f.decode) {
    nlohmann::json ids = nlohmann::json::parse(input, nullptr, /*allow_exceptions=*/false);
    if (ids.is_discarded() || !ids.is_array())
      return InvalidArgument("--decode expects a JSON array of token ids");
    std::vector<int32_t> v;
    for (const auto& id : ids) {
      if (!id.is_number_integer() || id.get<int64_t>() < 0 ||
          id.get<int64_t>() >= tok.vocab_size()) {
        return InvalidArgument("--decode: " + id.dump() + " is not a token id of this tokenizer");
      }
      v.push_back(static_cast<int32_t>(id.get<int64_t>()));
    }
    std::string text = tok.Decode(v, f.skip_special);
    std::fwrite(text.data(), 1, text.size(), stdout);
    return modelcar::Status();
  }
  ASSIGN_OR_RETURN(std::vector<int32_t> ids, tok.Encode(input, !f.no_special));
  std::string out = "[";
  for (size_t i = 0; i < ids.size(); ++i) {
    if (i > 0) out += ',';
    out += std::to_string(ids[i]);
  }
  out += "]\n";
  std::fwrite(out.data(), 1, out.size(), stdout);
  return modelcar::Status();
}

const modelcar::cli::CommandRegistration kTokenize{
    "tokenize", "Print the token ids of a text (or decode ids) with a model's tokenizer",
    [](CLI::App& app) -> modelcar::cli::Runner {
      auto f = std::make_shared<Flags>();
      app.add_option("model_dir", f->dir, "Directory with tokenizer.json")->required();
      f->text_opt = app.add_option("--text", f->text, "Text to tokenize (or ids to decode)");
      f->file_opt = app.add_option("--file", f->file, "File holding the text (or the JSON ids)")
                        ->excludes(f->text_opt);
      app.add_flag("--decode", f->decode, "Read a JSON array of ids and print their text");
      app.add_flag("--no-special", f->no_special,
                   "Tokenize special tokens written in the text as plain text");
      app.add_flag("--skip-special", f->skip_special, "With --decode: leave out special tokens");
      return [f]() { return Run(*f); };
    }};

}  // namespace
