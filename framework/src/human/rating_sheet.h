#pragma once
// `mike human export`: a blinded, offline rating sheet for ELC captions
// (docs/human_eval.md has the protocol).
//
// The captions come from the `/generations/reliability` table of each job's
// run.h5 (the edit image + the caption prompt, after the edit), one job per
// system; when every job edited the same model, the unedited model's caption
// of the same record joins as the system "unedited". For up to
// `per_system` records that every job evaluated, the sheet shows the image,
// the entity's name and reference captions, and every system's caption in a
// shuffled order under an opaque id. Written into `out` (which must not
// exist, so nothing is overwritten):
//   sheet/sheet.html  self-contained (images inline): rate in the browser,
//                     progress kept in the browser, "Export ratings" gives
//                     ratings.csv (rater,item_id,names,describes,fluent)
//   sheet/items.csv   the same items, for raters who work in a spreadsheet
//   key.csv           item_id -> system, job, record, and the automatic
//                     scores of the caption (mention, BLEU-4, ROUGE-L) that
//                     `mike human import` correlates with the ratings;
//                     kept out of sheet/ so that raters never see it
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace mike {

struct RatingSheetOptions {
  int per_system = 20;     // records rated; every system's caption of each
  std::uint64_t seed = 0;  // which records, the caption order and the ids
};

struct RatingSheetFiles {
  std::filesystem::path sheet, items, key;
  std::vector<std::string> systems;  // in key order
  int records = 0;
  int items_written = 0;
};

// `dir` is a run dir or a sweep dir (every run.h5 below it is a job; jobs
// whose task is not elc are left out, with a log line). Throws UsageError
// for a missing dir or an existing `out`, DataError for a job whose run.h5
// holds no generations or whose images are gone.
RatingSheetFiles write_rating_sheet(const std::filesystem::path& dir, const std::filesystem::path& out,
                                    const RatingSheetOptions& options = {});

}  // namespace mike
