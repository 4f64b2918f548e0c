// run.h5: layout, incremental units, resume cut-back, survival of kill -9,
// and reading it from Python with h5py as a user would.
#include <doctest/doctest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>

#include "log/run_log.h"
#include "mike/error.h"
#include "process.h"

using namespace mike;

namespace {
void write_unit(RunLog& log, std::int64_t edit, bool commit = true) {
  log.append_metric("reliability.token_acc", {edit, 1, "rec" + std::to_string(edit), 0.0, 1.0 - 0.1 * edit});
  std::vector<float> delta(6);
  for (int i = 0; i < 6; ++i) delta[i] = static_cast<float>(edit * 10 + i);
  log.append_weight_delta("lm.layers.1.mlp.down_proj.weight", edit, {2, 3}, delta.data());
  std::vector<float> act = {1.0f * edit, 2.0f, 3.0f, 4.0f};
  log.append_activations("lm.layers.1.mlp.down_proj.in", edit, 0, {7, 8}, 2, act.data());
  const std::string id = "rec" + std::to_string(edit);
  log.append_generations("i_generality", {{edit, 1, id, 2, "images/e" + std::to_string(edit) + "_v1.png", "Name this.",
                                           "Varnel Finch", "", "a small finch", "Varnel Finch #" + std::to_string(edit)},
                                          {edit, 1, id, 3, "images/e_v2.png", "Name this.", "Varnel Finch",
                                           "A finch.\nA red bird.", "", "Varnel Finch"}});
  if (commit) {
    EditRow row{"rec" + std::to_string(edit), "ent" + std::to_string(edit), 0, "Varnel Finch", 0.25, {{"loss", 0.5}}};
    if (edit == 1) row.stats["steps"] = 12;  // a statistic that appears late gets a NaN-filled column
    log.commit_edit(row);
  }
}
}  // namespace

TEST_CASE("run.h5 holds attributes, edits, metrics, weights and activations readable by h5py") {
  std::string dir = test::make_temp_dir("run_log");
  std::string file = dir + "/run.h5";
  {
    auto log = RunLog::create(file);
    log->set_attribute("status", "running");
    log->set_attribute("config", "editor:\n  lr: 0.001\n");
    for (int e = 0; e < 3; ++e) write_unit(*log, e);
    log->set_attribute("status", "done");
    CHECK(log->edit_count() == 3);
    CHECK(log->attribute("status") == "done");
    auto rows = log->read_metric("reliability.token_acc");
    REQUIRE(rows.size() == 3);
    CHECK(rows[2].post == doctest::Approx(0.8));
    CHECK(rows[1].record_id == "rec1");
    auto generations = log->read_generations("i_generality");
    REQUIRE(generations.size() == 6);
    CHECK(generations[2].record_id == "rec1");
    CHECK(generations[2].sample == 2);
    CHECK(generations[2].image == "images/e1_v1.png");
    CHECK(generations[2].pre == "a small finch");
    CHECK(generations[2].post == "Varnel Finch #1");
    CHECK(generations[3].pre.empty());
    CHECK(generations[3].answer == "Varnel Finch");
    CHECK(generations[3].references == "A finch.\nA red bird.");
    CHECK(log->generation_probes() == std::vector<std::string>{"i_generality"});
  }
  CHECK_THROWS_WITH(RunLog::create(file), doctest::Contains("use --resume to continue that run"));
  std::string script = R"(
import h5py, math
f = h5py.File(')" + file + R"(', 'r')
assert f.attrs['status'] == 'done', f.attrs['status']
assert f.attrs['config'].startswith('editor:')
assert [s.decode() for s in f['edits/record_id'][:]] == ['rec0', 'rec1', 'rec2']
assert list(f['edits/step'][:]) == [0, 0, 0]
assert list(f['edits/stats/loss'][:]) == [0.5, 0.5, 0.5]
steps = f['edits/stats/steps'][:]
assert math.isnan(steps[0]) and steps[1] == 12 and math.isnan(steps[2]), steps
m = f['metrics/reliability.token_acc']
assert list(m['post'][:]) == [1.0, 0.9, 0.8] and list(m['edit'][:]) == [0, 1, 2]
d = f['weights/lm.layers.1.mlp.down_proj.weight/delta']
assert d.shape == (3, 2, 3) and d[2, 1, 2] == 25.0, d[:]
assert d.compression is None and d.chunks[0] >= 1  # dense deltas are stored as they are
a = f['activations/lm.layers.1.mlp.down_proj.in']
assert a['values'].compression == 'gzip' and a['values'].shuffle
assert a['values'].shape == (6, 2) and list(a['position'][:]) == [7, 8, 7, 8, 7, 8]
assert list(a['edit'][:]) == [0, 0, 1, 1, 2, 2]
g = f['generations/i_generality']
assert [s.decode() for s in g['post'][:]] == ['Varnel Finch #0', 'Varnel Finch', 'Varnel Finch #1', 'Varnel Finch',
                                              'Varnel Finch #2', 'Varnel Finch'], g['post'][:]
assert list(g['sample'][:]) == [2, 3] * 3 and list(g['edit'][:]) == [0, 0, 1, 1, 2, 2]
assert g['prompt'][0].decode() == 'Name this.' and g['image'][4].decode() == 'images/e2_v1.png'
print('ok')
)";
  test::write_file(dir + "/check.py", script);
  auto r = test::run_command("/usr/bin/python3 " + dir + "/check.py");
  CHECK_MESSAGE(r.exit_code == 0, r.err);
  CHECK(r.out == "ok\n");
}

