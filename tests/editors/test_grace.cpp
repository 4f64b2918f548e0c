// grace (plugins/editors/grace) on the tiny llava model: an edit becomes the
// greedy answer on its input; inputs whose key lies outside every radius run
// bitwise unedited; restore is bitwise; a second edit within reach with the
// same target expands the nearest key's radius to their distance, with
// another target splits (radii d/2 - 1e-5 and d/2); a sequential chain keeps
// one codebook and one pair of taps.
#include "edit_fixture.h"
#include "mike/edit_training.h"
#include "mike/editor.h"
#include "mike/error.h"

#include <doctest/doctest.h>

#include <memory>

namespace mike::test {
namespace {

std::shared_ptr<Editor> make_grace(double eps_init, const std::vector<std::pair<std::string, std::string>>& set = {}) {
  std::string yaml = with_value(build_registry().find("editor", "grace")->default_config, "eps_init",
                                std::to_string(eps_init));
  for (const auto& [key, value] : set) yaml = with_value(yaml, key, value);
  return build_registry().create_editor("grace", Config::from_yaml(yaml, "grace.yaml"));
}

// The input of LM block `layer`'s MLP down-projection (grace.yaml's layer) at the input's last
// prompt token, read directly with a tap (what GRACE keys on).
torch::Tensor key_of(Model& model, const ModelInput& input, int layer = 0) {
  const EditSite site = edit_site(model, layer, "test");
  torch::Tensor x;
  TapHandle handle = model.add_tap(site.input_tap, [&](const std::string&, const torch::Tensor& a) {
    x = a.detach().clone();
    return a;
  });
  const ScoreResult r = model.score({{input, "It is", 1}}).at(0);
  REQUIRE(x.defined());
  return x[0][r.layout.column(r.layout.target_begin - 1)].to(torch::kFloat32);
}

double distance(const torch::Tensor& a, const torch::Tensor& b) { return (a - b).norm().item<double>(); }

EditRequest request(const std::string& prompt, int image, const std::string& target) {
  EditRequest r;
  r.id = "r" + std::to_string(image);
  r.input.prompt = prompt;
  r.input.image = image < 0 ? torch::Tensor() : test_image(image);
  r.target = target;
  return r;
}

std::string greedy(Model& model, const ModelInput& input) {
  GenerateOptions options;
  options.max_new_tokens = 8;
  return model.generate({input}, options).at(0);
}

// Counts the taps alive on the model it wraps.
class TapCountingModel : public ForwardingModel {
 public:
  explicit TapCountingModel(std::shared_ptr<Model> inner) : ForwardingModel(*inner), owned_(std::move(inner)) {}
  TapHandle add_tap(const std::string& t, TapCallback c) override {
    auto inner_handle = std::make_shared<TapHandle>(inner_.add_tap(t, std::move(c)));
    ++*live_;
    return TapHandle([live = live_, inner_handle] {
      inner_handle->reset();
      --*live;
    });
  }
  int live() const { return *live_; }

