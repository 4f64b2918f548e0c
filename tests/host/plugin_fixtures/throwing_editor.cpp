// Fixture editor "throws": its constructor throws, to test that exceptions
// are caught at the plugin boundary and reported with the plugin's name.
#include <stdexcept>

#include "mike/editor.h"
#include "mike/plugin.h"

namespace {
class ThrowingEditor : public mike::Editor {
 public:
  explicit ThrowingEditor(const mike::Config&) { throw std::runtime_error("fixture failure inside the plugin"); }
  std::unique_ptr<mike::EditedModel> edit(mike::Model&, const std::vector<mike::EditRequest>&) override {
    return nullptr;
  }
};
}  // namespace

MIKE_EDITOR_PLUGIN(ThrowingEditor, "throws", "0.0.1", "Throws from its factory (host test fixture)", "")
