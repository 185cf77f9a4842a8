// Builds bubblewrap command lines: a read-only copy of the host's root with private /tmp, /run,
// /proc, /dev, hidden paths and the container's mounts (see README.md for the layout).
#include "runtime/sandbox.h"

#include <dirent.h>
#include <fcntl.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>

extern char** environ;

namespace skiff::runtime {
namespace {

// Top-level host entries the sandbox does not share as they are.
bool IsPrivateTopLevel(const std::string& name) {
  return name == "tmp" || name == "proc" || name == "dev" || name == "sys" || name == "run";
}

// One layer of the sandbox's mount table: `dst` shows `src` of the host ("" = an empty tmpfs or
// directory, which bwrap can create mount points in).
struct View {
  enum Kind { kTmpfs, kDir, kBind, kSymlink, kDev, kProc };
  std::string dst;
  std::string src;
  bool read_only = true;
  Kind kind = kBind;
  std::string link_target;  // kSymlink
};

bool Under(const std::string& path, const std::string& dir) {
  if (dir == "/") return !path.empty() && path[0] == '/';
  return path == dir || (path.size() > dir.size() && path.compare(0, dir.size(), dir) == 0 &&
                         path[dir.size()] == '/');
}

std::string Clean(std::string p) {
  while (p.size() > 1 && p.back() == '/') p.pop_back();
  return p;
}

// Host directories that must be rebuilt entry by entry instead of bound whole, because a mount
// point has to be created inside them (e.g. a volume at /etc/config: /etc becomes a directory in
// the root tmpfs holding a read-only bind of each of the host's /etc entries, and bwrap can then
// create /etc/config). Costs one bind per entry, so only the directories on such a path expand.
std::vector<std::string> DirsToExpand(const ContainerSpec& spec) {
  std::vector<std::string> out;
  for (const auto& m : spec.mounts) {
    const std::string dst = Clean(m.container_path.empty() ? m.host_path : m.container_path);
    if (dst.size() < 2 || dst[0] != '/') continue;
    std::vector<std::string> prefixes;
    for (size_t at = dst.find('/', 1);; at = dst.find('/', at + 1)) {
      prefixes.push_back(dst.substr(0, at));
      if (at == std::string::npos) break;
    }
    const std::string top = prefixes[0].substr(1);
    if (top == "tmp" || top == "proc" || top == "dev" || top == "sys" || top == "run") continue;
    std::vector<std::string> existing;
    bool through_symlink = false, missing = false;
    for (const std::string& p : prefixes) {
      struct stat st;
      if (::lstat(p.c_str(), &st) != 0) {
        missing = true;
        break;
      }
      if (S_ISLNK(st.st_mode)) through_symlink = true;
      if (!S_ISDIR(st.st_mode)) break;
      existing.push_back(p);
    }
    // A missing top-level entry is created in the root tmpfs; a path through a symlink is left to
    // the read-only check below (it names the problem).
    if (!missing || existing.empty() || through_symlink) continue;
    for (const std::string& d : existing) {
      if (std::find(out.begin(), out.end(), d) == out.end()) out.push_back(d);
    }
  }
  return out;
}

// Adds `p` (a host entry shown at the same path) to `v`: rebuilt entry by entry when it is in
// `expand`, else a symlink or a read-only bind.
void AddHostEntry(const std::string& p, const std::vector<std::string>& expand,
                  std::vector<View>* v) {
  struct stat st;
  if (::lstat(p.c_str(), &st) != 0) return;
  if (S_ISLNK(st.st_mode)) {
    char target[4096];
    ssize_t n = ::readlink(p.c_str(), target, sizeof target - 1);
    if (n <= 0) return;
    View link{p, p};
    link.kind = View::kSymlink;
    link.link_target.assign(target, static_cast<size_t>(n));
    v->push_back(std::move(link));
    return;
  }
  if (S_ISDIR(st.st_mode) && std::find(expand.begin(), expand.end(), p) != expand.end()) {
    View dir{p, ""};
    dir.kind = View::kDir;
    v->push_back(dir);
    if (DIR* d = ::opendir(p.c_str())) {
      std::vector<std::string> names;
      while (dirent* e = ::readdir(d)) {
        std::string name = e->d_name;
        if (name != "." && name != "..") names.push_back(name);
      }
      ::closedir(d);
      std::sort(names.begin(), names.end());
      for (const std::string& name : names) AddHostEntry(p + "/" + name, expand, v);
    }
    return;
  }
  v->push_back({p, p});
}

// The root tmpfs, then the top-level entries, the private dirs, hidden paths and mounts, in the
// order bwrap applies them (later layers win on equal paths).
std::vector<View> Views(const ContainerSpec& spec) {
  std::vector<View> v{{"/", "", true, View::kTmpfs}};
  const std::vector<std::string> expand = DirsToExpand(spec);
  if (DIR* d = ::opendir("/")) {
    std::vector<std::string> names;
    while (dirent* e = ::readdir(d)) {
      std::string name = e->d_name;
      if (name == "." || name == ".." || IsPrivateTopLevel(name)) continue;
      names.push_back(name);
    }
    ::closedir(d);
    std::sort(names.begin(), names.end());
    for (const std::string& name : names) AddHostEntry("/" + name, expand, &v);
  }
  v.push_back({"/tmp", "", true, View::kTmpfs});
  v.push_back({"/run", "", true, View::kTmpfs});
  v.push_back({"/dev", "", true, View::kDev});
  v.push_back({"/proc", "/proc", true, View::kProc});
  v.push_back({"/sys", "/sys"});
  return v;
}

const View* Covering(const std::vector<View>& views, const std::string& path) {
  const View* best = nullptr;
  for (const auto& v : views) {
    if (Under(path, v.dst) && (!best || v.dst.size() >= best->dst.size())) best = &v;
  }
  return best;
}

// The host path showing container path `p`, or "" when it lies in a tmpfs (does not exist).
std::string ToHost(const std::vector<View>& views, const std::string& p) {
  const View* v = Covering(views, p);
  if (!v || v->src.empty()) return "";
  return v->src + p.substr(v->dst.size() == 1 ? 0 : v->dst.size());
}

}  // namespace

StatusOr<std::string> ProbeBubblewrap() {
  std::string bwrap;
  const char* path = std::getenv("PATH");
  std::string dirs = path ? path : "/usr/local/bin:/usr/bin:/bin";
  size_t pos = 0;
  while (pos <= dirs.size()) {
    size_t end = dirs.find(':', pos);
    if (end == std::string::npos) end = dirs.size();
    std::string cand = dirs.substr(pos, end - pos) + "/bwrap";
    if (::access(cand.c_str(), X_OK) == 0) {
      bwrap = cand;
      break;
    }
    pos = end + 1;
  }
  if (bwrap.empty()) return Status::NotFound("bwrap (bubblewrap) not found on PATH");
  int err_pipe[2];
  if (::pipe2(err_pipe, O_CLOEXEC) != 0)
    return Status::Internal("pipe: " + std::string(strerror(errno)));
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
  posix_spawn_file_actions_adddup2(&fa, err_pipe[1], 2);
  std::vector<std::string> args = {bwrap,   "--ro-bind",     "/",   "/", "--dev", "/dev", "--proc",
                                   "/proc", "--unshare-pid", "true"};
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  pid_t pid;
  int rc = posix_spawn(&pid, bwrap.c_str(), &fa, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&fa);
  ::close(err_pipe[1]);
  std::string err;
  char buf[512];
  ssize_t n;
  while (rc == 0 && (n = ::read(err_pipe[0], buf, sizeof buf)) > 0) err.append(buf, n);
  ::close(err_pipe[0]);
  if (rc != 0) return Status::Unavailable("running " + bwrap + ": " + std::strerror(rc));
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    while (!err.empty() && err.back() == '\n') err.pop_back();
    return Status::Unavailable("bwrap does not work here" + (err.empty() ? "" : ": " + err));
  }
  return bwrap;
}

