// `mike human export` end to end on a toy ELC sweep: the blinded sheet and
// its key, refusals, and rating in headless Chromium (Debian's `chromium`)
// with the ratings exported from the page.
#include <doctest/doctest.h>

#include <filesystem>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "human/csv_table.h"
#include "process.h"

namespace fs = std::filesystem;
using mike::test::run_command;
using mike::test::run_mike;

namespace {

bool contains(const std::string& text, const std::string& needle) { return text.find(needle) != std::string::npos; }

std::string run_args(const std::string& root, const std::string& task, const std::string& lr) {
  return std::string("run --config-dir ") + MIKE_SOURCE_DIR + "/configs --plugin-path " + MIKE_FIXTURE_PLUGIN_DIR +
         " model.plugin=toy ++model.initial_weights=true 'editor.layers=[]' 'editor.params=[bigram.weight]' editor.lr=" +
         lr + " editor.steps=10 data.dir=" + root + "/world data.generate=new data.limit=4 data.synth.entities=52 "
         "data.synth.image_size=16 data.synth.images_per_entity=4 threads=1 task=" + task;
}

// A CSV file as its header row, then its rows, read with the reader `mike human import` uses.
std::vector<std::vector<std::string>> csv_lines(const std::string& file) {
  const mike::CsvTable table = mike::read_csv(file);
  std::vector<std::vector<std::string>> rows = {table.header};
  for (const mike::CsvRow& row : table.rows) rows.push_back(row.fields);
  return rows;
}

// A sweep of two learning rates on ELC, made once for every test case.
const std::string& elc_sweep() {
  static const std::string root = [] {
    const std::string dir = mike::test::make_temp_dir("human_cli");
    auto r = run_mike(run_args(dir, "elc", "0.05,0.5") + " -m out_dir=" + dir + "/sweep");
    REQUIRE_MESSAGE(r.exit_code == 0, r.err);
    return dir;
  }();
  return root;
}

}  // namespace

TEST_CASE("human export writes a blinded sheet of every system's caption per entity, and its key apart") {
  const std::string root = elc_sweep();
  auto r = run_mike("human export " + root + "/sweep --out " + root + "/rating --per-system 3 --seed 7");
  REQUIRE_MESSAGE(r.exit_code == 0, r.err);
  CHECK(contains(r.out, "3 entities x 3 systems = 9 captions to rate"));
  const std::string sheet = mike::test::read_file(root + "/rating/sheet/sheet.html");
  const auto key = csv_lines(root + "/rating/key.csv");
  const auto items = csv_lines(root + "/rating/sheet/items.csv");
  REQUIRE(key.size() == 10);
  REQUIRE(items.size() == 10);
  CHECK(key[0] == std::vector<std::string>{"item_id", "system", "job_dir", "record_id", "mention", "bleu4", "rouge_l"});
  std::map<std::string, std::set<std::string>> systems_of_record;
  std::set<std::string> ids;
  for (std::size_t i = 1; i < key.size(); ++i) {
    ids.insert(key[i][0]);
    systems_of_record[key[i][3]].insert(key[i][1]);
    CHECK(items[i][0] == key[i][0]);  // the sheet's order
    CHECK(items[i][1] == key[i][3]);
    CHECK(contains(sheet, "data-item=\"" + key[i][0] + "\""));
  }
  CHECK(ids.size() == 9);
  CHECK(systems_of_record.size() == 3);
  for (const auto& [record, systems] : systems_of_record)
    CHECK(systems == std::set<std::string>{"editor.lr=0.05", "editor.lr=0.5", "unedited"});
  // Blinded: nothing a rater gets names a system or a job.
  for (const std::string& text : {sheet, mike::test::read_file(root + "/rating/sheet/items.csv")}) {
    CHECK_FALSE(contains(text, "editor.lr"));
    CHECK_FALSE(contains(text, "unedited"));
    CHECK_FALSE(contains(text, root + "/sweep"));
  }
  CHECK(contains(sheet, "src=\"data:image/png;base64,"));  // self-contained
  // The same seed gives the same sheet; another seed another order.
  auto again = run_mike("human export " + root + "/sweep --out " + root + "/rating_again --per-system 3 --seed 7");
  REQUIRE(again.exit_code == 0);
  CHECK(mike::test::read_file(root + "/rating_again/key.csv") == mike::test::read_file(root + "/rating/key.csv"));
}

