// `skiff images list|add|remove|resolve`: edits and queries the local image catalog
// ($SKIFF_HOME/images.yaml, see runtime/images.h). Arguments are parsed here so the caller only
// forwards what follows `images`.
#pragma once

#include <ostream>
#include <string>
#include <vector>

namespace skiff::cli {

// `args` are the words after `skiff images`; `data_dir` is $SKIFF_HOME. Returns the exit code.
//   list
//   add NAME [--match PATTERN]... [--entrypoint PROG [ARG]...] [--cmd PROG [ARG]...]
//            [--env K=V]... [--alias NAME=PATH]... [--description TEXT]
//   remove NAME
//   resolve IMAGE [--command ARG]... [--args ARG]...
// --entrypoint and --cmd take every following word up to the next --flag (a word starting with
// "--" may be passed with a "--" escape: `--cmd prog -- --flag`).
int RunImages(const std::vector<std::string>& args, const std::string& data_dir, std::ostream& out,
              std::ostream& err);

}  // namespace skiff::cli
