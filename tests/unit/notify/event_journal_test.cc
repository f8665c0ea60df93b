// EventJournal: ordering and sequence numbers, the memory bound, --since
// filtering and parsing, the JSON-lines file (format version 1), rotation,
// and that a file that cannot be written costs lines, not the caller.
#include "notify/event_journal.h"

#include <gtest/gtest.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

namespace vrrpd::notify {
namespace {

using namespace std::chrono_literals;

// 2026-11-30T04:00:00Z
const WallTime kBase = std::chrono::system_clock::from_time_t(1796011200);

struct FakeWall {
  WallTime now = kBase;
  EventJournal::WallClock clock() {
    return [this] { return now; };
  }
};

std::vector<std::string> read_lines(const std::string& path) {
  std::ifstream in(path);
  std::vector<std::string> lines;
  for (std::string l; std::getline(in, l);) lines.push_back(l);
  return lines;
}

class TempDir {
 public:
  TempDir() {
    char tmpl[] = "/tmp/vrrpd-journal-XXXXXX";
    path_ = mkdtemp(tmpl);
  }
  ~TempDir() { std::filesystem::remove_all(path_); }
  std::string file(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

TEST(EventJournal, KeepsEventsInOrderWithIncreasingSeq) {
  FakeWall wall;
  EventJournal j({}, wall.clock());
  EXPECT_EQ(j.record("vrrp", "VI_1", "transition", "INIT -> BACKUP (startup)"), 1u);
  wall.now += 1500ms;
  EXPECT_EQ(j.record("check", "web", "check-down", "check web down: connection refused",
                     {{"latency_ms", 3}}), 2u);
  auto all = j.events();
  ASSERT_EQ(all.size(), 2u);
  EXPECT_EQ(all[0].text, "INIT -> BACKUP (startup)");
  EXPECT_EQ(all[1].source, "check");
  EXPECT_EQ(all[1].time - all[0].time, 1500ms);
  EXPECT_EQ(all[1].detail["latency_ms"], 3);
  EXPECT_TRUE(all[0].detail.is_object());
}

TEST(EventJournal, DropsTheOldestBeyondCapacityAndCountsThem) {
  FakeWall wall;
  EventJournal j({.capacity = 3}, wall.clock());
  for (int i = 1; i <= 5; ++i) j.record("daemon", "", "test", "event " + std::to_string(i));
  auto all = j.events();
  ASSERT_EQ(all.size(), 3u);
  EXPECT_EQ(all.front().text, "event 3");
  EXPECT_EQ(all.front().seq, 3u);
  EXPECT_EQ(j.evicted(), 2u);
}

TEST(EventJournal, SinceAndLimitSelectTheNewest) {
  FakeWall wall;
  EventJournal j({}, wall.clock());
  for (int i = 0; i < 4; ++i) {
    j.record("daemon", "", "test", "at " + std::to_string(i) + " s");
    wall.now += 1s;
  }
  auto from2 = j.events(kBase + 2s);
  ASSERT_EQ(from2.size(), 2u);
  EXPECT_EQ(from2[0].text, "at 2 s");
  auto last1 = j.events(std::nullopt, 1);
  ASSERT_EQ(last1.size(), 1u);
  EXPECT_EQ(last1[0].text, "at 3 s");
}

TEST(EventJournal, EventsAfterASeqAreTheOldestOnesAfterIt) {
  FakeWall wall;
  EventJournal j({.capacity = 4}, wall.clock());
  EXPECT_EQ(j.started(), kBase);
  EXPECT_EQ(j.last_seq(), 0u);
  EXPECT_TRUE(j.events_after(0).empty());
  for (int i = 1; i <= 6; ++i) j.record("daemon", "", "test", "event " + std::to_string(i));
  EXPECT_EQ(j.last_seq(), 6u);
  // 1 and 2 were evicted: a follower that had seen 1 gets what is left.
  auto after1 = j.events_after(1);
  ASSERT_EQ(after1.size(), 4u);
  EXPECT_EQ(after1.front().seq, 3u);
  auto after3 = j.events_after(3, 2);
  ASSERT_EQ(after3.size(), 2u) << "the oldest two after 3, not the newest";
  EXPECT_EQ(after3[0].seq, 4u);
  EXPECT_EQ(after3[1].seq, 5u);
  EXPECT_TRUE(j.events_after(6).empty());
  EXPECT_TRUE(j.events_after(99).empty());
}

TEST(EventJournal, FileHoldsOneJsonObjectPerLineInFormatVersion1) {
  TempDir dir;
  FakeWall wall;
  wall.now += 123ms;
  {
    EventJournal j({.file = dir.file("events.jsonl")}, wall.clock());
    j.record("vrrp", "VI_1", "transition", "BACKUP -> MASTER (master down timer expired)",
             {{"from", "BACKUP"}, {"to", "MASTER"}});
    j.record("daemon", "", "stop", "vrrpd stopping");
  }  // the destructor writes what is queued
  auto lines = read_lines(dir.file("events.jsonl"));
  ASSERT_EQ(lines.size(), 2u);
  auto first = nlohmann::json::parse(lines[0]);
  EXPECT_EQ(first["v"], 1);
  EXPECT_EQ(first["seq"], 1);
  EXPECT_EQ(first["time"], "2026-11-30T04:00:00.123Z");
  EXPECT_EQ(first["source"], "vrrp");
  EXPECT_EQ(first["subject"], "VI_1");
  EXPECT_EQ(first["what"], "transition");
  EXPECT_EQ(first["detail"]["to"], "MASTER");
  EXPECT_EQ(nlohmann::json::parse(lines[1])["what"], "stop");
}

TEST(EventJournal, RotatesTheFileAtItsSizeLimit) {
  TempDir dir;
  FakeWall wall;
  EventJournal j({.file = dir.file("events.jsonl"), .file_max_bytes = 400}, wall.clock());
  for (int i = 0; i < 10; ++i) j.record("daemon", "", "test", std::string(50, 'x'));
  j.flush_file();
  auto current = read_lines(dir.file("events.jsonl"));
  auto rotated = read_lines(dir.file("events.jsonl.1"));
  EXPECT_FALSE(rotated.empty());
  EXPECT_FALSE(current.empty());
  EXPECT_LE(std::filesystem::file_size(dir.file("events.jsonl")), 400u);
  // Nothing lost across the rotation: the newest lines are in the current
  // file, and the rotated one ends where the current one begins.
  EXPECT_EQ(nlohmann::json::parse(current.back())["seq"], 10);
  EXPECT_EQ(nlohmann::json::parse(rotated.back())["seq"].get<int>() + 1,
            nlohmann::json::parse(current.front())["seq"].get<int>());
}

TEST(EventJournal, UnwritableFileCostsLinesNotEvents) {
  FakeWall wall;
  EventJournal j({.file = "/nonexistent-dir/events.jsonl"}, wall.clock());
  j.record("daemon", "", "start", "vrrpd started");
  j.flush_file();
  EXPECT_EQ(j.events().size(), 1u);
  EXPECT_EQ(j.file_lines_dropped(), 1u);
  EXPECT_NE(j.file_error().find("cannot open /nonexistent-dir/events.jsonl: No such file or directory"),
            std::string::npos)
      << j.file_error();
}

TEST(EventJournal, FullWriterQueueDropsNewLinesAndCountsThem) {
  FakeWall wall;
  // A FIFO nobody reads blocks open(O_WRONLY) in the writer thread: the
  // stand-in for a hung disk. record() must not wait for it.
  TempDir dir;
  std::string fifo = dir.file("fifo");
  ASSERT_EQ(mkfifo(fifo.c_str(), 0600), 0);
  {
    EventJournal j({.file = fifo, .file_queue_max = 4}, wall.clock());
    for (int i = 0; i < 20; ++i) j.record("daemon", "", "test", "line");
    EXPECT_EQ(j.events().size(), 20u);
    // One line may be in the writer's hands; the queue holds 4; the rest drop.
    EXPECT_GE(j.file_lines_dropped(), 15u);
    // Let the writer finish: a reader drains the FIFO.
    int rd = open(fifo.c_str(), O_RDONLY | O_NONBLOCK);
    ASSERT_GE(rd, 0);
    std::thread drain([rd] {
      char buf[4096];
      for (int idle = 0; idle < 200;) {
        if (read(rd, buf, sizeof buf) > 0) idle = 0;
        else { ++idle; usleep(1000); }
      }
    });
    j.flush_file();
    drain.join();
    close(rd);
  }
}

TEST(ParseSince, DurationsCountBackFromNow) {
  EXPECT_EQ(parse_since("90s", kBase), kBase - 90s);
  EXPECT_EQ(parse_since("15m", kBase), kBase - 15min);
  EXPECT_EQ(parse_since("2h", kBase), kBase - 2h);
  EXPECT_EQ(parse_since("1d", kBase), kBase - 24h);
}

TEST(ParseSince, UtcAndLocalTimes) {
  EXPECT_EQ(parse_since("2026-11-30T03:30:00Z", kBase), kBase - 30min);
  EXPECT_EQ(parse_since("2026-11-30T03:30Z", kBase), kBase - 30min);
  // Local forms: compare through the same local conversion.
  setenv("TZ", "UTC", 1);
  tzset();
  EXPECT_EQ(parse_since("2026-11-30 03:30:00", kBase), kBase - 30min);
  EXPECT_EQ(parse_since("2026-11-30T03:30", kBase), kBase - 30min);
  EXPECT_EQ(parse_since("03:30", kBase), kBase - 30min);
  EXPECT_EQ(parse_since("2026-11-30", kBase), kBase - 4h);
  unsetenv("TZ");
  tzset();
}

TEST(ParseSince, RejectsWhatItDoesNotKnow) {
  for (const char* bad : {"", "yesterday", "5x", "-5m", "25:00", "2026-13-01", "2026-11-30 4:30",
                          "03:30Z", "12:00:00junk"})
    EXPECT_FALSE(parse_since(bad, kBase)) << bad;
}

}  // namespace
}  // namespace vrrpd::notify
