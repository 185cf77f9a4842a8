// The Pod status the node agent computes from its pod worker state (phase, conditions,
// container statuses, as the kubelet) and writes with optimistic concurrency.

#include "node/agent_impl.h"

namespace skiff::node {

std::string NodeAgent::Impl::Phase(const PodWorker* w) const {
  if (w->deadline_exceeded || w->shutdown_failed || !w->fixed_reason.empty()) return "Failed";
  std::string policy = Str(Field(w->pod, "spec"), "restartPolicy");
  if (policy.empty()) policy = "Always";
  for (const ContainerRun& c : w->inits) {
    if (c.running || !c.term) return "Pending";
    if (c.term->exit_code == 0) continue;
    return policy == "Never" ? "Failed" : "Pending";
  }
  int running = 0, waiting = 0, stopped = 0, succeeded = 0;
  for (const ContainerRun& c : w->containers) {
    if (c.running) {
      ++running;
    } else if (c.term) {
      ++stopped;
      if (c.term->exit_code == 0) ++succeeded;
    } else {
      ++waiting;
    }
  }
  if (waiting > 0) return "Pending";
  if (running > 0) return "Running";
  if (stopped > 0) {
    if (policy == "Always") return "Running";
    if (stopped == succeeded) return "Succeeded";
    if (policy == "Never") return "Failed";
    return "Running";
  }
  return "Pending";
}

Json NodeAgent::Impl::ContainerStatus(const PodWorker* w, const ContainerRun& c) const {
  Json cs = {{"name", c.name},
             {"image", Str(c.spec, "image")},
             {"imageID", c.image_id.empty() ? "" : "skiff-image://" + c.image_id},
             {"ready", c.ready},
             {"started", c.running && c.started},
             {"restartCount", std::max(0, c.runs - 1)}};
  if (!c.id.empty() && c.runs > 0) cs["containerID"] = "skiff://" + c.id;
  Json state = Json::object();
  Json last = Json::object();
  const bool restart_pending = !c.running && c.term && !w->terminal && !w->terminating &&
                               !shutting_down_ && !c.waiting_reason.empty();
  if (c.running) {
    state["running"] = {{"startedAt", FormatRfc3339(c.started_at)}};
    if (c.last_term) last["terminated"] = TerminatedJson(*c.last_term);
  } else if (restart_pending) {
    Json waiting = {{"reason", c.waiting_reason}};
    if (!c.waiting_message.empty()) waiting["message"] = c.waiting_message;
    state["waiting"] = waiting;
    last["terminated"] = TerminatedJson(*c.term);
  } else if (c.term) {
    state["terminated"] = TerminatedJson(*c.term);
    if (c.last_term) last["terminated"] = TerminatedJson(*c.last_term);
  } else {
    std::string reason = c.waiting_reason;
    std::string message = c.waiting_message;
    if (reason.empty() && !w->prepared && !w->prepare_reason.empty()) {
      reason = w->prepare_reason;
      message = w->prepare_message;
    }
    if (reason.empty()) {
      bool inits_done = true;
      for (const ContainerRun& i : w->inits) {
        inits_done &= i.term && i.term->exit_code == 0;
      }
      reason = (!c.init && !inits_done) ? "PodInitializing" : "ContainerCreating";
    }
    Json waiting = {{"reason", reason}};
    if (!message.empty()) waiting["message"] = message;
    state["waiting"] = waiting;
  }
  cs["state"] = state;
  cs["lastState"] = last;
  return cs;
}

Json NodeAgent::Impl::ComputeStatus(PodWorker* w) {
  Json status = Field(w->pod, "status").is_object() ? Field(w->pod, "status") : Json::object();
  const std::string phase = Phase(w);
  status["phase"] = phase;
  status.erase("reason");
  status.erase("message");
  if (w->deadline_exceeded) {
    status["reason"] = "DeadlineExceeded";
    status["message"] = "Pod was active on the node longer than the specified deadline";
  } else if (w->shutdown_failed) {
    status["reason"] = "Terminated";
    status["message"] = "Pod was terminated in response to imminent node shutdown.";
  } else if (!w->fixed_reason.empty()) {
    status["reason"] = w->fixed_reason;
    status["message"] = w->fixed_message;
  }
  status["hostIP"] = "127.0.0.1";
  status["hostIPs"] = Json::array({{{"ip", "127.0.0.1"}}});
  if (!w->ip.empty()) {
    status["podIP"] = w->ip;
    status["podIPs"] = Json::array({{{"ip", w->ip}}});
  }
  if (w->start_time != SysTime{}) status["startTime"] = FormatRfc3339(w->start_time);
  status["qosClass"] = QosClass(w->pod);

  Json inits = Json::array(), containers = Json::array();
  std::vector<std::string> not_init, not_ready;
  for (const ContainerRun& c : w->inits) {
    inits.push_back(ContainerStatus(w, c));
    if (!(c.term && c.term->exit_code == 0)) not_init.push_back(c.name);
  }
  for (const ContainerRun& c : w->containers) {
    Json cs = ContainerStatus(w, c);
    // Without a readiness probe a running, started container is ready.
    bool ready = c.running && (Field(c.spec, "readinessProbe").is_object() ? c.ready : c.started);
    cs["ready"] = ready;
    if (!ready) not_ready.push_back(c.name);
    containers.push_back(std::move(cs));
  }
  if (!inits.empty()) {
    status["initContainerStatuses"] = inits;
  } else {
    status.erase("initContainerStatuses");
  }
  status["containerStatuses"] = containers;

  auto join = [](const std::vector<std::string>& names) {
    std::string s;
    for (const auto& n : names) s += (s.empty() ? "" : " ") + n;
    return "[" + s + "]";
  };
  const auto& caps = runtime_->capabilities();
  const bool terminal_phase = phase == "Succeeded" || phase == "Failed";
  std::vector<Json> ours;
  auto cond = [&](const std::string& type, bool ok, const std::string& reason,
                  const std::string& message) {
    Json c = {{"type", type}, {"status", ok ? "True" : "False"}};
    if (!reason.empty()) c["reason"] = reason;
    if (!message.empty()) c["message"] = message;
    ours.push_back(c);
  };
  cond("PodReadyToStartContainers", w->prepared && !terminal_phase, "", "");
  if (not_init.empty()) {
    cond("Initialized", true, "", "");
  } else {
    cond("Initialized", false, "ContainersNotInitialized",
         "containers with incomplete status: " + join(not_init));
  }
  std::string nr_reason =
      terminal_phase && phase == "Succeeded" ? "PodCompleted" : "ContainersNotReady";
  if (not_ready.empty() && !terminal_phase) {
    cond("ContainersReady", true, "", "");
    cond("Ready", true, "", "");
  } else {
    std::string msg = terminal_phase && phase == "Succeeded"
                          ? ""
                          : "containers with unready status: " + join(not_ready);
    cond("ContainersReady", false, nr_reason, msg);
    cond("Ready", false, nr_reason, msg);
  }
  if (caps.bubblewrap && WantsPlainProcess(w->pod)) {
    cond("skiff.io/Sandbox", false, "PlainProcess",
         std::string("containers run as plain processes, as the Pod's ") + kSandboxAnnotation +
             " annotation asks");
  } else if (caps.bubblewrap) {
    cond("skiff.io/Sandbox", true, "Bubblewrap",
         "containers run in a bubblewrap sandbox: private /tmp, read-only host, the Pod's volumes "
         "and /etc/hosts");
  } else {
    cond("skiff.io/Sandbox", false, "PlainProcess",
         "containers run as plain processes" +
             (caps.detail.empty() ? std::string() : ": " + caps.detail));
  }
  {
    std::vector<std::string> enforced;
    bool any_limit = false;
    for (const ContainerRun& c : w->containers) {
      const Json& limits = Field(Field(c.spec, "resources"), "limits");
      std::string part;
      if (limits.contains("memory")) part += " memory=" + Field(limits, "memory").dump();
      if (limits.contains("cpu")) part += " cpu=" + Field(limits, "cpu").dump();
      if (!part.empty()) {
        any_limit = true;
        part.erase(std::remove(part.begin(), part.end(), '"'), part.end());
        enforced.push_back(c.name + ":" + part);
      }
    }
    std::string reason = caps.limits == "cgroup-v2"   ? "CgroupV2"
                         : caps.limits == "cgroup-v1" ? "CgroupV1"
                                                      : "Rlimit";
    if (!any_limit) {
      cond("skiff.io/ResourceLimits", false, "NoLimits", "no container sets resource limits");
    } else {
      std::string msg;
      for (const auto& e : enforced) msg += (msg.empty() ? "" : "; ") + e;
      if (reason == "Rlimit") {
        msg += " (memory as an address-space rlimit, cpu not enforced";
        if (!caps.detail.empty()) msg += "; " + caps.detail;
        msg += ")";
      } else {
        msg += " (" + caps.limits + ")";
      }
      cond("skiff.io/ResourceLimits", true, reason, msg);
    }
  }
  // Merge: keep conditions owned by others (PodScheduled), keep transition times that still hold.
  const std::string now = FormatRfc3339(Clock::Real()->Now());
  Json old_conditions = status.value("conditions", Json::array());
  Json conditions = Json::array();
  std::set<std::string> our_types;
  for (const Json& c : ours) our_types.insert(c["type"].get<std::string>());
  for (const Json& c : old_conditions) {
    if (!our_types.count(Str(c, "type"))) conditions.push_back(c);
  }
  for (Json c : ours) {
    std::string t = c["type"];
    std::string when = now;
    for (const Json& oc : old_conditions) {
      if (Str(oc, "type") == t && Str(oc, "status") == c["status"] &&
          !Str(oc, "lastTransitionTime").empty()) {
        when = Str(oc, "lastTransitionTime");
      }
    }
    c["lastTransitionTime"] = when;
    c["lastProbeTime"] = nullptr;
    conditions.push_back(c);
  }
  status["conditions"] = conditions;
  return status;
}

bool NodeAgent::Impl::WriteStatus(PodWorker* w, const Json& status) {
  Json obj = w->pod;
  obj["status"] = status;
  for (int attempt = 0; attempt < 5; ++attempt) {
    auto r = client_->UpdateStatus(kPods, w->ns, obj);
    if (r.ok()) {
      w->pod = std::move(*r);
      w->last_status = status;
      return true;
    }
    if (r.status().code() == Code::kNotFound) {
      w->last_status = status;
      return true;
    }
    if (r.status().code() != Code::kConflict) {
      SKIFF_LOG(Warn) << "node agent: status of " << w->key << ": " << r.status().ToString();
      return false;
    }
    auto fresh = client_->Get(kPods, w->ns, w->name);
    if (!fresh.ok()) return fresh.status().code() == Code::kNotFound;
    if (UidOf(*fresh) != w->uid) return true;
    w->pod = std::move(*fresh);
    Json recomputed = ComputeStatus(w);
    obj = w->pod;
    obj["status"] = recomputed;
  }
  return false;
}

}  // namespace skiff::node
