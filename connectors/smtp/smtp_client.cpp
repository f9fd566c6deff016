#include "smtp/smtp_client.h"

#include <Poco/DateTimeFormatter.h>
#include <Poco/Environment.h>
#include <Poco/Exception.h>
#include <Poco/Net/Context.h>
#include <Poco/Net/MailMessage.h>
#include <Poco/Net/MailStream.h>
#include <Poco/Net/NetException.h>
#include <Poco/Net/QuotedPrintableEncoder.h>
#include <Poco/Net/RejectCertificateHandler.h>
#include <Poco/Net/SMTPClientSession.h>
#include <Poco/Net/SSLException.h>
#include <Poco/Net/SSLManager.h>
#include <Poco/Net/SecureStreamSocket.h>
#include <Poco/Net/SocketAddress.h>
#include <Poco/Net/SocketStream.h>
#include <Poco/Net/StreamSocket.h>
#include <Poco/Timestamp.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <mutex>
#include <sstream>

#include "ciclo/mail.h"

namespace ciclo::connectors {

namespace {

using Kind = SmtpOutcome::Kind;

bool hasLineBreak(std::string_view s) {
  return s.find_first_of(std::string_view("\r\n\0", 3)) != std::string_view::npos;
}

bool isAscii(std::string_view s) {
  return std::all_of(s.begin(), s.end(),
                     [](char c) { return static_cast<unsigned char>(c) < 0x80; });
}

// A header field name (RFC 5322 ftext): printable ASCII but the colon.
bool isHeaderName(std::string_view name) {
  return !name.empty() && name.size() <= 76 && std::all_of(name.begin(), name.end(), [](char c) {
    return c > 32 && c < 127 && c != ':';
  });
}

// "Name <address>" or "address": the address, or "" when it is not one.
std::string addressOf(std::string_view mailbox) {
  const auto open = mailbox.rfind('<');
  if (open == std::string_view::npos) return isMailAddress(mailbox) ? std::string(mailbox) : "";
  const auto close = mailbox.find('>', open);
  if (close != mailbox.size() - 1) return "";
  const auto address = mailbox.substr(open + 1, close - open - 1);
  return isMailAddress(address) ? std::string(address) : "";
}

std::string displayNameOf(std::string_view mailbox) {
  const auto open = mailbox.rfind('<');
  if (open == std::string_view::npos) return "";
  std::string name(mailbox.substr(0, open));
  while (!name.empty() && name.back() == ' ') name.pop_back();
  if (name.size() >= 2 && name.front() == '"' && name.back() == '"')
    name = name.substr(1, name.size() - 2);
  return name;
}

// A display name as a phrase: an encoded word when it is not ASCII, a quoted string when it
// holds specials (RFC 5322 3.2.3), else as it is.
std::string phrase(const std::string& name) {
  if (!isAscii(name)) return Poco::Net::MailMessage::encodeWord(name, "UTF-8");
  if (name.find_first_of("()<>[]:;@\\,.\"") == std::string::npos) return name;
  std::string out = "\"";
  for (char c : name) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out + "\"";
}

std::string mailbox(const std::string& name, const std::string& address) {
  return name.empty() ? address : phrase(name) + " <" + address + ">";
}

std::string withCrlf(const std::string& text) {
  std::string out;
  out.reserve(text.size() + text.size() / 40);
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '\r') {
      out += "\r\n";
      if (i + 1 < text.size() && text[i + 1] == '\n') ++i;
    } else if (text[i] == '\n') {
      out += "\r\n";
    } else {
      out += text[i];
    }
  }
  return out;
}

std::string quotedPrintable(const std::string& text) {
  std::ostringstream out;
  Poco::Net::QuotedPrintableEncoder encoder(out);
  encoder << withCrlf(text);
  encoder.close();
  return out.str();
}

// A boundary that depends on the message alone, so that every attempt sends the same bytes.
std::string boundaryFor(const std::string& messageId) {
  std::uint64_t h = 1469598103934665603ULL;
  for (unsigned char c : messageId) h = (h ^ c) * 1099511628211ULL;
  char buf[40];
  std::snprintf(buf, sizeof buf, "=_ciclo_%016llx", static_cast<unsigned long long>(h));
  return buf;
}

