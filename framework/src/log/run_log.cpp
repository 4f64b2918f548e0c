#include "log/run_log.h"

#include "log/run_journal.h"

#include <hdf5.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstring>
#include <fstream>
#include <functional>
#include <limits>
#include <numeric>

#include "mike/error.h"
#include "system/text_file.h"

namespace mike {

namespace {

// The innermost message of the current HDF5 error stack.
std::string hdf5_error_message() {
  std::string message;
  H5Ewalk2(
      H5E_DEFAULT, H5E_WALK_UPWARD,
      [](unsigned, const H5E_error2_t* err, void* data) -> herr_t {
        auto* out = static_cast<std::string*>(data);
        if (out->empty() && err->desc) *out = err->desc;
        return 0;
      },
      &message);
  H5Eclear2(H5E_DEFAULT);
  return message.empty() ? "unknown HDF5 error" : message;
}

hid_t check(hid_t id, const std::string& what) {
  if (id < 0) throw Error("run.h5: " + what + " failed: " + hdf5_error_message());
  return id;
}

// Closes an HDF5 handle when it leaves scope.
class Handle {
 public:
  Handle(hid_t id, herr_t (*close)(hid_t)) : id_(id), close_(close) {}
  ~Handle() {
    if (id_ >= 0) close_(id_);
  }
  Handle(const Handle&) = delete;
  Handle& operator=(const Handle&) = delete;
  operator hid_t() const { return id_; }

