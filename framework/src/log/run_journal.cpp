#include "log/run_journal.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <iterator>

#include "log/run_log.h"
#include "mike/error.h"

namespace mike {

namespace {

enum RecordType : std::uint32_t { kAttribute = 1, kMetric = 2, kWeightDelta = 3, kActivations = 4, kCommit = 5, kGenerations = 6 };

std::uint64_t fnv1a(const char* data, std::size_t size) {
  std::uint64_t hash = 1469598103934665603ULL;
  for (std::size_t i = 0; i < size; ++i) {
    hash ^= static_cast<unsigned char>(data[i]);
    hash *= 1099511628211ULL;
  }
  return hash;
}

// Fixed-width values in the machine's byte order: a journal is read back
// only by the machine (and build) that wrote it, while its run goes on.
class Writer {
 public:
  template <typename T>
  void put(T value) {
    out_.append(reinterpret_cast<const char*>(&value), sizeof value);
  }
  void text(const std::string& s) {
    put<std::uint64_t>(s.size());
    out_ += s;
  }
  void floats(const float* data, std::size_t count) {
    put<std::uint64_t>(count);
    out_.append(reinterpret_cast<const char*>(data), count * sizeof(float));
  }
  void ints(const std::vector<std::int64_t>& values) {
    put<std::uint64_t>(values.size());
    for (std::int64_t v : values) put(v);
  }
  const std::string& bytes() const { return out_; }

 private:
  std::string out_;
};

class Reader {
 public:
  Reader(const char* data, std::size_t size) : data_(data), size_(size) {}
  template <typename T>
  T get() {
    T value;
    need(sizeof value);
    std::memcpy(&value, data_ + at_, sizeof value);
    at_ += sizeof value;
    return value;
  }
  std::string text() {
    const auto n = get<std::uint64_t>();
    need(n);
    std::string s(data_ + at_, n);
    at_ += n;
    return s;
  }
  std::vector<float> floats() {
    const auto n = get<std::uint64_t>();
    if (n > size_ / sizeof(float)) throw Error("journal: bad float count");
    need(n * sizeof(float));
    std::vector<float> values(n);
    std::memcpy(values.data(), data_ + at_, n * sizeof(float));
    at_ += n * sizeof(float);
    return values;
  }
  std::vector<std::int64_t> ints() {
    const auto n = get<std::uint64_t>();
    if (n > size_ / sizeof(std::int64_t)) throw Error("journal: bad int count");
    std::vector<std::int64_t> values;
    for (std::uint64_t i = 0; i < n; ++i) values.push_back(get<std::int64_t>());
    return values;
  }

