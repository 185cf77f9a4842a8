// Binds PersistentVolumeClaims to local directories (see volume_provisioner.h).
#include "node/volume_provisioner.h"

#include <filesystem>
#include <system_error>

#include "common/log.h"
#include "node/layout.h"

namespace skiff::node {
namespace {

namespace fs = std::filesystem;
const client::Resource kClaimsResource{"", "v1", "persistentvolumeclaims"};

class VolumeProvisioner : public controllers::Reconciler {
 public:
  VolumeProvisioner(controllers::Manager* mgr, std::string data_dir)
      : mgr_(mgr), data_dir_(std::move(data_dir)) {}

  StatusOr<controllers::Result> Reconcile(const controllers::Request& req) override {
    const std::string dir = ClaimDir(data_dir_, req.ns, req.name);
    controllers::ObjectPtr claim = mgr_->GetInformer(kClaimsResource)->Get(req.ns, req.name);
    std::error_code ec;
    if (!claim) {
      // Deleted: its data goes with it, as with a dynamically provisioned volume.
      fs::remove_all(dir, ec);
      if (ec) SKIFF_LOG(Warn) << "volume provisioner: removing " << dir << ": " << ec.message();
      return controllers::Result{};
    }
    const Json* phase = FindPath(*claim, "status.phase");
    if (phase && phase->is_string() && *phase == "Bound") return controllers::Result{};
    fs::create_directories(dir, ec);
    if (ec) {
      return Status::Internal("volume provisioner: creating " + dir + ": " + ec.message());
    }
    Json updated = *claim;
    Json status = {{"phase", "Bound"}};
    if (const Json* modes = FindPath(*claim, "spec.accessModes")) status["accessModes"] = *modes;
    if (const Json* storage = FindPath(*claim, "spec.resources.requests")) {
      if (storage->is_object() && storage->contains("storage")) {
        status["capacity"] = {{"storage", (*storage)["storage"]}};
      }
    }
    updated["status"] = status;
    auto written = mgr_->client()->UpdateStatus(kClaimsResource, req.ns, updated);
    if (!written.ok()) return written.status();
    return controllers::Result{};
  }

 private:
  controllers::Manager* const mgr_;
  const std::string data_dir_;
};

}  // namespace

Status StartVolumeProvisioner(controllers::Manager& mgr, const std::string& data_dir) {
  mgr.NewController("volume-provisioner")
      .For(kClaimsResource)
      .Complete(std::make_unique<VolumeProvisioner>(&mgr, data_dir));
  return Status::Ok();
}

}  // namespace skiff::node