 private:
  hid_t id_;
  herr_t (*close_)(hid_t);
};

hid_t string_type() {
  hid_t type = H5Tcopy(H5T_C_S1);
  H5Tset_size(type, H5T_VARIABLE);
  H5Tset_cset(type, H5T_CSET_UTF8);
  return type;
}

bool exists(hid_t file, const std::string& path) {
  // Check every prefix: H5Lexists fails on a missing intermediate group.
  std::size_t pos = 0;
  while (true) {
    pos = path.find('/', pos + 1);
    std::string prefix = path.substr(0, pos);
    if (H5Lexists(file, prefix.c_str(), H5P_DEFAULT) <= 0) return false;
    if (pos == std::string::npos) return true;
  }
}

void ensure_group(hid_t file, const std::string& path) {
  std::size_t pos = 0;
  while (pos != std::string::npos) {
    pos = path.find('/', pos + 1);
    std::string prefix = path.substr(0, pos);
    if (H5Lexists(file, prefix.c_str(), H5P_DEFAULT) <= 0)
      Handle(check(H5Gcreate2(file, prefix.c_str(), H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT), "creating " + prefix),
             H5Gclose);
  }
}

// HDF5 object names cannot contain '/'; tap and parameter names use dots.
std::string object_name(const std::string& name) {
  std::string out = name;
  std::replace(out.begin(), out.end(), '/', '|');
  return out;
}

// An extendable dataset whose first dimension grows by appends.
void create_growing(hid_t file, const std::string& path, hid_t type, const std::vector<hsize_t>& row_shape,
                    bool compress) {
  std::vector<hsize_t> dims{0}, max_dims{H5S_UNLIMITED}, chunk;
  hsize_t row_elements = 1;
  for (hsize_t d : row_shape) {
    dims.push_back(d);
    max_dims.push_back(d);
    row_elements *= d;
  }
  // Crash safety decides the chunking. A compressed chunk that is rewritten
  // moves in the file and its old space can be reused at once, so a kill
  // during the rewrite can destroy rows that were already committed.
  // Compressed datasets therefore get one row per chunk (written once, never
  // rewritten); uncompressed 1-D columns share chunks, which are rewritten in
  // place with identical bytes for the committed rows.
  // Uncompressed chunks hold up to 1024 rows and about 1 MiB.
  const hsize_t row_bytes = row_elements * H5Tget_size(type);
  hsize_t rows_per_chunk = compress ? 1 : std::clamp<hsize_t>((hsize_t{1} << 20) / std::max<hsize_t>(1, row_bytes), 1, 1024);
  chunk.push_back(rows_per_chunk);
  for (hsize_t d : row_shape) chunk.push_back(std::max<hsize_t>(1, d));
  Handle space(check(H5Screate_simple(static_cast<int>(dims.size()), dims.data(), max_dims.data()), "dataspace"),
               H5Sclose);
  Handle plist(H5Pcreate(H5P_DATASET_CREATE), H5Pclose);
  H5Pset_chunk(plist, static_cast<int>(chunk.size()), chunk.data());
  if (compress) {
    H5Pset_shuffle(plist);
    H5Pset_deflate(plist, 4);
  }
  // A checksum per chunk: a damaged byte in a chunk of numbers (a disk
  // fault, a bad copy) is a read error naming the file, never a silently
  // wrong number. HDF5 cannot checksum variable-length strings (their bytes
  // live in the global heap, outside the chunks).
  if (H5Tis_variable_str(type) <= 0) H5Pset_fletcher32(plist);
  if (H5Tequal(type, H5T_NATIVE_DOUBLE) > 0) {
    double nan = std::numeric_limits<double>::quiet_NaN();
    H5Pset_fill_value(plist, H5T_NATIVE_DOUBLE, &nan);
  }
  Handle ds(check(H5Dcreate2(file, path.c_str(), type, space, H5P_DEFAULT, plist, H5P_DEFAULT), "creating " + path),
            H5Dclose);
}

hsize_t rows_of(hid_t file, const std::string& path) {
  Handle ds(check(H5Dopen2(file, path.c_str(), H5P_DEFAULT), "opening " + path), H5Dclose);
  Handle space(H5Dget_space(ds), H5Sclose);
  int rank = H5Sget_simple_extent_ndims(space);
  std::vector<hsize_t> dims(static_cast<std::size_t>(std::max(rank, 1)));
  H5Sget_simple_extent_dims(space, dims.data(), nullptr);
  return dims[0];
}

void set_rows(hid_t file, const std::string& path, hsize_t rows) {
  Handle ds(check(H5Dopen2(file, path.c_str(), H5P_DEFAULT), "opening " + path), H5Dclose);
  Handle space(H5Dget_space(ds), H5Sclose);
  int rank = H5Sget_simple_extent_ndims(space);
  std::vector<hsize_t> dims(static_cast<std::size_t>(rank));
  H5Sget_simple_extent_dims(space, dims.data(), nullptr);
  dims[0] = rows;
  check(H5Dset_extent(ds, dims.data()), "resizing " + path);
}

// Appends `count` rows (each of the dataset's row shape) from `data`.
void append_rows(hid_t file, const std::string& path, hid_t mem_type, hsize_t count, const void* data) {
  Handle ds(check(H5Dopen2(file, path.c_str(), H5P_DEFAULT), "opening " + path), H5Dclose);
  Handle space(H5Dget_space(ds), H5Sclose);
  int rank = H5Sget_simple_extent_ndims(space);
  std::vector<hsize_t> dims(static_cast<std::size_t>(rank));
  H5Sget_simple_extent_dims(space, dims.data(), nullptr);
  std::vector<hsize_t> start(dims.size(), 0), extent = dims;
  start[0] = dims[0];
  extent[0] = count;
  dims[0] += count;
  check(H5Dset_extent(ds, dims.data()), "extending " + path);
  Handle file_space(H5Dget_space(ds), H5Sclose);
  check(H5Sselect_hyperslab(file_space, H5S_SELECT_SET, start.data(), nullptr, extent.data(), nullptr),
        "selecting in " + path);
  Handle mem_space(H5Screate_simple(rank, extent.data(), nullptr), H5Sclose);
  check(H5Dwrite(ds, mem_type, mem_space, file_space, H5P_DEFAULT, data), "writing " + path);
}

template <class T>
std::vector<T> read_column(hid_t file, const std::string& path, hid_t mem_type) {
  std::vector<T> out(rows_of(file, path));
  if (out.empty()) return out;
  Handle ds(check(H5Dopen2(file, path.c_str(), H5P_DEFAULT), "opening " + path), H5Dclose);
  check(H5Dread(ds, mem_type, H5S_ALL, H5S_ALL, H5P_DEFAULT, out.data()), "reading " + path);
  return out;
}

std::vector<std::string> read_strings(hid_t file, const std::string& path) {
  hsize_t n = rows_of(file, path);
  std::vector<char*> raw(n, nullptr);
  std::vector<std::string> out;
  if (n == 0) return out;
  Handle ds(check(H5Dopen2(file, path.c_str(), H5P_DEFAULT), "opening " + path), H5Dclose);
  Handle type(string_type(), H5Tclose);
  check(H5Dread(ds, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, raw.data()), "reading " + path);
  for (char* s : raw) out.emplace_back(s ? s : "");
  Handle space(H5Dget_space(ds), H5Sclose);
  H5Dvlen_reclaim(type, space, H5P_DEFAULT, raw.data());
  return out;
}

std::vector<std::string> children(hid_t file, const std::string& group) {
  std::vector<std::string> names;
  if (!exists(file, group)) return names;
  H5Literate_by_name(
      file, group.c_str(), H5_INDEX_NAME, H5_ITER_INC, nullptr,
      [](hid_t, const char* name, const H5L_info_t*, void* data) -> herr_t {
        static_cast<std::vector<std::string>*>(data)->emplace_back(name);
        return 0;
      },
      &names, H5P_DEFAULT);
  return names;
}

// A run.h5 that HDF5 cannot read: named, kept, and how to go on. Whether
// its completed edits can be salvaged is for h5py/h5dump, not for mike.
[[noreturn]] void throw_damaged(const std::filesystem::path& file, const std::string& detail) {
  const std::string dir = file.parent_path().empty() ? std::string(".") : file.parent_path().string();
  throw DataError(file.string() + " is damaged: HDF5 cannot read it (" + detail +
                  "); the file was left as it is. fix: move it aside (e.g. `mv " + file.string() + " " +
                  file.string() + ".damaged`; do not delete it, h5dump or h5py may still read parts of it), then "
                  "`mike run --resume " + dir + "` starts that run over; or rerun into a new out_dir");
}

// H5Fopen failed: a damaged or non-HDF5 file, or a lock / consistency flag a
// killed writer left behind (what h5clear is for).
[[noreturn]] void throw_open_failed(const std::filesystem::path& file, const std::string& action,
                                    const std::string& hint) {
  const std::string message = hdf5_error_message();
  std::error_code ec;
  if (std::filesystem::file_size(file, ec) == 0 && !ec) {
    const std::string dir = file.parent_path().empty() ? std::string(".") : file.parent_path().string();
    throw DataError(file.string() + " is empty: the run was killed before its first write, so it holds no edits; "
                    "the file was left as it is. fix: move it aside (e.g. `mv " + file.string() + " " + file.string() +
                    ".empty`), then `mike run --resume " + dir + "` starts that run over");
  }
  if (message.find("lock") != std::string::npos || message.find("already open") != std::string::npos)
    throw Error("cannot " + action + " run log " + file.string() + ": " + message + "; " + hint);
  throw_damaged(file, message);
}

// Opens every group and dataset the log holds, so that a damaged file is
// reported when it is opened rather than half-way through a resume or report.
void check_structure(hid_t file, const std::filesystem::path& path) {
  herr_t visited = H5Ovisit2(
      file, H5_INDEX_NAME, H5_ITER_INC, [](hid_t, const char*, const H5O_info_t*, void*) -> herr_t { return 0; },
      nullptr, H5O_INFO_BASIC);
  if (visited < 0) throw_damaged(path, hdf5_error_message());
  try {
    rows_of(file, "/edits/record_id");
  } catch (const Error& e) {
    throw_damaged(path, e.what());
  }
}

// The files beside a writer's run.h5 (run_journal.h says why):
//   .writing  while a writer has it open: the units on disk (the marker a kill leaves behind)
//   .journal  every write since `.base` was taken, in commits
//   .base     the log as it was when this writer opened it (absent: it started empty)
std::filesystem::path writing_marker(const std::filesystem::path& file) { return file.string() + ".writing"; }
std::filesystem::path journal_of(const std::filesystem::path& file) { return file.string() + ".journal"; }
std::filesystem::path base_of(const std::filesystem::path& file) { return file.string() + ".base"; }

void write_marker(const std::filesystem::path& file, std::int64_t units) {
  write_text_file(writing_marker(file), std::to_string(units) + "\n");
}

void remove_quietly(const std::filesystem::path& path) {
  std::error_code ignored;
  std::filesystem::remove(path, ignored);
}

}  // namespace

// Adds the lifetime of a scope to RunLog::seconds_writing_.
class RunLog::Timer {
 public:
  explicit Timer(double& total) : total_(total), start_(std::chrono::steady_clock::now()) {}
  ~Timer() { total_ += std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count(); }

