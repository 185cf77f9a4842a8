// One parameterised GoogleTest runs every scenario file under tests/scenarios/ against a fresh
// `skiff up`, with the real kubectl. Adding a case is adding a file; the format is described in
// tests/e2e/README.md.

#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <map>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "common/json.h"
#include "skiff_server.h"

namespace skiff::e2e {
namespace {

namespace fs = std::filesystem;

const fs::path kScenarioRoot = fs::path(SKIFF_SOURCE_DIR) / "tests" / "scenarios";
const fs::path kE2eDir = fs::path(SKIFF_SOURCE_DIR) / "tests" / "e2e";
constexpr milliseconds kCommandTimeout(30000);

std::string Tail(const std::string& s, size_t n = 4000) {
  return s.size() <= n ? s : "[...]" + s.substr(s.size() - n);
}

std::string Trim(std::string s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.pop_back();
  size_t i = 0;
  while (i < s.size() && std::isspace(static_cast<unsigned char>(s[i]))) ++i;
  return s.substr(i);
}

// A scalar or a list of scalars, as a list of strings.
std::vector<std::string> StringList(const Json& v) {
  std::vector<std::string> out;
  if (v.is_null()) return out;
  if (v.is_array()) {
    for (const auto& e : v) out.push_back(e.is_string() ? e.get<std::string>() : e.dump());
  } else {
    out.push_back(v.is_string() ? v.get<std::string>() : v.dump());
  }
  return out;
}

std::vector<std::string> SplitWords(const std::string& s) {
  std::istringstream in(s);
  std::vector<std::string> out;
  for (std::string w; in >> w;) out.push_back(w);
  return out;
}

milliseconds ParseDuration(const Json& v, milliseconds fallback) {
  if (v.is_null()) return fallback;
  if (v.is_number()) return milliseconds(static_cast<int64_t>(v.get<double>() * 1000));
  const std::string s = v.get<std::string>();
  static const std::regex kDuration(R"(^\s*([0-9.]+)\s*(ms|s|m)?\s*$)");
  std::smatch m;
  if (!std::regex_match(s, m, kDuration)) return fallback;
  const double n = std::stod(m[1]);
  const std::string unit = m[2];
  if (unit == "ms") return milliseconds(static_cast<int64_t>(n));
  if (unit == "m") return milliseconds(static_cast<int64_t>(n * 60000));
  return milliseconds(static_cast<int64_t>(n * 1000));
}

std::string Describe(const ProcessResult& r) {
  std::string s = "exit code " + std::to_string(r.exit_code);
  if (r.timed_out) s += " (killed after the step's timeout)";
  s += "\n--- stdout ---\n" + Tail(r.out) + "\n--- stderr ---\n" + Tail(r.err);
  return s;
}

// Checks `expect:` against a finished command; returns the unmet expectations, one per line.
// `default_exit` applies when `exit` is not given; -1 accepts any exit code.
std::string CheckExpect(const Json& expect, const ProcessResult& r, int default_exit) {
  std::string problems;
  auto problem = [&](const std::string& p) { problems += "  - " + p + "\n"; };
  static const std::set<std::string> kKeys = {
      "exit",           "stdout_contains", "stdout_not_contains",
      "stdout_matches", "stderr_contains", "stderr_not_contains",
      "stderr_matches", "output_contains", "stdout_lines"};
  if (!expect.is_null() && !expect.is_object()) return "  - `expect` must be a mapping\n";
  if (expect.is_object()) {
    for (const auto& [k, v] : expect.items()) {
      if (!kKeys.count(k)) problem("unknown expectation `" + k + "`");
    }
  }
  const Json exit = expect.is_object() && expect.contains("exit") ? expect["exit"] : Json();
  if (exit.is_string() && exit.get<std::string>() == "nonzero") {
    if (r.exit_code == 0) problem("expected a non-zero exit code, got 0");
  } else if (exit.is_string() && exit.get<std::string>() == "any") {
  } else {
    const int want = exit.is_number_integer() ? exit.get<int>() : default_exit;
    if (want >= 0 && r.exit_code != want) {
      problem("expected exit code " + std::to_string(want) + ", got " +
              std::to_string(r.exit_code));
    }
  }
  if (r.timed_out) problem("the command did not finish before its timeout");
  if (!expect.is_object()) return problems;
  auto contains = [&](const char* key, const std::string& text, const char* stream, bool want) {
    if (!expect.contains(key)) return;
    for (const auto& needle : StringList(expect[key])) {
      if ((text.find(needle) != std::string::npos) != want) {
        problem(std::string(stream) + (want ? " lacks " : " should not contain ") + "\"" + needle +
                "\"");
      }
    }
  };
  contains("stdout_contains", r.out, "stdout", true);
  contains("stdout_not_contains", r.out, "stdout", false);
  contains("stderr_contains", r.err, "stderr", true);
  contains("stderr_not_contains", r.err, "stderr", false);
  contains("output_contains", r.out + r.err, "stdout+stderr", true);
  auto matches = [&](const char* key, const std::string& text, const char* stream) {
    if (!expect.contains(key)) return;
    for (const auto& pattern : StringList(expect[key])) {
      try {
        if (!std::regex_search(text, std::regex(pattern, std::regex::multiline))) {
          problem(std::string(stream) + " does not match /" + pattern + "/");
        }
      } catch (const std::regex_error& e) {
        problem("bad regex /" + pattern + "/: " + e.what());
      }
    }
  };
  matches("stdout_matches", r.out, "stdout");
  matches("stderr_matches", r.err, "stderr");
  if (expect.contains("stdout_lines")) {
    const auto lines = std::count(r.out.begin(), r.out.end(), '\n');
    if (lines != expect["stdout_lines"].get<int64_t>()) {
      problem("expected " + expect["stdout_lines"].dump() + " stdout lines, got " +
              std::to_string(lines));
    }
  }
  return problems;
}

class ScenarioRunner {
 public:
  ScenarioRunner(SkiffServer& server, const fs::path& file, const fs::path& work)
      : server_(server), file_(file), work_(work) {
    vars_ = {{"SHARED", fs::weakly_canonical(SKIFF_SHARED_DIR).string()},
             {"SOURCE", SKIFF_SOURCE_DIR},
             {"E2E", kE2eDir.string()},
             {"SCENARIO_DIR", file.parent_path().string()},
             {"TMP", work.string()},
             {"KUBECONFIG", server.kubeconfig().string()},
             {"SERVER", server.url()},
             {"DATA_DIR", server.data_dir().string()},
             {"SKIFF", SkiffServer::Binary()}};
  }
  ~ScenarioRunner() {
    for (auto& [name, proc] : background_) proc.Kill(SIGKILL);
  }

