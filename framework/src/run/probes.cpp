#include "run/probes.h"

#include "mike/error.h"

namespace mike {

Task parse_task(const std::string& name) {
  if (name == "vna") return Task::kVna;
  if (name == "elc") return Task::kElc;
  if (name == "csr") return Task::kCsr;
  throw ConfigError("task '" + name + "' is not one of vna, elc, csr; set e.g. task=vna");
}

const char* task_name(Task task) {
  switch (task) {
    case Task::kVna: return "vna";
    case Task::kElc: return "elc";
    case Task::kCsr: return "csr";
  }
  return "?";
}

namespace {
void require(bool ok, const data::EditRecord& record, const std::string& field, Task task) {
  if (!ok)
    throw DataError(record.origin + ": record '" + record.id + "' has no " + field + ", which task " +
                    task_name(task) + " needs; pick another task or a dataset with that field");
}
}  // namespace

EditSpec edit_spec(const data::EditRecord& record, Task task, int step) {
  EditSpec spec;
  spec.image = record.image;
  if (step > 0) {
    require(static_cast<int>(record.images.size()) > step, record, "image #" + std::to_string(step + 1) + " in `images`",
            task);
    spec.image = record.images[static_cast<std::size_t>(step)];
  }
  if (task == Task::kElc) {
    require(!record.elc.prompt.empty() && !record.elc.references.empty(), record, "elc prompt and references", task);
    spec.prompt = record.elc.prompt;
    spec.target = record.elc.references.front();
  } else {
    spec.prompt = record.src;
    spec.target = record.alt;
  }
  return spec;
}

std::vector<ProbeSample> probe_samples(const data::EditRecord& record, std::size_t index, Task task,
                                       const std::string& igen) {
  std::vector<ProbeSample> out;
  auto add = [&](const std::string& probe, const std::filesystem::path& image, const std::string& prompt,
                 const std::string& teacher, const std::string& answer) {
    ProbeSample s;
    s.probe = probe;
    s.record = index;
    s.image = image;
    s.prompt = prompt;
    s.teacher_target = teacher;
    s.answer = answer;
    if (task == Task::kElc && !s.is_locality()) s.references = record.elc.references;
    out.push_back(std::move(s));
  };
  EditSpec edit = edit_spec(record, task, 0);
  const auto& igen_images = record.igen.variant(igen);
  std::vector<std::filesystem::path> generality_images = igen_images;
  if (generality_images.empty() && !record.image_rephrase.empty()) generality_images = {record.image_rephrase};

  if (task == Task::kCsr) {
    require(!record.csr.empty(), record, "csr scenes", task);
    add("reliability", record.csr[0].image, record.csr[0].question, record.csr[0].answer, record.csr[0].answer);
    if (!record.rephrase.empty()) add("t_generality", record.image, record.rephrase, record.alt, record.alt);
    for (std::size_t i = 1; i < record.csr.size(); ++i)
      add("i_generality", record.csr[i].image, record.csr[i].question, record.csr[i].answer, record.csr[i].answer);
  } else {
    add("reliability", edit.image, edit.prompt, edit.target, record.alt);
    if (task == Task::kVna && !record.rephrase.empty())
      add("t_generality", record.image, record.rephrase, record.alt, record.alt);
    if (task == Task::kElc && !record.elc.rephrase.empty())
      add("t_generality", record.image, record.elc.rephrase, edit.target, record.alt);
    for (const auto& image : generality_images) add("i_generality", image, edit.prompt, edit.target, record.alt);
  }
  if (!record.loc.empty()) add("t_locality", {}, record.loc, record.loc_ans, record.loc_ans);
  if (!record.m_loc.empty()) add("m_locality", record.m_loc, record.m_loc_q, record.m_loc_a, record.m_loc_a);
  return out;
}

}  // namespace mike
