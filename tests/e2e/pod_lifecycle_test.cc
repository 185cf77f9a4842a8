// Pods across the life of skiff itself: after a kill -9 and a restart, running Pods are
// re-adopted (no restart counted), Pods whose processes died meanwhile are reported with their real
// exit status, and once everything is deleted and skiff stops no process is left behind.

#include <dirent.h>
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>
#include <string>
#include <thread>

#include "skiff_server.h"

namespace skiff::e2e {
namespace {

std::string PodYaml(const std::string& name, const std::string& script,
                    const std::string& restart = "Never") {
  return "apiVersion: v1\nkind: Pod\nmetadata: {name: " + name +
         "}\nspec:\n  restartPolicy: " + restart +
         "\n  terminationGracePeriodSeconds: 1\n  containers:\n  - name: main\n    image: busybox\n"
         "    command: [sh, -c, '" +
         script + "']\n";
}

// Command lines of every process on the machine that mention `needle`.
std::vector<std::string> ProcessesMentioning(const std::string& needle) {
  std::vector<std::string> found;
  DIR* d = opendir("/proc");
  if (!d) return found;
  while (dirent* e = readdir(d)) {
    if (e->d_name[0] < '0' || e->d_name[0] > '9') continue;
    std::ifstream in(std::string("/proc/") + e->d_name + "/cmdline", std::ios::binary);
    std::string cmd((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    for (char& c : cmd) c = c == '\0' ? ' ' : c;
    if (cmd.find(needle) != std::string::npos) found.push_back(std::string(e->d_name) + ": " + cmd);
  }
  closedir(d);
  return found;
}

pid_t PidOf(const std::string& needle) {
  auto procs = ProcessesMentioning(needle);
  for (const std::string& p : procs) {
    // The container itself, not bwrap or the shim that started it.
    if (p.find("bwrap") == std::string::npos && p.find("skiff-shim") == std::string::npos) {
      return static_cast<pid_t>(std::stol(p.substr(0, p.find(':'))));
    }
  }
  return 0;
}

class PodLifecycleTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_EQ(server_.Start(), ""); }
  void TearDown() override {
    server_.Kubectl({"delete", "pods", "--all", "--grace-period=1", "--timeout=30s"});
    server_.Stop();
    // Nothing of this server's may outlive it: shims, sandboxes and containers all name the data
    // dir (or run from it).
    std::vector<std::string> left;
    for (int i = 0; i < 50; ++i) {
      left = ProcessesMentioning(server_.data_dir().string());
      if (left.empty()) break;
      std::this_thread::sleep_for(milliseconds(100));
    }
    EXPECT_TRUE(left.empty()) << "orphans: " << left.front();
  }

  // Re-runs `kubectl args` until its output contains `want`; returns the last output.
  std::string WaitFor(const std::vector<std::string>& args, const std::string& want,
                      milliseconds timeout = milliseconds(30000)) {
    const auto deadline = Clock::now() + timeout;
    std::string out;
    while (Clock::now() < deadline) {
      out = server_.Kubectl(args).out;
      if (out.find(want) != std::string::npos) return out;
      std::this_thread::sleep_for(milliseconds(100));
    }
    ADD_FAILURE() << "kubectl " << ::testing::PrintToString(args) << " never printed " << want
                  << "; last output: " << out << "\nserver log:\n"
                  << server_.log();
    return out;
  }

  std::string Get(const std::string& pod, const std::string& jsonpath) {
    return server_.Kubectl({"get", "pod", pod, "-o", "jsonpath=" + jsonpath}).out;
  }

  TempDir dir_;
  SkiffServer server_{dir_.path()};
};

TEST_F(PodLifecycleTest, Kill9ThenRestartReadoptsRunningPods) {
  ASSERT_EQ(
      server_.Kubectl({"create", "-f", "-"}, PodYaml("short", "sleep 4; echo finished")).exit_code,
      0);
  ASSERT_EQ(server_.Kubectl({"create", "-f", "-"}, PodYaml("long", "sleep 301")).exit_code, 0);
  WaitFor({"get", "pod", "short", "-o", "jsonpath={.status.phase}"}, "Running");
  WaitFor({"get", "pod", "long", "-o", "jsonpath={.status.phase}"}, "Running");
  const std::string long_ip = Get("long", "{.status.podIP}");

  server_.Crash();
  // The containers keep running without skiff.
  EXPECT_NE(PidOf("sleep 301"), 0) << "the container died with skiff";

  ASSERT_EQ(server_.Start(), "") << "restart after kill -9";
  WaitFor({"get", "pod", "short", "-o", "jsonpath={.status.phase}"}, "Succeeded");
  EXPECT_EQ(Get("short", "{.status.containerStatuses[0].restartCount}"), "0");
  EXPECT_EQ(Get("short", "{.status.containerStatuses[0].state.terminated.exitCode}"), "0");
  EXPECT_NE(server_.Kubectl({"logs", "short"}).out.find("finished"), std::string::npos);
  // The long one was adopted, not restarted, and kept its address.
  EXPECT_EQ(Get("long", "{.status.phase}"), "Running");
  EXPECT_EQ(Get("long", "{.status.containerStatuses[0].restartCount}"), "0");
  EXPECT_EQ(Get("long", "{.status.podIP}"), long_ip);

  ProcessResult del = server_.Kubectl({"delete", "pod", "long", "--grace-period=1"});
  EXPECT_EQ(del.exit_code, 0) << del.err;
  EXPECT_EQ(PidOf("sleep 301"), 0) << "the deleted Pod's process still runs";
}

TEST_F(PodLifecycleTest, ContainerThatDiedWhileSkiffWasDownIsReported) {
  ASSERT_EQ(server_.Kubectl({"create", "-f", "-"}, PodYaml("victim", "sleep 302")).exit_code, 0);
  WaitFor({"get", "pod", "victim", "-o", "jsonpath={.status.phase}"}, "Running");
  server_.Crash();
  const pid_t pid = PidOf("sleep 302");
  ASSERT_NE(pid, 0);
  ASSERT_EQ(kill(pid, SIGKILL), 0);

  ASSERT_EQ(server_.Start(), "") << "restart after kill -9";
  WaitFor({"get", "pod", "victim", "-o", "jsonpath={.status.phase}"}, "Failed");
  EXPECT_EQ(Get("victim", "{.status.containerStatuses[0].state.terminated.exitCode}"), "137");
  EXPECT_EQ(Get("victim", "{.status.containerStatuses[0].state.terminated.reason}"), "Error");
}

TEST_F(PodLifecycleTest, StoppingSkiffStopsItsPods) {
  ASSERT_EQ(server_.Kubectl({"create", "-f", "-"}, PodYaml("stopped", "sleep 303")).exit_code, 0);
  WaitFor({"get", "pod", "stopped", "-o", "jsonpath={.status.phase}"}, "Running");
  EXPECT_EQ(server_.Stop(), 0);
  EXPECT_EQ(PidOf("sleep 303"), 0) << "a Pod outlived a graceful stop of skiff";
  // Graceful node shutdown, as the kubelet reports it.
  ASSERT_EQ(server_.Start(), "");
  WaitFor({"get", "pod", "stopped", "-o", "jsonpath={.status.phase}"}, "Failed");
  EXPECT_EQ(Get("stopped", "{.status.reason}"), "Terminated");
}

}  // namespace
}  // namespace skiff::e2e

