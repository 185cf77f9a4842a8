// The skiff binary: `skiff up` serves everything; the other subcommands are thin API clients.
#include "cli/cli.h"

int main(int argc, char** argv) { return skiff::cli::Main(argc, argv); }
