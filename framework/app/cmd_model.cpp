// `mike model score|generate|describe [overrides...]` — a user's smoke test of
// any model plugin: the composed config's model, one prompt (and image), its
// token ids, and the log-probability of each target token or the greedy
// continuation. Parity tests compare these numbers with reference code.
#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include <cmath>
#include <cstdio>
#include <iostream>

#include "commands.h"
#include "config/composer.h"
#include "data/image_tensor.h"
#include "mike/error.h"
#include "mike/model.h"
#include "plugins/call_plugin.h"
#include "plugins/plugin_registry.h"
#include "pretrain/pretrainer.h"
#include "system/build_info.h"

namespace po = boost::program_options;

namespace mike::cli {

namespace {

std::string join_ids(const std::vector<std::int64_t>& ids) {
  std::string out;
  for (std::int64_t id : ids) out += (out.empty() ? "" : " ") + std::to_string(id);
  return out;
}

// Log-probabilities as JSON numbers: finite doubles round-trip at full
// precision; -inf (a token the model gives probability 0) as null.
nlohmann::json log_probs_json(const std::vector<double>& values) {
  nlohmann::json out = nlohmann::json::array();
  for (double v : values) out.push_back(std::isfinite(v) ? nlohmann::json(v) : nlohmann::json(nullptr));
  return out;
}

}  // namespace

int cmd_model(const std::vector<std::string>& args, CommonOptions& common) {
  po::options_description desc(
      "mike model score|generate|describe [options] [overrides...]\n"
      "  e.g. mike model score model=llava_hf model.path=DIR --prompt 'What is this?' --image bird.png --target Zorvel\n"
      "       mike model generate model=llava_xs --prompt 'What is the name of this?' --image data/synth/images/x.png\n"
      "score prints the prompt and target token ids and each target token's log-probability (natural log,\n"
      "teacher forcing); generate prints the greedy continuation; describe prints the architecture.");
  std::vector<std::string> config_dirs;
  std::string config_name = "config", prompt, image, target;
  int max_new_tokens = 16;
  desc.add_options()("help,h", "show help")                                                               //
      ("config-dir", po::value(&config_dirs)->composing(), kConfigDirHelp)                                //
      ("config-name", po::value(&config_name)->default_value("config"), "primary config file")             //
      ("prompt", po::value(&prompt), "the prompt (\"<image>\" marks where the image goes; default: first)")  //
      ("image", po::value(&image), "an image file (PNG, JPEG, ...) fed with the prompt")                   //
      ("target", po::value(&target), "score: the continuation to score under teacher forcing")             //
      ("max-new-tokens", po::value(&max_new_tokens)->default_value(16), "generate: greedy token budget")   //
      ("raw", "feed the prompt exactly as given (BOS + prompt, no conversation template)")                 //
      ("json", "print one JSON object instead of text")                                                     //
      ("action", po::value<std::string>(), "score | generate | describe")                                  //
      ("overrides", po::value<std::vector<std::string>>()->multitoken(), "key=value overrides");
  po::positional_options_description positional;
  positional.add("action", 1).add("overrides", -1);
  po::variables_map vm = parse_command("model", args, desc, positional, common);
  if (vm.count("help") || !vm.count("action")) {
    std::cout << desc << "\n";
    return vm.count("help") ? 0 : 2;
  }
  const std::string action = vm["action"].as<std::string>();
  if (action != "score" && action != "generate" && action != "describe")
    throw UsageError("mike model: unknown action '" + action + "'; use score, generate or describe");
  const bool json_out = vm.count("json") > 0;
  if (action != "describe") {
    if (!vm.count("prompt")) throw UsageError("mike model " + action + ": --prompt TEXT is required");
    if (action == "score" && (!vm.count("target") || target.empty()))
      throw UsageError("mike model score: --target TEXT is required (the continuation whose tokens are scored)");
    if (action == "generate" && (max_new_tokens < 1 || max_new_tokens > 4096))
      throw UsageError("mike model generate: --max-new-tokens is " + std::to_string(max_new_tokens) +
                       "; give 1 .. 4096");
  }

  PluginRegistry registry;
  registry.discover(PluginRegistry::default_search_path(common.plugin_paths));
  std::vector<std::string> overrides;
  if (vm.count("overrides")) overrides = vm["overrides"].as<std::vector<std::string>>();
  const Config config = compose_config(compose_request(config_search_path(config_dirs), config_name, overrides, registry)).config;
  configure_threads(config);
  const std::string model_name = config.sub("model").get<std::string>("plugin");
  registry.require("model", model_name);
  const Config model_config = model_config_for_run(config, common.plugin_paths);
  const std::string label = "model '" + model_name + "'";
  auto model = registry.create_model(model_name, model_config);
  settle_threads(config, parameter_count(*model));

  if (action == "describe") {
    const std::string text = call_plugin(label, [&] { return model->describe(); });
    if (json_out) std::cout << nlohmann::json({{"model", model_name}, {"describe", text}}).dump(2) << "\n";
    else std::cout << text;
    return 0;
  }

  ModelInput input;
  input.prompt = prompt;
  input.raw = vm.count("raw") > 0;
  if (vm.count("image")) input.image = data::load_image_tensor(image);

  if (action == "score") {
    ScoreRequest request;
    request.input = input;
    request.target = target;
    const ScoreResult result = call_plugin(label, [&] { return model->score({request}); }).at(0);
    if (result.target_token_log_probs.size() != result.target_tokens.size())
      throw PluginError(label + " returned " + std::to_string(result.target_token_log_probs.size()) +
                        " log-probabilities for " + std::to_string(result.target_tokens.size()) +
                        " target tokens; it does not fill ScoreResult::target_token_log_probs (SDK ABI 5)");
    if (json_out) {
      nlohmann::json out = {{"model", model_name},
                            {"prompt_ids", result.prompt_tokens},
                            {"target_ids", result.target_tokens},
                            {"target_logprobs", log_probs_json(result.target_token_log_probs)},
                            {"predicted_ids", result.predicted_tokens}};
      std::cout << out.dump() << "\n";
      return 0;
    }
    double total = 0.0;
    for (double v : result.target_token_log_probs) total += v;
    std::printf("prompt ids (%zu): %s\n", result.prompt_tokens.size(), join_ids(result.prompt_tokens).c_str());
    std::printf("target ids (%zu): %s\n", result.target_tokens.size(), join_ids(result.target_tokens).c_str());
    std::printf("%-6s %-10s %-14s %s\n", "pos", "token", "log-prob", "argmax");
    for (std::size_t i = 0; i < result.target_tokens.size(); ++i)
      std::printf("%-6zu %-10lld %-14.6f %lld\n", i, static_cast<long long>(result.target_tokens[i]),
                  result.target_token_log_probs[i], static_cast<long long>(result.predicted_tokens.at(i)));
    std::printf("sum log-prob %.6f  mean NLL %.6f  token accuracy %.3f\n", total, result.loss, result.token_accuracy);
    return 0;
  }

  GenerateOptions options;
  options.max_new_tokens = max_new_tokens;
  const Generation generation = call_plugin(label, [&] { return model->generate_tokens({input}, options); }).at(0);
  if (json_out) {
    std::cout << nlohmann::json({{"model", model_name},
                                 {"prompt_ids", generation.prompt_tokens},
                                 {"generate_ids", generation.tokens},
                                 {"generate_text", generation.text}})
                     .dump()
              << "\n";
    return 0;
  }
  std::printf("prompt ids (%zu): %s\n", generation.prompt_tokens.size(), join_ids(generation.prompt_tokens).c_str());
  std::printf("generated ids (%zu): %s\n", generation.tokens.size(), join_ids(generation.tokens).c_str());
  std::printf("text: %s\n", generation.text.c_str());
  return 0;
}

}  // namespace mike::cli
