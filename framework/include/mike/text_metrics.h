#pragma once
// Text comparison used by metric plugins: answer normalisation, exact match,
// entity mention, BLEU-4 and ROUGE-L. Written once here so every metric
// scores text the same way.
#include <string>
#include <string_view>
#include <vector>

#include "mike/export.h"

namespace mike {

// SQuAD-style normalisation: lower-case, punctuation to spaces, drop the
// articles a/an/the, collapse whitespace. "The Varnel-Finch!" -> "varnel finch".
MIKE_API std::string normalize_answer(std::string_view text);
// Normalised words of `text`.
MIKE_API std::vector<std::string> normalized_words(std::string_view text);
// normalize_answer(a) == normalize_answer(b).
MIKE_API bool exact_match(std::string_view prediction, std::string_view target);
// Whether the normalised words of `name` occur contiguously in `text`.
MIKE_API bool mentions(std::string_view text, std::string_view name);
// Caption tokens for BLEU and ROUGE: lower-cased runs of letters and digits
// (non-ASCII bytes count as letters), everything else a separator; articles
// are kept, unlike normalized_words(). "The cat's mat." -> [the, cat, s, mat].
MIKE_API std::vector<std::string> caption_tokens(std::string_view text);
// Sentence BLEU-4 exactly as NLTK's
//   nltk.translate.bleu_score.sentence_bleu(refs, cand, weights=(0.25,)*4,
//       smoothing_function=SmoothingFunction().method1)   (epsilon = 0.1)
// on caption_tokens(): clipped n-gram precisions p_n = m_n / max(1, c_n) over
// all references (Papineni et al. 2002), a zero m_n replaced by 0.1 / max(1, c_n)
// (method 1, Chen & Cherry 2014), 0 when no unigram matches, and the brevity
// penalty against the closest reference length (ties: the shorter). 0 for an
// empty candidate or no references; in [0, 1]. tests/metrics pins it to NLTK.
MIKE_API double bleu4(std::string_view candidate, const std::vector<std::string>& references);
// ROUGE-L F as the COCO caption toolkit (pycocoevalcap rouge.py) computes it
// on caption_tokens(): with LCS the longest common subsequence,
// P = max_r LCS(c, r) / |c|, R = max_r LCS(c, r) / |r| (each maximised over
// references separately), F = (1 + b^2) P R / (R + b^2 P), b = 1.2; 0 when
// P or R is 0 (Lin 2004, eq. 2-4). In [0, 1].
MIKE_API double rouge_l(std::string_view candidate, const std::vector<std::string>& references);

}  // namespace mike
