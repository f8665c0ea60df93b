// Shared by the daemon tests: recording fakes for sockets, netlink and
// GARP/NA, and a fixture that builds an Instance on a fake clock with them.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "vrrpd/daemon/instance.h"
#include "vrrpd/vrrp/rx_check.h"

namespace vrrpd::test_support {

using std::chrono::milliseconds;

inline IpAddress ip(const char* s) { return *IpAddress::parse(s); }

struct SentPacket {
  TimePoint at;
  std::string ifname;
  IpAddress src, dst;
  vrrp::Advert advert;
};

class FakeAddresses : public net::AddressManager {
 public:
  bool add(const net::AddressSpec& s, std::string*) override {
    log.push_back("add " + s.prefix.to_string() + " " + s.ifname);
    present.push_back(s.prefix.to_string());
    return true;
  }
  bool remove(const net::AddressSpec& s, std::string*) override {
    log.push_back("remove " + s.prefix.to_string() + " " + s.ifname);
    present.erase(std::remove(present.begin(), present.end(), s.prefix.to_string()), present.end());
    return true;
  }
  std::vector<std::string> log, present;
};

class FakeAnnouncer : public net::AnnounceSender {
 public:
  explicit FakeAnnouncer(FakeClock& c) : clock(c) {}
  int announce(int, const std::array<std::uint8_t, 6>&, const IpAddress& vip, const IpAddress&) override {
    sent.push_back({clock.now(), vip});
    return 0;
  }
  FakeClock& clock;
  std::vector<std::pair<TimePoint, IpAddress>> sent;
};

class InstanceTest : public ::testing::Test {
 protected:
  InstanceTest() : loop(clock), announcer(clock) {
    links["eth0"] = iface("eth0", 2, true, {"192.0.2.2/24", "fe80::2/64"});
    links["eth1"] = iface("eth1", 3, true, {"198.51.100.2/24"});
  }

  static net::InterfaceInfo iface(const std::string& name, int index, bool up, std::vector<std::string> addrs) {
    net::InterfaceInfo i;
    i.name = name;
    i.index = index;
    i.up = up;
    i.mac = {0x02, 0, 0, 0, 0, static_cast<std::uint8_t>(index)};
    for (const auto& a : addrs) i.addresses.push_back(*IpPrefix::parse(a));
    return i;
  }

  config::Instance cfg() {
    config::Instance c;
    c.name = "VI_1";
    c.interface = "eth0";
    c.virtual_router_id = 51;
    c.priority = 100;
    c.family = Family::kIPv4;
    c.advert_interval = milliseconds(100);
    c.virtual_addresses.push_back({*IpPrefix::parse("192.0.2.100/24"), "", "", {}});
    return c;
  }

  std::unique_ptr<Instance> make(config::Instance c) {
    InstanceEnv env{
        loop, addresses, announcer,
        [this](const std::string& ifname, Family, std::span<const std::uint8_t> msg, const IpAddress& src,
               const IpAddress& dst) {
          auto d = vrrp::decode(msg, src, dst, vrrp::ChecksumMode::kPseudoHeader);
          EXPECT_EQ(d.error, vrrp::DecodeError::kNone);
          sent.push_back({clock.now(), ifname, src, dst, d.advert});
          return 0;
        },
        [this](const std::string& name) {
          auto it = links.find(name);
          return it == links.end() ? net::InterfaceInfo{name} : it->second;
        },
        [this](Instance&, const Transition& t) { transitions.push_back(t); }};
    return std::make_unique<Instance>(std::move(env), std::move(c));
  }

  void run_for(Duration d) { loop.run_fake_until(clock, clock.now() + d); }

  net::ReceivedPacket packet_from(const char* src, int priority, int ttl = 255) {
    vrrp::Advert a;
    a.vrid = 51;
    a.priority = static_cast<std::uint8_t>(priority);
    a.advert_interval = milliseconds(100);
    a.addresses = {ip("192.0.2.100")};
    net::ReceivedPacket p;
    p.source = ip(src);
    p.destination = ip("224.0.0.18");
    p.ttl = ttl;
    p.payload = vrrp::encode(a, p.source, p.destination, vrrp::ChecksumMode::kPseudoHeader);
    return p;
  }

  FakeClock clock;
  EventLoop loop;
  FakeAddresses addresses;
  FakeAnnouncer announcer;
  std::map<std::string, net::InterfaceInfo> links;
  std::vector<SentPacket> sent;
  std::vector<Transition> transitions;
};

}  // namespace vrrpd::test_support