TEST_CASE("human export never overwrites a sheet and refuses runs without captions") {
  const std::string root = elc_sweep();
  REQUIRE(run_mike("human export " + root + "/sweep --out " + root + "/kept --per-system 2").exit_code == 0);
  const std::string key = mike::test::read_file(root + "/kept/key.csv");
  auto twice = run_mike("human export " + root + "/sweep --out " + root + "/kept --per-system 3 --seed 1");
  CHECK(twice.exit_code != 0);
  CHECK(contains(twice.err, "never overwritten"));
  CHECK(mike::test::read_file(root + "/kept/key.csv") == key);

  auto vna = run_mike(run_args(root, "vna", "0.5") + " out_dir=" + root + "/vna");
  REQUIRE_MESSAGE(vna.exit_code == 0, vna.err);
  auto no_elc = run_mike("human export " + root + "/vna --out " + root + "/from_vna");
  CHECK(no_elc.exit_code != 0);
  CHECK(contains(no_elc.err, "no finished task=elc run"));
  CHECK_FALSE(fs::exists(root + "/from_vna"));

  auto no_generations = run_mike(run_args(root, "elc", "0.5") + " log.generations=false out_dir=" + root + "/quiet");
  REQUIRE_MESSAGE(no_generations.exit_code == 0, no_generations.err);
  auto refused = run_mike("human export " + root + "/quiet --out " + root + "/from_quiet");
  CHECK(refused.exit_code != 0);
  CHECK(contains(refused.err, "log.generations=true"));

  CHECK(run_mike("human export " + root + "/missing --out " + root + "/x").exit_code != 0);
  CHECK(run_mike("human export " + root + "/sweep --out " + root + "/y --per-system 0").exit_code != 0);
}

TEST_CASE("the sheet rates and exports in a headless browser") {
  const std::string root = elc_sweep();
  REQUIRE(run_mike("human export " + root + "/sweep --out " + root + "/browser --per-system 3 --seed 3").exit_code == 0);
  auto which = run_command("command -v chromium");
  REQUIRE_MESSAGE(which.exit_code == 0, "needs Debian's chromium; ./bootstrap.sh test installs it");
  // The harness frames the sheet and acts as a rater would: a name, a click
  // on one radio button per criterion of every caption, then "Export ratings".
  // Caption i gets names = i % 2, describes = 1 + i % 5, fluent = 5 - i % 5.
  mike::test::write_file(root + "/browser/harness.html", R"(<!DOCTYPE html><html><body><pre id="result">pending</pre>
<iframe id="sheet" src="sheet/sheet.html" width="1000" height="800"></iframe>
<script>
document.getElementById('sheet').addEventListener('load', function () {
  const doc = this.contentDocument;
  const rater = doc.getElementById('rater');
  rater.value = 'rater, "one"';
  rater.dispatchEvent(new Event('input', {bubbles: true}));
  Array.from(doc.querySelectorAll('.caption')).forEach(function (c, i) {
    const pick = {names: i % 2, describes: 1 + i % 5, fluent: 5 - i % 5};
    for (const k in pick) doc.querySelector('input[name="' + c.dataset.item + ':' + k + '"][value="' + pick[k] + '"]').click();
  });
  doc.getElementById('export-button').click();
  document.getElementById('result').textContent = doc.getElementById('export').value;
});
</script></body></html>)");
  auto r = run_command("cd " + root + "/browser && HOME=" + root + "/browser timeout 120 chromium --headless --no-sandbox "
                       "--disable-gpu --allow-file-access-from-files --virtual-time-budget=10000 --dump-dom "
                       "file://" + root + "/browser/harness.html");
  REQUIRE_MESSAGE(r.exit_code == 0, r.err);
  const std::size_t start = r.out.find("<pre id=\"result\">"), end = r.out.find("</pre>");
  REQUIRE(start != std::string::npos);
  REQUIRE(end != std::string::npos);
  std::string csv = r.out.substr(start + 17, end - start - 17);
  // --dump-dom escapes the text: &quot; stays as it is inside <pre>, only & < > are entities.
  for (const auto& [entity, text] : std::vector<std::pair<std::string, std::string>>{{"&amp;", "&"}, {"&lt;", "<"}, {"&gt;", ">"}})
    for (std::size_t at = csv.find(entity); at != std::string::npos; at = csv.find(entity, at + 1)) csv.replace(at, entity.size(), text);
  const auto key = csv_lines(root + "/browser/key.csv");
  std::string expected = "rater,item_id,names,describes,fluent\n";
  for (std::size_t i = 1; i < key.size(); ++i)
    expected += "\"rater, \"\"one\"\"\"," + key[i][0] + "," + std::to_string((i - 1) % 2) + "," +
                std::to_string(1 + (i - 1) % 5) + "," + std::to_string(5 - (i - 1) % 5) + "\n";
  CHECK(csv == expected);
}

