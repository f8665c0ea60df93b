// vrrpctl: asks a running vrrpd what it is doing and tells it what to do,
// over the control socket (protocol in protocol.h).
#include <chrono>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <iostream>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "notify/event_journal.h"
#include "vrrpd/control/control_client.h"
#include "vrrpd/control/protocol.h"

namespace {

using nlohmann::json;
using vrrpd::control::ResultCode;

void usage(std::FILE* out) {
  std::fprintf(out,
               "Usage: vrrpctl [-s SOCKET] COMMAND [ARGS]\n"
               "  status [--json]                 every instance: state, priority, master, VIPs, last transition\n"
               "  show INSTANCE [--json]          one instance in detail\n"
               "  stats [--json]                  advert and error counters\n"
               "  checks [--json]                 health checks: state, counts, last result, latency\n"
               "  events [--since T] [--limit N] [--follow] [--json]\n"
               "                                  the node's event journal, oldest first; T: 15m, 2h,\n"
               "                                  04:27, '2026-11-30 04:27:26' (local) or ...Z (UTC);\n"
               "                                  --follow: then each new event as it comes (with\n"
               "                                  --json one JSON object per line), until interrupted\n"
               "  replication status [NAME] [--json]\n"
               "                                  replicated volumes: role, disk, peer, connection,\n"
               "                                  out-of-sync, resync progress, I/O errors, traffic\n"
               "  replication OP NAME [--force]   OP: create-md, up, attach, detach, down, primary (--force),\n"
               "                                  secondary, connect, disconnect, discard-my-data,\n"
               "                                  invalidate, invalidate-remote, outdate, resume-io,\n"
               "                                  verify, resize (--size SIZE, --assume-clean),\n"
               "                                  pause-sync, resume-sync, skip-initial-sync,\n"
               "                                  mount, umount, dump-md (a resource that is down)\n"
               "                                  resize --size SIZE: grow to exactly SIZE bytes, or\n"
               "                                  shrink to it (on the Primary, the file system shrunk\n"
               "                                  first); K, M, G, T: 2^10.. bytes; --assume-clean: the\n"
               "                                  added space reads as zeros on both nodes, no resync\n"
               "  replication show-gi NAME        generation identifiers of both nodes and what the\n"
               "                                  last handshake decided from them\n"
               "  replication wait-connect|wait-sync NAME [--timeout S]\n"
               "                                  wait until NAME is connected to its peer / also in\n"
               "                                  sync (Established, UpToDate/UpToDate); exit 4 after\n"
               "                                  S seconds (default: no limit)\n"
               "  reload                          re-read the configuration (like SIGHUP)\n"
               "  set-priority INSTANCE N         set the base priority (1..254)\n"
               "  maintenance INSTANCE on|off     hand mastership away / allow it again\n"
               "Options:\n"
               "  -s, --socket PATH               control socket (default %s)\n",
               vrrpd::control::kDefaultSocketPath);
}

std::string ago(long long time_ms) {
  if (time_ms <= 0) return "-";
  using namespace std::chrono;
  long long now = duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
  long long s = (now - time_ms) / 1000;
  if (s < 120) return std::to_string(s) + "s ago";
  if (s < 7200) return std::to_string(s / 60) + "m ago";
  return std::to_string(s / 3600) + "h ago";
}

std::string join(const json& arr) {
  std::string out;
  for (const auto& v : arr) out += (out.empty() ? "" : ",") + v.get<std::string>();
  return out.empty() ? "-" : out;
}

void print_status_table(const json& data) {
  std::printf("%-16s %-10s %4s %-7s %4s %-34s %-24s %s\n", "INSTANCE", "INTERFACE", "VRID", "STATE", "PRIO",
              "MASTER", "VIPS", "LAST TRANSITION");
  for (const auto& i : data["instances"]) {
    const auto& t = i["last_transition"];
    std::string trans = t["from"].get<std::string>() + "->" + t["to"].get<std::string>() + " " +
                        ago(t["time_ms"].get<long long>()) + ": " + t["reason"].get<std::string>();
    std::string state = i["state"].get<std::string>();
    if (i["maintenance"].get<bool>()) state += "*";
    std::string master = i["master"].get<std::string>();
    std::printf("%-16s %-10s %4d %-7s %4d %-34s %-24s %s\n", i["name"].get<std::string>().c_str(),
                i["interface"].get<std::string>().c_str(), i["vrid"].get<int>(), state.c_str(),
                i["priority"].get<int>(), master.empty() ? "-" : master.c_str(), join(i["vips"]).c_str(),
                trans.c_str());
    // Say why when the effective priority is not the base priority.
    if (i["priority"].get<int>() != i["base_priority"].get<int>() || !i["fault_reason"].get<std::string>().empty()) {
      std::printf("%-16s   priority: %s", "", i["priority_detail"].get<std::string>().c_str());
      if (!i["fault_reason"].get<std::string>().empty())
        std::printf("; fault: %s", i["fault_reason"].get<std::string>().c_str());
      std::printf("\n");
    }
    // Failover with data: the takeover or release in progress, or the last failure.
    if (i.contains("failover")) {
      const auto& f = i["failover"];
      const std::string phase = f["phase"].get<std::string>(), error = f["last_error"].get<std::string>();
      if (phase != "released" || !error.empty()) {
        std::printf("%-16s   %s", "", f["display"].get<std::string>().c_str());
        if (!error.empty()) std::printf("; last error: %s", error.c_str());
        std::printf("\n");
      }
    }
  }
}

void print_checks(const json& data) {
  std::printf("%-14s %-5s %-30s %-5s %4s %4s %8s %-12s %-14s %s\n", "CHECK", "KIND", "TARGET", "STATE", "OK",
              "FAIL", "LATENCY", "LAST CHANGE", "TRACKED BY", "LAST RESULT");
  for (const auto& c : data["checks"]) {
    std::string users = join(c["tracked_by"]);
    char latency[32] = "-";
    if (c["has_result"].get<bool>()) std::snprintf(latency, sizeof latency, "%.1fms", c["last_latency_ms"].get<double>());
    std::string result = c["has_result"].get<bool>()
                             ? c["last_result"].get<std::string>() + ": " + c["last_reason"].get<std::string>()
                             : "(no attempt yet)";
    std::printf("%-14s %-5s %-30s %-5s %4d %4d %8s %-12s %-14s %s\n", c["name"].get<std::string>().c_str(),
                c["kind"].get<std::string>().c_str(), c["target"].get<std::string>().c_str(),
                c["state"].get<std::string>().c_str(), c["consecutive_successes"].get<int>(),
                c["consecutive_failures"].get<int>(), latency, ago(c["last_change_ms"].get<long long>()).c_str(),
                users.c_str(), result.c_str());
  }
}

void print_event_header() { std::printf("%-23s %-11s %-14s %s\n", "TIME", "SOURCE", "SUBJECT", "EVENT"); }

void print_event_row(const json& e) {
  // The journal's time is UTC; people read tables next to local logs.
  std::string utc = e["time"].get<std::string>();
  tm parts{};
  std::string local = utc;
  if (strptime(utc.c_str(), "%Y-%m-%dT%H:%M:%S", &parts) != nullptr) {
    const long long ms = std::atoll(utc.substr(20, 3).c_str());
    local = vrrpd::notify::format_local(std::chrono::system_clock::from_time_t(timegm(&parts)) +
                                        std::chrono::milliseconds(ms));
  }
  std::string subject = e["subject"].get<std::string>();
  std::printf("%-23s %-11s %-14s %s\n", local.c_str(), e["source"].get<std::string>().c_str(),
              subject.empty() ? "-" : subject.c_str(), e["text"].get<std::string>().c_str());
}

void print_events(const json& data) {
  print_event_header();
  for (const auto& e : data["events"]) print_event_row(e);
  if (data.value("evicted", 0) > 0)
    std::printf("(%llu older events no longer in memory%s)\n", data["evicted"].get<unsigned long long>(),
                data.value("file", std::string()).empty() ? "" : "; see the journal file");
  if (!data.value("file_error", std::string()).empty())
    std::printf("journal file: %s (%llu lines not written)\n", data["file_error"].get<std::string>().c_str(),
                data["file_lines_dropped"].get<unsigned long long>());
}

std::string kib(unsigned long long k) {
  char buf[32];
  if (k >= 1024ull * 1024) std::snprintf(buf, sizeof buf, "%.1f GiB", static_cast<double>(k) / (1024.0 * 1024));
  else if (k >= 1024) std::snprintf(buf, sizeof buf, "%.1f MiB", static_cast<double>(k) / 1024);
  else std::snprintf(buf, sizeof buf, "%llu KiB", k);
  return buf;
}

void print_replication(const json& data) {
  std::printf("%-10s %-9s %-12s %-9s %-12s %-13s %-12s %10s %s\n", "RESOURCE", "ROLE", "DISK", "PEER", "PEER DISK",
              "CONNECTION", "REPLICATION", "OUT-SYNC", "DEVICE");
  for (const auto& r : data["resources"]) {
    std::string device = r["device_link"].get<std::string>();
    if (!device.empty()) device += " -> " + r["device"].get<std::string>();
    if (r["mounted"].get<bool>()) device += " on " + r["mount_point"].get<std::string>();
    if (!r["up"].get<bool>()) device = "(down)";
    std::printf("%-10s %-9s %-12s %-9s %-12s %-13s %-12s %10s %s\n", r["name"].get<std::string>().c_str(),
                r["role"].get<std::string>().c_str(), r["disk"].get<std::string>().c_str(),
                r["peer_role"].get<std::string>().c_str(), r["peer_disk"].get<std::string>().c_str(),
                r["connection"].get<std::string>().c_str(), r["replication"].get<std::string>().c_str(),
                kib(r["out_of_sync_kib"].get<unsigned long long>()).c_str(), device.c_str());
    const auto total = r["resync_total_kib"].get<unsigned long long>();
    if (!r["resync_eta_s"].is_null() && total > 0)
      std::printf("  resync: %s of %s done (%.0f%%), about %llu s left\n",
                  kib(r["resync_done_kib"].get<unsigned long long>()).c_str(), kib(total).c_str(),
                  100.0 * static_cast<double>(r["resync_done_kib"].get<unsigned long long>()) / static_cast<double>(total),
                  r["resync_eta_s"].get<unsigned long long>());
    // The running settings (a reload may have changed them); older daemons do not send them.
    if (r["up"].get<bool>() && r.contains("protocol") && r.contains("resync_rate_limit_kib"))
      std::printf("  protocol %s, resync rate limit %s/s\n", r["protocol"].get<std::string>().c_str(),
                  kib(r["resync_rate_limit_kib"].get<unsigned long long>()).c_str());
    // Older daemons do not send discarded_kib; shown only once something was discarded.
    const unsigned long long discarded = r.contains("discarded_kib") ? r["discarded_kib"].get<unsigned long long>() : 0;
    std::printf("  sent %s, received %s, written %s%s, I/O errors %llu%s\n",
                kib(r["sent_kib"].get<unsigned long long>()).c_str(),
                kib(r["received_kib"].get<unsigned long long>()).c_str(),
                kib(r["written_kib"].get<unsigned long long>()).c_str(),
                discarded > 0 ? (", discarded " + kib(discarded)).c_str() : "", r["io_errors"].get<unsigned long long>(),
                r["peer"].get<std::string>().empty() ? "" : (", peer " + r["peer"].get<std::string>()).c_str());
    if (r["replication"] == "VerifyS" || r["replication"] == "VerifyT" ||
        r["verify_done_kib"].get<unsigned long long>() > 0)
      std::printf("  verify: %s compared, %s found out of sync\n",
                  kib(r["verify_done_kib"].get<unsigned long long>()).c_str(),
                  kib(r["verify_out_of_sync_kib"].get<unsigned long long>()).c_str());
    if (r["split_brain"].get<bool>())
      std::printf("  SPLIT BRAIN: %s\n", r["split_brain_text"].get<std::string>().c_str());
    if (r.contains("fencing") && !r["fencing"].get<std::string>().empty())
      std::printf("  fencing (%s): %s\n", r.value("fencing_policy", std::string("resource-only")).c_str(),
                  r["fencing"].get<std::string>().c_str());
    if (const std::string paused = r.value("resync_paused", std::string()); !paused.empty()) {
      // "user", "after", "peer", joined by "," (replication/status.h).
      std::string by;
      for (const auto& [who, text] : {std::pair<std::string, std::string>{"user", "this node's operator"},
                                      {"after", "this node's resync_after (a resource it waits for resyncs)"},
                                      {"peer", "the peer (its operator or its resync_after)"}})
        if (("," + paused + ",").find("," + who + ",") != std::string::npos) by += (by.empty() ? "" : " and ") + text;
      std::printf("  resync paused by %s (an operator's pause ends with vrrpctl replication resume-sync %s on the "
                  "node that paused it)\n",
                  by.c_str(), r["name"].get<std::string>().c_str());
    }
    if (r.value("io_suspended", false))
      std::printf("  I/O SUSPENDED: %s; writes wait until the peer is outdated or the link is back "
                  "(vrrpctl replication resume-io %s to go on without)\n",
                  r["io_suspended_why"].get<std::string>().c_str(), r["name"].get<std::string>().c_str());
    if (r.value("only_copy_given_up", false)) {
      // Older daemons do not send it.
      const unsigned long long kept = r.value("kept_for_write_back_kib", 0ull);
      std::printf("  ONLY COPY GIVEN UP: the data is on the disk this Primary gave up, and no peer holds it; "
                  "reads and writes fail until vrrpctl replication attach %s takes that disk back once it works "
                  "(another disk is refused)%s\n",
                  r["name"].get<std::string>().c_str(),
                  kept == 0 ? ""
                            : ("; " + kib(kept) +
                               " that no flush had made durable are kept in memory for it: a restart of the daemon "
                               "loses them")
                                  .c_str());
    }
    if (!r["problem"].get<std::string>().empty())
      std::printf("  problem: %s\n", r["problem"].get<std::string>().c_str());
    else if (!r["last_error"].get<std::string>().empty() &&
             !(r["connection"] == "Connected" && r["last_error"].get<std::string>().rfind("connector:", 0) == 0))
      // A connection problem that has since been overcome is not news.
      std::printf("  last error: %s\n", r["last_error"].get<std::string>().c_str());
  }
}

void print_show(const json& i) {
  for (const auto& [k, v] : i.items()) {
    if (k == "stats" || k == "last_transition") continue;
    std::printf("%-26s %s\n", (k + ":").c_str(), v.is_string() ? v.get<std::string>().c_str() : v.dump().c_str());
  }
  const auto& t = i["last_transition"];
  std::printf("%-26s %s -> %s, %s: %s\n", "last_transition:", t["from"].get<std::string>().c_str(),
              t["to"].get<std::string>().c_str(), ago(t["time_ms"].get<long long>()).c_str(),
              t["reason"].get<std::string>().c_str());
  std::printf("stats:\n");
  for (const auto& [k, v] : i["stats"].items()) std::printf("  %-24s %s\n", (k + ":").c_str(), v.dump().c_str());
}

void print_stats(const json& data) {
  for (const auto& [name, s] : data["instances"].items()) {
    std::printf("%s:\n", name.c_str());
    for (const auto& [k, v] : s.items()) std::printf("  %-24s %s\n", (k + ":").c_str(), v.dump().c_str());
  }
}

// vrrpctl replication show-gi NAME (drbdadm show-gi): the generation
// identifiers from replication-status, one row per node, as DRBD prints
// them (current:bitmap:history:history), and the last handshake's decision.
void print_generations(const json& r) {
  auto row = [](const json& g) {
    if (g.is_null()) return std::string("(not known)");
    return g["current"].get<std::string>() + ":" + g["bitmap"].get<std::string>() + ":" +
           g["history"][0].get<std::string>() + ":" + g["history"][1].get<std::string>();
  };
  // value(): a daemon older than show-gi sends none of these.
  std::printf("%s: generations current:bitmap:history:history (bit 0: was Primary)\n",
              r["name"].get<std::string>().c_str());
  std::printf("  this node  %s  %s/%s\n", row(r.value("generations", json())).c_str(),
              r["role"].get<std::string>().c_str(), r["disk"].get<std::string>().c_str());
  std::printf("  peer       %s  %s\n", row(r.value("peer_generations", json())).c_str(),
              r["connection"] == "Connected" ? "(connected)" : "(at the last handshake)");
  const std::string last = r.value("last_handshake", std::string());
  std::printf("  last handshake: %s\n", last.empty() ? "none since the daemon started" : last.c_str());
}

// Events asked for at once while following; fewer than this means caught up.
constexpr int kFollowBatch = 1000;

// vrrpctl events --follow: the first request as given (--since, --limit),
// then every 250 ms the events after the last one printed (after_seq), so
// each is printed once, in order. A daemon that does not answer is waited
// for; one that restarted (another run_started_ms: its seqs start at 1
// again) is followed from its first event. Ends only when interrupted, or
// when the daemon refuses the request.
int follow_events(const std::string& socket_path, json args, bool as_json) {
  using namespace std::chrono_literals;
  if (!as_json) print_event_header();
  std::optional<long long> run;  // run_started_ms of the daemon followed
  bool first = true, lost = false;
  for (;;) {
    json resp;
    try {
      resp = vrrpd::control::call(socket_path, vrrpd::control::make_request("events", args), 5000ms);
    } catch (const std::exception& e) {
      if (!lost) std::fprintf(stderr, "vrrpctl: %s; waiting for the daemon\n", e.what());
      lost = true;
      std::this_thread::sleep_for(1s);
      continue;
    }
    if (resp.value("result", 1) != 0) {
      std::fprintf(stderr, "vrrpctl: %s\n", resp.value("result_text", std::string("error")).c_str());
      return 1;
    }
    const json& data = resp["data"];
    if (!data.contains("last_seq")) {
      // It would ignore after_seq and send the whole journal every time.
      std::fprintf(stderr, "vrrpctl: this vrrpd predates events --follow; use a vrrpctl and vrrpd of one build\n");
      return 1;
    }
    const long long this_run = data.value("run_started_ms", 0LL);
    if (lost) std::fprintf(stderr, "vrrpctl: the daemon answers again\n");
    lost = false;
    if (run && *run != this_run) {
      // What this answer holds is from the new run after the old run's
      // seq: start that run from its beginning instead.
      std::fprintf(stderr, "vrrpctl: the daemon restarted; following its new run from the first event\n");
      run = this_run;
      args = {{"after_seq", 0}, {"limit", kFollowBatch}};
      continue;
    }
    run = this_run;
    const json& events = data["events"];
    for (const auto& e : events) {
      if (as_json) std::printf("%s\n", e.dump().c_str());
      else print_event_row(e);
    }
    std::fflush(stdout);
    uint64_t last = args.value("after_seq", uint64_t{0});
    if (!events.empty()) last = events.back()["seq"].get<uint64_t>();
    else if (first) last = data.value("last_seq", uint64_t{0});  // nothing matched --since: from now on
    first = false;
    args = {{"after_seq", last}, {"limit", kFollowBatch}};
    if (events.size() < static_cast<size_t>(kFollowBatch)) std::this_thread::sleep_for(250ms);
  }
}

// vrrpctl replication wait-connect|wait-sync NAME (drbdadm wait-connect,
// drbdsetup wait-sync-resource): polls the resource's status every 200 ms
// until it is connected to its peer (wait-connect) or, besides, has nothing
// left to resync: Established with both disks UpToDate (wait-sync). A
// daemon that does not answer yet (starting at boot) is waited for too.
// 0 when reached; 1 if the daemon does not know the resource; 4 after
// `timeout_s`, saying where it stood.
int wait_for_resource(const std::string& socket_path, const std::string& name, bool sync,
                      std::optional<double> timeout_s) {
  using namespace std::chrono;
  const auto start = steady_clock::now();
  std::string where = "no answer from the daemon yet";
  for (;;) {
    try {
      json resp = vrrpd::control::call(
          socket_path, vrrpd::control::make_request("replication-status", {{"resource", name}}), milliseconds(5000));
      if (resp.value("result", 1) != 0) {
        std::fprintf(stderr, "vrrpctl: %s\n", resp.value("result_text", std::string("error")).c_str());
        return 1;
      }
      const json& r = resp["data"]["resources"].at(0);
      const bool connected = r["connection"] == "Connected";
      if (connected && (!sync || (r["replication"] == "Established" && r["disk"] == "UpToDate" &&
                                  r["peer_disk"] == "UpToDate"))) {
        std::printf("%s: %s\n", name.c_str(),
                    sync ? "in sync (Established, UpToDate/UpToDate)" : "connected to its peer");
        return 0;
      }
      where = !r["up"].get<bool>()
                  ? std::string("down")
                  : "connection " + r["connection"].get<std::string>() + ", replication " +
                        r["replication"].get<std::string>() + ", disk " + r["disk"].get<std::string>() + "/" +
                        r["peer_disk"].get<std::string>();
      if (r["split_brain"].get<bool>()) where += "; split brain: " + r["split_brain_text"].get<std::string>();
      const auto total = r["resync_total_kib"].get<unsigned long long>();
      if (total > 0 && (r["replication"] == "SyncSource" || r["replication"] == "SyncTarget"))
        where += "; resync " + kib(r["resync_done_kib"].get<unsigned long long>()) + " of " + kib(total);
    } catch (const std::exception& e) {
      where = e.what();
    }
    if (timeout_s && steady_clock::now() - start >= duration<double>(*timeout_s)) {
      std::fprintf(stderr, "vrrpctl: %s: not %s after %g s: %s\n", name.c_str(),
                   sync ? "in sync" : "connected", *timeout_s, where.c_str());
      return 4;
    }
    std::this_thread::sleep_for(milliseconds(200));
  }
}

}  // namespace

