// Shared locate-then-edit config keys (see settings.h).
#include "settings.h"

#include "mike/error.h"

namespace mike::locate_edit {

std::string config_key_where(const Config& config, const std::string& key) {
  const std::string origin = config.origin(key);
  return (config.path().empty() ? key : config.path() + "." + key) + (origin.empty() ? "" : " (" + origin + ")");
}

Settings read_settings(const Config& config, const SettingsRules& rules) {
  Settings o;
  auto where = [&](const std::string& key) { return config_key_where(config, key); };
  o.layers = config.get<std::vector<int>>("layers");
  if (o.layers.empty()) throw ConfigError(where("layers") + " is empty; name the LM layer(s) to edit, e.g. [1]");
  if (rules.single_layer && o.layers.size() != 1)
    throw ConfigError(where("layers") + " must name exactly one layer (" + rules.editor +
                      " is a rank-one edit of one layer); use memit for several");
  for (std::size_t i = 0; i < o.layers.size(); ++i) {
    if (o.layers[i] < 0) throw ConfigError(where("layers") + " has a negative layer index");
    if (i > 0 && o.layers[i] <= o.layers[i - 1])
      throw ConfigError(where("layers") + " must be strictly increasing (the residual is spread bottom-up)");
  }
  o.context_templates = config.get<std::vector<std::string>>("context_templates");
  if (o.context_templates.empty())
    throw ConfigError(where("context_templates") + " is empty; use at least [\"{}\"]");
  for (const std::string& t : o.context_templates)
    if (t.find("{}") == std::string::npos)
      throw ConfigError(where("context_templates") + ": '" + t + "' has no {} marking where the edit prompt goes");

  const std::string key_position = config.get_or<std::string>("key_position", "last_image_token");
  try {
    o.key_position = parse_key_position(key_position);
  } catch (const ConfigError&) {
    throw ConfigError(where("key_position") + ": '" + key_position + "' is not known; use " + kKeyPositionChoices);
  }
  if (!rules.allows_answer_tokens && o.key_position == KeyPosition::kAnswerTokens)
    throw ConfigError(where("key_position") + ": answer_tokens gives one key per answer token, but " + rules.editor +
                      " writes one key (a rank-one update); use memit or alphaedit for answer_tokens");

  const Config value = config.sub("value");
  o.value.steps = value.get<int>("steps");
  o.value.lr = value.get<double>("lr");
  o.value.preserve_factor = value.get<double>("preserve_factor");
  o.value.weight_decay = value.get<double>("weight_decay");
  o.value.clamp_norm_factor = value.get<double>("clamp_norm_factor");
  o.value.stop_loss = value.get<double>("stop_loss");
  o.value.preserve_prompt = value.get_or<std::string>("preserve_prompt", "");
  o.value.preserve_tokens = value.get_or<int>("preserve_tokens", 4);
  o.value.batch_edits = value.get_or<int>("batch_edits", 8);
  if (o.value.batch_edits < 1 || o.value.batch_edits > 1024)
    throw ConfigError(where("value.batch_edits") + " must be in [1, 1024] (edits whose value shifts are optimised "
                      "together; 1 = one at a time), got " + std::to_string(o.value.batch_edits));
  if (o.value.preserve_tokens < 1) throw ConfigError(where("value.preserve_tokens") + " must be >= 1");
  if (o.value.steps < 1) throw ConfigError(where("value.steps") + " must be >= 1");
  if (o.value.lr <= 0) throw ConfigError(where("value.lr") + " must be > 0");
  if (o.value.clamp_norm_factor <= 0) throw ConfigError(where("value.clamp_norm_factor") + " must be > 0");

  const Config stats = config.sub("stats");
  o.stats.corpus = stats.get<std::string>("corpus");
  o.stats.cache_dir = stats.get_or<std::string>("cache_dir", "");
  o.stats.max_records = stats.get<int>("max_records");
  o.stats.ridge = stats.get<double>("ridge");
  if (o.stats.max_records < 0) throw ConfigError(where("stats.max_records") + " must be >= 0 (0 = all)");
  if (o.stats.ridge < 0) throw ConfigError(where("stats.ridge") + " must be >= 0");
  return o;
}

}  // namespace mike::locate_edit
