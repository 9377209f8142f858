//! INFO: Redis 7.0.15's sections and field names, in Redis's order.
//!
//! Counters the fake keeps (clients, commands, keyspace hits and misses,
//! expired and evicted keys, connections, keyspace) are exact; `used_memory`
//! (and the fields derived from it) is the fake's own accounting of the
//! keyspace (`crate::store::mem`, what `maxmemory` is compared against), not
//! jemalloc's number; the rest (CPU, persistence, replication, the other
//! memory fields) are plausible values for an idle, non-persistent
//! standalone master.

use std::fmt::Write;

use bytes::Bytes;

use super::connection::REDIS_VERSION;
use super::Ctx;
use crate::engine::state::State;
use crate::protocol::Reply;

/// Sections in the order Redis prints them, and whether `default` includes them.
const SECTIONS: &[(&str, bool)] = &[
    ("server", true),
    ("clients", true),
    ("memory", true),
    ("persistence", true),
    ("stats", true),
    ("replication", true),
    ("cpu", true),
    ("modules", true),
    ("commandstats", false),
    ("errorstats", true),
    ("latencystats", false),
    ("cluster", true),
    ("keyspace", true),
];

pub(crate) fn info(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    let mut wanted = [false; SECTIONS.len()];
    if args.len() == 1 {
        for (i, (_, dflt)) in SECTIONS.iter().enumerate() {
            wanted[i] = *dflt;
        }
    }
    for a in &args[1..] {
        let a = String::from_utf8_lossy(a).to_ascii_lowercase();
        match a.as_str() {
            "all" | "everything" => wanted = [true; SECTIONS.len()],
            "default" => {
                for (i, (_, dflt)) in SECTIONS.iter().enumerate() {
                    wanted[i] |= *dflt;
                }
            }
            name => {
                if let Some(i) = SECTIONS.iter().position(|(n, _)| *n == name) {
                    wanted[i] = true;
                }
            }
        }
    }
    let mut out = String::new();
    for (i, (name, _)) in SECTIONS.iter().enumerate() {
        if !wanted[i] {
            continue;
        }
        if !out.is_empty() {
            out.push_str("\r\n");
        }
        section(ctx, name, &mut out);
    }
    Reply::Verbatim("txt", Bytes::from(out))
}

fn human(bytes: u64) -> String {
    let b = bytes as f64;
    if b < 1024.0 {
        format!("{bytes}B")
    } else if b < 1024.0 * 1024.0 {
        format!("{:.2}K", b / 1024.0)
    } else if b < 1024.0 * 1024.0 * 1024.0 {
        format!("{:.2}M", b / (1024.0 * 1024.0))
    } else {
        format!("{:.2}G", b / (1024.0 * 1024.0 * 1024.0))
    }
}

/// A stable 40-hex-digit id derived from the server's seed (run_id, replid).
fn hex_id(seed: u64, salt: u64) -> String {
    let mut rng = fastrand::Rng::with_seed(seed ^ salt);
    (0..40).map(|_| char::from_digit(rng.u32(0..16), 16).unwrap_or('0')).collect()
}

/// The memory figures INFO memory and MEMORY STATS report: `used` is the
/// fake's own accounting (`crate::store::mem`), the allocator and RSS
/// figures are fixed multiples of it (the fake has no allocator to ask).
#[derive(Debug, Clone, Copy)]
pub(crate) struct MemFigures {
    /// `used_memory`.
    pub used: u64,
    /// `used_memory_peak`.
    pub peak: u64,
    /// `used_memory_rss`.
    pub rss: u64,
    /// `allocator_active`.
    pub active: u64,
    /// `allocator_resident`.
    pub resident: u64,
}

/// The current [`MemFigures`].
pub(crate) fn mem_figures(st: &State) -> MemFigures {
    let used = st.used_memory();
    MemFigures { used, peak: st.evict.peak.max(used), rss: used * 7, active: used + used / 8, resident: used * 3 }
}

