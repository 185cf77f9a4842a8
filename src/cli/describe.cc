// `skiff describe`: an object's fields in kubectl's generic describer layout, plus the Events
// whose involvedObject is that object.
#include "cli/describe.h"

#include <algorithm>
#include <cctype>
#include <ostream>
#include <set>
#include <sstream>

#include "cli/apply.h"
#include "cli/commands.h"
#include "cli/printer.h"
#include "cli/resources.h"
#include "cli/session.h"

namespace skiff::cli {
namespace {

constexpr size_t kMaxAnnotationLen = 140;

std::string Indent(int level) { return std::string(2 * level, ' '); }

std::string ScalarText(const Json& v) {
  if (v.is_string()) return v.get<std::string>();
  if (v.is_null()) return "<nil>";
  if (v.is_boolean()) return v.get<bool>() ? "true" : "false";
  return v.dump();
}

// kubectl's printUnstructuredContent: keys sorted, maps and lists open a nested level, list items
// that are maps print their fields one level deeper.
void PrintContent(TabWriter* w, int level, const Json& content, const std::string& prefix,
                  const std::set<std::string>& skip) {
  for (const auto& [field, value] : content.items()) {  // nlohmann objects iterate sorted
    const std::string path = prefix + "." + field;
    if (skip.count(path)) continue;
    if (value.is_object()) {
      w->Write(Indent(level) + SmartLabel(field) + ":\n");
      PrintContent(w, level + 1, value, path, skip);
    } else if (value.is_array()) {
      w->Write(Indent(level) + SmartLabel(field) + ":\n");
      for (const Json& child : value) {
        if (child.is_object()) {
          PrintContent(w, level + 1, child, path, skip);
        } else {
          w->Write(Indent(level + 1) + ScalarText(child) + "\n");
        }
      }
    } else {
      w->Write(Indent(level) + SmartLabel(field) + ":\t" + ScalarText(value) + "\n");
    }
  }
}

void PrintLabels(TabWriter* w, const Json* labels) {
  w->Write("Labels:\t");
  if (!labels || !labels->is_object() || labels->empty()) {
    w->Write("<none>\n");
    return;
  }
  bool first = true;
  for (const auto& [k, v] : labels->items()) {
    if (!first) w->Write("\t");
    first = false;
    w->Write(k + "=" + ScalarText(v) + "\n");
  }
}

std::string Shorten(const std::string& s, size_t max) {
  return s.size() > max ? s.substr(0, max) + "..." : s;
}

void PrintAnnotations(TabWriter* w, const Json* annotations) {
  w->Write("Annotations:\t");
  std::vector<std::pair<std::string, std::string>> shown;
  if (annotations && annotations->is_object()) {
    for (const auto& [k, v] : annotations->items()) {
      // kubectl hides apply's bookkeeping: it repeats the whole object.
      if (k == kLastAppliedAnnotation) continue;
      shown.emplace_back(k, ScalarText(v));
    }
  }
  if (shown.empty()) {
    w->Write("<none>\n");
    return;
  }
  for (size_t i = 0; i < shown.size(); ++i) {
    if (i) w->Write("\t");
    const std::string& key = shown[i].first;
    std::string value = shown[i].second;
    while (!value.empty() && value.back() == '\n') value.pop_back();
    if (value.size() + key.size() + 2 > kMaxAnnotationLen ||
        value.find('\n') != std::string::npos) {
      w->Write(key + ":\n");
      std::stringstream lines(value);
      std::string line;
      while (std::getline(lines, line))
        w->Write("\t  " + Shorten(line, kMaxAnnotationLen - 2) + "\n");
    } else {
      w->Write(key + ": " + value + "\n");
    }
  }
}

std::string Str(const Json& obj, const char* path) {
  const Json* v = FindPath(obj, path);
  return v && v->is_string() ? v->get<std::string>() : "";
}

// The time an event last happened, for ordering: lastTimestamp, eventTime, firstTimestamp.
std::string EventTime(const Json& e) {
  for (const char* f :
       {"lastTimestamp", "series.lastObservedTime", "eventTime", "firstTimestamp"}) {
    std::string t = Str(e, f);
    if (!t.empty()) return t;
  }
  return Str(e, "metadata.creationTimestamp");
}

// Writes into the describer's own TabWriter, as kubectl does: "Events: <none>" aligns with the
// fields above it, while a table of events starts a block of its own.
void PrintEvents(std::ostream& out, TabWriter* w, const Json& events,
                 std::chrono::system_clock::time_point now) {
  std::vector<Json> items;
  if (events.contains("items") && events["items"].is_array()) {
    items.assign(events["items"].begin(), events["items"].end());
  }
  if (items.empty()) {
    w->Write("Events:\t<none>\n");
    return;
  }
  w->Flush(out);
  std::stable_sort(items.begin(), items.end(), [](const Json& a, const Json& b) {
    return ParseTimestamp(EventTime(a)).value_or(0) < ParseTimestamp(EventTime(b)).value_or(0);
  });
  w->Write("Events:\n  Type\tReason\tAge\tFrom\tMessage\n");
  w->Write("  ----\t------\t----\t----\t-------\n");
  for (const Json& e : items) {
    std::string first = Str(e, "eventTime");
    if (first.empty()) first = Str(e, "firstTimestamp");
    if (first.empty()) first = Str(e, "metadata.creationTimestamp");
    const std::string first_age = AgeSince(first, now);
    const Json* count = FindPath(e, "count");
    const Json* series_count = FindPath(e, "series.count");
    std::string interval = first_age;
    if (series_count && series_count->is_number()) {
      interval = AgeSince(Str(e, "series.lastObservedTime"), now) + " (x" + series_count->dump() +
                 " over " + first_age + ")";
    } else if (count && count->is_number_integer() && count->get<int64_t>() > 1) {
      interval = AgeSince(Str(e, "lastTimestamp"), now) + " (x" + count->dump() + " over " +
                 first_age + ")";
    }
    std::string source = Str(e, "source.component");
    if (source.empty()) source = Str(e, "reportingComponent");
    std::string message = Str(e, "message");
    while (!message.empty() && std::isspace(static_cast<unsigned char>(message.back()))) {
      message.pop_back();
    }
    w->Write("  " + Str(e, "type") + "\t" + Str(e, "reason") + "\t" + interval + "\t" + source +
             "\t" + message + "\n");
  }
}

}  // namespace

std::string SmartLabel(const std::string& field) {
  // Paths, keys with digits or dots (`nvidia.com/gpu`, `v1`) are printed as they are.
  for (char c : field) {
    if (!std::isalpha(static_cast<unsigned char>(c)) && c != '-') return field;
  }
  // camelcase.Split: a new word starts at a lower->upper change, and before the last capital of
  // a run of capitals followed by lower case ("HTTPServer" -> "HTTP", "Server").
  std::vector<std::string> parts;
  std::string cur;
  for (size_t i = 0; i < field.size(); ++i) {
    const char c = field[i];
    const bool upper = std::isupper(static_cast<unsigned char>(c));
    if (!cur.empty()) {
      const char prev = cur.back();
      const bool prev_upper = std::isupper(static_cast<unsigned char>(prev));
      const bool next_lower =
          i + 1 < field.size() && std::islower(static_cast<unsigned char>(field[i + 1]));
      const bool prev_alpha = std::isalpha(static_cast<unsigned char>(prev));
      if ((upper && !prev_upper && prev_alpha) || (upper && prev_upper && next_lower) ||
          (c == '-') != (prev == '-')) {
        parts.push_back(cur);
        cur.clear();
      }
    }
    cur += c;
  }
  if (!cur.empty()) parts.push_back(cur);
  std::string out;
  for (std::string part : parts) {
    std::string up = part;
    std::transform(up.begin(), up.end(), up.begin(),
                   [](unsigned char ch) { return static_cast<char>(std::toupper(ch)); });
    if (up == "API" || up == "URL" || up == "UID" || up == "OSB" || up == "GUID") {
      part = up;
    } else {
      part[0] = static_cast<char>(std::toupper(static_cast<unsigned char>(part[0])));
    }
    if (!out.empty()) out += " ";
    out += part;
  }
  return out;
}

std::string DescribeObject(const Json& object, const Json& events,
                           std::chrono::system_clock::time_point now) {
  std::ostringstream out;
  TabWriter w(0, 2);
  w.Write("Name:\t" + Str(object, "metadata.name") + "\n");
  w.Write("Namespace:\t" + Str(object, "metadata.namespace") + "\n");
  PrintLabels(&w, FindPath(object, "metadata.labels"));
  PrintAnnotations(&w, FindPath(object, "metadata.annotations"));
  // managedFields is the server's bookkeeping of who set what, noise to a reader.
  PrintContent(&w, 0, object, "",
               {".metadata.name", ".metadata.namespace", ".metadata.labels",
                ".metadata.annotations", ".metadata.managedFields"});
  if (!events.is_null()) PrintEvents(out, &w, events, now);
  w.Flush(out);
  return out.str();
}

int RunDescribe(const ConnectionFlags& flags, const DescribeOptions& options, Streams io) {
  auto opened = Session::Open(flags);
  if (!opened.ok()) {
    PrintClientError(io.err, opened.status().message());
    return 1;
  }
  Session* s = opened->get();
  auto requests = ResolveResourceArgs(s, options.args);
  if (!requests.ok()) {
    PrintResolveError(io.err, requests.status());
    return 1;
  }
  bool failed = false;
  bool first = true;
  for (const ResourceRequest& r : *requests) {
    const std::string ns =
        !r.mapping.namespaced || options.all_namespaces ? "" : s->default_namespace();
    std::vector<Json> objects;
    for (const std::string& name : r.names) {
      auto obj = s->client()->Get(r.mapping.resource, ns, name);
      if (!obj.ok()) {
        PrintError(io.err, obj.status());
        failed = true;
        continue;
      }
      objects.push_back(std::move(*obj));
    }
    if (r.names.empty()) {
      client::ListOptions lo;
      lo.label_selector = options.label_selector;
      auto list = s->client()->List(r.mapping.resource, ns, lo);
      if (!list.ok()) {
        PrintError(io.err, list.status());
        failed = true;
        continue;
      }
      for (Json& item : (*list)["items"]) {
        if (!item.contains("apiVersion")) item["apiVersion"] = r.mapping.ApiVersion();
        if (!item.contains("kind")) item["kind"] = r.mapping.kind;
        objects.push_back(std::move(item));
      }
    }
    for (const Json& obj : objects) {
      client::ListOptions lo;
      const std::string obj_ns = Str(obj, "metadata.namespace");
      lo.field_selector = "involvedObject.name=" + Str(obj, "metadata.name") +
                          ",involvedObject.namespace=" + obj_ns +
                          ",involvedObject.uid=" + Str(obj, "metadata.uid");
      auto events = s->client()->List({"", "v1", "events"}, obj_ns, lo);
      if (!first) io.out << "\n\n";
      first = false;
      io.out << DescribeObject(obj, events.ok() ? *events : Json(nullptr),
                               std::chrono::system_clock::now());
    }
  }
  return failed ? 1 : 0;
}

}  // namespace skiff::cli
