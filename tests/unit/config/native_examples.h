// Native config texts that more than one test parses.
#pragma once

namespace vrrpd::config {

// Lines 1-10: resource "r0" with every key written, none at its default
// (resource_config_test.cc checks each value; keepalived_failover_test.cc
// compares its keepalived twin with it); at the end of line 10 "r1", which
// r0's resync_after names.
inline constexpr const char* kNativeFullResource = R"(resources = (
  { name = "r0"; device = "/dev/vdb"; metadata = "/var/lib/vrrpd/r0.md";
    address = "198.51.100.1"; port = 7790; peer_address = "198.51.100.2"; peer_port = 7791;
    protocol = "b"; shared_secret = "0123456789abcdef"; resync_rate_kib = 40960;
    on_io_error = "Call-Handler"; io_error_handler = "/usr/local/sbin/disk-failed r0"; notify = "/usr/local/sbin/replication-event mail"; before_resync_target_handler = "/usr/local/sbin/snap r0";
    after_sb_0pri = "discard-least-changes"; after_sb_1pri = "discard-secondary";
    after_sb_2pri = "disconnect"; ping_interval_ms = 2000; ping_timeout_ms = 1000;
    probe_timeout_ms = 700; timeout_ms = 3000; ko_count = 3; connect_interval_ms = 500; tcp_congestion = "reno"; on_congestion = "block"; congestion_fill_kib = 2048; congestion_extents = 32;
    fencing = "Resource-Only"; fence_address = "192.0.2.1"; fence_peer_address = "192.0.2.2"; fence_peer_handler = "/usr/local/sbin/stonith-peer r0"; mount_point = "/srv/data"; fs_type = "xfs"; mount_options = "noatime"; unmount_grace_ms = 1500; kill_holders = true; resync_after = "r1"; }, { name = "r1"; device = "/dev/vdc"; address = "198.51.100.1"; port = 7792; peer_address = "198.51.100.2"; shared_secret = "0123456789abcdef"; }
);
)";

}  // namespace vrrpd::config
