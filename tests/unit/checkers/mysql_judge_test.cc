// The mysql probe's judgements of what the server returned: read_only
// against the expected role, replica status (MariaDB and MySQL 8 column
// names, multi-source), and Galera status. Pure functions, no server.
#include <gtest/gtest.h>

#include "checkers/mysql_probe.h"

namespace vrrpd::checkers {
namespace {

using Cell = std::optional<std::string>;

SqlResult one_value(Cell v) { return SqlResult{{"@@global.read_only"}, {{std::move(v)}}}; }

// SHOW ALL SLAVES STATUS reduced to the columns the judgement reads.
struct ReplicaRow {
  std::string name = "";
  std::string io = "Yes";
  std::string sql = "Yes";
  Cell lag = "0";
  std::string io_error = "";
  std::string sql_error = "";
};

SqlResult replicas(std::vector<ReplicaRow> rows, bool mysql8_names = false) {
  SqlResult r;
  if (mysql8_names)
    r.columns = {"Channel_Name", "Replica_IO_Running", "Replica_SQL_Running", "Seconds_Behind_Source",
                 "Last_IO_Error", "Last_SQL_Error"};
  else
    r.columns = {"Connection_name", "Slave_IO_Running", "Slave_SQL_Running", "Seconds_Behind_Master",
                 "Last_IO_Error", "Last_SQL_Error"};
  for (auto& row : rows) r.rows.push_back({row.name, row.io, row.sql, row.lag, row.io_error, row.sql_error});
  return r;
}

SqlResult galera(std::vector<std::pair<std::string, std::string>> vars) {
  SqlResult r{{"Variable_name", "Value"}, {}};
  for (auto& [n, v] : vars) r.rows.push_back({n, v});
  return r;
}

TEST(MysqlJudgeReadOnly, WritableNeedsReadOnlyOff) {
  EXPECT_TRUE(judge_read_only(one_value("0"), "writable").ok);
  EXPECT_EQ(judge_read_only(one_value("0"), "writable").text, "writable");
  const Verdict v = judge_read_only(one_value("1"), "writable");
  EXPECT_FALSE(v.ok);
  EXPECT_EQ(v.text, "read_only is ON, expected writable");
}

TEST(MysqlJudgeReadOnly, ReadOnlyNeedsReadOnlyOn) {
  EXPECT_EQ(judge_read_only(one_value("1"), "read-only").text, "read-only");
  EXPECT_TRUE(judge_read_only(one_value("1"), "read-only").ok);
  EXPECT_EQ(judge_read_only(one_value("0"), "read-only").text, "read_only is OFF, expected read-only");
}

TEST(MysqlJudgeReadOnly, EnumValuesOfLaterMariadbCount) {
  EXPECT_TRUE(judge_read_only(one_value("OFF"), "writable").ok);
  EXPECT_TRUE(judge_read_only(one_value("NO_LOCK"), "read-only").ok);
  EXPECT_EQ(judge_read_only(one_value("NO_LOCK_NO_ADMIN"), "writable").text,
            "read_only is NO_LOCK_NO_ADMIN, expected writable");
}

TEST(MysqlJudgeReadOnly, MissingValueIsUnhealthy) {
  EXPECT_FALSE(judge_read_only(SqlResult{}, "writable").ok);
  EXPECT_FALSE(judge_read_only(one_value(std::nullopt), "writable").ok);
  EXPECT_EQ(judge_read_only(one_value(std::nullopt), "writable").text,
            "read_only unknown: the server returned no value");
}

TEST(MysqlJudgeReplica, NoRowsIsNotAReplica) {
  const Verdict v = judge_replicas(replicas({}), 10);
  EXPECT_FALSE(v.ok);
  EXPECT_EQ(v.text, "not a replica");
}

TEST(MysqlJudgeReplica, HealthyWithinLagNamesTheLag) {
  ReplicaRow row;
  row.lag = "10";
  const Verdict v = judge_replicas(replicas({row}), 10);
  EXPECT_TRUE(v.ok);
  EXPECT_EQ(v.text, "replica lag 10 s");
}

TEST(MysqlJudgeReplica, IoThreadNotRunningQuotesStateAndError) {
  ReplicaRow row;
  row.io = "Connecting";
  row.lag = std::nullopt;
  row.io_error = "error connecting to master 'repl@192.0.2.11:3306' - retry-time: 60";
  EXPECT_EQ(judge_replicas(replicas({row}), 10).text,
            "replica IO thread not running (Connecting): error connecting to master "
            "'repl@192.0.2.11:3306' - retry-time: 60");
  row.io = "No";
  row.io_error = "";
  EXPECT_EQ(judge_replicas(replicas({row}), 10).text, "replica IO thread not running (No)");
}

TEST(MysqlJudgeReplica, SqlThreadNotRunningQuotesError) {
  ReplicaRow row;
  row.sql = "No";
  row.sql_error = "Duplicate entry '1' for key 'PRIMARY'";
  EXPECT_EQ(judge_replicas(replicas({row}), 10).text,
            "replica SQL thread not running (No): Duplicate entry '1' for key 'PRIMARY'");
}

TEST(MysqlJudgeReplica, LagAboveMaxOrUnknownIsUnhealthy) {
  ReplicaRow row;
  row.lag = "42";
  EXPECT_EQ(judge_replicas(replicas({row}), 10).text, "replica lag 42 s > 10 s");
  row.lag = std::nullopt;
  EXPECT_EQ(judge_replicas(replicas({row}), 10).text, "replica lag unknown (Seconds_Behind_Master is NULL)");
  row.lag = "soon";
  EXPECT_EQ(judge_replicas(replicas({row}), 10).text, "replica lag unreadable: \"soon\"");
}

TEST(MysqlJudgeReplica, ZeroMaxLagAcceptsOnlyZero) {
  ReplicaRow row;
  EXPECT_TRUE(judge_replicas(replicas({row}), 0).ok);
  row.lag = "1";
  EXPECT_FALSE(judge_replicas(replicas({row}), 0).ok);
}

TEST(MysqlJudgeReplica, OneHealthyConnectionOfSeveralIsEnough) {
  ReplicaRow broken{"east", "No", "Yes", std::nullopt, "gone", ""};
  ReplicaRow slow{"west", "Yes", "Yes", "30", "", ""};
  ReplicaRow good{"north", "Yes", "Yes", "2", "", ""};
  const Verdict v = judge_replicas(replicas({broken, slow, good}), 10);
  EXPECT_TRUE(v.ok);
  EXPECT_EQ(v.text, "replica lag 2 s");
}

TEST(MysqlJudgeReplica, AllConnectionsFailingNamesTheFirst) {
  ReplicaRow broken{"east", "No", "Yes", std::nullopt, "gone", ""};
  ReplicaRow slow{"west", "Yes", "Yes", "30", "", ""};
  EXPECT_EQ(judge_replicas(replicas({broken, slow}), 10).text,
            "connection 'east': replica IO thread not running (No): gone");
}

TEST(MysqlJudgeReplica, Mysql8ColumnNamesAreRead) {
  ReplicaRow row;
  row.lag = "3";
  EXPECT_EQ(judge_replicas(replicas({row}, /*mysql8_names=*/true), 10).text, "replica lag 3 s");
  row.lag = std::nullopt;
  EXPECT_EQ(judge_replicas(replicas({row}, true), 10).text,
            "replica lag unknown (Seconds_Behind_Source is NULL)");
}

TEST(MysqlJudgeReplica, UnknownColumnsAreUnhealthy) {
  SqlResult r{{"Foo"}, {{"x"}}};
  EXPECT_FALSE(judge_replicas(r, 10).ok);
  EXPECT_NE(judge_replicas(r, 10).text.find("unexpected replica status"), std::string::npos);
}

TEST(MysqlJudgeGalera, SyncedAndReadyIsHealthy) {
  const Verdict v = judge_galera(galera({{"wsrep_local_state_comment", "Synced"}, {"wsrep_ready", "ON"}}));
  EXPECT_TRUE(v.ok);
  EXPECT_EQ(v.text, "galera Synced");
}

TEST(MysqlJudgeGalera, NotReadyOrNotSyncedIsUnhealthy) {
  EXPECT_EQ(judge_galera(galera({{"wsrep_ready", "OFF"}, {"wsrep_local_state_comment", "Synced"}})).text,
            "galera wsrep_ready is OFF, expected ON");
  EXPECT_EQ(judge_galera(galera({{"wsrep_ready", "ON"}, {"wsrep_local_state_comment", "Donor/Desynced"}})).text,
            "galera state is Donor/Desynced, expected Synced");
  EXPECT_EQ(judge_galera(galera({})).text, "not a Galera node (no wsrep_ready status)");
  EXPECT_EQ(judge_galera(galera({{"wsrep_ready", "ON"}})).text,
            "galera state unknown (no wsrep_local_state_comment status)");
}

TEST(MysqlJudge, ServerTextIsMadePrintable) {
  ReplicaRow row;
  row.io = "No";
  row.io_error = "line one\nline two\x01";
  EXPECT_EQ(judge_replicas(replicas({row}), 10).text, "replica IO thread not running (No): line one line two ");
}

TEST(MysqlJudge, ColumnLookupIgnoresCase) {
  SqlResult r{{"a", "SLAVE_IO_RUNNING"}, {}};
  EXPECT_EQ(r.column({"Slave_IO_Running"}), 1);
  EXPECT_EQ(r.column({"Replica_IO_Running", "slave_io_running"}), 1);
  EXPECT_EQ(r.column({"nope"}), -1);
}

}  // namespace
}  // namespace vrrpd::checkers
