#include "apiserver/meta.h"

#include <mutex>
#include <random>

namespace skiff::apiserver {

namespace {

std::mt19937_64& Rng() {
  static std::mt19937_64 rng(std::random_device{}());
  return rng;
}
std::mutex& RngMu() {
  static std::mutex mu;
  return mu;
}

bool IsAlnumLower(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); }

constexpr char kSubdomainHint[] =
    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or "
    "'.', and must start and end with an alphanumeric character (e.g. 'example.com')";
constexpr char kLabelHint[] =
    "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and "
    "must start and end with an alphanumeric character (e.g. 'my-name')";

std::string Quote(const std::string& s) { return Json(s).dump(); }

// Kubernetes label values: up to 63 characters of [A-Za-z0-9_.-], alphanumeric at both ends.
bool ValidLabelValue(const std::string& v) {
  if (v.empty()) return true;
  if (v.size() > 63) return false;
  auto alnum = [](char c) { return std::isalnum(static_cast<unsigned char>(c)) != 0; };
  if (!alnum(v.front()) || !alnum(v.back())) return false;
  for (char c : v) {
    if (!alnum(c) && c != '-' && c != '_' && c != '.') return false;
  }
  return true;
}

// Label and annotation keys: an optional DNS subdomain prefix and '/', then a name of up to 63
// characters of [A-Za-z0-9_.-], alphanumeric at both ends.
bool ValidQualifiedName(const std::string& key) {
  std::string name = key;
  size_t slash = key.find('/');
  if (slash != std::string::npos) {
    std::string prefix = key.substr(0, slash);
    if (prefix.empty() || !CheckDns1123Subdomain(prefix).empty()) return false;
    name = key.substr(slash + 1);
  }
  if (name.empty()) return false;
  return ValidLabelValue(name);
}

}  // namespace

std::string CheckDns1123Subdomain(const std::string& name) {
  if (name.size() > 253) return "must be no more than 253 characters";
  bool ok = !name.empty() && IsAlnumLower(name.front()) && IsAlnumLower(name.back());
  for (size_t i = 0; ok && i < name.size(); ++i) {
    char c = name[i];
    if (c == '.') {
      ok = i > 0 && IsAlnumLower(name[i - 1]) && i + 1 < name.size() && IsAlnumLower(name[i + 1]);
    } else if (!IsAlnumLower(c) && c != '-') {
      ok = false;
    }
  }
  return ok ? "" : kSubdomainHint;
}

std::string CheckDns1123Label(const std::string& name) {
  if (name.size() > 63) return "must be no more than 63 characters";
  bool ok = !name.empty() && IsAlnumLower(name.front()) && IsAlnumLower(name.back());
  for (char c : name) ok = ok && (IsAlnumLower(c) || c == '-');
  return ok ? "" : kLabelHint;
}

void ValidateObjectMeta(const api::ResourceInfo& res, const Json& metadata,
                        std::vector<StatusCause>* causes) {
  const std::string name = metadata.value("name", "");
  std::string problem;
  if (res.group == "rbac.authorization.k8s.io") {
    // RBAC names only need to be usable as a path segment ("system:controller" is common).
    if (name == "." || name == ".." || name.find('/') != std::string::npos ||
        name.find('%') != std::string::npos)
      problem = "may not be '.' or '..' and may not contain '/' or '%'";
  } else if (res.kind == "Namespace" || res.kind == "Service") {
    problem = CheckDns1123Label(name);
  } else {
    problem = CheckDns1123Subdomain(name);
  }
  if (!problem.empty()) {
    causes->push_back(
        {"FieldValueInvalid", "Invalid value: " + Quote(name) + ": " + problem, "metadata.name"});
  }
  for (const char* field : {"labels", "annotations"}) {
    auto it = metadata.find(field);
    if (it == metadata.end() || it->is_null()) continue;
    if (!it->is_object()) {
      causes->push_back({"FieldValueInvalid", "Invalid value: must be a map of strings",
                         std::string("metadata.") + field});
      continue;
    }
    size_t total = 0;
    for (auto& [k, v] : it->items()) {
      std::string path = std::string("metadata.") + field;
      if (!ValidQualifiedName(k)) {
        causes->push_back({"FieldValueInvalid",
                           "Invalid value: " + Quote(k) +
                               ": name part must consist of alphanumeric characters, '-', '_' or "
                               "'.', and must start and end with an alphanumeric character",
                           path});
      }
      if (!v.is_string()) {
        causes->push_back({"FieldValueInvalid", "Invalid value: " + v.dump() + ": must be a string",
                           path + "[" + k + "]"});
        continue;
      }
      const std::string& value = v.get_ref<const std::string&>();
      total += k.size() + value.size();
      if (std::string(field) == "labels" && !ValidLabelValue(value)) {
        causes->push_back({"FieldValueInvalid",
                           "Invalid value: " + Quote(value) +
                               ": a valid label must be an empty string or consist of "
                               "alphanumeric characters, '-', '_' or '.', and must start and end "
                               "with an alphanumeric character (at most 63 characters)",
                           path});
      }
    }
    if (std::string(field) == "annotations" && total > 256 * 1024) {
      causes->push_back({"FieldValueTooLong", "Too long: must have at most 262144 bytes",
                         "metadata.annotations"});
    }
  }
  if (auto it = metadata.find("finalizers"); it != metadata.end() && !it->is_null()) {
    if (!it->is_array()) {
      causes->push_back(
          {"FieldValueInvalid", "Invalid value: must be a list of strings", "metadata.finalizers"});
    }
  }
  if (auto it = metadata.find("ownerReferences"); it != metadata.end() && it->is_array()) {
    for (size_t i = 0; i < it->size(); ++i) {
      const Json& ref = (*it)[i];
      std::string path = "metadata.ownerReferences[" + std::to_string(i) + "]";
      for (const char* f : {"apiVersion", "kind", "name", "uid"}) {
        if (!ref.contains(f) || !ref[f].is_string() || ref[f].get<std::string>().empty()) {
          causes->push_back({"FieldValueRequired", "Required value", path + "." + f});
        }
      }
    }
  }
}

std::string GenerateName(const std::string& prefix) {
  static const char kAlphabet[] = "bcdfghjklmnpqrstvwxz2456789";
  std::string out = prefix;
  std::lock_guard<std::mutex> lock(RngMu());
  for (int i = 0; i < 5; ++i) out += kAlphabet[Rng()() % (sizeof(kAlphabet) - 1)];
  return out;
}

std::string NewUid() {
  uint64_t a, b;
  {
    std::lock_guard<std::mutex> lock(RngMu());
    a = Rng()();
    b = Rng()();
  }
  a = (a & 0xffffffffffff0fffULL) | 0x0000000000004000ULL;  // version 4
  b = (b & 0x3fffffffffffffffULL) | 0x8000000000000000ULL;  // variant 10
  char buf[40];
  std::snprintf(buf, sizeof buf, "%08x-%04x-%04x-%04x-%012llx", static_cast<unsigned>(a >> 32),
                static_cast<unsigned>((a >> 16) & 0xffff), static_cast<unsigned>(a & 0xffff),
                static_cast<unsigned>(b >> 48),
                static_cast<unsigned long long>(b & 0xffffffffffffULL));
  return buf;
}

}  // namespace skiff::apiserver
