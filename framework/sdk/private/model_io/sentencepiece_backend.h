#pragma once
// The SentencePiece calls mike::Tokenizer needs, behind an interface that
// lives in its own library (libmike_sentencepiece.so).
//
// Why a separate library: Debian's libsentencepiece exports the symbols of
// the protobuf-lite 3.14 it bundles, while LibTorch loads libprotobuf 3.21.
// Linked into one process, the two interpose each other and the process
// crashes at start-up. tokenizer.cpp therefore dlopen()s the backend with
// RTLD_LOCAL | RTLD_DEEPBIND: sentencepiece binds to its own protobuf copy
// and never becomes visible to LibTorch. Only virtual calls and std types
// cross the boundary (one libstdc++ serves both sides); no exceptions do.
#include <string>
#include <unordered_map>
#include <vector>

namespace mike::detail {

class SentencePieceBackend {
 public:
  virtual ~SentencePieceBackend() = default;
  // Each returns "" on success or SentencePiece's error message.
  virtual std::string load(const std::string& serialized_model) = 0;
  virtual std::string train(const std::vector<std::string>& sentences,
                            const std::unordered_map<std::string, std::string>& args,
                            std::string* serialized_model) = 0;
  virtual std::string encode(const std::string& text, std::vector<int>* ids) const = 0;
  virtual std::string decode(const std::vector<int>& ids, std::string* text) const = 0;
  virtual int piece_size() const = 0;
  virtual int unk_id() const = 0;
  virtual int bos_id() const = 0;
  virtual int eos_id() const = 0;
  virtual int pad_id() const = 0;
  virtual std::string id_to_piece(int id) const = 0;
  virtual std::string serialized() const = 0;
};

using CreateSentencePieceBackendFn = SentencePieceBackend*();
inline constexpr const char* kSentencePieceBackendLibrary = "libmike_sentencepiece.so";
inline constexpr const char* kSentencePieceBackendSymbol = "mike_sentencepiece_backend_create";

}  // namespace mike::detail
