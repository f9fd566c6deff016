#include "host/http.h"

#include <gtest/gtest.h>

namespace ciclo::host {
namespace {

TEST(Router, MatchesPatternsAndReportsAllowedMethods) {
  Router router;
  router.add("GET", "/v1/leads", {}, [](Request&) { return Response{}; });
  router.add("GET", "/v1/leads/{id}", {}, [](Request&) { return Response{}; });
  router.add("PATCH", "/v1/leads/{id}", {}, [](Request&) { return Response{}; });
  auto m = router.match("GET", "/v1/leads/lead_1");
  ASSERT_TRUE(m.route);
  EXPECT_EQ(m.route->pattern, "/v1/leads/{id}");
  EXPECT_EQ(m.params.at("id"), "lead_1");
  auto head = router.match("HEAD", "/v1/leads");
  EXPECT_TRUE(head.route);
  auto wrong = router.match("DELETE", "/v1/leads/lead_1");
  EXPECT_FALSE(wrong.route);
  EXPECT_EQ(wrong.allowed, (std::vector<std::string>{"GET", "PATCH"}));
  EXPECT_FALSE(router.match("GET", "/v1/leads/").route);
  EXPECT_FALSE(router.match("GET", "/v1/leads/a/b").route);
  EXPECT_FALSE(router.match("GET", "v1/leads").route);
  EXPECT_TRUE(router.match("GET", "/v1/nothing").allowed.empty());
}

TEST(Utf8, AcceptsValidAndRefusesInvalid) {
  EXPECT_TRUE(isValidUtf8("plain"));
  EXPECT_TRUE(isValidUtf8("Università è già 日本 🙂"));
  EXPECT_FALSE(isValidUtf8(std::string("a\0b", 3)));
  EXPECT_FALSE(isValidUtf8("\xC0\xAF"));          // overlong
  EXPECT_FALSE(isValidUtf8("\xED\xA0\x80"));      // surrogate
  EXPECT_FALSE(isValidUtf8("\xF4\x90\x80\x80"));  // above U+10FFFF
  EXPECT_FALSE(isValidUtf8("\xE2\x82"));          // truncated
  EXPECT_FALSE(isValidUtf8("\xFF"));
}

TEST(Problems, CarryTypeTitleStatusDetailAndFieldErrors) {
  auto r = problemResponse(
      Error::invalid("The lead has invalid fields.", {{"/email", "is not an email address"}}));
  EXPECT_EQ(r.status, 422);
  EXPECT_EQ(r.content_type, "application/problem+json");
  EXPECT_EQ(
      r.body,
      R"({"type":"/problems/invalid","title":"Unprocessable Content","status":422,)"
      R"("detail":"The lead has invalid fields.","errors":[{"field":"/email","message":"is not an email address"}]})");
  auto conflict = problemResponse(Error::conflict("no", "illegal-transition"));
  EXPECT_EQ(conflict.status, 409);
  EXPECT_NE(conflict.body.find("/problems/illegal-transition"), std::string::npos);
}

TEST(Query, DecodesAndRefusesDuplicates) {
  Request r;
  r.query = "email=a%40b.it&status=new&x=a+b";
  auto q = r.queryParams();
  ASSERT_TRUE(q.ok());
  EXPECT_EQ(q.value().at("email"), "a@b.it");
  EXPECT_EQ(q.value().at("x"), "a b");
  r.query = "status=new&status=working";
  EXPECT_FALSE(r.queryParams().ok());
  r.query = "email=%zz";
  EXPECT_FALSE(r.queryParams().ok());
  r.query = "email=%ff";
  EXPECT_FALSE(r.queryParams().ok());
}

TEST(Json, OnlyObjectsOfValidUtf8) {
  EXPECT_TRUE(parseJsonObject(R"({"a": 1})").ok());
  for (const std::string bad :
       {"", "[]", "1", "\"x\"", "{", "{\"a\":}", "{\"a\": \"\xff\"}", "nul"}) {
    auto r = parseJsonObject(bad);
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_EQ(r.error().kind, ErrorKind::kUnparseable);
  }
  EXPECT_FALSE(parseJsonObject(std::string(100, '[') + std::string(100, ']')).ok());
  EXPECT_FALSE(parseJsonObject("{\"a\":" + std::string(40, '[') + std::string(40, ']') + "}").ok());
}

}  // namespace
}  // namespace ciclo::host
