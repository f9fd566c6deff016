#include "host/http_wire.h"

#include <gtest/gtest.h>

namespace ciclo::host::wire {
namespace {

Head headOf(std::string_view bytes) {
  auto parsed = parseHead(bytes);
  EXPECT_TRUE(std::holds_alternative<Head>(parsed)) << bytes;
  return std::holds_alternative<Head>(parsed) ? std::get<Head>(parsed) : Head{};
}

int refusalOf(std::string_view bytes) {
  auto parsed = parseHead(bytes);
  return std::holds_alternative<Refusal>(parsed) ? std::get<Refusal>(parsed).status : 0;
}

TEST(HttpWire, ReadsAHeadAndWhereItEnds) {
  const std::string first =
      "POST /v1/leads?x=1 HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\nX-Sp:  v w \r\n\r\n";
  const Head h = headOf(first + "{}GET / HTTP/1.1\r\n");
  EXPECT_EQ(h.method, "POST");
  EXPECT_EQ(h.target, "/v1/leads?x=1");
  EXPECT_EQ(h.minor, 1);
  EXPECT_EQ(h.size, first.size());
  EXPECT_EQ(h.content_length, 2u);
  EXPECT_TRUE(h.keep_alive);
  EXPECT_FALSE(h.chunked);
  ASSERT_EQ(h.fields.size(), 3u);
  EXPECT_EQ(h.fields[2], (std::pair<std::string, std::string>{"X-Sp", "v w"}));
}

TEST(HttpWire, KeepsConnectionsAliveAsEachVersionSays) {
  EXPECT_FALSE(headOf("GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n").keep_alive);
  EXPECT_FALSE(headOf("GET / HTTP/1.0\r\n\r\n").keep_alive);
  EXPECT_TRUE(headOf("GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n").keep_alive);
  EXPECT_TRUE(headOf("GET / HTTP/1.1\r\nHost: a\r\nConnection: te, upgrade\r\n\r\n").keep_alive);
  EXPECT_TRUE(headOf("PUT / HTTP/1.1\r\nHost: a\r\nExpect: 100-Continue\r\n\r\n").expect_continue);
}

TEST(HttpWire, ToleratesBareLineFeedsAndEmptyLinesBeforeTheRequest) {
  const std::string bytes = "\r\n\nGET /healthz HTTP/1.1\nHost: a\n\n";
  const Head h = headOf(bytes + "GET");
  EXPECT_EQ(h.target, "/healthz");
  EXPECT_EQ(h.size, bytes.size());
}

TEST(HttpWire, WaitsForTheRestOfAHead) {
  for (std::string_view partial :
       {"", "GET", "GET / HTTP/1.1\r\n", "GET / HTTP/1.1\r\nHost: a\r\n", "GET / HTTP/1.1\r\n\r"})
    EXPECT_TRUE(std::holds_alternative<NeedMore>(parseHead(partial))) << partial;
}

TEST(HttpWire, RefusesWhatTwoReadersCouldFrameDifferently) {
  const std::string ok = "POST / HTTP/1.1\r\nHost: a\r\n";
  EXPECT_EQ(refusalOf(ok + "Content-Length: 1\r\nContent-Length: 1\r\n\r\n"), 400);
  EXPECT_EQ(refusalOf(ok + "Content-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n"), 400);
  EXPECT_EQ(refusalOf(ok + "Transfer-Encoding: gzip, chunked\r\n\r\n"), 400);
  EXPECT_EQ(refusalOf(ok + "Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n"),
            400);
  EXPECT_EQ(refusalOf(ok + "Content-Length: +1\r\n\r\n"), 400);
  EXPECT_EQ(refusalOf(ok + "Content-Length: 1 2\r\n\r\n"), 400);
  EXPECT_EQ(refusalOf(ok + "Content-Length: 99999999999999999999\r\n\r\n"), 400);
  EXPECT_EQ(refusalOf(ok + "X-A: b\r\n folded\r\n\r\n"), 400);
  EXPECT_EQ(refusalOf(ok + "Origin : x\r\n\r\n"), 400);
  EXPECT_EQ(refusalOf(ok + "No colon\r\n\r\n"), 400);
  EXPECT_EQ(refusalOf(ok + "X-A: b\rc\r\n\r\n"), 400);
  EXPECT_EQ(refusalOf(ok + std::string("X-A: b\0c\r\n\r\n", 12)), 400);
  EXPECT_EQ(refusalOf("POST / HTTP/1.1\r\n\r\n"), 400);  // no Host
  EXPECT_EQ(refusalOf("GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n"), 400);
  EXPECT_EQ(refusalOf("GET / HTTP/2.0\r\n\r\n"), 400);
  EXPECT_EQ(refusalOf("GET / HTTP/1.1 x\r\n\r\n"), 400);
  EXPECT_EQ(refusalOf("GET /a b HTTP/1.1\r\n\r\n"), 400);
  EXPECT_EQ(refusalOf("G(T / HTTP/1.1\r\n\r\n"), 400);
  EXPECT_EQ(refusalOf("GARBAGE\r\n\r\n"), 400);
}

TEST(HttpWire, BoundsTheHead) {
  std::string many = "GET / HTTP/1.1\r\nHost: a\r\n";
  for (std::size_t i = 0; i < kMaxFields; ++i) many += "X-A: b\r\n";
  EXPECT_EQ(refusalOf(many + "\r\n"), 431);
  const std::string big = "GET / HTTP/1.1\r\nX-Big: " + std::string(kMaxHeadBytes, 'a');
  EXPECT_EQ(refusalOf(big), 431) << "refused before its end arrives";
}

std::variant<NeedMore, Decoded, TooLarge, Refusal> decode(std::string_view bytes, std::string& body,
                                                          std::size_t limit = 1000) {
  return decodeChunked(bytes, body, limit);
}

TEST(HttpWire, DecodesChunkedBodiesWithExtensionsAndTrailers) {
  const std::string whole = "4;name=v\r\nWiki\r\n5\r\npedia\r\n0\r\nX-T: 1\r\n\r\n";
  std::string body;
  auto d = decode(whole + "GET /", body);
  ASSERT_TRUE(std::holds_alternative<Decoded>(d));
  EXPECT_EQ(std::get<Decoded>(d).consumed, whole.size());
  EXPECT_EQ(body, "Wikipedia");
  for (std::size_t cut = 0; cut < whole.size(); ++cut)
    EXPECT_TRUE(std::holds_alternative<NeedMore>(decode(whole.substr(0, cut), body))) << cut;
}

TEST(HttpWire, RefusesBadChunksAndBodiesPastTheLimit) {
  std::string body;
  for (std::string_view bad :
       {"zz\r\n{}\r\n0\r\n\r\n", "-1\r\nx\r\n0\r\n\r\n", "2\r\nabc\r\n0\r\n\r\n",
        "2 x\r\nab\r\n0\r\n\r\n", "1\r\na\r\n0\r\nno colon\r\n\r\n", "1000000000000000\r\n"})
    EXPECT_TRUE(std::holds_alternative<Refusal>(decode(bad, body))) << bad;
  EXPECT_TRUE(std::holds_alternative<TooLarge>(decode("3e9\r\n", body)));
  EXPECT_TRUE(std::holds_alternative<TooLarge>(
      decode("1f4\r\n" + std::string(500, 'a') + "\r\n1f5\r\n", body)));
  EXPECT_TRUE(std::holds_alternative<Refusal>(decode(std::string(2000, '1'), body)))
      << "a size line without end";
}

}  // namespace
}  // namespace ciclo::host::wire
