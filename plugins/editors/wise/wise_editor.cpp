// wise: WISE (Wang et al., NeurIPS 2024, "WISE: Rethinking the Knowledge
// Memory for Lifelong Model Editing of Large Language Models") as an editor.
// The main memory (one LM block's MLP down-projection W_v, the model's edit
// site) is never written; edits train a side memory W_v' (side_memory.h), and
// a router sends a query to it when its activation score exceeds the
// memory's threshold ε. The rules follow the authors' code (EasyEdit's
// easyeditor/models/wise/WISE.py, retrieve mode):
//
//   edit objective (WISE, memory routing: L_edit = -log P_{W_v'}(y_e | x_e) + L_a)
//     the edit's NLL with its rows through the side memory, plus the routing
//     margin loss on the activation scores of the edit (x_e) and of
//     irrelevant inputs (x_i, samples of the run's corpus):
//     L_a = [Δ(x_i) - α]_+ + [β - Δ(x_e)]_+ + [γ - (Δ(x_e) - Δ(x_i))]_+,
//     each term the mean of its positive entries (EasyEdit's
//     _cal_activation_loss; the third over every (edit, irrelevant) pair).
//     The side memory stays within ±norm_constraint of W_v entrywise
//     (EasyEdit's _norm_constraint).
//   knowledge sharding (WISE, knowledge sharding and merging)
//     each shard of `shard_size` consecutive edits trains only a random
//     subspace of the side memory: a gradient mask with ratio ρ
//     (`mask_ratio`), drawn when the shard starts; a full shard is saved as
//     a memory of its own and the next shard starts again from W_v.
//   merge: every `shards_per_merge` full shards are TIES-merged into one
//     memory (ties_merge.h; EasyEdit's merge_freq / save_freq), whose ε uses
//     the smallest score of all their edits.
//   routing: the memory of largest score above its ε (WISE-Retrieve), or of
//     largest score / ε (`retrieval: relative`); the main memory otherwise,
//     bitwise.
//   competing memories (ours; WISE-Retrieve keeps many memories, and edits
//     of one category share the question and look alike, so a memory can
//     take another edit's query): before an edit trains, each saved memory's
//     score on its prompt is measured once (the projection's input does not
//     depend on the memory being trained).
//     `outscore_rivals` adds [s_rival(x_e) + γ - Δ(x_e)]_+, with s_rival the
//     largest score of a saved memory above its ε on x_e, so the new memory
//     wins its own query; `replay: K` adds the prompts of the K saved
//     memories scoring highest on x_e to the x_i of L_a, so the new memory
//     stays below α on the earlier edits most like it and leaves their
//     queries alone (the paper's replay of earlier edits, aimed at the ones
//     at risk rather than drawn at random).
//
// Sequential editing: an edit of a WISE-edited model extends the same side
// memories on the same base model. Each edit keeps an undo record (the
// memory state before it); restores run newest first, and once the chain's
// first edit is restored the taps are removed. No weights change.
//
// Left out of the paper: the context-template augmentation of the edit
// prompt, and WISE-Merge's single merged memory without retrieval.
#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <random>

#include "mike/edit_training.h"
#include "mike/editor.h"
#include "mike/error.h"
#include "mike/hash.h"
#include "mike/plugin.h"
#include "mike_plugin_default_config.h"
#include "routed_model.h"
#include "side_memory.h"
#include "ties_merge.h"

namespace {

using mike::memory_routing::RowCursor;
using mike::wise::MemoryState;
using mike::wise::Mode;
using mike::wise::SideMemories;
using mike::wise::SideMemory;

// The model of one WISE edit (or the newest of a chain).
class WiseModel : public mike::memory_routing::RoutedModel {
 public:
  WiseModel(std::shared_ptr<SideMemories> memories, std::size_t depth, std::map<std::string, double> stats)
      : RoutedModel(memories->base(), "wise"), memories_(std::move(memories)), depth_(depth), stats_(std::move(stats)) {}

  const std::shared_ptr<SideMemories>& memories() const { return memories_; }
  bool restored() const { return restored_; }
  void restore_original() override {
    if (restored_) return;
    memories_->state() = memories_->undo().pop(depth_);
    memories_->edit_prompts().resize(memories_->state().prompts_recorded);
    if (memories_->undo().empty()) memories_->remove_taps();
    restored_ = true;
  }
  std::map<std::string, double> stats() const override { return stats_; }

