// Metric plugins and text scores on hand-computed cases.
#include <doctest/doctest.h>

#include <nlohmann/json.hpp>

#include <cmath>
#include <sstream>

#include "mike/text_metrics.h"
#include "plugins/plugin_registry.h"
#include "process.h"

using namespace mike;

namespace {
std::shared_ptr<Metric> metric(const std::string& name, const std::string& yaml = "") {
  static PluginRegistry registry = [] {
    PluginRegistry r;
    r.discover({MIKE_BINARY_DIR "/lib/mike/plugins"});
    return r;
  }();
  const PluginRecord* record = registry.find("metric", name);
  REQUIRE(record != nullptr);
  return registry.create_metric(name, Config::from_yaml(yaml.empty() ? record->default_config : yaml));
}
}  // namespace

TEST_CASE("answers are normalised SQuAD-style before comparison") {
  CHECK(normalize_answer("  The Varnel-Finch! ") == "varnel finch");
  CHECK(normalize_answer("An Orlo tower.") == "orlo tower");
  CHECK(exact_match("varnel finch", "The Varnel Finch."));
  CHECK_FALSE(exact_match("varnel finch bird", "Varnel Finch"));
  CHECK(mentions("This is a photo of the Varnel Finch on a branch.", "Varnel Finch"));
  CHECK_FALSE(mentions("A Varnel on a Finch branch.", "Varnel Finch"));
  CHECK_FALSE(mentions("anything", ""));
}

TEST_CASE("BLEU-4 and ROUGE-L match hand-computed values") {
  CHECK((caption_tokens("The cat's mat.") == std::vector<std::string>{"the", "cat", "s", "mat"}));
  // cand [the cat sat on the mat], ref [the cat is on the mat] (articles count):
  // p1 = 5/6, p2 = 3/5, p3 = 1/4, p4 = 0 matches of 3 -> 0.1/3 (method 1), BP = 1.
  CHECK(bleu4("the cat sat on the mat", {"the cat is on the mat"}) ==
        doctest::Approx(std::pow(5.0 / 6 * 3.0 / 5 * 1.0 / 4 * 0.1 / 3, 0.25)));
  CHECK(bleu4("cat sat on mat", {"cat sat on mat"}) == doctest::Approx(1.0));
  CHECK(bleu4("dog", {"cat sat on mat"}) == 0.0);
  CHECK(bleu4("", {"cat"}) == 0.0);
  CHECK(bleu4("cat", {}) == 0.0);
  // A short candidate has no 3- or 4-grams: p3 = p4 = 0.1/1 (not 1), and
  // BP = exp(1 - 4/2) = e^-1.
  CHECK(bleu4("cat sat", {"cat sat on mat"}) == doctest::Approx(std::exp(-1.0) * std::sqrt(0.1)));
  // Multi-reference: the closest length (2 words) removes the brevity penalty.
  CHECK(bleu4("cat sat", {"cat sat on mat", "cat sat"}) == doctest::Approx(std::sqrt(0.1)));
  // ROUGE-L: LCS [the cat on the mat] = 5, P = R = 5/6 -> F = 5/6 for any beta.
  CHECK(rouge_l("the cat sat on the mat", {"the cat is on the mat"}) == doctest::Approx(5.0 / 6));
  // P = 2/2, R = 2/4, beta = 1.2: F = (1 + 1.44) * 1 * 0.5 / (0.5 + 1.44 * 1) = 1.22 / 1.94
  CHECK(rouge_l("cat sat", {"cat sat on mat", "dog"}) == doctest::Approx(1.22 / 1.94));
  // P and R are maximised over references separately (COCO): P = 1 from the
  // first, R = 1 from the second, so F = 1 although neither reference alone gives 1.
  CHECK(rouge_l("a b c", {"a b c d e f", "c"}) == doctest::Approx(1.0));
  CHECK(rouge_l("", {"cat"}) == 0.0);
  CHECK(rouge_l("dog", {"cat"}) == 0.0);
}

