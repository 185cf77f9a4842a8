// Probes (startup, liveness, readiness) and exec hooks of the node agent: one timer queue
// schedules them, a small pool runs them, results go to the Pod's mailbox.

#include "node/agent_impl.h"

namespace skiff::node {

void NodeAgent::Impl::ScheduleProbes(PodWorker* w, ContainerRun* c) {
  if (c->init) return;
  for (const char* kind : {"startup", "liveness", "readiness"}) {
    const Json& probe = Field(c->spec, (std::string(kind) + "Probe").c_str());
    if (!probe.is_object()) continue;
    auto p = std::make_shared<ProbeRun>();
    p->pod_key = w->key;
    p->container = c->name;
    p->container_id = c->id;
    p->kind = kind;
    p->probe = probe;
    p->container_json = c->spec;
    p->pod_ip = w->ip;
    p->log_dir = w->dir + "/probes";
    p->exec_base = c->run_spec;
    p->started = c->started;
    c->probes.push_back(p);
    ScheduleProbe(p, milliseconds(Int(probe, "initialDelaySeconds", 0) * 1000));
  }
}

void NodeAgent::Impl::ScheduleProbe(const std::shared_ptr<ProbeRun>& p, milliseconds delay) {
  if (!timers_ || stopping_) return;
  timers_->RunAfter(delay, [this, p] {
    if (!p->active || stopping_) return;
    probe_pool_->Submit([this, p] { RunProbe(p); });
  });
}

void NodeAgent::Impl::RunProbe(const std::shared_ptr<ProbeRun>& p) {
  if (!p->active || stopping_) return;
  const milliseconds period(std::max<int64_t>(1, Int(p->probe, "periodSeconds", 10)) * 1000);
  if (p->kind != "startup" && !p->started) {
    ScheduleProbe(p, period);
    return;
  }
  const milliseconds timeout(std::max<int64_t>(1, Int(p->probe, "timeoutSeconds", 1)) * 1000);
  ProbeResult r;
  if (p->probe.contains("httpGet")) {
    r = HttpGetProbe(Field(p->probe, "httpGet"), p->container_json, p->pod_ip, timeout);
  } else if (p->probe.contains("tcpSocket")) {
    r = TcpSocketProbe(Field(p->probe, "tcpSocket"), p->container_json, p->pod_ip, timeout);
  } else if (p->probe.contains("exec")) {
    std::vector<std::string> cmd;
    for (const Json& a : Field(Field(p->probe, "exec"), "command")) {
      if (a.is_string()) cmd.push_back(a.get<std::string>());
    }
    std::string out;
    auto code = RunExec(p->exec_base, p->container_id + "." + p->kind + std::to_string(p->seq++),
                        cmd, timeout, &out);
    if (!code.ok()) {
      r = {false, code.status().message()};
    } else {
      r = {*code == 0, out};
      if (*code != 0 && out.empty()) {
        r.message = "command " + Json(cmd).dump() + " exited with " + std::to_string(*code);
      }
    }
  } else if (p->probe.contains("grpc")) {
    r = TcpSocketProbe(Json{{"port", Field(Field(p->probe, "grpc"), "port")}}, p->container_json,
                       p->pod_ip, timeout);
  } else {
    r = {true, ""};
  }
  if (!p->active || stopping_) return;
  {
    std::lock_guard<std::mutex> lock(mu_);
    Mail m;
    m.type = Mail::Type::kProbe;
    m.container_id = p->container_id;
    m.container = p->container;
    m.kind = p->kind;
    m.ok = r.success;
    m.message = r.message;
    mail_[p->pod_key].push_back(std::move(m));
  }
  Touch(p->pod_key);
  ScheduleProbe(p, period);
}

StatusOr<int> NodeAgent::Impl::RunExec(const runtime::ContainerSpec& base, const std::string& id,
                                       const std::vector<std::string>& cmd, milliseconds timeout,
                                       std::string* output) {
  if (cmd.empty()) return Status::Invalid("exec: no command");
  runtime::ContainerSpec spec = base;
  spec.id = id;
  spec.state_dir = ContainersRoot(o_.data_dir) + "/" + id;
  spec.argv = cmd;
  spec.log_path = spec.state_dir + ".log";
  {
    std::lock_guard<std::mutex> lock(mu_);
    exec_waits_[id] = ExecWait{};
  }
  auto started = runtime_->Start(spec);
  if (!started.ok()) {
    std::lock_guard<std::mutex> lock(mu_);
    exec_waits_.erase(id);
    return started.status();
  }
  std::unique_lock<std::mutex> lock(mu_);
  bool done = exec_cv_.wait_for(lock, timeout, [&] { return exec_waits_[id].done || stopping_; });
  if (!done) {
    lock.unlock();
    runtime_->Stop(id, milliseconds(0));
    lock.lock();
    exec_cv_.wait_for(lock, milliseconds(2000), [&] { return exec_waits_[id].done || stopping_; });
  }
  runtime::ExitInfo info = exec_waits_[id].info;
  bool finished = exec_waits_[id].done;
  exec_waits_.erase(id);
  lock.unlock();
  std::string out;
  runtime::LogReadOptions lo;
  runtime::ReadLog(spec.log_path, lo, [&](const std::string& chunk) {
    if (out.size() < 4096) out += chunk;
    return true;
  });
  while (!out.empty() && out.back() == '\n') out.pop_back();
  *output = out;
  runtime_->Remove(id);
  std::error_code ec;
  fs::remove(spec.log_path, ec);
  if (!done) {
    return Status(Code::kTimeout, "command " + Json(cmd).dump() + " timed out");
  }
  if (!finished) return Status::Internal("exec probe: no exit status");
  return info.exit_code;
}

}  // namespace skiff::node
