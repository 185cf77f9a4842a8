// kubectl-compatible text output.
#include "cli/printer.h"

#include <ctime>
#include <ostream>

namespace skiff::cli {
namespace {

// Display width in code points: cells may hold UTF-8 and tabwriter counts runes.
size_t Width(const std::string& s) {
  size_t n = 0;
  for (unsigned char c : s) {
    if ((c & 0xC0) != 0x80) ++n;
  }
  return n;
}

}  // namespace

void TabWriter::Write(const std::string& text) {
  partial_ += text;
  size_t start = 0;
  for (size_t nl = partial_.find('\n'); nl != std::string::npos; nl = partial_.find('\n', start)) {
    std::vector<std::string> cells;
    size_t cell_start = start;
    for (size_t i = start; i <= nl; ++i) {
      if (i == nl || partial_[i] == '\t') {
        cells.push_back(partial_.substr(cell_start, i - cell_start));
        cell_start = i + 1;
      }
    }
    lines_.push_back(std::move(cells));
    start = nl + 1;
  }
  partial_.erase(0, start);
}

void TabWriter::Flush(std::ostream& out) {
  std::vector<size_t> widths;
  Format(out, 0, lines_.size(), &widths);
  lines_.clear();
}

// Go's tabwriter.format: recursively finds the block of lines that share column `widths.size()`
// and sizes it, so a line with fewer cells ends the block of a wider column.
size_t TabWriter::Format(std::ostream& out, size_t line0, size_t line1,
                         std::vector<size_t>* widths) {
  const size_t column = widths->size();
  for (size_t cur = line0; cur < line1; ++cur) {
    if (column + 1 >= lines_[cur].size()) continue;
    WriteLines(out, line0, cur, *widths);
    line0 = cur;
    size_t width = min_width_;
    for (; cur < line1; ++cur) {
      if (column + 1 >= lines_[cur].size()) break;
      width = std::max(width, Width(lines_[cur][column]) + padding_);
    }
    widths->push_back(width);
    Format(out, line0, cur, widths);
    widths->pop_back();
    line0 = cur;
    if (cur == line1) return line1;
    // `cur` has too few cells for this column; the loop's ++ would skip it, so revisit it.
    --cur;
  }
  WriteLines(out, line0, line1, *widths);
  return line1;
}

void TabWriter::WriteLines(std::ostream& out, size_t line0, size_t line1,
                           const std::vector<size_t>& widths) {
  for (size_t i = line0; i < line1; ++i) {
    const auto& cells = lines_[i];
    for (size_t j = 0; j < cells.size(); ++j) {
      out << cells[j];
      if (j + 1 < cells.size() && j < widths.size()) {
        const size_t w = Width(cells[j]);
        if (w < widths[j]) out << std::string(widths[j] - w, ' ');
      }
    }
    out << '\n';
  }
}

std::string HumanDuration(std::chrono::seconds d) {
  const int64_t seconds = d.count();
  if (seconds < -1) return "<invalid>";
  if (seconds < 0) return "0s";
  if (seconds < 60 * 2) return std::to_string(seconds) + "s";
  const int64_t minutes = seconds / 60;
  if (minutes < 10) {
    const int64_t s = seconds % 60;
    return std::to_string(minutes) + "m" + (s == 0 ? "" : std::to_string(s) + "s");
  }
  if (minutes < 60 * 3) return std::to_string(minutes) + "m";
  const int64_t hours = seconds / 3600;
  if (hours < 8) {
    const int64_t m = minutes % 60;
    return std::to_string(hours) + "h" + (m == 0 ? "" : std::to_string(m) + "m");
  }
  if (hours < 48) return std::to_string(hours) + "h";
  if (hours < 24 * 8) {
    const int64_t h = hours % 24;
    return std::to_string(hours / 24) + "d" + (h == 0 ? "" : std::to_string(h) + "h");
  }
  if (hours < 24 * 365 * 2) return std::to_string(hours / 24) + "d";
  if (hours < 24 * 365 * 8) {
    const int64_t days = (hours / 24) % 365;
    return std::to_string(hours / 24 / 365) + "y" + (days == 0 ? "" : std::to_string(days) + "d");
  }
  return std::to_string(hours / 24 / 365) + "y";
}

std::optional<int64_t> ParseTimestamp(const std::string& text) {
  std::tm tm = {};
  const char* rest = strptime(text.c_str(), "%Y-%m-%dT%H:%M:%S", &tm);
  if (rest == nullptr) return std::nullopt;
  if (*rest == '.') {
    ++rest;
    while (*rest >= '0' && *rest <= '9') ++rest;
  }
  int64_t offset = 0;
  if (*rest == 'Z' || *rest == 'z') {
    ++rest;
  } else if (*rest == '+' || *rest == '-') {
    int hh = 0, mm = 0;
    if (std::sscanf(rest + 1, "%2d:%2d", &hh, &mm) != 2) return std::nullopt;
    offset = (hh * 3600 + mm * 60) * (*rest == '+' ? 1 : -1);
    rest += 6;
  } else {
    return std::nullopt;
  }
  if (*rest != '\0') return std::nullopt;
  return static_cast<int64_t>(timegm(&tm)) - offset;
}

std::string AgeSince(const std::string& timestamp, std::chrono::system_clock::time_point now) {
  auto t = ParseTimestamp(timestamp);
  if (!t) return "<unknown>";
  const int64_t now_s =
      std::chrono::duration_cast<std::chrono::seconds>(now.time_since_epoch()).count();
  return HumanDuration(std::chrono::seconds(now_s - *t));
}

bool IsTransportError(const Status& status) {
  if (status.code() != Code::kUnavailable && status.code() != Code::kTimeout) return false;
  // The HTTP client's own failures (it never reached a server) start with what it was doing.
  for (const char* prefix :
       {"connecting to ", "resolving ", "sending to ", "reading response from ", "TLS handshake"}) {
    if (status.message().rfind(prefix, 0) == 0) return true;
  }
  return false;
}

void PrintError(std::ostream& err, const Status& status, const std::string& context) {
  if (status.ok()) return;
  const std::string message =
      context.empty() ? status.message() : context + ": " + status.message();
  if (IsTransportError(status)) {
    err << "Unable to connect to the server: " << message << "\n";
    return;
  }
  err << "Error from server (" << status.Reason() << "): " << message << "\n";
}

void PrintClientError(std::ostream& err, const std::string& message) {
  err << "error: " << message << "\n";
}

std::string FormatObject(const Json& object, const std::string& format) {
  if (format == "json") return object.dump(4, ' ', false, Json::error_handler_t::replace) + "\n";
  return ToYaml(object);
}

}  // namespace skiff::cli
