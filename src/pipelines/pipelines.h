// Everything pipelines add to `skiff up`: the run engine, the RecurringRun scheduler, the lineage
// store ($SKIFF_HOME/lineage.db), and the HTTP surfaces on the API server's port — the KFP
// v2beta1 REST facade (/apis/v2beta1/...), lineage queries (lineage_routes.h) and /metrics.
#pragma once

#include <memory>
#include <string>

#include "apiserver/server.h"
#include "client/client.h"
#include "common/status.h"
#include "controllers/manager.h"
#include "pipelines/lineage.h"
#include "pipelines/metrics.h"

namespace skiff::pipelines {

struct PipelinesOptions {
  std::string data_dir;  // $SKIFF_HOME
  int workers = 2;
};

class Pipelines {
 public:
  static StatusOr<std::unique_ptr<Pipelines>> Start(controllers::Manager& mgr,
                                                    client::Client* client,
                                                    apiserver::ApiServer* server,
                                                    PipelinesOptions options);
  LineageStore* lineage() { return lineage_.get(); }
  PipelineMetrics* metrics() { return &metrics_; }

 private:
  Pipelines() = default;
  std::unique_ptr<LineageStore> lineage_;
  PipelineMetrics metrics_;
};

}  // namespace skiff::pipelines
