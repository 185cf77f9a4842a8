// `skiff describe`'s rendering, exposed for tests.
#pragma once

#include <chrono>
#include <string>

#include "common/json.h"

namespace skiff::cli {

// kubectl's generic describer: Name, Namespace, Labels, Annotations, then every other field as
// indented "Title Case:  value" lines, then the Events section. `events` is an EventList, or null
// to leave the section out (listing them failed).
std::string DescribeObject(const Json& object, const Json& events,
                           std::chrono::system_clock::time_point now);

// "creationTimestamp" -> "Creation Timestamp", "apiVersion" -> "API Version", as kubectl labels.
std::string SmartLabel(const std::string& field);

}  // namespace skiff::cli
