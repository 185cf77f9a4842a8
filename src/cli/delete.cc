// `skiff delete`: by manifest (-f), by name, by selector or --all; like kubectl it waits until
// the objects are gone (finalizers and foreground deletion can hold them) unless --wait=false.
#include <chrono>
#include <ostream>
#include <thread>

#include "cli/commands.h"
#include "cli/printer.h"
#include "cli/resources.h"
#include "cli/session.h"

namespace skiff::cli {
namespace {

struct Target {
  Mapping mapping;
  std::string ns;
  std::string name;
  std::string uid;  // set once deleted: a new object under the same name is not the one we wait on
};

class Deleter {
 public:
  Deleter(Session* session, const DeleteOptions& options, Streams io)
      : s_(session), options_(options), io_(io) {}

  void Delete(Target t) {
    auto result = s_->client()->Delete(t.mapping.resource, t.ns, t.name);
    if (!result.ok()) {
      if (result.status().code() == Code::kNotFound && options_.ignore_not_found) return;
      PrintError(io_.err, result.status());
      failed_ = true;
      return;
    }
    const Json* uid = FindPath(*result, "metadata.uid");
    if (uid && uid->is_string()) t.uid = uid->get<std::string>();
    io_.out << t.mapping.KindGroup() << " \"" << t.name << "\" deleted\n";
    deleted_.push_back(std::move(t));
  }

  // Polls rather than watches: one GET per object per tick is cheap for the handful of objects a
  // command deletes and needs no watch-resume logic when the connection drops.
  void Wait() {
    if (!options_.wait) return;
    const auto deadline =
        options_.timeout_seconds > 0
            ? std::chrono::steady_clock::now() + std::chrono::seconds(options_.timeout_seconds)
            : std::chrono::steady_clock::time_point::max();
    std::vector<Target> pending = std::move(deleted_);
    while (!pending.empty()) {
      std::vector<Target> still;
      for (Target& t : pending) {
        auto live = s_->client()->Get(t.mapping.resource, t.ns, t.name);
        if (!live.ok() && live.status().code() == Code::kNotFound) continue;
        if (live.ok()) {
          const Json* uid = FindPath(*live, "metadata.uid");
          if (!t.uid.empty() && uid && uid->is_string() && uid->get<std::string>() != t.uid) {
            continue;  // recreated: the object we deleted is gone
          }
        } else if (IsTransportError(live.status())) {
          PrintError(io_.err, live.status());
          failed_ = true;
          return;
        }
        still.push_back(std::move(t));
      }
      pending = std::move(still);
      if (pending.empty()) break;
      if (std::chrono::steady_clock::now() >= deadline) {
        for (const Target& t : pending) {
          PrintClientError(io_.err, "timed out waiting for the condition on " +
                                        t.mapping.GroupResource() + "/" + t.name);
        }
        failed_ = true;
        return;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
    }
  }

  bool failed() const { return failed_; }
  void Fail() { failed_ = true; }

 private:
  Session* s_;
  const DeleteOptions& options_;
  Streams io_;
  std::vector<Target> deleted_;
  bool failed_ = false;
};

}  // namespace

int RunDelete(const ConnectionFlags& flags, const DeleteOptions& options, Streams io) {
  if (options.files.empty() == options.args.empty()) {
    PrintClientError(io.err, options.files.empty()
                                 ? "you must provide one or more resources by argument or filename"
                                 : "resources and -f cannot be given together");
    return 1;
  }
  std::vector<Manifest> manifests;
  if (!options.files.empty()) {
    auto read = ReadManifests(options.files, io.in);
    if (!read.ok()) {
      PrintClientError(io.err, read.status().message());
      return 1;
    }
    manifests = std::move(*read);
  }
  auto opened = Session::Open(flags);
  if (!opened.ok()) {
    PrintClientError(io.err, opened.status().message());
    return 1;
  }
  Session* s = opened->get();
  Deleter deleter(s, options, io);

  for (const Manifest& m : manifests) {
    const std::string api_version = m.object.value("apiVersion", "");
    const std::string kind = m.object.value("kind", "");
    auto mapping = s->ForKind(api_version, kind);
    if (!mapping.ok()) {
      PrintResolveError(io.err, mapping.status());
      deleter.Fail();
      continue;
    }
    auto ns = NamespaceFor(*mapping, m.object, s, flags);
    if (!ns.ok()) {
      PrintClientError(io.err, ns.status().message());
      deleter.Fail();
      continue;
    }
    deleter.Delete({*mapping, *ns, NameOf(m.object), ""});
  }

  if (!options.args.empty()) {
    auto requests = ResolveResourceArgs(s, options.args);
    if (!requests.ok()) {
      PrintResolveError(io.err, requests.status());
      return 1;
    }
    for (const ResourceRequest& r : *requests) {
      const std::string ns = r.mapping.namespaced ? s->default_namespace() : "";
      std::vector<std::string> names = r.names;
      if (names.empty()) {
        // Deleting a whole collection by accident is costly: kubectl demands --all or -l.
        if (!options.all && options.label_selector.empty()) {
          PrintClientError(io.err, "resource(s) were provided, but no name was specified");
          return 1;
        }
        client::ListOptions lo;
        lo.label_selector = options.label_selector;
        auto list = s->client()->List(r.mapping.resource, ns, lo);
        if (!list.ok()) {
          PrintError(io.err, list.status());
          deleter.Fail();
          continue;
        }
        for (const Json& item : (*list)["items"]) names.push_back(NameOf(item));
        if (names.empty()) {
          io.err << "No resources found" << (ns.empty() ? "" : " in " + ns + " namespace") << "\n";
        }
      }
      for (const std::string& name : names) deleter.Delete({r.mapping, ns, name, ""});
    }
  }
  deleter.Wait();
  return deleter.failed() ? 1 : 0;
}

}  // namespace skiff::cli