 private:
  std::unique_ptr<RoutedModel::Routing> open_routing(RowCursor cursor) override {
    return mike::memory_routing::inference_routing(*memories_, std::move(cursor), Mode::infer);
  }
  bool routing() const override { return !restored_; }

  std::shared_ptr<SideMemories> memories_;
  std::size_t depth_;  // index of this edit in the chain
  std::map<std::string, double> stats_;
  bool restored_ = false;
};

// The mean of the positive entries of `v`; zero when none is (EasyEdit's
// hinge reduction: satisfied margins do not dilute the others).
torch::Tensor mean_of_positive(const torch::Tensor& v) {
  const torch::Tensor positive = (v > 0).to(v.dtype());
  const torch::Tensor count = positive.sum();
  return (v * positive).sum() / torch::clamp_min(count, 1.0);
}

struct Margins {
  double alpha = 0, beta = 0, gamma = 0;
};

// L_a on the edits' scores [edits] and the irrelevant inputs' scores [irrelevant].
torch::Tensor routing_margin_loss(const torch::Tensor& edit, const torch::Tensor& irrelevant, const Margins& m) {
  const torch::Tensor gap = irrelevant.view({-1, 1}) - edit.view({1, -1}) + m.gamma;  // γ - (Δ(x_e) - Δ(x_i))
  return mean_of_positive(irrelevant - m.alpha) + mean_of_positive(m.beta - edit) + mean_of_positive(gap);
}

// The retrieval margin (ours, see the header): [s_rival(x_e) + γ - Δ(x_e)]_+
// for each edit that an earlier memory would route, with s_rival the largest
// score among the earlier memories above their ε on it; zero when none is.
torch::Tensor rival_margin_loss(const torch::Tensor& edit, const std::vector<double>& rival, double gamma) {
  std::vector<torch::Tensor> terms;
  for (std::size_t r = 0; r < rival.size(); ++r)
    if (std::isfinite(rival[r])) terms.push_back(rival[r] + gamma - edit[static_cast<std::int64_t>(r)]);
  if (terms.empty()) return torch::zeros({}, edit.options());
  return mean_of_positive(torch::stack(terms));
}

// What the earlier memories of a chain do on the edits about to be trained.
struct Rivals {
  std::vector<double> best;                // per edit: the largest score of an earlier memory above its ε (-inf: none)
  std::vector<mike::ScoreRequest> replay;  // the prompts of the `replay` earlier memories scoring highest on the edits
};

class WiseEditor : public mike::Editor {
 public:
  explicit WiseEditor(const mike::Config& config)
      : layer_(config.get<int>("layer")),
        mask_ratio_(config.get<double>("mask_ratio")),
        act_ratio_(config.get<double>("act_ratio")),
        norm_constraint_(config.get<double>("norm_constraint")),
        shard_size_(config.get<int>("shard_size")),
        shards_per_merge_(config.get<int>("shards_per_merge")),
        merge_density_(config.get<double>("merge_density")),
        merge_weight_(config.get<double>("merge_weight")),
        corpus_(config.sub("irrelevant").get<std::string>("corpus")),
        irrelevant_per_edit_(config.sub("irrelevant").get<int>("per_edit")),
        corpus_records_(config.sub("irrelevant").get<int>("max_records")),
        replay_(config.get<int>("replay")),
        outscore_rivals_(config.get<bool>("outscore_rivals")),
        seed_(config.get<int>("seed")) {
    const std::string retrieval = config.get<std::string>("retrieval");
    if (retrieval != "score" && retrieval != "relative")
      throw mike::ConfigError("editor wise: `retrieval` is '" + retrieval + "'; use score or relative");
    retrieval_ = retrieval == "score" ? mike::wise::Retrieval::score : mike::wise::Retrieval::relative;
    margins_.alpha = config.get<double>("alpha");
    margins_.beta = config.get<double>("beta");
    margins_.gamma = config.get<double>("gamma");
    training_.lr = config.get<double>("lr");
    training_.steps = config.get<int>("steps");
    training_.early_stop_loss = config.get<double>("early_stop_loss");
    auto require = [](bool ok, const std::string& what) {
      if (!ok) throw mike::ConfigError("editor wise: " + what);
    };
    require(layer_ >= 0, "`layer` must be >= 0 (an LM block index)");
    require(mask_ratio_ > 0 && mask_ratio_ <= 1, "`mask_ratio` must be in (0, 1]");
    require(act_ratio_ > 0, "`act_ratio` must be > 0");
    require(norm_constraint_ > 0, "`norm_constraint` must be > 0");
    require(shard_size_ >= 1, "`shard_size` must be >= 1");
    require(shards_per_merge_ >= 1, "`shards_per_merge` must be >= 1 (1: shards are never merged)");
    require(merge_density_ > 0 && merge_density_ <= 1, "`merge_density` must be in (0, 1]");
    require(merge_weight_ > 0, "`merge_weight` must be > 0");
    require(margins_.alpha >= 0 && margins_.beta > 0 && margins_.gamma >= 0, "`alpha`, `gamma` must be >= 0 and `beta` > 0");
    require(irrelevant_per_edit_ >= 1, "`irrelevant.per_edit` must be >= 1 (the margin loss needs irrelevant inputs)");
    require(replay_ >= 0, "`replay` must be >= 0 (0: no earlier edit is replayed)");
    require(corpus_records_ >= 0, "`irrelevant.max_records` must be >= 0 (0 = all)");
    require(training_.steps >= 1, "`steps` must be >= 1");
    require(training_.lr > 0, "`lr` must be > 0");
  }

