// Two additions in a row: the second waits for the first and takes its sum. Prints the KFP IR;
// runs with the default image catalog (alpine → the host's sh).
#include <iostream>

#include "skiff/dsl.h"

using skiff::dsl::Component;
using skiff::dsl::InputParam;
using skiff::dsl::OutputParamFile;
using skiff::dsl::Pipeline;
using skiff::dsl::Type;

int main() {
  Component add = Component("add")
                      .Image("alpine")
                      .Input("a", Type::Integer)
                      .Input("b", Type::Integer)
                      .Output("sum", Type::Integer)
                      .Command({"sh", "-c", "echo $(( $0 + $1 )) > \"$2\""})
                      .Args({InputParam("a"), InputParam("b"), OutputParamFile("sum")});

  Pipeline p("add-pipeline");
  p.Description("Adds x and 2, then 3 to that.");
  auto x = p.Input("x", Type::Integer, 1);
  auto t1 = p.Task(add, {{"a", x}, {"b", 2}});
  auto t2 = p.Task(add, {{"a", t1.Output("sum")}, {"b", 3}}).After(t1);
  p.Output("total", t2.Output("sum"));
  std::cout << p.ToYaml();
  return 0;
}