  // Runs the steps in order, stopping at the first that fails (with SKIFF_E2E_CONTINUE set, it
  // runs them all and reports every failure); returns "" or why it failed.
  std::string Run(const Json& steps) {
    if (!steps.is_array()) return "`steps` must be a list";
    const bool keep_going = std::getenv("SKIFF_E2E_CONTINUE") != nullptr;
    std::string failures;
    for (const auto& raw : steps) {
      ++step_no_;
      std::string error;
      const Json step = Substitute(raw, error);
      if (error.empty()) error = RunStep(step);
      if (error.empty()) continue;
      failures +=
          "step " + std::to_string(step_no_) + " " + Summary(raw) + " failed:\n" + error + "\n";
      if (!keep_going) break;
    }
    if (failures.empty()) return "";
    return failures + "--- server log (tail) ---\n" + Tail(server_.log(), 3000);
  }

  static std::string Summary(const Json& step) {
    std::string s = step.dump();
    if (s.size() > 300) s = s.substr(0, 300) + "...";
    return s;
  }

  std::string RunStep(const Json& step) {
    static const std::set<std::string> kKeys = {
        "note",    "kubectl", "apply",  "create",
        "args",    "stdin",   "expect", "save",
        "timeout", "wait",    "start",  "stop",
        "python",  "sh",      "sleep",  "until_stdout_contains"};
    if (!step.is_object()) return "a step must be a mapping";
    for (const auto& [k, v] : step.items()) {
      if (!kKeys.count(k)) return "unknown step key `" + k + "`";
    }
    const milliseconds timeout = ParseDuration(step.value("timeout", Json()), kCommandTimeout);
    if (step.contains("start")) return RunStart(step);
    if (step.contains("stop")) return RunStop(step);
    if (step.contains("kubectl")) {
      return RunCommand(step, server_.KubectlArgv(WithVerbosity(StringList(step["kubectl"]))),
                        step.value("stdin", ""), timeout);
    }
    for (const char* verb : {"apply", "create"}) {
      if (!step.contains(verb)) continue;
      // A value with a newline is an inline manifest (piped to -f -); otherwise a file path.
      const std::string what = step[verb].get<std::string>();
      std::vector<std::string> args = {verb, "-f"};
      std::string stdin_text;
      if (what.find('\n') != std::string::npos) {
        args.push_back("-");
        stdin_text = what;
      } else {
        fs::path p(what);
        args.push_back((p.is_absolute() ? p : file_.parent_path() / p).string());
      }
      for (const auto& a : StringList(step.value("args", Json()))) args.push_back(a);
      return RunCommand(step, server_.KubectlArgv(WithVerbosity(args)), stdin_text, timeout);
    }
    if (step.contains("wait")) return RunWait(step["wait"]);
    if (step.contains("python")) {
      std::vector<std::string> words = SplitWords(step["python"].get<std::string>());
      if (words.empty()) return "`python` needs a script name";
      std::vector<std::string> argv = {"/usr/bin/python3", (kE2eDir / words[0]).string()};
      argv.insert(argv.end(), words.begin() + 1, words.end());
      return RunCommand(step, argv, step.value("stdin", ""),
                        ParseDuration(step.value("timeout", Json()), milliseconds(90000)));
    }
    if (step.contains("sh")) {
      return RunCommand(step, {"/bin/sh", "-c", step["sh"].get<std::string>()},
                        step.value("stdin", ""), timeout);
    }
    if (step.contains("sleep")) {
      std::this_thread::sleep_for(ParseDuration(step["sleep"], milliseconds(1000)));
      return "";
    }
    return "a step needs one of kubectl, apply, create, wait, start, stop, python, sh, sleep";
  }

