// MysqlProbe: one MYSQL handle per attempt, in Connector/C's non-blocking
// mode. Every library call is a *_start that either finishes or returns the
// MYSQL_WAIT_* events it waits for; those become an epoll watch on the
// library's socket and a loop timer, and the matching *_cont resumes the call
// when they occur. `done` is delivered from a zero-delay loop timer, or for
// TLS from a post() (see below), never from inside start().
//
// Abandoning a call (cancel, timeout, error): the library keeps the suspended
// call on its own coroutine stack, so the handle may only be freed once the
// call has returned. We shut the socket down (every later read sees EOF and
// every write EPIPE, so nothing can wait) and resume the call as if its
// timeout had expired; it then fails at once and mysql_close() does no I/O.
//
// TLS: Connector/C 3.3 switches the socket to blocking mode once TCP is
// connected, and its OpenSSL layer then reads and writes (handshake included)
// without ever yielding (CONC-594; seen with strace on Debian 12's 3.3.20).
// So a TLS attempt runs the very same state machine on a helper thread with
// its own EventLoop. The checker loop never waits for it: the result comes
// back by post(), and cancel() shuts down a dup() of the socket, which ends
// whatever blocking read or write the helper is in.
#include "checkers/mysql_probe.h"

#include <fcntl.h>
#include <mysql.h>
#include <mysqld_error.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <chrono>
#include <exception>
#include <memory>
#include <mutex>
#include <thread>

namespace vrrpd::checkers {
namespace {

// The library runs each call on its own stack. Its default (60 KiB) is tight
// for an OpenSSL handshake under sanitizers; the pages are only touched when
// used.
constexpr std::size_t kCallStackBytes = 256 * 1024;
// Resumptions of an abandoned call before giving up on a clean return. With
// the socket shut down each one fails the pending I/O; 2 or 3 suffice.
constexpr int kAbortResumes = 16;
// Rows kept from a status result (replica connections, Galera variables).
constexpr std::size_t kMaxRows = 64;
// Server text (errors, Last_IO_Error) kept in a reason, in bytes.
constexpr std::size_t kMaxServerText = 200;
// The user's query as shown in the healthy reason.
constexpr std::size_t kMaxShownQuery = 40;
// Only authentication plugins that work without a terminal or a third party:
// `dialog` would ask on stdin, `auth_gssapi_client` would call a KDC.
constexpr const char* kAllowedAuth =
    "mysql_native_password,client_ed25519,caching_sha2_password,sha256_password";

const std::string kReadOnlySql = "SELECT @@global.read_only";
const std::string kGaleraSql =
    "SHOW GLOBAL STATUS WHERE Variable_name IN ('wsrep_ready','wsrep_local_state_comment')";

void init_library_once() {
  // mysql_init() would do it too, but not guaranteed thread-safely; the
  // daemon builds probes on the main thread and on the checker thread. The
  // library also sets SIGPIPE to SIG_IGN, which the daemon does already.
  static std::once_flag once;
  std::call_once(once, [] { mysql_library_init(0, nullptr, nullptr); });
}

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
         });
}

// Server-supplied text made safe for one log line: control characters become
// spaces, and it is cut (on a UTF-8 boundary) at `max` bytes.
std::string printable(std::string_view s, std::size_t max = kMaxServerText) {
  std::string out;
  const bool cut = s.size() > max;
  std::size_t n = cut ? max : s.size();
  if (cut)
    while (n > 0 && (static_cast<unsigned char>(s[n]) & 0xC0) == 0x80) --n;  // not inside a character
  out.reserve(n + 3);
  for (std::size_t i = 0; i < n; ++i) {
    const auto c = static_cast<unsigned char>(s[i]);
    out.push_back(c < 0x20 || c == 0x7F ? ' ' : s[i]);
  }
  if (cut) out += "...";
  return out;
}

std::string error_text(MYSQL* mysql) {
  std::string text = printable(mysql_error(mysql));
  if (text.empty()) text = "error " + std::to_string(mysql_errno(mysql));
  return text;
}

unsigned timeout_seconds(std::chrono::milliseconds timeout) {
  // The library takes whole seconds; round up so that the runner's timeout,
  // which is exact, normally fires first and names the timeout itself.
  const auto s = (timeout.count() + 999) / 1000;
  return static_cast<unsigned>(std::clamp<long long>(s, 1, 3600));
}

