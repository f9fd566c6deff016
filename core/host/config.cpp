#include "host/config.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <limits>
#include <set>
#include <sstream>

namespace ciclo::host {

namespace {

// Reads one YAML mapping, remembering which keys were asked for, so that finish() can name
// those that nobody knows. The first error wins; later reads become no-ops.
class Section : public sdk::ConfigSection {
 public:
  Section(YAML::Node node, std::string path, std::string& error, std::string file)
      : node_(std::move(node)), path_(std::move(path)), error_(error), file_(std::move(file)) {
    if (!node_.IsDefined() || node_.IsNull()) {
      node_ = YAML::Node(YAML::NodeType::Map);
    } else if (!node_.IsMap()) {
      failAt(path_.empty() ? "(top level)" : path_, "expected a mapping");
      node_ = YAML::Node(YAML::NodeType::Map);
    }
    std::set<std::string> seen;
    for (const auto& kv : node_) {
      const auto key = kv.first.as<std::string>("");
      if (!seen.insert(key).second) failAt(name(key), "is given twice");
    }
  }

  std::string text(const std::string& key, const std::string& fallback) override {
    auto n = take(key);
    if (!n.IsDefined() || n.IsNull()) return fallback;
    if (!n.IsScalar()) {
      failAt(name(key), "expected a string");
      return fallback;
    }
    return substitute(key, n.Scalar());
  }

