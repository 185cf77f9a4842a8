// kubectl-kubeflow: kubectl runs it for `kubectl kubeflow ...` when it is on PATH.
#include <iostream>

#include "plugin/plugin.h"

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  return skiff::plugin::RunPlugin(args, {std::cin, std::cout, std::cerr});
}