 private:
  double& total_;
  std::chrono::steady_clock::time_point start_;
};

struct RunLog::Columns {
  Handle strings{string_type(), H5Tclose};
};

RunLog::RunLog(std::int64_t file_id) : file_(file_id), columns_(std::make_unique<Columns>()) {}

RunLog::~RunLog() {
  if (file_ >= 0) {
    if (!read_only_) H5Fflush(file_, H5F_SCOPE_GLOBAL);
    const bool closed = H5Fclose(file_) >= 0;
    // Only a log that reached the disk whole loses its marker; then run.h5
    // alone is the log again.
    if (!read_only_ && closed && !path_.empty()) {
      journal_.reset();
      remove_quietly(writing_marker(path_));
      remove_quietly(journal_of(path_));
      remove_quietly(base_of(path_));
    }
  }
}

std::unique_ptr<RunLog> RunLog::create_structure(const std::filesystem::path& file) {
  hid_t id = H5Fcreate(file.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
  if (id < 0) throw Error("cannot create run log " + file.string() + ": " + hdf5_error_message());
  std::unique_ptr<RunLog> log(new RunLog(id));
  ensure_group(id, "/edits/stats");
  hid_t strings = log->columns_->strings;
  for (const char* column : {"record_id", "entity", "target"})
    create_growing(id, std::string("/edits/") + column, strings, {}, false);
  create_growing(id, "/edits/step", H5T_NATIVE_INT64, {}, false);
  create_growing(id, "/edits/wall_time_s", H5T_NATIVE_DOUBLE, {}, false);
  ensure_group(id, "/metrics");
  ensure_group(id, "/generations");
  ensure_group(id, "/weights");
  ensure_group(id, "/activations");
  log->flush();
  return log;
}

std::unique_ptr<RunLog> RunLog::create(const std::filesystem::path& file) {
  H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);  // errors become exceptions, not stderr dumps
  if (std::filesystem::exists(file))
    throw Error("cannot create run log " + file.string() + ": it exists already; use --resume to continue that run");
  // Left over from a log of this name that is gone: never replayed into this one.
  for (const auto& stale : {writing_marker(file), journal_of(file), base_of(file)}) remove_quietly(stale);
  // The file is built under a temporary name and appears as `file` only once
  // its structure is on disk, so a run killed at any point leaves either no
  // run.h5 (--resume starts over) or one that opens. A leftover temporary
  // holds no edits and is replaced here.
  const std::filesystem::path building = file.string() + ".creating";
  std::unique_ptr<RunLog> log = create_structure(building);
  // link() fails when `file` exists, unlike rename(): a run.h5 that another
  // process made meanwhile is never replaced. The open handle follows the
  // inode, so writing goes on through it.
  if (::link(building.c_str(), file.c_str()) != 0) {
    const int error = errno;
    throw Error("cannot create run log " + file.string() + ": " + std::strerror(error) +
                (error == EEXIST ? " (another mike made it meanwhile? use --resume to continue that run)" : ""));
  }
  ::unlink(building.c_str());
  log->path_ = file;
  log->journal_ = std::make_unique<RunJournal>(journal_of(file));  // no .base: replay starts from an empty log
  write_marker(file, 0);
  return log;
}

void RunLog::rebuild_killed(const std::filesystem::path& file) {
  namespace fs = std::filesystem;
  const fs::path rebuilt = file.string() + ".rebuilt";
  std::int64_t replayed = 0, units = 0;
  {
    std::unique_ptr<RunLog> log;
    if (fs::exists(base_of(file))) {
      std::error_code ec;
      fs::copy_file(base_of(file), rebuilt, fs::copy_options::overwrite_existing, ec);
      if (ec) throw Error("cannot copy " + base_of(file).string() + " to rebuild " + file.string() + ": " + ec.message());
      open_checked(rebuilt);
      hid_t id = H5Fopen(rebuilt.c_str(), H5F_ACC_RDWR, H5P_DEFAULT);
      if (id < 0) throw_damaged(base_of(file), hdf5_error_message());
      log.reset(new RunLog(id));
      log->edits_ = static_cast<std::int64_t>(rows_of(id, "/edits/record_id"));
    } else {
      log = create_structure(rebuilt);
    }
    replayed = RunJournal::replay(journal_of(file), *log);
    units = log->edits_;
  }
  // The killed file is kept beside it (one copy: an older one is replaced),
  // and the rename swaps the rebuilt one in atomically: at every moment
  // `file` is one whole log or the other.
  const fs::path kept = file.string() + ".killed";
  std::error_code ec;
  fs::remove(kept, ec);
  if (fs::exists(file)) fs::create_hard_link(file, kept, ec);
  fs::rename(rebuilt, file, ec);
  if (ec) throw Error("cannot put the rebuilt " + rebuilt.string() + " in place of " + file.string() + ": " + ec.message());
  spdlog::info("{} was being written when its run was killed: rebuilt it with {} units ({} from its journal); the "
               "file as the kill left it is kept as {}",
               file.string(), units, replayed, kept.string());
}

std::unique_ptr<RunLog> RunLog::resume(const std::filesystem::path& file) {
  H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);
  // A marker left behind means the writer was killed: run.h5 is not read
  // at all (HDF5 may crash on it), it is rebuilt from .base + .journal.
  const bool killed = std::filesystem::exists(writing_marker(file));
  if (killed) rebuild_killed(file);
  open_checked(file);  // a damaged file is reported before anything is written to it
  hid_t id = H5Fopen(file.c_str(), H5F_ACC_RDWR, H5P_DEFAULT);
  if (id < 0)
    throw_open_failed(file, "reopen", "if the run was killed, try `h5clear -s " + file.string() + "` and resume again");
  std::unique_ptr<RunLog> log(new RunLog(id));
  // Complete units: record_id is the last /edits column a unit writes.
  hsize_t complete = rows_of(id, "/edits/record_id");
  for (const char* column : {"entity", "target", "step", "wall_time_s"})
    complete = std::min(complete, rows_of(id, std::string("/edits/") + column));
  for (const std::string& path : {std::string("/edits"), std::string("/edits/stats")})
    for (const std::string& name : children(id, path))
      if (name != "stats") set_rows(id, path + "/" + name, complete);
  log->edits_ = static_cast<std::int64_t>(complete);
  // Everything else: keep rows of complete units only.
  for (const std::string& top : {std::string("/metrics"), std::string("/generations"), std::string("/weights"),
                                 std::string("/activations")}) {
    for (const std::string& name : children(id, top)) {
      std::string group = top + "/" + name;
      auto edit = read_column<std::int64_t>(id, group + "/edit", H5T_NATIVE_INT64);
      hsize_t keep = static_cast<hsize_t>(
          std::find_if(edit.begin(), edit.end(), [&](std::int64_t e) { return e >= log->edits_; }) - edit.begin());
      for (const std::string& column : children(id, group)) set_rows(id, group + "/" + column, keep);
    }
  }
  log->flush();
  log->path_ = file;
  // A writer opening a cleanly closed log takes its .base now, cut back and
  // flushed, and starts an empty journal; after a rebuild the two already
  // describe this file. The marker goes last: until it exists, a kill
  // leaves a clean log.
  if (!killed) {
    const std::filesystem::path base = base_of(file), copying = base.string() + ".copying";
    std::error_code ec;
    std::filesystem::copy_file(file, copying, std::filesystem::copy_options::overwrite_existing, ec);
    if (!ec) std::filesystem::rename(copying, base, ec);
    if (ec) throw Error("cannot copy " + file.string() + " to " + base.string() + ": " + ec.message() +
                        "; check the disk has room for a second copy of run.h5");
    remove_quietly(journal_of(file));
  }
  log->journal_ = std::make_unique<RunJournal>(journal_of(file));
  write_marker(file, log->edits_);
  return log;
}

