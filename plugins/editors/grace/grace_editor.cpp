// grace: GRACE (Hartvigsen et al. 2023, "Aging with GRACE: Lifelong Model
// Editing with Discrete Key-Value Adaptors") as an editor. One LM block's MLP
// output projection (the model's edit site) gets a codebook of keys, values
// and deferral radii: the paper's GRACE layer. Equation numbers are not cited;
// the rules follow the reference code (Thartvigsen/GRACE,
// grace/editors/grace.py, GRACEAdapter; EasyEdit's easyeditor/models/grace/
// GRACE.py is the same adaptor). A key is the projection's input at the
// edit's last prompt token (the reference's key_id = prompt length - 1); its
// value, cold-initialised uniform [0, 1) and trained with Adam on the edit's
// NLL (n_iter steps at edit_lr), replaces the projection's output. At
// inference each row's query (the same input at its own last prompt token)
// goes to the nearest key (Euclidean, in float32 as EasyEdit's
// cdist_float32); within that key's radius the output is the key's value,
// otherwise the block runs untouched.
//
// Codebook maintenance (GRACEAdapter.forward at an edit's first iteration),
// with d the distance from the new key to the nearest key k:
//   d > eps_init + eps[k]              -> add a key with radius eps_init;
//   else, a different target           -> add a key and split:
//                                         eps[k] = d/2 - 1e-5, new key d/2;
//   else (same target) and d > eps[k]  -> expand: eps[k] = d ("coverage");
//   else (same target, covered)        -> no new key; k's value retrains.
// Targets match when the target strings are equal (the reference compares
// label tokens). In every case but add, k's value is the one trained.
//
// Where a routed row gets the value (`replacement`), the same in training
// and at inference so a scored target and greedy decoding agree: `all` is
// the reference's replace_all (every position of the row: prompt, target and
// generated tokens, decided once by the query at the last prompt token);
// `last` is EasyEdit's replace_last (the last prompt token only). Routing
// runs only inside calls of the edited model (score, loss, target_log_probs,
// generate); the base model called directly is unedited. No weights change.
//
// Sequential editing: an edit of a GRACE-edited model extends the same
// codebook on the same base model (one codebook, one pair of taps, however
// long the chain). Each edit keeps an undo record (codebook size before, the
// old entries it changed); restore_original() undoes exactly that edit and,
// once the chain's first edit is restored, removes the taps. Restores must
// run newest first, as the runner does. Every model of a chain routes with
// the codebook as the newest live edit left it.
#include <torch/torch.h>

#include <algorithm>
#include <optional>

#include "mike/edit_training.h"
#include "mike/editor.h"
#include "mike/error.h"
#include "mike/plugin.h"
#include "edit_chain.h"
#include "mike_plugin_default_config.h"
#include "routed_model.h"
#include "row_cursor.h"

namespace {

using mike::memory_routing::RowCursor;
using mike::memory_routing::RowSpan;

constexpr double kSplitMargin = 1e-5;  // the reference's split: eps[k] = d/2 - 1e-5

struct Entry {
  torch::Tensor key;    // [input_dim], float32
  torch::Tensor value;  // [output_dim], float32
  double eps = 0.0;
  std::string target;
};

// One edit's changes to the codebook, for its restore.
struct Undo {
  std::size_t size_before = 0;
  std::vector<std::pair<std::size_t, Entry>> changed;  // index, entry before the edit
};

// What the taps do in the current call.
enum class Mode { off, capture, train, infer };

// The codebook of one chain and the taps that route through it.
class Codebook {
 public:
  Codebook(mike::Model& base, mike::EditSite site, bool replace_all)
      : base_(base), site_(std::move(site)), replace_all_(replace_all), undo_("grace") {
    handles_.push_back(base_.add_tap(site_.input_tap, [this](const std::string&, const torch::Tensor& x) {
      if (mode_ != Mode::off) input_ = x;
      return x;
    }));
    handles_.push_back(base_.add_tap(site_.output_tap, [this](const std::string&, const torch::Tensor& y) {
      return on_output(y);
    }));
  }
  Codebook(const Codebook&) = delete;
  Codebook& operator=(const Codebook&) = delete;

