#include "email.h"

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <kainjow/mustache.hpp>

namespace ciclo::plugins::nurture {

namespace {

std::string renderTemplate(const std::string& text, const kainjow::mustache::data& values,
                           bool escapeHtml) {
  kainjow::mustache::mustache t{text};
  if (!escapeHtml) t.set_custom_escape([](const std::string& s) { return s; });
  return t.render(values);
}

std::string oneLine(std::string s) {
  for (char& c : s) {
    if (static_cast<unsigned char>(c) < 32 || c == 127) c = ' ';
  }
  return s;
}

std::string unescapeAmpersands(std::string url) {
  for (std::size_t i = 0; (i = url.find("&amp;", i)) != std::string::npos; ++i)
    url.replace(i, 5, "&");
  return url;
}

bool startsWithInsensitive(std::string_view s, std::string_view prefix) {
  if (s.size() < prefix.size()) return false;
  for (std::size_t i = 0; i < prefix.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(s[i])) != prefix[i]) return false;
  }
  return true;
}

// Rewrites every href="http(s)://..." (double or single quotes) to its tracking URL.
std::string trackLinks(const std::string& html, const TrackingUrls& urls,
                       std::vector<std::string>& links) {
  std::string out;
  std::size_t pos = 0;
  for (;;) {
    std::size_t at = pos;
    // Find the next "href" attribute, case-insensitively.
    for (; at + 4 < html.size(); ++at) {
      if (startsWithInsensitive(std::string_view(html).substr(at), "href")) break;
    }
    if (at + 4 >= html.size()) break;
    std::size_t v = at + 4;
    while (v < html.size() && std::isspace(static_cast<unsigned char>(html[v]))) ++v;
    if (v >= html.size() || html[v] != '=') {
      out += html.substr(pos, v - pos);
      pos = v;
      continue;
    }
    ++v;
    while (v < html.size() && std::isspace(static_cast<unsigned char>(html[v]))) ++v;
    if (v >= html.size() || (html[v] != '"' && html[v] != '\'')) {
      out += html.substr(pos, v - pos);
      pos = v;
      continue;
    }
    const char quote = html[v];
    const std::size_t end = html.find(quote, v + 1);
    if (end == std::string::npos) break;
    const std::string url = unescapeAmpersands(html.substr(v + 1, end - v - 1));
    out += html.substr(pos, v + 1 - pos);
    if (startsWithInsensitive(url, "http://") || startsWithInsensitive(url, "https://")) {
      links.push_back(url);
      out += urls.click(links.size() - 1);
    } else {
      out += html.substr(v + 1, end - v - 1);  // mailto:, anchors: left alone
    }
    pos = end;
  }
  out += html.substr(pos);
  return out;
}

std::string signedPart(TokenKind kind, const std::string& emailId, const std::string& link) {
  return std::string(1, static_cast<char>(kind)) + "|" + emailId + "|" + link;
}

}  // namespace

std::string hex(std::string_view raw) {
  static const char* digits = "0123456789abcdef";
  std::string out;
  out.reserve(raw.size() * 2);
  for (unsigned char c : raw) {
    out += digits[c >> 4];
    out += digits[c & 15];
  }
  return out;
}

Rendered render(const Step& step, const LeadFacts& lead, const TrackingUrls& urls) {
  kainjow::mustache::data values;
  values.set("first_name", lead.first_name);
  values.set("last_name", lead.last_name);
  std::string name = lead.first_name;
  if (!lead.last_name.empty()) name += (name.empty() ? "" : " ") + lead.last_name;
  values.set("name", name);
  values.set("company", lead.company);
  values.set("job_title", lead.job_title);
  values.set("email", lead.email);
  values.set("persona", lead.persona);
  values.set("unsubscribe_url", urls.unsubscribe);

  Rendered r;
  r.subject = oneLine(renderTemplate(step.subject, values, false));
  r.text = renderTemplate(step.text, values, false);
  if (!step.html.empty()) {
    r.html = trackLinks(renderTemplate(step.html, values, true), urls, r.links);
    const std::string pixel =
        "<img src=\"" + urls.open + "\" width=\"1\" height=\"1\" alt=\"\" style=\"display:none\">";
    if (const auto body = r.html.rfind("</body>"); body != std::string::npos) {
      r.html.insert(body, pixel);
    } else {
      r.html += pixel;
    }
  }
  return r;
}

