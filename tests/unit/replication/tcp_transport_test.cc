// TcpConnector and TcpConnection on real sockets and the real clock.
//
// Network traffic stays inside a private network namespace that the first
// test needing it creates for the whole test process (unshare(CLONE_NEWNET),
// root only; skipped otherwise): lo is brought up and given documentation
// addresses, never touching the host's own network. The other replication
// tests are in-memory and unaffected. Retry intervals are 100 ms so that each
// test takes well under a second when it passes.
#include "replication/tcp_transport.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <linux/if_addr.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace vrrpd::replication {
namespace {

using namespace std::chrono_literals;

IpAddress ip(const char* text) { return *IpAddress::parse(text); }

const IpAddress kNodeA = ip("192.0.2.1");  // compares lower: connects
const IpAddress kNodeB = ip("192.0.2.2");  // only accepts
const IpAddress kStranger = ip("203.0.113.9");
const IpAddress kNodeA6 = ip("2001:db8::1");
const IpAddress kNodeB6 = ip("2001:db8::2");

// ---------------------------------------------------------------------------
// The private network

// Adds `address` (full-length prefix) to interface `ifindex` with one
// RTM_NEWADDR message. Empty on success, else what failed.
std::string add_address(int ifindex, const IpAddress& address) {
  const int fd = ::socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
  if (fd < 0) return std::string("netlink socket: ") + std::strerror(errno);
  struct {
    nlmsghdr header;
    ifaddrmsg ifa;
    char attributes[64];
  } request{};
  request.header.nlmsg_len = NLMSG_LENGTH(sizeof(ifaddrmsg));
  request.header.nlmsg_type = RTM_NEWADDR;
  request.header.nlmsg_flags = NLM_F_REQUEST | NLM_F_CREATE | NLM_F_EXCL | NLM_F_ACK;
  request.ifa.ifa_family = address.is_v4() ? AF_INET : AF_INET6;
  request.ifa.ifa_prefixlen = static_cast<unsigned char>(address.size() * 8);
  request.ifa.ifa_flags = IFA_F_NODAD;  // usable at once, no duplicate address detection wait
  request.ifa.ifa_scope = RT_SCOPE_UNIVERSE;
  request.ifa.ifa_index = static_cast<unsigned>(ifindex);
  for (const unsigned short type : {IFA_LOCAL, IFA_ADDRESS}) {
    auto* attribute = reinterpret_cast<rtattr*>(reinterpret_cast<char*>(&request) +
                                                NLMSG_ALIGN(request.header.nlmsg_len));
    attribute->rta_type = type;
    attribute->rta_len = static_cast<unsigned short>(RTA_LENGTH(address.size()));
    std::memcpy(RTA_DATA(attribute), address.bytes(), address.size());
    request.header.nlmsg_len =
        NLMSG_ALIGN(request.header.nlmsg_len) + RTA_ALIGN(attribute->rta_len);
  }
  std::string error;
  char reply[512];
  if (::send(fd, &request, request.header.nlmsg_len, 0) < 0) {
    error = std::string("netlink send: ") + std::strerror(errno);
  } else if (::recv(fd, reply, sizeof reply, 0) < 0) {
    error = std::string("netlink recv: ") + std::strerror(errno);
  } else {
    const auto* answer = reinterpret_cast<const nlmsghdr*>(reply);
    const auto* status = static_cast<const nlmsgerr*>(NLMSG_DATA(answer));
    if (answer->nlmsg_type == NLMSG_ERROR && status->error != 0)
      error = "adding " + address.to_string() + " to lo: " + std::strerror(-status->error);
  }
  ::close(fd);
  return error;
}

// Moves this process (its only thread, the test thread) into a new network
// namespace with lo up and the test addresses on it. Empty on success.
std::string enter_private_network() {
  if (::unshare(CLONE_NEWNET) < 0)
    return std::string("unshare(CLONE_NEWNET): ") + std::strerror(errno) +
           " (these tests need root to build their own network)";
  const int fd = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  ifreq request{};
  std::strcpy(request.ifr_name, "lo");
  const bool up = fd >= 0 && ::ioctl(fd, SIOCGIFFLAGS, &request) == 0 &&
                  (request.ifr_flags |= IFF_UP, ::ioctl(fd, SIOCSIFFLAGS, &request) == 0);
  const std::string up_error = up ? "" : std::string("bringing lo up: ") + std::strerror(errno);
  if (fd >= 0) ::close(fd);
  if (!up) return up_error;
  const int lo = static_cast<int>(::if_nametoindex("lo"));
  for (const IpAddress& address : {kNodeA, kNodeB, kStranger, kNodeA6, kNodeB6})
    if (std::string error = add_address(lo, address); !error.empty()) return error;
  return {};
}

// ---------------------------------------------------------------------------
// Plain blocking sockets playing a misbehaving or absent peer

int plain_socket(const IpAddress& family_of, int flags = 0) {
  return ::socket(family_of.is_v4() ? AF_INET : AF_INET6, SOCK_STREAM | SOCK_CLOEXEC | flags, 0);
}

sockaddr_storage plain_address(const TcpEndpoint& endpoint, socklen_t& length) {
  sockaddr_storage ss{};
  if (endpoint.address.is_v4()) {
    auto* sin = reinterpret_cast<sockaddr_in*>(&ss);
    sin->sin_family = AF_INET;
    sin->sin_port = htons(endpoint.port);
    sin->sin_addr = endpoint.address.to_in_addr();
    length = sizeof(sockaddr_in);
  } else {
    auto* sin6 = reinterpret_cast<sockaddr_in6*>(&ss);
    sin6->sin6_family = AF_INET6;
    sin6->sin6_port = htons(endpoint.port);
    sin6->sin6_addr = endpoint.address.to_in6_addr();
    length = sizeof(sockaddr_in6);
  }
  return ss;
}

// A non-blocking listening socket on `endpoint`, or -1.
int plain_listener(const TcpEndpoint& endpoint, int backlog = 8) {
  const int fd = plain_socket(endpoint.address, SOCK_NONBLOCK);
  socklen_t length = 0;
  const sockaddr_storage ss = plain_address(endpoint, length);
  if (::bind(fd, reinterpret_cast<const sockaddr*>(&ss), length) < 0 || ::listen(fd, backlog) < 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

// A socket from `from` connected to `to` (the kernel completes the handshake
// without accept(), so this does not wait for the loop), or -1.
int plain_connect(const IpAddress& from, const TcpEndpoint& to) {
  const int fd = plain_socket(from);
  socklen_t length = 0;
  const sockaddr_storage local = plain_address({from, 0}, length);
  const sockaddr_storage remote = plain_address(to, length);
  if (::bind(fd, reinterpret_cast<const sockaddr*>(&local), length) < 0 ||
      ::connect(fd, reinterpret_cast<const sockaddr*>(&remote), length) < 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

// True when a connection waits on a plain listener (accepted and closed).
bool accept_pending(int listener) {
  const int fd = ::accept4(listener, nullptr, nullptr, SOCK_NONBLOCK);
  if (fd < 0) return false;
  ::close(fd);
  return true;
}

// True when the other end has closed `fd` (EOF or reset, nothing buffered).
bool closed_by_other_end(int fd) {
  char byte;
  const ssize_t n = ::recv(fd, &byte, 1, MSG_DONTWAIT);
  return n == 0 || (n < 0 && errno == ECONNRESET);
}

// ---------------------------------------------------------------------------
// One side as the engine uses it: keeps the connection it is given, collects
// bytes and errors, and when the stream ends destroys the connection (inside
// on_closed) and calls connection_lost().

struct Node {
  Node(EventLoop& loop, TcpConnectorOptions options) : connector(loop, std::move(options)) {}

  bool start() {
    return connector.start(
        {.on_connected = [this](std::unique_ptr<Connection> c) { take(std::move(c)); },
         .on_error = [this](const std::string& message) { errors.push_back(message); }},
        start_error);
  }
  void take(std::unique_ptr<Connection> c) {
    ++connections;
    connection = std::move(c);
    if (callbacks_override) return connection->start(*callbacks_override);
    connection->start({.on_bytes =
                           [this](std::span<const uint8_t> b) {
                             received.insert(received.end(), b.begin(), b.end());
                           },
                       .on_closed =
                           [this](const std::string& reason) {
                             closed_reasons.push_back(reason);
                             connection.reset();
                             connector.connection_lost();
                           }});
  }
  void send(std::string_view text) { connection->send({text.begin(), text.end()}); }
  std::string received_text() const { return {received.begin(), received.end()}; }
  bool connected() const { return connection != nullptr; }

  TcpConnector connector;
  std::string start_error;
  std::unique_ptr<Connection> connection;
  int connections = 0;
  std::vector<uint8_t> received;
  std::vector<std::string> errors;
  std::vector<std::string> closed_reasons;
  // When set, connections get these callbacks instead of the recording ones.
  std::optional<Connection::Callbacks> callbacks_override;
};

class TcpTransportTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    static const std::string error = enter_private_network();  // once per process
    network_error_ = error;
  }
  void SetUp() override {
    if (!network_error_.empty()) GTEST_SKIP() << network_error_;
  }

  // Runs the loop until done() holds; false if `limit` passed first.
  bool run_until(const std::function<bool()>& done, Duration limit = 2s) {
    const TimePoint deadline = clock_.now() + limit;
    while (!done()) {
      if (clock_.now() >= deadline) return false;
      loop_.run_once(5ms);
    }
    return true;
  }
  void run_for(Duration d) {
    run_until([] { return false; }, d);
  }

  // A port of its own for each test, so no test meets another's sockets.
  static uint16_t fresh_port() {
    static uint16_t next = 17789;
    return next++;
  }
  static TcpConnectorOptions options(TcpEndpoint local, TcpEndpoint peer) {
    TcpConnectorOptions o;
    o.local = local;
    o.peer = peer;
    o.connect_interval = 100ms;
    o.connect_timeout = 150ms;
    return o;
  }
  // Node A (lower, connects) and node B (accepts) on one fresh port.
  void make_pair(const IpAddress& a = kNodeA, const IpAddress& b = kNodeB) {
    const uint16_t port = fresh_port();
    a_end_ = {a, port};
    b_end_ = {b, port};
    a_ = std::make_unique<Node>(loop_, options(a_end_, b_end_));
    b_ = std::make_unique<Node>(loop_, options(b_end_, a_end_));
  }
  void connect_pair(const IpAddress& a = kNodeA, const IpAddress& b = kNodeB) {
    make_pair(a, b);
    start_pair();
  }
  void start_pair() {
    ASSERT_TRUE(b_->start()) << b_->start_error;
    ASSERT_TRUE(a_->start()) << a_->start_error;
    ASSERT_TRUE(run_until([&] { return a_->connected() && b_->connected(); }))
        << (a_->errors.empty() ? "" : a_->errors.back());
  }

  static inline std::string network_error_;
  MonotonicClock clock_;
  EventLoop loop_{clock_};
  TcpEndpoint a_end_, b_end_;
  std::unique_ptr<Node> a_, b_;
};

// ---------------------------------------------------------------------------
// Pure parts

TEST(TcpEndpoint, ParsesLiteralAddressesAndRejectsNames) {
  auto v4 = TcpEndpoint::parse("192.0.2.1:7789");
  ASSERT_TRUE(v4) << v4.error();
  EXPECT_EQ(v4->address, kNodeA);
  EXPECT_EQ(v4->port, 7789);
  EXPECT_EQ(v4->to_string(), "192.0.2.1:7789");
  auto v6 = TcpEndpoint::parse("[2001:db8::2]:7790");
  ASSERT_TRUE(v6) << v6.error();
  EXPECT_EQ(v6->address, kNodeB6);
  EXPECT_EQ(v6->to_string(), "[2001:db8::2]:7790");

  auto name = TcpEndpoint::parse("peer.example:7789");
  ASSERT_FALSE(name);
  EXPECT_NE(name.error().find("not a literal IP address"), std::string::npos) << name.error();
  EXPECT_NE(TcpEndpoint::parse("2001:db8::1:7789").error().find("needs brackets"),
            std::string::npos);
  EXPECT_NE(TcpEndpoint::parse("192.0.2.1").error().find("missing ':port'"), std::string::npos);
  for (const char* bad : {"192.0.2.1:0", "192.0.2.1:65536", "192.0.2.1:", "192.0.2.1:77x",
                          "[192.0.2.1]:7789", "[2001:db8::1]7789"})
    EXPECT_FALSE(TcpEndpoint::parse(bad)) << bad;
}

TEST(TcpEndpoint, LowerAddressThenLowerPortComparesLower) {
  EXPECT_LT((TcpEndpoint{kNodeA, 7790}), (TcpEndpoint{kNodeB, 7789}));
  EXPECT_LT((TcpEndpoint{kNodeA, 7789}), (TcpEndpoint{kNodeA, 7790}));
  EXPECT_LT((TcpEndpoint{ip("192.0.2.9"), 1}),
            (TcpEndpoint{ip("192.0.2.10"), 1}));  // numeric, not text
}

TEST(TcpRepeatedMessageFilter, PassesChangesAndOneRepeatPerInterval) {
  FakeClock clock;
  RepeatedMessageFilter filter(60s);
  EXPECT_EQ(filter.filter("refused", clock.now()), "refused");
  clock.advance(10s);
  EXPECT_EQ(filter.filter("refused", clock.now()), std::nullopt);
  clock.advance(10s);
  EXPECT_EQ(filter.filter("refused", clock.now()), std::nullopt);
  clock.advance(40s);  // 60 s since it was last passed
  EXPECT_EQ(filter.filter("refused", clock.now()),
            "refused (repeated 2 times since last reported)");
  clock.advance(60s);
  EXPECT_EQ(filter.filter("refused", clock.now()), "refused");  // nothing swallowed meanwhile
  EXPECT_EQ(filter.filter("refused", clock.now()), std::nullopt);
  clock.advance(60s);
  EXPECT_EQ(filter.filter("refused", clock.now()), "refused (repeated once since last reported)");
  EXPECT_EQ(filter.filter("timed out", clock.now()), "timed out");
  EXPECT_EQ(filter.filter("refused", clock.now()), "refused");  // a change is news
  filter.reset();
  EXPECT_EQ(filter.filter("refused", clock.now()), "refused");
}

// ---------------------------------------------------------------------------
// TcpConnection on a socketpair (no network needed)

class TcpConnectionOnSocketpair : public ::testing::Test {
 protected:
  void SetUp() override {
    int fds[2];
    ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM, 0, fds), 0);
    connection_ = std::make_unique<TcpConnection>(loop_, fds[0], "socketpair");
    other_end_ = fds[1];
  }
  void TearDown() override {
    if (other_end_ >= 0) ::close(other_end_);
  }
  void run_briefly() {
    for (int i = 0; i < 5; ++i) loop_.run_once(1ms);
  }
  std::string read_other_end() {
    char buffer[256];
    const ssize_t n = ::recv(other_end_, buffer, sizeof buffer, MSG_DONTWAIT);
    return n > 0 ? std::string(buffer, static_cast<size_t>(n)) : std::string();
  }

  MonotonicClock clock_;
  EventLoop loop_{clock_};
  std::unique_ptr<TcpConnection> connection_;
  int other_end_ = -1;
  std::string received_;
  std::vector<std::string> closed_;
};

TEST_F(TcpConnectionOnSocketpair, BytesSentBeforeStartGoOutAfterStart) {
  connection_->send({'a', 'b'});
  EXPECT_EQ(connection_->queued_bytes(), 2u);
  EXPECT_EQ(read_other_end(), "");
  connection_->start({});
  run_briefly();
  EXPECT_EQ(read_other_end(), "ab");
  EXPECT_EQ(connection_->queued_bytes(), 0u);
  EXPECT_EQ(connection_->peer_description(), "socketpair");
}

TEST_F(TcpConnectionOnSocketpair, PeerCloseIsReportedOnceWithItsReason) {
  connection_->start(
      {.on_bytes = [&](std::span<const uint8_t> b) { received_.append(b.begin(), b.end()); },
       .on_closed = [&](const std::string& reason) { closed_.push_back(reason); }});
  ASSERT_EQ(::send(other_end_, "last words", 10, 0), 10);
  ::shutdown(other_end_, SHUT_WR);
  run_briefly();
  EXPECT_EQ(received_, "last words");  // data before the FIN is delivered first
  EXPECT_EQ(closed_, std::vector<std::string>{"peer closed the connection"});
  connection_->send({'x'});  // after the end: dropped, no second callback
  run_briefly();
  EXPECT_EQ(closed_.size(), 1u);
}

TEST_F(TcpConnectionOnSocketpair, BytesAreReadIntoTheMemoryTheReceiverOffers) {
  // The receiver offers 3 bytes at a time, at a place of its choosing: each
  // read lands exactly there, in order, and nothing goes through on_bytes.
  std::vector<uint8_t> memory(64, 0);
  size_t at = 0;
  std::vector<size_t> reads;
  bool on_bytes_called = false;
  connection_->start({.on_bytes = [&](std::span<const uint8_t>) { on_bytes_called = true; },
                      .receive_space = [&] { return std::span<uint8_t>(memory).subspan(at, 3); },
                      .on_received =
                          [&](size_t n) {
                            reads.push_back(n);
                            at += n;
                          },
                      .on_closed = [&](const std::string& reason) { closed_.push_back(reason); }});
  ASSERT_EQ(::send(other_end_, "abcdefgh", 8, 0), 8);
  ::shutdown(other_end_, SHUT_WR);
  run_briefly();
  EXPECT_EQ(std::string(memory.begin(), memory.begin() + static_cast<std::ptrdiff_t>(at)), "abcdefgh");
  EXPECT_EQ(reads, (std::vector<size_t>{3, 3, 2}));
  EXPECT_FALSE(on_bytes_called);
  EXPECT_EQ(closed_, std::vector<std::string>{"peer closed the connection"});  // after the data
}

TEST_F(TcpConnectionOnSocketpair, DestroyedInsideOnReceivedItReadsNoMore) {
  std::vector<uint8_t> memory(4, 0);
  int calls = 0;
  connection_->start({.receive_space = [&] { return std::span<uint8_t>(memory); },
                      .on_received =
                          [&](size_t) {
                            ++calls;
                            connection_.reset();
                          },
                      .on_closed = [&](const std::string& reason) { closed_.push_back(reason); }});
  ASSERT_EQ(::send(other_end_, "0123456789", 10, 0), 10);
  run_briefly();
  EXPECT_EQ(calls, 1);
  EXPECT_EQ(std::string(memory.begin(), memory.end()), "0123");
  EXPECT_TRUE(closed_.empty());
  EXPECT_TRUE(closed_by_other_end(other_end_));
}

TEST_F(TcpConnectionOnSocketpair, CloseSilencesCallbacks) {
  connection_->start({.on_bytes = [&](std::span<const uint8_t>) { received_ = "called"; },
                      .on_closed = [&](const std::string& reason) { closed_.push_back(reason); }});
  connection_->send({'q'});
  connection_->close();
  EXPECT_EQ(connection_->queued_bytes(), 0u);
  ::send(other_end_, "z", 1, MSG_NOSIGNAL);
  run_briefly();
  EXPECT_EQ(received_, "");
  EXPECT_TRUE(closed_.empty());
  EXPECT_EQ(read_other_end(), "q");  // written before close()
  EXPECT_TRUE(closed_by_other_end(other_end_));
}

TEST_F(TcpConnectionOnSocketpair, WriteErrorInsideSendIsReportedLaterNotFromSend) {
  connection_->start({.on_closed = [&](const std::string& reason) { closed_.push_back(reason); }});
  ::close(std::exchange(other_end_, -1));  // the other end goes away entirely
  connection_->send({'x'});                // EPIPE here must not call back from inside send()
  EXPECT_TRUE(closed_.empty());
  run_briefly();
  ASSERT_EQ(closed_.size(), 1u);
  EXPECT_TRUE(closed_[0] == "connection reset by peer" ||
              closed_[0] == "peer closed the connection")
      << closed_[0];
}

TEST_F(TcpConnectionOnSocketpair, ABorrowedBodyFollowsItsHeadAndIsLetGoOnceSent) {
  connection_->start({});
  // More than the socket takes at once, so part of the body waits in the queue.
  auto body = std::make_shared<std::vector<uint8_t>>(4 << 20);
  for (size_t i = 0; i < body->size(); ++i) (*body)[i] = static_cast<uint8_t>(i * 13 + i / 4096);
  const std::weak_ptr<std::vector<uint8_t>> held = body;
  connection_->send({'<'});
  connection_->send_borrowed({'h', 'e', 'a', 'd'}, *body, body);
  connection_->send({'>'});
  const std::vector<uint8_t> expected_body = *body;
  body.reset();  // the connection's reference is the only one now
  ASSERT_GT(connection_->queued_bytes(), 0u);
  EXPECT_FALSE(held.expired());  // still being sent from there
  std::vector<uint8_t> got;
  std::vector<uint8_t> sink(1 << 20);
  for (int i = 0; i < 2000 && got.size() < expected_body.size() + 6; ++i) {
    const ssize_t n = ::recv(other_end_, sink.data(), sink.size(), MSG_DONTWAIT);
    if (n > 0) got.insert(got.end(), sink.begin(), sink.begin() + n);
    loop_.run_once(1ms);
  }
  ASSERT_EQ(got.size(), expected_body.size() + 6);
  EXPECT_EQ(std::string(got.begin(), got.begin() + 5), "<head");
  EXPECT_TRUE(std::equal(expected_body.begin(), expected_body.end(), got.begin() + 5));
  EXPECT_EQ(got.back(), '>');
  EXPECT_EQ(connection_->queued_bytes(), 0u);
  EXPECT_TRUE(held.expired());  // handed to the kernel: let go
}

TEST_F(TcpConnectionOnSocketpair, CloseLetsGoOfABorrowedBodyNotYetSent) {
  connection_->start({});
  auto body = std::make_shared<std::vector<uint8_t>>(4 << 20, 0x42);
  const std::weak_ptr<std::vector<uint8_t>> held = body;
  connection_->send_borrowed({'h'}, *body, body);
  body.reset();
  ASSERT_GT(connection_->queued_bytes(), 0u);
  EXPECT_FALSE(held.expired());
  connection_->close();
  EXPECT_TRUE(held.expired());
}

TEST_F(TcpConnectionOnSocketpair, DrainedIsToldWhenQueuedBytesGoOut) {
  int drained = 0;
  connection_->start({.on_drained = [&] { ++drained; }});
  std::vector<uint8_t> payload(4 << 20, 0x5a);  // more than the socket takes at once
  connection_->send(payload);
  const size_t queued = connection_->queued_bytes();
  ASSERT_GT(queued, 0u);
  const int drained_in_send = drained;
  // The other end reads: the queue shrinks and we hear of it.
  std::vector<uint8_t> sink(1 << 20);
  size_t read_total = 0;
  for (int i = 0; i < 2000 && read_total < payload.size(); ++i) {
    const ssize_t n = ::recv(other_end_, sink.data(), sink.size(), MSG_DONTWAIT);
    if (n > 0) read_total += static_cast<size_t>(n);
    loop_.run_once(1ms);
  }
  EXPECT_EQ(read_total, payload.size());
  EXPECT_EQ(connection_->queued_bytes(), 0u);
  EXPECT_GT(drained, drained_in_send);
}

// ---------------------------------------------------------------------------
// Connector and connection on real TCP in the private namespace

TEST_F(TcpTransportTest, ConnectsAndExchangesBytesBothWaysInOrder) {
  connect_pair();
  EXPECT_TRUE(a_->connector.connects());
  EXPECT_FALSE(b_->connector.connects());
  EXPECT_EQ(a_->connection->peer_description(), b_end_.to_string());
  EXPECT_EQ(b_->connection->peer_description().rfind("192.0.2.1:", 0), 0u)
      << b_->connection->peer_description();
  a_->send("one,");
  a_->send("two,");
  b_->send("uno,");
  a_->send("three");
  b_->send("dos");
  ASSERT_TRUE(run_until([&] { return b_->received.size() == 13 && a_->received.size() == 7; }));
  EXPECT_EQ(b_->received_text(), "one,two,three");
  EXPECT_EQ(a_->received_text(), "uno,dos");
  EXPECT_TRUE(a_->errors.empty()) << a_->errors.front();
  EXPECT_TRUE(b_->errors.empty()) << b_->errors.front();
}

TEST_F(TcpTransportTest, FourMiBPayloadIsQueuedAndDrainsInOrder) {
  connect_pair();
  std::vector<uint8_t> payload(4 << 20);
  for (size_t i = 0; i < payload.size(); ++i) payload[i] = static_cast<uint8_t>(i * 7 + i / 4096);
  a_->connection->send(payload);
  a_->send("end");
  // The kernel takes far less than 4 MiB before the receiver reads.
  EXPECT_GT(a_->connection->queued_bytes(), 0u);
  EXPECT_LE(a_->connection->queued_bytes(), payload.size() + 3);
  ASSERT_TRUE(run_until([&] { return b_->received.size() == payload.size() + 3; }));
  EXPECT_EQ(a_->connection->queued_bytes(), 0u);
  EXPECT_TRUE(std::equal(payload.begin(), payload.end(), b_->received.begin()));
  EXPECT_EQ(std::string(b_->received.end() - 3, b_->received.end()), "end");
}

TEST_F(TcpTransportTest, ExpectedBytesArriveTogetherAndTheEndOfTheStreamStillDeliversAPart) {
  connect_pair();
  b_->connection->expect_bytes(1000);
  a_->connection->send(std::vector<uint8_t>(600, 'x'));
  ASSERT_TRUE(run_until([&] { return a_->connection->queued_bytes() == 0; }));
  run_for(50ms);  // the 600 bytes sit in B's socket: not enough to wake it
  EXPECT_TRUE(b_->received.empty()) << b_->received.size();
  a_->connection->send(std::vector<uint8_t>(400, 'y'));
  ASSERT_TRUE(run_until([&] { return b_->received.size() == 1000; })) << b_->received.size();
  EXPECT_EQ(b_->received[599], 'x');
  EXPECT_EQ(b_->received[600], 'y');
  // Back to every byte: a small message is delivered at once.
  b_->connection->expect_bytes(1);
  a_->send("ping");
  ASSERT_TRUE(run_until([&] { return b_->received.size() == 1004; }));
  // Waiting for more than ever comes: the end of the stream delivers what
  // arrived, then the close.
  b_->connection->expect_bytes(1000);
  a_->send("last");
  ASSERT_TRUE(run_until([&] { return a_->connection->queued_bytes() == 0; }));
  a_->connection->close();
  ASSERT_TRUE(run_until([&] { return !b_->closed_reasons.empty(); }));
  EXPECT_EQ(b_->received_text().substr(1000), "pinglast");
  EXPECT_EQ(b_->closed_reasons.front(), "peer closed the connection");
}

TEST_F(TcpTransportTest, OnlyTheLowerEndpointConnects) {
  make_pair();
  // Each node alone, with a plain listener standing in for its peer.
  const int listener_at_a = plain_listener(a_end_);
  ASSERT_GE(listener_at_a, 0);
  ASSERT_TRUE(b_->start()) << b_->start_error;
  run_for(350ms);  // three retry intervals
  EXPECT_FALSE(accept_pending(listener_at_a)) << "the higher endpoint connected";
  ::close(listener_at_a);
  b_->connector.stop();

  const int listener_at_b = plain_listener(b_end_);
  ASSERT_GE(listener_at_b, 0);
  ASSERT_TRUE(a_->start()) << a_->start_error;
  EXPECT_TRUE(run_until([&] { return a_->connected(); }));
  EXPECT_TRUE(accept_pending(listener_at_b));
  ::close(listener_at_b);
}

TEST_F(TcpTransportTest, LowerEndpointRefusesTheConnectionThePeerShouldNotMake) {
  make_pair();
  ASSERT_TRUE(a_->start()) << a_->start_error;
  const int from_b = plain_connect(kNodeB, a_end_);
  ASSERT_GE(from_b, 0);
  ASSERT_TRUE(run_until([&] { return !a_->errors.empty(); }));
  EXPECT_NE(a_->errors[0].find("connection from 192.0.2.2 refused: this node connects"),
            std::string::npos)
      << a_->errors[0];
  EXPECT_EQ(a_->connections, 0);
  EXPECT_TRUE(run_until([&] { return closed_by_other_end(from_b); }));
  ::close(from_b);
}

TEST_F(TcpTransportTest, ReconnectsAfterThePeerRestarts) {
  connect_pair();
  b_->connector.stop();
  b_->connection.reset();  // B's engine drops its side as it stops
  ASSERT_TRUE(run_until([&] { return !a_->connected(); }));
  EXPECT_EQ(a_->closed_reasons, std::vector<std::string>{"peer closed the connection"});
  const TimePoint lost_at = clock_.now();
  ASSERT_TRUE(b_->start()) << b_->start_error;
  ASSERT_TRUE(run_until([&] { return a_->connected() && b_->connected(); }));
  EXPECT_GE(clock_.now() - lost_at, 90ms) << "reconnected before the retry interval";
  EXPECT_EQ(a_->connections, 2);
  a_->send("again");
  ASSERT_TRUE(run_until([&] { return b_->received.size() == 5; }));
  EXPECT_EQ(b_->received_text(), "again");
}

TEST_F(TcpTransportTest, PeerDownMeansConnectionRefusedReportedOnceThenRetried) {
  make_pair();
  ASSERT_TRUE(a_->start()) << a_->start_error;
  run_for(350ms);  // about four attempts, all refused
  ASSERT_EQ(a_->errors.size(), 1u);
  EXPECT_EQ(a_->errors[0], "cannot connect to " + b_end_.to_string() + ": connection refused");
  ASSERT_TRUE(b_->start()) << b_->start_error;
  EXPECT_TRUE(run_until([&] { return a_->connected() && b_->connected(); }));
}

TEST_F(TcpTransportTest, UnchangedErrorIsRepeatedAfterTheRepeatIntervalWithACount) {
  make_pair();
  TcpConnectorOptions o = options(a_end_, b_end_);
  o.error_repeat_interval = 250ms;  // a minute in the daemon
  Node a(loop_, o);
  ASSERT_TRUE(a.start()) << a.start_error;
  ASSERT_TRUE(run_until([&] { return a.errors.size() == 2; }, 1s));
  const std::string refused = "cannot connect to " + b_end_.to_string() + ": connection refused";
  EXPECT_EQ(a.errors[0], refused);
  // Attempts about every 100 ms: one or two in between were swallowed.
  EXPECT_TRUE(a.errors[1] == refused + " (repeated 2 times since last reported)" ||
              a.errors[1] == refused + " (repeated once since last reported)")
      << a.errors[1];
}

TEST_F(TcpTransportTest, NoNewConnectionUntilConnectionLostThenRetry) {
  connect_pair();
  // A's engine closes its connection but does not (yet) call connection_lost().
  a_->connection->close();
  a_->connection.reset();
  ASSERT_TRUE(run_until([&] { return !b_->connected(); }));
  run_for(250ms);
  EXPECT_EQ(a_->connections, 1) << "offered a connection before connection_lost()";
  a_->connector.connection_lost();
  ASSERT_TRUE(run_until([&] { return a_->connected() && b_->connected(); }));
  EXPECT_EQ(a_->connections, 2);
  EXPECT_EQ(b_->connections, 2);
}

TEST_F(TcpTransportTest, ExtraConnectionFromThePeerIsClosedWhileOneIsHeld) {
  connect_pair();
  const int extra = plain_connect(kNodeA, b_end_);
  ASSERT_GE(extra, 0);
  ASSERT_TRUE(run_until([&] { return !b_->errors.empty(); }));
  EXPECT_EQ(b_->errors[0], "connection from 192.0.2.1 closed: already connected to the peer");
  EXPECT_TRUE(run_until([&] { return closed_by_other_end(extra); }));
  ::close(extra);
  EXPECT_EQ(b_->connections, 1);
  a_->send("still here");
  EXPECT_TRUE(run_until([&] { return b_->received_text() == "still here"; }));
}

TEST_F(TcpTransportTest, PortInUseAndForeignAddressFailStartClearly) {
  make_pair();
  const int squatter = plain_listener(a_end_);
  ASSERT_GE(squatter, 0);
  EXPECT_FALSE(a_->start());
  EXPECT_EQ(a_->start_error, "cannot listen on " + a_end_.to_string() + ": address already in use");
  ::close(squatter);
  EXPECT_TRUE(a_->start()) << a_->start_error;  // the same connector, once the port is free

  const TcpEndpoint foreign{ip("192.0.2.77"), a_end_.port};
  Node elsewhere(loop_, options(foreign, b_end_));
  EXPECT_FALSE(elsewhere.start());
  EXPECT_EQ(elsewhere.start_error, "cannot listen on 192.0.2.77:" + std::to_string(a_end_.port) +
                                       ": address not available (192.0.2.77 is not an address "
                                       "of this host)");
}

TEST_F(TcpTransportTest, CongestionControlIsSetOnBothEndsOfTheLink) {
  // reno is always built in, and differs from the usual defaults (cubic,
  // bbr), so the option is seen to act on the connecting and the accepted
  // socket alike.
  make_pair();
  TcpConnectorOptions oa = options(a_end_, b_end_), ob = options(b_end_, a_end_);
  oa.congestion_control = ob.congestion_control = "reno";
  a_ = std::make_unique<Node>(loop_, oa);
  b_ = std::make_unique<Node>(loop_, ob);
  start_pair();
  auto* a = dynamic_cast<TcpConnection*>(a_->connection.get());
  auto* b = dynamic_cast<TcpConnection*>(b_->connection.get());
  ASSERT_TRUE(a && b);
  EXPECT_EQ(a->congestion_control(), "reno");
  EXPECT_EQ(b->congestion_control(), "reno");
}

TEST_F(TcpTransportTest, UnknownCongestionControlFailsStartClearly) {
  make_pair();
  TcpConnectorOptions o = options(a_end_, b_end_);
  o.congestion_control = "nosuchcc";
  Node a(loop_, o);
  EXPECT_FALSE(a.start());
  EXPECT_EQ(a.start_error.rfind("cannot listen on " + a_end_.to_string() +
                                    ": TCP congestion control \"nosuchcc\": no such file or directory (available here: ",
                                0),
            0u)
      << a.start_error;
  EXPECT_NE(a.start_error.find("reno"), std::string::npos) << a.start_error;
}

TEST_F(TcpTransportTest, InconsistentOptionsAreRefusedAtStart) {
  Node mixed(loop_, options({kNodeA, 7789}, {kNodeB6, 7789}));
  EXPECT_FALSE(mixed.start());
  EXPECT_NE(mixed.start_error.find("not of one family"), std::string::npos) << mixed.start_error;
  Node self(loop_, options({kNodeA, 7789}, {kNodeA, 7789}));
  EXPECT_FALSE(self.start());
  EXPECT_EQ(self.start_error, "local and peer endpoints are both 192.0.2.1:7789");
}

TEST_F(TcpTransportTest, ConnectionFromANonPeerAddressIsRefusedAndReportedOnce) {
  make_pair();
  ASSERT_TRUE(b_->start()) << b_->start_error;
  std::vector<int> strangers;
  for (int i = 0; i < 3; ++i) {
    strangers.push_back(plain_connect(kStranger, b_end_));
    ASSERT_GE(strangers.back(), 0);
    run_for(20ms);
  }
  ASSERT_EQ(b_->errors.size(), 1u) << "identical refusals are rate-limited";
  EXPECT_EQ(b_->errors[0],
            "connection from 203.0.113.9 refused: not the configured peer 192.0.2.1");
  EXPECT_EQ(b_->connections, 0);
  for (int fd : strangers) {
    EXPECT_TRUE(closed_by_other_end(fd));
    ::close(fd);
  }
  // The real peer still gets in afterwards.
  ASSERT_TRUE(a_->start()) << a_->start_error;
  EXPECT_TRUE(run_until([&] { return a_->connected() && b_->connected(); }));
}

TEST_F(TcpTransportTest, UnansweredConnectTimesOutAndIsRetried) {
  make_pair();
  // A listener with a full accept queue drops further SYNs: B's address
  // stays silent, as behind a dead link.
  const int silent = plain_listener(b_end_, /*backlog=*/0);
  ASSERT_GE(silent, 0);
  const int filler = plain_connect(kNodeB, b_end_);
  ASSERT_GE(filler, 0);
  ASSERT_TRUE(a_->start()) << a_->start_error;
  ASSERT_TRUE(run_until([&] { return !a_->errors.empty(); }));
  EXPECT_EQ(a_->errors[0], "cannot connect to " + b_end_.to_string() +
                               ": no answer within 150 ms (connect timeout)");
  ::close(filler);
  ::close(silent);
  ASSERT_TRUE(b_->start()) << b_->start_error;
  EXPECT_TRUE(run_until([&] { return a_->connected() && b_->connected(); }));
}

TEST_F(TcpTransportTest, TimedOutConnectIsFollowedByTheNextAttemptAtOnce) {
  // A link that comes back is found by the next fresh SYN, not after
  // connect_interval (nor the kernel's SYN backoff): with a 10 s interval
  // the 150 ms timeouts still follow one another.
  make_pair();
  const int silent = plain_listener(b_end_, /*backlog=*/0);
  ASSERT_GE(silent, 0);
  const int filler = plain_connect(kNodeB, b_end_);
  ASSERT_GE(filler, 0);
  TcpConnectorOptions o = options(a_end_, b_end_);
  o.connect_interval = 10s;
  o.error_repeat_interval = 600ms;
  Node a(loop_, o);
  ASSERT_TRUE(a.start()) << a.start_error;
  ASSERT_TRUE(run_until([&] { return a.errors.size() == 2; }, 3s));
  const std::string timed_out = "cannot connect to " + b_end_.to_string() + ": no answer within 150 ms (connect timeout)";
  EXPECT_EQ(a.errors[0], timed_out);
  EXPECT_EQ(a.errors[1].rfind(timed_out + " (repeated ", 0), 0u) << a.errors[1];
  ::close(filler);
  ::close(silent);
}

TEST_F(TcpTransportTest, ResetIsReportedAsConnectionResetByPeer) {
  make_pair();
  ASSERT_TRUE(b_->start()) << b_->start_error;
  const int impostor = plain_connect(kNodeA, b_end_);  // from the peer's address
  ASSERT_GE(impostor, 0);
  ASSERT_TRUE(run_until([&] { return b_->connected(); }));
  const linger abort_on_close{.l_onoff = 1, .l_linger = 0};  // close() sends an RST
  ::setsockopt(impostor, SOL_SOCKET, SO_LINGER, &abort_on_close, sizeof abort_on_close);
  ::close(impostor);
  ASSERT_TRUE(run_until([&] { return !b_->connected(); }));
  EXPECT_EQ(b_->closed_reasons, std::vector<std::string>{"connection reset by peer"});
}

TEST_F(TcpTransportTest, DestroyingTheConnectionInsideOnBytesOrOnClosedIsSafe) {
  make_pair();
  // B destroys its connection from inside on_bytes on the first chunk;
  // A's Node destroys its own inside on_closed when B's close reaches it.
  int chunks = 0;
  b_->callbacks_override = Connection::Callbacks{
      .on_bytes =
          [&](std::span<const uint8_t> bytes) {
            ++chunks;
            EXPECT_FALSE(bytes.empty());
            b_->connection.reset();
            EXPECT_EQ(bytes[0], 'x');  // the span outlives the connection
          },
      .on_closed = [&](const std::string&) { ADD_FAILURE() << "on_closed after destruction"; }};
  start_pair();
  a_->connection->send(std::vector<uint8_t>(256 * 1024, 'x'));
  ASSERT_TRUE(run_until([&] { return !a_->connected(); }));
  EXPECT_EQ(chunks, 1);
  ASSERT_EQ(a_->closed_reasons.size(), 1u);
  run_for(20ms);
}

TEST_F(TcpTransportTest, CloseInsideOnBytesStopsDelivery) {
  make_pair();
  int chunks = 0;
  bool closed_called = false;
  b_->callbacks_override =
      Connection::Callbacks{.on_bytes =
                                [&](std::span<const uint8_t>) {
                                  ++chunks;
                                  b_->connection->close();
                                },
                            .on_closed = [&](const std::string&) { closed_called = true; }};
  start_pair();
  a_->connection->send(std::vector<uint8_t>(256 * 1024, 'y'));
  ASSERT_TRUE(run_until([&] { return !a_->connected(); }));
  run_for(20ms);
  EXPECT_EQ(chunks, 1);
  EXPECT_FALSE(closed_called);
  EXPECT_EQ(b_->connection->queued_bytes(), 0u);
}

TEST_F(TcpTransportTest, Ipv6EndpointsConnectAndExchangeBytes) {
  connect_pair(kNodeA6, kNodeB6);
  EXPECT_EQ(a_->connection->peer_description(), "[2001:db8::2]:" + std::to_string(b_end_.port));
  a_->send("over IPv6");
  b_->send("likewise");
  ASSERT_TRUE(run_until([&] { return b_->received.size() == 9 && a_->received.size() == 8; }));
  EXPECT_EQ(b_->received_text(), "over IPv6");
  EXPECT_EQ(a_->received_text(), "likewise");
}

}  // namespace
}  // namespace vrrpd::replication
