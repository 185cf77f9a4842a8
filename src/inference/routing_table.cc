// Route resolution and snapshot publication.
#include "inference/routing_table.h"

#include <algorithm>
#include <cctype>

namespace skiff::inference {

namespace {

bool EndsWith(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// The entry component of a service for `path`.
const ComponentRoute* EntryComponent(const ServiceRoute& s, std::string_view path) {
  const std::string_view no_query = path.substr(0, path.find('?'));
  if (EndsWith(no_query, ":explain") && s.explainer) return &*s.explainer;
  if (s.transformer) return &*s.transformer;
  return s.predictor ? &*s.predictor : nullptr;
}

// "ns", "name" → the service and component, trying "{isvc}-{component}" names second.
std::optional<RouteTarget> Find(const RoutingSnapshot& snap, const std::string& ns,
                                const std::string& name, std::string_view path) {
  auto it = snap.services.find(ns + "/" + name);
  if (it != snap.services.end()) {
    const ComponentRoute* c = EntryComponent(*it->second, path);
    if (!c) return std::nullopt;
    return RouteTarget{it->second, c, std::string(path)};
  }
  for (const char* component : {"predictor", "transformer", "explainer"}) {
    const std::string suffix = std::string("-") + component;
    if (!EndsWith(name, suffix)) continue;
    auto svc = snap.services.find(ns + "/" + name.substr(0, name.size() - suffix.size()));
    if (svc == snap.services.end()) continue;
    const ComponentRoute* c = svc->second->Component(component);
    if (!c) return std::nullopt;
    return RouteTarget{svc->second, c, std::string(path)};
  }
  return std::nullopt;
}

}  // namespace

const RevisionRoute* ComponentRoute::Pick() const {
  if (revisions.empty()) return nullptr;
  if (revisions.size() == 1) return &revisions[0];
  constexpr double kGolden = 0.6180339887498949;
  const uint64_t n = counter->fetch_add(1, std::memory_order_relaxed);
  const double x = static_cast<double>(n) * kGolden;
  const double u = (x - static_cast<double>(static_cast<uint64_t>(x))) * 100.0;
  double cumulative = 0;
  for (const RevisionRoute& r : revisions) {
    cumulative += r.percent;
    if (u < cumulative) return &r;
  }
  return &revisions.back();
}

const ComponentRoute* ServiceRoute::Component(const std::string& component) const {
  if (component == "predictor") return predictor ? &*predictor : nullptr;
  if (component == "transformer") return transformer ? &*transformer : nullptr;
  if (component == "explainer") return explainer ? &*explainer : nullptr;
  return nullptr;
}

std::optional<RouteTarget> ResolveRoute(const RoutingSnapshot& snap, std::string_view host,
                                        std::string_view target) {
  if (target.substr(0, kPathPrefix.size()) == kPathPrefix) {
    std::string_view rest = target.substr(kPathPrefix.size());
    const size_t slash1 = rest.find('/');
    if (slash1 == std::string_view::npos || slash1 == 0) return std::nullopt;
    const std::string ns(rest.substr(0, slash1));
    rest = rest.substr(slash1 + 1);
    size_t end = rest.find_first_of("/?");
    const std::string name(rest.substr(0, end));
    std::string path = end == std::string_view::npos ? "/" : std::string(rest.substr(end));
    if (!path.empty() && path[0] == '?') path = "/" + path;
    if (name.empty()) return std::nullopt;
    return Find(snap, ns, name, path);
  }
  std::string h = Lower(host.substr(
      0, host.rfind(':') == std::string_view::npos || host.find(']') != std::string_view::npos
             ? host.size()
             : host.rfind(':')));
  for (const std::string& suffix :
       {"." + Lower(snap.domain), std::string(".svc.cluster.local"), std::string(".svc")}) {
    if (EndsWith(h, suffix) && h.size() > suffix.size()) {
      h.resize(h.size() - suffix.size());
      break;
    }
  }
  const size_t dot = h.find('.');
  if (dot == std::string::npos || dot == 0 || h.find('.', dot + 1) != std::string::npos) {
    return std::nullopt;
  }
  return Find(snap, h.substr(dot + 1), h.substr(0, dot), target);
}

RoutingTable::RoutingTable(std::string domain)
    : domain_(std::move(domain)), current_(std::make_shared<RoutingSnapshot>()) {
  auto snap = std::make_shared<RoutingSnapshot>();
  snap->domain = domain_;
  current_ = snap;
}

std::shared_ptr<const RoutingSnapshot> RoutingTable::Current() const {
  std::lock_guard<std::mutex> lock(mu_);
  return current_;
}

void RoutingTable::Publish(ServiceRoute route) {
  const std::string key = route.ns + "/" + route.name;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = current_->services.find(key);
    if (it != current_->services.end() && it->second->signature == route.signature &&
        !route.signature.empty()) {
      return;
    }
    auto copy = std::make_shared<RoutingSnapshot>(*current_);
    copy->services[key] = std::make_shared<const ServiceRoute>(std::move(route));
    Swap(std::move(copy));
  }
  Notify();
}

void RoutingTable::Remove(const std::string& ns, const std::string& name) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!current_->services.count(ns + "/" + name)) return;
    auto copy = std::make_shared<RoutingSnapshot>(*current_);
    copy->services.erase(ns + "/" + name);
    Swap(std::move(copy));
  }
  Notify();
}

void RoutingTable::Swap(std::shared_ptr<const RoutingSnapshot> next) {
  current_ = std::move(next);
  version_.fetch_add(1, std::memory_order_release);
}

void RoutingTable::Notify() {
  std::vector<std::function<void()>> listeners;
  {
    std::lock_guard<std::mutex> lock(mu_);
    listeners = listeners_;
  }
  for (auto& l : listeners) l();
}

void RoutingTable::AddListener(std::function<void()> listener) {
  std::lock_guard<std::mutex> lock(mu_);
  listeners_.push_back(std::move(listener));
}

}  // namespace skiff::inference
