#include "controllers/namespace_controller.h"

#include <map>

#include "common/log.h"
#include "controllers/object_meta.h"
#include "controllers/stored_resources.h"

namespace skiff::controllers {
namespace {

constexpr char kFinalizer[] = "kubernetes";

Json Condition(const std::string& type, bool status, const std::string& reason,
               const std::string& message) {
  return {{"type", type},
          {"status", status ? "True" : "False"},
          {"reason", reason},
          {"message", message}};
}

// "pods. has 2 resource instances, configmaps. has 1 resource instances", as upstream words it.
std::string Summary(const std::map<std::string, int>& counts, const char* what) {
  std::string out;
  for (const auto& [name, n] : counts) {
    if (!out.empty()) out += ", ";
    out += name + " " + what + " " + std::to_string(n) + " resource instances";
  }
  return out;
}

}  // namespace

NamespaceReconciler::NamespaceReconciler(client::Client* client, api::ResourceRegistry* registry,
                                         Clock* clock)
    : client_(client), registry_(registry), clock_(clock) {}

StatusOr<Result> NamespaceReconciler::Reconcile(const Request& request) {
  auto ns = client_->Get(kNamespacesResource, "", request.name);
  if (!ns.ok()) {
    if (ns.status().code() == Code::kNotFound) return Result{};
    return ns.status();
  }
  if (!IsDeleting(*ns) || !HasFinalizer(*ns, kFinalizer)) return Result{};
  const std::string name = request.name;

  std::map<std::string, int> remaining;   // "pods." -> count
  std::map<std::string, int> finalizers;  // finalizer -> objects holding it
  std::vector<std::string> failures;
  for (const api::ResourcePtr& res : StoredResources(*registry_)) {
    if (!res->namespaced) continue;
    const client::Resource r = ClientResource(*res);
    auto list = client_->List(r, name, {});
    if (!list.ok()) {
      if (list.status().code() != Code::kNotFound) {
        failures.push_back(res->GroupResource() + ": " + list.status().message());
      }
      continue;
    }
    const std::string label = res->plural + "." + res->group;
    for (const Json& item : (*list)["items"]) {
      Json state = item;
      if (!IsDeleting(item)) {
        client::DeleteOptions opts;
        opts.propagation_policy = "Background";
        opts.precondition_uid = UidOf(item);
        auto deleted = client_->Delete(r, name, NameOf(item), opts);
        if (!deleted.ok()) {
          if (deleted.status().code() == Code::kNotFound) continue;
          if (deleted.status().code() == Code::kConflict) {  // replaced meanwhile: next round
            ++remaining[label];
            continue;
          }
          failures.push_back(res->GroupResource() + " \"" + NameOf(item) +
                             "\": " + deleted.status().message());
          ++remaining[label];
          continue;
        }
        state = std::move(*deleted);
        // Deleted outright: the returned object has no finalizers left to wait for.
        if (Finalizers(state).empty()) continue;
      }
      ++remaining[label];
      for (const std::string& f : Finalizers(state)) ++finalizers[f];
    }
  }

  if (remaining.empty() && failures.empty()) {
    // Re-read: the status update of an earlier round changed the resourceVersion.
    auto fresh = client_->Get(kNamespacesResource, "", name);
    if (!fresh.ok()) {
      if (fresh.status().code() == Code::kNotFound) return Result{};
      return fresh.status();
    }
    Json keep = Json::array();
    for (const std::string& f : Finalizers(*fresh)) {
      if (f != kFinalizer) keep.push_back(f);
    }
    Json patch = {{"metadata",
                   {{"finalizers", keep.empty() ? Json(nullptr) : keep},
                    {"resourceVersion", ResourceVersionOf(*fresh)}}}};
    auto patched =
        client_->Patch(kNamespacesResource, "", name, client::PatchType::kMerge, patch.dump());
    if (!patched.ok() && patched.status().code() != Code::kNotFound) return patched.status();
    SKIFF_LOG(Info) << "namespace " << name << ": content removed, finalizing";
    return Result{};
  }

  std::string failure_text;
  for (const std::string& f : failures) {
    if (!failure_text.empty()) failure_text += ", ";
    failure_text += f;
  }
  Json conditions = Json::array({
      Condition("NamespaceDeletionDiscoveryFailure", false, "ResourcesDiscovered",
                "All resources successfully discovered"),
      Condition("NamespaceDeletionGroupVersionParsingFailure", false, "ParsedGroupVersions",
                "All legacy kube types successfully parsed"),
      failures.empty()
          ? Condition("NamespaceDeletionContentFailure", false, "ContentDeleted",
                      "All content successfully deleted, may be waiting on finalization")
          : Condition("NamespaceDeletionContentFailure", true, "ContentDeletionFailed",
                      "Failed to delete all resource types, " + std::to_string(failures.size()) +
                          " remaining: " + failure_text),
      remaining.empty() ? Condition("NamespaceContentRemaining", false, "ContentRemoved",
                                    "All content successfully removed")
                        : Condition("NamespaceContentRemaining", true, "SomeResourcesRemain",
                                    "Some resources are remaining: " + Summary(remaining, "has")),
      finalizers.empty()
          ? Condition("NamespaceFinalizersRemaining", false, "ContentHasNoFinalizers",
                      "All content-preserving finalizers finished")
          : Condition("NamespaceFinalizersRemaining", true, "SomeFinalizersRemain",
                      "Some content in the namespace has finalizers remaining: " +
                          Summary(finalizers, "in")),
  });
  Status s = UpdateConditions(*ns, conditions);
  if (!s.ok()) {
    SKIFF_LOG(Warn) << "namespace " << name << ": status not updated: " << s.ToString();
  }
  if (!failures.empty()) return Status::Internal("namespace " + name + ": " + failure_text);
  return Result{.requeue_after = kRecheck};
}

Status NamespaceReconciler::UpdateConditions(const Json& ns, const Json& conditions) {
  // Keep lastTransitionTime of conditions whose status did not change, so `kubectl describe`
  // shows when each one last flipped; skip the write entirely when nothing changed.
  const Json* old = FindPath(ns, "status.conditions");
  const std::string now = FormatRfc3339(clock_->Now());
  Json merged = Json::array();
  bool changed = false;
  for (Json c : conditions) {
    const Json* prev = nullptr;
    if (old && old->is_array()) {
      for (const Json& o : *old) {
        if (o.is_object() && o.value("type", "") == c["type"]) prev = &o;
      }
    }
    if (prev && prev->value("status", "") == c["status"] && prev->contains("lastTransitionTime")) {
      c["lastTransitionTime"] = (*prev)["lastTransitionTime"];
      if (prev->value("message", "") != c["message"] || prev->value("reason", "") != c["reason"]) {
        changed = true;
      }
    } else {
      c["lastTransitionTime"] = now;
      changed = true;
    }
    merged.push_back(std::move(c));
  }
  if (!changed) return Status::Ok();
  Json patch = {{"status", {{"phase", "Terminating"}, {"conditions", merged}}}};
  auto patched = client_->Patch(kNamespacesResource, "", NameOf(ns), client::PatchType::kMerge,
                                patch.dump(), {}, "status");
  return patched.ok() ? Status::Ok() : patched.status();
}

}  // namespace skiff::controllers
