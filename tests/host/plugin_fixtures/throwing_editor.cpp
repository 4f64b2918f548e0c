// Fixture editor "throws": throws from its factory (default) or from edit(),
// to test that every exception is caught at the plugin boundary and reported
// with the plugin's name and one exit code. Config:
//   throw: runtime_error | config_error | mike_error | model_error | bad_alloc | int
//   where: factory | edit
#include <new>
#include <stdexcept>
#include <string>

#include "mike/editor.h"
#include "mike/error.h"
#include "mike/plugin.h"

namespace {

[[noreturn]] void throw_kind(const std::string& kind) {
  if (kind == "config_error") throw mike::ConfigError("fixture config error inside the plugin");
  if (kind == "mike_error") throw mike::Error("fixture mike::Error inside the plugin");
  if (kind == "model_error") throw mike::ModelError("fixture model error inside the plugin");
  if (kind == "bad_alloc") throw std::bad_alloc();
  if (kind == "int") throw 42;
  throw std::runtime_error("fixture failure inside the plugin");
}

class ThrowingEditor : public mike::Editor {
 public:
  explicit ThrowingEditor(const mike::Config& config)
      : kind_(config.get_or<std::string>("throw", "runtime_error")),
        in_edit_(config.get_or<std::string>("where", "factory") == "edit") {
    if (!in_edit_) throw_kind(kind_);
  }
  std::unique_ptr<mike::EditedModel> edit(mike::Model&, const std::vector<mike::EditRequest>&) override {
    throw_kind(kind_);
  }

 private:
  std::string kind_;
  bool in_edit_;
};

}  // namespace

MIKE_EDITOR_PLUGIN(ThrowingEditor, "throws", "0.0.1", "Throws from its factory or edit() (host test fixture)",
                   "throw: runtime_error\nwhere: factory\n")
