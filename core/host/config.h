#pragma once
// ciclod's configuration: YAML, read once at start into typed, validated structs. Values may
// name environment variables as ${NAME} (or ${NAME:-default}). Any error - a missing file,
// an unknown or duplicate key, a wrong type, an unset variable - names the file, the key and
// the reason, and stops the start.

#include <yaml-cpp/yaml.h>

#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "ciclo/plugin.h"
#include "domain/persona.h"
#include "domain/result.h"
#include "domain/scoring.h"
#include "smtp/smtp_client.h"
#include "store/database.h"

namespace ciclo::host {

struct ServerConfig {
  std::string host = "127.0.0.1";
  int port = 8080;
  int threads = 128;                 // handler threads: the most requests answered at once
  int max_queued = 1024;             // requests waiting for a handler thread; beyond, 503
  int max_connections = 4096;        // open connections; at the limit the longest idle closes
  int keep_alive_timeout_ms = 5000;  // an idle keep-alive connection is closed after this
  int request_deadline_ms = 10000;   // headers and body must arrive within this
  std::size_t max_body_bytes = 1 << 20;
  std::vector<std::string> trusted_proxies;  // peers whose X-Forwarded-For is believed
};

struct SecretsConfig {
  std::string master_key;       // base64 of 32 bytes; usually ${CICLO_MASTER_KEY}
  std::string master_key_file;  // used when master_key is empty
  bool create_master_key = false;
};

struct WebhooksConfig {
  int timeout_ms = 15000;
  std::size_t max_response_bytes = 64 * 1024;
};

// A plugin to load: its shared library and its own configuration section.
struct PluginSpec {
  std::string name;
  std::string path;
  bool required = true;  // a required plugin that fails to load or start stops the daemon
  YAML::Node config;
  std::string config_file;  // when `config` names a YAML file (relative to this one)
};

struct Config {
  std::string file;
  ServerConfig server;
  store::StoreConfig store;
  SecretsConfig secrets;
  WebhooksConfig webhooks;
  // Tests only: outbound HTTP (webhooks, plugins' connector) may reach loopback and
  // private networks, which are otherwise refused at connect time.
  bool outbound_allow_private_networks = false;
  std::string log_level = "information";
  bool log_requests = true;
  bool clock_control = false;  // testing only: lets tests move the daemon's clock
  // Buyer personas and the rule for leads that fit none, from the file profiling.personas
  // names (relative to this file).
  std::string personas_file;
  ProfilingRules profiling;
  // Lead scoring rules and thresholds, from the file scoring.rules names.
  std::string scoring_file;
  ScoringRules scoring;
  // The SMTP relay email leaves through (mail.smtp), when one is configured.
  std::optional<connectors::SmtpSettings> smtp;
  std::vector<PluginSpec> plugins;
};

// A plugin's own section (plugins[i].config) for its start(). The first error is written to
// `error` as "file: plugins.NAME.config.key: reason".
std::unique_ptr<sdk::ConfigSection> pluginConfigSection(const Config& config,
                                                        const PluginSpec& plugin,
                                                        std::string& error);

// Parses YAML text; `file` names it in errors.
Result<Config> parseConfig(const std::string& yaml, const std::string& file);
Result<Config> loadConfig(const std::string& file);

}  // namespace ciclo::host
