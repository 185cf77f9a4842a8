// Wiring of the serving control plane.
#include "inference/serving.h"

#include "inference/builtin_runtimes.h"

namespace skiff::inference {

StatusOr<std::unique_ptr<Serving>> Serving::Start(controllers::Manager& mgr, client::Client* client,
                                                  ServingOptions options) {
  std::unique_ptr<Serving> s(new Serving());
  s->table_ = std::make_unique<RoutingTable>(options.domain);
  s->autoscaler_ = std::make_unique<Autoscaler>(options.autoscaler);
  s->gateway_ = std::make_unique<Gateway>(s->table_.get(), s->autoscaler_.get(), options.gateway);
  if (Status st = s->gateway_->Listen(); !st.ok()) return st;
  s->gateway_url_ = s->gateway_->url();
  if (options.builtin_runtimes) {
    if (Status st = EnsureBuiltinServingRuntimes(client); !st.ok()) return st;
  }
  InferenceControllerOptions co;
  co.data_dir = options.data_dir;
  co.domain = options.domain;
  co.gateway_url = s->gateway_url_;
  auto started = StartInferenceController(mgr, client, s->table_.get(), s->autoscaler_.get(), co);
  if (!started.ok()) return started.status();
  s->autoscaler_->Start();
  return s;
}

Serving::~Serving() { Stop(); }

void Serving::Stop() {
  if (stopped_) return;
  stopped_ = true;
  gateway_->Stop();
  autoscaler_->Stop();
}

}  // namespace skiff::inference
