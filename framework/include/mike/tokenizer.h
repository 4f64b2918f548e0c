#pragma once
// SentencePiece tokenizer shared by model plugins: trains a small BPE/unigram
// model from text (`mike pretrain`) and loads an existing `tokenizer.model`
// (e.g. LLaMA/Vicuna's) through the same class.
//
// Images are not vocabulary items: as in LLaVA, encode_prompt() splits the
// prompt at every "<image>" marker and puts kImageTokenId (-200) there; the
// model replaces that position with the projected image features.
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "mike/export.h"

namespace mike {

// LLaVA's IMAGE_TOKEN_INDEX: a sentinel id, never a row of the embedding table.
inline constexpr std::int64_t kImageTokenId = -200;
inline constexpr const char* kImageMarker = "<image>";

struct TokenizerTrainOptions {
  int vocab_size = 512;
  std::string model_type = "bpe";  // "bpe" or "unigram"
  // Unknown characters decompose into byte pieces, so any text (an invented
  // entity name never seen in training) still encodes losslessly.
  bool byte_fallback = true;
  int threads = 1;  // 1 keeps training deterministic
};

class MIKE_API Tokenizer {
 public:
  // Loads a SentencePiece model file; throws ModelError naming the file.
  static Tokenizer load(const std::string& model_path);
  // Loads from the serialized model bytes (the contents of a .model file).
  static Tokenizer from_serialized(const std::string& bytes, const std::string& origin = "<memory>");
  // Trains on `sentences` (one training sentence each; must not be empty).
  // Ids: 0 <unk>, 1 <s> (BOS), 2 </s> (EOS), 3 <pad>. Throws ModelError when
  // SentencePiece refuses (e.g. vocab_size too large for the text: the message
  // says the largest size it accepts).
  static Tokenizer train(const std::vector<std::string>& sentences, const TokenizerTrainOptions& options);

  Tokenizer(Tokenizer&&) noexcept;
  Tokenizer& operator=(Tokenizer&&) noexcept;
  ~Tokenizer();

  // Tokens outside the SentencePiece model, by content and id (Hugging Face's
  // added tokens, e.g. LLaVA-1.5's "<image>" 32000 and "<pad>" 32001).
  // encode() splits them out of the text before SentencePiece sees the rest,
  // as transformers does; decode() skips them (they are all special tokens).
  // Throws ModelError for an empty content or an id that is a SentencePiece piece.
  void add_tokens(const std::vector<std::pair<std::string, std::int64_t>>& tokens);
  // The padding id (e.g. an added "<pad>"); by default the model's <pad> or <unk>.
  void set_pad_id(std::int64_t id);

  // Plain text to ids (no BOS/EOS). "<image>" is ordinary text here (or an
  // added token's id when one was added with that content).
  std::vector<std::int64_t> encode(const std::string& text) const;
  // BOS + prompt ids with kImageTokenId at every "<image>" marker.
  std::vector<std::int64_t> encode_prompt(const std::string& prompt) const;
  // Ids to text; BOS/EOS/PAD and kImageTokenId are skipped.
  std::string decode(const std::vector<std::int64_t>& ids) const;

  // Ids in use: the SentencePiece pieces and every added token (max id + 1).
  std::int64_t vocab_size() const;
  std::int64_t bos_id() const;
  std::int64_t eos_id() const;
  // The padding id: the model's <pad> if it has one, else <unk> (as LLaVA does
  // for LLaMA's tokenizer, which has none). Padded positions are always masked.
  std::int64_t pad_id() const;
  std::int64_t unk_id() const;
  std::string piece(std::int64_t id) const;
  // The serialized model (write it to a file to save the tokenizer).
  std::string serialized() const;
  void save(const std::string& model_path) const;

 private:
  struct Impl;
  explicit Tokenizer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace mike