SqlResult copy_result(MYSQL_RES* res) {
  SqlResult out;
  const unsigned n = mysql_num_fields(res);
  const MYSQL_FIELD* fields = mysql_fetch_fields(res);
  for (unsigned i = 0; i < n; ++i) out.columns.emplace_back(fields[i].name, fields[i].name_length);
  // A stored result: mysql_fetch_row() only walks memory, it never reads the socket.
  while (MYSQL_ROW row = mysql_fetch_row(res)) {
    if (out.rows.size() >= kMaxRows) break;
    const unsigned long* lengths = mysql_fetch_lengths(res);
    auto& r = out.rows.emplace_back();
    for (unsigned i = 0; i < n; ++i) {
      if (row[i] == nullptr) r.emplace_back(std::nullopt);
      else r.emplace_back(std::string(row[i], lengths[i]));
    }
  }
  return out;
}

const std::optional<std::string>* cell(const SqlResult& r, std::size_t row, int column) {
  if (column < 0 || row >= r.rows.size() || static_cast<std::size_t>(column) >= r.rows[row].size())
    return nullptr;
  return &r.rows[row][static_cast<std::size_t>(column)];
}

std::string text_or_empty(const SqlResult& r, std::size_t row, int column) {
  const auto* v = cell(r, row, column);
  return v != nullptr && *v ? **v : std::string();
}

}  // namespace

// Shared by the checker loop (which starts, cancels and joins) and the helper
// thread (which runs the attempt on `loop`).
struct MysqlProbe::TlsAttempt {
  TlsAttempt() : loop(clock) {}
  ~TlsAttempt() {
    if (socket >= 0) ::close(socket);
  }

  // Any thread: makes the attempt end now. The helper's loop stops, and its
  // blocking library call (if any) fails because the socket is shut down.
  void cancel() {
    {
      std::lock_guard<std::mutex> lock(mutex);
      cancelled = true;
      if (socket >= 0) ::shutdown(socket, SHUT_RDWR);
    }
    loop.stop();
  }
  // Helper thread, between library calls (the library cannot close `fd`
  // then): keeps a duplicate so that cancel() never touches a descriptor
  // number the library may have closed and the process reused.
  void observe_socket(int fd) {
    std::lock_guard<std::mutex> lock(mutex);
    if (socket >= 0 || fd < 0) return;
    socket = fcntl(fd, F_DUPFD_CLOEXEC, 0);
    if (cancelled && socket >= 0) ::shutdown(socket, SHUT_RDWR);
  }

  MonotonicClock clock;
  EventLoop loop;            // the helper thread's loop
  std::mutex mutex;          // guards cancelled and socket
  bool cancelled = false;
  int socket = -1;           // dup of the connection's socket, closed with the attempt
  bool orphaned = false;     // checker loop only: the probe is gone, drop the result
  ProbeResult result;        // written by the helper before it posts
  std::thread thread;        // joined on the checker loop
};

int SqlResult::column(std::initializer_list<std::string_view> names) const {
  for (std::string_view name : names)
    for (std::size_t i = 0; i < columns.size(); ++i)
      if (iequals(columns[i], name)) return static_cast<int>(i);
  return -1;
}

Verdict judge_read_only(const SqlResult& result, const std::string& expect_role) {
  const auto* v = cell(result, 0, 0);
  if (v == nullptr || !*v) return {false, "read_only unknown: the server returned no value"};
  // 0/1 for the boolean of MariaDB 10 and MySQL; OFF/ON/NO_LOCK... for the
  // enum of later MariaDB, where anything but OFF refuses writes.
  const bool on = !(**v == "0" || iequals(**v, "OFF"));
  const std::string shown = **v == "1" ? "ON" : **v == "0" ? "OFF" : printable(**v, 40);
  if (expect_role == "writable")
    return on ? Verdict{false, "read_only is " + shown + ", expected writable"} : Verdict{true, "writable"};
  if (expect_role == "read-only")
    return on ? Verdict{true, "read-only"} : Verdict{false, "read_only is " + shown + ", expected read-only"};
  return {false, "unknown expect_role \"" + printable(expect_role, 40) + "\"; valid: any, writable, read-only"};
}

