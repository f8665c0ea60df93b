// The mysql health check: log in to a MySQL/MariaDB server, run a query and
// optionally judge the server's role (read_only), its replication and its
// Galera state. The native replacement for `mysql -e "SELECT 1"` scripts.
// All I/O goes through MariaDB Connector/C's non-blocking API (the *_start /
// *_cont calls) driven by an event loop; the runner owns the timeout and
// calls cancel(). Without TLS that loop is the checker loop. With TLS it is a
// helper thread's own loop, because Connector/C 3.3 does its TLS handshake
// and TLS reads in blocking mode even under the non-blocking API (CONC-594).
#pragma once

#include <cstddef>
#include <functional>
#include <initializer_list>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "checkers/probe.h"
#include "vrrpd/base/event_loop.h"
#include "vrrpd/config/model.h"

// Connector/C's handle types, declared here so that <mysql.h> (and its
// macros) stays out of every file that includes this header.
struct st_mysql;
struct st_mysql_res;

namespace vrrpd::checkers {

// One result set as text; a SQL NULL is nullopt, kept apart from "".
struct SqlResult {
  std::vector<std::string> columns;
  std::vector<std::vector<std::optional<std::string>>> rows;

  // Index of the first of `names` that is a column (without case), or -1.
  int column(std::initializer_list<std::string_view> names) const;
};

// A judgement of one step: `ok` with a short healthy text ("writable",
// "replica lag 0 s"), or not ok with the reason ("read_only is ON, expected
// writable"). Pure functions of what the server returned, tested alone.
struct Verdict {
  bool ok = false;
  std::string text;
};

// `SELECT @@global.read_only` against expect_role "writable" or "read-only".
Verdict judge_read_only(const SqlResult& result, const std::string& expect_role);
// `SHOW ALL SLAVES STATUS` (or SHOW REPLICA/SLAVE STATUS): healthy when at
// least one connection has both threads running and a known lag <= max_lag_s.
// Takes MariaDB's and MySQL 8's column names (Slave_*/Replica_*, *_Master/_Source).
Verdict judge_replicas(const SqlResult& result, long max_lag_s);
// `SHOW GLOBAL STATUS WHERE Variable_name IN (...)`: wsrep_ready ON and
// wsrep_local_state_comment Synced.
Verdict judge_galera(const SqlResult& result);

class MysqlProbe final : public Probe {
 public:
  // Port 0 in the check means 3306. Never throws for a bad check: a missing
  // address is reported by each attempt as unhealthy.
  MysqlProbe(EventLoop& loop, const config::Check& check);
  ~MysqlProbe() override;
  MysqlProbe(const MysqlProbe&) = delete;
  MysqlProbe& operator=(const MysqlProbe&) = delete;

  // Connects and runs the steps; `done` runs later on the loop, never inside
  // start(). Starting while an attempt is in flight abandons that attempt.
  void start(Done done) override;
  // Abandons the attempt: shuts the socket down so that no library call can
  // wait, lets the suspended library call fail at once, frees the handle and
  // drops `done`. A TLS attempt's helper thread ends moments later. Safe at
  // any time, also from inside `done`.
  void cancel() override;
  // "vrrpd@192.0.2.11:3306", "[2001:db8::11]:3306/app tls writable lag<=10s galera".
  std::string target() const override;

 private:
  struct TlsAttempt;  // one TLS attempt on its helper thread (mysql_probe.cc)

  // The library call in flight (suspended, or just returned).
  enum class Op { kNone, kConnect, kQuery, kStoreResult, kNextResult, kClose };
  // What the attempt asks the server, in this order; each is optional but the first.
  enum class Step { kUserQuery, kReadOnly, kReplicaStatus, kGalera };

  // TLS: runs the attempt on a helper thread with its own loop and its own
  // MysqlProbe, and hands the result back with post().
  void start_tls_attempt();
  void on_tls_attempt_done(const std::shared_ptr<TlsAttempt>& attempt);
  // Opens this attempt's handle with the check's options and starts connecting.
  void begin();
  // Takes the status of a *_start/*_cont call: non-zero waits for the
  // events it names, zero handles the finished call.
  void proceed(int status);
  void wait_for(int status);
  // Before any library call: drops the fd watch and the timeout timer.
  void stop_waiting();
  // The socket or the timer is ready: resumes the suspended call.
  void on_ready(int ready_status);
  // Calls the *_cont function of op_ with `ready_status`; returns its status.
  int resume(int ready_status);
  // Handlers of each finished call: start the next call, the next step
  // (statement), or finish().
  void on_call_finished();
  void on_connected();
  void send_statement();
  void on_query_sent();
  void on_result_stored();
  void on_next_result();
  void on_statement_failed();
  void on_step_done();
  // The current step's SQL (for replica status, the current variant).
  const std::string& statement() const;
  // "query failed: ", "SHOW ALL SLAVES STATUS failed: ", ...
  std::string statement_failure_prefix() const;
  // Runs one step, turning any exception into an unhealthy result so that
  // nothing is thrown into the loop.
  template <typename Fn>
  void guarded(Fn fn);
  // Ends the attempt: closes the connection now, calls `done` from a zero timer.
  void finish(bool healthy, std::string reason);
  void fail(std::string reason) { finish(false, std::move(reason)); }
  // The zero timer's callback: hands the decided result to `done`.
  void report();
  // Says goodbye (COM_QUIT) when that cannot wait, else abandons; frees the handle.
  void close_connection();
  // Makes the suspended call (if any) fail now: socket shut down, then resumed
  // as if its timeout had expired, until the library returns.
  void abort_call();
  // Frees a result set that an abandoned store call still produced.
  void free_result();

  EventLoop& loop_;
  const config::Check check_;
  unsigned port_ = 3306;
  std::string host_;      // the address as text, "" when the check has none
  std::string endpoint_;  // "192.0.2.11:3306", "[2001:db8::11]:3306"
  std::vector<Step> steps_;
  std::vector<std::string> replica_statements_;  // tried in order on a syntax error

  st_mysql* mysql_ = nullptr;  // this attempt's connection, nullptr between attempts
  Op op_ = Op::kNone;
  std::size_t step_ = 0;             // index into steps_
  std::size_t replica_variant_ = 0;  // index into replica_statements_
  bool draining_ = false;            // reading extra result sets of a multi-result statement
  // Where the *_start/*_cont calls put their results.
  st_mysql* connect_ret_ = nullptr;
  int int_ret_ = 0;
  st_mysql_res* result_ret_ = nullptr;

  SqlResult rows_;                   // the current step's first result set
  std::vector<std::string> healthy_parts_;
  int waiting_for_ = 0;              // MYSQL_WAIT_* bits of the suspended call
  int watched_fd_ = -1;
  Timer wait_timer_;                 // the library's own timeout (MYSQL_WAIT_TIMEOUT)

  // TLS only (loop thread): the attempt whose result is wanted, and every
  // helper thread not joined yet (joined when its result arrives).
  bool tls_on_helper_ = true;  // false in the probe that runs on the helper
  std::shared_ptr<TlsAttempt> tls_current_;
  std::vector<std::shared_ptr<TlsAttempt>> tls_running_;
  // Helper side: told each socket the library waits on, so that cancel()
  // can shut it down from the checker loop while a blocking call runs.
  std::function<void(int fd)> socket_observer_;

  Done done_;
  bool reporting_ = false;           // result decided; `done` is due from report_timer_
  ProbeResult result_;
  EventLoop::TimerId report_timer_ = 0;  // 0: none pending
};

}  // namespace vrrpd::checkers