StatusOr<std::vector<std::string>> BwrapArgs(const std::string& bwrap, const ContainerSpec& spec) {
  std::vector<std::string> a = {bwrap, "--tmpfs", "/"};
  std::vector<View> views = Views(spec);
  for (size_t i = 1; i < views.size(); ++i) {
    const View& v = views[i];
    switch (v.kind) {
      case View::kTmpfs:
        a.insert(a.end(), {"--tmpfs", v.dst});
        break;
      case View::kDir:
        a.insert(a.end(), {"--dir", v.dst});
        break;
      case View::kDev:
        a.insert(a.end(), {"--dev", v.dst});
        break;
      case View::kProc:
        a.insert(a.end(), {"--proc", v.dst});
        break;
      case View::kSymlink:
        a.insert(a.end(), {"--symlink", v.link_target, v.dst});
        break;
      case View::kBind:
        a.insert(a.end(), {"--ro-bind", v.dst, v.dst});
        break;
    }
  }
  for (const auto& raw : spec.hidden_paths) {
    std::string h = Clean(raw);
    if (h.empty() || h[0] != '/') continue;
    std::string host = ToHost(views, h);
    struct stat st;
    // Only what the sandbox would show needs hiding; a path below /tmp is already gone.
    if (host.empty() || ::stat(host.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) continue;
    a.insert(a.end(), {"--tmpfs", h});
    views.push_back({h, ""});
  }
  for (const auto& m : spec.mounts) {
    std::string dst = Clean(m.container_path.empty() ? m.host_path : m.container_path);
    if (dst.empty() || dst[0] != '/') {
      return Status::Invalid("mount path \"" + m.container_path + "\" must be absolute");
    }
    struct stat st;
    if (::stat(m.host_path.c_str(), &st) != 0) {
      return Status::Invalid("mount source " + m.host_path + ": " + std::strerror(errno));
    }
    // bwrap creates missing mount points in a tmpfs, but not inside a read-only bind.
    const View* cover = Covering(views, dst);
    if (cover && !cover->src.empty()) {
      std::string host = ToHost(views, dst);
      struct stat hs;
      if (::stat(host.c_str(), &hs) != 0 && cover->read_only) {
        return Status::Invalid("cannot mount " + m.host_path + " at " + dst + ": " + dst +
                               " does not exist in the sandbox and " + cover->dst +
                               " is read-only there");
      }
    }
    a.insert(a.end(), {m.read_only ? "--ro-bind" : "--bind", m.host_path, dst});
    views.push_back({dst, m.host_path, m.read_only});
  }
  if (!spec.hosts_file.empty()) a.insert(a.end(), {"--ro-bind", spec.hosts_file, "/etc/hosts"});
  a.insert(a.end(), {"--unshare-pid", "--unshare-ipc", "--unshare-uts"});
  if (!spec.hostname.empty()) a.insert(a.end(), {"--hostname", spec.hostname});
  a.insert(a.end(),
           {"--die-with-parent", "--chdir",
            spec.working_dir.empty() ? std::string("/") : spec.working_dir, "--remount-ro", "/"});
  return a;
}

Lookup LookupExecutable(const std::string& argv0, const std::string& path_env,
                        const std::string& working_dir, const ContainerSpec& spec, bool sandboxed) {
  std::vector<View> views;
  if (sandboxed) {
    views = Views(spec);
    for (const auto& h : spec.hidden_paths) views.push_back({Clean(h), ""});
    for (const auto& m : spec.mounts) {
      views.push_back({Clean(m.container_path.empty() ? m.host_path : m.container_path),
                       m.host_path, m.read_only});
    }
  }
  auto host_of = [&](const std::string& p) { return sandboxed ? ToHost(views, p) : p; };
  auto check = [&](const std::string& p) -> int {
    std::string host = host_of(p);
    struct stat st;
    if (host.empty() || ::stat(host.c_str(), &st) != 0) return ENOENT;
    if (S_ISDIR(st.st_mode)) return EACCES;
    return ::access(host.c_str(), X_OK) == 0 ? 0 : EACCES;
  };
  if (argv0.empty()) return {"", ENOENT};
  if (argv0.find('/') != std::string::npos) {
    std::string p =
        argv0[0] == '/' ? argv0 : Clean(working_dir.empty() ? "/" : working_dir) + "/" + argv0;
    return {argv0, check(p)};
  }
  std::string dirs =
      path_env.empty() ? "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin" : path_env;
  int err = ENOENT;
  size_t pos = 0;
  while (pos <= dirs.size()) {
    size_t end = dirs.find(':', pos);
    if (end == std::string::npos) end = dirs.size();
    std::string d = dirs.substr(pos, end - pos);
    pos = end + 1;
    if (d.empty() || d[0] != '/') continue;
    std::string cand = Clean(d) + "/" + argv0;
    int e = check(cand);
    if (e == 0) return {cand, 0};
    if (e == EACCES) err = EACCES;  // as execvp: remember, keep looking
  }
  return {"", err};
}

}  // namespace skiff::runtime
