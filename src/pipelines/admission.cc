#include "pipelines/admission.h"

#include <memory>

#include "pipelines/ir.h"

namespace skiff::pipelines {
namespace {

class PipelineAdmission : public apiserver::AdmissionPlugin {
 public:
  Status Admit(const apiserver::RequestContext&, apiserver::Operation op,
               const api::ResourceInfo& res, Json* object, const Json* old) override {
    if (op == apiserver::Operation::kDelete || object == nullptr) return Status::Ok();
    if (res.group != "kubeflow.org" || res.version != "v2beta1") return Status::Ok();
    if (res.kind != "Pipeline" && res.kind != "PipelineVersion" && res.kind != "PipelineRun" &&
        res.kind != "RecurringRun") {
      return Status::Ok();
    }
    const Json* spec = FindPath(*object, "spec.pipelineSpec");
    if (spec == nullptr || !spec->is_object() || !IsIr(*spec)) return Status::Ok();
    // Status writes and other edits leave the pipeline as it was: checked already.
    if (old != nullptr) {
      const Json* before = FindPath(*old, "spec.pipelineSpec");
      if (before != nullptr && *before == *spec) return Status::Ok();
    }
    Status s = ValidateIr(*spec);
    if (s.ok()) return s;
    const std::string name = StringAt(*object, "metadata.name");
    Status refused =
        Status::Invalid(res.kind + "." + res.group + " \"" + name +
                        "\" is invalid: spec.pipelineSpec: Invalid value: " + s.message());
    refused.WithDetails(name, res.group, res.kind);
    refused.AddCause({"FieldValueInvalid", s.message(), "spec.pipelineSpec"});
    return refused;
  }
};

}  // namespace

void InstallPipelineAdmission(apiserver::ObjectApi* api) {
  api->AddAdmissionPlugin(std::make_unique<PipelineAdmission>());
}

}  // namespace skiff::pipelines