TEST_CASE("resume cuts every table back to the complete units") {
  std::string file = test::make_temp_dir("run_log_resume") + "/run.h5";
  {
    auto log = RunLog::create(file);
    write_unit(*log, 0);
    write_unit(*log, 1);
    write_unit(*log, 2, /*commit=*/false);  // interrupted before its /edits row
    log->flush();
  }
  auto log = RunLog::resume(file);
  CHECK(log->edit_count() == 2);
  CHECK(log->read_metric("reliability.token_acc").size() == 2);
  CHECK(log->weight_rows("lm.layers.1.mlp.down_proj.weight") == 2);
  CHECK(log->read_generations("i_generality").size() == 4);
  write_unit(*log, 2);
  CHECK(log->edit_count() == 3);
  CHECK(log->read_metric("reliability.token_acc").back().record_id == "rec2");
}

TEST_CASE("a writer killed with SIGKILL leaves every committed unit readable") {
  std::string file = test::make_temp_dir("run_log_kill") + "/run.h5";
  int ready[2];
  REQUIRE(pipe(ready) == 0);
  pid_t child = fork();
  REQUIRE(child >= 0);
  if (child == 0) {
    close(ready[0]);
    auto log = RunLog::create(file);
    for (int e = 0; e < 5; ++e) write_unit(*log, e);
    char byte = 1;
    (void)!write(ready[1], &byte, 1);
    for (int e = 5;; ++e) write_unit(*log, e, e % 2 == 0);  // keep writing until killed, mid-unit
  }
  close(ready[1]);
  char byte = 0;
  REQUIRE(read(ready[0], &byte, 1) == 1);
  usleep(20000);
  kill(child, SIGKILL);
  int status = 0;
  waitpid(child, &status, 0);
  CHECK(WIFSIGNALED(status));
  auto log = RunLog::resume(file);
  CHECK(log->edit_count() >= 5);
  auto rows = log->read_metric("reliability.token_acc");
  REQUIRE(rows.size() >= 5);
  for (std::size_t i = 0; i < 5; ++i) CHECK(rows[i].post == doctest::Approx(1.0 - 0.1 * static_cast<double>(i)));
  for (const auto& row : rows) CHECK(row.edit < log->edit_count());
  // Rebuilt from .base + journal: the generations of the committed units, word for word.
  auto generations = log->read_generations("i_generality");
  REQUIRE(generations.size() == 2 * static_cast<std::size_t>(log->edit_count()));
  for (std::size_t i = 0; i < generations.size(); i += 2)
    CHECK(generations[i].post == "Varnel Finch #" + std::to_string(i / 2));
}

TEST_CASE("a damaged byte inside a data chunk is an error naming the file, not a wrong number") {
  std::string file = test::make_temp_dir("run_log_chunk") + "/run.h5";
  {
    auto log = RunLog::create(file);
    for (std::int64_t e = 0; e < 3; ++e) {
      // A value whose bytes are easy to find in the file.
      log->append_metric("reliability.exact_match", {e, 1, "rec" + std::to_string(e), 0.0, 0.123456789012345});
      log->commit_edit({"rec" + std::to_string(e), "ent", 0, "target", 0.1, {}});
    }
  }
  std::string bytes = test::read_file(file);
  const double marker = 0.123456789012345;
  const std::string pattern(reinterpret_cast<const char*>(&marker), sizeof marker);
  const std::size_t at = bytes.find(pattern);
  REQUIRE(at != std::string::npos);
  bytes[at + 3] = static_cast<char>(bytes[at + 3] ^ 0x10);
  test::write_file(file, bytes);
  auto log = RunLog::open_read_only(file);
  const std::string expected = file + " is damaged: HDF5 cannot read it (";
  CHECK_THROWS_WITH_AS(log->read_metric("reliability.exact_match"), doctest::Contains(expected.c_str()),
                       mike::DataError);
}
