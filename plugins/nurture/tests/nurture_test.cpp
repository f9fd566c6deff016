// The nurture plugin's pure parts: enrolment and stop rules, step conditions, quiet hours in
// the lead's time zone, retry delays, rendering with escaping and tracked links, tokens.

#include <gtest/gtest.h>

#include <functional>

#include "email.h"
#include "sequence.h"

namespace ciclo::plugins::nurture {
namespace {

using namespace std::chrono_literals;
using std::chrono::sys_days;

Time at(int y, unsigned m, unsigned d, int h, int min) {
  return Time{sys_days{std::chrono::year{y} / m / d} + std::chrono::hours(h) +
              std::chrono::minutes(min)};
}

Sequence plantManagers() {
  Sequence s;
  s.key = "welcome";
  s.enrol.personas = {"plant_manager"};
  s.enrol.min_score = 10;
  s.stop = {StopRule::kSalesReady, StopRule::kQualified};
  s.steps = {Step{"hello", 0s, StepCondition::kAlways, "Hi {{first_name}}", "Hi", ""}};
  return s;
}

LeadFacts lead() {
  LeadFacts f;
  f.id = "lead_1";
  f.status = "nurturing";
  f.email = "anna@example.it";
  f.first_name = "Anna";
  f.persona = "plant_manager";
  f.score = 20;
  f.country = "IT";
  return f;
}

TEST(Enrolment, PersonaScoreAndStatusMustAllHold) {
  EXPECT_TRUE(shouldEnrol(plantManagers(), lead()));
  auto other = lead();
  other.persona = "craft_owner";
  EXPECT_FALSE(shouldEnrol(plantManagers(), other));
  auto low = lead();
  low.score = 5;
  EXPECT_FALSE(shouldEnrol(plantManagers(), low));
  auto ready = lead();
  ready.status = "sales_ready";
  EXPECT_FALSE(shouldEnrol(plantManagers(), ready));
  auto noEmail = lead();
  noEmail.email.clear();
  EXPECT_FALSE(shouldEnrol(plantManagers(), noEmail));
}

TEST(Enrolment, StopRulesFollowTheLeadsStatus) {
  const auto seq = plantManagers();
  EXPECT_EQ(stopForStatus(seq, "sales_ready"), StopRule::kSalesReady);
  EXPECT_EQ(stopForStatus(seq, "qualified"), StopRule::kQualified);
  EXPECT_EQ(stopForStatus(seq, "disqualified"), std::nullopt);  // not among its rules
  EXPECT_EQ(stopForStatus(seq, "nurturing"), std::nullopt);
}

TEST(Steps, ConditionsOnThePreviousEmail) {
  EXPECT_TRUE(stepApplies(StepCondition::kAlways, false, false));
  EXPECT_TRUE(stepApplies(StepCondition::kPreviousNotOpened, false, false));
  EXPECT_FALSE(stepApplies(StepCondition::kPreviousNotOpened, true, false));
  EXPECT_TRUE(stepApplies(StepCondition::kPreviousOpened, true, false));
  EXPECT_FALSE(stepApplies(StepCondition::kPreviousNotClicked, true, true));
}

TEST(QuietHours, InTheLeadsOwnTimeZone) {
  // 20:00-08:00 in Rome. 19:30 UTC in November is 20:30 in Rome: wait until 08:00 there.
  EXPECT_EQ(outsideQuietHours(at(2026, 11, 24, 19, 30), "Europe/Rome", 20 * 60, 8 * 60),
            at(2026, 11, 25, 7, 0));
  // 05:00 UTC is 06:00 in Rome: the same morning at 08:00.
  EXPECT_EQ(outsideQuietHours(at(2026, 11, 24, 5, 0), "Europe/Rome", 20 * 60, 8 * 60),
            at(2026, 11, 24, 7, 0));
  // 10:00 UTC is daytime: now.
  EXPECT_EQ(outsideQuietHours(at(2026, 11, 24, 10, 0), "Europe/Rome", 20 * 60, 8 * 60),
            at(2026, 11, 24, 10, 0));
  // In summer Rome is UTC+2.
  EXPECT_EQ(outsideQuietHours(at(2026, 7, 1, 19, 0), "Europe/Rome", 20 * 60, 8 * 60),
            at(2026, 7, 2, 6, 0));
  // 10:00 UTC is 19:00 in Tokyo: fine; 12:00 UTC is 21:00 there: next day 08:00 JST.
  EXPECT_EQ(outsideQuietHours(at(2026, 11, 24, 12, 0), "Asia/Tokyo", 20 * 60, 8 * 60),
            at(2026, 11, 24, 23, 0));
  // Equal start and end: no quiet hours.
  EXPECT_EQ(outsideQuietHours(at(2026, 11, 24, 23, 0), "Europe/Rome", 0, 0),
            at(2026, 11, 24, 23, 0));
}

TEST(QuietHours, TheZoneComesFromTheLeadThenItsCountry) {
  auto f = lead();
  EXPECT_EQ(timeZoneFor(f, "UTC"), "Europe/Rome");
  f.country = "US";  // several zones: the default
  EXPECT_EQ(timeZoneFor(f, "America/New_York"), "America/New_York");
  f.time_zone = "America/Los_Angeles";
  EXPECT_EQ(timeZoneFor(f, "America/New_York"), "America/Los_Angeles");
  f.time_zone = "Not/AZone";
  EXPECT_EQ(timeZoneFor(f, "UTC"), "UTC");
}

TEST(Retries, GrowThreefoldToSixHours) {
  const Time t = at(2026, 11, 24, 10, 0);
  EXPECT_EQ(retryAt(t, 1), t + 5min);
  EXPECT_EQ(retryAt(t, 2), t + 15min);
  EXPECT_EQ(retryAt(t, 3), t + 45min);
  EXPECT_EQ(retryAt(t, 5), t + 6h);
  EXPECT_EQ(retryAt(t, 50), t + 6h);
}

TEST(Times, OnlyRfc3339Utc) {
  EXPECT_EQ(parseUtc("2026-11-24T10:00:00Z"), at(2026, 11, 24, 10, 0));
  EXPECT_EQ(parseUtc("2026-11-24T10:00:00.250Z"), at(2026, 11, 24, 10, 0) + 250ms);
  EXPECT_FALSE(parseUtc("2026-11-24T10:00:00+01:00"));
  EXPECT_FALSE(parseUtc("2026-11-24 10:00:00Z"));
  EXPECT_FALSE(parseUtc("2026-13-24T10:00:00Z"));
  EXPECT_FALSE(parseUtc("2026-11-24T10:00:00Zjunk"));
  EXPECT_FALSE(parseUtc("yesterday"));
  EXPECT_FALSE(parseUtc(""));
}

TEST(Render, EscapesHtmlTracksLinksAndAddsThePixel) {
  Step step{"s",
            0s,
            StepCondition::kAlways,
            "Ciao {{first_name}}\r\nBcc: x",
            "Ciao {{first_name}} di {{company}}: {{unsubscribe_url}}",
            "<html><body><p>Ciao {{first_name}}</p><a href=\"https://example.com/a?x=1&amp;y=2\">"
            "guida</a> <a href='mailto:info@example.com'>m</a> <A HREF = \"http://example.com/b\">"
            "b</A></body></html>"};
  auto f = lead();
  f.first_name = "<script>alert(1)</script>";
  f.company = "Rossi & Figli";
  const auto r = render(
      step, f, TrackingUrls{"https://c.example/t/o/T", "https://c.example/u/U", [](std::size_t i) {
                              return "https://c.example/t/c/" + std::to_string(i);
                            }});
  EXPECT_EQ(r.subject, "Ciao <script>alert(1)</script>  Bcc: x");  // one line, text
  EXPECT_EQ(r.text, "Ciao <script>alert(1)</script> di Rossi & Figli: https://c.example/u/U");
  EXPECT_EQ(r.html.find("<script>"), std::string::npos);
  EXPECT_NE(r.html.find("&lt;script&gt;"), std::string::npos);
  ASSERT_EQ(r.links.size(), 2u);
  EXPECT_EQ(r.links[0], "https://example.com/a?x=1&y=2");
  EXPECT_EQ(r.links[1], "http://example.com/b");
  EXPECT_NE(r.html.find("href=\"https://c.example/t/c/0\""), std::string::npos);
  EXPECT_NE(r.html.find("HREF = \"https://c.example/t/c/1\""), std::string::npos);
  EXPECT_NE(r.html.find("href='mailto:info@example.com'"), std::string::npos);
  EXPECT_NE(r.html.find("<img src=\"https://c.example/t/o/T\""), std::string::npos);
  EXPECT_LT(r.html.find("<img"), r.html.find("</body>"));
}

TEST(Tokens, SignedAndBoundToKindEmailAndLink) {
  const Hmac hmac = [](const std::string& d) {
    std::string out(32, '\0');
    for (std::size_t i = 0; i < d.size(); ++i)
      out[i % 32] = static_cast<char>(out[i % 32] * 31 + d[i]);
    return out;
  };
  const Equals eq = [](const std::string& a, const std::string& b) { return a == b; };
  const std::string click = makeToken(hmac, TokenKind::kClick, "eml_abc", 2);
  auto claims = readToken(hmac, eq, TokenKind::kClick, click);
  ASSERT_TRUE(claims);
  EXPECT_EQ(claims->email_id, "eml_abc");
  EXPECT_EQ(claims->link, 2);
  EXPECT_FALSE(readToken(hmac, eq, TokenKind::kOpen, click));  // another kind
  std::string other = click;
  other.replace(click.find(".2."), 3, ".3.");
  EXPECT_FALSE(readToken(hmac, eq, TokenKind::kClick, other));  // another link
  std::string tampered = click;
  tampered.back() = tampered.back() == '0' ? '1' : '0';
  EXPECT_FALSE(readToken(hmac, eq, TokenKind::kClick, tampered));
  EXPECT_FALSE(readToken(hmac, eq, TokenKind::kClick, "garbage"));
  EXPECT_FALSE(readToken(hmac, eq, TokenKind::kClick, ""));
  const std::string unsubscribe = makeToken(hmac, TokenKind::kUnsubscribe, "eml_abc");
  ASSERT_TRUE(readToken(hmac, eq, TokenKind::kUnsubscribe, unsubscribe));
  EXPECT_EQ(readToken(hmac, eq, TokenKind::kUnsubscribe, unsubscribe)->link, -1);
}

TEST(Tokens, AVisitorTokenNamesItsLeadUntilItExpires) {
  // Stand-ins for HMAC-SHA256 under two keys: 32 bytes that depend on every byte of the data.
  auto keyed = [](const std::string& key) -> Hmac {
    return [key](const std::string& data) {
      std::string out = std::to_string(std::hash<std::string>{}(key + data));
      out.resize(32, '#');
      return out;
    };
  };
  const Hmac hmac = keyed("one");
  const Equals equals = [](const std::string& a, const std::string& b) { return a == b; };
  const std::string token = makeVisitorToken(hmac, "lead_01ABC", 2000);
  EXPECT_EQ(readVisitorToken(hmac, equals, token, 1999), "lead_01ABC");
  EXPECT_FALSE(readVisitorToken(hmac, equals, token, 2000)) << "expired";
  std::string tampered = token;
  tampered.replace(tampered.find(".2000."), 6, ".9000.");
  EXPECT_FALSE(readVisitorToken(hmac, equals, tampered, 1999)) << "a later expiry";
  for (const char* bad : {"", ".", "..", "lead.2000", "le ad.2000.00", "lead.-5.00", "lead..00"})
    EXPECT_FALSE(readVisitorToken(hmac, equals, bad, 0)) << bad;
  EXPECT_FALSE(readVisitorToken(keyed("two"), equals, token, 1999)) << "another key";
}

TEST(Links, AQueryParameterGoesBeforeTheFragment) {
  EXPECT_EQ(withQueryParam("https://a.example/p", "t", "1"), "https://a.example/p?t=1");
  EXPECT_EQ(withQueryParam("https://a.example/p?x=2", "t", "1"), "https://a.example/p?x=2&t=1");
  EXPECT_EQ(withQueryParam("https://a.example/p?x=2#top", "t", "1"),
            "https://a.example/p?x=2&t=1#top");
  EXPECT_EQ(withQueryParam("https://a.example/p?", "t", "1"), "https://a.example/p?t=1");
}

}  // namespace
}  // namespace ciclo::plugins::nurture