Verdict judge_replicas(const SqlResult& result, long max_lag_s) {
  if (result.rows.empty()) return {false, "not a replica"};
  const int io = result.column({"Slave_IO_Running", "Replica_IO_Running"});
  const int sql = result.column({"Slave_SQL_Running", "Replica_SQL_Running"});
  const int lag = result.column({"Seconds_Behind_Master", "Seconds_Behind_Source"});
  const int name = result.column({"Connection_name", "Channel_Name"});
  const int io_error = result.column({"Last_IO_Error"});
  const int sql_error = result.column({"Last_SQL_Error"});
  if (io < 0 || sql < 0 || lag < 0)
    return {false, "unexpected replica status: no Slave_IO_Running, Slave_SQL_Running or "
                   "Seconds_Behind_Master column"};

  std::optional<Verdict> best;        // the healthy connection with the least lag
  long long best_lag = 0;
  std::optional<std::string> first_failure;
  for (std::size_t row = 0; row < result.rows.size(); ++row) {
    // Several connections (multi-source): say which one failed.
    std::string who;
    if (result.rows.size() > 1 && !text_or_empty(result, row, name).empty())
      who = "connection '" + printable(text_or_empty(result, row, name), 64) + "': ";
    auto failed = [&](std::string why) {
      if (!first_failure) first_failure = who + why;
    };
    auto with_error = [&](std::string why, int error_column) {
      const std::string error = text_or_empty(result, row, error_column);
      return error.empty() ? why : why + ": " + printable(error);
    };
    const std::string io_state = text_or_empty(result, row, io);
    const std::string sql_state = text_or_empty(result, row, sql);
    if (!iequals(io_state, "Yes")) {
      failed(with_error("replica IO thread not running (" + printable(io_state, 40) + ")", io_error));
      continue;
    }
    if (!iequals(sql_state, "Yes")) {
      failed(with_error("replica SQL thread not running (" + printable(sql_state, 40) + ")", sql_error));
      continue;
    }
    const auto* seconds = cell(result, row, lag);
    if (seconds == nullptr || !*seconds) {
      failed("replica lag unknown (" + result.columns[static_cast<std::size_t>(lag)] + " is NULL)");
      continue;
    }
    long long s = 0;
    const std::string& t = **seconds;
    if (auto [end, ec] = std::from_chars(t.data(), t.data() + t.size(), s); ec != std::errc() || end != t.data() + t.size()) {
      failed("replica lag unreadable: \"" + printable(t, 40) + "\"");
      continue;
    }
    if (s > max_lag_s) {
      failed("replica lag " + std::to_string(s) + " s > " + std::to_string(max_lag_s) + " s");
      continue;
    }
    if (!best || s < best_lag) {
      best = Verdict{true, "replica lag " + std::to_string(s) + " s"};
      best_lag = s;
    }
  }
  if (best) return *best;
  return {false, *first_failure};
}

Verdict judge_galera(const SqlResult& result) {
  const int name = result.column({"Variable_name"});
  const int value = result.column({"Value"});
  std::optional<std::string> ready, state;
  for (std::size_t row = 0; row < result.rows.size(); ++row) {
    const std::string n = text_or_empty(result, row, name);
    if (iequals(n, "wsrep_ready")) ready = text_or_empty(result, row, value);
    if (iequals(n, "wsrep_local_state_comment")) state = text_or_empty(result, row, value);
  }
  if (!ready) return {false, "not a Galera node (no wsrep_ready status)"};
  if (!iequals(*ready, "ON")) return {false, "galera wsrep_ready is " + printable(*ready, 40) + ", expected ON"};
  if (!state) return {false, "galera state unknown (no wsrep_local_state_comment status)"};
  if (!iequals(*state, "Synced")) return {false, "galera state is " + printable(*state, 40) + ", expected Synced"};
  return {true, "galera Synced"};
}