  bool supports_batch() const override { return true; }

  std::unique_ptr<mike::EditedModel> edit(mike::Model& model, const std::vector<mike::EditRequest>& requests) override {
    if (requests.empty()) throw mike::Error("editor wise: edit() called with no requests");
    std::shared_ptr<SideMemories> memories = chain_of(model);
    MemoryState& state = memories->state();
    const mike::EditSite& site = memories->site();
    const std::size_t depth = memories->undo().push(state);
    auto edited = std::make_unique<WiseModel>(memories, depth, std::map<std::string, double>{});

    if (state.current.edits == 0) start_shard(state, site);
    const std::vector<mike::ScoreRequest> batch = mike::edit_training_batch(requests);
    std::vector<mike::ScoreRequest> irrelevant = irrelevant_inputs(requests);
    const Rivals rivals = rivals_of(*memories, batch);
    irrelevant.insert(irrelevant.end(), rivals.replay.begin(), rivals.replay.end());
    mike::Model& base = memories->base();
    const torch::Tensor mask = state.mask;
    const torch::Tensor tuned = state.current.delta.clone().set_requires_grad(true);
    // Scores of the edits and of the irrelevant inputs under `delta`; the
    // edits' NLL with their rows through it.
    auto forward = [&](const torch::Tensor& delta, torch::Tensor* nll) {
      torch::Tensor edit_scores, irrelevant_scores;
      {
        SideMemories::Route route;
        route.mode = Mode::train;
        route.cursor = mike::memory_routing::cursor_over(base, batch, "wise");
        route.delta = delta;
        route.in_scope = true;
        SideMemories::Scope scope(*memories, std::move(route));
        torch::Tensor loss = base.loss(batch);
        if (nll != nullptr) *nll = loss;
        scope.route().cursor.check_columns(base.token_layout(batch));
        edit_scores = torch::stack(scope.route().scores);
      }
      {
        SideMemories::Route route;
        route.mode = Mode::train;
        route.cursor = mike::memory_routing::cursor_over(base, irrelevant, "wise");
        route.delta = delta;
        SideMemories::Scope scope(*memories, std::move(route));
        base.loss(irrelevant);
        scope.route().cursor.check_columns(base.token_layout(irrelevant));
        irrelevant_scores = torch::stack(scope.route().scores);
      }
      return std::make_pair(edit_scores, irrelevant_scores);
    };

    mike::EditTrainingResult result;
    try {
      mike::FrozenParameters frozen(base);
      mike::AdamObjective objective;
      // L_edit: early stopping watches all of it, as EasyEdit's EarlyStopMeter does.
      objective.loss = [&] {
        torch::Tensor nll;
        const auto [edit_scores, irrelevant_scores] = forward(tuned * mask, &nll);
        torch::Tensor loss = nll + routing_margin_loss(edit_scores, irrelevant_scores, margins_);
        if (outscore_rivals_) loss = loss + rival_margin_loss(edit_scores, rivals.best, margins_.gamma);
        return loss;
      };
      result = mike::minimise_with_adam({tuned}, objective, training_,
                                        [&] { tuned.clamp_(-norm_constraint_, norm_constraint_); });
    } catch (...) {
      edited->restore_original();
      throw;
    }

    torch::NoGradGuard no_grad;
    state.current.delta = (tuned * mask).detach();
    const auto [edit_scores, irrelevant_scores] = forward(state.current.delta, nullptr);
    state.current.min_activation = std::min(state.current.min_activation, edit_scores.min().item<double>());
    state.current.edits += static_cast<int>(requests.size());
    for (const mike::ScoreRequest& prompt : batch) {
      memories->edit_prompts().push_back(prompt);
      state.current.prompts.push_back(memories->edit_prompts().size() - 1);
    }
    state.prompts_recorded = memories->edit_prompts().size();
    const double rival = *std::max_element(rivals.best.begin(), rivals.best.end());
    const double threshold = memories->threshold(state.current);
    const double merged = close_full_shard(state);
    std::map<std::string, double> stats{{"loss_first", result.loss_first},
                                        {"loss_last", result.loss_last},
                                        {"steps", static_cast<double>(result.steps)},
                                        {"activation_edit", edit_scores.min().item<double>()},
                                        {"activation_irrelevant", irrelevant_scores.max().item<double>()},
                                        {"threshold", threshold},
                                        {"memories", static_cast<double>(memories->routable().size())},
                                        {"merged", merged},
                                        {"rival_score", std::isfinite(rival) ? rival : 0.0},
                                        {"replayed", static_cast<double>(rivals.replay.size())}};
    return std::make_unique<WiseModel>(memories, depth, stats);
  }

