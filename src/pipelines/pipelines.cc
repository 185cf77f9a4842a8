#include "pipelines/pipelines.h"

#include "pipelines/admission.h"
#include "pipelines/engine.h"
#include "pipelines/kfp_rest.h"
#include "pipelines/lineage_routes.h"
#include "pipelines/recurring_run_controller.h"

namespace skiff::pipelines {

StatusOr<std::unique_ptr<Pipelines>> Pipelines::Start(controllers::Manager& mgr,
                                                      client::Client* client,
                                                      apiserver::ApiServer* server,
                                                      PipelinesOptions options) {
  std::unique_ptr<Pipelines> p(new Pipelines());
  auto lineage = LineageStore::Open(options.data_dir + "/lineage.db");
  if (!lineage.ok()) {
    return Status(lineage.status().code(), "lineage store: " + lineage.status().message());
  }
  p->lineage_ = std::move(*lineage);
  EngineOptions eo;
  eo.data_dir = options.data_dir;
  eo.lineage = p->lineage_.get();
  eo.metrics = &p->metrics_;
  eo.workers = options.workers;
  InstallPipelineAdmission(server->api());
  if (Status s = StartPipelineEngine(mgr, client, eo); !s.ok()) return s;
  if (Status s = StartRecurringRunController(mgr, client); !s.ok()) return s;
  server->handler()->AddRoute(KfpRestRoutes(server->api()));
  server->handler()->AddRoute(LineageRoutes(p->lineage_.get()));
  PipelineMetrics* metrics = &p->metrics_;
  server->handler()->AddRoute(
      [metrics](http::Request& request, const apiserver::UserInfo&) -> std::optional<http::Reply> {
        if (request.path != "/metrics") return std::nullopt;
        http::Response response;
        response.content_type = "text/plain; version=0.0.4";
        response.body = metrics->Render();
        return http::Reply(std::move(response));
      });
  return p;
}

}  // namespace skiff::pipelines
