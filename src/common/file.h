// Small file helpers behind one seam.
#pragma once

#include <string>
#include <string_view>

#include "common/status.h"

namespace skiff {

StatusOr<std::string> ReadFile(const std::string& path);
// Writes via a temporary file, fsync and rename, so readers never see a partial file.
Status WriteFileAtomic(const std::string& path, std::string_view content, int mode);

}  // namespace skiff
