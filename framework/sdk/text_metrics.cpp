#include "mike/text_metrics.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <map>

namespace mike {

namespace {

// Lower-cased words of `text`; `keep` decides which words survive.
template <typename Keep>
std::vector<std::string> split_words(std::string_view text, Keep keep) {
  std::vector<std::string> words;
  std::string current;
  auto finish = [&] {
    if (!current.empty() && keep(current)) words.push_back(current);
    current.clear();
  };
  for (char raw : text) {
    unsigned char c = static_cast<unsigned char>(raw);
    if (std::isalnum(c) || c >= 0x80) {  // keep non-ASCII bytes: names may be UTF-8
      current.push_back(static_cast<char>(std::tolower(c)));
    } else {
      finish();
    }
  }
  finish();
  return words;
}

}  // namespace

std::vector<std::string> normalized_words(std::string_view text) {
  return split_words(text, [](const std::string& w) { return w != "a" && w != "an" && w != "the"; });
}

std::vector<std::string> caption_tokens(std::string_view text) {
  return split_words(text, [](const std::string&) { return true; });
}

std::string normalize_answer(std::string_view text) {
  std::string out;
  for (const std::string& w : normalized_words(text)) out += (out.empty() ? "" : " ") + w;
  return out;
}

bool exact_match(std::string_view prediction, std::string_view target) {
  return normalize_answer(prediction) == normalize_answer(target);
}

bool mentions(std::string_view text, std::string_view name) {
  auto words = normalized_words(text);
  auto needle = normalized_words(name);
  if (needle.empty()) return false;
  return std::search(words.begin(), words.end(), needle.begin(), needle.end()) != words.end();
}

namespace {

using Words = std::vector<std::string>;

std::map<Words, int> ngram_counts(const Words& words, std::size_t n) {
  std::map<Words, int> counts;
  for (std::size_t i = 0; i + n <= words.size(); ++i) ++counts[Words(words.begin() + i, words.begin() + i + n)];
  return counts;
}

std::size_t lcs_length(const Words& a, const Words& b) {
  std::vector<std::size_t> previous(b.size() + 1, 0), current(b.size() + 1, 0);
  for (std::size_t i = 1; i <= a.size(); ++i) {
    for (std::size_t j = 1; j <= b.size(); ++j)
      current[j] = a[i - 1] == b[j - 1] ? previous[j - 1] + 1 : std::max(previous[j], current[j - 1]);
    std::swap(previous, current);
  }
  return previous[b.size()];
}

}  // namespace

double bleu4(std::string_view candidate, const std::vector<std::string>& references) {
  constexpr double kEpsilon = 0.1;  // NLTK SmoothingFunction(epsilon=0.1).method1
  Words cand = caption_tokens(candidate);
  std::vector<Words> refs;
  for (const std::string& r : references) refs.push_back(caption_tokens(r));
  if (cand.empty() || refs.empty()) return 0.0;
  double log_precision_sum = 0.0;
  for (std::size_t n = 1; n <= 4; ++n) {
    std::map<Words, int> max_ref_counts;
    for (const Words& ref : refs)
      for (const auto& [gram, count] : ngram_counts(ref, n))
        max_ref_counts[gram] = std::max(max_ref_counts[gram], count);
    int matched = 0, total = 0;
    for (const auto& [gram, count] : ngram_counts(cand, n)) {
      auto it = max_ref_counts.find(gram);
      matched += std::min(count, it == max_ref_counts.end() ? 0 : it->second);
      total += count;
    }
    if (n == 1 && matched == 0) return 0.0;  // NLTK: no unigram overlap scores 0
    // NLTK keeps the precision unreduced with denominator max(1, total):
    // a candidate shorter than n has p_n = epsilon / 1.
    const double denominator = std::max(1, total);
    const double precision = matched > 0 ? matched / denominator : kEpsilon / denominator;
    log_precision_sum += 0.25 * std::log(precision);
  }
  // Brevity penalty against the reference whose length is closest (ties: shorter).
  const std::size_t c = cand.size();
  std::size_t r = refs.front().size();
  auto distance = [c](std::size_t x) { return x > c ? x - c : c - x; };
  for (const Words& ref : refs)
    if (distance(ref.size()) < distance(r) || (distance(ref.size()) == distance(r) && ref.size() < r)) r = ref.size();
  const double brevity = c > r ? 1.0 : std::exp(1.0 - static_cast<double>(r) / static_cast<double>(c));
  return brevity * std::exp(log_precision_sum);
}

double rouge_l(std::string_view candidate, const std::vector<std::string>& references) {
  constexpr double kBeta = 1.2;
  Words cand = caption_tokens(candidate);
  if (cand.empty()) return 0.0;
  double precision = 0.0, recall = 0.0;  // each the best over references
  for (const std::string& reference : references) {
    Words ref = caption_tokens(reference);
    if (ref.empty()) continue;
    double lcs = static_cast<double>(lcs_length(cand, ref));
    precision = std::max(precision, lcs / static_cast<double>(cand.size()));
    recall = std::max(recall, lcs / static_cast<double>(ref.size()));
  }
  if (precision == 0.0 || recall == 0.0) return 0.0;
  return (1 + kBeta * kBeta) * precision * recall / (recall + kBeta * kBeta * precision);
}

}  // namespace mike
