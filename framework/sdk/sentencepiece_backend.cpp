// libmike_sentencepiece.so: SentencePieceBackend over libsentencepiece (see
// sentencepiece_backend.h for why this is a library of its own).
#include "model_io/sentencepiece_backend.h"

#include <sentencepiece_processor.h>
#include <sentencepiece_trainer.h>

namespace mike::detail {

namespace {

// Feeds in-memory sentences to the SentencePiece trainer.
class VectorSentenceIterator : public sentencepiece::SentenceIterator {
 public:
  explicit VectorSentenceIterator(const std::vector<std::string>& sentences) : sentences_(sentences) {}
  bool done() const override { return index_ >= sentences_.size(); }
  void Next() override { ++index_; }
  const std::string& value() const override { return sentences_[index_]; }
  sentencepiece::util::Status status() const override { return sentencepiece::util::Status(); }

 private:
  const std::vector<std::string>& sentences_;
  std::size_t index_ = 0;
};

std::string message(const sentencepiece::util::Status& status) { return status.ok() ? "" : status.ToString(); }

class Backend : public SentencePieceBackend {
 public:
  std::string load(const std::string& serialized_model) override {
    return message(processor_.LoadFromSerializedProto(serialized_model));
  }
  std::string train(const std::vector<std::string>& sentences, const std::unordered_map<std::string, std::string>& args,
                    std::string* serialized_model) override {
    VectorSentenceIterator iterator(sentences);
    return message(sentencepiece::SentencePieceTrainer::Train(args, &iterator, serialized_model));
  }
  std::string encode(const std::string& text, std::vector<int>* ids) const override {
    return message(processor_.Encode(text, ids));
  }
  std::string decode(const std::vector<int>& ids, std::string* text) const override {
    return message(processor_.Decode(ids, text));
  }
  int piece_size() const override { return processor_.GetPieceSize(); }
  int unk_id() const override { return processor_.unk_id(); }
  int bos_id() const override { return processor_.bos_id(); }
  int eos_id() const override { return processor_.eos_id(); }
  int pad_id() const override { return processor_.pad_id(); }
  std::string id_to_piece(int id) const override { return processor_.IdToPiece(id); }
  std::string serialized() const override { return processor_.serialized_model_proto(); }

 private:
  sentencepiece::SentencePieceProcessor processor_;
};

}  // namespace

}  // namespace mike::detail

extern "C" __attribute__((visibility("default"))) mike::detail::SentencePieceBackend*
mike_sentencepiece_backend_create() {
  try {
    return new mike::detail::Backend();
  } catch (...) {
    return nullptr;
  }
}