std::string makeToken(const Hmac& hmac, TokenKind kind, const std::string& emailId, int link) {
  const std::string linkPart = link < 0 ? "-" : std::to_string(link);
  return emailId + "." + linkPart + "." +
         hex(hmac(signedPart(kind, emailId, linkPart)).substr(0, 16));
}

std::optional<TokenClaims> readToken(const Hmac& hmac, const Equals& equals, TokenKind kind,
                                     std::string_view token) {
  if (token.size() > 200) return std::nullopt;
  const auto dot2 = token.rfind('.');
  if (dot2 == std::string_view::npos || dot2 == 0) return std::nullopt;
  const auto dot1 = token.rfind('.', dot2 - 1);
  if (dot1 == std::string_view::npos) return std::nullopt;
  const std::string emailId(token.substr(0, dot1));
  const std::string linkPart(token.substr(dot1 + 1, dot2 - dot1 - 1));
  const std::string signature(token.substr(dot2 + 1));
  if (!emailId.starts_with("eml_") || linkPart.empty() || linkPart.size() > 4) return std::nullopt;
  int link = -1;
  if (linkPart != "-") {
    link = 0;
    for (char c : linkPart) {
      if (c < '0' || c > '9') return std::nullopt;
      link = link * 10 + (c - '0');
    }
  }
  if (!equals(hex(hmac(signedPart(kind, emailId, linkPart)).substr(0, 16)), signature))
    return std::nullopt;
  return TokenClaims{emailId, link};
}

std::string makeVisitorToken(const Hmac& hmac, const std::string& leadId, long long expires) {
  const std::string expiry = std::to_string(expires);
  return leadId + "." + expiry + "." + hex(hmac("v|" + leadId + "|" + expiry).substr(0, 16));
}

std::optional<std::string> readVisitorToken(const Hmac& hmac, const Equals& equals,
                                            std::string_view token, long long now) {
  if (token.size() > 200) return std::nullopt;
  const auto dot2 = token.rfind('.');
  if (dot2 == std::string_view::npos || dot2 == 0) return std::nullopt;
  const auto dot1 = token.rfind('.', dot2 - 1);
  if (dot1 == std::string_view::npos || dot1 == 0) return std::nullopt;
  const std::string leadId(token.substr(0, dot1));
  const std::string expiry(token.substr(dot1 + 1, dot2 - dot1 - 1));
  const bool idOk = std::all_of(leadId.begin(), leadId.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-';
  });
  const bool expiryOk = !expiry.empty() && expiry.size() <= 12 &&
                        std::all_of(expiry.begin(), expiry.end(), ::isdigit);
  if (!idOk || !expiryOk) return std::nullopt;
  if (!equals(hex(hmac("v|" + leadId + "|" + expiry).substr(0, 16)),
              std::string(token.substr(dot2 + 1))))
    return std::nullopt;
  if (std::stoll(expiry) <= now) return std::nullopt;
  return leadId;
}

std::string withQueryParam(const std::string& url, const std::string& name,
                           const std::string& value) {
  const auto hash = url.find('#');
  std::string base = url.substr(0, hash);
  const std::string fragment = hash == std::string::npos ? "" : url.substr(hash);
  std::string separator = "&";
  if (base.find('?') == std::string::npos) {
    separator = "?";
  } else if (base.back() == '?' || base.back() == '&') {
    separator = "";
  }
  return base + separator + name + "=" + value + fragment;
}

}  // namespace ciclo::plugins::nurture
