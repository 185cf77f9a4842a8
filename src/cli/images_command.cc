// `skiff images`: the catalog's list/add/remove/resolve verbs over runtime::Catalog.
#include "cli/images_command.h"

#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <iomanip>

#include "runtime/images.h"

namespace skiff::cli {
namespace {

namespace fs = std::filesystem;
using runtime::Catalog;
using runtime::ImageEntry;

constexpr char kUsage[] =
    "usage: skiff images list\n"
    "       skiff images add NAME [--match PATTERN]... [--entrypoint PROG [ARG]...]\n"
    "                         [--cmd PROG [ARG]...] [--run PROG [ARG]...] [--env K=V]...\n"
    "                         [--alias NAME=PATH]... [--description TEXT]\n"
    "         --run replaces the container's command and args (a manifest written for an image\n"
    "         skiff cannot run, e.g. TensorFlow, runs skiff-ml instead); skiff-* programs need no "
    "path\n"
    "       skiff images remove NAME\n"
    "       skiff images resolve IMAGE [--command ARG]... [--args ARG]...\n";

std::string BinDir() {
  std::error_code ec;
  auto exe = fs::read_symlink("/proc/self/exe", ec);
  return ec ? std::string(".") : exe.parent_path().string();
}

std::string Join(const std::vector<std::string>& v) {
  std::string s;
  for (const auto& x : v) s += (s.empty() ? "" : " ") + x;
  return s;
}

// Words after a multi-word flag, up to the next --flag; "--" makes the rest literal.
std::vector<std::string> TakeWords(const std::vector<std::string>& args, size_t* i) {
  std::vector<std::string> out;
  while (*i + 1 < args.size()) {
    const std::string& next = args[*i + 1];
    if (next == "--") {
      *i += 1;
      while (*i + 1 < args.size()) out.push_back(args[++*i]);
      break;
    }
    if (next.rfind("--", 0) == 0) break;
    out.push_back(next);
    ++*i;
  }
  return out;
}

int List(const Catalog& cat, std::ostream& out) {
  std::vector<std::vector<std::string>> rows = {{"NAME", "MATCH", "SOURCE", "RUNS", "DESCRIPTION"}};
  for (const auto& e : cat.entries()) {
    std::string runs = Join(e.entrypoint);
    if (!e.cmd.empty()) runs += (runs.empty() ? "" : " ") + Join(e.cmd);
    if (!e.run.empty()) runs = Join(e.run) + " (always)";
    std::string match;
    for (const auto& m : e.match) match += (match.empty() ? "" : ",") + m;
    rows.push_back({e.name, match, e.builtin ? "builtin" : "file", runs, e.description});
  }
  constexpr size_t kPadded = 4;  // every column but the last is padded
  size_t width[kPadded] = {0, 0, 0, 0};
  for (const auto& r : rows) {
    for (size_t i = 0; i < kPadded; ++i) width[i] = std::max(width[i], r[i].size());
  }
  for (const auto& r : rows) {
    for (size_t i = 0; i < kPadded; ++i)
      out << std::left << std::setw(static_cast<int>(width[i] + 3)) << r[i];
    out << r[kPadded] << "\n";
  }
  return 0;
}

}  // namespace

int RunImages(const std::vector<std::string>& args, const std::string& data_dir, std::ostream& out,
              std::ostream& err) {
  const std::string file = data_dir + "/images.yaml";
  const std::string alias_root = data_dir + "/images";
  if (args.empty() || args[0] == "-h" || args[0] == "--help" || args[0] == "help") {
    (args.empty() ? err : out) << kUsage;
    return args.empty() ? 2 : 0;
  }
  const std::string& verb = args[0];
  if (verb == "list") {
    auto cat = Catalog::Load(file, BinDir(), alias_root);
    if (!cat.ok()) {
      err << "error: " << cat.status().message() << "\n";
      return 1;
    }
    return List(**cat, out);
  }
  if (verb == "add") {
    if (args.size() < 2 || args[1].rfind("--", 0) == 0) {
      err << "error: skiff images add needs a NAME\n" << kUsage;
      return 2;
    }
    ImageEntry e;
    e.name = args[1];
    for (size_t i = 2; i < args.size(); ++i) {
      const std::string& a = args[i];
      auto value = [&](std::string* v) {
        if (i + 1 >= args.size()) return false;
        *v = args[++i];
        return true;
      };
      std::string v;
      if (a == "--entrypoint") {
        e.entrypoint = TakeWords(args, &i);
      } else if (a == "--cmd") {
        e.cmd = TakeWords(args, &i);
      } else if (a == "--run") {
        e.run = TakeWords(args, &i);
      } else if (a == "--match" && value(&v)) {
        e.match.push_back(v);
      } else if (a == "--env" && value(&v)) {
        if (v.find('=') == std::string::npos) {
          err << "error: --env wants NAME=VALUE, got \"" << v << "\"\n";
          return 2;
        }
        e.env.push_back(v);
      } else if (a == "--alias" && value(&v)) {
        size_t eq = v.find('=');
        if (eq == std::string::npos || eq == 0) {
          err << "error: --alias wants NAME=PATH, got \"" << v << "\"\n";
          return 2;
        }
        e.aliases[v.substr(0, eq)] = v.substr(eq + 1);
      } else if (a == "--description" && value(&v)) {
        e.description = v;
      } else {
        err << "error: unknown or incomplete flag \"" << a << "\"\n" << kUsage;
        return 2;
      }
    }
    if (e.entrypoint.empty() && e.cmd.empty() && e.run.empty()) {
      err << "error: give the program to run with --cmd, --entrypoint or --run\n";
      return 2;
    }
    if (e.match.empty()) {
      e.match.push_back(runtime::NormalizeImage(e.name));
      // A bare name also matches its tags, as the built-ins do.
      if (e.match[0].find(':') == std::string::npos) e.match.push_back(e.match[0] + ":*");
    }
    Status s = Catalog::AddToFile(file, e);
    if (!s.ok()) {
      err << "error: " << s.message() << "\n";
      return 1;
    }
    out << "image " << e.name << " added to " << file << "\n";
    return 0;
  }
  if (verb == "remove") {
    if (args.size() != 2) {
      err << "error: skiff images remove needs one NAME\n";
      return 2;
    }
    Status s = Catalog::RemoveFromFile(file, args[1]);
    if (!s.ok()) {
      err << "error: " << s.message() << "\n";
      return 1;
    }
    out << "image " << args[1] << " removed from " << file << "\n";
    return 0;
  }
  if (verb == "resolve") {
    if (args.size() < 2) {
      err << "error: skiff images resolve needs an IMAGE\n";
      return 2;
    }
    std::vector<std::string> command, cargs;
    for (size_t i = 2; i < args.size(); ++i) {
      if (args[i] == "--command" && i + 1 < args.size()) {
        command.push_back(args[++i]);
      } else if (args[i] == "--args" && i + 1 < args.size()) {
        cargs.push_back(args[++i]);
      } else {
        err << "error: unknown or incomplete flag \"" << args[i] << "\"\n";
        return 2;
      }
    }
    auto cat = Catalog::Load(file, BinDir(), alias_root);
    if (!cat.ok()) {
      err << "error: " << cat.status().message() << "\n";
      return 1;
    }
    auto r = (*cat)->Resolve(args[1]);
    if (!r.ok()) {
      err << "error: " << r.status().message() << "\n";
      return 1;
    }
    out << "image:      " << r->normalized << "\n";
    out << "entry:      " << r->entry->name << (r->entry->builtin ? " (builtin)" : "") << "\n";
    auto argv = Catalog::Argv(*r->entry, command, cargs, r->entry->env);
    out << "argv:       " << (argv.ok() ? Join(*argv) : "error: " + argv.status().message())
        << "\n";
    if (!r->entry->env.empty()) out << "env:        " << Join(r->entry->env) << "\n";
    if (!r->alias_dir.empty()) out << "alias dir:  " << r->alias_dir << "\n";
    return 0;
  }
  err << "error: unknown verb \"" << verb << "\"\n" << kUsage;
  return 2;
}

}  // namespace skiff::cli
