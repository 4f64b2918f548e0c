// Loading a Hugging Face LLaMA tokenizer directory (see hf_tokenizer.h).
#include "hf_tokenizer.h"

#include <nlohmann/json.hpp>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <utility>
#include <vector>

#include "mike/error.h"

namespace mike::llava {

namespace {

using nlohmann::json;
namespace fs = std::filesystem;

[[noreturn]] void fail(const fs::path& file, const std::string& what) {
  throw ModelError("tokenizer file '" + file.string() + "': " + what +
                   "; restore the file from the checkpoint's source (transformers writes it with save_pretrained)");
}

// The file parsed, or null JSON when it does not exist (every file but
// tokenizer.model is optional).
json read_optional(const fs::path& file) {
  if (!fs::exists(file)) return json();
  std::ifstream in(file, std::ios::binary);
  if (!in) fail(file, "cannot be opened");
  in.seekg(0, std::ios::end);
  if (static_cast<std::streamoff>(in.tellg()) > (64 << 20)) fail(file, "is larger than 64 MiB, too large for its kind");
  in.seekg(0);
  std::stringstream text;
  text << in.rdbuf();
  try {
    json parsed = json::parse(text.str());
    if (!parsed.is_object()) fail(file, "is not a JSON object");
    return parsed;
  } catch (const json::exception& e) {
    fail(file, std::string("is not valid JSON (") + e.what() + ")");
  }
}

// A token as special_tokens_map.json / tokenizer_config.json write it:
// "<pad>" or {"content": "<pad>", ...}.
std::string token_content(const fs::path& file, const std::string& key, const json& value) {
  if (value.is_string()) return value.get<std::string>();
  if (value.is_object() && value.contains("content") && value["content"].is_string())
    return value["content"].get<std::string>();
  fail(file, "key '" + key + "' must be a string or an object with a string 'content'");
}

std::int64_t token_id(const fs::path& file, const std::string& key, const json& value) {
  if (!value.is_number_integer() || value.get<std::int64_t>() < 0 || value.get<std::int64_t>() > (1 << 24))
    fail(file, "key '" + key + "' must be a token id (an integer 0 .. 16777216), got " + value.dump());
  return value.get<std::int64_t>();
}

}  // namespace

Tokenizer load_hf_tokenizer(const std::string& dir_name) {
  const fs::path dir(dir_name);
  const fs::path model = dir / "tokenizer.model";
  if (!fs::is_regular_file(model))
    throw ModelError("'" + dir_name + "' has no tokenizer.model (LLaMA's SentencePiece model); mike reads the slow "
                     "tokenizer's files, which save_pretrained writes beside tokenizer.json — copy tokenizer.model "
                     "from the checkpoint's source");
  Tokenizer tokenizer = Tokenizer::load(model.string());

  std::map<std::string, std::int64_t> added;
  auto add = [&](const fs::path& file, const std::string& content, std::int64_t id) {
    auto [it, inserted] = added.emplace(content, id);
    if (!inserted && it->second != id)
      fail(file, "gives added token '" + content + "' the id " + std::to_string(id) + " but another file says " +
                     std::to_string(it->second));
  };
  const fs::path added_file = dir / "added_tokens.json";
  const json added_json = read_optional(added_file);
  if (!added_json.is_null())
    for (const auto& [content, id] : added_json.items()) add(added_file, content, token_id(added_file, content, id));

  const fs::path config_file = dir / "tokenizer_config.json";
  const json config = read_optional(config_file);
  if (!config.is_null()) {
    if (config.contains("added_tokens_decoder")) {
      const json& decoder = config["added_tokens_decoder"];
      if (!decoder.is_object()) fail(config_file, "key 'added_tokens_decoder' must be an object of id -> token");
      for (const auto& [id_text, token] : decoder.items()) {
        const std::string key = "added_tokens_decoder." + id_text;
        std::int64_t id = -1;
        try {
          std::size_t used = 0;
          id = std::stoll(id_text, &used);
          if (used != id_text.size() || id < 0) id = -1;
        } catch (const std::exception&) {
          id = -1;
        }
        if (id < 0) fail(config_file, "key '" + key + "' is not a token id");
        add(config_file, token_content(config_file, key + ".content", token), id);
      }
    }
    // LLaMA prepends BOS and appends nothing; mike's prompt encoding does the same.
    if (config.contains("add_bos_token") && !(config["add_bos_token"].is_boolean() && config["add_bos_token"].get<bool>()))
      fail(config_file, "key 'add_bos_token' is " + config["add_bos_token"].dump() +
                            "; mike encodes prompts with BOS first, as LLaMA does (set it to true)");
    if (config.contains("add_eos_token") && !(config["add_eos_token"].is_boolean() && !config["add_eos_token"].get<bool>()))
      fail(config_file, "key 'add_eos_token' is " + config["add_eos_token"].dump() +
                            "; mike does not append EOS to prompts (set it to false)");
  }
  std::vector<std::pair<std::string, std::int64_t>> tokens(added.begin(), added.end());
  tokenizer.add_tokens(tokens);

  const fs::path special_file = dir / "special_tokens_map.json";
  const json special = read_optional(special_file);
  std::string pad;
  if (!special.is_null() && special.contains("pad_token") && !special["pad_token"].is_null())
    pad = token_content(special_file, "pad_token", special["pad_token"]);
  else if (!config.is_null() && config.contains("pad_token") && !config["pad_token"].is_null())
    pad = token_content(config_file, "pad_token", config["pad_token"]);
  if (!pad.empty()) {
    auto it = added.find(pad);
    // A pad that is a SentencePiece piece (e.g. "<unk>") is the default already.
    if (it != added.end()) tokenizer.set_pad_id(it->second);
  }
  return tokenizer;
}

}  // namespace mike::llava
