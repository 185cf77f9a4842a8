// A coin flip (retried if it fails) decides between a bounded loop over a list parameter and a
// single uncached task; a second loop runs over a fixed list; an exit handler reports how it all
// ended. Prints the KFP IR; runs with the default image catalog (alpine → the host's sh).
#include <iostream>

#include "skiff/dsl.h"

namespace dsl = skiff::dsl;
using dsl::Component;
using dsl::Pipeline;
using dsl::Type;
using dsl::Value;

int main() {
  Component flip =
      Component("flip-coin")
          .Image("alpine")
          .Output("side", Type::String)
          .Command({"sh", "-c",
                    "if [ $(( $(od -An -N1 -tu1 /dev/urandom) % 2 )) -eq 0 ]; then side=heads; "
                    "else side=tails; fi; "
                    "printf %s \"$side\" > \"$0\""})
          .Args({dsl::OutputParamFile("side")});
  Component echo = Component("echo")
                       .Image("alpine")
                       .Input("msg", Type::String)
                       .Command({"echo", dsl::InputParam("msg")});
  Component report = Component("report")
                         .Image("alpine")
                         .Input("status", Type::TaskFinalStatus)
                         .Command({"sh", "-c", "echo \"pipeline finished: $0\""})
                         .Args({dsl::InputParam("status")});

  Pipeline p("condition-loop-pipeline");
  auto items = p.Input("items", Type::List, dsl::Json::array({"a", "b", "c"}));
  auto done = p.Task(report, {{"status", dsl::FinalStatus()}});
  p.ExitHandler(done, [&] {
    auto coin = p.Task(flip).Retry(2, "5s", 2.0, "1m");
    p.If(
        coin.Output("side") == "heads",
        [&] {
          p.ParallelFor(
              items,
              [&](const Value& item) {
                p.Task(echo, {{"msg", item}});
              },
              /*parallelism=*/2);
        },
        [&] {
          p.Task(echo, {{"msg", "tails: no loop"}}).DisableCache();
        });
    p.ParallelFor(dsl::Json::array({"x", "y"}), [&](const Value& item) {
      p.Task(echo, {{"msg", item}}).After(coin);
    });
  });
  std::cout << p.ToYaml();
  return 0;
}
