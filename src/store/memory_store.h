// The in-memory revision log: the whole history in a vector, for unit tests of other subsystems.
#pragma once

#include <mutex>
#include <vector>

#include "store/log.h"

namespace skiff::store {

// Thread-safety: all methods lock one mutex.
class MemoryLog : public Log {
 public:
  StatusOr<LogState> Load() override;
  Status Append(std::span<const LogRow> rows) override;
  StatusOr<ListResult> ListAt(const ListOptions& options, int64_t revision) override;
  Status ReadEvents(std::string_view prefix, int64_t after, int64_t upto,
                    std::vector<Event>* out) override;
  Status CompactTo(int64_t revision) override;

 private:
  std::mutex mu_;
  std::vector<LogRow> rows_;  // ascending revision
  int64_t compacted_ = 0;
};

}  // namespace skiff::store