bool isMessageId(std::string_view id) {
  return id.size() >= 5 && id.size() <= 250 && id.front() == '<' && id.back() == '>' &&
         id.find('@') != std::string_view::npos &&
         std::all_of(id.begin() + 1, id.end() - 1,
                     [](char c) { return c > 32 && c < 127 && c != '<' && c != '>'; });
}

// A reply as Poco reads it ("550-5.1.1 first line\n550 5.1.1 last"): its first line's text.
std::string replyText(const std::string& reply) {
  std::string line = reply.substr(0, reply.find_first_of("\r\n"));
  if (line.size() >= 4 && (line[3] == ' ' || line[3] == '-') &&
      std::all_of(line.begin(), line.begin() + 3, [](char c) { return c >= '0' && c <= '9'; })) {
    line.erase(0, 4);
  }
  return line;
}

SmtpOutcome outcome(Kind kind, int code, const std::string& reply, const std::string& what) {
  SmtpOutcome o;
  o.kind = kind;
  o.code = code;
  const std::string text = replyText(reply);
  o.enhanced = sdk::enhancedStatus(text);
  o.hard = kind == Kind::kBounce && sdk::isHardBounce(code, o.enhanced);
  o.detail = what + ": " + std::to_string(code) + " " + text;
  return o;
}

// The answer to a reply about the recipient or the message: 2xx goes on, 4xx is retried,
// 5xx is a bounce.
bool replyFails(int code, int expected, const std::string& reply, const std::string& what,
                SmtpOutcome& out) {
  if (code / 100 == expected) return false;
  out = outcome(code / 100 == 5 ? Kind::kBounce : Kind::kRetry, code, reply, what);
  return true;
}

// Poco's session with its dialog socket in reach: STARTTLS swaps the socket under it, and
// the message after DATA is written and its reply read here.
class Session : public Poco::Net::SMTPClientSession {
 public:
  using SMTPClientSession::SMTPClientSession;
  using SMTPClientSession::socket;
};

}  // namespace

bool isMailAddress(std::string_view a) {
  const auto at = a.rfind('@');
  if (a.size() > 254 || at == std::string_view::npos || at == 0 || at > 64 || at + 1 >= a.size()) {
    return false;
  }
  const auto domain = a.substr(at + 1);
  if (domain.find('.') == std::string_view::npos || domain.front() == '.' || domain.back() == '.' ||
      domain.find("..") != std::string_view::npos) {
    return false;
  }
  return std::all_of(a.begin(), a.end(), [](char c) {
    const auto u = static_cast<unsigned char>(c);
    return u > 32 && u != 127 && c != '<' && c != '>' && c != '"' && c != '(' && c != ')' &&
           c != ',' && c != ';' && c != ':' && c != '\\' && c != '[' && c != ']';
  });
}

