#include "vrrpd/base/ip_address.h"

#include <arpa/inet.h>

#include <charconv>
#include <cstring>

namespace vrrpd {

const char* family_name(Family f) { return f == Family::kIPv4 ? "IPv4" : "IPv6"; }

IpAddress IpAddress::v4(const in_addr& a) {
  return v4_from_bytes(reinterpret_cast<const std::uint8_t*>(&a.s_addr));
}

IpAddress IpAddress::v6(const in6_addr& a) { return v6_from_bytes(a.s6_addr); }

IpAddress IpAddress::v4_from_bytes(const std::uint8_t* b) {
  IpAddress r;
  r.family_ = Family::kIPv4;
  std::memcpy(r.bytes_.data(), b, 4);
  return r;
}

IpAddress IpAddress::v6_from_bytes(const std::uint8_t* b) {
  IpAddress r;
  r.family_ = Family::kIPv6;
  std::memcpy(r.bytes_.data(), b, 16);
  return r;
}

std::optional<IpAddress> IpAddress::parse(std::string_view text) {
  std::string s(text);
  in_addr a4{};
  if (inet_pton(AF_INET, s.c_str(), &a4) == 1) return v4(a4);
  in6_addr a6{};
  if (inet_pton(AF_INET6, s.c_str(), &a6) == 1) return v6(a6);
  return std::nullopt;
}

in_addr IpAddress::to_in_addr() const {
  in_addr a{};
  std::memcpy(&a.s_addr, bytes_.data(), 4);
  return a;
}

in6_addr IpAddress::to_in6_addr() const {
  in6_addr a{};
  std::memcpy(a.s6_addr, bytes_.data(), 16);
  return a;
}

bool IpAddress::is_multicast() const {
  return is_v4() ? (bytes_[0] & 0xf0) == 0xe0 : bytes_[0] == 0xff;
}

bool IpAddress::is_link_local() const {
  return is_v6() && bytes_[0] == 0xfe && (bytes_[1] & 0xc0) == 0x80;
}

bool IpAddress::is_unspecified() const {
  for (std::size_t i = 0; i < size(); ++i)
    if (bytes_[i] != 0) return false;
  return true;
}

std::string IpAddress::to_string() const {
  char buf[INET6_ADDRSTRLEN] = {};
  inet_ntop(is_v4() ? AF_INET : AF_INET6, bytes_.data(), buf, sizeof buf);
  return buf;
}

std::optional<IpPrefix> IpPrefix::parse(std::string_view text) {
  auto slash = text.find('/');
  auto addr = IpAddress::parse(text.substr(0, slash));
  if (!addr) return std::nullopt;
  int max_len = addr->is_v4() ? 32 : 128;
  int len = max_len;
  if (slash != std::string_view::npos) {
    auto digits = text.substr(slash + 1);
    auto [ptr, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), len);
    if (ec != std::errc() || ptr != digits.data() + digits.size() || digits.empty() || len < 0 ||
        len > max_len)
      return std::nullopt;
  }
  return IpPrefix{*addr, len};
}

std::string IpPrefix::to_string() const {
  return address.to_string() + "/" + std::to_string(prefix_len);
}

IpAddress vrrp_multicast_group(Family f) {
  return f == Family::kIPv4 ? *IpAddress::parse("224.0.0.18") : *IpAddress::parse("ff02::12");
}

}  // namespace vrrpd