MysqlProbe::MysqlProbe(EventLoop& loop, const config::Check& check)
    : loop_(loop), check_(check), wait_timer_(loop, [this] { on_ready(MYSQL_WAIT_TIMEOUT); }) {
  init_library_once();
  if (check_.port > 0 && check_.port <= 65535) port_ = static_cast<unsigned>(check_.port);
  if (check_.address) {
    host_ = check_.address->to_string();
    endpoint_ = (check_.address->is_v6() ? "[" + host_ + "]" : host_) + ":" + std::to_string(port_);
  } else {
    endpoint_ = "?:" + std::to_string(port_);
  }
  steps_.push_back(Step::kUserQuery);
  if (check_.expect_role != "any") steps_.push_back(Step::kReadOnly);
  if (check_.max_replica_lag_s >= 0) steps_.push_back(Step::kReplicaStatus);
  if (check_.galera) steps_.push_back(Step::kGalera);
  // MariaDB names all replication connections; MySQL 8.0.22+ says REPLICA,
  // older MySQL only knows SLAVE. The next is tried when one is a syntax error.
  replica_statements_ = {"SHOW ALL SLAVES STATUS", "SHOW REPLICA STATUS", "SHOW SLAVE STATUS"};
}

MysqlProbe::~MysqlProbe() {
  cancel();
  // Each helper ends within moments of its cancel(); its posted result, if
  // any, is dropped as orphaned.
  for (const auto& attempt : tls_running_) {
    attempt->orphaned = true;
    attempt->cancel();
  }
  for (const auto& attempt : tls_running_)
    if (attempt->thread.joinable()) attempt->thread.join();
}

std::string MysqlProbe::target() const {
  std::string t = check_.user + "@" + endpoint_;
  if (!check_.database.empty()) t += "/" + check_.database;
  if (check_.tls) t += " tls";
  if (check_.expect_role != "any") t += " " + check_.expect_role;
  if (check_.max_replica_lag_s >= 0) t += " lag<=" + std::to_string(check_.max_replica_lag_s) + "s";
  if (check_.galera) t += " galera";
  return t;
}

void MysqlProbe::start(Done done) {
  cancel();  // an attempt still in flight is abandoned, never reported
  done_ = std::move(done);
  if (check_.tls && tls_on_helper_) return guarded([this] { start_tls_attempt(); });
  guarded([this] { begin(); });
}

void MysqlProbe::cancel() {
  close_connection();
  if (report_timer_ != 0) loop_.cancel_timer(report_timer_);
  report_timer_ = 0;
  reporting_ = false;
  done_ = nullptr;
  if (tls_current_) tls_current_->cancel();  // joined when its thread posts
  tls_current_ = nullptr;
}

void MysqlProbe::start_tls_attempt() {
  auto attempt = std::make_shared<TlsAttempt>();
  tls_running_.push_back(attempt);
  tls_current_ = attempt;
  EventLoop* checker_loop = &loop_;
  try {
    attempt->thread = std::thread([attempt, checker_loop, check = check_, this] {
      mysql_thread_init();
      {
        MysqlProbe inner(attempt->loop, check);
        inner.tls_on_helper_ = false;
        inner.socket_observer_ = [&attempt](int fd) { attempt->observe_socket(fd); };
        bool finished = false;
        inner.start([&](ProbeResult r) {
          attempt->result = std::move(r);
          finished = true;
          attempt->loop.stop();
        });
        attempt->loop.run();  // until finished, or cancel() stops it
        if (!finished) attempt->result = {false, "cancelled"};
      }  // `inner` frees its connection here, on this thread
      mysql_thread_end();
      // `this` is only used on the checker loop, and only while the probe
      // lives: its destructor marks every attempt orphaned first.
      checker_loop->post([attempt, this] {
        if (!attempt->orphaned) on_tls_attempt_done(attempt);
      });
    });
  } catch (...) {
    tls_running_.pop_back();
    tls_current_ = nullptr;
    throw;  // guarded() reports it
  }
}

void MysqlProbe::on_tls_attempt_done(const std::shared_ptr<TlsAttempt>& attempt) {
  if (attempt->thread.joinable()) attempt->thread.join();  // it has posted: ends at once
  tls_running_.erase(std::remove(tls_running_.begin(), tls_running_.end(), attempt), tls_running_.end());
  if (attempt != tls_current_) return;  // cancelled, or replaced by a newer attempt
  tls_current_ = nullptr;
  Done done = std::move(done_);
  done_ = nullptr;
  // Last: `done` may start the next attempt or destroy this probe; `attempt`
  // is the caller's copy.
  if (done) done(attempt->result);
}