ComposedMail composeMail(const OutgoingMail& m, std::chrono::system_clock::time_point date) {
  ComposedMail out;
  auto refuse = [&](const std::string& why) {
    out.error = why;
    return out;
  };
  for (const auto* field :
       {&m.message_id, &m.from, &m.envelope_from, &m.to, &m.to_name, &m.subject}) {
    if (hasLineBreak(*field)) return refuse("a header field holds CR, LF or NUL");
  }
  if (!isMessageId(m.message_id)) return refuse("the Message-ID is not <local@domain>");
  const std::string from = addressOf(m.from);
  if (from.empty()) return refuse("the sender is not a valid address");
  if (!m.envelope_from.empty() && !isMailAddress(m.envelope_from))
    return refuse("the envelope sender is not a valid address");
  if (!isMailAddress(m.to)) return refuse("the recipient is not a valid address");
  if (m.text.empty() && m.html.empty()) return refuse("the message has no body");
  for (const auto& [name, value] : m.headers) {
    if (!isHeaderName(name)) return refuse("a header name is not valid");
    if (hasLineBreak(value)) return refuse("header " + name + " holds CR, LF or NUL");
    if (!isAscii(value)) return refuse("header " + name + " is not ASCII");
  }

  const auto ts = Poco::Timestamp::fromEpochTime(std::chrono::system_clock::to_time_t(date));
  std::string h;
  h += "Date: " + Poco::DateTimeFormatter::format(ts, "%w, %e %b %Y %H:%M:%S +0000") + "\r\n";
  h += "From: " + mailbox(displayNameOf(m.from), from) + "\r\n";
  h += "To: " + mailbox(m.to_name, m.to) + "\r\n";
  h += "Subject: " + Poco::Net::MailMessage::encodeWord(m.subject, "UTF-8") + "\r\n";
  h += "Message-ID: " + m.message_id + "\r\n";
  for (const auto& [name, value] : m.headers) h += name + ": " + value + "\r\n";
  h += "MIME-Version: 1.0\r\n";
  const std::string textPart =
      "Content-Type: text/plain; charset=UTF-8\r\n"
      "Content-Transfer-Encoding: quoted-printable\r\n\r\n" +
      quotedPrintable(m.text.empty() ? std::string(" ") : m.text) + "\r\n";
  if (m.html.empty()) {
    out.text = h + textPart;
  } else {
    const std::string b = boundaryFor(m.message_id);
    out.text = h + "Content-Type: multipart/alternative; boundary=\"" + b + "\"\r\n\r\n" + "--" +
               b + "\r\n" + textPart + "--" + b + "\r\n" +
               "Content-Type: text/html; charset=UTF-8\r\n"
               "Content-Transfer-Encoding: quoted-printable\r\n\r\n" +
               quotedPrintable(m.html) + "\r\n--" + b + "--\r\n";
  }
  out.ok = true;
  return out;
}

struct SmtpClient::Tls {
  Poco::Net::Context::Ptr context;
};

SmtpClient::SmtpClient(SmtpSettings settings) : settings_(std::move(settings)) {
  if (settings_.helo.empty()) settings_.helo = Poco::Environment::nodeName();
  if (settings_.tls == SmtpSettings::Tls::kNone) return;
  static std::once_flag sslOnce;
  try {
    auto tls = std::make_unique<Tls>();
    tls->context =
        new Poco::Net::Context(Poco::Net::Context::TLS_CLIENT_USE, "", "", settings_.ca_file,
                               settings_.verify_certificate ? Poco::Net::Context::VERIFY_RELAXED
                                                            : Poco::Net::Context::VERIFY_NONE,
                               9, settings_.ca_file.empty());
    tls->context->requireMinimumProtocol(Poco::Net::Context::PROTO_TLSV1_2);
    std::call_once(sslOnce, [&] {
      // A certificate that fails verification is refused, never put to a prompt.
      Poco::Net::SSLManager::instance().initializeClient(
          nullptr, new Poco::Net::RejectCertificateHandler(false), tls->context);
    });
    tls_ = std::move(tls);
  } catch (const Poco::Exception& e) {
    tlsError_ = "TLS with the relay cannot be set up: " + e.displayText();
  }
}

SmtpClient::~SmtpClient() = default;