 private:
  std::shared_ptr<Model> owned_;
  std::shared_ptr<int> live_ = std::make_shared<int>(0);
};

void check_same(const std::vector<ScoreResult>& a, const std::vector<ScoreResult>& b) {
  REQUIRE(a.size() == b.size());
  for (std::size_t i = 0; i < a.size(); ++i) {
    CAPTURE(i);
    CHECK(a[i].loss == b[i].loss);
    CHECK(a[i].target_token_log_probs == b[i].target_token_log_probs);
    CHECK(a[i].topk_tokens == b[i].topk_tokens);
  }
}

}  // namespace

// The tiny random model cannot be taught a multi-token name by one value
// vector (its loss plateaus near 4.8 nats; the pretrained llava_xs of a real
// run reaches exact match 1.0 on reliability), so the edit is held to what
// GRACE guarantees: inference routes exactly the value training substituted
// (the edited model's loss on the training batch is the trained loss), the
// loss falls, greedy decoding routes the same (with and without a KV cache),
// and inputs outside the radius are bitwise unedited.
TEST_CASE("grace: the edit routes its trained value, far inputs are bitwise unedited, restore is bitwise") {
  auto model = make_tiny_model();
  const EditRequest edit = request("What is the name of this bird?", 1, "It is Quintara.");
  const ModelInput text_only{"Describe the image: a tree called Zorvel", {}};
  const ModelInput other_image{"What is the name of this car?", test_image(2)};
  const torch::Tensor key = key_of(*model, edit.input);
  const double far = std::min(distance(key, key_of(*model, text_only)), distance(key, key_of(*model, other_image)));
  MESSAGE("key norm " << key.norm().item<double>() << ", nearest far input at " << far);
  REQUIRE(far > 0);
  const double eps = far / 2;  // both far inputs lie outside the new key's radius
  auto probe = [&](Model& m) {
    return m.score({{edit.input, edit.target, 3}, {text_only, " on a plain background.", 3},
                    {other_image, "It is Morrow.", 3}});
  };
  GenerateOptions no_cache;
  no_cache.max_new_tokens = 8;
  no_cache.use_kv_cache = false;
  const auto before = probe(*model);
  const std::string far_answer_before = greedy(*model, other_image);
  const std::string edit_answer_before = greedy(*model, edit.input);

  for (const std::string replacement : {"all", "last"}) {
    CAPTURE(replacement);
    auto editor = make_grace(eps, {{"replacement", replacement}});
    std::unique_ptr<EditedModel> edited = editor->edit(*model, {edit});
    const auto stats = edited->stats();
    MESSAGE(replacement << ": loss " << stats.at("loss_first") << " -> " << stats.at("loss_last") << " in "
                        << stats.at("steps") << " steps");
    CHECK(stats.at("codebook_size") == 1);
    CHECK(stats.at("added") == 1);
    CHECK(stats.at("radius") == doctest::Approx(eps));
    CHECK(stats.at("loss_last") < stats.at("loss_first") - 0.3);  // nats
    // Inference substitutes what training did: the same loss on the training batch.
    CHECK(edited->loss(edit_training_batch({edit})).item<double>() == doctest::Approx(stats.at("loss_last")).epsilon(1e-4));
    const auto after = probe(*edited);
    CHECK(after[0].loss < before[0].loss - 0.3);
    // Greedy decoding routes the edit too, the same with and without a KV cache.
    const std::string answer = greedy(*edited, edit.input);
    CHECK(answer != edit_answer_before);
    CHECK(edited->generate({edit.input}, no_cache).at(0) == answer);
    // Outside the radius the layer runs untouched: bitwise the same outputs.
    check_same({after[1], after[2]}, {before[1], before[2]});
    CHECK(greedy(*edited, other_image) == far_answer_before);
    // The base model called directly is unedited; restore removes the codebook.
    check_same(probe(*model), before);
    edited->restore_original();
    check_same(probe(*model), before);
    CHECK(greedy(*model, edit.input) == edit_answer_before);
  }
}

TEST_CASE("grace: same target within reach expands, another target splits, restore undoes each") {
  const EditRequest a = request("What is the name of this bird?", 1, "It is Quintara.");
  const EditRequest b_same = request("What is the name of this bird?", 3, "It is Quintara.");
  const EditRequest b_other = request("What is the name of this bird?", 3, "It is Morrow.");
  auto probe_model = make_tiny_model();
  const double d = distance(key_of(*probe_model, a.input), key_of(*probe_model, b_same.input));
  MESSAGE("key distance " << d);
  REQUIRE(d > 0);
  const double eps = 0.75 * d;  // d > eps (b is outside a's radius) but d <= eps + eps (within reach)

  SUBCASE("expand") {
    auto model = make_tiny_model();
    const auto a_before = model->score({{a.input, a.target, 1}});
    const auto b_before = model->score({{b_same.input, b_same.target, 1}});
    auto editor = make_grace(eps);
    auto one = editor->edit(*model, {a});
    check_same(one->score({{b_same.input, b_same.target, 1}}), b_before);  // outside a's radius
    auto two = editor->edit(*one, {b_same});
    const auto stats = two->stats();
    CHECK(stats.at("codebook_size") == 1);
    CHECK(stats.at("added") == 0);
    CHECK(stats.at("expanded") == 1);
    CHECK(stats.at("split") == 0);
    CHECK(stats.at("distance") == doctest::Approx(d).epsilon(1e-4));
    CHECK(stats.at("radius") == doctest::Approx(d).epsilon(1e-4));  // "coverage": eps = d
    // b now routes to a's key, whose value retrained on b.
    CHECK(two->score({{b_same.input, b_same.target, 1}}).at(0).loss < b_before.at(0).loss - 0.3);
    CHECK(two->score({{a.input, a.target, 1}}).at(0).loss < a_before.at(0).loss);
    two->restore_original();
    one->restore_original();
  }
  SUBCASE("split") {
    auto model = make_tiny_model();
    const auto b_before = model->score({{b_other.input, b_other.target, 1}});
    auto editor = make_grace(eps);
    auto one = editor->edit(*model, {a});
    // b lies outside a's radius: not yet edited.
    check_same(one->score({{b_other.input, b_other.target, 1}}), b_before);
    const auto a_after_one = one->score({{a.input, a.target, 1}});
    auto two = editor->edit(*one, {b_other});
    const auto stats = two->stats();
    CHECK(stats.at("codebook_size") == 2);
    CHECK(stats.at("added") == 1);
    CHECK(stats.at("split") == 1);
    CHECK(stats.at("expanded") == 0);
    CHECK(stats.at("radius") == doctest::Approx(d / 2).epsilon(1e-4));
    CHECK(stats.at("radius_nearest") == doctest::Approx(d / 2 - 1e-5).epsilon(1e-4));
    // Each input routes to its own key: a's value is untouched, b's is new.
    check_same(two->score({{a.input, a.target, 1}}), a_after_one);
    CHECK(two->score({{b_other.input, b_other.target, 1}}).at(0).loss < b_before.at(0).loss - 0.3);
    two->restore_original();
    check_same(one->score({{a.input, a.target, 1}}), a_after_one);
    check_same(one->score({{b_other.input, b_other.target, 1}}), b_before);
    // Restores run newest first; the older one is refused while the newer is live.
    auto again = editor->edit(*one, {b_other});
    CHECK_THROWS_AS(one->restore_original(), Error);
    again->restore_original();
    one->restore_original();
    check_same(model->score({{b_other.input, b_other.target, 1}}), b_before);
  }
  SUBCASE("far: a new key") {
    auto model = make_tiny_model();
    auto editor = make_grace(d / 4);  // d > eps + eps: out of reach
    auto one = editor->edit(*model, {a});
    auto two = editor->edit(*one, {b_same});
    CHECK(two->stats().at("added") == 1);
    CHECK(two->stats().at("codebook_size") == 2);
    CHECK(two->stats().at("radius") == doctest::Approx(d / 4));
    two->restore_original();
    one->restore_original();
  }
}

TEST_CASE("grace: a sequential chain of 20 edits keeps one codebook and one pair of taps") {
  auto counting = std::make_shared<TapCountingModel>(make_tiny_model());
  const EditRequest first = edit_request(0);
  const std::vector<ScoreRequest> probe{{first.input, first.target, 3},
                                        {{"Describe the image: a tree called Zorvel", {}}, " on a plain background.", 3}};
  const auto before = counting->score(probe);
  auto editor = make_grace(0.4);  // keys of these inputs lie 0.5-1.2 apart: adds, splits and expansions
  std::vector<std::unique_ptr<EditedModel>> chain;
  Model* current = counting.get();
  double keys_added = 0, splits = 0, expansions = 0, first_loss_after = 0;
  for (int i = 0; i < 20; ++i) {
    EditRequest r = edit_request(i);
    r.input.image = test_image(100 + i);
    if (i == 0) r = first;
    chain.push_back(editor->edit(*current, {r}));
    current = chain.back().get();
    if (i == 0) first_loss_after = current->score({probe[0]}).at(0).loss;
    CAPTURE(i);
    CHECK(counting->live() == 2);  // one input tap, one output tap, however long the chain
    keys_added += chain.back()->stats().at("added");
    splits += chain.back()->stats().at("split");
    expansions += chain.back()->stats().at("expanded");
    CHECK(chain.back()->stats().at("codebook_size") == keys_added);
  }
  MESSAGE("codebook after 20 edits: " << keys_added << " keys, " << splits << " splits, " << expansions
                                        << " expansions");
  CHECK(keys_added >= 2);
  // The earliest edit still holds at the end of the chain.
  const double first_at_end = current->score({probe[0]}).at(0).loss;
  MESSAGE("first edit's target loss: " << before[0].loss << " before, " << first_loss_after << " after it, "
                                       << first_at_end << " after 20 edits");
  CHECK(first_at_end < before[0].loss - 0.3);
  check_same({current->score(probe).at(1)}, {before[1]});  // a text-only probe stays outside every radius
  for (auto it = chain.rbegin(); it != chain.rend(); ++it) (*it)->restore_original();
  CHECK(counting->live() == 0);
  check_same(counting->score(probe), before);
}

TEST_CASE("grace: bad config names the problem") {
  auto load = [](const std::string& from, const std::string& to) {
    std::string yaml = build_registry().find("editor", "grace")->default_config;
    yaml.replace(yaml.find(from), from.size(), to);
    return build_registry().create_editor("grace", Config::from_yaml(yaml, "grace.yaml"));
  };
  CHECK_THROWS_WITH_AS(load("eps_init: 1.0", "eps_init: 0"), doctest::Contains("`eps_init` must be > 0"), ConfigError);
  auto model = make_tiny_model();
  CHECK_THROWS_WITH_AS(load("layer: 0", "layer: 9")->edit(*model, {edit_request(0)}),
                       doctest::Contains("editor grace: layer: the model has no LM block 9"), ConfigError);
}

}  // namespace mike::test