std::unique_ptr<RunLog> RunLog::open_checked(const std::filesystem::path& file) {
  H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);
  hid_t id = H5Fopen(file.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT);
  if (id < 0)
    throw_open_failed(file, "open", "if the run is still going or was killed, wait for it or `mike run --resume` it first");
  std::unique_ptr<RunLog> log(new RunLog(id));
  log->read_only_ = true;
  log->path_ = file;  // for messages only: a reader writes no marker
  check_structure(id, file);
  log->edits_ = static_cast<std::int64_t>(rows_of(id, "/edits/record_id"));
  return log;
}

std::unique_ptr<RunLog> RunLog::open_read_only(const std::filesystem::path& file) {
  if (std::filesystem::exists(writing_marker(file))) {
    const std::string dir = file.parent_path().empty() ? std::string(".") : file.parent_path().string();
    throw DataError(file.string() + " is being written, or its writer was killed (" + writing_marker(file).string() +
                    " is there), so it is not read as it is; fix: wait for the run to finish, or continue a killed "
                    "one with `mike run --resume " + dir + "`, which rebuilds it from its journal");
  }
  return open_checked(file);
}

void RunLog::set_attribute(const std::string& name, const std::string& value) {
  Timer timer(seconds_writing_);
  if (journal_) journal_->attribute(name, value);
  if (H5Aexists(file_, name.c_str()) > 0) H5Adelete(file_, name.c_str());
  Handle space(H5Screate(H5S_SCALAR), H5Sclose);
  Handle attr(check(H5Acreate2(file_, name.c_str(), columns_->strings, space, H5P_DEFAULT, H5P_DEFAULT),
                    "creating attribute " + name),
              H5Aclose);
  const char* text = value.c_str();
  check(H5Awrite(attr, columns_->strings, &text), "writing attribute " + name);
}

