// DNS query building and response parsing on glibc's resolver routines
// (res_nmkquery, ns_initparse, ns_parserr, ns_name_uncompress, ns_sprintrr),
// and the judgement of an answer. Only what those routines do not give is
// done by hand: reading rdata of the types a health check compares.
#include "checkers/dns_message.h"

#include <arpa/inet.h>
#include <arpa/nameser.h>
#include <netinet/in.h>
#include <resolv.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <stdexcept>
#include <string_view>

namespace vrrpd::checkers {
namespace {

struct Code {
  const char* name;
  std::uint16_t code;
};

constexpr std::array<Code, 10> kTypes{{{"A", ns_t_a},
                                       {"AAAA", ns_t_aaaa},
                                       {"CNAME", ns_t_cname},
                                       {"MX", ns_t_mx},
                                       {"NS", ns_t_ns},
                                       {"PTR", ns_t_ptr},
                                       {"SOA", ns_t_soa},
                                       {"SRV", ns_t_srv},
                                       {"TXT", ns_t_txt},
                                       {"ANY", ns_t_any}}};
constexpr std::array<Code, 2> kClasses{{{"IN", ns_c_in}, {"CH", ns_c_chaos}}};

// RFC 1035 4.1.1 and RFC 2136 2.2; the header has 4 bits, we send no EDNS.
constexpr std::array<const char*, 11> kRcodes{"NOERROR",  "FORMERR", "SERVFAIL", "NXDOMAIN",
                                              "NOTIMP",   "REFUSED", "YXDOMAIN", "YXRRSET",
                                              "NXRRSET",  "NOTAUTH", "NOTZONE"};

// More answers than this are summarised as "... (N more)" in reasons, which
// end up in logs and vrrpctl output.
constexpr std::size_t kMaxListedAnswers = 8;

std::string upper(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return out;
}

template <std::size_t N>
std::uint16_t lookup(const std::array<Code, N>& table, const std::string& name, const char* what) {
  const std::string key = upper(name);
  for (const Code& c : table)
    if (key == c.name) return c.code;
  std::string valid;
  for (const Code& c : table) valid += std::string(valid.empty() ? "" : ", ") + c.name;
  throw std::invalid_argument(std::string("unknown DNS ") + what + " \"" + name + "\" (valid: " +
                              valid + ")");
}

// A domain name in rdata at `at`, as text without the trailing dot.
std::optional<std::string> rdata_name(const ns_msg& msg, const std::uint8_t* at) {
  char buf[NS_MAXDNAME];
  if (ns_name_uncompress(ns_msg_base(msg), ns_msg_end(msg), at, buf, sizeof buf) < 0)
    return std::nullopt;
  std::string name(buf);
  if (name.size() > 1 && name.back() == '.') name.pop_back();
  return name.empty() ? "." : name;
}

// The rdata part of ns_sprintrr's "owner ttl class type rdata" line. Owner
// names come out in presentation form with blanks escaped (\032), so the
// first four blank-separated fields are exactly owner, ttl, class and type.
std::optional<std::string> sprintrr_rdata(const ns_msg& msg, const ns_rr& rr) {
  char buf[4096];
  // ns_sprintrr is marked deprecated in glibc 2.34+ (the BIND 8 API); it is
  // still exported and is the only presentation formatter for arbitrary types.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
  const int n = ns_sprintrr(&msg, &rr, nullptr, nullptr, buf, sizeof buf);
#pragma GCC diagnostic pop
  if (n < 0) return std::nullopt;
  std::string_view line(buf, static_cast<std::size_t>(n));
  for (int field = 0; field < 4; ++field) {
    std::size_t start = line.find_first_not_of(" \t");
    if (start == std::string_view::npos) return std::nullopt;
    std::size_t end = line.find_first_of(" \t", start);
    line.remove_prefix(end == std::string_view::npos ? line.size() : end);
  }
  const std::size_t start = line.find_first_not_of(" \t");
  return start == std::string_view::npos ? std::string() : std::string(line.substr(start));
}

// One answer record as the plain value a health check compares (see DnsAnswer).
std::optional<std::string> format_rdata(const ns_msg& msg, const ns_rr& rr, std::string* why) {
  const std::uint8_t* rdata = ns_rr_rdata(rr);
  const std::size_t rdlen = ns_rr_rdlen(rr);
  auto bad = [&](const char* what) -> std::optional<std::string> {
    *why = what;
    return std::nullopt;
  };
  char addr[INET6_ADDRSTRLEN];
  switch (ns_rr_type(rr)) {
    case ns_t_a:
      if (rdlen != 4) return bad("A data is not 4 bytes");
      return std::string(inet_ntop(AF_INET, rdata, addr, sizeof addr));
    case ns_t_aaaa:
      if (rdlen != 16) return bad("AAAA data is not 16 bytes");
      return std::string(inet_ntop(AF_INET6, rdata, addr, sizeof addr));
    case ns_t_cname:
    case ns_t_ns:
    case ns_t_ptr:
    case ns_t_soa: {  // SOA: MNAME, the primary server, is the first field
      auto name = rdata_name(msg, rdata);
      if (!name) return bad("bad domain name in data");
      return name;
    }
    case ns_t_mx: {
      if (rdlen < 3) return bad("MX data too short");
      auto name = rdata_name(msg, rdata + 2);
      if (!name) return bad("bad domain name in MX data");
      return std::to_string(ns_get16(rdata)) + " " + *name;
    }
    case ns_t_txt: {
      // One or more <length><bytes> character-strings, concatenated as SPF
      // and friends do (RFC 7208 3.3).
      std::string text;
      for (std::size_t i = 0; i < rdlen;) {
        const std::size_t len = rdata[i];
        if (i + 1 + len > rdlen) return bad("TXT string runs past the record");
        text.append(reinterpret_cast<const char*>(rdata + i + 1), len);
        i += 1 + len;
      }
      return text;
    }
    default: {
      auto text = sprintrr_rdata(msg, rr);
      if (!text) return bad("cannot format record data");
      return text;
    }
  }
}

// The header alone, for a truncated message that ns_initparse rejects. Only
// a header that looks like a reply to a standard query (QR, TC, OPCODE 0, at
// most one question) qualifies, so that noise is not sent off to TCP.
std::optional<DnsAnswer> truncated_header_only(std::span<const std::uint8_t> message) {
  const unsigned flags = ns_get16(message.data() + 2);
  const unsigned qdcount = ns_get16(message.data() + 4);
  // RFC 1035 4.1.1: QR is bit 15, OPCODE bits 14-11, TC bit 9, RCODE bits 3-0.
  constexpr unsigned kQr = 0x8000, kOpcodeMask = 0x7800, kTc = 0x0200, kRcodeMask = 0x000f;
  if (!(flags & kQr) || !(flags & kTc) || (flags & kOpcodeMask) != 0 || qdcount > 1)
    return std::nullopt;
  DnsAnswer a;
  a.id = static_cast<std::uint16_t>(ns_get16(message.data()));
  a.rcode = static_cast<int>(flags & kRcodeMask);
  a.truncated = true;
  return a;
}

// Compared form of an expected or received value: addresses canonical, names
// without case or trailing dot.
std::string comparable(const std::string& value) {
  std::uint8_t bin[16];
  char text[INET6_ADDRSTRLEN];
  if (inet_pton(AF_INET, value.c_str(), bin) == 1)
    return inet_ntop(AF_INET, bin, text, sizeof text);
  if (inet_pton(AF_INET6, value.c_str(), bin) == 1)
    return inet_ntop(AF_INET6, bin, text, sizeof text);
  std::string out = value;
  if (out.size() > 1 && out.back() == '.') out.pop_back();
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::string list_answers(const std::vector<std::string>& answers) {
  std::string out;
  for (std::size_t i = 0; i < answers.size() && i < kMaxListedAnswers; ++i)
    out += (i ? ", " : "") + answers[i];
  if (answers.size() > kMaxListedAnswers)
    out += ", ... (" + std::to_string(answers.size() - kMaxListedAnswers) + " more)";
  return out;
}

}  // namespace

std::uint16_t dns_type_code(const std::string& type) { return lookup(kTypes, type, "type"); }

std::uint16_t dns_class_code(const std::string& qclass) {
  return lookup(kClasses, qclass, "class");
}

std::string dns_rcode_name(int rcode) {
  if (rcode >= 0 && static_cast<std::size_t>(rcode) < kRcodes.size()) return kRcodes[rcode];
  return "RCODE" + std::to_string(rcode);
}

std::vector<std::uint8_t> build_query(std::uint16_t id, const std::string& name,
                                      const std::string& type, const std::string& qclass,
                                      bool recursion_desired) {
  const std::uint16_t type_code = dns_type_code(type);
  const std::uint16_t class_code = dns_class_code(qclass);
  // res_nmkquery would turn "" into a root query; that is almost surely a
  // config mistake, so the root must be asked for as ".".
  if (name.empty()) throw std::invalid_argument("empty DNS query name (use \".\" for the root)");
  // A private, zeroed state instead of res_ninit(): res_ninit reads
  // /etc/resolv.conf (file I/O on the checker loop) and nothing in it matters
  // for one query; a local state keeps this thread-safe (no global _res).
  // RES_RECURSE is what sets RD. The state holds no sockets or memory, so it
  // needs no res_nclose (which on a zeroed state would close fd 0).
  struct __res_state state {};
  state.options = RES_INIT | (recursion_desired ? RES_RECURSE : 0);
  std::vector<std::uint8_t> buf(NS_PACKETSZ);  // a name is <= 255 bytes: always fits
  const int n = res_nmkquery(&state, ns_o_query, name.c_str(), class_code, type_code, nullptr, 0,
                             nullptr, buf.data(), static_cast<int>(buf.size()));
  if (n < NS_HFIXEDSZ)
    throw std::invalid_argument("DNS query name \"" + name +
                                "\" is not a valid domain name (empty label, label over 63 "
                                "bytes or name over 255)");
  buf.resize(static_cast<std::size_t>(n));
  // res_nmkquery draws its own id; ours is the one the probe matches replies on.
  ns_put16(id, buf.data());
  return buf;
}

std::optional<DnsAnswer> parse_response(std::span<const std::uint8_t> message,
                                        std::string* error) {
  std::string why;
  auto fail = [&](std::string reason) -> std::optional<DnsAnswer> {
    if (error) *error = std::move(reason);
    return std::nullopt;
  };
  const std::string size = std::to_string(message.size()) + " bytes";
  if (message.size() < NS_HFIXEDSZ) return fail("too short for a DNS header (" + size + ")");
  if (message.size() > 65535) return fail("longer than any DNS message (" + size + ")");
  ns_msg msg;
  if (ns_initparse(message.data(), static_cast<int>(message.size()), &msg) < 0) {
    // A server may cut a truncated answer mid-record (RFC 2181 9); the id and
    // the TC bit are all that is needed to ask again over TCP.
    if (auto header = truncated_header_only(message)) return header;
    return fail("malformed DNS message of " + size +
                ": its sections do not match the header counts");
  }
  if (!ns_msg_getflag(msg, ns_f_qr)) return fail("not a response (QR bit clear)");
  if (const int opcode = ns_msg_getflag(msg, ns_f_opcode); opcode != ns_o_query)
    return fail("not a reply to a standard query (opcode " + std::to_string(opcode) + ")");

  DnsAnswer a;
  a.id = ns_msg_id(msg);
  a.rcode = ns_msg_getflag(msg, ns_f_rcode);
  a.truncated = ns_msg_getflag(msg, ns_f_tc) != 0;
  ns_rr rr;
  if (ns_msg_count(msg, ns_s_qd) > 0) {
    if (ns_parserr(&msg, ns_s_qd, 0, &rr) < 0) return fail("malformed question section");
    a.question_name = ns_rr_name(rr);
    if (a.question_name.empty()) a.question_name = ".";
    a.question_type = ns_rr_type(rr);
    a.question_class = ns_rr_class(rr);
  }
  const int count = ns_msg_count(msg, ns_s_an);
  for (int i = 0; i < count; ++i) {
    if (ns_parserr(&msg, ns_s_an, i, &rr) < 0)
      return fail("malformed answer record " + std::to_string(i + 1));
    auto text = format_rdata(msg, rr, &why);
    if (!text) return fail("answer record " + std::to_string(i + 1) + ": " + why);
    a.answers.push_back(std::move(*text));
  }
  return a;
}

ProbeResult judge(const DnsAnswer& answer, const config::Check& check) {
  const std::string rcode = answer.rcode_name();
  if (rcode != upper(check.expect_rcode))
    return {false, "rcode " + rcode + ", expected " + upper(check.expect_rcode)};

  std::vector<std::string> got;
  got.reserve(answer.answers.size());
  for (const std::string& a : answer.answers) got.push_back(comparable(a));
  std::string missing;
  for (const std::string& want : check.expect_answers) {
    if (std::find(answer.answers.begin(), answer.answers.end(), want) != answer.answers.end())
      continue;  // exact match: also the case-sensitive TXT one
    if (std::find(got.begin(), got.end(), comparable(want)) == got.end())
      missing += (missing.empty() ? "" : ", ") + want;
  }
  const std::string listed =
      answer.answers.empty() ? "no answers" : "answers: " + list_answers(answer.answers);
  if (!missing.empty())
    return {false, "answer lacks " + missing + " (got " +
                       (answer.answers.empty() ? "no answers" : list_answers(answer.answers)) +
                       ")"};
  return {true, rcode + ", " + listed};
}

}  // namespace vrrpd::checkers
