#pragma once
// ciclod: the daemon and its admin commands.
//   ciclod [--config FILE] [--port N] [--port-file FILE]     serve (the default)
//   ciclod --check-config [--config FILE]                     validate the configuration
//   ciclod migrate                                            apply pending migrations
//   ciclod apikey create --name NAME --scopes a,b             print a new key once
//   ciclod apikey list | apikey revoke KEY_ID
//   ciclod import leads FILE --source NAME [--partner KEY] [--report FILE] [--batch N]
//                                                             import a lead list (resumable)
//   ciclod import list                                        the imports and their totals

#include <Poco/Util/ServerApplication.h>

#include <optional>
#include <string>

#include "host/config.h"
#include "host/lead_import.h"

namespace ciclo::host {

class Daemon : public Poco::Util::ServerApplication {
 protected:
  void defineOptions(Poco::Util::OptionSet& options) override;
  void handleOption(const std::string& name, const std::string& value) override;
  int main(const std::vector<std::string>& args) override;

 private:
  int serve(Config config);
  int importLeads(Services& services);
  int rescore(Services& services);
  void printHelp();

  std::string configFile_ = "config/ciclo.yaml";
  std::optional<int> port_;
  std::string portFile_;
  std::string keyName_;
  std::string keyScopes_;
  ImportRequest import_;
  bool checkConfig_ = false;
  bool help_ = false;
};

}  // namespace ciclo::host