std::string RunLog::attribute(const std::string& name) const {
  if (H5Aexists(file_, name.c_str()) <= 0) return "";
  Handle attr(check(H5Aopen(file_, name.c_str(), H5P_DEFAULT), "opening attribute " + name), H5Aclose);
  char* text = nullptr;
  check(H5Aread(attr, columns_->strings, &text), "reading attribute " + name);
  std::string out = text ? text : "";
  H5free_memory(text);
  return out;
}

void RunLog::append_metric(const std::string& name, const MetricRow& row) {
  Timer timer(seconds_writing_);
  if (journal_) journal_->metric(name, row);
  std::string group = "/metrics/" + object_name(name);
  if (!exists(file_, group)) {
    ensure_group(file_, group);
    create_growing(file_, group + "/edit", H5T_NATIVE_INT64, {}, false);
    create_growing(file_, group + "/checkpoint", H5T_NATIVE_INT64, {}, false);
    create_growing(file_, group + "/record_id", columns_->strings, {}, false);
    create_growing(file_, group + "/pre", H5T_NATIVE_DOUBLE, {}, false);
    create_growing(file_, group + "/post", H5T_NATIVE_DOUBLE, {}, false);
  }
  const char* id = row.record_id.c_str();
  append_rows(file_, group + "/checkpoint", H5T_NATIVE_INT64, 1, &row.checkpoint);
  append_rows(file_, group + "/record_id", columns_->strings, 1, &id);
  append_rows(file_, group + "/pre", H5T_NATIVE_DOUBLE, 1, &row.pre);
  append_rows(file_, group + "/post", H5T_NATIVE_DOUBLE, 1, &row.post);
  append_rows(file_, group + "/edit", H5T_NATIVE_INT64, 1, &row.edit);
}