 private:
  void need(std::uint64_t n) const {
    if (n > size_ - at_) throw Error("journal: record shorter than its fields");
  }
  const char* data_;
  std::size_t size_;
  std::size_t at_ = 0;
};

void apply(std::uint32_t type, const std::string& payload, RunLog& log) {
  Reader in(payload.data(), payload.size());
  switch (type) {
    case kAttribute: {
      const std::string name = in.text();
      log.set_attribute(name, in.text());
      return;
    }
    case kMetric: {
      const std::string name = in.text();
      MetricRow row;
      row.edit = in.get<std::int64_t>();
      row.checkpoint = in.get<std::int64_t>();
      row.record_id = in.text();
      row.pre = in.get<double>();
      row.post = in.get<double>();
      log.append_metric(name, row);
      return;
    }
    case kGenerations: {
      const std::string probe = in.text();
      const auto count = in.get<std::uint64_t>();
      if (count > payload.size()) throw Error("journal: bad generation count");  // each row takes > 1 byte
      std::vector<GenerationRow> rows(count);
      for (GenerationRow& row : rows) {
        row.edit = in.get<std::int64_t>();
        row.checkpoint = in.get<std::int64_t>();
        row.record_id = in.text();
        row.sample = in.get<std::int64_t>();
        row.image = in.text();
        row.prompt = in.text();
        row.answer = in.text();
        row.references = in.text();
        row.pre = in.text();
        row.post = in.text();
      }
      log.append_generations(probe, rows);
      return;
    }
    case kWeightDelta: {
      const std::string param = in.text();
      const auto edit = in.get<std::int64_t>();
      const std::vector<std::int64_t> shape = in.ints();
      const std::vector<float> data = in.floats();
      log.append_weight_delta(param, edit, shape, data.data());
      return;
    }
    case kActivations: {
      const std::string tap = in.text();
      const auto edit = in.get<std::int64_t>();
      const auto sample = in.get<std::int64_t>();
      const std::vector<std::int64_t> positions = in.ints();
      const auto width = in.get<std::int64_t>();
      const std::vector<float> data = in.floats();
      log.append_activations(tap, edit, sample, positions, width, data.data());
      return;
    }
    case kCommit: {
      std::vector<EditRow> rows(in.get<std::uint64_t>());
      for (EditRow& row : rows) {
        row.record_id = in.text();
        row.entity = in.text();
        row.step = in.get<std::int64_t>();
        row.target = in.text();
        row.wall_time_s = in.get<double>();
        const auto stats = in.get<std::uint64_t>();
        for (std::uint64_t i = 0; i < stats; ++i) {
          const std::string name = in.text();
          row.stats[name] = in.get<double>();
        }
      }
      log.commit_edits(rows);
      return;
    }
    default:
      throw Error("journal: unknown record type " + std::to_string(type));
  }
}

}  // namespace

RunJournal::RunJournal(const std::filesystem::path& file) : file_(file) {
  fd_ = ::open(file.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (fd_ < 0)
    throw Error("cannot open the run journal " + file.string() + ": " + std::strerror(errno) +
                "; check the run folder is writable");
}

RunJournal::~RunJournal() {
  if (fd_ >= 0) ::close(fd_);
}

void RunJournal::append(std::uint32_t type, const std::string& payload) {
  Writer record;
  record.put(type);
  record.put<std::uint64_t>(payload.size());
  std::string bytes = record.bytes() + payload;
  const std::uint64_t check = fnv1a(payload.data(), payload.size());
  bytes.append(reinterpret_cast<const char*>(&check), sizeof check);
  for (std::size_t done = 0; done < bytes.size();) {
    const ssize_t n = ::write(fd_, bytes.data() + done, bytes.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0)
      throw Error("cannot write the run journal " + file_.string() + ": " + std::strerror(errno) +
                  "; check the disk has free space, then `mike run --resume` the run");
    done += static_cast<std::size_t>(n);
  }
}

void RunJournal::attribute(const std::string& name, const std::string& value) {
  Writer w;
  w.text(name);
  w.text(value);
  append(kAttribute, w.bytes());
}

void RunJournal::metric(const std::string& name, const MetricRow& row) {
  Writer w;
  w.text(name);
  w.put(row.edit);
  w.put(row.checkpoint);
  w.text(row.record_id);
  w.put(row.pre);
  w.put(row.post);
  append(kMetric, w.bytes());
}

void RunJournal::generations(const std::string& probe, const std::vector<GenerationRow>& rows) {
  Writer w;
  w.text(probe);
  w.put<std::uint64_t>(rows.size());
  for (const GenerationRow& row : rows) {
    w.put(row.edit);
    w.put(row.checkpoint);
    w.text(row.record_id);
    w.put(row.sample);
    w.text(row.image);
    w.text(row.prompt);
    w.text(row.answer);
    w.text(row.references);
    w.text(row.pre);
    w.text(row.post);
  }
  append(kGenerations, w.bytes());
}

void RunJournal::weight_delta(const std::string& param, std::int64_t edit, const std::vector<std::int64_t>& shape,
                              const float* data, std::size_t count) {
  Writer w;
  w.text(param);
  w.put(edit);
  w.ints(shape);
  w.floats(data, count);
  append(kWeightDelta, w.bytes());
}

void RunJournal::activations(const std::string& tap, std::int64_t edit, std::int64_t sample,
                             const std::vector<std::int64_t>& positions, std::int64_t width, const float* data,
                             std::size_t count) {
  Writer w;
  w.text(tap);
  w.put(edit);
  w.put(sample);
  w.ints(positions);
  w.put(width);
  w.floats(data, count);
  append(kActivations, w.bytes());
}

void RunJournal::commit(const std::vector<EditRow>& rows) {
  Writer w;
  w.put<std::uint64_t>(rows.size());
  for (const EditRow& row : rows) {
    w.text(row.record_id);
    w.text(row.entity);
    w.put(row.step);
    w.text(row.target);
    w.put(row.wall_time_s);
    w.put<std::uint64_t>(row.stats.size());
    for (const auto& [name, value] : row.stats) {
      w.text(name);
      w.put(value);
    }
  }
  append(kCommit, w.bytes());
}

std::int64_t RunJournal::replay(const std::filesystem::path& file, RunLog& log) {
  std::ifstream in(file, std::ios::binary);
  if (!in) return 0;
  const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  // First pass: the whole records, and where the last commit ends.
  struct Record {
    std::uint32_t type;
    std::string payload;
  };
  std::vector<Record> records;
  std::size_t at = 0, committed_end = 0, committed_records = 0;
  constexpr std::size_t kHead = sizeof(std::uint32_t) + sizeof(std::uint64_t);
  while (bytes.size() - at >= kHead + sizeof(std::uint64_t)) {
    Reader head(bytes.data() + at, kHead);
    const auto type = head.get<std::uint32_t>();
    const auto length = head.get<std::uint64_t>();
    if (length > bytes.size() - at - kHead - sizeof(std::uint64_t)) break;  // torn tail
    const char* payload = bytes.data() + at + kHead;
    std::uint64_t check = 0;
    std::memcpy(&check, payload + length, sizeof check);
    if (check != fnv1a(payload, length)) break;  // damaged: nothing after it is trusted
    records.push_back({type, std::string(payload, length)});
    at += kHead + length + sizeof check;
    if (type == kCommit) {
      committed_end = at;
      committed_records = records.size();
    }
  }
  std::int64_t commits = 0;
  for (std::size_t i = 0; i < committed_records; ++i) {
    apply(records[i].type, records[i].payload, log);
    commits += records[i].type == kCommit ? 1 : 0;
  }
  // What follows the last commit belongs to a unit that never finished.
  if (::truncate(file.c_str(), static_cast<off_t>(committed_end)) != 0)
    throw Error("cannot cut the run journal " + file.string() + " back to its last commit: " + std::strerror(errno));
  return commits;
}

}  // namespace mike