template <typename Fn>
void MysqlProbe::guarded(Fn fn) {
  try {
    fn();
  } catch (const std::exception& e) {
    fail(std::string("mysql probe error: ") + e.what());
  } catch (...) {
    fail("mysql probe error: unknown exception");
  }
}

void MysqlProbe::begin() {
  if (host_.empty()) return fail("no server address configured");
  if (check_.port < 0 || check_.port > 65535)
    return fail("port " + std::to_string(check_.port) + " out of range 1..65535");
  step_ = 0;
  replica_variant_ = 0;
  healthy_parts_.clear();
  mysql_ = mysql_init(nullptr);
  if (mysql_ == nullptr) return fail("mysql_init failed (out of memory?)");
  // Without the non-blocking context every call below would block: refuse.
  std::size_t stack = kCallStackBytes;
  if (mysql_options(mysql_, MYSQL_OPT_NONBLOCK, &stack) != 0)
    return fail("cannot enable the non-blocking client API");
  const unsigned seconds = timeout_seconds(check_.timeout);
  mysql_options(mysql_, MYSQL_OPT_CONNECT_TIMEOUT, &seconds);
  mysql_options(mysql_, MYSQL_OPT_READ_TIMEOUT, &seconds);
  mysql_options(mysql_, MYSQL_OPT_WRITE_TIMEOUT, &seconds);
  const unsigned tcp = MYSQL_PROTOCOL_TCP;
  mysql_options(mysql_, MYSQL_OPT_PROTOCOL, &tcp);
  // A hostile server must not be able to make us upload a local file.
  const unsigned no_local_infile = 0;
  mysql_options(mysql_, MYSQL_OPT_LOCAL_INFILE, &no_local_infile);
  mysql_options(mysql_, MARIADB_OPT_RESTRICTED_AUTH, kAllowedAuth);
  mysql_optionsv(mysql_, MYSQL_OPT_CONNECT_ATTR_ADD, "program_name", "vrrpd");
  if (check_.tls) {
    // Ask for TLS. The server's certificate is not verified: the check has
    // no CA setting. A server without TLS is refused in on_connected().
    const my_bool enforce = 1;
    if (mysql_options(mysql_, MYSQL_OPT_SSL_ENFORCE, &enforce) != 0)
      return fail("TLS requested but this libmariadb cannot enforce it");
  }
  op_ = Op::kConnect;
  connect_ret_ = nullptr;
  proceed(mysql_real_connect_start(&connect_ret_, mysql_, host_.c_str(), check_.user.c_str(),
                                   check_.password.c_str(),
                                   check_.database.empty() ? nullptr : check_.database.c_str(), port_,
                                   nullptr, CLIENT_MULTI_RESULTS));
}

void MysqlProbe::proceed(int status) {
  if (status != 0) return wait_for(status);
  on_call_finished();
}

void MysqlProbe::wait_for(int status) {
  waiting_for_ = status;
  std::uint32_t events = 0;
  if (status & MYSQL_WAIT_READ) events |= EPOLLIN;
  if (status & MYSQL_WAIT_WRITE) events |= EPOLLOUT;
  if (status & MYSQL_WAIT_EXCEPT) events |= EPOLLPRI;
  if (events != 0) {
    // Asked afresh each time: during connect the socket is created (and, for
    // a name with several addresses, replaced) inside the library.
    const int fd = static_cast<int>(mysql_get_socket(mysql_));
    if (fd < 0) return fail("mysql client waits on a socket it does not have");
    if (socket_observer_) socket_observer_(fd);
    loop_.watch_fd(fd, events, [this](std::uint32_t ev) {
      int ready = 0;
      if (ev & (EPOLLIN | EPOLLHUP | EPOLLERR)) ready |= MYSQL_WAIT_READ;
      if (ev & (EPOLLOUT | EPOLLHUP | EPOLLERR)) ready |= MYSQL_WAIT_WRITE;
      if (ev & EPOLLPRI) ready |= MYSQL_WAIT_EXCEPT;
      ready &= waiting_for_;
      if (ready == 0) ready = waiting_for_ & ~MYSQL_WAIT_TIMEOUT;  // something happened: let it look
      on_ready(ready);
    });
    watched_fd_ = fd;
  }
  if (status & MYSQL_WAIT_TIMEOUT)
    wait_timer_.arm_in(std::chrono::milliseconds(mysql_get_timeout_value_ms(mysql_)));
  else if (events == 0)
    fail("mysql client waits for nothing");
}

