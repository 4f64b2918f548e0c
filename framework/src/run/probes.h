#pragma once
// What the runner asks the model for each record: the edit request and the
// evaluation probes of a task (DESIGN.md "What the benchmark is").
//
//   probe         vna / csr input                     elc input
//   reliability   edit image + src -> alt             edit image + caption prompt
//                 (csr: scene 1 + its question)
//   t_generality  edit image + rephrase -> alt        edit image + elc.rephrase
//                 (csr: scene 1 + its rephrased question)
//   i_generality  igen.<variant> images + src -> alt  igen images + caption prompt
//                 (csr: the other scenes)
//   t_locality    loc -> loc_ans (text only)          (csr: csr_locality.loc)
//   m_locality    m_loc image + m_loc_q -> m_loc_a    (csr: csr_locality.m_loc, a scene)
#include <array>
#include <filesystem>
#include <string>
#include <vector>

#include "data/dataset.h"

namespace mike {

// Every probe a record can have, in the table's order.
inline constexpr std::array<const char*, 5> kProbeNames = {"reliability", "t_generality", "i_generality",
                                                           "t_locality", "m_locality"};

enum class Task { kVna, kElc, kCsr };
// "vna" | "elc" | "csr"; throws ConfigError listing them.
Task parse_task(const std::string& name);
const char* task_name(Task task);

struct ProbeSample {
  std::string probe;            // reliability, t_generality, i_generality, t_locality, m_locality
  std::size_t record = 0;       // index into the records
  std::filesystem::path image;  // empty for text-only
  std::string prompt;
  std::string teacher_target;   // what score() teacher-forces
  std::string answer;           // what a generation must say (EM / mention)
  std::vector<std::string> references;  // ELC reference captions
  bool is_locality() const { return probe == "t_locality" || probe == "m_locality"; }
};

// The edit request of `record` at multi-step `step` (0 = the edit image).
struct EditSpec {
  std::filesystem::path image;
  std::string prompt;
  std::string target;
};
EditSpec edit_spec(const data::EditRecord& record, Task task, int step);

// Every probe sample of one record, in the table's order. `igen` picks the
// I-Generality image variant ("augmented" | "other_view" | "scene").
// `edited_steps` is how many of the record's images the protocol edits with
// (multi_step: its steps; otherwise 1): none of them is an I-Gen image.
std::vector<ProbeSample> probe_samples(const data::EditRecord& record, std::size_t index, Task task,
                                       const std::string& igen, int edited_steps = 1);

}  // namespace mike
