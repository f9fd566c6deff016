#include "host/daemon.h"

#include <Poco/File.h>
#include <Poco/Logger.h>
#include <Poco/Util/HelpFormatter.h>
#include <Poco/Util/IntValidator.h>
#include <pthread.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <csignal>
#include <fstream>
#include <iostream>
#include <sstream>

#include "domain/text.h"
#include "host/adapters.h"
#include "host/api.h"
#include "host/config.h"
#include "host/crypto.h"
#include "host/events.h"
#include "host/lead_import.h"
#include "host/lead_scoring.h"
#include "host/logging.h"
#include "host/plugin_host.h"
#include "host/progress.h"
#include "host/scheduler.h"
#include "host/server.h"
#include "host/webhooks.h"
#include "store/access.h"
#include "store/import_store.h"
#include "store/score_store.h"

namespace ciclo::host {

using Poco::Util::Option;

void Daemon::defineOptions(Poco::Util::OptionSet& options) {
  ServerApplication::defineOptions(options);
  options.addOption(Option("help", "h", "show this help").required(false).repeatable(false));
  options.addOption(Option("config", "c", "configuration file (default config/ciclo.yaml)")
                        .required(false)
                        .repeatable(false)
                        .argument("FILE"));
  options.addOption(Option("check-config", "", "validate the configuration and exit")
                        .required(false)
                        .repeatable(false));
  options.addOption(
      Option("port", "p", "listen on this port instead of the configured one (0: any free port)")
          .required(false)
          .repeatable(false)
          .argument("N")
          .validator(new Poco::Util::IntValidator(0, 65535)));
  options.addOption(Option("port-file", "", "write the bound port to FILE once listening")
                        .required(false)
                        .repeatable(false)
                        .argument("FILE"));
  options.addOption(Option("name", "", "apikey create: the key's name")
                        .required(false)
                        .repeatable(false)
                        .argument("NAME"));
  options.addOption(Option("scopes", "", "apikey create: comma-separated scopes")
                        .required(false)
                        .repeatable(false)
                        .argument("LIST"));
  options.addOption(Option("source", "", "import leads: the list's name (channel import:NAME)")
                        .required(false)
                        .repeatable(false)
                        .argument("NAME"));
  options.addOption(Option("partner", "", "import leads: the partner the list came from")
                        .required(false)
                        .repeatable(false)
                        .argument("KEY"));
  options.addOption(Option("report", "", "import leads: the error report (default FILE.errors.csv)")
                        .required(false)
                        .repeatable(false)
                        .argument("FILE"));
  options.addOption(Option("batch", "", "import leads: rows per transaction (default 1000)")
                        .required(false)
                        .repeatable(false)
                        .argument("N")
                        .validator(new Poco::Util::IntValidator(1, 10000)));
}

void Daemon::handleOption(const std::string& name, const std::string& value) {
  ServerApplication::handleOption(name, value);
  if (name == "help") help_ = true;
  if (name == "config") configFile_ = value;
  if (name == "check-config") checkConfig_ = true;
  if (name == "port") port_ = std::stoi(value);
  if (name == "port-file") portFile_ = value;
  if (name == "name") keyName_ = value;
  if (name == "scopes") keyScopes_ = value;
  if (name == "source") import_.source = value;
  if (name == "partner") import_.partner = value;
  if (name == "report") import_.report = value;
  if (name == "batch") import_.batch = static_cast<std::size_t>(std::stoi(value));
}

void Daemon::printHelp() {
  Poco::Util::HelpFormatter help(options());
  help.setCommand(commandName());
  help.setUsage(
      "[OPTIONS] [migrate | apikey create --name N --scopes a,b | apikey list | apikey revoke ID"
      " | import leads FILE --source NAME [--partner KEY] [--report FILE] | import list"
      " | rescore]");
  help.setHeader("Ciclo lead-to-cash integration hub daemon.");
  help.format(std::cout);
}

namespace {

// Everything a running daemon or an admin command needs.
struct Runtime {
  Config config;
  std::unique_ptr<store::Store> store;
  SystemClock clock;
  OpenSslRandom random;
  Idn2DomainEncoder domains;
  LibPhoneNumberNormalizer phones;
  std::unique_ptr<IdGenerator> ids;
  std::unique_ptr<Services> services;
};

Result<std::unique_ptr<Runtime>> startRuntime(const Config& config) {
  auto rt = std::make_unique<Runtime>();
  rt->config = config;
  auto opened = store::Store::open(rt->config.store);
  if (!opened.ok()) return opened.error();
  rt->store = std::move(opened).value();
  rt->ids = std::make_unique<IdGenerator>(rt->clock, rt->random);
  rt->services = std::make_unique<Services>(
      Services{rt->config, *rt->store, rt->clock, rt->random, *rt->ids, rt->domains, rt->phones});
  return rt;
}

}  // namespace

int Daemon::main(const std::vector<std::string>& args) {
  if (help_) {
    printHelp();
    return EXIT_OK;
  }
  auto loaded = loadConfig(configFile_);
  if (!loaded.ok()) {
    std::cerr << "ciclod: configuration error: " << loaded.error().message << std::endl;
    return EXIT_CONFIG;
  }
  Config config = std::move(loaded).value();
  if (port_) config.server.port = *port_;
  if (checkConfig_) {
    std::cout << configFile_ << ": configuration is valid" << std::endl;
    return EXIT_OK;
  }
  setUpLogging(config.log_level);

  const std::string command = args.empty() ? "serve" : args[0];
  if (command == "serve" && args.size() <= 1) {
    try {
      return serve(std::move(config));
    } catch (const std::exception& e) {
      Poco::Logger::get("ciclod").fatal("stopped: %s", std::string(e.what()));
      return EXIT_SOFTWARE;
    }
  }

  auto runtime = startRuntime(config);
  if (!runtime.ok()) {
    std::cerr << "ciclod: " << runtime.error().message << std::endl;
    return runtime.error().kind == ErrorKind::kInvalid ? EXIT_CONFIG : EXIT_UNAVAILABLE;
  }
  auto& rt = *runtime.value();
  if (command == "migrate" && args.size() == 1) {
    std::cout << "schema is at version " << store::latestMigration() << std::endl;
    return EXIT_OK;
  }
  if (command == "apikey" && args.size() == 2 && args[1] == "create") {
    auto created = createApiKey(*rt.services, keyName_, splitList(keyScopes_));
    if (!created.ok()) {
      const auto& e = created.error();
      std::cerr << "ciclod: "
                << (e.fields.empty() ? e.message
                                     : "--" + e.fields[0].field + " " + e.fields[0].message)
                << std::endl;
      return EXIT_USAGE;
    }
    std::cerr << "Created API key " << created.value().id << " (" << keyName_
              << "). It is shown only now; keep it secret:" << std::endl;
    std::cout << created.value().token << std::endl;
    return EXIT_OK;
  }
  if (command == "apikey" && args.size() == 2 && args[1] == "list") {
    std::vector<store::ApiKeyRecord> keys;
    Status st = rt.store->read([&](store::Connection& c) {
      keys = store::listApiKeys(c);
      return Status();
    });
    if (!st.ok()) {
      std::cerr << "ciclod: " << st.error().message << std::endl;
      return EXIT_UNAVAILABLE;
    }
    for (const auto& k : keys) {
      std::string scopes;
      for (const auto& sc : k.scopes) scopes += (scopes.empty() ? "" : ",") + sc;
      std::cout << k.id << "\t" << k.name << "\t" << scopes << "\tcreated "
                << formatTimestamp(k.created_at)
                << (k.revoked_at ? "\trevoked " + formatTimestamp(*k.revoked_at)
                                 : std::string("\tactive"))
                << "\n";
    }
    return EXIT_OK;
  }
  if (command == "apikey" && args.size() == 3 && args[1] == "revoke") {
    bool revoked = false;
    Status st = rt.store->write([&](store::Connection& c) {
      revoked = store::revokeApiKey(c, args[2], rt.clock.now());
      return Status();
    });
    if (!st.ok() || !revoked) {
      std::cerr << "ciclod: " << (st.ok() ? "no active key " + args[2] : st.error().message)
                << std::endl;
      return EXIT_DATAERR;
    }
    std::cout << "revoked " << args[2] << std::endl;
    return EXIT_OK;
  }
  if (command == "import" && args.size() == 3 && args[1] == "leads") {
    import_.file = args[2];
    return importLeads(*rt.services);
  }
  if (command == "rescore" && args.size() == 1) return rescore(*rt.services);
  if (command == "import" && args.size() == 2 && args[1] == "list") {
    std::vector<store::LeadImport> imports;
    Status st = rt.store->read([&](store::Connection& c) {
      imports = store::listLeadImports(c);
      return Status();
    });
    if (!st.ok()) {
      std::cerr << "ciclod: " << st.error().message << std::endl;
      return EXIT_UNAVAILABLE;
    }
    for (const auto& i : imports) {
      std::cout << i.id << "\t" << i.file_name << "\t" << i.source << "\t"
                << (i.partner.empty() ? "-" : i.partner) << "\t" << i.status << "\t"
                << i.records_done - 1 << " rows\t" << i.created << " created, " << i.merged
                << " merged, " << i.unchanged << " unchanged, " << i.rejected << " rejected\t"
                << formatTimestamp(i.started_at) << "\n";
    }
    return EXIT_OK;
  }
  std::cerr << "ciclod: unknown command; see --help" << std::endl;
  return EXIT_USAGE;
}

namespace {

std::atomic<bool> commandStop{false};

// The first SIGINT or SIGTERM stops an import or a rescore after the batch in progress; a
// second one ends the process at once. Either resumes or finishes when run again.
void onCommandSignal(int) {
  commandStop = true;
  std::signal(SIGINT, SIG_DFL);
  std::signal(SIGTERM, SIG_DFL);
}

}  // namespace

int Daemon::importLeads(Services& services) {
  if (import_.source.empty()) {
    std::cerr << "ciclod: import leads needs --source NAME, the list's name" << std::endl;
    return EXIT_USAGE;
  }
  const bool terminal = ::isatty(STDERR_FILENO) == 1;
  ProgressMeter meter(std::cerr, terminal, "import", "rows");
  std::signal(SIGINT, onCommandSignal);
  std::signal(SIGTERM, onCommandSignal);
  ImportProgress last;
  const auto started = std::chrono::steady_clock::now();
  ImportObserver observer{
      [](const std::string& warning) { std::cerr << "ciclod: import: " << warning << std::endl; },
      [&](const ImportProgress& p) {
        last = p;
        meter.update(p.records, p.total_bytes ? double(p.bytes) / double(p.total_bytes) : 1);
      }};
  auto done = host::importLeads(services, import_, observer, commandStop);
  std::signal(SIGINT, SIG_DFL);
  std::signal(SIGTERM, SIG_DFL);
  if (!done.ok()) {
    if (last.records > 0) meter.finish(last.records, double(last.bytes) / double(last.total_bytes));
    std::cerr << "ciclod: import: " << done.error().message << std::endl;
    return done.error().kind == ErrorKind::kInvalid    ? EXIT_DATAERR
           : done.error().kind == ErrorKind::kConflict ? EXIT_TEMPFAIL
                                                       : EXIT_UNAVAILABLE;
  }
  const ImportSummary& summary = done.value();
  const auto& i = summary.import;
  if (summary.already_done) {
    std::cout << import_.file << " was imported already as " << i.id << " on "
              << formatTimestamp(i.started_at) << ": " << i.records_done - 1 << " rows, "
              << i.created << " created, " << i.merged << " merged, " << i.unchanged
              << " unchanged, " << i.rejected << " rejected; nothing to do" << std::endl;
    return EXIT_OK;
  }
  meter.finish(i.records_done - 1, summary.interrupted && last.total_bytes
                                       ? double(last.bytes) / double(last.total_bytes)
                                       : 1);
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  if (summary.interrupted) {
    std::cout << "interrupted after row " << i.records_done << " (" << i.id
              << "); run the same command again to resume" << std::endl;
    return EXIT_TEMPFAIL;
  }
  std::cout << (summary.resumed ? "resumed and finished " : "imported ") << i.records_done - 1
            << " rows from " << import_.file << " as " << i.id << " in "
            << ProgressMeter::duration(seconds) << ": " << i.created << " created, " << i.merged
            << " merged, " << i.unchanged << " unchanged, " << i.rejected << " rejected"
            << (i.rejected ? " (see " + summary.report + ")" : std::string()) << std::endl;
  return EXIT_OK;
}

int Daemon::rescore(Services& services) {
  const bool terminal = ::isatty(STDERR_FILENO) == 1;
  ProgressMeter meter(std::cerr, terminal, "rescore", "leads");
  std::int64_t total = 0;
  Status counted = services.store.read([&](store::Connection& c) -> Status {
    total = store::countLiveLeads(c);
    return Status();
  });
  if (!counted.ok()) {
    std::cerr << "ciclod: rescore: " << counted.error().message << std::endl;
    return EXIT_UNAVAILABLE;
  }
  commandStop = false;
  std::signal(SIGINT, onCommandSignal);
  std::signal(SIGTERM, onCommandSignal);
  const auto started = std::chrono::steady_clock::now();
  auto fraction = [&](std::int64_t n) {
    return total ? std::min(1.0, double(n) / double(total)) : 1;
  };
  auto done = rescoreAll(services, "rescore", 1000, [&](const RescoreTally& t, const std::string&) {
    meter.update(t.scanned, fraction(t.scanned));
    return !commandStop;
  });
  std::signal(SIGINT, SIG_DFL);
  std::signal(SIGTERM, SIG_DFL);
  if (!done.ok()) {
    std::cerr << "ciclod: rescore: " << done.error().message << std::endl;
    return EXIT_UNAVAILABLE;
  }
  const RescoreTally& t = done.value();
  meter.finish(t.scanned, fraction(t.scanned));
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  if (!t.complete) {
    std::cout << "interrupted after " << t.scanned << " leads (" << t.changed
              << " changed); run the same command again to finish" << std::endl;
    return EXIT_TEMPFAIL;
  }
  std::cout << "rescored " << t.scanned << " leads in " << ProgressMeter::duration(seconds) << " ("
            << static_cast<std::int64_t>(seconds > 0 ? double(t.scanned) / seconds : 0)
            << " leads/s): " << t.changed << " changed" << std::endl;
  return EXIT_OK;
}

int Daemon::serve(Config config) {
  // SIGINT and SIGTERM ask for a graceful stop. They are blocked here, before any thread
  // starts, so that every thread inherits the block and a signal that comes before the daemon
  // is ready waits for waitForTerminationRequest() instead of ending the process at once.
  sigset_t stops;
  sigemptyset(&stops);
  sigaddset(&stops, SIGINT);
  sigaddset(&stops, SIGTERM);
  sigaddset(&stops, SIGQUIT);
  ::pthread_sigmask(SIG_BLOCK, &stops, nullptr);
  auto& log = Poco::Logger::get("ciclod");
  auto runtime = startRuntime(config);
  if (!runtime.ok()) {
    std::cerr << "ciclod: " << runtime.error().message << std::endl;
    return runtime.error().kind == ErrorKind::kInvalid ? EXIT_CONFIG : EXIT_UNAVAILABLE;
  }
  auto& rt = *runtime.value();
  if (rt.config.clock_control)
    log.warning("testing.clock_control is on: the clock can be moved through the API");
  const auto& secrets = rt.config.secrets;
  auto masterKey = Crypto::loadMasterKey(secrets.master_key, secrets.master_key_file,
                                         secrets.create_master_key, rt.random);
  if (!masterKey.ok()) {
    std::cerr << "ciclod: configuration error: " << rt.config.file << ": "
              << masterKey.error().message << std::endl;
    return EXIT_CONFIG;
  }
  Crypto crypto(masterKey.value(), rt.random);
  Api api(*rt.services);
  EventDispatcher events(*rt.store, rt.clock);
  Webhooks webhooks(*rt.services, crypto);
  webhooks.addRoutes(api.router());
  // Scoring follows what is known of each lead (interactions score it in their own request).
  events.subscribeBatch(
      "scoring", {"lead.captured", "lead.updated", "lead.enriched", "lead.merged", "lead.profiled"},
      [&rt](const std::vector<const store::Event*>& chunk) {
        std::vector<LeadChange> changes;
        changes.reserve(chunk.size());
        for (const auto* e : chunk) changes.push_back({e->subject_id, e->type});
        return rescoreChanged(*rt.services, changes);
      });
  events.subscribe("webhooks", {},
                   [&webhooks](const store::Event& e) { return webhooks.fanOut(e); });
  api.addMetricsSource([&] {
    const auto counts = webhooks.counts();
    std::ostringstream out;
    out << "# HELP ciclo_outbox_lag Events not yet handled by the slowest consumer.\n"
        << "# TYPE ciclo_outbox_lag gauge\n"
        << "ciclo_outbox_lag " << events.lag() << "\n"
        << "# HELP ciclo_webhook_deliveries_total Webhook delivery attempts by result.\n"
        << "# TYPE ciclo_webhook_deliveries_total counter\n"
        << "ciclo_webhook_deliveries_total{result=\"succeeded\"} " << counts.succeeded << "\n"
        << "ciclo_webhook_deliveries_total{result=\"retried\"} " << counts.retried << "\n"
        << "ciclo_webhook_deliveries_total{result=\"failed\"} " << counts.failed << "\n";
    return out.str();
  });
  Scheduler scheduler(rt.clock);
  PluginHost plugins(*rt.services, crypto, api, events, scheduler);
  if (auto started = plugins.startAll(); !started.ok()) {
    plugins.stopAll();
    std::cerr << "ciclod: " << started.error().message << std::endl;
    return EXIT_CONFIG;
  }
  // Idempotency keys are kept 24 hours (CONTRACT.md); older ones are cleared every hour.
  scheduler.every("idempotency-purge", std::chrono::hours(1), [&rt] {
    return rt.store->write([&rt](store::Connection& c) {
      store::purgeIdempotency(c, rt.clock.now() - std::chrono::hours(24));
      return Status();
    });
  });
  scheduler.every("score-decay", std::chrono::hours(1),
                  [&rt] { return rescoreFading(*rt.services); });
  RulesRescore rulesRescore(*rt.services);
  rt.store->setCommitListener([&events] { events.wake(); });
  events.start();
  webhooks.start();
  scheduler.start();
  rulesRescore.start();
  HttpServer server(rt.config.server, api);
  auto port = server.start();
  if (!port.ok()) {
    std::cerr << "ciclod: " << port.error().message << std::endl;
    return EXIT_UNAVAILABLE;
  }
  if (!portFile_.empty()) {
    // Written whole, then renamed: a reader never sees half a number.
    const std::string tmp = portFile_ + ".tmp";
    std::ofstream(tmp) << port.value() << "\n";
    Poco::File(tmp).renameTo(portFile_);
  }
  api.setReady(true);
  log.information("listening on %s:%d", rt.config.server.host, port.value());
  waitForTerminationRequest();
  log.information("stopping: finishing in-flight requests");
  api.setReady(false);
  server.stop();
  rulesRescore.stop();
  scheduler.stop();
  plugins.stopAll();
  webhooks.stop();
  events.stop();
  rt.store->close();
  log.information("stopped");
  return EXIT_OK;
}

}  // namespace ciclo::host