  mike::Model& base() const { return base_; }
  const mike::EditSite& site() const { return site_; }
  bool replace_all() const { return replace_all_; }
  std::vector<Entry>& entries() { return entries_; }
  mike::memory_routing::EditChain<Undo>& undo() { return undo_; }
  void changed() { stacked_ = false; }
  void remove_taps() { handles_.clear(); }

  // What the next forwards do, and which of their rows are which requests.
  struct Route {
    Mode mode = Mode::off;
    RowCursor cursor;
    std::vector<std::int64_t> slot;      // train: the row's value in `trained`
    torch::Tensor trained;               // train: [slots, output_dim]
    std::int64_t decided = -1;           // generate: the key the prompt routed to (-1: none)
    std::vector<torch::Tensor> captured; // capture: the queries, [input_dim] each
  };

  // Sets `route` for the scope of one call, then turns routing off.
  class Scope {
   public:
    Scope(Codebook& book, Route route) : book_(book) {
      book_.route_ = std::move(route);
      book_.mode_ = book_.route_.mode;
    }
    ~Scope() {
      book_.mode_ = Mode::off;
      book_.input_ = torch::Tensor();
    }
    Scope(const Scope&) = delete;
    Scope& operator=(const Scope&) = delete;
    Route& route() { return book_.route_; }
    const Route& route() const { return book_.route_; }

   private:
    Codebook& book_;
  };

  // Distance from `query` [input_dim] to the nearest key, and its index; none when empty.
  std::optional<std::pair<double, std::size_t>> nearest(const torch::Tensor& query) {
    if (entries_.empty()) return std::nullopt;
    stack();
    const torch::Tensor d = torch::cdist(query.to(torch::kFloat32).view({1, -1}), keys_).view({-1});
    const auto [value, index] = d.min(0);
    return std::make_pair(value.item<double>(), static_cast<std::size_t>(index.item<std::int64_t>()));
  }

 private:
  void stack() {
    if (stacked_) return;
    std::vector<torch::Tensor> keys, values;
    std::vector<double> eps;
    for (const Entry& e : entries_) {
      keys.push_back(e.key);
      values.push_back(e.value);
      eps.push_back(e.eps);
    }
    keys_ = torch::stack(keys);
    values_ = torch::stack(values);
    eps_ = torch::tensor(eps, torch::TensorOptions().dtype(torch::kFloat64)).to(keys_.device());
    stacked_ = true;
  }

  // `values` [n, output_dim] into rows `rows` of y: at `columns` (replace
  // last) or at every column of the row (replace all).
  torch::Tensor replaced(const torch::Tensor& y, const torch::Tensor& rows, const torch::Tensor& columns,
                         const torch::Tensor& values) const {
    const torch::Tensor v = values.to(y.dtype());
    if (replace_all_) return y.index_put({rows}, v.unsqueeze(1).expand({v.size(0), y.size(1), v.size(1)}));
    return y.index_put({rows, columns}, v);
  }

