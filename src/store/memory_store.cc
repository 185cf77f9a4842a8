// MemoryLog and NewMemoryStore: the Store semantics with nothing on disk.
#include "store/memory_store.h"

#include <algorithm>
#include <map>
#include <unordered_set>

#include "store/indexed_store.h"

namespace skiff::store {
namespace {

bool HasPrefix(std::string_view s, std::string_view prefix) {
  return s.substr(0, prefix.size()) == prefix;
}

}  // namespace

StatusOr<LogState> MemoryLog::Load() { return LogState{}; }

Status MemoryLog::Append(std::span<const LogRow> rows) {
  std::lock_guard<std::mutex> l(mu_);
  rows_.insert(rows_.end(), rows.begin(), rows.end());
  return Status::Ok();
}

StatusOr<ListResult> MemoryLog::ListAt(const ListOptions& options, int64_t revision) {
  std::lock_guard<std::mutex> l(mu_);
  if (revision <= compacted_) {
    return Status::Gone("too old resource version: " + std::to_string(revision) + " (" +
                        std::to_string(compacted_) + ")");
  }
  std::map<std::string_view, const LogRow*> newest;
  for (const LogRow& row : rows_) {
    if (row.revision > revision) break;
    if (!HasPrefix(row.key, options.prefix)) continue;
    if (!options.start_after.empty() && row.key <= options.start_after) continue;
    newest[row.key] = &row;
  }
  ListResult result;
  result.revision = revision;
  for (const auto& [key, row] : newest) {
    if (row->deleted) continue;
    if (options.limit > 0 && static_cast<int64_t>(result.records.size()) == options.limit) {
      result.more = true;
      break;
    }
    result.records.push_back(Record{row->key, row->value, row->revision, row->create_revision});
  }
  return result;
}

Status MemoryLog::ReadEvents(std::string_view prefix, int64_t after, int64_t upto,
                             std::vector<Event>* out) {
  std::lock_guard<std::mutex> l(mu_);
  if (after < compacted_) {
    return Status::Gone("too old resource version: " + std::to_string(after) + " (" +
                        std::to_string(compacted_) + ")");
  }
  auto it = std::upper_bound(rows_.begin(), rows_.end(), after,
                             [](int64_t rev, const LogRow& row) { return rev < row.revision; });
  for (; it != rows_.end() && it->revision <= upto; ++it) {
    if (!HasPrefix(it->key, prefix)) continue;
    EventType type = it->deleted                           ? EventType::kDeleted
                     : it->create_revision == it->revision ? EventType::kCreated
                                                           : EventType::kUpdated;
    out->push_back(Event{type, Record{it->key, it->value, it->revision, it->create_revision}});
  }
  return Status::Ok();
}

Status MemoryLog::CompactTo(int64_t revision) {
  std::lock_guard<std::mutex> l(mu_);
  if (revision <= compacted_) return Status::Ok();
  std::unordered_set<int64_t> superseded;
  for (const LogRow& row : rows_) {
    if (row.revision > revision) break;
    if (row.prev_revision != 0) superseded.insert(row.prev_revision);
  }
  std::erase_if(rows_, [&](const LogRow& row) {
    return row.revision <= revision && (row.deleted || superseded.contains(row.revision));
  });
  compacted_ = revision;
  return Status::Ok();
}

std::unique_ptr<Store> NewMemoryStore() {
  // Loading an empty in-memory log cannot fail.
  return std::move(
      IndexedStore::Open(std::make_unique<MemoryLog>(), IndexedStoreOptions{}).value());
}

}  // namespace skiff::store
