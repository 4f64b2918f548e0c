// SentencePiece tokenizer: training from text, special ids, the <image>
// placeholder, lossless round trips (byte fallback) and loading a saved model.
#include <doctest/doctest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "mike/error.h"
#include "mike/tokenizer.h"
#include "process.h"

using namespace mike;

namespace {

std::vector<std::string> corpus() {
  std::vector<std::string> lines;
  const char* names[] = {"Zorvel", "Quintara", "Belmuth", "Akkodine", "Praxiel"};
  const char* kinds[] = {"bird", "building", "flower", "car", "dog"};
  for (int i = 0; i < 5; ++i)
    for (int j = 0; j < 5; ++j) {
      lines.push_back(std::string("What is the name of this ") + kinds[j] + "? It is " + names[i] + ".");
      lines.push_back(std::string("A photo of ") + names[i] + ", a " + kinds[j] + " seen from the side.");
    }
  return lines;
}

}  // namespace

TEST_CASE("a trained tokenizer has the fixed special ids and the requested vocabulary size") {
  TokenizerTrainOptions options;
  options.vocab_size = 400;
  const Tokenizer tok = Tokenizer::train(corpus(), options);
  CHECK(tok.vocab_size() == 400);
  CHECK(tok.unk_id() == 0);
  CHECK(tok.bos_id() == 1);
  CHECK(tok.eos_id() == 2);
  CHECK(tok.pad_id() == 3);
  CHECK(tok.piece(1) == "<s>");
  CHECK(tok.piece(2) == "</s>");
}

TEST_CASE("encode/decode round trips seen text and unseen names losslessly") {
  TokenizerTrainOptions options;
  options.vocab_size = 400;
  const Tokenizer tok = Tokenizer::train(corpus(), options);
  const std::string seen = "What is the name of this bird? It is Zorvel.";
  const auto ids = tok.encode(seen);
  CHECK(tok.decode(ids) == seen);
  // Frequent words become single pieces.
  CHECK(std::count(ids.begin(), ids.end(), tok.encode(" bird")[0]) == 1);
  CHECK(tok.encode("bird").size() == 1);
  // An invented name with characters never seen in training still survives (byte fallback).
  const std::string unseen = "Xyqüwj-9";
  const auto unseen_ids = tok.encode(unseen);
  CHECK(std::find(unseen_ids.begin(), unseen_ids.end(), tok.unk_id()) == unseen_ids.end());
  CHECK(tok.decode(unseen_ids) == unseen);
}

TEST_CASE("encode_prompt puts BOS first and the image sentinel at every <image> marker") {
  TokenizerTrainOptions options;
  options.vocab_size = 400;
  const Tokenizer tok = Tokenizer::train(corpus(), options);
  const auto ids = tok.encode_prompt("<image>\nWhat is the name of this bird?");
  REQUIRE(ids.size() >= 3);
  CHECK(ids[0] == tok.bos_id());
  CHECK(ids[1] == kImageTokenId);
  CHECK(std::count(ids.begin(), ids.end(), kImageTokenId) == 1);
  const std::vector<std::int64_t> rest(ids.begin() + 2, ids.end());
  CHECK(rest == tok.encode("\nWhat is the name of this bird?"));
  const auto middle = tok.encode_prompt("A photo <image> of it");
  CHECK(std::count(middle.begin(), middle.end(), kImageTokenId) == 1);
  CHECK(middle[0] == tok.bos_id());
  CHECK(middle[1] != kImageTokenId);
  CHECK(tok.decode(middle) == "A photo of it");
  std::vector<std::int64_t> expected = {tok.bos_id()};
  for (std::int64_t id : tok.encode("no image")) expected.push_back(id);
  CHECK(tok.encode_prompt("no image") == expected);
}

TEST_CASE("a saved tokenizer loads back and encodes identically") {
  TokenizerTrainOptions options;
  options.vocab_size = 300;
  options.model_type = "unigram";
  const Tokenizer tok = Tokenizer::train(corpus(), options);
  const std::string path = test::make_temp_dir("tokenizer_save") + "/tokenizer.model";
  tok.save(path);
  const Tokenizer loaded = Tokenizer::load(path);
  CHECK(loaded.vocab_size() == tok.vocab_size());
  for (const std::string& line : corpus()) CHECK(loaded.encode(line) == tok.encode(line));
}

TEST_CASE("bad tokenizer files and impossible training requests are clear errors") {
  const std::string dir = test::make_temp_dir("tokenizer_bad");
  test::write_file(dir + "/tokenizer.model", "this is not a protobuf");
  try {
    Tokenizer::load(dir + "/tokenizer.model");
    FAIL("must throw");
  } catch (const ModelError& e) {
    CHECK(std::string(e.what()).find("is not a valid SentencePiece model") != std::string::npos);
  }
  try {
    Tokenizer::load(dir + "/missing.model");
    FAIL("must throw");
  } catch (const ModelError& e) {
    CHECK(std::string(e.what()).find("cannot be opened") != std::string::npos);
  }
  TokenizerTrainOptions options;
  options.vocab_size = 100000;
  try {
    Tokenizer::train(corpus(), options);
    FAIL("must throw");
  } catch (const ModelError& e) {
    CHECK(std::string(e.what()).find("adjust model.tokenizer_vocab_size") != std::string::npos);
  }
  CHECK_THROWS_AS(Tokenizer::train({}, options), ModelError);
}

TEST_CASE("added tokens are split out before SentencePiece, decode skips them, pad can be one") {
  TokenizerTrainOptions options;
  options.vocab_size = 300;
  Tokenizer tok = Tokenizer::train(corpus(), options);
  const std::int64_t pieces = tok.vocab_size();
  // Hugging Face lists the model's own specials among added tokens too: they must agree.
  tok.add_tokens({{"<unk>", 0}, {"<s>", 1}, {"<pad>", pieces + 1}, {"<image>", pieces}, {"<pad2>", pieces + 3}});
  CHECK(tok.vocab_size() == pieces + 4);
  const auto before = tok.encode("It is Zorvel.");
  const auto after = tok.encode(" There.");
  std::vector<std::int64_t> expected = before;
  expected.push_back(pieces + 1);
  expected.insert(expected.end(), after.begin(), after.end());
  CHECK(tok.encode("It is Zorvel.<pad> There.") == expected);
  // Longest match wins where two added tokens start at the same place.
  CHECK(tok.encode("<pad2>") == std::vector<std::int64_t>{pieces + 3});
  CHECK(tok.encode("<pad><pad>") == std::vector<std::int64_t>{pieces + 1, pieces + 1});
  CHECK(tok.decode(expected) == "It is Zorvel. There.");
  CHECK(tok.piece(pieces) == "<image>");
  // encode_prompt still puts the image sentinel at the marker, not the added id.
  const auto prompt = tok.encode_prompt("<image>\nWhat is this?");
  CHECK(prompt.at(1) == kImageTokenId);
  tok.set_pad_id(pieces + 1);
  CHECK(tok.pad_id() == pieces + 1);
  CHECK_THROWS_WITH_AS(tok.add_tokens({{"<x>", 5}}), doctest::Contains("SentencePiece piece"), ModelError);
  CHECK_THROWS_WITH_AS(tok.add_tokens({{"<image>", pieces + 7}}), doctest::Contains("two ids"), ModelError);
  CHECK_THROWS_WITH_AS(tok.add_tokens({{"", pieces + 8}}), doctest::Contains("empty content"), ModelError);
}
