// Flag parsing for skiff-ml; see flags.h.
#include "ml/flags.h"

#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <optional>
#include <sstream>

namespace skiff::ml {

StatusOr<Flags> Flags::Parse(const std::vector<std::string>& args,
                             const std::vector<FlagSpec>& specs) {
  Flags flags;
  std::map<std::string, const FlagSpec*> by_name;
  for (const auto& s : specs) {
    by_name[s.name] = &s;
    if (!s.default_value.empty()) flags.values_[s.name] = s.default_value;
  }
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a.rfind("--", 0) != 0 || a.size() == 2) {
      return Status::BadRequest("unexpected argument \"" + a + "\" (flags are --name value)");
    }
    std::string name = a.substr(2);
    std::optional<std::string> value;
    if (auto eq = name.find('='); eq != std::string::npos) {
      value = name.substr(eq + 1);
      name = name.substr(0, eq);
    }
    auto it = by_name.find(name);
    if (it == by_name.end()) return Status::BadRequest("unknown flag --" + name);
    if (it->second->is_bool) {
      std::string v = value.value_or("true");
      if (v != "true" && v != "false") {
        return Status::BadRequest("flag --" + name + " takes true or false, got \"" + v + "\"");
      }
      flags.values_[name] = v;
      continue;
    }
    if (!value) {
      if (i + 1 >= args.size()) return Status::BadRequest("flag --" + name + " needs a value");
      value = args[++i];
    }
    flags.values_[name] = *value;
  }
  return flags;
}

bool Flags::Has(const std::string& name) const {
  auto it = values_.find(name);
  return it != values_.end() && !it->second.empty();
}

std::string Flags::Str(const std::string& name) const {
  auto it = values_.find(name);
  return it == values_.end() ? "" : it->second;
}

StatusOr<long long> Flags::Int(const std::string& name, long long min, long long max) const {
  std::string v = Str(name);
  errno = 0;
  char* end = nullptr;
  long long n = std::strtoll(v.c_str(), &end, 10);
  if (v.empty() || *end != '\0' || errno == ERANGE) {
    return Status::BadRequest("flag --" + name + " must be an integer, got \"" + v + "\"");
  }
  if (n < min || n > max) {
    return Status::BadRequest("flag --" + name + " must be in [" + std::to_string(min) + ", " +
                              std::to_string(max) + "], got " + v);
  }
  return n;
}

StatusOr<double> Flags::Double(const std::string& name, double min, double max) const {
  std::string v = Str(name);
  char* end = nullptr;
  double d = std::strtod(v.c_str(), &end);
  if (v.empty() || *end != '\0' || !std::isfinite(d)) {
    return Status::BadRequest("flag --" + name + " must be a number, got \"" + v + "\"");
  }
  if (d < min || d > max) {
    std::ostringstream msg;
    msg << "flag --" << name << " must be in [" << min << ", " << max << "], got " << v;
    return Status::BadRequest(msg.str());
  }
  return d;
}

bool Flags::Bool(const std::string& name) const { return Str(name) == "true"; }

std::string FlagHelp(const std::vector<FlagSpec>& specs) {
  std::ostringstream out;
  for (const auto& s : specs) {
    std::string left = "  --" + s.name + (s.is_bool ? "" : " VALUE");
    out << left;
    out << std::string(left.size() < 26 ? 26 - left.size() : 1, ' ') << s.help;
    if (!s.default_value.empty() && !s.is_bool) out << " (default: " << s.default_value << ")";
    out << "\n";
  }
  return out.str();
}

}  // namespace skiff::ml