void MysqlProbe::stop_waiting() {
  // Before any library call: the library may close the socket, and the loop
  // must not keep a watch on a number that gets reused.
  if (watched_fd_ >= 0) loop_.unwatch_fd(watched_fd_);
  watched_fd_ = -1;
  wait_timer_.disarm();
  waiting_for_ = 0;
}

void MysqlProbe::on_ready(int ready_status) {
  guarded([&] {
    stop_waiting();
    proceed(resume(ready_status));
  });
}

int MysqlProbe::resume(int ready_status) {
  switch (op_) {
    case Op::kConnect: return mysql_real_connect_cont(&connect_ret_, mysql_, ready_status);
    case Op::kQuery: return mysql_real_query_cont(&int_ret_, mysql_, ready_status);
    case Op::kStoreResult: return mysql_store_result_cont(&result_ret_, mysql_, ready_status);
    case Op::kNextResult: return mysql_next_result_cont(&int_ret_, mysql_, ready_status);
    case Op::kClose: return mysql_close_cont(mysql_, ready_status);
    case Op::kNone: break;
  }
  return 0;
}

void MysqlProbe::on_call_finished() {
  const Op finished = op_;
  op_ = Op::kNone;
  switch (finished) {
    case Op::kConnect: return on_connected();
    case Op::kQuery: return on_query_sent();
    case Op::kStoreResult: return on_result_stored();
    case Op::kNextResult: return on_next_result();
    case Op::kClose: mysql_ = nullptr; return;  // mysql_close_cont freed it
    case Op::kNone: return;
  }
}

void MysqlProbe::on_connected() {
  if (connect_ret_ == nullptr) return fail("connect: " + error_text(mysql_));
  // Connector/C 3.3 enforces TLS only together with certificate verification
  // and otherwise falls back to plain text silently; refuse that here.
  if (check_.tls && mysql_get_ssl_cipher(mysql_) == nullptr)
    return fail("connect: TLS required, but the server does not offer it");
  send_statement();
}

const std::string& MysqlProbe::statement() const {
  switch (steps_[step_]) {
    case Step::kUserQuery: return check_.query;
    case Step::kReadOnly: return kReadOnlySql;
    case Step::kReplicaStatus: return replica_statements_[replica_variant_];
    case Step::kGalera: return kGaleraSql;
  }
  return check_.query;
}

std::string MysqlProbe::statement_failure_prefix() const {
  if (steps_[step_] == Step::kUserQuery) return "query failed: ";
  const std::string& sql = statement();
  // "SHOW GLOBAL STATUS failed: ", not the whole WHERE clause.
  const auto where = sql.find(" WHERE ");
  return (where == std::string::npos ? sql : sql.substr(0, where)) + " failed: ";
}

void MysqlProbe::send_statement() {
  draining_ = false;
  rows_ = {};
  const std::string& sql = statement();  // lives as long as the probe
  op_ = Op::kQuery;
  proceed(mysql_real_query_start(&int_ret_, mysql_, sql.data(), sql.size()));
}

void MysqlProbe::on_query_sent() {
  if (int_ret_ != 0) return on_statement_failed();
  op_ = Op::kStoreResult;
  result_ret_ = nullptr;
  proceed(mysql_store_result_start(&result_ret_, mysql_));
}

void MysqlProbe::on_result_stored() {
  std::unique_ptr<MYSQL_RES, void (*)(MYSQL_RES*)> res(result_ret_, mysql_free_result);
  result_ret_ = nullptr;
  if (!res) {
    // No result set: fine for a statement without one (DO 1, SET ...).
    if (mysql_errno(mysql_) != 0 || mysql_field_count(mysql_) != 0) return on_statement_failed();
  } else if (!draining_ && steps_[step_] != Step::kUserQuery) {
    rows_ = copy_result(res.get());
  }
  res.reset();
  if (mysql_more_results(mysql_)) {
    // A procedure call returns several: read them all, or the connection
    // stays busy and the next statement fails "out of sync".
    draining_ = true;
    op_ = Op::kNextResult;
    return proceed(mysql_next_result_start(&int_ret_, mysql_));
  }
  on_step_done();
}

