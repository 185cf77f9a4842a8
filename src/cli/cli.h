// Command-line entry point: parses subcommands and dispatches.
#pragma once

namespace skiff::cli {

int Main(int argc, char** argv);

}  // namespace skiff::cli