 private:
  // Editing a WISE-edited model extends its side memories on the same base model.
  std::shared_ptr<SideMemories> chain_of(mike::Model& model) const {
    auto* earlier = dynamic_cast<WiseModel*>(&model);
    if (earlier != nullptr && !earlier->restored() && !earlier->memories()->undo().empty()) {
      const std::shared_ptr<SideMemories>& memories = earlier->memories();
      const mike::EditSite site = mike::edit_site(memories->base(), layer_, "editor wise: layer");
      if (site.output_tap != memories->site().output_tap || memories->act_ratio() != act_ratio_ ||
          memories->retrieval() != retrieval_)
        throw mike::ConfigError("editor wise: this model was edited by WISE at another layer, act_ratio or retrieval; "
                                "one chain keeps one set of side memories");
      return memories;
    }
    return std::make_shared<SideMemories>(model, mike::edit_site(model, layer_, "editor wise: layer"), act_ratio_,
                                          retrieval_);
  }

  // A new shard: a fresh copy of W_v (no difference yet) and its random subspace.
  void start_shard(MemoryState& state, const mike::EditSite& site) const {
    state.current = SideMemory{};
    state.current.delta = torch::zeros({site.output_dim, site.input_dim});
    torch::manual_seed(static_cast<std::uint64_t>(seed_) * 1000003u + static_cast<std::uint64_t>(state.shards_started));
    state.mask = (torch::rand({site.output_dim, site.input_dim}) < mask_ratio_).to(torch::kFloat32);
    state.shards_started += 1;
  }

  // Saves a full current shard as a memory and merges the last
  // shards_per_merge full ones; returns 1 when it merged.
  double close_full_shard(MemoryState& state) const {
    if (state.current.edits < shard_size_) return 0;
    state.saved.push_back(state.current);
    state.current = SideMemory{};
    state.shards_unmerged += 1;
    if (shards_per_merge_ < 2 || state.shards_unmerged < shards_per_merge_) return 0;
    const std::size_t k = static_cast<std::size_t>(shards_per_merge_);
    SideMemory merged;
    merged.shards = 0;
    std::vector<torch::Tensor> deltas;
    for (std::size_t i = state.saved.size() - k; i < state.saved.size(); ++i) {
      const SideMemory& m = state.saved[i];
      deltas.push_back(m.delta);
      merged.min_activation = std::min(merged.min_activation, m.min_activation);
      merged.edits += m.edits;
      merged.shards += m.shards;
      merged.prompts.insert(merged.prompts.end(), m.prompts.begin(), m.prompts.end());
    }
    merged.delta = mike::wise::ties_merge(deltas, merge_density_, merge_weight_);
    state.saved.resize(state.saved.size() - k);
    state.saved.push_back(merged);
    state.shards_unmerged = 0;
    return 1;
  }

