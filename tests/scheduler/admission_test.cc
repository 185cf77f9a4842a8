// Priority and ResourceQuota admission plus the quota controller, through the in-process API with
// the seed's quota: the refusals users see, word for word, and usage that follows the Pods.
#include "scheduler/admission.h"

#include <gtest/gtest.h>

#include <atomic>
#include <fstream>
#include <sstream>
#include <thread>

#include "scheduler_test_util.h"

namespace skiff::scheduler::testing {
namespace {

Json PriorityClass(const std::string& name, int64_t value, bool global_default = false) {
  return {{"apiVersion", "scheduling.k8s.io/v1"},
          {"kind", "PriorityClass"},
          {"metadata", {{"name", name}}},
          {"value", value},
          {"globalDefault", global_default}};
}

// Requests and limits for the seed quota: 2 cpu and 1Gi each.
Json QuotaPod(const std::string& name, const std::string& cpu = "2") {
  return MakePod(name, {{"cpu", cpu}, {"memory", "1Gi"}}, {{"cpu", cpu}, {"memory", "1Gi"}});
}

class AdmissionTest : public SchedulerFixture {
 protected:
  void SetUp() override { StartAll(/*admission=*/true); }

  Status CreateError(const Json& obj, const client::Resource& r = kPods,
                     const std::string& ns = "default") {
    auto created = c()->Create(r, ns, obj);
    return created.ok() ? Status::Ok() : created.status();
  }
  // Applies the seed's ResourceQuota and PriorityClass.
  void ApplySeed(const std::string& ns = "default") {
    std::ifstream in(std::string(SKIFF_SHARED_DIR) + "/seed/06-quota-priority.yaml");
    ASSERT_TRUE(in.good());
    std::stringstream text;
    text << in.rdbuf();
    auto docs = ParseYamlDocuments(text.str());
    ASSERT_TRUE(docs.ok());
    for (const Json& doc : *docs) {
      if (doc.value("kind", "") == "ResourceQuota") {
        auto created = c()->Create(kResourceQuotas, ns, doc);
        ASSERT_TRUE(created.ok()) << created.status().ToString();
      } else if (ns == "default") {
        auto created = c()->Create(kPriorityClasses, "", doc);
        ASSERT_TRUE(created.ok()) << created.status().ToString();
      }
    }
  }
  std::string Used(const std::string& key, const std::string& ns = "default") {
    auto q = c()->Get(kResourceQuotas, ns, "ml-quota");
    if (!q.ok()) return "";
    const Json* used = FindPath(*q, "status.used");
    return used && used->contains(key) ? (*used)[key].get<std::string>() : "";
  }
};

TEST_F(AdmissionTest, PriorityClassValueIsApplied) {
  ASSERT_TRUE(c()->Create(kPriorityClasses, "", PriorityClass("high-priority", 1000000)).ok());
  Json pod = MakePod("important", {{"cpu", "100m"}});
  pod["spec"]["priorityClassName"] = "high-priority";
  Json created = CreatePod(pod);
  EXPECT_EQ(created["spec"].value("priority", 0), 1000000);
  EXPECT_EQ(created["spec"].value("preemptionPolicy", ""), "PreemptLowerPriority");

  Json plain = CreatePod(MakePod("plain", {{"cpu", "100m"}}));
  EXPECT_EQ(plain["spec"].value("priority", -1), 0);
  EXPECT_FALSE(plain["spec"].contains("priorityClassName"));

  Json critical = MakePod("critical", {{"cpu", "100m"}});
  critical["spec"]["priorityClassName"] = "system-node-critical";
  EXPECT_EQ(CreatePod(critical)["spec"].value("priority", 0), 2000001000);
}

TEST_F(AdmissionTest, GlobalDefaultAppliesToPodsWithoutAClass) {
  ASSERT_TRUE(c()->Create(kPriorityClasses, "", PriorityClass("everyday", 100, true)).ok());
  Json created = CreatePod(MakePod("p", {{"cpu", "100m"}}));
  EXPECT_EQ(created["spec"].value("priority", 0), 100);
  EXPECT_EQ(created["spec"].value("priorityClassName", ""), "everyday");

  Status second = CreateError(PriorityClass("another", 5, true), kPriorityClasses, "");
  EXPECT_EQ(second.code(), Code::kForbidden);
  EXPECT_EQ(second.message(),
            "priorityclasses.scheduling.k8s.io \"another\" is forbidden: PriorityClass everyday "
            "is already marked as default. Only one default can exist");
}

TEST_F(AdmissionTest, UnknownClassIsForbidden) {
  Json pod = MakePod("x", {{"cpu", "100m"}});
  pod["spec"]["priorityClassName"] = "foo";
  Status s = CreateError(pod);
  EXPECT_EQ(s.code(), Code::kForbidden);
  EXPECT_EQ(s.Reason(), "Forbidden");
  EXPECT_EQ(s.message(), "pods \"x\" is forbidden: no PriorityClass with name foo was found");
}

TEST_F(AdmissionTest, PriorityMayNotDisagreeWithTheClass) {
  ApplySeed();
  Json pod = MakePod("x", {{"cpu", "100m"}});
  pod["spec"]["priorityClassName"] = "high-priority";
  pod["spec"]["priority"] = 5;
  Status s = CreateError(pod);
  EXPECT_EQ(s.code(), Code::kForbidden);
  EXPECT_EQ(s.message(),
            "pods \"x\" is forbidden: the integer value of priority (5) must not be provided in "
            "pod spec; priority admission controller computed 1000000 from the given "
            "PriorityClass name");
}

TEST_F(AdmissionTest, PriorityClassValueRules) {
  Status big = CreateError(PriorityClass("huge", 2000000000), kPriorityClasses, "");
  EXPECT_EQ(big.code(), Code::kInvalid);
  EXPECT_EQ(big.message(),
            "PriorityClass.scheduling.k8s.io \"huge\" is invalid: value: Forbidden: maximum "
            "allowed value of a user defined priority is 1000000000");
  ASSERT_TRUE(c()->Create(kPriorityClasses, "", PriorityClass("mid", 10)).ok());
  auto pc = c()->Get(kPriorityClasses, "", "mid");
  ASSERT_TRUE(pc.ok());
  (*pc)["value"] = 11;
  auto updated = c()->Update(kPriorityClasses, "", *pc);
  ASSERT_FALSE(updated.ok());
  EXPECT_EQ(updated.status().message(),
            "PriorityClass.scheduling.k8s.io \"mid\" is invalid: value: Forbidden: may not be "
            "changed in an update.");
}

TEST_F(AdmissionTest, QuotaAcceptsWithinAndRefusesBeyond) {
  ApplySeed();
  CreatePod(QuotaPod("p0"));
  CreatePod(QuotaPod("p1"));
  Status s = CreateError(QuotaPod("p2"));
  EXPECT_EQ(s.code(), Code::kForbidden);
  EXPECT_EQ(s.Reason(), "Forbidden");
  EXPECT_EQ(s.message(),
            "pods \"p2\" is forbidden: exceeded quota: ml-quota, requested: requests.cpu=2, "
            "used: requests.cpu=4, limited: requests.cpu=4");
  // Several resources at once: sorted and comma-joined.
  Json both = MakePod("p3", {{"cpu", "1"}, {"memory", "8Gi"}}, {{"cpu", "1"}, {"memory", "8Gi"}});
  Status s2 = CreateError(both);
  EXPECT_EQ(s2.message(),
            "pods \"p3\" is forbidden: exceeded quota: ml-quota, requested: "
            "requests.cpu=1,requests.memory=8Gi, used: requests.cpu=4,requests.memory=2Gi, "
            "limited: requests.cpu=4,requests.memory=8Gi");
  EXPECT_EQ(Used("requests.cpu"), "4");
}

TEST_F(AdmissionTest, QuotaRequiresLimitsItConstrains) {
  ApplySeed();
  Status s = CreateError(MakePod("nolimits", {{"cpu", "100m"}, {"memory", "64Mi"}}));
  EXPECT_EQ(s.code(), Code::kForbidden);
  EXPECT_EQ(s.message(),
            "pods \"nolimits\" is forbidden: failed quota: ml-quota: must specify limits.cpu for: "
            "main; limits.memory for: main");
  // Limits alone are enough: requests default to them.
  Json limited = MakePod("limited", Json::object(), {{"cpu", "500m"}, {"memory", "64Mi"}});
  Json created = CreatePod(limited);
  EXPECT_EQ(created["spec"]["containers"][0]["resources"]["requests"].value("cpu", ""), "500m");
}

TEST_F(AdmissionTest, UsageIsMaintainedAndReleased) {
  ApplySeed();
  EXPECT_TRUE(Eventually([&] { return Used("pods") == "0" && Used("requests.memory") == "0"; }));
  CreatePod(QuotaPod("a"));
  CreatePod(QuotaPod("b", "1"));
  EXPECT_TRUE(Eventually([&] {
    return Used("requests.cpu") == "3" && Used("limits.cpu") == "3" &&
           Used("requests.memory") == "2Gi" && Used("pods") == "2";
  })) << Used("requests.cpu");
  auto q = c()->Get(kResourceQuotas, "default", "ml-quota");
  ASSERT_TRUE(q.ok());
  EXPECT_EQ((*q)["status"]["hard"], (*q)["spec"]["hard"]);

  // An unbound Pod goes at once on delete; a finished one stops counting.
  ASSERT_TRUE(c()->Delete(kPods, "default", "b").ok());
  ASSERT_TRUE(Eventually([&] {  // the scheduler writes this Pod's status too: retry conflicts
    Json a = GetPod("a");
    a["status"]["phase"] = "Succeeded";
    return c()->UpdateStatus(kPods, "default", a).ok();
  }));
  EXPECT_TRUE(Eventually([&] {
    return Used("requests.cpu") == "0" && Used("pods") == "0" && Used("requests.memory") == "0";
  })) << Used("requests.cpu")
      << " " << Used("pods");
  // The freed quota admits again.
  EXPECT_TRUE(CreateError(QuotaPod("c")).ok());
}

TEST_F(AdmissionTest, ConcurrentCreatesCannotBothTakeTheLastSlot) {
  for (int round = 0; round < 5; ++round) {
    const std::string ns = "race" + std::to_string(round);
    env_.CreateNamespace(ns);
    Json quota = {{"apiVersion", "v1"},
                  {"kind", "ResourceQuota"},
                  {"metadata", {{"name", "ml-quota"}}},
                  {"spec", {{"hard", {{"pods", "3"}, {"count/configmaps", "2"}}}}}};
    ASSERT_TRUE(c()->Create(kResourceQuotas, ns, quota).ok());
    std::atomic<int> pods_ok{0}, maps_ok{0};
    std::vector<std::thread> threads;
    for (int i = 0; i < 8; ++i) {
      threads.emplace_back([&, i] {
        if (c()->Create(kPods, ns, MakePod("p" + std::to_string(i), {{"cpu", "1m"}})).ok()) {
          ++pods_ok;
        }
        if (c()->Create(skiff::testing::kConfigMaps, ns,
                        skiff::testing::ConfigMap("cm" + std::to_string(i)))
                .ok()) {
          ++maps_ok;
        }
      });
    }
    for (auto& t : threads) t.join();
    EXPECT_EQ(pods_ok.load(), 3) << ns;
    EXPECT_EQ(maps_ok.load(), 2) << ns;
    EXPECT_TRUE(Eventually([&] { return Used("pods", ns) == "3"; })) << Used("pods", ns);
  }
}

}  // namespace
}  // namespace skiff::scheduler::testing