void RunLog::append_generations(const std::string& probe, const std::vector<GenerationRow>& rows) {
  Timer timer(seconds_writing_);
  if (rows.empty()) return;
  if (journal_) journal_->generations(probe, rows);
  const std::string group = "/generations/" + object_name(probe);
  hid_t strings = columns_->strings;
  if (!exists(file_, group)) {
    ensure_group(file_, group);
    create_growing(file_, group + "/edit", H5T_NATIVE_INT64, {}, false);
    create_growing(file_, group + "/checkpoint", H5T_NATIVE_INT64, {}, false);
    create_growing(file_, group + "/sample", H5T_NATIVE_INT64, {}, false);
    for (const char* column : {"record_id", "image", "prompt", "answer", "references", "pre", "post"})
      create_growing(file_, group + "/" + column, strings, {}, false);
  }
  const hsize_t n = rows.size();
  std::vector<std::int64_t> edit, checkpoint, sample;
  std::vector<const char*> record, image, prompt, answer, references, pre, post;
  for (const GenerationRow& row : rows) {
    edit.push_back(row.edit);
    checkpoint.push_back(row.checkpoint);
    sample.push_back(row.sample);
    record.push_back(row.record_id.c_str());
    image.push_back(row.image.c_str());
    prompt.push_back(row.prompt.c_str());
    answer.push_back(row.answer.c_str());
    references.push_back(row.references.c_str());
    pre.push_back(row.pre.c_str());
    post.push_back(row.post.c_str());
  }
  append_rows(file_, group + "/checkpoint", H5T_NATIVE_INT64, n, checkpoint.data());
  append_rows(file_, group + "/sample", H5T_NATIVE_INT64, n, sample.data());
  append_rows(file_, group + "/record_id", strings, n, record.data());
  append_rows(file_, group + "/image", strings, n, image.data());
  append_rows(file_, group + "/prompt", strings, n, prompt.data());
  append_rows(file_, group + "/answer", strings, n, answer.data());
  append_rows(file_, group + "/references", strings, n, references.data());
  append_rows(file_, group + "/pre", strings, n, pre.data());
  append_rows(file_, group + "/post", strings, n, post.data());
  append_rows(file_, group + "/edit", H5T_NATIVE_INT64, n, edit.data());  // last, as in append_metric
}

