#include "cli/cli.h"

#include <iostream>

namespace skiff::cli {

int Main(int argc, char** argv) {
  std::cerr << "skiff: not implemented yet\n";
  return 1;
}

}  // namespace skiff::cli
