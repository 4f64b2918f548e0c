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
// Sentence BLEU-4 (Papineni et al. 2002, eq. for BP and the geometric mean of
// clipped n-gram precisions, multi-reference, closest reference length) with
// add-one smoothing of the 2..4-gram precisions (Lin & Och 2004) so a single
// missing 4-gram does not zero the score. On normalised words; in [0, 1].
MIKE_API double bleu4(std::string_view candidate, const std::vector<std::string>& references);
// ROUGE-L F-measure (Lin 2004, eq. 2-4, beta = 1.2 as in the COCO caption
// toolkit), the best over references. On normalised words; in [0, 1].
MIKE_API double rouge_l(std::string_view candidate, const std::vector<std::string>& references);

}  // namespace mike