SmtpOutcome SmtpClient::send(const OutgoingMail& mail,
                             std::chrono::system_clock::time_point date) const {
  const ComposedMail composed = composeMail(mail, date);
  if (!composed.ok) return SmtpOutcome{Kind::kInvalid, 0, "", false, composed.error};
  const std::string sender = mail.envelope_from.empty() ? addressOf(mail.from) : mail.envelope_from;
  const SmtpSettings& s = settings_;
  if (s.tls != SmtpSettings::Tls::kNone && !tls_)
    return SmtpOutcome{Kind::kRetry, 0, "", false, tlsError_};
  using Poco::Net::SMTPClientSession;
  const Poco::Timespan commandTimeout(
      std::chrono::duration_cast<std::chrono::microseconds>(s.command_timeout).count());
  try {
    const Poco::Net::Context::Ptr context = tls_ ? tls_->context : nullptr;
    const Poco::Net::SocketAddress address(s.host, static_cast<Poco::UInt16>(s.port));
    const Poco::Timespan connectTimeout(
        std::chrono::duration_cast<std::chrono::microseconds>(s.connect_timeout).count());
    Poco::Net::StreamSocket socket;
    if (s.tls == SmtpSettings::Tls::kImplicit) {
      Poco::Net::SecureStreamSocket secure(context);
      secure.setPeerHostName(s.host);
      secure.connect(address, connectTimeout);
      socket = secure;
    } else {
      socket.connect(address, connectTimeout);
    }
    socket.setReceiveTimeout(commandTimeout);
    socket.setSendTimeout(commandTimeout);
    Session session(socket);
    session.setTimeout(commandTimeout);
    session.open();  // the greeting
    std::string reply;
    if (s.tls == SmtpSettings::Tls::kStartTls) {
      session.login(s.helo);
      const int code = session.sendCommand("STARTTLS", reply);
      if (code != 220) return outcome(Kind::kRetry, code, reply, "the relay refused STARTTLS");
      session.socket() = Poco::Net::SecureStreamSocket::attach(session.socket(), s.host, context);
      session.setTimeout(commandTimeout);
      session.socket().setSendTimeout(commandTimeout);
    }
    if (!s.username.empty()) {
      session.login(
          s.helo, s.auth == "login" ? SMTPClientSession::AUTH_LOGIN : SMTPClientSession::AUTH_PLAIN,
          s.username, s.password);
    } else {
      session.login(s.helo);
    }

    int code = session.sendCommand("MAIL FROM:<" + sender + ">", reply);
    if (code / 100 != 2) {
      // A refused sender is the relay's or our configuration's problem, never the recipient's.
      return outcome(Kind::kRetry, code, reply, "the relay refused the sender");
    }
    SmtpOutcome failed;
    code = session.sendCommand("RCPT TO:<" + mail.to + ">", reply);
    if (replyFails(code, 2, reply, "the relay refused the recipient", failed)) return failed;
    code = session.sendCommand("DATA", reply);
    if (replyFails(code, 3, reply, "the relay refused DATA", failed)) return failed;
    {
      Poco::Net::SocketOutputStream socketOut(session.socket());
      Poco::Net::MailOutputStream mailOut(socketOut);
      mailOut << composed.text;
      mailOut.close();  // dot-stuffing is done by the stream, and the final "."
      socketOut.flush();
    }
    session.setTimeout(Poco::Timespan(
        std::chrono::duration_cast<std::chrono::microseconds>(s.data_timeout).count()));
    code = session.socket().receiveStatusMessage(reply);
    if (replyFails(code, 2, reply, "the relay refused the message", failed)) return failed;
    SmtpOutcome sent = outcome(Kind::kSent, code, reply, "accepted");
    try {
      session.setTimeout(commandTimeout);
      session.close();  // QUIT; the message is the relay's already
    } catch (const Poco::Exception&) {
    }
    return sent;
  } catch (const Poco::TimeoutException&) {
    return SmtpOutcome{Kind::kRetry, 0, "", false, "the relay did not answer in time"};
  } catch (const Poco::Net::SSLException& e) {
    return SmtpOutcome{Kind::kRetry, 0, "", false, "TLS with the relay failed: " + e.message()};
  } catch (const Poco::Net::SMTPException& e) {
    return SmtpOutcome{Kind::kRetry, e.code(), sdk::enhancedStatus(replyText(e.message())), false,
                       "the relay refused the session: " + replyText(e.message())};
  } catch (const Poco::Exception& e) {
    return SmtpOutcome{Kind::kRetry, 0, "", false,
                       "the connection to the relay failed: " + e.displayText()};
  } catch (const std::exception& e) {
    return SmtpOutcome{Kind::kRetry, 0, "", false, std::string("sending failed: ") + e.what()};
  }
}

}  // namespace ciclo::connectors