  std::string RunCommand(const Json& step, const std::vector<std::string>& argv,
                         const std::string& stdin_text, milliseconds timeout) {
    const ProcessResult r = RunProcess(argv, server_.io_dir(), timeout, stdin_text, Env());
    const std::string problems = CheckExpect(step.value("expect", Json()), r, 0);
    if (!problems.empty()) {
      return "$ " + ShellQuote(argv) + "\n" + problems + Describe(r);
    }
    if (step.contains("save")) vars_[step["save"].get<std::string>()] = Trim(r.out);
    return "";
  }

  // Re-runs a kubectl command until its output satisfies `until_*` (or `expect`), or times out.
  std::string RunWait(const Json& spec) {
    if (!spec.is_object() || !spec.contains("kubectl")) return "`wait` needs `kubectl: [...]`";
    const auto argv = server_.KubectlArgv(StringList(spec["kubectl"]));
    Json expect = spec.value("expect", Json::object());
    if (spec.contains("until_stdout_contains")) {
      expect["stdout_contains"] = spec["until_stdout_contains"];
    }
    if (spec.contains("until_stdout_not_contains")) {
      expect["stdout_not_contains"] = spec["until_stdout_not_contains"];
    }
    if (spec.contains("until_stdout_matches")) {
      expect["stdout_matches"] = spec["until_stdout_matches"];
    }
    if (spec.contains("until_exit")) expect["exit"] = spec["until_exit"];
    const auto deadline =
        Clock::now() + ParseDuration(spec.value("timeout", Json()), milliseconds(10000));
    std::string last;
    int tries = 0;
    do {
      ++tries;
      const ProcessResult r = RunProcess(argv, server_.io_dir(), kCommandTimeout, "", Env());
      const std::string problems = CheckExpect(expect, r, 0);
      if (problems.empty()) return "";
      last = problems + Describe(r);
      std::this_thread::sleep_for(milliseconds(250));
    } while (Clock::now() < deadline);
    return "$ " + ShellQuote(argv) + "\nstill unmet after " + std::to_string(tries) +
           " tries; last answer:\n" + last;
  }

  // Starts a background kubectl (e.g. `get -w`); optionally waits for its first output.
  std::string RunStart(const Json& step) {
    const std::string name = step["start"].get<std::string>();
    if (!step.contains("kubectl")) return "`start` needs `kubectl: [...]`";
    const auto argv = server_.KubectlArgv(WithVerbosity(StringList(step["kubectl"])));
    background_[name] = Process::Start(argv, server_.io_dir(), "", Env());
    Process& p = background_[name];
    if (!step.contains("until_stdout_contains")) return "";
    const auto needles = StringList(step["until_stdout_contains"]);
    const auto deadline =
        Clock::now() + ParseDuration(step.value("timeout", Json()), milliseconds(10000));
    while (Clock::now() < deadline) {
      const std::string out = p.out();
      if (std::all_of(needles.begin(), needles.end(),
                      [&](const std::string& n) { return out.find(n) != std::string::npos; })) {
        return "";
      }
      if (!p.running()) break;
      std::this_thread::sleep_for(milliseconds(50));
    }
    ProcessResult r = p.Finish(milliseconds(0));
    return "$ " + ShellQuote(argv) + " &\nits output never showed " + Json(needles).dump() + "\n" +
           Describe(r);
  }

