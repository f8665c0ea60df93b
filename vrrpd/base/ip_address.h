// IPv4/IPv6 address value type used by the codec, the config and the OS layer.
#pragma once

#include <netinet/in.h>

#include <array>
#include <compare>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace vrrpd {

enum class Family : std::uint8_t { kIPv4 = 4, kIPv6 = 6 };

const char* family_name(Family f);

class IpAddress {
 public:
  IpAddress() = default;
  static IpAddress v4(const in_addr& a);
  static IpAddress v6(const in6_addr& a);
  static IpAddress v4_from_bytes(const std::uint8_t* b);
  static IpAddress v6_from_bytes(const std::uint8_t* b);
  // Parses "192.0.2.1" or "2001:db8::1"; nullopt when it is neither.
  static std::optional<IpAddress> parse(std::string_view text);

  Family family() const { return family_; }
  bool is_v4() const { return family_ == Family::kIPv4; }
  bool is_v6() const { return family_ == Family::kIPv6; }
  // 4 or 16.
  std::size_t size() const { return is_v4() ? 4 : 16; }
  const std::uint8_t* bytes() const { return bytes_.data(); }
  in_addr to_in_addr() const;
  in6_addr to_in6_addr() const;
  bool is_multicast() const;
  bool is_link_local() const;  // fe80::/10 (IPv6 only)
  bool is_unspecified() const;
  std::string to_string() const;

  auto operator<=>(const IpAddress&) const = default;

 private:
  Family family_ = Family::kIPv4;
  std::array<std::uint8_t, 16> bytes_{};
};

// Address with prefix length, e.g. a virtual IP "192.0.2.10/24".
struct IpPrefix {
  IpAddress address;
  int prefix_len = 0;
  // Parses "addr" (full-length prefix) or "addr/len"; nullopt if invalid.
  static std::optional<IpPrefix> parse(std::string_view text);
  std::string to_string() const;
  bool operator==(const IpPrefix&) const = default;
};

// RFC 5798: 224.0.0.18 and ff02::12.
IpAddress vrrp_multicast_group(Family f);

}  // namespace vrrpd
