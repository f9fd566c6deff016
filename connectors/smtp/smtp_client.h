#pragma once
// connectors/smtp: outbound email over SMTP (RFC 5321) with Poco. One call sends one
// message to one recipient through the configured relay: STARTTLS (or implicit TLS) with
// certificate verification, AUTH, a timeout for every reply (10 minutes for the reply to
// the end of DATA, RFC 5321 4.5.3.2). It says what happened - sent, worth retrying, bounced
// (soft or hard) or refused before sending - and the caller owns retries.
//
// A message keeps the Message-ID its caller gives it, so that a resend after a connection
// lost between the end of DATA and the server's 250 is recognisable as the same email.

#include <chrono>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace ciclo::connectors {

struct SmtpSettings {
  enum class Tls {
    kNone,      // plain SMTP: loopback relays only
    kStartTls,  // STARTTLS is required; a relay that does not offer it is not used
    kImplicit,  // TLS from the first byte (port 465, "submissions")
  };
  std::string host = "127.0.0.1";
  int port = 25;
  Tls tls = Tls::kStartTls;
  bool verify_certificate = true;
  std::string ca_file;  // empty: the system's trust store
  std::string username, password;
  std::string auth = "plain";  // plain or login
  std::string helo;            // the name we greet with; empty: this host's name
  std::chrono::milliseconds connect_timeout{30000};
  std::chrono::milliseconds command_timeout{300000};  // RFC 5321: 5 minutes for most replies
  std::chrono::milliseconds data_timeout{600000};     // and 10 for the end of DATA
};

struct OutgoingMail {
  std::string message_id;     // "<local@domain>": the same for every attempt of one email
  std::string from;           // header: "Name <address>" or "address"
  std::string envelope_from;  // MAIL FROM (the bounce address); empty: from's address
  std::string to;             // one recipient's address
  std::string to_name;
  std::string subject;
  std::string text;  // the plain-text part
  std::string html;  // the HTML part; empty: a text-only message
  std::vector<std::pair<std::string, std::string>> headers;  // e.g. List-Unsubscribe
};

struct SmtpOutcome {
  enum class Kind {
    kSent,     // the relay accepted the message (250 to the end of DATA)
    kRetry,    // 4xx, a timeout, a lost connection, a relay that cannot be reached
    kBounce,   // 5xx for the recipient or the message
    kInvalid,  // refused before sending: a header with CR or LF, a malformed address
  };
  Kind kind = Kind::kRetry;
  int code = 0;          // the SMTP reply code, 0 without one
  std::string enhanced;  // the enhanced status code (RFC 3463), "5.1.1"; may be empty
  bool hard = false;     // a bounce that will never succeed (no such mailbox or domain)
  std::string detail;    // the relay's reply or what went wrong, without credentials
};

class SmtpClient {
 public:
  // Sets up TLS (the trust store is read once, here); a failure there makes every send a
  // retry that says why.
  explicit SmtpClient(SmtpSettings settings);
  ~SmtpClient();
  const SmtpSettings& settings() const { return settings_; }
  // `date` is the message's Date header (RFC 5322), as the caller's clock says.
  SmtpOutcome send(const OutgoingMail& mail, std::chrono::system_clock::time_point date) const;

 private:
  struct Tls;
  SmtpSettings settings_;
  std::unique_ptr<Tls> tls_;  // without TLS: null
  std::string tlsError_;
};

// The message as it goes after DATA (before dot-stuffing): headers, then a text part or
// a multipart/alternative of text and HTML, quoted-printable, with CRLF line ends.
// Fails (kInvalid) on CR, LF or NUL in any header field and on malformed addresses.
struct ComposedMail {
  bool ok = false;
  std::string text;   // the message when ok
  std::string error;  // why not
};
ComposedMail composeMail(const OutgoingMail& mail, std::chrono::system_clock::time_point date);

// True when `address` is a plain addr-spec we will put on the wire: local@domain, no
// spaces, angle brackets, quotes, control characters or CR/LF, at most 254 bytes.
bool isMailAddress(std::string_view address);

}  // namespace ciclo::connectors