  // Waits (up to `timeout`) for a background command's stdout to show what `expect` asks, then
  // stops it and checks the expectation on everything it printed. Its exit code is not checked
  // unless `expect.exit` says so: it is killed.
  std::string RunStop(const Json& step) {
    const std::string name = step["stop"].get<std::string>();
    auto it = background_.find(name);
    if (it == background_.end()) return "no background command named `" + name + "`";
    Process& p = it->second;
    const Json expect = step.value("expect", Json::object());
    Json output_only = expect;  // what must show up in the output before it is stopped
    if (output_only.is_object()) output_only["exit"] = "any";
    const auto deadline =
        Clock::now() + ParseDuration(step.value("timeout", Json()), milliseconds(10000));
    while (Clock::now() < deadline && p.running()) {
      ProcessResult so_far{.exit_code = -1, .timed_out = false, .out = p.out(), .err = p.err()};
      if (CheckExpect(output_only, so_far, -1).empty()) break;
      std::this_thread::sleep_for(milliseconds(50));
    }
    if (p.running()) p.Kill(SIGTERM);
    ProcessResult r = p.Finish(milliseconds(3000));
    r.timed_out = false;  // stopping it is the point
    background_.erase(it);
    const std::string problems = CheckExpect(expect, r, -1);
    return problems.empty() ? "" : "background `" + name + "`:\n" + problems + Describe(r);
  }

  Json Substitute(const Json& v, std::string& error) const {
    if (v.is_string()) return SubstituteString(v.get<std::string>(), error);
    if (v.is_array() || v.is_object()) {
      Json out = v;
      for (auto& [k, e] : out.items()) e = Substitute(e, error);
      return out;
    }
    return v;
  }

  std::string SubstituteString(const std::string& s, std::string& error) const {
    static const std::regex kVar(R"(\$\{([A-Za-z_][A-Za-z0-9_]*)\})");
    std::string out;
    auto begin = std::sregex_iterator(s.begin(), s.end(), kVar);
    size_t last = 0;
    for (auto it = begin; it != std::sregex_iterator(); ++it) {
      out += s.substr(last, it->position() - last);
      const std::string name = (*it)[1];
      auto var = vars_.find(name);
      if (var == vars_.end()) {
        error += "unknown variable ${" + name + "} (set it with `save:` first)\n";
      } else {
        out += var->second;
      }
      last = it->position() + it->length();
    }
    return out + s.substr(last);
  }

  // Every variable is also in the environment of the children (python, sh, kubectl).
  std::vector<std::string> Env() const {
    std::vector<std::string> env = server_.ToolEnv();
    // kubectl finds plugins (kubectl-kubeflow) on PATH: the build's bin directory goes first.
    const char* path = std::getenv("PATH");
    env.push_back("PATH=" + fs::path(SkiffServer::Binary()).parent_path().string() +
                  (path && *path ? std::string(":") + path : ""));
    for (const auto& [k, v] : vars_) {
      if (k != "KUBECONFIG") env.push_back(k + "=" + v);
    }
    return env;
  }

  // SKIFF_E2E_KUBECTL_V=8 adds `-v=8` to kubectl commands: requests and answers in stderr.
  static std::vector<std::string> WithVerbosity(std::vector<std::string> args) {
    if (const char* v = std::getenv("SKIFF_E2E_KUBECTL_V"); v && *v) {
      args.push_back(std::string("-v=") + v);
    }
    return args;
  }

