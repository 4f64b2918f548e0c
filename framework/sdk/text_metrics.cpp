#include "mike/text_metrics.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <map>

namespace mike {

std::vector<std::string> normalized_words(std::string_view text) {
  std::vector<std::string> words;
  std::string current;
  auto finish = [&] {
    if (!current.empty() && current != "a" && current != "an" && current != "the") words.push_back(current);
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
  Words cand = normalized_words(candidate);
  std::vector<Words> refs;
  for (const std::string& r : references) refs.push_back(normalized_words(r));
  if (cand.empty() || refs.empty()) return 0.0;
  double log_precision_sum = 0.0;
  for (std::size_t n = 1; n <= 4; ++n) {
    auto cand_counts = ngram_counts(cand, n);
    std::map<Words, int> max_ref_counts;
    for (const Words& ref : refs)
      for (const auto& [gram, count] : ngram_counts(ref, n))
        max_ref_counts[gram] = std::max(max_ref_counts[gram], count);
    double clipped = 0.0, total = 0.0;
    for (const auto& [gram, count] : cand_counts) {
      auto it = max_ref_counts.find(gram);
      clipped += std::min(count, it == max_ref_counts.end() ? 0 : it->second);
      total += count;
    }
    if (n > 1) {  // add-one smoothing (Lin & Och 2004)
      clipped += 1.0;
      total += 1.0;
    }
    if (clipped == 0.0) return 0.0;  // no unigram overlap at all
    log_precision_sum += std::log(clipped / total);
  }
  // Brevity penalty against the reference whose length is closest (ties: shorter).
  std::size_t c = cand.size(), r = refs.front().size();
  for (const Words& ref : refs) {
    std::size_t len = ref.size();
    auto dist = [c](std::size_t x) { return x > c ? x - c : c - x; };
    if (dist(len) < dist(r) || (dist(len) == dist(r) && len < r)) r = len;
  }
  double brevity = c >= r ? 1.0 : std::exp(1.0 - static_cast<double>(r) / static_cast<double>(c));
  return brevity * std::exp(log_precision_sum / 4.0);
}

double rouge_l(std::string_view candidate, const std::vector<std::string>& references) {
  constexpr double kBeta = 1.2;
  Words cand = normalized_words(candidate);
  double best = 0.0;
  for (const std::string& reference : references) {
    Words ref = normalized_words(reference);
    if (cand.empty() || ref.empty()) continue;
    double lcs = static_cast<double>(lcs_length(cand, ref));
    if (lcs == 0.0) continue;
    double precision = lcs / static_cast<double>(cand.size());
    double recall = lcs / static_cast<double>(ref.size());
    double f = (1 + kBeta * kBeta) * precision * recall / (recall + kBeta * kBeta * precision);
    best = std::max(best, f);
  }
  return best;
}

}  // namespace mike
