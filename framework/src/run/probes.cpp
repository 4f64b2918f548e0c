#include "run/probes.h"

#include <algorithm>

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
                                       const std::string& igen, int edited_steps) {
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
  if (task == Task::kCsr) {
    require(!record.csr.empty(), record, "csr scenes", task);
    const data::CsrItem& scene = record.csr[0];
    add("reliability", scene.image, scene.question, scene.answer, scene.answer);
    // CSR's generality and locality are probed in scenes too; a record
    // without CSR's own probes has none rather than the VNA ones.
    if (!scene.rephrase.empty()) add("t_generality", scene.image, scene.rephrase, scene.answer, scene.answer);
    for (std::size_t i = 1; i < record.csr.size(); ++i)
      add("i_generality", record.csr[i].image, record.csr[i].question, record.csr[i].answer, record.csr[i].answer);
    const data::CsrLocality& loc = record.csr_locality;
    if (!loc.loc.empty()) add("t_locality", {}, loc.loc, loc.loc_ans, loc.loc_ans);
    if (!loc.m_loc.empty()) add("m_locality", loc.m_loc, loc.m_loc_q, loc.m_loc_a, loc.m_loc_a);
    return out;
  }

  EditSpec edit = edit_spec(record, task, 0);
  std::vector<std::filesystem::path> generality_images = record.igen.variant(igen);
  if (generality_images.empty() && !record.image_rephrase.empty()) generality_images = {record.image_rephrase};
  // An image some step edits with measures reliability, not generality:
  // datasets whose I-Gen list overlaps the edit images lose those entries.
  std::vector<std::filesystem::path> edited = {record.image};
  for (int s = 1; s < edited_steps && s < static_cast<int>(record.images.size()); ++s)
    edited.push_back(record.images[static_cast<std::size_t>(s)]);
  generality_images.erase(std::remove_if(generality_images.begin(), generality_images.end(),
                                         [&](const std::filesystem::path& image) {
                                           return std::find(edited.begin(), edited.end(), image) != edited.end();
                                         }),
                          generality_images.end());

  add("reliability", edit.image, edit.prompt, edit.target, record.alt);
  if (task == Task::kVna && !record.rephrase.empty())
    add("t_generality", record.image, record.rephrase, record.alt, record.alt);
  if (task == Task::kElc && !record.elc.rephrase.empty())
    add("t_generality", record.image, record.elc.rephrase, edit.target, record.alt);
  for (const auto& image : generality_images) add("i_generality", image, edit.prompt, edit.target, record.alt);
  if (!record.loc.empty()) add("t_locality", {}, record.loc, record.loc_ans, record.loc_ans);
  if (!record.m_loc.empty()) add("m_locality", record.m_loc, record.m_loc_q, record.m_loc_a, record.m_loc_a);
  return out;
}

}  // namespace mike