  torch::Tensor on_output(const torch::Tensor& y) {
    if (mode_ == Mode::off) return y;
    if (!input_.defined() || input_.dim() != 3 || y.dim() != 3 || input_.size(0) != y.size(0) ||
        input_.size(1) != y.size(1))
      throw mike::ModelError("editor grace: the taps '" + site_.input_tap + "' and '" + site_.output_tap +
                             "' must give [batch, tokens, dim] activations of one forward");
    const auto long_options = torch::TensorOptions().dtype(torch::kInt64).device(y.device());
    const std::optional<std::vector<RowSpan>> spans = route_.cursor.take(y, site_.output_tap);
    if (!spans) {
      // A decoding step after the prompt: replace all keeps the prompt's
      // routing for every generated token; replace last leaves it.
      if (!replace_all_ || route_.decided < 0) return y;
      const torch::Tensor zero = torch::zeros({1}, long_options);
      return replaced(y, zero, zero, values_.index_select(0, torch::full({1}, route_.decided, long_options)));
    }
    std::vector<std::int64_t> columns, row_index, slots;
    for (const RowSpan& span : *spans) {
      columns.push_back(span.last_prompt());
      row_index.push_back(span.row);
      if (mode_ == Mode::train) slots.push_back(route_.slot.at(span.request));
    }
    const torch::Tensor row_t = torch::tensor(row_index, long_options), col_t = torch::tensor(columns, long_options);
    const torch::Tensor queries = input_.index({row_t, col_t}).detach().to(torch::kFloat32);  // [rows, input_dim]
    if (mode_ == Mode::capture) {
      for (std::int64_t r = 0; r < queries.size(0); ++r) route_.captured.push_back(queries[r].clone());
      return y;
    }
    if (mode_ == Mode::train)
      return replaced(y, row_t, col_t, route_.trained.index_select(0, torch::tensor(slots, long_options)));
    // Inference: the nearest key's value where the query is within its radius.
    route_.decided = -1;
    if (entries_.empty()) return y;
    stack();
    const torch::Tensor d = torch::cdist(queries, keys_);  // [rows, keys]
    const auto [smallest, index] = d.min(1);
    const torch::Tensor hit = smallest.to(torch::kFloat64) <= eps_.index_select(0, index);
    if (!hit.any().item<bool>()) return y;
    if (route_.cursor.generating()) route_.decided = index[0].item<std::int64_t>();
    const torch::Tensor hit_rows = hit.nonzero().view({-1});
    return replaced(y, row_t.index_select(0, hit_rows), col_t.index_select(0, hit_rows),
                    values_.index_select(0, index.index_select(0, hit_rows)));
  }

  mike::Model& base_;
  mike::EditSite site_;
  bool replace_all_;  // replacement: all (every column of a routed row) or last (its last prompt token)
  std::vector<Entry> entries_;
  mike::memory_routing::EditChain<Undo> undo_;
  bool stacked_ = false;
  torch::Tensor keys_, values_, eps_;  // entries_ stacked (when stacked_)
  Mode mode_ = Mode::off;
  Route route_;
  torch::Tensor input_;  // the projection's input in the current forward
  std::vector<mike::TapHandle> handles_;  // last: removed first when the codebook goes
};

// The model of one GRACE edit (or the newest of a chain).
class GraceModel : public mike::memory_routing::RoutedModel {
 public:
  GraceModel(std::shared_ptr<Codebook> book, std::size_t depth, std::map<std::string, double> stats)
      : RoutedModel(book->base(), "grace"), book_(std::move(book)), depth_(depth), stats_(std::move(stats)) {}

  const std::shared_ptr<Codebook>& codebook() const { return book_; }
  bool restored() const { return restored_; }

  void restore_original() override {
    if (restored_) return;
    Undo record = book_->undo().pop(depth_);
    std::vector<Entry>& entries = book_->entries();
    entries.resize(record.size_before);
    for (auto it = record.changed.rbegin(); it != record.changed.rend(); ++it) entries[it->first] = it->second;
    book_->changed();
    if (book_->undo().empty()) book_->remove_taps();
    restored_ = true;
  }
  std::map<std::string, double> stats() const override { return stats_; }

  Codebook::Route route_for(const std::vector<mike::ScoreRequest>& batch, Mode mode) {
    Codebook::Route route;
    route.mode = mode;
    route.cursor = cursor_for(batch);
    return route;
  }

 private:
  std::unique_ptr<RoutedModel::Routing> open_routing(RowCursor cursor) override {
    return mike::memory_routing::inference_routing(*book_, std::move(cursor), Mode::infer);
  }
  bool routing() const override { return !restored_; }

