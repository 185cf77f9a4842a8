// Output the way kubectl prints it: tab-aligned columns (Go's text/tabwriter rules), human ages,
// and errors as "Error from server (Reason): message".
#pragma once

#include <chrono>
#include <cstdint>
#include <iosfwd>
#include <optional>
#include <string>
#include <vector>

#include "common/json.h"
#include "common/status.h"

namespace skiff::cli {

// Aligns tab-separated cells like Go's tabwriter (no flags): a column block is a run of
// consecutive lines that have a tab-terminated cell in that column; each such cell is padded to
// the block's widest cell plus `padding`, and at least `min_width`. The last cell of a line is
// never padded. kubectl get uses (6, 3); kubectl describe uses (0, 2).
class TabWriter {
 public:
  TabWriter(size_t min_width, size_t padding) : min_width_(min_width), padding_(padding) {}
  // Adds text; lines end at '\n' and cells at '\t'.
  void Write(const std::string& text);
  // Writes every complete line, aligned, to `out`, and forgets them.
  void Flush(std::ostream& out);

 private:
  size_t Format(std::ostream& out, size_t line0, size_t line1, std::vector<size_t>* widths);
  void WriteLines(std::ostream& out, size_t line0, size_t line1, const std::vector<size_t>& widths);

  size_t min_width_, padding_;
  std::vector<std::vector<std::string>> lines_;
  std::string partial_;  // text after the last '\n'
};

// "45s", "5m3s", "17m", "4h10m", "2d3h", as Kubernetes' duration.HumanDuration prints an age.
std::string HumanDuration(std::chrono::seconds d);

// Seconds since the epoch of an RFC 3339 timestamp ("2024-05-01T10:00:00Z", fractions and
// offsets allowed), or nullopt.
std::optional<int64_t> ParseTimestamp(const std::string& text);

// The age of `timestamp` at `now` as HumanDuration, or "<unknown>" when it does not parse.
std::string AgeSince(const std::string& timestamp, std::chrono::system_clock::time_point now);

// Prints an error as kubectl does: errors the server sent as "Error from server (Reason): ...",
// connection failures as "Unable to connect to the server: ...", others as "error: ...".
// `context` ("error when creating \"f.yaml\"") goes between the reason and the message.
void PrintError(std::ostream& err, const Status& status, const std::string& context = "");
// An error found on this side (bad arguments, unreadable file): "error: message".
void PrintClientError(std::ostream& err, const std::string& message);
// True when the request never reached a server (refused, unresolvable, TLS failure).
bool IsTransportError(const Status& status);

// `-o yaml` / `-o json` rendering of one object (JSON indented by 4, like kubectl).
std::string FormatObject(const Json& object, const std::string& format);

}  // namespace skiff::cli