namespace {
// A deterministic caption/reference set: candidates of 1..12 words from a
// 12-word vocabulary (so short candidates, repeated words and partial
// overlaps all occur), 1..4 references of 1..14 words; every 7th case draws
// the candidate from disjoint words (no overlap at all).
struct CaptionCase {
  std::string candidate;
  std::vector<std::string> references;
};
std::vector<CaptionCase> generated_caption_cases(int count) {
  const std::vector<std::string> vocabulary = {"the", "a", "bird", "red", "sits", "on", "branch",
                                               "tower", "stone", "Varnel", "finch", "small"};
  const std::vector<std::string> unrelated = {"ocean", "car", "blue", "runs"};
  std::uint64_t state = 12345;
  auto next = [&](std::uint64_t bound) {
    state = state * 6364136223846793005ULL + 1442695040888963407ULL;  // Knuth's MMIX LCG
    return (state >> 33) % bound;
  };
  auto sentence = [&](const std::vector<std::string>& words, std::uint64_t max_length) {
    std::string text;
    std::uint64_t length = 1 + next(max_length);
    for (std::uint64_t i = 0; i < length; ++i) text += (i ? " " : "") + words[next(words.size())];
    return text + (next(3) == 0 ? "." : "");
  };
  std::vector<CaptionCase> cases;
  for (int i = 0; i < count; ++i) {
    CaptionCase c;
    c.candidate = sentence(i % 7 == 3 ? unrelated : vocabulary, i % 5 == 0 ? 3 : 12);
    std::uint64_t refs = 1 + next(4);
    for (std::uint64_t r = 0; r < refs; ++r) c.references.push_back(sentence(vocabulary, 14));
    cases.push_back(std::move(c));
  }
  return cases;
}
}  // namespace

TEST_CASE("BLEU-4 equals NLTK sentence_bleu (method1) and ROUGE-L a from-definition LCS reference on 80 sets") {
  const auto cases = generated_caption_cases(80);
  const std::string dir = test::make_temp_dir("text_metrics_nltk");
  std::string lines;
  for (const CaptionCase& c : cases) {
    nlohmann::json refs = nlohmann::json::array();
    for (const std::string& r : c.references) refs.push_back(caption_tokens(r));
    lines += nlohmann::json{{"candidate", caption_tokens(c.candidate)}, {"references", refs}}.dump() + "\n";
  }
  test::write_file(dir + "/cases.jsonl", lines);
  auto r = test::run_command("/usr/bin/python3 -W ignore " MIKE_SOURCE_DIR "/tests/metrics/text_metrics_reference.py " +
                             dir + "/cases.jsonl");
  REQUIRE_MESSAGE(r.exit_code == 0, r.err, " (needs Debian's python3-nltk; ./bootstrap.sh installs it)");
  std::istringstream out(r.out);
  std::string line;
  int compared = 0, short_candidates = 0, zero_bleu = 0, multi_reference = 0;
  for (const CaptionCase& c : cases) {
    REQUIRE(std::getline(out, line));
    const auto expected = nlohmann::json::parse(line);
    INFO("candidate: ", c.candidate, " references: ", nlohmann::json(c.references).dump());
    CHECK(bleu4(c.candidate, c.references) == doctest::Approx(expected.at("bleu4").get<double>()).epsilon(1e-12));
    CHECK(rouge_l(c.candidate, c.references) == doctest::Approx(expected.at("rouge_l").get<double>()).epsilon(1e-12));
    ++compared;
    short_candidates += caption_tokens(c.candidate).size() < 4;
    zero_bleu += expected.at("bleu4").get<double>() == 0.0;
    multi_reference += c.references.size() > 1;
  }
  CHECK(compared == 80);
  // The set covers the cases the old implementation got wrong.
  CHECK(short_candidates >= 10);
  CHECK(zero_bleu >= 5);
  CHECK(multi_reference >= 30);
}

TEST_CASE("edit_accuracy reports teacher-forced token accuracy and generation exact match") {
  MetricInput in;
  in.target = "Varnel Finch";
  in.post.token_accuracy = 0.75;
  in.generated_post = "the varnel finch.";
  in.post.target_tokens = {4, 5, 6, 7};
  in.post.predicted_tokens = {4, 5, 9, 7};
  auto values = metric("edit_accuracy")->compute(in);
  CHECK(values.at("token_acc") == 0.75);
  CHECK(values.at("tf_exact") == 0.0);  // EasyEdit's exact match: one wrong token fails the sample
  CHECK(values.at("exact_match") == 1.0);
  in.post.predicted_tokens = {4, 5, 6, 7};
  CHECK(metric("edit_accuracy")->compute(in).at("tf_exact") == 1.0);
  in.generated_post = "Varnel";  // teacher forcing can look good while generation fails
  CHECK(metric("edit_accuracy")->compute(in).at("exact_match") == 0.0);
}

