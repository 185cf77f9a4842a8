// Command-line flags for skiff-ml subcommands: `--name value` or `--name=value`, declared up front
// so unknown flags and malformed values fail with one line before any work starts.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "common/status.h"

namespace skiff::ml {

struct FlagSpec {
  std::string name;           // without the leading dashes
  std::string default_value;  // "" means unset unless given
  std::string help;
  bool is_bool = false;  // a bare `--name` sets it; `--name=false` clears it
};

class Flags {
 public:
  // Parses argv (the subcommand's own arguments, flags only). Rejects unknown flags, missing values
  // and positional arguments.
  static StatusOr<Flags> Parse(const std::vector<std::string>& args,
                               const std::vector<FlagSpec>& specs);

  bool Has(const std::string& name) const;  // given on the command line or defaulted non-empty
  std::string Str(const std::string& name) const;
  // Typed getters validate the value and its range; the error names the flag.
  StatusOr<long long> Int(const std::string& name, long long min, long long max) const;
  StatusOr<double> Double(const std::string& name, double min, double max) const;
  bool Bool(const std::string& name) const;

 private:
  std::map<std::string, std::string> values_;
};

// "  --name VALUE  help (default: x)" lines for `skiff-ml help`.
std::string FlagHelp(const std::vector<FlagSpec>& specs);

}  // namespace skiff::ml