void RunLog::append_weight_delta(const std::string& param, std::int64_t edit, const std::vector<std::int64_t>& shape,
                                 const float* data) {
  Timer timer(seconds_writing_);
  if (journal_) {
    std::size_t count = 1;
    for (std::int64_t d : shape) count *= static_cast<std::size_t>(d);
    journal_->weight_delta(param, edit, shape, data, count);
  }
  std::string group = "/weights/" + object_name(param);
  std::vector<hsize_t> row_shape(shape.begin(), shape.end());
  if (!exists(file_, group)) {
    ensure_group(file_, group);
    // Not compressed: a weight delta is dense float noise that deflate shrank
    // by ~5% for ~0.15 s per 26 FT-LLM edits, half the run's logging time.
    create_growing(file_, group + "/delta", H5T_NATIVE_FLOAT, row_shape, false);
    create_growing(file_, group + "/edit", H5T_NATIVE_INT64, {}, false);
  }
  append_rows(file_, group + "/delta", H5T_NATIVE_FLOAT, 1, data);
  append_rows(file_, group + "/edit", H5T_NATIVE_INT64, 1, &edit);
}

void RunLog::append_activations(const std::string& tap, std::int64_t edit, std::int64_t sample,
                                const std::vector<std::int64_t>& positions, std::int64_t width, const float* data) {
  Timer timer(seconds_writing_);
  if (journal_)
    journal_->activations(tap, edit, sample, positions, width, data, positions.size() * static_cast<std::size_t>(width));
  std::string group = "/activations/" + object_name(tap);
  if (!exists(file_, group)) {
    ensure_group(file_, group);
    create_growing(file_, group + "/values", H5T_NATIVE_FLOAT, {static_cast<hsize_t>(width)}, true);
    create_growing(file_, group + "/sample", H5T_NATIVE_INT64, {}, false);
    create_growing(file_, group + "/position", H5T_NATIVE_INT64, {}, false);
    create_growing(file_, group + "/edit", H5T_NATIVE_INT64, {}, false);
  }
  hsize_t rows = positions.size();
  if (rows == 0) return;
  std::vector<std::int64_t> samples(rows, sample), edits(rows, edit);
  append_rows(file_, group + "/values", H5T_NATIVE_FLOAT, rows, data);
  append_rows(file_, group + "/sample", H5T_NATIVE_INT64, rows, samples.data());
  append_rows(file_, group + "/position", H5T_NATIVE_INT64, rows, positions.data());
  append_rows(file_, group + "/edit", H5T_NATIVE_INT64, rows, edits.data());
}

void RunLog::commit_edits(const std::vector<EditRow>& rows) {
  Timer timer(seconds_writing_);
  if (rows.empty()) return;
  // New statistics get a column, back-filled with NaN for earlier edits.
  for (const EditRow& row : rows)
    for (const auto& [name, value] : row.stats) {
      std::string path = "/edits/stats/" + object_name(name);
      if (!exists(file_, path)) {
        create_growing(file_, path, H5T_NATIVE_DOUBLE, {}, false);
        set_rows(file_, path, static_cast<hsize_t>(edits_));  // fill value is NaN
      }
    }
  const hsize_t n = rows.size();
  for (const std::string& name : children(file_, "/edits/stats")) {
    std::vector<double> values;
    for (const EditRow& row : rows) {
      auto it = row.stats.find(name);
      values.push_back(it == row.stats.end() ? std::numeric_limits<double>::quiet_NaN() : it->second);
    }
    append_rows(file_, "/edits/stats/" + name, H5T_NATIVE_DOUBLE, n, values.data());
  }
  std::vector<const char*> entity, target, record;
  std::vector<std::int64_t> step;
  std::vector<double> wall;
  for (const EditRow& row : rows) {
    entity.push_back(row.entity.c_str());
    target.push_back(row.target.c_str());
    record.push_back(row.record_id.c_str());
    step.push_back(row.step);
    wall.push_back(row.wall_time_s);
  }
  append_rows(file_, "/edits/entity", columns_->strings, n, entity.data());
  append_rows(file_, "/edits/target", columns_->strings, n, target.data());
  append_rows(file_, "/edits/step", H5T_NATIVE_INT64, n, step.data());
  append_rows(file_, "/edits/wall_time_s", H5T_NATIVE_DOUBLE, n, wall.data());
  append_rows(file_, "/edits/record_id", columns_->strings, n, record.data());  // last: marks the unit complete
  edits_ += static_cast<std::int64_t>(n);
  if (journal_) journal_->commit(rows);  // from here on the unit survives a kill
  check(H5Fflush(file_, H5F_SCOPE_GLOBAL), "flushing");  // not flush(): this scope is timed already
  if (!path_.empty()) write_marker(path_, edits_);
}