  long long integer(const std::string& key, long long fallback, long long min,
                    long long max) override {
    auto n = take(key);
    if (!n.IsDefined() || n.IsNull()) return fallback;
    const std::string s = n.IsScalar() ? substitute(key, n.Scalar()) : std::string();
    std::size_t used = 0;
    long long v = 0;
    try {
      v = std::stoll(s, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    if (s.empty() || used != s.size()) {
      failAt(name(key), "expected an integer");
      return fallback;
    }
    if (v < min || v > max) {
      failAt(name(key), "must be between " + std::to_string(min) + " and " + std::to_string(max));
      return fallback;
    }
    return v;
  }

  bool boolean(const std::string& key, bool fallback) override {
    auto n = take(key);
    if (!n.IsDefined() || n.IsNull()) return fallback;
    const std::string s = n.IsScalar() ? substitute(key, n.Scalar()) : std::string();
    if (s == "true") return true;
    if (s == "false") return false;
    failAt(name(key), "expected true or false");
    return fallback;
  }

  std::vector<std::string> list(const std::string& key) override {
    auto n = take(key);
    std::vector<std::string> out;
    if (!n.IsDefined() || n.IsNull()) return out;
    if (!n.IsSequence()) {
      failAt(name(key), "expected a list");
      return out;
    }
    for (std::size_t i = 0; i < n.size(); ++i) {
      if (!n[i].IsScalar()) {
        failAt(name(key) + "[" + std::to_string(i) + "]", "expected a string");
        continue;
      }
      out.push_back(substitute(key, n[i].Scalar()));
    }
    return out;
  }

  Section child(const std::string& key) { return Section(take(key), name(key), error_, file_); }

  std::unique_ptr<sdk::ConfigSection> section(const std::string& key) override {
    return std::make_unique<Section>(take(key), name(key), error_, file_);
  }

  std::vector<std::string> keys() override {
    std::vector<std::string> out;
    for (const auto& kv : node_) out.push_back(kv.first.as<std::string>(""));
    return out;
  }

  // Reports the first key nobody asked for.
  void finish() override {
    for (const auto& kv : node_) {
      const auto key = kv.first.as<std::string>("");
      if (!used_.contains(key)) {
        failAt(name(key), "is not a known setting");
        return;
      }
    }
  }

  // `key` relative to this section.
  void fail(const std::string& key, const std::string& reason) override {
    failAt(name(key), reason);
  }
  void failAt(const std::string& fullKey, const std::string& reason) {
    if (error_.empty()) error_ = file_ + ": " + fullKey + ": " + reason;
  }
  YAML::Node take(const std::string& key) {
    used_.insert(key);
    for (const auto& kv : node_) {
      if (kv.first.as<std::string>("") == key) return kv.second;
    }
    return YAML::Node(YAML::NodeType::Undefined);
  }
  std::string name(const std::string& key) const { return path_.empty() ? key : path_ + "." + key; }

 private:
  // ${NAME} and ${NAME:-default}; "$$" is a literal '$'.
  std::string substitute(const std::string& key, const std::string& value) {
    std::string out;
    for (std::size_t i = 0; i < value.size(); ++i) {
      if (value[i] == '$' && i + 1 < value.size() && value[i + 1] == '$') {
        out += '$';
        ++i;
      } else if (value[i] == '$' && i + 1 < value.size() && value[i + 1] == '{') {
        const auto close = value.find('}', i);
        if (close == std::string::npos) {
          failAt(name(key), "has an unterminated ${...}");
          return value;
        }
        std::string ref = value.substr(i + 2, close - i - 2);
        std::string fallback;
        bool hasFallback = false;
        if (const auto dash = ref.find(":-"); dash != std::string::npos) {
          fallback = ref.substr(dash + 2);
          ref.resize(dash);
          hasFallback = true;
        }
        const char* env = ref.empty() ? nullptr : std::getenv(ref.c_str());
        if (env) {
          out += env;
        } else if (hasFallback) {
          out += fallback;
        } else {
          failAt(name(key), "environment variable " + ref + " is not set");
          return value;
        }
        i = close;
      } else {
        out += value[i];
      }
    }
    return out;
  }

  YAML::Node node_;
  std::string path_;
  std::string& error_;
  std::string file_;
  std::set<std::string> used_;
};

// A file of business rules the config names; false (with `error` set) when it cannot be
// read or parsed.
bool loadYamlFile(const std::string& path, YAML::Node& root, std::string& error) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    error = path + ": cannot be read";
    return false;
  }
  std::ostringstream text;
  text << in.rdbuf();
  try {
    root = YAML::Load(text.str());
  } catch (const YAML::Exception& e) {
    error = path + ": line " + std::to_string(e.mark.line + 1) + ": " + e.msg;
    return false;
  }
  return true;
}

// `name` relative to the directory of the configuration file `file`.
std::string besideFile(const std::string& file, std::string name) {
  if (!name.empty() && !name.starts_with('/')) {
    if (const auto slash = file.rfind('/'); slash != std::string::npos)
      name = file.substr(0, slash + 1) + name;
  }
  return name;
}

// A condition on a lead (domain/condition.h): field, values, min, max, currency.
void readCondition(Section& c, LeadCondition& condition) {
  const std::string field = c.text("field", "");
  if (auto kind = leadConditionKindFrom(field)) {
    condition.kind = *kind;
  } else {
    c.fail("field", "must be one of " + leadConditionKindNames());
  }
  condition.values = c.list("values");
  condition.currency = c.text("currency", "");
  for (const char* bound : {"min", "max"}) {
    const YAML::Node n = c.take(bound);
    if (!n.IsDefined() || n.IsNull()) continue;
    std::optional<std::int64_t>& value =
        std::string_view(bound) == "min" ? condition.min : condition.max;
    if (condition.kind == LeadCondition::Kind::kRevenue) {
      // An amount in the condition's currency ("5000000" or "5000000.00").
      auto money = Money::parse(c.text(bound, ""), condition.currency);
      if (money.ok()) {
        value = money.value().minor();
      } else if (condition.currency.size() == 3) {
        c.fail(bound, "expected an amount such as 5000000.00");
      }
    } else {
      value = c.integer(bound, 0, std::numeric_limits<std::int64_t>::min(),
                        std::numeric_limits<std::int64_t>::max());
    }
  }
}

// The personas file: `personas` (by key) and the `unfit` rule. Errors name this file.
void readPersonas(const std::string& path, ProfilingRules& rules, std::string& error) {
  YAML::Node root;
  if (!loadYamlFile(path, root, error)) return;
  Section top(root, "", error, path);
  Section personas = top.child("personas");
  for (const auto& key : personas.keys()) {
    Section p = personas.child(key);
    Persona persona;
    persona.key = key;
    persona.name = p.text("name", key);
    persona.min_score = static_cast<int>(p.integer("min_score", persona.min_score, 0, 100));
    const YAML::Node criteria = p.take("criteria");
    if (criteria.IsDefined() && !criteria.IsNull() && !criteria.IsSequence())
      p.fail("criteria", "expected a list of criteria");
    for (std::size_t i = 0; criteria.IsSequence() && i < criteria.size(); ++i) {
      Section c(criteria[i], p.name("criteria") + "[" + std::to_string(i) + "]", error, path);
      PersonaCriterion criterion;
      readCondition(c, criterion);
      criterion.weight = static_cast<int>(c.integer("weight", 1, 1, 100));
      c.finish();
      persona.criteria.push_back(std::move(criterion));
    }
    for (const auto& e : checkPersona(persona)) {
      if (e.field == "key") {
        personas.fail(key, "a persona's key " + e.message);
      } else {
        p.fail(e.field, e.message);
      }
    }
    p.finish();
    rules.personas.push_back(std::move(persona));
  }
  Section unfit = top.child("unfit");
  rules.unfit.discard = unfit.boolean("discard", false);
  for (const auto& source : unfit.list("sources")) {
    if (auto s = leadSourceFrom(source)) {
      rules.unfit.sources.push_back(*s);
    } else {
      unfit.fail("sources", source +
                                " is not a source: web_form, referral, import, manual, "
                                "email or api");
    }
  }
  rules.unfit.when_known = unfit.list("when_known");
  for (const auto& e : checkUnfitRule(rules.unfit)) unfit.fail(e.field, e.message);
  unfit.finish();
  top.finish();
}

// The scoring rules file: thresholds, profile rules and behaviour rules.
void readScoring(const std::string& path, ScoringRules& rules, std::string& error) {
  YAML::Node root;
  if (!loadYamlFile(path, root, error)) return;
  Section top(root, "", error, path);
  Section thresholds = top.child("thresholds");
  rules.thresholds.nurturing = static_cast<int>(
      thresholds.integer("nurturing", rules.thresholds.nurturing, -100000, 100000));
  rules.thresholds.sales_ready = static_cast<int>(
      thresholds.integer("sales_ready", rules.thresholds.sales_ready, -100000, 100000));
  thresholds.finish();
  auto list = [&](const char* key, const std::function<void(Section&)>& read) {
    const YAML::Node items = top.take(key);
    if (!items.IsDefined() || items.IsNull()) return;
    if (!items.IsSequence()) {
      top.fail(key, "expected a list of rules");
      return;
    }
    for (std::size_t i = 0; i < items.size(); ++i) {
      Section item(items[i], std::string(key) + "[" + std::to_string(i) + "]", error, path);
      read(item);
      item.finish();
    }
  };
  auto points = [](Section& r) {
    return static_cast<int>(
        r.integer("points", 0, std::numeric_limits<int>::min(), std::numeric_limits<int>::max()));
  };
  auto duration = [](Section& r, const char* key) {
    const std::string text = r.text(key, "");
    if (text.empty()) return std::chrono::seconds(0);
    auto d = sdk::parseDuration(text);
    if (!d) r.fail(key, "expected a duration such as 30m, 12h or 14d");
    return d.value_or(std::chrono::seconds(0));
  };
  list("profile", [&](Section& r) {
    ProfileRule rule;
    rule.name = r.text("name", "");
    readCondition(r, rule);
    rule.points = points(r);
    rules.profile.push_back(std::move(rule));
  });
  list("behaviour", [&](Section& r) {
    BehaviourRule rule;
    rule.name = r.text("name", "");
    const std::string type = r.text("interaction", "");
    if (auto t = interactionTypeFrom(type)) {
      rule.type = *t;
    } else {
      r.fail("interaction", "must be one of " + interactionTypeNames());
    }
    rule.points = points(r);
    rule.half_life = duration(r, "half_life");
    rule.cap = static_cast<int>(r.integer("cap", 0, 0, 100000));
    rule.cap_period = duration(r, "cap_period");
    rules.behaviour.push_back(std::move(rule));
  });
  for (const auto& e : checkScoringRules(rules)) top.fail(e.field, e.message);
  top.finish();
}

}  // namespace

Result<Config> parseConfig(const std::string& yaml, const std::string& file) {
  YAML::Node root;
  try {
    root = YAML::Load(yaml);
  } catch (const YAML::Exception& e) {
    return Error::invalid(file + ": line " + std::to_string(e.mark.line + 1) + ": " + e.msg);
  }
  std::string error;
  Config config;
  config.file = file;
  Section top(root, "", error, file);

  Section server = top.child("server");
  const std::string listen = server.text("listen", "127.0.0.1:8080");
  if (const auto colon = listen.rfind(':'); colon == std::string::npos || colon == 0) {
    server.failAt("server.listen", "expected host:port, e.g. 127.0.0.1:8080");
  } else {
    config.server.host = listen.substr(0, colon);
    try {
      std::size_t used = 0;
      const int port = std::stoi(listen.substr(colon + 1), &used);
      if (used != listen.size() - colon - 1 || port < 0 || port > 65535)
        throw std::out_of_range("port");
      config.server.port = port;
    } catch (const std::exception&) {
      server.failAt("server.listen", "the port must be a number from 0 to 65535");
    }
  }
  config.server.threads =
      static_cast<int>(server.integer("threads", config.server.threads, 4, 4096));
  config.server.max_queued =
      static_cast<int>(server.integer("max_queued", config.server.max_queued, 1, 65536));
  config.server.max_connections = static_cast<int>(
      server.integer("max_connections", config.server.max_connections, 16, 1000000));
  config.server.keep_alive_timeout_ms = static_cast<int>(
      server.integer("keep_alive_timeout_ms", config.server.keep_alive_timeout_ms, 100, 600000));
  config.server.request_deadline_ms = static_cast<int>(
      server.integer("request_deadline_ms", config.server.request_deadline_ms, 100, 600000));
  config.server.max_body_bytes = static_cast<std::size_t>(server.integer(
      "max_body_bytes", static_cast<long long>(config.server.max_body_bytes), 1024, 1LL << 30));
  config.server.trusted_proxies = server.list("trusted_proxies");
  server.finish();

  Section store = top.child("store");
  config.store.url = store.text("url", config.store.url);
  config.store.sqlite_synchronous =
      store.text("sqlite_synchronous", config.store.sqlite_synchronous);
  if (config.store.sqlite_synchronous != "off" && config.store.sqlite_synchronous != "normal" &&
      config.store.sqlite_synchronous != "full" && config.store.sqlite_synchronous != "extra") {
    store.failAt("store.sqlite_synchronous", "expected off, normal, full or extra");
  }
  if (!config.store.url.starts_with("sqlite:") && !config.store.url.starts_with("postgresql://") &&
      !config.store.url.starts_with("postgres://")) {
    store.failAt("store.url", "expected sqlite:PATH or postgresql://user@host:port/database");
  } else if (!config.store.url.starts_with("sqlite:") &&
             store::pgConnectionString(config.store.url).empty()) {
    store.failAt("store.url", "is not a valid postgresql:// URL");
  }
  config.store.read_connections =
      static_cast<int>(store.integer("read_connections", config.store.read_connections, 1, 256));
  config.store.max_batch =
      static_cast<int>(store.integer("max_batch", config.store.max_batch, 1, 100000));
  store.finish();

  Section secrets = top.child("secrets");
  config.secrets.master_key = secrets.text("master_key", "");
  config.secrets.master_key_file = secrets.text("master_key_file", "var/master.key");
  config.secrets.create_master_key = secrets.boolean("create_master_key", false);
  secrets.finish();

  Section webhooks = top.child("webhooks");
  config.webhooks.timeout_ms =
      static_cast<int>(webhooks.integer("timeout_ms", config.webhooks.timeout_ms, 100, 120000));
  webhooks.finish();

  Section mail = top.child("mail");
  Section smtp = mail.child("smtp");
  if (const std::string host = smtp.text("host", ""); !host.empty()) {
    connectors::SmtpSettings relay;
    relay.host = host;
    relay.port = static_cast<int>(smtp.integer("port", 25, 1, 65535));
    const std::string tls = smtp.text("tls", "starttls");
    if (tls == "none") {
      relay.tls = connectors::SmtpSettings::Tls::kNone;
    } else if (tls == "starttls") {
      relay.tls = connectors::SmtpSettings::Tls::kStartTls;
    } else if (tls == "tls") {
      relay.tls = connectors::SmtpSettings::Tls::kImplicit;
    } else {
      smtp.failAt("mail.smtp.tls", "expected starttls, tls or none");
    }
    relay.verify_certificate = smtp.boolean("verify_certificate", true);
    relay.ca_file = smtp.text("ca_file", "");
    if (!relay.ca_file.empty() && !std::ifstream(relay.ca_file))
      smtp.failAt("mail.smtp.ca_file", relay.ca_file + " cannot be read");
    relay.username = smtp.text("username", "");
    relay.password = smtp.text("password", "");
    relay.auth = smtp.text("auth", "plain");
    if (relay.auth != "plain" && relay.auth != "login")
      smtp.failAt("mail.smtp.auth", "expected plain or login");
    relay.helo = smtp.text("helo", "");
    relay.connect_timeout =
        std::chrono::milliseconds(smtp.integer("connect_timeout_ms", 30000, 100, 600000));
    relay.command_timeout =
        std::chrono::milliseconds(smtp.integer("command_timeout_ms", 300000, 100, 600000));
    relay.data_timeout =
        std::chrono::milliseconds(smtp.integer("data_timeout_ms", 600000, 100, 3600000));
    config.smtp = relay;
  }
  smtp.finish();
  mail.finish();

  Section outbound = top.child("outbound");
  config.outbound_allow_private_networks = outbound.boolean("allow_private_networks", false);
  outbound.finish();

  Section log = top.child("log");
  config.log_level = log.text("level", config.log_level);
  static const std::set<std::string> kLevels{"fatal",  "critical",    "error", "warning",
                                             "notice", "information", "debug", "trace"};
  if (!kLevels.contains(config.log_level))
    log.failAt("log.level", "expected error, warning, notice, information or debug");
  config.log_requests = log.boolean("requests", config.log_requests);
  log.finish();

  if (auto plugins = top.take("plugins"); plugins.IsDefined() && !plugins.IsNull()) {
    if (!plugins.IsSequence()) {
      top.failAt("plugins", "expected a list");
    } else {
      for (std::size_t i = 0; i < plugins.size(); ++i) {
        Section p(plugins[i], "plugins[" + std::to_string(i) + "]", error, file);
        PluginSpec spec;
        spec.name = p.text("name", "");
        spec.path = p.text("path", "");
        spec.required = p.boolean("required", true);
        spec.config = p.take("config");
        if (spec.config.IsScalar()) {
          // The plugin's section in a file of its own, named relative to this one.
          spec.config_file = besideFile(file, spec.config.Scalar());
          if (std::string e; !loadYamlFile(spec.config_file, spec.config, e) && error.empty())
            error = e;
        }
        const bool goodName = !spec.name.empty() && spec.name.size() <= 32 &&
                              std::all_of(spec.name.begin(), spec.name.end(), [](char c) {
                                return std::islower(static_cast<unsigned char>(c)) ||
                                       std::isdigit(static_cast<unsigned char>(c)) || c == '_';
                              });
        if (!goodName) p.fail("name", "must be 1 to 32 characters of a-z, 0-9 and _");
        if (spec.path.empty()) p.fail("path", "is required: the plugin's shared library");
        for (const auto& other : config.plugins) {
          if (other.name == spec.name) p.fail("name", spec.name + " is listed twice");
        }
        p.finish();
        config.plugins.push_back(std::move(spec));
      }
    }
  }

  // Files of business rules, relative to this file.
  Section profiling = top.child("profiling");
  config.personas_file = besideFile(file, profiling.text("personas", ""));
  profiling.finish();
  Section scoring = top.child("scoring");
  config.scoring_file = besideFile(file, scoring.text("rules", ""));
  scoring.finish();

  Section testing = top.child("testing");
  config.clock_control = testing.boolean("clock_control", false);
  testing.finish();

  top.finish();
  if (error.empty() && !config.personas_file.empty())
    readPersonas(config.personas_file, config.profiling, error);
  if (error.empty() && !config.scoring_file.empty())
    readScoring(config.scoring_file, config.scoring, error);
  if (!error.empty()) return Error::invalid(error);
  return config;
}

std::unique_ptr<sdk::ConfigSection> pluginConfigSection(const Config& config,
                                                        const PluginSpec& plugin,
                                                        std::string& error) {
  if (!plugin.config_file.empty())
    return std::make_unique<Section>(plugin.config, "", error, plugin.config_file);
  return std::make_unique<Section>(plugin.config, "plugins." + plugin.name + ".config", error,
                                   config.file);
}

Result<Config> loadConfig(const std::string& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) return Error::invalid(file + ": cannot be read");
  std::ostringstream text;
  text << in.rdbuf();
  return parseConfig(text.str(), file);
}

}  // namespace ciclo::host
