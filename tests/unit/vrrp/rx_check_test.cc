// Receive-side semantic checks: TTL, version, v2 auth and interval.
#include "vrrpd/vrrp/rx_check.h"

#include <gtest/gtest.h>

namespace vrrpd::vrrp {
namespace {

Advert advert_v2() {
  Advert a;
  a.version = 2;
  a.vrid = 7;
  a.priority = 100;
  a.advert_interval = std::chrono::seconds(1);
  a.addresses = {*IpAddress::parse("192.0.2.10")};
  return a;
}

RxCheckParams params_v2() {
  RxCheckParams p;
  p.version = 2;
  p.advert_interval = std::chrono::seconds(1);
  p.virtual_addresses = {*IpAddress::parse("192.0.2.10")};
  return p;
}

TEST(RxCheck, AcceptsMatchingAdvert) {
  bool differs = true;
  EXPECT_EQ(check_advert(advert_v2(), 255, params_v2(), &differs), RxVerdict::kAccept);
  EXPECT_FALSE(differs);
}

TEST(RxCheck, RejectsTtlBelow255) {
  EXPECT_EQ(check_advert(advert_v2(), 254, params_v2(), nullptr), RxVerdict::kBadTtl);
}

TEST(RxCheck, RejectsOtherVersion) {
  auto p = params_v2();
  p.version = 3;
  EXPECT_EQ(check_advert(advert_v2(), 255, p, nullptr), RxVerdict::kVersionMismatch);
}

TEST(RxCheck, V2IntervalMustMatch) {
  auto a = advert_v2();
  a.advert_interval = std::chrono::seconds(2);
  EXPECT_EQ(check_advert(a, 255, params_v2(), nullptr), RxVerdict::kIntervalMismatch);
}

TEST(RxCheck, V3AdoptsOtherInterval) {
  auto a = advert_v2();
  a.version = 3;
  a.advert_interval = std::chrono::milliseconds(200);
  auto p = params_v2();
  p.version = 3;
  EXPECT_EQ(check_advert(a, 255, p, nullptr), RxVerdict::kAccept);
}

TEST(RxCheck, V2PasswordMustMatch) {
  auto p = params_v2();
  p.auth_pass = "secret";
  auto a = advert_v2();
  EXPECT_EQ(check_advert(a, 255, p, nullptr), RxVerdict::kAuthMismatch);  // none sent
  a.auth_type = kAuthSimplePassword;
  a.auth_data = auth_data_for("wrong");
  EXPECT_EQ(check_advert(a, 255, p, nullptr), RxVerdict::kAuthMismatch);
  a.auth_data = auth_data_for("secret");
  EXPECT_EQ(check_advert(a, 255, p, nullptr), RxVerdict::kAccept);
  // A password sent to an instance configured without one is refused too.
  EXPECT_EQ(check_advert(a, 255, params_v2(), nullptr), RxVerdict::kAuthMismatch);
}

TEST(RxCheck, FlagsDifferentAddressListButAccepts) {
  auto a = advert_v2();
  a.addresses.push_back(*IpAddress::parse("192.0.2.11"));
  bool differs = false;
  EXPECT_EQ(check_advert(a, 255, params_v2(), &differs), RxVerdict::kAccept);
  EXPECT_TRUE(differs);
}

}  // namespace
}  // namespace vrrpd::vrrp