  // The saved memories' scores on the edits' rows (measured once: the
  // projection's input at the edit site does not depend on the memory being
  // trained), and the prompts to replay. The current shard is the memory
  // being trained, so it is no rival.
  Rivals rivals_of(SideMemories& memories, const std::vector<mike::ScoreRequest>& batch) const {
    Rivals out;
    out.best.assign(batch.size(), -std::numeric_limits<double>::infinity());
    const std::vector<SideMemory>& saved = memories.state().saved;
    if (saved.empty() || (replay_ == 0 && !outscore_rivals_)) return out;
    std::vector<std::vector<double>> scores;
    {
      torch::NoGradGuard no_grad;
      SideMemories::Route route;
      route.mode = Mode::measure;
      route.cursor = mike::memory_routing::cursor_over(memories.base(), batch, "wise");
      SideMemories::Scope scope(memories, std::move(route));
      memories.base().loss(batch);
      scope.route().cursor.check_columns(memories.base().token_layout(batch));
      scores = scope.route().memory_scores;
    }
    std::vector<std::pair<double, std::size_t>> closest;  // (largest score on any edit, memory)
    for (std::size_t m = 0; m < saved.size(); ++m) {
      double largest = -std::numeric_limits<double>::infinity();
      for (std::size_t r = 0; r < batch.size(); ++r) {
        const double score = scores.at(r).at(m);
        largest = std::max(largest, score);
        if (score > memories.threshold(saved[m])) out.best[r] = std::max(out.best[r], score);
      }
      closest.emplace_back(largest, m);
    }
    const std::size_t replayed = std::min(closest.size(), static_cast<std::size_t>(replay_));
    std::partial_sort(closest.begin(), closest.begin() + static_cast<std::ptrdiff_t>(replayed), closest.end(),
                      [](const auto& a, const auto& b) { return a.first > b.first; });
    for (std::size_t i = 0; i < replayed; ++i)
      for (std::size_t prompt : saved[closest[i].second].prompts) out.replay.push_back(memories.edit_prompts().at(prompt));
    return out;
  }

  // x_i of the margin loss: `per_edit` corpus samples, drawn afresh for each
  // edit (seeded by the seed and the edits' record ids, so a run is
  // reproducible and single edits do not all share one sample).
  std::vector<mike::ScoreRequest> irrelevant_inputs(const std::vector<mike::EditRequest>& requests) {
    if (!corpus_data_) corpus_data_ = corpus_source().open(corpus_, static_cast<std::size_t>(corpus_records_));
    const std::size_t size = corpus_data_->size();
    if (size == 0) throw mike::DataError("editor wise: the corpus at " + corpus_data_->location() + " is empty");
    mike::Fnv1a64 hash;
    hash.add_field(std::to_string(seed_));
    for (const mike::EditRequest& r : requests) hash.add_field(r.id);
    std::mt19937_64 rng(hash.value());
    std::uniform_int_distribution<std::size_t> pick(0, size - 1);
    std::vector<mike::ScoreRequest> out;
    for (int i = 0; i < irrelevant_per_edit_; ++i) out.push_back(corpus_data_->sample(pick(rng)));
    return out;
  }

  int layer_;
  double mask_ratio_, act_ratio_, norm_constraint_;
  int shard_size_, shards_per_merge_;
  double merge_density_, merge_weight_;
  Margins margins_;
  std::string corpus_;
  int irrelevant_per_edit_, corpus_records_;
  int replay_;
  bool outscore_rivals_;
  int seed_;
  mike::wise::Retrieval retrieval_ = mike::wise::Retrieval::score;
  mike::EditTrainingOptions training_;
  std::shared_ptr<const mike::Corpus> corpus_data_;
};

}  // namespace

MIKE_EDITOR_PLUGIN(WiseEditor, "wise", "1.0.0",
                   "WISE: side memories of one MLP projection, trained in random subspaces, merged, and routed by activation",
                   kMikePluginDefaultConfig)
