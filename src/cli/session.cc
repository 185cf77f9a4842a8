// Session: kubeconfig resolution, raw requests and the lazily built RestMapper.
#include "cli/session.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <vector>

#include "client/http_client.h"
#include "client/status_decode.h"
#include "http/http.h"

namespace skiff::cli {
namespace {

constexpr char kAggregatedAccept[] =
    "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json";

bool FileExists(const std::string& path) {
  struct stat st;
  return !path.empty() && ::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

std::string SkiffHome(const ConnectionFlags& flags) {
  if (!flags.data_dir.empty()) return flags.data_dir;
  if (const char* env = std::getenv("SKIFF_HOME"); env && *env) return env;
  const char* home = std::getenv("HOME");
  return std::string(home ? home : "") + "/.skiff";
}

// True when kubectl would find a kubeconfig of its own: $KUBECONFIG names an existing file, or
// ~/.kube/config exists.
bool KubectlHasKubeconfig() {
  if (const char* env = std::getenv("KUBECONFIG"); env && *env) {
    std::string list = env;
    size_t start = 0;
    while (start <= list.size()) {
      size_t colon = list.find(':', start);
      if (colon == std::string::npos) colon = list.size();
      if (FileExists(list.substr(start, colon - start))) return true;
      start = colon + 1;
    }
    return false;
  }
  const char* home = std::getenv("HOME");
  return FileExists(std::string(home ? home : "") + "/.kube/config");
}

// Writes `content` to a fresh 0600 file, because http::ClientOptions takes the client certificate
// and key as files. Returns "" on failure.
std::string WriteTempFile(const std::string& content) {
  const char* dir = std::getenv("TMPDIR");
  std::string tmpl = std::string(dir && *dir ? dir : "/tmp") + "/skiff-cli-XXXXXX";
  std::vector<char> buf(tmpl.begin(), tmpl.end());
  buf.push_back('\0');
  int fd = ::mkstemp(buf.data());
  if (fd < 0) return "";
  size_t off = 0;
  while (off < content.size()) {
    ssize_t n = ::write(fd, content.data() + off, content.size() - off);
    if (n <= 0) {
      ::close(fd);
      ::unlink(buf.data());
      return "";
    }
    off += static_cast<size_t>(n);
  }
  ::close(fd);
  return buf.data();
}

}  // namespace

StatusOr<client::ClusterConfig> ResolveKubeconfig(const ConnectionFlags& flags) {
  if (!flags.kubeconfig.empty() || KubectlHasKubeconfig()) {
    return client::LoadKubeconfig(flags.kubeconfig, flags.context);
  }
  const std::string skiff = SkiffHome(flags) + "/kubeconfig";
  if (FileExists(skiff)) return client::LoadKubeconfig(skiff, flags.context);
  return Status::NotFound(
      "no kubeconfig: set --kubeconfig or $KUBECONFIG, or run `skiff up` (it writes " + skiff +
      ")");
}

std::string QueryString(const std::vector<std::pair<std::string, std::string>>& params) {
  std::string out;
  for (const auto& [k, v] : params) {
    if (v.empty()) continue;
    out += out.empty() ? '?' : '&';
    out += http::PercentEncode(k) + "=" + http::PercentEncode(v);
  }
  return out;
}

StatusOr<std::unique_ptr<Session>> Session::Open(const ConnectionFlags& flags) {
  auto config = ResolveKubeconfig(flags);
  if (!config.ok()) return config.status();
  std::unique_ptr<Session> s(new Session());
  s->config_ = *config;
  s->namespace_ = !flags.namespace_.empty()     ? flags.namespace_
                  : !config->namespace_.empty() ? config->namespace_
                                                : "default";

  // The server URL, as client::NewHttpClient reads it: scheme, host, port, optional path.
  std::string rest = config->server;
  uint16_t port = 443;
  if (rest.rfind("https://", 0) == 0) {
    rest = rest.substr(8);
  } else if (rest.rfind("http://", 0) == 0) {
    rest = rest.substr(7);
    s->tls_ = false;
    port = 80;
  } else {
    return Status::BadRequest("kubeconfig: server \"" + config->server +
                              "\" must start with https:// or http://");
  }
  const size_t slash = rest.find('/');
  std::string authority = rest.substr(0, slash);
  if (slash != std::string::npos) {
    s->path_prefix_ = rest.substr(slash);
    while (!s->path_prefix_.empty() && s->path_prefix_.back() == '/') s->path_prefix_.pop_back();
  }
  std::string host = authority, port_text;
  if (!authority.empty() && authority[0] == '[') {
    const size_t close = authority.find(']');
    host = authority.substr(1, close == std::string::npos ? std::string::npos : close - 1);
    if (close != std::string::npos && close + 1 < authority.size()) {
      port_text = authority.substr(close + 2);
    }
  } else if (size_t colon = authority.rfind(':'); colon != std::string::npos) {
    host = authority.substr(0, colon);
    port_text = authority.substr(colon + 1);
  }
  if (!port_text.empty()) {
    char* end = nullptr;
    long p = std::strtol(port_text.c_str(), &end, 10);
    if (*end != '\0' || p <= 0 || p > 65535) {
      return Status::BadRequest("kubeconfig: server \"" + config->server + "\" has a bad port");
    }
    port = static_cast<uint16_t>(p);
  }
  s->http_options_.host = host;
  s->http_options_.port = port;
  s->http_options_.use_tls = s->tls_;
  s->http_options_.ca_pem = config->ca_pem;
  s->http_options_.insecure_skip_verify = config->insecure_skip_tls_verify;
  if (!config->client_cert_pem.empty()) {
    s->cert_file_ = WriteTempFile(config->client_cert_pem);
    s->key_file_ = WriteTempFile(config->client_key_pem);
    if (s->cert_file_.empty() || s->key_file_.empty()) {
      return Status::Internal("cannot write the client certificate to a temporary file");
    }
    s->http_options_.client_cert_file = s->cert_file_;
    s->http_options_.client_key_file = s->key_file_;
  }
  s->http_ = http::NewClient(s->http_options_);
  s->client_ = client::NewHttpClient(s->config_);
  return s;
}

Session::~Session() {
  if (!cert_file_.empty()) ::unlink(cert_file_.c_str());
  if (!key_file_.empty()) ::unlink(key_file_.c_str());
}

http::ClientRequest Session::Request(const std::string& method, const std::string& path,
                                     const std::string& accept) const {
  http::ClientRequest req;
  req.method = method;
  req.target = path_prefix_ + path;
  req.headers["Accept"] = accept;
  req.headers["User-Agent"] = "skiff-cli";
  // Like kubectl, a bearer token never travels in the clear.
  if (!config_.token.empty() && tls_) req.headers["Authorization"] = "Bearer " + config_.token;
  return req;
}

StatusOr<http::Response> Session::Raw(const std::string& method, const std::string& path,
                                      const std::string& accept, const std::string& body,
                                      const std::string& content_type) {
  http::ClientRequest req = Request(method, path, accept);
  req.body = body;
  if (!content_type.empty()) req.headers["Content-Type"] = content_type;
  return http_->Do(req);
}

StatusOr<http::Response> Session::Stream(const std::string& path, const std::string& accept,
                                         const std::function<bool(std::string_view)>& on_data) {
  // A follow stream has no deadline of its own; a connection of its own keeps the shared one's
  // timeout intact.
  http::ClientOptions options = http_options_;
  options.timeout = std::chrono::hours(24 * 365);
  auto conn = http::NewClient(options);
  return conn->Stream(Request("GET", path, accept), on_data);
}

Status Session::RefreshMapper() {
  Json docs[2];
  const char* paths[2] = {"/api", "/apis"};
  for (int i = 0; i < 2; ++i) {
    auto r = Raw("GET", paths[i], kAggregatedAccept);
    if (!r.ok()) return r.status();
    if (r->status < 200 || r->status >= 300) return client::DecodeError(*r);
    auto parsed = ParseJson(r->body);
    if (!parsed.ok())
      return Status::Internal("undecodable discovery from " + std::string(paths[i]));
    docs[i] = std::move(*parsed);
  }
  auto mapper = RestMapper::FromAggregatedDiscovery(docs[0], docs[1]);
  if (!mapper.ok()) return mapper.status();
  mapper_ = std::move(*mapper);
  return Status::Ok();
}

StatusOr<const RestMapper*> Session::Mapper() {
  if (!mapper_) {
    SKIFF_RETURN_IF_ERROR(RefreshMapper());
    mapper_fresh_ = true;
  }
  return &*mapper_;
}

StatusOr<Mapping> Session::ForArg(const std::string& arg) {
  auto mapper = Mapper();
  if (!mapper.ok()) return mapper.status();
  auto m = (*mapper)->ForArg(arg);
  if (m.ok() || mapper_fresh_) return m;
  SKIFF_RETURN_IF_ERROR(RefreshMapper());
  mapper_fresh_ = true;
  return mapper_->ForArg(arg);
}

StatusOr<Mapping> Session::ForKind(const std::string& api_version, const std::string& kind) {
  auto mapper = Mapper();
  if (!mapper.ok()) return mapper.status();
  auto m = (*mapper)->ForKind(api_version, kind);
  if (m.ok() || mapper_fresh_) return m;
  SKIFF_RETURN_IF_ERROR(RefreshMapper());
  mapper_fresh_ = true;
  return mapper_->ForKind(api_version, kind);
}

}  // namespace skiff::cli