int main(int argc, char** argv) {
  std::string socket_path = vrrpd::control::kDefaultSocketPath;
  std::vector<std::string> args;
  bool as_json = false;
  bool force = false, assume_clean = false, follow = false;
  std::string since, limit, size;
  std::optional<double> timeout_s;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if ((a == "-s" || a == "--socket") && i + 1 < argc) {
      socket_path = argv[++i];
    } else if (a == "--since" && i + 1 < argc) {
      since = argv[++i];
    } else if (a == "--limit" && i + 1 < argc) {
      limit = argv[++i];
    } else if (a == "--json") {
      as_json = true;
    } else if (a == "--force") {
      force = true;
    } else if (a == "--size") {
      if (i + 1 == argc) {
        std::fprintf(stderr, "vrrpctl: --size needs a value (bytes, or with K, M, G or T: 10G)\n");
        return 2;
      }
      size = argv[++i];
    } else if (a == "--assume-clean") {
      assume_clean = true;
    } else if (a == "--follow" || a == "-f") {
      follow = true;
    } else if (a == "--timeout") {
      char* end = nullptr;
      const double t = i + 1 < argc ? std::strtod(argv[i + 1], &end) : -1;
      if (i + 1 == argc || end == argv[i + 1] || *end != '\0' || !(t > 0)) {
        std::fprintf(stderr, "vrrpctl: --timeout needs a number of seconds above 0 (30, 0.5)\n");
        return 2;
      }
      timeout_s = t;
      ++i;
    } else if (a == "-h" || a == "--help") {
      usage(stdout);
      return 0;
    } else {
      args.push_back(a);
    }
  }
  if (args.empty()) {
    usage(stderr);
    return 2;
  }
  std::string cmd = args[0];
  json req_args = json::object();
  const bool waiting = cmd == "replication" && args.size() >= 2 && (args[1] == "wait-connect" || args[1] == "wait-sync");
  if (follow && cmd != "events") {
    std::fprintf(stderr, "vrrpctl: --follow is an option of events\n");
    return 2;
  }
  if (timeout_s && !waiting) {
    std::fprintf(stderr, "vrrpctl: --timeout is an option of replication wait-connect and wait-sync\n");
    return 2;
  }
  // Replication operations may take a while (a promotion attaches a loop
  // device, an unmount waits for a busy file system).
  auto timeout = std::chrono::milliseconds(5000);
  auto need = [&](std::size_t n) {
    if (args.size() != n + 1) {
      std::fprintf(stderr, "vrrpctl: %s takes %zu argument(s)\n", cmd.c_str(), n);
      usage(stderr);
      std::exit(2);
    }
  };
  if (cmd == "status" || cmd == "stats" || cmd == "reload" || cmd == "checks") {
    need(0);
  } else if (cmd == "replication") {
    if (args.size() >= 2 && args[1] == "status") {
      if (args.size() > 3) {
        std::fprintf(stderr, "vrrpctl: replication status takes at most one resource name\n");
        return 2;
      }
      if (args.size() == 3) req_args["resource"] = args[2];
      cmd = "replication-status";
    } else if (args.size() >= 2 && (args[1] == "wait-connect" || args[1] == "wait-sync")) {
      if (args.size() != 3) {
        std::fprintf(stderr, "vrrpctl: replication %s takes a resource name\n", args[1].c_str());
        return 2;
      }
      return wait_for_resource(socket_path, args[2], args[1] == "wait-sync", timeout_s);
    } else if (args.size() >= 2 && args[1] == "show-gi") {
      if (args.size() != 3) {
        std::fprintf(stderr, "vrrpctl: replication show-gi takes a resource name\n");
        return 2;
      }
      req_args["resource"] = args[2];
      cmd = "replication-show-gi";  // rendered here from replication-status
    } else {
      if (args.size() != 3) {
        std::fprintf(stderr, "vrrpctl: replication takes an operation and a resource name\n");
        usage(stderr);
        return 2;
      }
      req_args["op"] = args[1];
      req_args["resource"] = args[2];
      if (force) req_args["force"] = true;
      if ((!size.empty() || assume_clean) && args[1] != "resize") {
        std::fprintf(stderr, "vrrpctl: --size and --assume-clean are options of replication resize\n");
        return 2;
      }
      if (!size.empty()) {
        auto bytes = vrrpd::control::parse_size_bytes(size);
        if (!bytes) {
          std::fprintf(stderr, "vrrpctl: --size '%s' is not a size; valid: bytes (1073741824) or a whole number "
                               "with K, M, G or T (1024-based: 10G, 512M, 2T)\n", size.c_str());
          return 2;
        }
        req_args["size"] = *bytes;
      }
      if (assume_clean) req_args["assume_clean"] = true;
      timeout = std::chrono::milliseconds(300000);
    }
  } else if (cmd == "events") {
    need(0);
    if (!since.empty()) {
      auto t = vrrpd::notify::parse_since(since, std::chrono::system_clock::now());
      if (!t) {
        std::fprintf(stderr, "vrrpctl: --since '%s' is not a time; valid: 90s, 15m, 2h, 1d, 04:27[:26], "
                             "'2026-11-30 04:27[:26]' (local) or 2026-11-30T04:27:26Z (UTC)\n", since.c_str());
        return 2;
      }
      req_args["since_ms"] =
          std::chrono::duration_cast<std::chrono::milliseconds>(t->time_since_epoch()).count();
    }
    if (!limit.empty()) {
      char* end = nullptr;
      long n = std::strtol(limit.c_str(), &end, 10);
      if (!end || *end || n < 1) {
        std::fprintf(stderr, "vrrpctl: --limit '%s' is not a positive number\n", limit.c_str());
        return 2;
      }
      req_args["limit"] = n;
    }
    if (follow) return follow_events(socket_path, req_args, as_json);
  } else if (cmd == "show") {
    need(1);
    req_args["instance"] = args[1];
  } else if (cmd == "set-priority") {
    need(2);
    req_args["instance"] = args[1];
    char* end = nullptr;
    long p = std::strtol(args[2].c_str(), &end, 10);
    if (!end || *end || args[2].empty()) {
      std::fprintf(stderr, "vrrpctl: priority '%s' is not a number; valid: 1..254\n", args[2].c_str());
      return 2;
    }
    req_args["priority"] = p;
  } else if (cmd == "maintenance") {
    need(2);
    req_args["instance"] = args[1];
    if (args[2] != "on" && args[2] != "off") {
      std::fprintf(stderr, "vrrpctl: maintenance takes on or off, not '%s'\n", args[2].c_str());
      return 2;
    }
    req_args["on"] = args[2] == "on";
  } else {
    std::fprintf(stderr, "vrrpctl: unknown command '%s'\n", cmd.c_str());
    usage(stderr);
    return 2;
  }

  json resp;
  const std::string wire_cmd = cmd == "replication-show-gi" ? "replication-status" : cmd;
  try {
    resp = vrrpd::control::call(socket_path, vrrpd::control::make_request(wire_cmd, req_args), timeout);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "vrrpctl: %s\n", e.what());
    return 3;
  }
  const int result = resp.value("result", 1);
  if (as_json) {
    std::cout << (result == 0 ? resp["data"] : resp).dump(2) << "\n";
    return result == 0 ? 0 : 1;
  }
  if (result != 0) {
    std::fprintf(stderr, "vrrpctl: %s\n", resp.value("result_text", std::string("error")).c_str());
    return 1;
  }
  if (cmd == "status") print_status_table(resp["data"]);
  else if (cmd == "show") print_show(resp["data"]);
  else if (cmd == "stats") print_stats(resp["data"]);
  else if (cmd == "checks") print_checks(resp["data"]);
  else if (cmd == "events") print_events(resp["data"]);
  else if (cmd == "replication-status") print_replication(resp["data"]);
  else if (cmd == "replication-show-gi") print_generations(resp["data"]["resources"].at(0));
  else std::printf("%s\n", resp.value("result_text", std::string("ok")).c_str());
  return 0;
}