TEST_CASE("human import scores each system with CIs, measures agreement and correlates with the automatic metrics") {
  const std::string root = elc_sweep();
  const std::string dir = root + "/import";
  REQUIRE(run_mike("human export " + root + "/sweep --out " + dir + " --per-system 3 --seed 5").exit_code == 0);
  const auto key = csv_lines(dir + "/key.csv");
  // Two raters who agree: names = 1 exactly for the lr=0.5 captions, describes
  // alternates 2/4 by caption, fluent 5 everywhere; the second rater leaves
  // the last caption unrated.
  std::string a = "rater,item_id,names,describes,fluent\n", b = a;
  for (std::size_t i = 1; i < key.size(); ++i) {
    const std::string row = key[i][0] + "," + (key[i][1] == "editor.lr=0.5" ? "1" : "0") + "," + (i % 2 ? "2" : "4") + ",5\n";
    a += "ann," + row;
    b += i + 1 < key.size() ? "bob," + row : "bob," + key[i][0] + ",,,\n";
  }
  mike::test::write_file(dir + "/ann.csv", a);
  mike::test::write_file(dir + "/bob.csv", b);
  auto r = run_mike("human import " + dir + "/ann.csv " + dir + "/bob.csv --key " + dir + "/key.csv --out " + dir + "/human.md");
  REQUIRE_MESSAGE(r.exit_code == 0, r.err);
  CHECK(contains(r.out, "Raters: ann, bob (2). Captions rated: 9."));
  CHECK(contains(r.out, "| editor.lr=0.5 | 1.000 [1.000, 1.000] |"));
  CHECK(contains(r.out, "| editor.lr=0.05 | 0.000 [0.000, 0.000] |"));
  CHECK(contains(r.out, "| unedited | 0.000 [0.000, 0.000] |"));
  CHECK(contains(r.out, "| names | 1.000 | 1.000 | 8 |"));      // alpha, kappa, captions both rated
  CHECK(contains(r.out, "| describes | 1.000 | 1.000 | 8 |"));
  CHECK(contains(r.out, "| fluent | n/a | n/a | 8 |"));          // one value only: no expected disagreement
  CHECK(contains(r.out, "Spearman's rho"));
  CHECK(mike::test::read_file(dir + "/human.md") + "\nreport: " + dir + "/human.md\n" == r.out);
  auto again = run_mike("human import " + dir + "/ann.csv --key " + dir + "/key.csv --out " + dir + "/human.md");
  CHECK(again.exit_code != 0);
  CHECK(contains(again.err, "never overwritten"));

  // Bad ratings: one line each, naming file:line and the fix.
  mike::test::write_file(dir + "/off_scale.csv", "rater,item_id,names,describes,fluent\nann," + key[1][0] + ",7,3,3\n");
  auto off = run_mike("human import " + dir + "/off_scale.csv --key " + dir + "/key.csv");
  CHECK(off.exit_code != 0);
  CHECK(contains(off.err, "off_scale.csv:2: names is '7'; use a whole number from 0 to 1"));
  mike::test::write_file(dir + "/unknown.csv", "rater,item_id,names,describes,fluent\nann,c9999,1,3,3\n");
  auto unknown = run_mike("human import " + dir + "/unknown.csv --key " + dir + "/key.csv");
  CHECK(unknown.exit_code != 0);
  CHECK(contains(unknown.err, "unknown.csv:2: item 'c9999' is not in the key"));
  auto twice = run_mike("human import " + dir + "/ann.csv " + dir + "/ann.csv --key " + dir + "/key.csv");
  CHECK(twice.exit_code != 0);
  CHECK(contains(twice.err, "ann rated " + key[1][0] + " already (" + dir + "/ann.csv:2)"));
  mike::test::write_file(dir + "/torn.csv", "rater,item_id,names,describes,fluent\nann,\"" + key[1][0] + ",1,3\n");
  auto torn = run_mike("human import " + dir + "/torn.csv --key " + dir + "/key.csv");
  CHECK(torn.exit_code != 0);
  CHECK(contains(torn.err, "torn.csv:2: a quoted field is never closed"));
}
