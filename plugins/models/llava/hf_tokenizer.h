#pragma once
// The tokenizer of a Hugging Face LLaVA-1.5 checkpoint: LLaMA's SentencePiece
// tokenizer.model plus the added tokens transformers keeps beside it
// (added_tokens.json, tokenizer_config.json's added_tokens_decoder,
// special_tokens_map.json's pad_token), with the LLaMA tokenizer's
// conventions: BOS prepended, SentencePiece's dummy prefix on each piece of
// text, added tokens split out before encoding.
#include <string>

#include "mike/tokenizer.h"

namespace mike::llava {

// Throws ModelError naming the file and key for a missing tokenizer.model,
// malformed JSON, an added token whose id collides with a piece, or a
// setting mike does not implement (add_bos_token false, add_eos_token true).
Tokenizer load_hf_tokenizer(const std::string& dir);

}  // namespace mike::llava