  std::shared_ptr<Codebook> book_;
  std::size_t depth_;  // index of this edit in the chain
  std::map<std::string, double> stats_;
  bool restored_ = false;
};

class GraceEditor : public mike::Editor {
 public:
  explicit GraceEditor(const mike::Config& config)
      : layer_(config.get<int>("layer")),
        eps_init_(config.get<double>("eps_init")),
        replacement_(config.get<std::string>("replacement")),
        seed_(config.get<int>("seed")) {
    if (replacement_ != "last" && replacement_ != "all")
      throw mike::ConfigError("editor grace: `replacement` is '" + replacement_ + "'; use last or all");
    replace_all_ = replacement_ == "all";
    training_.lr = config.get<double>("lr");
    training_.steps = config.get<int>("steps");
    training_.early_stop_loss = config.get<double>("early_stop_loss");
    if (layer_ < 0) throw mike::ConfigError("editor grace: `layer` must be >= 0 (an LM block index)");
    if (!(eps_init_ > 0)) throw mike::ConfigError("editor grace: `eps_init` must be > 0");
    if (training_.steps < 1) throw mike::ConfigError("editor grace: `steps` must be >= 1");
    if (!(training_.lr > 0)) throw mike::ConfigError("editor grace: `lr` must be > 0");
  }

  bool supports_batch() const override { return true; }