namespace skiff::e2e {
namespace {

// A pipeline survives a kill -9 of skiff: the run's status is the engine's only state, so the
// restarted engine re-adopts the running task's Pod, collects its output and runs the next task.
TEST_F(PodLifecycleTest, Kill9MidPipelineThenRestartFinishesTheRun) {
  const std::string run = R"(apiVersion: kubeflow.org/v2beta1
kind: PipelineRun
metadata: {name: survivor}
spec:
  pipelineSpec:
    pipelineInfo: {name: survivor}
    components:
      comp-slow:
        executorLabel: exec-slow
        outputDefinitions: {parameters: {out: {parameterType: STRING}}}
      comp-after:
        executorLabel: exec-after
        inputDefinitions: {parameters: {got: {parameterType: STRING}}}
    deploymentSpec:
      executors:
        exec-slow:
          container:
            image: alpine
            command: [sh, -c, "sleep 4; printf survived > \"$0\"", "{{$.outputs.parameters['out'].output_file}}"]
        exec-after:
          container:
            image: alpine
            command: [echo, "after: {{$.inputs.parameters['got']}}"]
    root:
      dag:
        tasks:
          slow:
            componentRef: {name: comp-slow}
            taskInfo: {name: slow}
          after:
            componentRef: {name: comp-after}
            taskInfo: {name: after}
            inputs:
              parameters:
                got: {taskOutputParameter: {producerTask: slow, outputParameterKey: out}}
)";
  ASSERT_EQ(server_.Kubectl({"create", "-f", "-"}, run).exit_code, 0);
  WaitFor({"get", "pod", "survivor-slow", "-o", "jsonpath={.status.phase}"}, "Running");
  // Let the engine's throttled status write happen, then crash mid-task.
  std::this_thread::sleep_for(milliseconds(300));
  server_.Crash();
  ASSERT_EQ(server_.Start(), "") << "restart after kill -9";
  WaitFor({"get", "pipelinerun", "survivor", "-o", "jsonpath={.status.state}"}, "SUCCEEDED",
          milliseconds(60000));
  EXPECT_EQ(server_
                .Kubectl({"get", "pipelinerun", "survivor", "-o",
                          "jsonpath={.status.tasks[?(@.name==\"slow\")].attempts}"})
                .out,
            "1");  // adopted, not run again
  EXPECT_NE(server_.Kubectl({"logs", "survivor-after"}).out.find("after: survived"),
            std::string::npos);
  server_.Kubectl({"delete", "pipelinerun", "survivor", "--timeout=30s"});
}

}  // namespace
}  // namespace skiff::e2e