void MysqlProbe::on_next_result() {
  if (int_ret_ > 0) return on_statement_failed();
  if (int_ret_ < 0) return on_step_done();  // no more results
  op_ = Op::kStoreResult;
  result_ret_ = nullptr;
  proceed(mysql_store_result_start(&result_ret_, mysql_));
}

void MysqlProbe::on_statement_failed() {
  if (steps_[step_] == Step::kReplicaStatus && mysql_errno(mysql_) == ER_PARSE_ERROR &&
      replica_variant_ + 1 < replica_statements_.size()) {
    ++replica_variant_;
    return send_statement();
  }
  fail(statement_failure_prefix() + error_text(mysql_));
}

void MysqlProbe::on_step_done() {
  Verdict v;
  switch (steps_[step_]) {
    case Step::kUserQuery: v = {true, printable(check_.query, kMaxShownQuery) + " ok"}; break;
    case Step::kReadOnly: v = judge_read_only(rows_, check_.expect_role); break;
    case Step::kReplicaStatus: v = judge_replicas(rows_, check_.max_replica_lag_s); break;
    case Step::kGalera: v = judge_galera(rows_); break;
  }
  if (!v.ok) return fail(std::move(v.text));
  healthy_parts_.push_back(std::move(v.text));
  if (++step_ < steps_.size()) return send_statement();
  std::string reason;
  for (const auto& part : healthy_parts_) reason += (reason.empty() ? "" : ", ") + part;
  finish(true, std::move(reason));
}

void MysqlProbe::finish(bool healthy, std::string reason) {
  if (reporting_) return;  // decided already; keep the first reason
  close_connection();
  result_ = {healthy, std::move(reason)};
  reporting_ = true;
  report_timer_ = loop_.add_timer(loop_.now(), [this] { report(); });
}

void MysqlProbe::report() {
  report_timer_ = 0;
  reporting_ = false;
  Done done = std::move(done_);
  done_ = nullptr;
  ProbeResult result = std::move(result_);
  // Last: `done` may start the next attempt or destroy this probe. The loop
  // holds its own copy of this timer callback, so that is safe.
  if (done) done(std::move(result));
}

void MysqlProbe::close_connection() {
  stop_waiting();
  if (mysql_ == nullptr) {
    op_ = Op::kNone;
    return;
  }
  if (op_ != Op::kNone) abort_call();  // frees the handle if the call was the close
  if (mysql_ != nullptr && op_ == Op::kNone) {
    // Say goodbye so that the server does not log an aborted connection.
    // COM_QUIT is one small write: it finishes at once unless the socket
    // buffer is full, and then we abandon it.
    op_ = Op::kClose;
    const int status = mysql_close_start(mysql_);
    if (status == 0) {
      mysql_ = nullptr;
      op_ = Op::kNone;
      return;
    }
    waiting_for_ = status;
    abort_call();
  }
  if (mysql_ != nullptr) {
    // The call did not return within kAbortResumes: free it the blocking way,
    // which cannot block on a shut-down socket.
    mysql_close(mysql_);
    mysql_ = nullptr;
  }
  op_ = Op::kNone;
  waiting_for_ = 0;
}

void MysqlProbe::abort_call() {
  const int fd = static_cast<int>(mysql_get_socket(mysql_));
  if (fd >= 0) ::shutdown(fd, SHUT_RDWR);
  for (int i = 0; i < kAbortResumes && op_ != Op::kNone; ++i) {
    if (resume(MYSQL_WAIT_TIMEOUT) != 0) continue;
    const Op finished = op_;
    op_ = Op::kNone;
    if (finished == Op::kStoreResult) free_result();
    if (finished == Op::kClose) mysql_ = nullptr;
  }
}

void MysqlProbe::free_result() {
  if (result_ret_ != nullptr) mysql_free_result(result_ret_);
  result_ret_ = nullptr;
}

}  // namespace vrrpd::checkers
