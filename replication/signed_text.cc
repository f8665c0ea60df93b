// Signed text datagrams; see signed_text.h.
#include "replication/signed_text.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <cstdint>

namespace vrrpd::replication {

std::string hmac_sha256_hex(std::string_view text, std::string_view secret) {
  uint8_t md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(EVP_sha256(), secret.data(), static_cast<int>(secret.size()), reinterpret_cast<const uint8_t*>(text.data()),
       text.size(), md, &len);
  static const char* digits = "0123456789abcdef";
  std::string out;
  for (unsigned int i = 0; i < len; ++i) {
    out += digits[md[i] >> 4];
    out += digits[md[i] & 15];
  }
  return out;
}

std::string sign_text(std::string text, std::string_view secret) {
  const std::string mac = hmac_sha256_hex(text, secret);
  return text + " mac=" + mac;
}

std::optional<SignedText> parse_signed_text(std::string_view d, std::string_view magic, std::string_view secret,
                                            std::string* error, std::string_view tail_key) {
  auto bad = [&](std::string why) -> std::optional<SignedText> {
    if (error != nullptr) *error = std::move(why);
    return std::nullopt;
  };
  const auto mac_at = d.rfind(" mac=");
  if (d.size() <= magic.size() || d.substr(0, magic.size()) != magic || d[magic.size()] != ' ' ||
      mac_at == std::string_view::npos)
    return bad("not a " + std::string(magic) + " message");
  const std::string_view body = d.substr(0, mac_at);
  const std::string expected = hmac_sha256_hex(body, secret);
  const std::string_view got = d.substr(mac_at + 5);
  if (got.size() != expected.size() || CRYPTO_memcmp(got.data(), expected.data(), expected.size()) != 0)
    return bad("wrong mac (a different shared secret?)");
  SignedText t;
  std::string_view words = body;
  if (!tail_key.empty()) {
    const std::string marker = " " + std::string(tail_key) + "=";
    if (const auto at = body.find(marker); at != std::string_view::npos) {
      t.tail = std::string(body.substr(at + marker.size()));
      words = body.substr(0, at);
    }
  }
  std::size_t pos = magic.size() + 1;
  bool first = true;
  while (pos < words.size()) {
    auto end = words.find(' ', pos);
    if (end == std::string_view::npos) end = words.size();
    const std::string_view word = words.substr(pos, end - pos);
    pos = end + 1;
    if (first) {
      t.kind = std::string(word);
      first = false;
      continue;
    }
    const auto eq = word.find('=');
    if (eq == std::string_view::npos) return bad("malformed field");
    t.fields[std::string(word.substr(0, eq))] = std::string(word.substr(eq + 1));
  }
  return t;
}

bool plain_word(std::string_view s) {
  if (s.empty() || s.size() > 128) return false;
  for (char c : s)
    if (c <= ' ' || c > '~' || c == '=') return false;
  return true;
}

}  // namespace vrrpd::replication
