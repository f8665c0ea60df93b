// DNS messages for the dns health check, without sockets or clocks: the
// query built by glibc's resolver (res_nmkquery), the response taken apart by
// its ns_* parser, and the judgement of a response against a config::Check.
// DnsProbe (dns_probe.h) does the I/O around these.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "checkers/probe.h"
#include "vrrpd/config/model.h"

namespace vrrpd::checkers {

// ns_t_* for a record type name: A, AAAA, CNAME, MX, NS, PTR, SOA, SRV, TXT,
// ANY (any case). Throws std::invalid_argument naming the valid ones.
std::uint16_t dns_type_code(const std::string& type);
// ns_c_* for a class name: IN, CH (any case). Throws std::invalid_argument.
std::uint16_t dns_class_code(const std::string& qclass);
// "NOERROR", "SERVFAIL", ... for an RCODE (RFC 1035, 2136); "RCODE12" otherwise.
std::string dns_rcode_name(int rcode);

// A standard query for one question, in wire format (no TCP length prefix),
// with message id `id` and the RD bit as asked. No EDNS: the probe wants the
// plain answer a stub resolver would get. Throws std::invalid_argument for an
// unknown type or class, an empty name ("." is the root) or a name the
// resolver rejects (label over 63 bytes, name over 255, empty label).
std::vector<std::uint8_t> build_query(std::uint16_t id, const std::string& name,
                                      const std::string& type, const std::string& qclass,
                                      bool recursion_desired);

// What the probe needs from a response.
struct DnsAnswer {
  std::uint16_t id = 0;
  int rcode = 0;            // header RCODE, 0..15 (no EDNS, so no extended codes)
  bool truncated = false;   // TC bit: the answer did not fit, ask again over TCP
  // The first question, to match the response to our query. Empty name and
  // zero type/class when the server sent no question (some do on FORMERR).
  std::string question_name;  // presentation form, no trailing dot ("example.com"; root ".")
  std::uint16_t question_type = 0;
  std::uint16_t question_class = 0;
  // Every record of the answer section in order, as plain text values (what
  // `dig +short` prints, without trailing dots): "192.0.2.1", "2001:db8::1",
  // CNAME/NS/PTR target "web.example.com", MX "10 mail.example.com", TXT the
  // character-strings concatenated, SOA its MNAME, other types the rdata part
  // of ns_sprintrr ("10 5 5060 sip.example.com." for SRV).
  std::vector<std::string> answers;

  std::string rcode_name() const { return dns_rcode_name(rcode); }
};

// Parses a response (no TCP length prefix). On failure returns nullopt and,
// when `error` is not null, says why in words ("too short for a DNS header
// (5 bytes)", "not a response (QR bit clear)", "malformed DNS message of 40
// bytes: ..."). Never throws except std::bad_alloc.
std::optional<DnsAnswer> parse_response(std::span<const std::uint8_t> message,
                                        std::string* error);

// Healthy iff the RCODE's name equals check.expect_rcode (any case) and every
// check.expect_answers entry is among the answers. Addresses compare as
// addresses ("2001:DB8:0::1" matches "2001:db8::1"), names without case or
// trailing dot. Reasons: "NOERROR, answers: 192.0.2.1", "NXDOMAIN, no
// answers", "rcode SERVFAIL, expected NOERROR", "answer lacks 192.0.2.7 (got
// 192.0.2.1)". Latency is the runner's business, not part of the reason.
ProbeResult judge(const DnsAnswer& answer, const config::Check& check);

}  // namespace vrrpd::checkers
