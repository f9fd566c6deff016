// The web form plugin's parts that read untrusted input: bodies, forms, rate limits.

#include <gtest/gtest.h>

#include "form.h"
#include "submission.h"
#include "support/rate_limiter.h"

namespace ciclo::plugins::webform {
namespace {

using namespace std::chrono_literals;

Fields ok(const sdk::Result<Fields>& r) {
  EXPECT_TRUE(r.ok()) << r.error().message;
  return r.ok() ? r.value() : Fields{};
}

TEST(UrlEncoded, DecodesPercentAndPlusInOrder) {
  const auto f = ok(parseUrlEncoded("email=anna%40example.it&first_name=Anna+Maria&x=&flag"));
  ASSERT_EQ(f.size(), 4u);
  EXPECT_EQ(f[0], (std::pair<std::string, std::string>{"email", "anna@example.it"}));
  EXPECT_EQ(f[1].second, "Anna Maria");
  EXPECT_EQ(f[2].second, "");
  EXPECT_EQ(f[3], (std::pair<std::string, std::string>{"flag", ""}));
  EXPECT_EQ(ok(parseUrlEncoded("a=%C3%A8")).at(0).second, "\xC3\xA8");
}

TEST(UrlEncoded, RefusesWhatCannotBeRead) {
  for (const char* body : {"a=%", "a=%4", "a=%zz", "a=%C3", "a=%FF%FE", "%ED%A0%80=x"}) {
    const auto r = parseUrlEncoded(body);
    ASSERT_FALSE(r.ok()) << body;
    EXPECT_EQ(r.error().kind, sdk::ErrorKind::kUnparseable) << body;
  }
  std::string many;
  for (int i = 0; i < 10000; ++i) many += "f" + std::to_string(i) + "=1&";
  EXPECT_FALSE(parseUrlEncoded(many).ok()) << "10,000 fields";
}

TEST(UrlEncoded, QueryParametersOfAPageAddress) {
  EXPECT_EQ(queryParameters("https://x.example/p?utm_source=news&utm_medium=e%2Bmail#top"),
            (Fields{{"utm_source", "news"}, {"utm_medium", "e+mail"}}));
  EXPECT_TRUE(queryParameters("https://x.example/p").empty());
  EXPECT_TRUE(queryParameters("https://x.example/p?bad=%zz").empty());
}

TEST(Multipart, ReadsTextPartsAndRefusesFiles) {
  const std::string body =
      "--XyZ\r\nContent-Disposition: form-data; name=\"email\"\r\n\r\nanna@example.it\r\n"
      "--XyZ\r\nContent-Disposition: form-data; name=\"message\"\r\nContent-Type: text/plain; "
      "charset=utf-8\r\n\r\nline one\r\nline two\r\n--XyZ--\r\n";
  const auto f = ok(parseMultipart(body, "XyZ"));
  ASSERT_EQ(f.size(), 2u);
  EXPECT_EQ(f[0].second, "anna@example.it");
  EXPECT_EQ(f[1].second, "line one\r\nline two");
  EXPECT_EQ(ok(parseSubmission("multipart/form-data; boundary=\"XyZ\"", body)).size(), 2u);

  const std::string file =
      "--b\r\nContent-Disposition: form-data; name=\"cv\"; filename=\"cv.pdf\"\r\n"
      "Content-Type: application/pdf\r\n\r\n%PDF\r\n--b--";
  const auto refused = parseMultipart(file, "b");
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().kind, sdk::ErrorKind::kInvalid);
  EXPECT_EQ(refused.error().fields.at(0).field, "cv");
}

TEST(Multipart, RefusesMalformedBodies) {
  for (const std::string& body : std::vector<std::string>{
           "", "no boundary here", "--b\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\nx",
           "--b\r\nContent-Disposition: form-data\r\n\r\nx\r\n--b--",
           "--b\r\nX-Other: y\r\n\r\nx\r\n--b--",
           "--b\r\nContent-Disposition: attachment; name=\"a\"\r\n\r\nx\r\n--b--", "--bX\r\n"}) {
    const auto r = parseMultipart(body, "b");
    EXPECT_FALSE(r.ok()) << body;
  }
  EXPECT_FALSE(parseMultipart("--\r\n", "").ok()) << "no boundary";
  EXPECT_FALSE(parseMultipart("x", std::string(71, 'b')).ok()) << "boundary too long";
}

TEST(JsonFields, TakesAFlatObject) {
  const auto f =
      ok(parseJsonFields(R"({"email":"a@b.it","consent_marketing":true,"n":3,"z":null})"));
  ASSERT_EQ(f.size(), 3u);
  EXPECT_EQ(f[1].second, "true");
  EXPECT_EQ(f[2].second, "3");
  const auto nested = parseJsonFields(R"({"email":{"x":1}})");
  ASSERT_FALSE(nested.ok());
  EXPECT_EQ(nested.error().kind, sdk::ErrorKind::kInvalid);
  for (const std::string& body :
       {std::string("[1]"), std::string("{"), std::string("{\"a\":1e999}"),
        std::string(100, '[') + std::string(100, ']'), std::string("{\"a\":\"\xff\"}")}) {
    const auto r = parseJsonFields(body);
    ASSERT_FALSE(r.ok()) << body;
    EXPECT_EQ(r.error().kind, sdk::ErrorKind::kUnparseable);
  }
}

TEST(JsonFields, RefusesAnObjectNamingAFieldTwice) {
  auto twice = parseJsonFields(R"({"email":"a@example.it","email":"b@example.it"})");
  ASSERT_FALSE(twice.ok());
  EXPECT_EQ(twice.error().kind, sdk::ErrorKind::kUnparseable);
  EXPECT_TRUE(parseJsonFields(R"({"email":"a@example.it","nome":"A"})").ok());
}

TEST(Headers, MediaTypeAndParameters) {
  EXPECT_EQ(mediaType(" Application/X-WWW-Form-Urlencoded ; charset=UTF-8"),
            "application/x-www-form-urlencoded");
  EXPECT_EQ(headerParameter("multipart/form-data; Boundary=\"a b\"", "boundary"), "a b");
  EXPECT_EQ(headerParameter("form-data; filename=\"x\"; name=\"y\"", "name"), "y");
}

TEST(Escaping, HtmlAndUrl) {
  EXPECT_EQ(htmlEscape("<script>alert('x')</script>&\""),
            "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;&amp;&quot;");
  EXPECT_EQ(sdk::percentEncode("email: is required"), "email%3A%20is%20required");
}

Form validForm() {
  Form f;
  f.key = "demo";
  f.allowed_origins = {"https://www.example.it"};
  f.consent_text = "I agree to receive news.";
  f.thank_you_url = "https://www.example.it/grazie";
  return f;
}

TEST(Forms, FeedOnlyAConfiguredBuyerPersona) {
  Form f = validForm();
  f.persona = "plant_manager";
  const std::vector<std::string> personas{"plant_manager", "craft_owner"};
  EXPECT_TRUE(checkForm(f, personas).empty());
  f.persona = "plant_manger";
  const auto errors = checkForm(f, personas);
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_EQ(errors[0].field, "persona");
  EXPECT_EQ(errors[0].message, "is not one of the buyer personas (plant_manager, craft_owner)");
  EXPECT_TRUE(checkForm(f).empty());  // no personas configured: nothing to check against
}

TEST(Forms, ChecksEverySetting) {
  EXPECT_TRUE(checkForm(validForm()).empty());
  auto errorsOf = [](const Form& f) {
    std::string out;
    for (const auto& e : checkForm(f)) out += e.field + ";";
    return out;
  };
  Form f = validForm();
  f.allowed_origins = {"https://www.example.it/landing"};
  EXPECT_EQ(errorsOf(f), "allowed_origins[0];thank_you_url;");
  f = validForm();
  f.thank_you_url = "https://evil.example/grazie";
  EXPECT_EQ(errorsOf(f), "thank_you_url;");
  f = validForm();
  f.fields = {{"nome", "first_name"}, {"mail", "e-mail"}, {"email", "phone"}};
  EXPECT_EQ(errorsOf(f), "fields.email;fields.mail;");
  f = validForm();
  f.honeypot = "email";
  f.consent_text.clear();
  f.key = "Demo!";
  EXPECT_EQ(errorsOf(f), "key;honeypot;consent_text;");
  f = validForm();
  f.custom_fields = {"budget", "Bad Name", "email"};
  EXPECT_EQ(errorsOf(f), "custom_fields[1];custom_fields[2];");
}

TEST(Forms, JsonRoundTripAndPointers) {
  const Form f = validForm();
  auto back = formFromJson("demo", *formToJson(f));
  ASSERT_TRUE(back.ok()) << back.error().message;
  EXPECT_EQ(back.value().allowed_origins, f.allowed_origins);
  EXPECT_EQ(back.value().consent_text, f.consent_text);
  auto json = formToJson(f);
  json->set("allowed_origins", Poco::JSON::Array::Ptr(new Poco::JSON::Array));
  json->set("rate_limit", std::string("fast"));
  json->set("colour", std::string("blue"));
  auto bad = formFromJson("demo", *json);
  ASSERT_FALSE(bad.ok());
  std::string fields;
  for (const auto& e : bad.error().fields) fields += e.field + ";";
  EXPECT_EQ(fields, "/colour;/rate_limit;");
}

TEST(Forms, OriginsOfUrls) {
  EXPECT_EQ(originOf("https://www.example.it/a?b#c"), "https://www.example.it");
  EXPECT_EQ(originOf("http://127.0.0.1:8081/x"), "http://127.0.0.1:8081");
  EXPECT_EQ(originOf("https://www.example.it:443/"), "https://www.example.it");
  EXPECT_EQ(originOf("javascript:alert(1)"), "");
  EXPECT_EQ(originOf("not a url"), "");
}

TEST(TokenBuckets, RefillAtTheirRateAndSayHowLongToWait) {
  TokenBuckets buckets;
  const Rate limit = Rate::perMinute(6, 2);  // one token every 10 s, two at most
  const TimePoint t0{std::chrono::milliseconds{1'700'000'000'000}};
  EXPECT_FALSE(buckets.take("ip|demo", limit, t0));
  EXPECT_FALSE(buckets.take("ip|demo", limit, t0));
  const auto wait = buckets.take("ip|demo", limit, t0);
  ASSERT_TRUE(wait);
  EXPECT_EQ(*wait, 10s);
  EXPECT_FALSE(buckets.take("other|demo", limit, t0)) << "another client has its own bucket";
  EXPECT_TRUE(buckets.take("ip|demo", limit, t0 + 9s));
  EXPECT_FALSE(buckets.take("ip|demo", limit, t0 + 10s));
}

TEST(TokenBuckets, StayBoundedUnderAFloodOfClients) {
  TokenBuckets buckets(1000);
  const Rate limit = Rate::perMinute(1, 1);
  const TimePoint t0{std::chrono::milliseconds{1'700'000'000'000}};
  for (int i = 0; i < 10000; ++i)
    (void)buckets.take("client" + std::to_string(i), limit, t0 + std::chrono::milliseconds(i));
  EXPECT_LE(buckets.size(), 1000u);
}

}  // namespace
}  // namespace ciclo::plugins::webform
