// mike::Tokenizer over libsentencepiece, reached through libmike_sentencepiece.so
// (loaded in isolation; see sentencepiece_backend.h for why).
#include "mike/tokenizer.h"

#include <dlfcn.h>

#include <algorithm>

#include <filesystem>
#include <fstream>
#include <mutex>
#include <sstream>
#include <unordered_map>

#include "mike/error.h"
#include "model_io/sentencepiece_backend.h"

namespace mike {

namespace {

// dlopen(RTLD_NOW | RTLD_LOCAL | RTLD_DEEPBIND). AddressSanitizer refuses
// RTLD_DEEPBIND outright, because a deep-bound library would normally take
// malloc from libc instead of from the sanitizer. In a sanitizer build
// (./bootstrap.sh sanitize) the backend is instrumented too, so libasan is
// its first dependency and still provides malloc inside the deep-bound
// group; the refusal is skipped by calling libc's dlopen, the next
// definition after this library (libasan's interceptor comes before it).
void* open_deep_bound(const char* path) {
  constexpr int kFlags = RTLD_NOW | RTLD_LOCAL | RTLD_DEEPBIND;
#if defined(__SANITIZE_ADDRESS__)
  using DlopenFn = void* (*)(const char*, int);
  if (auto libc_dlopen = reinterpret_cast<DlopenFn>(dlsym(RTLD_NEXT, "dlopen"))) return libc_dlopen(path, kFlags);
#endif
  return dlopen(path, kFlags);
}

// The backend library sits next to libmike_sdk.so (build tree and install).
detail::CreateSentencePieceBackendFn* backend_factory() {
  static std::once_flag once;
  static detail::CreateSentencePieceBackendFn* factory = nullptr;
  static std::string error;
  std::call_once(once, [] {
    Dl_info info{};
    std::filesystem::path dir;
    if (dladdr(reinterpret_cast<void*>(&backend_factory), &info) && info.dli_fname)
      dir = std::filesystem::path(info.dli_fname).parent_path();
    const std::string path = (dir / detail::kSentencePieceBackendLibrary).string();
    void* handle = open_deep_bound(path.c_str());
    if (!handle) {
      error = "cannot load the SentencePiece backend '" + path + "' (" + dlerror() +
              "); reinstall mike or rebuild the mike_sentencepiece target";
      return;
    }
    factory = reinterpret_cast<detail::CreateSentencePieceBackendFn*>(dlsym(handle, detail::kSentencePieceBackendSymbol));
    if (!factory) error = "'" + path + "' lacks " + detail::kSentencePieceBackendSymbol + "; it is not mike's backend";
  });
  if (!factory) throw ModelError(error);
  return factory;
}

std::unique_ptr<detail::SentencePieceBackend> new_backend() {
  std::unique_ptr<detail::SentencePieceBackend> backend(backend_factory()());
  if (!backend) throw ModelError("the SentencePiece backend could not be created (out of memory?)");
  return backend;
}

}  // namespace

struct Tokenizer::Impl {
  std::unique_ptr<detail::SentencePieceBackend> backend;
  std::string origin;
  std::vector<std::pair<std::string, std::int64_t>> added;  // content, id
  std::int64_t pad_override = -1;
};

Tokenizer::Tokenizer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Tokenizer::Tokenizer(Tokenizer&&) noexcept = default;
Tokenizer& Tokenizer::operator=(Tokenizer&&) noexcept = default;
Tokenizer::~Tokenizer() = default;

Tokenizer Tokenizer::load(const std::string& model_path) {
  std::ifstream in(model_path, std::ios::binary);
  if (!in)
    throw ModelError("tokenizer '" + model_path +
                     "' cannot be opened; check the path (a SentencePiece tokenizer.model is expected)");
  std::stringstream bytes;
  bytes << in.rdbuf();
  return from_serialized(bytes.str(), model_path);
}

Tokenizer Tokenizer::from_serialized(const std::string& bytes, const std::string& origin) {
  auto impl = std::make_unique<Impl>();
  impl->backend = new_backend();
  impl->origin = origin;
  const std::string error = impl->backend->load(bytes);
  if (!error.empty())
    throw ModelError("tokenizer '" + origin + "' is not a valid SentencePiece model (" + error +
                     "); point the model config's `tokenizer` at a tokenizer.model file");
  return Tokenizer(std::move(impl));
}

Tokenizer Tokenizer::train(const std::vector<std::string>& sentences, const TokenizerTrainOptions& options) {
  if (sentences.empty()) throw ModelError("cannot train a tokenizer on an empty corpus; check the pretraining data");
  if (options.model_type != "bpe" && options.model_type != "unigram")
    throw ConfigError("tokenizer model_type '" + options.model_type + "' is not one of bpe, unigram");
  const std::unordered_map<std::string, std::string> args = {
      {"model_type", options.model_type},
      {"vocab_size", std::to_string(options.vocab_size)},
      {"character_coverage", "1.0"},
      {"byte_fallback", options.byte_fallback ? "true" : "false"},
      {"unk_id", "0"},
      {"bos_id", "1"},
      {"eos_id", "2"},
      {"pad_id", "3"},
      {"num_threads", std::to_string(options.threads)},
      {"input_sentence_size", "0"},
      {"shuffle_input_sentence", "false"},
      {"max_sentence_length", "65536"},
      {"hard_vocab_limit", "true"},
      {"minloglevel", "2"},
  };
  std::string serialized;
  const std::string error = new_backend()->train(sentences, args, &serialized);
  if (!error.empty())
    throw ModelError("training the tokenizer (" + options.model_type + ", vocab_size " +
                     std::to_string(options.vocab_size) + ") failed: " + error +
                     "; adjust model.tokenizer_vocab_size to the range the message names (byte fallback alone needs 256 + characters)");
  return from_serialized(serialized, "<trained>");
}

void Tokenizer::add_tokens(const std::vector<std::pair<std::string, std::int64_t>>& tokens) {
  const std::int64_t pieces = impl_->backend->piece_size();
  for (const auto& [content, id] : tokens) {
    if (content.empty())
      throw ModelError("tokenizer '" + impl_->origin + "': an added token with id " + std::to_string(id) +
                       " has empty content; fix added_tokens.json / tokenizer_config.json");
    if (id < pieces) {
      // Hugging Face lists the model's own specials (<unk>, <s>, </s>) among
      // added tokens too; they are pieces already, so only check they agree.
      if (impl_->backend->id_to_piece(static_cast<int>(id)) == content) continue;
      throw ModelError("tokenizer '" + impl_->origin + "': added token '" + content + "' has id " + std::to_string(id) +
                       ", which is the SentencePiece piece '" + impl_->backend->id_to_piece(static_cast<int>(id)) +
                       "'; added ids must follow the " + std::to_string(pieces) + " pieces of tokenizer.model");
    }
    for (auto& [known, known_id] : impl_->added)
      if (known == content && known_id != id)
        throw ModelError("tokenizer '" + impl_->origin + "': added token '" + content + "' has two ids (" +
                         std::to_string(known_id) + " and " + std::to_string(id) + "); fix the tokenizer files");
    impl_->added.emplace_back(content, id);
  }
  // Longest first, so a token that contains another wins where both match.
  std::stable_sort(impl_->added.begin(), impl_->added.end(),
                   [](const auto& a, const auto& b) { return a.first.size() > b.first.size(); });
}

void Tokenizer::set_pad_id(std::int64_t id) { impl_->pad_override = id; }

std::vector<std::int64_t> Tokenizer::encode(const std::string& text) const {
  auto encode_pieces = [&](const std::string& chunk, std::vector<std::int64_t>& out) {
    std::vector<int> ids;
    const std::string error = impl_->backend->encode(chunk, &ids);
    if (!error.empty()) throw ModelError("tokenizer '" + impl_->origin + "' failed to encode text: " + error);
    out.insert(out.end(), ids.begin(), ids.end());
  };
  std::vector<std::int64_t> out;
  if (impl_->added.empty()) {
    encode_pieces(text, out);
    return out;
  }
  // Split out added tokens (earliest match, longest on ties), then let
  // SentencePiece encode each piece of text between them.
  std::size_t start = 0;
  while (start < text.size()) {
    std::size_t best_at = std::string::npos;
    const std::pair<std::string, std::int64_t>* best = nullptr;
    for (const auto& token : impl_->added) {
      const std::size_t at = text.find(token.first, start);
      if (at != std::string::npos && (best_at == std::string::npos || at < best_at)) {
        best_at = at;
        best = &token;
      }
    }
    if (!best) {
      encode_pieces(text.substr(start), out);
      break;
    }
    if (best_at > start) encode_pieces(text.substr(start, best_at - start), out);
    out.push_back(best->second);
    start = best_at + best->first.size();
  }
  return out;
}

std::vector<std::int64_t> Tokenizer::encode_prompt(const std::string& prompt) const {
  std::vector<std::int64_t> ids = {bos_id()};
  const std::string marker = kImageMarker;
  std::size_t start = 0;
  while (true) {
    const std::size_t at = prompt.find(marker, start);
    const std::string chunk = prompt.substr(start, at == std::string::npos ? std::string::npos : at - start);
    if (!chunk.empty()) {
      const auto piece_ids = encode(chunk);
      ids.insert(ids.end(), piece_ids.begin(), piece_ids.end());
    }
    if (at == std::string::npos) break;
    ids.push_back(kImageTokenId);
    start = at + marker.size();
  }
  return ids;
}

std::string Tokenizer::decode(const std::vector<std::int64_t>& ids) const {
  std::vector<int> kept;
  const std::int64_t n = impl_->backend->piece_size();  // added tokens are special: never text
  const int pad = impl_->backend->pad_id();
  for (std::int64_t id : ids) {
    if (id < 0 || id >= n || id == bos_id() || id == eos_id() || id == pad) continue;
    kept.push_back(static_cast<int>(id));
  }
  std::string text;
  const std::string error = impl_->backend->decode(kept, &text);
  if (!error.empty()) throw ModelError("tokenizer '" + impl_->origin + "' failed to decode: " + error);
  return text;
}

std::int64_t Tokenizer::vocab_size() const {
  std::int64_t n = impl_->backend->piece_size();
  for (const auto& token : impl_->added) n = std::max(n, token.second + 1);
  return n;
}
std::int64_t Tokenizer::bos_id() const { return impl_->backend->bos_id(); }
std::int64_t Tokenizer::eos_id() const { return impl_->backend->eos_id(); }
std::int64_t Tokenizer::unk_id() const { return impl_->backend->unk_id(); }
std::int64_t Tokenizer::pad_id() const {
  if (impl_->pad_override >= 0) return impl_->pad_override;
  const int pad = impl_->backend->pad_id();
  return pad >= 0 ? pad : impl_->backend->unk_id();
}
std::string Tokenizer::piece(std::int64_t id) const {
  for (const auto& token : impl_->added)
    if (token.second == id) return token.first;
  if (id < 0 || id >= impl_->backend->piece_size()) return id == kImageTokenId ? kImageMarker : "<invalid>";
  return impl_->backend->id_to_piece(static_cast<int>(id));
}
std::string Tokenizer::serialized() const { return impl_->backend->serialized(); }

void Tokenizer::save(const std::string& model_path) const {
  std::ofstream out(model_path, std::ios::binary | std::ios::trunc);
  const std::string bytes = serialized();
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  if (!out) throw ModelError("cannot write tokenizer to '" + model_path + "'; check the directory is writable");
}

}  // namespace mike