  std::unique_ptr<mike::EditedModel> edit(mike::Model& model, const std::vector<mike::EditRequest>& requests) override {
    if (requests.empty()) throw mike::Error("editor grace: edit() called with no requests");
    // Editing a GRACE-edited model: extend its codebook on the same base model.
    std::shared_ptr<Codebook> book;
    auto* earlier = dynamic_cast<GraceModel*>(&model);
    if (earlier != nullptr && !earlier->restored()) {
      book = earlier->codebook();
      const mike::EditSite site = mike::edit_site(book->base(), layer_, "editor grace: layer");
      if (site.output_tap != book->site().output_tap || book->replace_all() != replace_all_)
        throw mike::ConfigError(
            "editor grace: this model was edited by GRACE at another layer or replacement; one chain keeps one codebook");
      if (book->undo().empty()) book.reset();
    }
    if (!book)
      book = std::make_shared<Codebook>(model, mike::edit_site(model, layer_, "editor grace: layer"), replace_all_);
    const std::size_t depth = book->undo().live();
    // The keys: the projection's input at each edit's last prompt token.
    const std::vector<mike::ScoreRequest> batch = mike::edit_training_batch(requests);
    const std::vector<torch::Tensor> keys = capture_keys(*book, batch);

    // Codebook maintenance, request by request (an earlier request of the
    // batch is already in the codebook when a later one arrives).
    Undo undo;
    undo.size_before = book->entries().size();
    std::vector<std::size_t> key_of_row;
    double added = 0, expanded = 0, split = 0, distance = -1, radius_nearest = -1;
    torch::manual_seed(static_cast<std::uint64_t>(seed_));
    const mike::EditSite& site = book->site();
    auto remember = [&](std::size_t index) {
      for (const auto& [i, entry] : undo.changed)
        if (i == index) return;
      if (index < undo.size_before) undo.changed.emplace_back(index, book->entries()[index]);
    };
    auto add = [&](const torch::Tensor& key, const std::string& target) {
      // The reference's cold value: uniform [0, 1).
      book->entries().push_back({key, torch::rand({site.output_dim}, key.options()), eps_init_, target});
      book->changed();
      added += 1;
      return book->entries().size() - 1;
    };
    for (std::size_t r = 0; r < requests.size(); ++r) {
      const std::optional<std::pair<double, std::size_t>> near = book->nearest(keys[r]);
      if (!near) {
        key_of_row.push_back(add(keys[r], requests[r].target));
        continue;
      }
      const auto [d, k] = *near;
      distance = d;
      std::vector<Entry>& entries = book->entries();
      if (d > eps_init_ + entries[k].eps) {
        key_of_row.push_back(add(keys[r], requests[r].target));
      } else if (entries[k].target != requests[r].target) {
        remember(k);
        const std::size_t fresh = add(keys[r], requests[r].target);
        book->entries()[k].eps = d / 2 - kSplitMargin;
        book->entries()[fresh].eps = d / 2;
        radius_nearest = book->entries()[k].eps;
        split += 1;
        key_of_row.push_back(fresh);
      } else {
        remember(k);  // its value retrains on this edit
        if (d > entries[k].eps) {
          entries[k].eps = d;  // "coverage"
          expanded += 1;
        }
        book->changed();
        key_of_row.push_back(k);
      }
    }

    // Train the values of the keys this edit routes to.
    std::vector<std::size_t> trained_keys;
    std::vector<std::int64_t> slot;
    for (std::size_t k : key_of_row) {
      auto at = std::find(trained_keys.begin(), trained_keys.end(), k);
      if (at == trained_keys.end()) {
        trained_keys.push_back(k);
        at = trained_keys.end() - 1;
      }
      slot.push_back(at - trained_keys.begin());
    }
    std::vector<torch::Tensor> initial;
    for (std::size_t k : trained_keys) initial.push_back(book->entries()[k].value);
    const torch::Tensor values = torch::stack(initial).clone().set_requires_grad(true);
    auto edited = std::make_unique<GraceModel>(book, depth, std::map<std::string, double>{});
    book->undo().push(undo);
    mike::EditTrainingResult result;
    try {
      mike::FrozenParameters frozen(book->base());
      mike::AdamObjective objective;
      objective.loss = [&] {
        Codebook::Route route = edited->route_for(batch, Mode::train);
        route.slot = slot;
        route.trained = values;
        Codebook::Scope scope(*book, std::move(route));
        return book->base().loss(batch);
      };
      result = mike::minimise_with_adam({values}, objective, training_);
    } catch (...) {
      edited->restore_original();
      throw;
    }
    {
      torch::NoGradGuard no_grad;
      for (std::size_t s = 0; s < trained_keys.size(); ++s)
        book->entries()[trained_keys[s]].value = values[static_cast<std::int64_t>(s)].detach().clone();
      book->changed();
    }
    std::map<std::string, double> stats{{"loss_first", result.loss_first},
                                        {"loss_last", result.loss_last},
                                        {"steps", static_cast<double>(result.steps)},
                                        {"codebook_size", static_cast<double>(book->entries().size())},
                                        {"added", added},
                                        {"expanded", expanded},
                                        {"split", split},
                                        {"distance", distance},
                                        {"radius", book->entries()[key_of_row.back()].eps}};
    if (radius_nearest >= 0) stats["radius_nearest"] = radius_nearest;
    return std::make_unique<GraceModel>(book, depth, stats);
  }

 private:
  static std::vector<torch::Tensor> capture_keys(Codebook& book, const std::vector<mike::ScoreRequest>& batch) {
    Codebook::Route route;
    route.mode = Mode::capture;
    route.cursor = mike::memory_routing::cursor_over(book.base(), batch, "grace");
    Codebook::Scope scope(book, std::move(route));
    const std::vector<mike::ScoreResult> results = book.base().score(batch);
    std::vector<mike::TokenLayout> layouts;
    for (const mike::ScoreResult& r : results) layouts.push_back(r.layout);
    scope.route().cursor.check_columns(layouts);
    return scope.route().captured;
  }

  int layer_;
  double eps_init_;
  std::string replacement_;
  bool replace_all_ = false;
  int seed_;
  mike::EditTrainingOptions training_;
};

}  // namespace

MIKE_EDITOR_PLUGIN(GraceEditor, "grace", "1.0.0",
                   "GRACE: a codebook of keys, values and deferral radii replacing one MLP projection's output",
                   kMikePluginDefaultConfig)