TEST_CASE("locality compares post- with pre-edit predictions, top-1 and top-k") {
  MetricInput in;
  in.pre.predicted_tokens = {5, 6, 7, 8};
  in.post.predicted_tokens = {5, 6, 9, 8};
  in.pre.topk_tokens = {{5, 1}, {6, 2}, {7, 3}, {8, 4}};
  in.post.topk_tokens = {{5, 1}, {2, 6}, {9, 7}, {8, 0}};
  auto ranks = [](std::int64_t first) {
    std::vector<std::int64_t> ids(10);
    for (int r = 0; r < 10; ++r) ids[r] = first + r;
    return ids;
  };
  in.pre.position_topk_tokens = {ranks(0), ranks(10), ranks(20)};
  in.post.position_topk_tokens = {ranks(90), ranks(0), ranks(10), ranks(20)};
  std::swap(in.post.position_topk_tokens[2][0], in.post.position_topk_tokens[2][1]);  // top-1 differs, 8 ranks agree
  in.post.position_topk_tokens[3][9] = 99;                                               // top-1 agrees, 9 ranks agree
  auto values = metric("locality", "top_k: 2\n")->compute(in);
  CHECK(values.at("top1_agreement") == doctest::Approx(0.75));
  // overlaps: 2/2, 2/2, 1/2, 1/2 -> 0.75
  CHECK(values.at("topk_agreement") == doctest::Approx(0.75));
  // EasyEdit: the post-edit input is one position longer (an in-context
  // prefix), so its last 3 positions are compared: top-1 agrees at 2 of 3,
  // and the top-10 rank by rank at 10 + 8 + 9 of 30 (position, rank) pairs.
  CHECK(values.at("easyedit") == doctest::Approx(2.0 / 3.0));
  CHECK(values.at("easyedit_top10") == doctest::Approx(27.0 / 30.0));
  in.post.position_topk_tokens[1] = {0, 1, 2};
  CHECK_THROWS_WITH(metric("locality", "top_k: 2\n")->compute(in),
                    "metric locality: position 0 has 3 top tokens, fewer than the 10 EasyEdit's locality compares; "
                    "set eval.position_top_k=10");
  in.post.position_topk_tokens.clear();
  CHECK_THROWS_WITH(metric("locality", "top_k: 2\n")->compute(in),
                    doctest::Contains("the model returned no top tokens per input position"));
  in.post.predicted_tokens = {5};
  CHECK_THROWS_WITH(metric("locality")->compute(in),
                    "metric locality: pre- and post-edit answers have 4 and 1 scored tokens; they must be equal and "
                    "non-empty");
  CHECK_THROWS_WITH(metric("locality", "top_k: 0\n"), "metric 'locality': metric locality: top_k must be >= 1, got 0");
}

TEST_CASE("caption scores mention, BLEU-4 and ROUGE-L of the generated caption") {
  MetricInput in;
  in.target = "Varnel Finch";
  in.references = {"the cat is on the mat"};
  in.generated_post = "the cat sat on the mat";
  in.post.token_accuracy = 0.4;
  in.post.target_tokens = {1, 2};
  in.post.predicted_tokens = {1, 3};
  auto values = metric("caption")->compute(in);
  CHECK(values.at("token_acc") == 0.4);
  CHECK(values.at("tf_exact") == 0.0);
  CHECK(values.at("mention") == 0.0);
  CHECK(values.at("bleu4") == doctest::Approx(std::pow(5.0 / 6 * 3.0 / 5 * 1.0 / 4 * 0.1 / 3, 0.25)));
  CHECK(values.at("rouge_l") == doctest::Approx(5.0 / 6));
  in.generated_post = "A Varnel Finch sits on a branch.";
  CHECK(metric("caption")->compute(in).at("mention") == 1.0);
}
