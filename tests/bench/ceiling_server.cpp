// The no-storage ceiling for the lead benchmark: a bare Poco HTTP server that reads the body,
// parses the JSON and answers 201, storing nothing. Same machine, same client, same run.
//   ceiling_server PORT_FILE

#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>
#include <Poco/Net/HTTPRequestHandler.h>
#include <Poco/Net/HTTPRequestHandlerFactory.h>
#include <Poco/Net/HTTPServer.h>
#include <Poco/Net/HTTPServerParams.h>
#include <Poco/Net/HTTPServerRequest.h>
#include <Poco/Net/HTTPServerResponse.h>
#include <Poco/Net/ServerSocket.h>
#include <Poco/StreamCopier.h>
#include <Poco/Util/ServerApplication.h>

#include <atomic>
#include <fstream>
#include <iostream>
#include <sstream>

namespace {

class Handler : public Poco::Net::HTTPRequestHandler {
 public:
  void handleRequest(Poco::Net::HTTPServerRequest& request,
                     Poco::Net::HTTPServerResponse& response) override {
    static std::atomic<long> counter{0};
    std::string body;
    Poco::StreamCopier::copyToString(request.stream(), body);
    Poco::JSON::Parser parser;
    auto lead = parser.parse(body).extract<Poco::JSON::Object::Ptr>();
    Poco::JSON::Object::Ptr out = new Poco::JSON::Object;
    out->set("id", "lead_" + std::to_string(++counter));
    out->set("email", lead->getValue<std::string>("email"));
    out->set("outcome", "created");
    std::ostringstream text;
    out->stringify(text);
    response.setStatus(Poco::Net::HTTPResponse::HTTP_CREATED);
    response.setContentType("application/json");
    response.sendBuffer(text.str().data(), text.str().size());
  }
};

class Factory : public Poco::Net::HTTPRequestHandlerFactory {
 public:
  Poco::Net::HTTPRequestHandler* createRequestHandler(
      const Poco::Net::HTTPServerRequest&) override {
    return new Handler;
  }
};

class Ceiling : public Poco::Util::ServerApplication {
  int main(const std::vector<std::string>& args) override {
    if (args.size() != 1) {
      std::cerr << "usage: ceiling_server PORT_FILE\n";
      return EXIT_USAGE;
    }
    Poco::Net::ServerSocket socket;
    socket.bind(Poco::Net::SocketAddress("127.0.0.1", 0), true, false);
    socket.listen(256);
    auto* params = new Poco::Net::HTTPServerParams;
    params->setMaxThreads(128);
    Poco::ThreadPool pool(4, 132);
    Poco::Net::HTTPServer server(new Factory, pool, socket, params);
    server.start();
    std::ofstream(args[0]) << socket.address().port() << "\n";
    waitForTerminationRequest();
    server.stop();
    return EXIT_OK;
  }
};

}  // namespace

POCO_SERVER_MAIN(Ceiling)
