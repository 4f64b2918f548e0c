// Fixture editor "crash": segfaults inside edit(), to prove that a crashing
// plugin in a worker subprocess cannot take a whole sweep down.
#include <csignal>

#include "mike/editor.h"
#include "mike/plugin.h"

namespace {
class CrashEditor : public mike::Editor {
 public:
  explicit CrashEditor(const mike::Config&) {}
  std::unique_ptr<mike::EditedModel> edit(mike::Model&, const std::vector<mike::EditRequest>&) override {
    std::raise(SIGSEGV);
    return nullptr;
  }
};
}  // namespace

MIKE_EDITOR_PLUGIN(CrashEditor, "crash", "0.0.1", "Segfaults in edit() (test fixture)", "")