  SkiffServer& server_;
  fs::path file_;
  fs::path work_;
  std::map<std::string, std::string> vars_;
  std::map<std::string, Process> background_;
  int step_no_ = 0;
};

std::vector<fs::path> ScenarioFiles() {
  std::vector<fs::path> files;
  if (!fs::exists(kScenarioRoot)) return files;
  for (const auto& e : fs::recursive_directory_iterator(kScenarioRoot)) {
    if (e.is_regular_file() && e.path().extension() == ".yaml") files.push_back(e.path());
  }
  std::sort(files.begin(), files.end());
  return files;
}

// "errors/stale-resource-version.yaml" -> "errors_stale_resource_version".
std::string TestName(const fs::path& file) {
  std::string name = fs::relative(file, kScenarioRoot).replace_extension().string();
  for (char& c : name) {
    if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
  }
  return name;
}

// The harness itself: a scenario that cannot fail would be worse than none.
TEST(ScenarioHarness, ExpectationsCatchWhatIsMissing) {
  ProcessResult r{
      .exit_code = 1, .timed_out = false, .out = "NAME  AGE\nmnist  5s\n", .err = "boom"};
  EXPECT_EQ(CheckExpect(Json::parse(R"({"exit": 1, "stdout_contains": "mnist"})"), r, 0), "");
  EXPECT_NE(CheckExpect(Json(), r, 0), "");  // default exit 0
  EXPECT_EQ(CheckExpect(Json(), r, -1), "");
  EXPECT_NE(CheckExpect(Json::parse(R"({"exit": "nonzero", "stdout_contains": ["x"]})"), r, 0), "");
  EXPECT_EQ(
      CheckExpect(Json::parse(R"({"exit": "nonzero", "stdout_matches": "^mnist\\s+5s$"})"), r, 0),
      "");
  EXPECT_NE(CheckExpect(Json::parse(R"({"exit": 1, "stdout_lines": 3})"), r, 0), "");
  EXPECT_NE(CheckExpect(Json::parse(R"({"exit": 1, "stderr_not_contains": "boom"})"), r, 0), "");
  EXPECT_NE(CheckExpect(Json::parse(R"({"exit": 1, "stdout_contain": "typo"})"), r, 0), "");
  EXPECT_EQ(ParseDuration(Json("1.5s"), milliseconds(0)), milliseconds(1500));
  EXPECT_EQ(ParseDuration(Json("200ms"), milliseconds(0)), milliseconds(200));
  EXPECT_EQ(ParseDuration(Json(2), milliseconds(0)), milliseconds(2000));
}

TEST(ScenarioHarness, ChildrenAreKilledAtTheirDeadline) {
  TempDir dir;
  const auto t0 = Clock::now();
  ProcessResult r =
      RunProcess({"/bin/sh", "-c", "echo started; sleep 30"}, dir.path(), milliseconds(300));
  EXPECT_TRUE(r.timed_out);
  EXPECT_EQ(r.out, "started\n");
  EXPECT_LT(Clock::now() - t0, milliseconds(5000));
  r = RunProcess({"/bin/sh", "-c", "cat; echo err >&2; exit 3"}, dir.path(), milliseconds(5000),
                 "from stdin", {"UNUSED=1"});
  EXPECT_EQ(r.exit_code, 3);
  EXPECT_EQ(r.out, "from stdin");
  EXPECT_EQ(r.err, "err\n");
  r = RunProcess({"/bin/sh", "-c", "printf %s \"$HOME\""}, dir.path(), milliseconds(5000), "",
                 {"HOME=/overridden"});
  EXPECT_EQ(r.out, "/overridden");
}

class ScenarioTest : public testing::TestWithParam<fs::path> {};

TEST_P(ScenarioTest, Passes) {
  const fs::path file = GetParam();
  auto scenario = ParseYaml(ReadFile(file));
  ASSERT_TRUE(scenario.ok()) << file << ": " << scenario.status().message();
  ASSERT_TRUE(scenario->is_object() && scenario->contains("steps"))
      << file << ": a scenario is a mapping with `steps:`";
  if (scenario->contains("skip")) GTEST_SKIP() << (*scenario)["skip"].get<std::string>();

  TempDir work("skiff-e2e-" + TestName(file) + "-");
  SkiffServer server(work.path());
  const std::string start_error = server.Start();
  ASSERT_EQ(start_error, "") << "could not start skiff for " << file;
  std::string error;
  {
    ScenarioRunner runner(server, file, work.path());
    error = runner.Run((*scenario)["steps"]);
  }
  server.Stop();
  if (!error.empty()) ADD_FAILURE() << file.string() << "\n" << error;
}

INSTANTIATE_TEST_SUITE_P(Scenarios, ScenarioTest, testing::ValuesIn(ScenarioFiles()),
                         [](const testing::TestParamInfo<fs::path>& info) {
                           return TestName(info.param);
                         });
GTEST_ALLOW_UNINSTANTIATED_PARAMETERIZED_TEST(ScenarioTest);

}  // namespace
}  // namespace skiff::e2e
