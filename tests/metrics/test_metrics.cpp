// Metric plugins and text scores on hand-computed cases.
#include <doctest/doctest.h>

#include "mike/text_metrics.h"
#include "plugins/plugin_registry.h"

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
  // Normalised: cand [cat sat on mat], ref [cat is on mat].
  // p1 = 3/4, p2 = (1+1)/(3+1), p3 = (0+1)/(2+1), p4 = (0+1)/(1+1), BP = 1
  // BLEU = (3/4 * 1/2 * 1/3 * 1/2)^(1/4) = 0.0625^(1/4) = 0.5
  CHECK(bleu4("the cat sat on the mat", {"the cat is on the mat"}) == doctest::Approx(0.5));
  CHECK(bleu4("cat sat on mat", {"cat sat on mat"}) == doctest::Approx(1.0));
  CHECK(bleu4("dog", {"cat sat on mat"}) == 0.0);
  // Brevity: cand [cat sat] vs ref of 4 words -> BP = exp(1 - 4/2) = e^-1;
  // p1 = 1, p2 = (1+1)/(1+1) = 1, p3 = (0+1)/(0+1) = 1, p4 = 1.
  CHECK(bleu4("cat sat", {"cat sat on mat"}) == doctest::Approx(std::exp(-1.0)));
  // Multi-reference: the closest length (2 words) removes the brevity penalty.
  CHECK(bleu4("cat sat", {"cat sat on mat", "cat sat"}) == doctest::Approx(1.0));
  // ROUGE-L: LCS [cat on mat] = 3, P = R = 3/4 -> F = 0.75 for any beta.
  CHECK(rouge_l("the cat sat on the mat", {"the cat is on the mat"}) == doctest::Approx(0.75));
  // P = 2/2, R = 2/4, beta = 1.2: F = (1 + 1.44) * 1 * 0.5 / (0.5 + 1.44 * 1) = 1.22 / 1.94
  CHECK(rouge_l("cat sat", {"cat sat on mat", "dog"}) == doctest::Approx(1.22 / 1.94));
  CHECK(rouge_l("", {"cat"}) == 0.0);
}

TEST_CASE("edit_accuracy reports teacher-forced token accuracy and generation exact match") {
  MetricInput in;
  in.target = "Varnel Finch";
  in.post.token_accuracy = 0.75;
  in.generated_post = "the varnel finch.";
  auto values = metric("edit_accuracy")->compute(in);
  CHECK(values.at("token_acc") == 0.75);
  CHECK(values.at("exact_match") == 1.0);
  in.generated_post = "Varnel";  // teacher forcing can look good while generation fails
  CHECK(metric("edit_accuracy")->compute(in).at("exact_match") == 0.0);
}

TEST_CASE("locality compares post- with pre-edit predictions, top-1 and top-k") {
  MetricInput in;
  in.pre.predicted_tokens = {5, 6, 7, 8};
  in.post.predicted_tokens = {5, 6, 9, 8};
  in.pre.topk_tokens = {{5, 1}, {6, 2}, {7, 3}, {8, 4}};
  in.post.topk_tokens = {{5, 1}, {2, 6}, {9, 7}, {8, 0}};
  auto values = metric("locality", "top_k: 2\n")->compute(in);
  CHECK(values.at("top1_agreement") == doctest::Approx(0.75));
  // overlaps: 2/2, 2/2, 1/2, 1/2 -> 0.75
  CHECK(values.at("topk_agreement") == doctest::Approx(0.75));
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
  auto values = metric("caption")->compute(in);
  CHECK(values.at("token_acc") == 0.4);
  CHECK(values.at("mention") == 0.0);
  CHECK(values.at("bleu4") == doctest::Approx(0.5));
  CHECK(values.at("rouge_l") == doctest::Approx(0.75));
  in.generated_post = "A Varnel Finch sits on a branch.";
  CHECK(metric("caption")->compute(in).at("mention") == 1.0);
}
