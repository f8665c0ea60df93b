// Signed text datagrams: the shape shared by the daemons' small UDP
// protocols (the witness's leases, the fence path). One ASCII line,
//   MAGIC KIND key=value key=value ... [TAIL_KEY=free text] mac=HEX
// where mac is HMAC-SHA256 with a shared secret over every byte before
// " mac=", compared in constant time. Values hold no spaces; a free-text
// tail (if the protocol has one) comes last and may.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>

namespace vrrpd::replication {

// Lower-case hex of HMAC-SHA256(secret, text).
std::string hmac_sha256_hex(std::string_view text, std::string_view secret);
// `text` + " mac=" + its mac.
std::string sign_text(std::string text, std::string_view secret);

struct SignedText {
  std::string kind;                           // the word after the magic
  std::map<std::string, std::string> fields;  // key=value words
  std::string tail;                           // the free text after " TAIL_KEY=" (if any)
};
// Checks the magic and the mac and splits the words. nullopt with `error`
// set: "not a MAGIC message", "wrong mac (a different shared secret?)" or
// "malformed field". With a `tail_key`, everything after " tail_key=" is
// the tail, not fields.
std::optional<SignedText> parse_signed_text(std::string_view datagram, std::string_view magic,
                                            std::string_view secret, std::string* error,
                                            std::string_view tail_key = {});

// A name as it may stand in a value: 1..128 printable characters, no
// spaces, no '='.
bool plain_word(std::string_view s);

}  // namespace vrrpd::replication
