// DNS message codec and judgement: build_query's wire bytes read back by
// hand, parse_response on responses written byte by byte here, and every rule
// of judge(). No sockets.
#include "checkers/dns_message.h"

#include <arpa/nameser.h>
#include <gtest/gtest.h>

#include <stdexcept>
#include <string>
#include <vector>

namespace vrrpd::checkers {
namespace {

using Bytes = std::vector<std::uint8_t>;

// --- Hand-built wire format (RFC 1035 4.1) --------------------------------

void put16(Bytes& b, unsigned v) {
  b.push_back(static_cast<std::uint8_t>(v >> 8));
  b.push_back(static_cast<std::uint8_t>(v));
}

// "example.com" -> 7 example 3 com 0 (uncompressed labels).
Bytes wire_name(const std::string& dotted) {
  Bytes b;
  std::size_t start = 0;
  while (start < dotted.size()) {
    std::size_t dot = dotted.find('.', start);
    if (dot == std::string::npos) dot = dotted.size();
    b.push_back(static_cast<std::uint8_t>(dot - start));
    b.insert(b.end(), dotted.begin() + static_cast<long>(start),
             dotted.begin() + static_cast<long>(dot));
    start = dot + 1;
  }
  b.push_back(0);
  return b;
}

// Flag words for the header's second 16 bits.
constexpr unsigned kQr = 0x8000, kTc = 0x0200, kRd = 0x0100, kRa = 0x0080;
constexpr unsigned kNoError = 0, kServFail = 2, kNxDomain = 3;
// Compression pointer to offset 12: the question name, right after the header.
const Bytes kPtrToQname = {0xc0, 0x0c};

// Header + one question; answers are appended with add_rr().
Bytes response(std::uint16_t id, unsigned flags, const std::string& qname, unsigned qtype,
               unsigned ancount, unsigned nscount = 0) {
  Bytes b;
  put16(b, id);
  put16(b, flags);
  put16(b, 1);        // QDCOUNT
  put16(b, ancount);  // ANCOUNT
  put16(b, nscount);  // NSCOUNT
  put16(b, 0);        // ARCOUNT
  Bytes n = wire_name(qname);
  b.insert(b.end(), n.begin(), n.end());
  put16(b, qtype);
  put16(b, ns_c_in);
  return b;
}

void add_rr(Bytes& b, const Bytes& owner, unsigned type, const Bytes& rdata) {
  b.insert(b.end(), owner.begin(), owner.end());
  put16(b, type);
  put16(b, ns_c_in);
  put16(b, 0);  // TTL high half
  put16(b, 300);
  put16(b, static_cast<unsigned>(rdata.size()));
  b.insert(b.end(), rdata.begin(), rdata.end());
}

std::optional<DnsAnswer> parse(const Bytes& b, std::string* error = nullptr) {
  return parse_response(std::span<const std::uint8_t>(b.data(), b.size()), error);
}

// --- build_query ----------------------------------------------------------

TEST(DnsBuildQuery, EncodesOneQuestionWithIdAndRecursionDesired) {
  const Bytes q = build_query(0xbeef, "example.com", "A", "IN", true);
  const Bytes expected = {
      0xbe, 0xef,              // ID: ours, not res_nmkquery's
      0x01, 0x00,              // QR=0 OPCODE=QUERY RD=1, RCODE=0
      0x00, 0x01,              // QDCOUNT=1
      0x00, 0x00, 0x00, 0x00,  // ANCOUNT=0 NSCOUNT=0
      0x00, 0x00,              // ARCOUNT=0: no EDNS OPT record
      7, 'e', 'x', 'a', 'm', 'p', 'l', 'e', 3, 'c', 'o', 'm', 0,  // QNAME
      0x00, 0x01,              // QTYPE=A
      0x00, 0x01,              // QCLASS=IN
  };
  EXPECT_EQ(q, expected);
}

TEST(DnsBuildQuery, ClearsRecursionDesiredWhenNotWanted) {
  const Bytes q = build_query(1, "example.com", "A", "IN", false);
  ASSERT_GE(q.size(), 12u);
  EXPECT_EQ(q[2], 0x00);  // RD (bit 0 of byte 2) clear
  EXPECT_EQ(q[3], 0x00);
}

TEST(DnsBuildQuery, MapsTypeAndClassNamesInAnyCase) {
  // version.bind TXT CH: the classic "is named alive" question.
  const Bytes q = build_query(7, "version.bind.", "txt", "ch", false);
  const Bytes qname = wire_name("version.bind");
  ASSERT_EQ(q.size(), 12 + qname.size() + 4);  // the trailing dot adds nothing
  EXPECT_EQ(Bytes(q.begin() + 12, q.begin() + 12 + static_cast<long>(qname.size())), qname);
  EXPECT_EQ(ns_get16(q.data() + q.size() - 4), ns_t_txt);
  EXPECT_EQ(ns_get16(q.data() + q.size() - 2), ns_c_chaos);

  const std::vector<std::pair<std::string, unsigned>> types = {
      {"A", 1},   {"AAAA", 28}, {"CNAME", 5}, {"MX", 15},  {"NS", 2},
      {"PTR", 12}, {"SOA", 6},  {"SRV", 33},  {"TXT", 16}, {"ANY", 255}};
  for (const auto& [name, code] : types) {
    SCOPED_TRACE(name);
    const Bytes t = build_query(7, "example.com", name, "IN", true);
    EXPECT_EQ(ns_get16(t.data() + t.size() - 4), code);
  }
}

TEST(DnsBuildQuery, RootIsAskedForAsADot) {
  const Bytes q = build_query(7, ".", "NS", "IN", true);
  ASSERT_EQ(q.size(), 12u + 1 + 4);
  EXPECT_EQ(q[12], 0);  // the empty root label
}

TEST(DnsBuildQuery, RejectsUnknownTypeClassAndBadNames) {
  try {
    build_query(1, "example.com", "BOGUS", "IN", true);
    FAIL() << "no exception";
  } catch (const std::invalid_argument& e) {
    EXPECT_STREQ(e.what(),
                 "unknown DNS type \"BOGUS\" "
                 "(valid: A, AAAA, CNAME, MX, NS, PTR, SOA, SRV, TXT, ANY)");
  }
  try {
    build_query(1, "example.com", "A", "HS", true);
    FAIL() << "no exception";
  } catch (const std::invalid_argument& e) {
    EXPECT_STREQ(e.what(), "unknown DNS class \"HS\" (valid: IN, CH)");
  }
  EXPECT_THROW(build_query(1, "", "A", "IN", true), std::invalid_argument);
  EXPECT_THROW(build_query(1, "a..b", "A", "IN", true), std::invalid_argument);
  EXPECT_THROW(build_query(1, std::string(64, 'a') + ".com", "A", "IN", true),
               std::invalid_argument);  // a label is at most 63 bytes
}

// --- parse_response -------------------------------------------------------

TEST(DnsParseResponse, NoErrorWithTwoAddresses) {
  // Written out in full once; the other tests use response()/add_rr().
  const Bytes r = {
      0x12, 0x34,              // ID
      0x81, 0x80,              // QR=1 OPCODE=QUERY RD=1 RA=1 RCODE=NOERROR
      0x00, 0x01, 0x00, 0x02,  // QDCOUNT=1 ANCOUNT=2
      0x00, 0x00, 0x00, 0x00,  // NSCOUNT=0 ARCOUNT=0
      7, 'e', 'x', 'a', 'm', 'p', 'l', 'e', 3, 'c', 'o', 'm', 0,  // QNAME example.com
      0x00, 0x01, 0x00, 0x01,  // QTYPE=A QCLASS=IN
      0xc0, 0x0c,              // answer 1 NAME: pointer to the QNAME
      0x00, 0x01, 0x00, 0x01,  // TYPE=A CLASS=IN
      0x00, 0x00, 0x0e, 0x10,  // TTL=3600
      0x00, 0x04, 192, 0, 2, 1,  // RDLENGTH=4, 192.0.2.1
      0xc0, 0x0c, 0x00, 0x01, 0x00, 0x01, 0x00, 0x00, 0x0e, 0x10,  // answer 2, same owner
      0x00, 0x04, 192, 0, 2, 2,  // 192.0.2.2
  };
  auto a = parse(r);
  ASSERT_TRUE(a);
  EXPECT_EQ(a->id, 0x1234);
  EXPECT_EQ(a->rcode, 0);
  EXPECT_EQ(a->rcode_name(), "NOERROR");
  EXPECT_FALSE(a->truncated);
  EXPECT_EQ(a->question_name, "example.com");
  EXPECT_EQ(a->question_type, ns_t_a);
  EXPECT_EQ(a->question_class, ns_c_in);
  EXPECT_EQ(a->answers, (std::vector<std::string>{"192.0.2.1", "192.0.2.2"}));
}

TEST(DnsParseResponse, NxDomainHasNoAnswers) {
  // The authority section carries the zone's SOA (negative caching); it is
  // not part of the answers.
  Bytes r = response(0x0001, kQr | kRd | kRa | kNxDomain, "nope.example.com", ns_t_a, 0, 1);
  Bytes soa = wire_name("ns1.example.com");
  Bytes rname = wire_name("hostmaster.example.com");
  soa.insert(soa.end(), rname.begin(), rname.end());
  for (int i = 0; i < 5; ++i) put16(soa, 0), put16(soa, 60);  // serial refresh retry expire minimum
  add_rr(r, wire_name("example.com"), ns_t_soa, soa);
  auto a = parse(r);
  ASSERT_TRUE(a);
  EXPECT_EQ(a->rcode_name(), "NXDOMAIN");
  EXPECT_TRUE(a->answers.empty());
}

TEST(DnsParseResponse, ServFail) {
  auto a = parse(response(0x0002, kQr | kRd | kRa | kServFail, "example.com", ns_t_a, 0));
  ASSERT_TRUE(a);
  EXPECT_EQ(a->rcode, 2);
  EXPECT_EQ(a->rcode_name(), "SERVFAIL");
}

TEST(DnsParseResponse, AaaaIsCanonicalAddressText) {
  Bytes r = response(3, kQr | kRd | kRa, "example.com", ns_t_aaaa, 1);
  add_rr(r, kPtrToQname, ns_t_aaaa,
         {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x01});  // 2001:db8::1
  auto a = parse(r);
  ASSERT_TRUE(a);
  EXPECT_EQ(a->answers, std::vector<std::string>{"2001:db8::1"});
}

TEST(DnsParseResponse, CnameChainKeepsOrderWithoutTrailingDots) {
  // www.example.com CNAME web.example.com; web.example.com A 192.0.2.80.
  Bytes r = response(4, kQr | kRd | kRa, "www.example.com", ns_t_a, 2);
  // The CNAME target is "web" + pointer to "example.com" at offset 12 + 4.
  add_rr(r, kPtrToQname, ns_t_cname, {3, 'w', 'e', 'b', 0xc0, 16});
  add_rr(r, wire_name("web.example.com"), ns_t_a, {192, 0, 2, 80});
  auto a = parse(r);
  ASSERT_TRUE(a);
  EXPECT_EQ(a->answers, (std::vector<std::string>{"web.example.com", "192.0.2.80"}));
}

TEST(DnsParseResponse, MxTxtSoaAndSrvAsPlainValues) {
  Bytes r = response(5, kQr | kRa, "example.com", ns_t_any, 4);
  Bytes mx = {0x00, 0x0a};  // preference 10
  Bytes mail = wire_name("mail.example.com");
  mx.insert(mx.end(), mail.begin(), mail.end());
  add_rr(r, kPtrToQname, ns_t_mx, mx);
  add_rr(r, kPtrToQname, ns_t_txt, {5, 'v', '=', 's', 'p', 'f', 3, '1', ' ', 'a'});  // two strings
  Bytes soa = wire_name("ns1.example.com");
  soa.push_back(0);  // RNAME: root, unusual but valid
  for (int i = 0; i < 5; ++i) put16(soa, 0), put16(soa, 60);
  add_rr(r, kPtrToQname, ns_t_soa, soa);
  Bytes srv = {0, 10, 0, 5, 0x13, 0xc4};  // priority 10, weight 5, port 5060
  Bytes sip = wire_name("sip.example.com");
  srv.insert(srv.end(), sip.begin(), sip.end());
  add_rr(r, kPtrToQname, ns_t_srv, srv);
  auto a = parse(r);
  ASSERT_TRUE(a);
  EXPECT_EQ(a->answers, (std::vector<std::string>{"10 mail.example.com", "v=spf1 a",
                                                  "ns1.example.com",
                                                  "10 5 5060 sip.example.com."}));
}

TEST(DnsParseResponse, TruncatedBitIsReported) {
  auto a = parse(response(6, kQr | kTc | kRd | kRa, "example.com", ns_t_txt, 0));
  ASSERT_TRUE(a);
  EXPECT_TRUE(a->truncated);
  EXPECT_EQ(a->question_name, "example.com");
}

TEST(DnsParseResponse, TruncatedCutMidRecordStillGivesIdAndTc) {
  // ANCOUNT says 1 but the record was cut off: only the header is usable,
  // and that is enough to ask again over TCP.
  Bytes r = response(0x0707, kQr | kTc | kRd | kRa, "example.com", ns_t_txt, 1);
  r.insert(r.end(), {0xc0, 0x0c, 0x00});
  auto a = parse(r);
  ASSERT_TRUE(a);
  EXPECT_EQ(a->id, 0x0707);
  EXPECT_TRUE(a->truncated);
  EXPECT_TRUE(a->answers.empty());
}

TEST(DnsParseResponse, GarbageIsAnError) {
  std::string error;
  EXPECT_FALSE(parse({0xde, 0xad, 0xbe, 0xef, 0x00}, &error));
  EXPECT_EQ(error, "too short for a DNS header (5 bytes)");

  // A plausible header whose counts promise sections that are not there.
  const Bytes noise = {0x12, 0x34, 0x81, 0x80, 0xff, 0xff, 0xff, 0xff,
                       0x00, 0x00, 0x00, 0x00, 0x41, 0x42, 0x43};
  EXPECT_FALSE(parse(noise, &error));
  EXPECT_EQ(error,
            "malformed DNS message of 15 bytes: its sections do not match the header counts");

  // Our own query echoed back is not an answer.
  const Bytes query = build_query(9, "example.com", "A", "IN", true);
  EXPECT_FALSE(parse(query, &error));
  EXPECT_EQ(error, "not a response (QR bit clear)");

  // All flag bits set (QR and TC among them) and impossible counts: noise,
  // not a truncated reply worth asking again over TCP (OPCODE 15).
  const Bytes ones = {0x12, 0x34, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
                      0xff, 0xff, 0xff, 0xff, 0x01};
  EXPECT_FALSE(parse(ones, &error));
  EXPECT_EQ(error,
            "malformed DNS message of 13 bytes: its sections do not match the header counts");

  // A well-formed NOTIFY (OPCODE 4) response is not an answer to our query.
  EXPECT_FALSE(parse(response(9, kQr | (4u << 11), "example.com", ns_t_soa, 0), &error));
  EXPECT_EQ(error, "not a reply to a standard query (opcode 4)");

  EXPECT_FALSE(parse(Bytes{}));  // a null error pointer is allowed
}

TEST(DnsParseResponse, WrongLengthIsAnError) {
  std::string error;
  // ANCOUNT=2 with one record present.
  Bytes short_by_one = response(8, kQr | kRa, "example.com", ns_t_a, 2);
  add_rr(short_by_one, kPtrToQname, ns_t_a, {192, 0, 2, 1});
  EXPECT_FALSE(parse(short_by_one, &error));
  EXPECT_NE(error.find("malformed DNS message"), std::string::npos) << error;

  // A trailing byte after the last section.
  Bytes trailing = response(8, kQr | kRa, "example.com", ns_t_a, 1);
  add_rr(trailing, kPtrToQname, ns_t_a, {192, 0, 2, 1});
  trailing.push_back(0);
  EXPECT_FALSE(parse(trailing, &error));

  // An A record whose RDLENGTH is 5.
  Bytes fat_a = response(8, kQr | kRa, "example.com", ns_t_a, 1);
  add_rr(fat_a, kPtrToQname, ns_t_a, {192, 0, 2, 1, 9});
  EXPECT_FALSE(parse(fat_a, &error));
  EXPECT_EQ(error, "answer record 1: A data is not 4 bytes");
}

TEST(DnsParseResponse, ReadsBackABuiltQuestion) {
  Bytes q = build_query(0x4242, "Example.com", "MX", "IN", true);
  q[2] |= 0x80;  // make it a response
  auto a = parse(q);
  ASSERT_TRUE(a);
  EXPECT_EQ(a->id, 0x4242);
  EXPECT_EQ(a->question_name, "Example.com");
  EXPECT_EQ(a->question_type, ns_t_mx);
}

TEST(DnsRcodeName, KnownAndUnknownCodes) {
  EXPECT_EQ(dns_rcode_name(0), "NOERROR");
  EXPECT_EQ(dns_rcode_name(1), "FORMERR");
  EXPECT_EQ(dns_rcode_name(3), "NXDOMAIN");
  EXPECT_EQ(dns_rcode_name(5), "REFUSED");
  EXPECT_EQ(dns_rcode_name(10), "NOTZONE");
  EXPECT_EQ(dns_rcode_name(15), "RCODE15");
}

// --- judge ----------------------------------------------------------------

DnsAnswer answer(int rcode, std::vector<std::string> answers) {
  DnsAnswer a;
  a.rcode = rcode;
  a.answers = std::move(answers);
  return a;
}

config::Check expecting(std::string rcode, std::vector<std::string> answers = {}) {
  config::Check c;
  c.kind = "dns";
  c.expect_rcode = std::move(rcode);
  c.expect_answers = std::move(answers);
  return c;
}

TEST(DnsJudge, HealthyWhenRcodeAndAllExpectedAnswersMatch) {
  auto r = judge(answer(0, {"192.0.2.1", "192.0.2.2"}), expecting("NOERROR", {"192.0.2.2"}));
  EXPECT_TRUE(r.healthy);
  EXPECT_EQ(r.reason, "NOERROR, answers: 192.0.2.1, 192.0.2.2");
}

TEST(DnsJudge, NoExpectedAnswersNeedsOnlyTheRcode) {
  auto r = judge(answer(0, {}), expecting("NOERROR"));
  EXPECT_TRUE(r.healthy);
  EXPECT_EQ(r.reason, "NOERROR, no answers");
}

TEST(DnsJudge, OtherRcodeIsUnhealthy) {
  auto r = judge(answer(2, {}), expecting("NOERROR"));
  EXPECT_FALSE(r.healthy);
  EXPECT_EQ(r.reason, "rcode SERVFAIL, expected NOERROR");
  r = judge(answer(0, {"192.0.2.1"}), expecting("NXDOMAIN"));
  EXPECT_FALSE(r.healthy);
  EXPECT_EQ(r.reason, "rcode NOERROR, expected NXDOMAIN");
}

TEST(DnsJudge, ExpectedNxDomainIsHealthyAndRcodeIgnoresCase) {
  auto r = judge(answer(3, {}), expecting("nxdomain"));
  EXPECT_TRUE(r.healthy);
  EXPECT_EQ(r.reason, "NXDOMAIN, no answers");
}

TEST(DnsJudge, MissingExpectedAnswerIsUnhealthy) {
  auto r = judge(answer(0, {"192.0.2.1"}), expecting("NOERROR", {"192.0.2.1", "192.0.2.7"}));
  EXPECT_FALSE(r.healthy);
  EXPECT_EQ(r.reason, "answer lacks 192.0.2.7 (got 192.0.2.1)");
  r = judge(answer(0, {}), expecting("NOERROR", {"192.0.2.7", "192.0.2.8"}));
  EXPECT_EQ(r.reason, "answer lacks 192.0.2.7, 192.0.2.8 (got no answers)");
}

TEST(DnsJudge, AddressesCompareAsAddressesAndNamesWithoutCaseOrDot) {
  EXPECT_TRUE(judge(answer(0, {"2001:db8::1"}), expecting("NOERROR", {"2001:DB8:0::1"})).healthy);
  EXPECT_TRUE(
      judge(answer(0, {"web.example.com"}), expecting("NOERROR", {"Web.Example.COM."})).healthy);
  EXPECT_TRUE(judge(answer(0, {"v=spf1 a"}), expecting("NOERROR", {"v=spf1 a"})).healthy);
  EXPECT_FALSE(judge(answer(0, {"192.0.2.10"}), expecting("NOERROR", {"192.0.2.1"})).healthy);
}

TEST(DnsJudge, LongAnswerListsAreSummarised) {
  std::vector<std::string> many;
  for (int i = 1; i <= 10; ++i) many.push_back("192.0.2." + std::to_string(i));
  auto r = judge(answer(0, many), expecting("NOERROR"));
  EXPECT_EQ(r.reason,
            "NOERROR, answers: 192.0.2.1, 192.0.2.2, 192.0.2.3, 192.0.2.4, 192.0.2.5, "
            "192.0.2.6, 192.0.2.7, 192.0.2.8, ... (2 more)");
}

}  // namespace
}  // namespace vrrpd::checkers