fn section(ctx: &mut Ctx<'_>, name: &str, out: &mut String) {
    let st = &*ctx.st;
    let cfg = st.config();
    let get = |k: &str| cfg.get(k).unwrap_or_default().to_string();
    let uptime = st.started.elapsed().as_secs();
    let now_us = ctx.clock.now_us();
    // The fake's own accounting (crate::store::mem), not an allocator's count.
    let used_memory = st.used_memory();
    let startup = crate::store::mem::STARTUP;
    let mut w = |line: String| {
        out.push_str(&line);
        out.push_str("\r\n");
    };
    match name {
        "server" => {
            w("# Server".into());
            w(format!("redis_version:{REDIS_VERSION}"));
            w("redis_git_sha1:00000000".into());
            w("redis_git_dirty:0".into());
            w("redis_build_id:ae4d7c971a948f0".into());
            w("redis_mode:standalone".into());
            w(format!("os:{} {}", std_os_name(), std::env::consts::ARCH));
            w("arch_bits:64".into());
            w("monotonic_clock:POSIX clock_gettime".into());
            w("multiplexing_api:epoll".into());
            w("atomicvar_api:c11-builtin".into());
            w("gcc_version:0.0.0".into());
            w(format!("process_id:{}", std::process::id()));
            w("process_supervised:no".into());
            w(format!("run_id:{}", hex_id(st.seed, 0x5255_4e49_4400)));
            w(format!("tcp_port:{}", get("port")));
            w(format!("server_time_usec:{now_us}"));
            w(format!("uptime_in_seconds:{uptime}"));
            w(format!("uptime_in_days:{}", uptime / 86400));
            w(format!("hz:{}", get("hz")));
            w(format!("configured_hz:{}", get("hz")));
            w(format!("lru_clock:{}", (now_us / 1_000_000) & ((1 << 24) - 1)));
            let exe = std::env::current_exe().map(|p| p.display().to_string()).unwrap_or_default();
            w(format!("executable:{exe}"));
            w("config_file:".into());
            w("io_threads_active:0".into());
        }
        "clients" => {
            w("# Clients".into());
            w(format!("connected_clients:{}", st.client_count()));
            w("cluster_connections:0".into());
            w(format!("maxclients:{}", get("maxclients")));
            w("client_recent_max_input_buffer:20480".into());
            w(format!("client_recent_max_output_buffer:{}", st.pubsub.max_output()));
            w(format!("blocked_clients:{}", st.blocking.len()));
            w("tracking_clients:0".into());
            w("clients_in_timeout_table:0".into());
        }
        "memory" => {
            let maxmemory = cfg.mm.limit;
            let MemFigures { peak, rss, active, resident, .. } = mem_figures(st);
            w("# Memory".into());
            w(format!("used_memory:{used_memory}"));
            w(format!("used_memory_human:{}", human(used_memory)));
            w(format!("used_memory_rss:{rss}"));
            w(format!("used_memory_rss_human:{}", human(rss)));
            w(format!("used_memory_peak:{peak}"));
            w(format!("used_memory_peak_human:{}", human(peak)));
            w(format!("used_memory_peak_perc:{:.2}%", used_memory as f64 * 100.0 / peak as f64));
            w(format!("used_memory_overhead:{startup}"));
            w(format!("used_memory_startup:{startup}"));
            let dataset = used_memory - startup;
            w(format!("used_memory_dataset:{dataset}"));
            w(format!("used_memory_dataset_perc:{:.2}%", dataset as f64 * 100.0 / used_memory as f64));
            w(format!("allocator_allocated:{used_memory}"));
            w(format!("allocator_active:{active}"));
            w(format!("allocator_resident:{resident}"));
            w("total_system_memory:17179869184".into());
            w("total_system_memory_human:16.00G".into());
            w("used_memory_lua:32768".into());
            w("used_memory_vm_eval:32768".into());
            w("used_memory_lua_human:32.00K".into());
            w("used_memory_scripts_eval:0".into());
            w("number_of_cached_scripts:0".into());
            #[cfg(feature = "scripting")]
            let (functions, libraries) = {
                let registry = st.functions.registry();
                (registry.function_count(), registry.libraries().count())
            };
            #[cfg(not(feature = "scripting"))]
            let (functions, libraries) = (0, 0);
            w(format!("number_of_functions:{functions}"));
            w(format!("number_of_libraries:{libraries}"));
            w("used_memory_vm_functions:33792".into());
            w("used_memory_vm_total:66560".into());
            w("used_memory_vm_total_human:65.00K".into());
            w("used_memory_functions:200".into());
            w("used_memory_scripts:200".into());
            w("used_memory_scripts_human:200B".into());
            w(format!("maxmemory:{maxmemory}"));
            w(format!("maxmemory_human:{}", human(maxmemory)));
            w(format!("maxmemory_policy:{}", get("maxmemory-policy")));
            w("allocator_frag_ratio:1.12".into());
            w("allocator_frag_bytes:148256".into());
            w("allocator_rss_ratio:2.40".into());
            w("allocator_rss_bytes:2670592".into());
            w("rss_overhead_ratio:1.51".into());
            w("rss_overhead_bytes:2351104".into());
            w("mem_fragmentation_ratio:7.00".into());
            w(format!("mem_fragmentation_bytes:{}", rss - used_memory));
            w("mem_not_counted_for_evict:0".into());
            w("mem_replication_backlog:0".into());
            w("mem_total_replication_buffers:0".into());
            w("mem_clients_slaves:0".into());
            w(format!("mem_clients_normal:{}", 22_272 * st.client_count()));
            w("mem_cluster_links:0".into());
            w("mem_aof_buffer:0".into());
            w("mem_allocator:jemalloc-5.3.0".into());
            w("active_defrag_running:0".into());
            w("lazyfree_pending_objects:0".into());
            w("lazyfreed_objects:0".into());
        }
        "persistence" => {
            let started_unix = ctx.clock.now_ms() / 1000 - uptime.min(ctx.clock.now_ms() / 1000);
            w("# Persistence".into());
            for f in [
                "loading:0",
                "async_loading:0",
                "current_cow_peak:0",
                "current_cow_size:0",
                "current_cow_size_age:0",
                "current_fork_perc:0.00",
                "current_save_keys_processed:0",
                "current_save_keys_total:0",
                "rdb_changes_since_last_save:0",
                "rdb_bgsave_in_progress:0",
            ] {
                w(f.into());
            }
            w(format!("rdb_last_save_time:{started_unix}"));
            for f in [
                "rdb_last_bgsave_status:ok",
                "rdb_last_bgsave_time_sec:-1",
                "rdb_current_bgsave_time_sec:-1",
                "rdb_saves:0",
                "rdb_last_cow_size:0",
                "rdb_last_load_keys_expired:0",
                "rdb_last_load_keys_loaded:0",
            ] {
                w(f.into());
            }
            w(format!("aof_enabled:{}", u8::from(get("appendonly") == "yes")));
            for f in [
                "aof_rewrite_in_progress:0",
                "aof_rewrite_scheduled:0",
                "aof_last_rewrite_time_sec:-1",
                "aof_current_rewrite_time_sec:-1",
                "aof_last_bgrewrite_status:ok",
                "aof_rewrites:0",
                "aof_rewrites_consecutive_failures:0",
                "aof_last_write_status:ok",
                "aof_last_cow_size:0",
                "module_fork_in_progress:0",
                "module_fork_last_cow_size:0",
            ] {
                w(f.into());
            }
        }
        "stats" => {
            let s = &st.stats;
            w("# Stats".into());
            w(format!("total_connections_received:{}", s.total_connections));
            w(format!("total_commands_processed:{}", s.commands_processed));
            w("instantaneous_ops_per_sec:0".into());
            let (input, output) = st.net.totals();
            w(format!("total_net_input_bytes:{input}"));
            w(format!("total_net_output_bytes:{output}"));
            for f in [
                "total_net_repl_input_bytes:0",
                "total_net_repl_output_bytes:0",
                "instantaneous_input_kbps:0.00",
                "instantaneous_output_kbps:0.00",
                "instantaneous_input_repl_kbps:0.00",
                "instantaneous_output_repl_kbps:0.00",
            ] {
                w(f.into());
            }
            w(format!("rejected_connections:{}", s.rejected_connections));
            for f in ["sync_full:0", "sync_partial_ok:0", "sync_partial_err:0"] {
                w(f.into());
            }
            w(format!("expired_keys:{}", s.expired_keys));
            for f in ["expired_stale_perc:0.00", "expired_time_cap_reached_count:0", "expire_cycle_cpu_milliseconds:0"]
            {
                w(f.into());
            }
            w(format!("evicted_keys:{}", s.evicted_keys));
            for f in ["evicted_clients:0", "total_eviction_exceeded_time:0", "current_eviction_exceeded_time:0"] {
                w(f.into());
            }
            w(format!("keyspace_hits:{}", s.keyspace_hits));
            w(format!("keyspace_misses:{}", s.keyspace_misses));
            use crate::engine::pubsub::SubscriptionKind as K;
            w(format!("pubsub_channels:{}", st.pubsub.num_active(K::Channel)));
            w(format!("pubsub_patterns:{}", st.pubsub.num_active(K::Pattern)));
            w(format!("pubsubshard_channels:{}", st.pubsub.num_active(K::ShardChannel)));
            for f in [
                "latest_fork_usec:0",
                "total_forks:0",
                "migrate_cached_sockets:0",
                "slave_expires_tracked_keys:0",
                "active_defrag_hits:0",
                "active_defrag_misses:0",
                "active_defrag_key_hits:0",
                "active_defrag_key_misses:0",
                "total_active_defrag_time:0",
                "current_active_defrag_time:0",
                "tracking_total_keys:0",
                "tracking_total_items:0",
                "tracking_total_prefixes:0",
                "unexpected_error_replies:0",
            ] {
                w(f.into());
            }
            w(format!("total_error_replies:{}", s.errors.values().sum::<u64>()));
            w("dump_payload_sanitizations:0".into());
            w(format!("total_reads_processed:{}", s.commands_processed));
            w(format!("total_writes_processed:{}", s.commands_processed));
            for f in [
                "io_threaded_reads_processed:0",
                "io_threaded_writes_processed:0",
                "reply_buffer_shrinks:0",
                "reply_buffer_expands:0",
            ] {
                w(f.into());
            }
        }
        "replication" => {
            w("# Replication".into());
            w("role:master".into());
            w("connected_slaves:0".into());
            w("master_failover_state:no-failover".into());
            w(format!("master_replid:{}", hex_id(st.seed, 0x5245_504c)));
            for f in [
                "master_replid2:0000000000000000000000000000000000000000",
                "master_repl_offset:0",
                "second_repl_offset:-1",
                "repl_backlog_active:0",
            ] {
                w(f.into());
            }
            w(format!("repl_backlog_size:{}", get("repl-backlog-size")));
            w("repl_backlog_first_byte_offset:0".into());
            w("repl_backlog_histlen:0".into());
        }
        "cpu" => {
            let secs = st.started.elapsed().as_secs_f64() / 1000.0;
            w("# CPU".into());
            w(format!("used_cpu_sys:{secs:.6}"));
            w(format!("used_cpu_user:{secs:.6}"));
            w("used_cpu_sys_children:0.000000".into());
            w("used_cpu_user_children:0.000000".into());
            w(format!("used_cpu_sys_main_thread:{secs:.6}"));
            w(format!("used_cpu_user_main_thread:{secs:.6}"));
        }
        "modules" => w("# Modules".into()),
        "commandstats" => w("# Commandstats".into()),
        "errorstats" => {
            w("# Errorstats".into());
            for (code, n) in &st.stats.errors {
                w(format!("errorstat_{code}:count={n}"));
            }
        }
        "latencystats" => w("# Latencystats".into()),
        "cluster" => {
            w("# Cluster".into());
            w("cluster_enabled:0".into());
        }
        "keyspace" => {
            w("# Keyspace".into());
            let now = ctx.now;
            for (i, db) in st.dbs().enumerate() {
                if db.len() == 0 {
                    continue;
                }
                let (mut n, mut sum) = (0u64, 0u64);
                for (_, e) in db.iter() {
                    if let Some(at) = e.expire_at {
                        n += 1;
                        sum += at.saturating_sub(now);
                    }
                }
                let avg = sum.checked_div(n).unwrap_or(0);
                let mut line = String::new();
                let _ = write!(line, "db{i}:keys={},expires={},avg_ttl={avg}", db.len(), db.volatile_len());
                w(line);
            }
        }
        _ => {}
    }
}

fn std_os_name() -> &'static str {
    match std::env::consts::OS {
        "linux" => "Linux",
        "macos" => "Darwin",
        other => other,
    }
}