std::vector<MetricRow> RunLog::read_metric(const std::string& name) const {
  std::string group = "/metrics/" + object_name(name);
  std::vector<MetricRow> rows;
  if (!exists(file_, group)) return rows;
  std::vector<std::int64_t> edit, checkpoint;
  std::vector<double> pre, post;
  std::vector<std::string> ids;
  try {
    edit = read_column<std::int64_t>(file_, group + "/edit", H5T_NATIVE_INT64);
    checkpoint = read_column<std::int64_t>(file_, group + "/checkpoint", H5T_NATIVE_INT64);
    pre = read_column<double>(file_, group + "/pre", H5T_NATIVE_DOUBLE);
    post = read_column<double>(file_, group + "/post", H5T_NATIVE_DOUBLE);
    ids = read_strings(file_, group + "/record_id");
  } catch (const Error& e) {
    // The structure opened (open_checked visits it) but a chunk does not
    // read back: its checksum or its compressed bytes are damaged.
    throw_damaged(path_, e.what());
  }
  std::size_t n = std::min({edit.size(), checkpoint.size(), pre.size(), post.size(), ids.size()});
  for (std::size_t i = 0; i < n; ++i) rows.push_back({edit[i], checkpoint[i], ids[i], pre[i], post[i]});
  return rows;
}

std::vector<std::string> RunLog::metric_names() const { return children(file_, "/metrics"); }

std::vector<GenerationRow> RunLog::read_generations(const std::string& probe) const {
  const std::string group = "/generations/" + object_name(probe);
  std::vector<GenerationRow> rows;
  if (!exists(file_, group)) return rows;
  std::vector<std::int64_t> edit, checkpoint, sample;
  std::vector<std::string> record, image, prompt, answer, references, pre, post;
  try {
    edit = read_column<std::int64_t>(file_, group + "/edit", H5T_NATIVE_INT64);
    checkpoint = read_column<std::int64_t>(file_, group + "/checkpoint", H5T_NATIVE_INT64);
    sample = read_column<std::int64_t>(file_, group + "/sample", H5T_NATIVE_INT64);
    record = read_strings(file_, group + "/record_id");
    image = read_strings(file_, group + "/image");
    prompt = read_strings(file_, group + "/prompt");
    answer = read_strings(file_, group + "/answer");
    references = read_strings(file_, group + "/references");
    pre = read_strings(file_, group + "/pre");
    post = read_strings(file_, group + "/post");
  } catch (const Error& e) {
    throw_damaged(path_, e.what());
  }
  const std::size_t n = std::min({edit.size(), checkpoint.size(), sample.size(), record.size(), image.size(),
                                  prompt.size(), answer.size(), references.size(), pre.size(), post.size()});
  for (std::size_t i = 0; i < n; ++i)
    rows.push_back({edit[i], checkpoint[i], record[i], sample[i], image[i], prompt[i], answer[i], references[i],
                    pre[i], post[i]});
  return rows;
}

std::vector<std::string> RunLog::generation_probes() const { return children(file_, "/generations"); }

std::int64_t RunLog::weight_rows(const std::string& param) const {
  std::string path = "/weights/" + object_name(param) + "/edit";
  return exists(file_, path) ? static_cast<std::int64_t>(rows_of(file_, path)) : 0;
}

void RunLog::flush() {
  Timer timer(seconds_writing_);
  check(H5Fflush(file_, H5F_SCOPE_GLOBAL), "flushing");
}

}  // namespace mike
