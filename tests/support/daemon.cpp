#include "daemon.h"

#include <Poco/File.h>
#include <Poco/Net/HTTPClientSession.h>
#include <Poco/Net/HTTPRequest.h>
#include <Poco/Net/HTTPResponse.h>
#include <Poco/Net/NetException.h>
#include <Poco/Net/StreamSocket.h>
#include <Poco/Pipe.h>
#include <Poco/PipeStream.h>
#include <Poco/StreamCopier.h>
#include <sys/wait.h>

#include <chrono>
#include <csignal>
#include <fstream>
#include <sstream>
#include <thread>

namespace ciclo::testing {

std::string Daemon::binary() {
  return CICLO_DAEMON_PATH;
}

Daemon::Daemon(DaemonOptions options) : options_(std::move(options)) {
  dir_ = makeTempDir("ciclod-test-");
  if (options_.store_url.empty()) options_.store_url = "sqlite:" + dir_ + "ciclo.db";
  configFile_ = dir_ + "ciclo.yaml";
  std::ofstream config(configFile_);
  config << "server:\n  listen: 127.0.0.1:0\n  threads: " << options_.threads << "\n"
         << options_.server_yaml << "store:\n  url: " << options_.store_url
         << "\nlog:\n  level: warning\n  requests: true\n";
  // A master key generated for this test alone.
  config << "secrets:\n  master_key_file: " << dir_ << "master.key\n  create_master_key: true\n";
  if (options_.clock_control) config << "testing:\n  clock_control: true\n";
  config << options_.extra_yaml;
}

Daemon::~Daemon() {
  if (process_) kill();
}

bool Daemon::start() {
  const std::string portFile = dir_ + "port";
  Poco::File(portFile).exists() && (Poco::File(portFile).remove(), true);
  const std::string logFile = dir_ + "ciclod." + std::to_string(++launches_) + ".log";
  // Output goes to a file through the shell, so that a busy log never blocks the daemon.
  std::vector<std::string> args{
      "-c",     "exec \"$0\" --config \"$1\" --port-file \"$2\" >\"$3\" 2>&1",
      binary(), configFile_,
      portFile, logFile};
  process_ = Poco::Process::launch("/bin/sh", args);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (std::chrono::steady_clock::now() < deadline) {
    std::ifstream in(portFile);
    if (in >> port_ && port_ > 0) return true;
    int status = 0;
    if (::waitpid(process_->id(), &status, WNOHANG) == process_->id()) {  // it exited
      process_.reset();
      return false;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return false;
}

int Daemon::stop() {
  if (!process_) return -1;
  Poco::Process::requestTermination(process_->id());
  const int code = process_->wait();
  process_.reset();
  return code;
}

void Daemon::kill() {
  if (!process_) return;
  Poco::Process::kill(*process_);
  process_->wait();
  process_.reset();
}

std::string Daemon::log() const {
  std::ifstream in(dir_ + "ciclod." + std::to_string(launches_) + ".log");
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

int Daemon::runCli(const std::vector<std::string>& args, std::string* out, std::string* err) const {
  std::vector<std::string> all{"--config", configFile_};
  all.insert(all.end(), args.begin(), args.end());
  Poco::Pipe outPipe, errPipe;
  Poco::ProcessHandle h = Poco::Process::launch(binary(), all, nullptr, &outPipe, &errPipe);
  Poco::PipeInputStream outStream(outPipe), errStream(errPipe);
  std::string o, e;
  std::thread errReader([&] { Poco::StreamCopier::copyToString(errStream, e); });
  Poco::StreamCopier::copyToString(outStream, o);
  errReader.join();
  if (out) *out = o;
  if (err) *err = e;
  return h.wait();
}

std::string Daemon::createKey(const std::string& scopes, const std::string& name) {
  std::string out, err;
  const int rc = runCli({"apikey", "create", "--name", name, "--scopes", scopes}, &out, &err);
  if (rc != 0) return "failed: " + err;
  while (!out.empty() && (out.back() == '\n' || out.back() == '\r')) out.pop_back();
  return out;
}

HttpResult Daemon::request(const std::string& method, const std::string& path,
                           const std::string& body,
                           const std::vector<std::pair<std::string, std::string>>& headers,
                           const std::string& contentType) const {
  return httpCall(port_, method, path, body, headers, contentType);
}

HttpResult httpCall(int port, const std::string& method, const std::string& path,
                    const std::string& body,
                    const std::vector<std::pair<std::string, std::string>>& headers,
                    const std::string& contentType) {
  Poco::Net::HTTPClientSession session("127.0.0.1", static_cast<Poco::UInt16>(port));
  session.setTimeout(Poco::Timespan(30, 0));
  Poco::Net::HTTPRequest req(method, path, Poco::Net::HTTPMessage::HTTP_1_1);
  for (const auto& [k, v] : headers) req.set(k, v);
  if (!body.empty() || method == "POST" || method == "PATCH") {
    if (!contentType.empty()) req.setContentType(contentType);
    req.setContentLength64(static_cast<Poco::Int64>(body.size()));
  }
  HttpResult result;
  try {
    std::ostream& os = session.sendRequest(req);
    os << body;
    Poco::Net::HTTPResponse resp;
    std::istream& is = session.receiveResponse(resp);
    result.status = static_cast<int>(resp.getStatus());
    for (const auto& [k, v] : resp) {
      std::string lower = k;
      for (auto& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      result.headers[lower] = v;
    }
    Poco::StreamCopier::copyToString(is, result.body);
  } catch (const Poco::Exception& e) {
    result.status = -1;
    result.body = e.displayText();
  }
  return result;
}

HttpResult Daemon::advanceClock(const std::string& adminKey, long long seconds) const {
  return call("POST", "/v1/testing/clock", adminKey,
              "{\"advance_seconds\":" + std::to_string(seconds) + "}");
}

HttpResult Daemon::call(const std::string& method, const std::string& path, const std::string& key,
                        const std::string& body,
                        const std::vector<std::pair<std::string, std::string>>& headers) const {
  auto all = headers;
  all.emplace_back("Authorization", "Bearer " + key);
  return request(method, path, body, all);
}

std::string rawExchange(int port, const std::string& bytes, int timeoutMs) {
  Poco::Net::StreamSocket socket;
  socket.connect(Poco::Net::SocketAddress("127.0.0.1", static_cast<Poco::UInt16>(port)));
  socket.setReceiveTimeout(Poco::Timespan(static_cast<long>(timeoutMs) * 1000));
  std::size_t sent = 0;
  try {
    while (sent < bytes.size()) {
      sent += static_cast<std::size_t>(
          socket.sendBytes(bytes.data() + sent, static_cast<int>(bytes.size() - sent)));
    }
  } catch (const Poco::Exception&) {
    // The server may close early (e.g. on a body too large); read what it said.
  }
  std::string reply;
  char buf[4096];
  try {
    for (;;) {
      const int n = socket.receiveBytes(buf, sizeof buf);
      if (n <= 0) break;
      reply.append(buf, static_cast<std::size_t>(n));
    }
  } catch (const Poco::Exception&) {
  }
  return reply;
}

}  // namespace ciclo::testing
