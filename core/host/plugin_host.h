#pragma once
// The plugin host: loads the shared libraries listed in the configuration through their one
// C entry point, refuses any whose ABI, SDK headers or toolchain differ from the daemon's,
// starts each with a Context of the host's services, records what each registers, and
// revokes it all before stopping the plugin.

#include <memory>
#include <string>
#include <vector>

#include "ciclo/plugin.h"
#include "domain/result.h"
#include "host/api.h"
#include "host/config.h"
#include "host/crypto.h"
#include "host/events.h"
#include "host/scheduler.h"
#include "http/http_client.h"
#include "smtp/smtp_client.h"

namespace ciclo::host {

// A plugin's SQL may name only its own tables ("p_<plugin>_..."), and may not manage
// transactions or the database itself. This keeps plugins to their own tables by mistake
// as well as by design; the error names the first offending name.
Status checkPluginSql(const std::string& sql, const std::string& prefix);

// Checks a descriptor against the daemon's own ABI, SDK hash and toolchain; the error says
// what differs.
Status checkDescriptor(const CicloPluginDescriptor* descriptor);

// An opened plugin library.
class PluginLibrary {
 public:
  static Result<std::unique_ptr<PluginLibrary>> open(const std::string& path);
  ~PluginLibrary();
  const CicloPluginDescriptor* descriptor() const { return descriptor_; }

 private:
  void* handle_ = nullptr;
  const CicloPluginDescriptor* descriptor_ = nullptr;
};

class PluginHost {
 public:
  PluginHost(Services& services, Crypto& crypto, Api& api, EventDispatcher& events,
             Scheduler& scheduler);
  ~PluginHost();

  // Loads and starts every configured plugin. A required plugin that fails stops everything
  // (the error names it and why); an optional one is logged and skipped.
  Status startAll();
  // Revokes every registration, then stops and unloads the plugins, last started first.
  void stopAll();

  struct Loaded;

 private:
  Services& s_;
  Crypto& crypto_;
  Api& api_;
  EventDispatcher& events_;
  Scheduler& scheduler_;
  connectors::HttpClient http_;
  std::unique_ptr<connectors::SmtpClient> smtp_;  // when mail.smtp is configured
  std::vector<std::unique_ptr<Loaded>> loaded_;
  std::vector<std::unique_ptr<PluginLibrary>> stopped_;
};

}  // namespace ciclo::host
