//! A real keepalived (Debian 12's 2.2.7) as the peer of a floatip node, for the
//! interop scenarios: its config written from a typed [`KaRouter`], the process run in
//! a node's namespace in the foreground, its log, its own statistics, and the log lines
//! that betray a packet it did not like.
//!
//! Each keepalived gets a directory of its own (`<topology dir>/<role>-<n>.keepalived/`)
//! which is bind-mounted over `/tmp` in the private mount namespace `ip netns exec`
//! creates for it: its config, its pid files, and the statistics file it writes to the
//! fixed path `/tmp/keepalived.stats` on SIGUSR2 all live there. So it never touches the
//! host's `/run/keepalived.pid` or `/tmp`, and parallel tests cannot collide. Its log
//! (console, detailed) is `<role>-<n>.log` beside the floatip logs. Must not: run
//! anything outside the node's namespace, use a non-documentation address.

use std::fmt::Write;
use std::path::PathBuf;
use std::time::Duration;

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

use super::{Daemon, Node, matching_lines, require_tool, wait_for};

/// Fragments of keepalived 2.2.7 log lines (lowercase) saying it rejected an
/// advertisement or found a configuration conflict with its peer (from
/// `vrrp_in_chk` and the state handlers in `keepalived/vrrp/vrrp.c`). None may ever
/// appear in an interop test.
pub const KA_REJECTS: &[&str] = &[
    "recvmsg returned",
    "too short",
    "invalid ttl",
    "invalid auth type",
    "auth, expecting",
    "invalid passwd",
    "interval mismatch",
    "invalid version",
    "invalid packet type",
    "vrid mismatch",
    "invalid ip number count",
    "tot_len mismatch",
    "length mismatch",
    "checksum",
    "not present in master advert",
    "not a unicast peer",
    "advertisement interval changed",
    "advertisement interval updated",
    "equal priority advert",
    "configuration error",
    "ipsec",
];

/// Fragments of keepalived log lines that mark an election event: none may appear
/// while the routers are meant to be in a steady state.
pub const KA_TRANSITIONS: &[&str] = &[
    "entering",
    "receive advertisement timeout",
    "priority 0",
    "lower priority",
    "higher priority",
    "same priority",
    "fault",
];

/// One `vrrp_instance`, written the way a keepalived user would.
#[derive(Clone, Debug)]
pub struct KaRouter {
    pub name: String,
    pub interface: String,
    /// 2 or 3 (`vrrp_version`).
    pub version: u8,
    pub vrid: u8,
    pub priority: u8,
    /// `advert_int`: whole seconds for v2, steps of 10 ms for v3.
    pub advert_interval: Duration,
    /// With prefix length, e.g. `192.0.2.100/24`.
    pub addresses: Vec<String>,
    /// `authentication { auth_type PASS; auth_pass ... }` (v2 only).
    pub password: Option<String>,
    /// `unicast_src_ip` and `unicast_peer`.
    pub unicast: Option<(String, Vec<String>)>,
}

impl KaRouter {
    /// VRRPv3 on eth0, advert_int 1 s, `state BACKUP` (preempting).
    pub fn new(vrid: u8, priority: u8, addresses: &[&str]) -> KaRouter {
        KaRouter {
            name: "web".to_string(),
            interface: "eth0".to_string(),
            version: 3,
            vrid,
            priority,
            advert_interval: Duration::from_secs(1),
            addresses: addresses.iter().map(|a| a.to_string()).collect(),
            password: None,
            unicast: None,
        }
    }

    pub fn version(mut self, version: u8) -> KaRouter {
        assert!(version == 2 || version == 3, "vrrp_version is 2 or 3");
        self.version = version;
        self
    }

    pub fn advert_interval(mut self, interval: Duration) -> KaRouter {
        self.advert_interval = interval;
        self
    }

    pub fn password(mut self, password: &str) -> KaRouter {
        self.password = Some(password.to_string());
        self
    }

    pub fn unicast(mut self, source: &str, peers: &[&str]) -> KaRouter {
        self.unicast = Some((
            source.to_string(),
            peers.iter().map(|p| p.to_string()).collect(),
        ));
        self
    }

    /// keepalived.conf for this one instance.
    pub fn to_conf(&self, router_id: &str) -> String {
        let interval = self.advert_interval.as_millis();
        assert!(
            interval.is_multiple_of(10) && interval > 0,
            "advert_int in steps of 10 ms"
        );
        assert!(
            self.version == 3 || interval.is_multiple_of(1000),
            "VRRPv2 advert_int is whole seconds"
        );
        let mut c = String::new();
        let _ = writeln!(c, "global_defs {{");
        let _ = writeln!(c, "    router_id {router_id}");
        let _ = writeln!(c, "    vrrp_version {}", self.version);
        let _ = writeln!(c, "}}");
        let _ = writeln!(c, "vrrp_instance {} {{", self.name);
        let _ = writeln!(c, "    state BACKUP");
        let _ = writeln!(c, "    interface {}", self.interface);
        let _ = writeln!(c, "    virtual_router_id {}", self.vrid);
        let _ = writeln!(c, "    priority {}", self.priority);
        let _ = writeln!(
            c,
            "    advert_int {}.{:02}",
            interval / 1000,
            interval % 1000 / 10
        );
        if let Some(password) = &self.password {
            let _ = writeln!(c, "    authentication {{");
            let _ = writeln!(c, "        auth_type PASS");
            let _ = writeln!(c, "        auth_pass {password}");
            let _ = writeln!(c, "    }}");
        }
        if let Some((source, peers)) = &self.unicast {
            let _ = writeln!(c, "    unicast_src_ip {source}");
            let _ = writeln!(c, "    unicast_peer {{");
            for peer in peers {
                let _ = writeln!(c, "        {peer}");
            }
            let _ = writeln!(c, "    }}");
        }
        let _ = writeln!(c, "    virtual_ipaddress {{");
        for address in &self.addresses {
            let _ = writeln!(c, "        {address}");
        }
        let _ = writeln!(c, "    }}");
        let _ = writeln!(c, "}}");
        c
    }
}

/// keepalived's per-instance statistics (the SIGUSR2 dump), by "Section: Name" key,
/// e.g. `"Advertisements: Received"`, `"Packet Errors: TTL"`.
#[derive(Clone, Debug, Default)]
pub struct KaStats(pub Vec<(String, u64)>);

impl KaStats {
    /// Parses `/tmp/keepalived.stats` (one instance, indented "Name: value" lines).
    pub fn parse(text: &str) -> KaStats {
        let mut section = String::new();
        let mut out = Vec::new();
        for line in text.lines() {
            let indent = line.len() - line.trim_start().len();
            let Some((key, value)) = line.trim().split_once(':') else {
                continue;
            };
            let value = value.trim();
            if indent == 0 {
                continue; // "VRRP Instance: web"
            }
            if value.is_empty() {
                section = key.to_string();
                continue;
            }
            let Ok(n) = value.parse::<u64>() else {
                continue;
            };
            let full = if indent >= 4 {
                format!("{section}: {key}")
            } else {
                key.to_string()
            };
            out.push((full, n));
        }
        KaStats(out)
    }

    pub fn get(&self, key: &str) -> u64 {
        self.0
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| *v)
            .unwrap_or_else(|| panic!("keepalived stats have no {key:?}: {:?}", self.0))
    }

    /// Adverts it accepted (right type, version, length and checksum).
    pub fn received(&self) -> u64 {
        self.get("Advertisements: Received")
    }

    /// Every counter of a rejected packet that is not zero.
    pub fn errors(&self) -> Vec<(String, u64)> {
        self.0
            .iter()
            .filter(|(k, v)| {
                *v > 0 && (k.starts_with("Packet Errors") || k.starts_with("Authentication"))
            })
            .cloned()
            .collect()
    }
}

/// `keepalived --vrrp` in the foreground in a node's namespace. Killed on drop (and by
/// the topology's teardown, which kills every process of its namespaces).
pub struct Keepalived {
    daemon: Daemon,
    dir: PathBuf,
    conf: String,
}

impl Node {
    /// Starts keepalived with `router` as its only instance. Returns once its VRRP
    /// process has written its pid file (it is then running its state machine).
    pub fn start_keepalived(&self, router: &KaRouter) -> Keepalived {
        require_tool("keepalived", "keepalived");
        require_tool("mount", "mount");
        let name = self.next_daemon_name();
        let dir = self.shared.dir.join(format!("{name}.keepalived"));
        std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("create {}: {e}", dir.display()));
        let conf = router.to_conf(&format!("{}-{}", self.ns, name));
        std::fs::write(dir.join("keepalived.conf"), &conf)
            .unwrap_or_else(|e| panic!("write keepalived.conf in {}: {e}", dir.display()));
        let dir_arg = dir.to_str().expect("utf-8 path").to_string();
        // `ip netns exec` runs us in a mount namespace of our own (it remounts /sys), so
        // this bind mount is seen by this keepalived only. Paths below are in its view.
        let script = "mount --bind \"$0\" /tmp && exec keepalived \"$@\"";
        let argv = [
            "sh",
            "-c",
            script,
            &dir_arg,
            "--dont-fork",
            "--log-console",
            "--log-detail",
            "--no-syslog",
            "--vrrp",
            "--dont-respawn",
            "--use-file=/tmp/keepalived.conf",
            "--pid=/tmp/keepalived.pid",
            "--vrrp_pid=/tmp/vrrp.pid",
        ];
        let daemon = Daemon::spawn_command(
            &self.ns,
            &name,
            &self.shared.dir,
            &argv,
            dir.join("keepalived.conf"),
        );
        self.shared.daemons.borrow_mut().push(daemon.watch());
        let ka = Keepalived { daemon, dir, conf };
        let started = wait_for(Duration::from_secs(10), || {
            ka.daemon.exited().is_some() || ka.vrrp_pid().is_some()
        });
        if started.is_err() || ka.daemon.exited().is_some() {
            panic!(
                "keepalived {name} in {} did not start its VRRP process ({:?}); config:\n{}\nlog:\n{}",
                self.ns,
                ka.daemon.exited(),
                ka.conf,
                ka.daemon.log_tail(40)
            );
        }
        ka
    }
}

impl Keepalived {
    pub fn name(&self) -> &str {
        self.daemon.name()
    }

    /// The VRRP child process, once it has written its pid file.
    pub fn vrrp_pid(&self) -> Option<Pid> {
        let text = std::fs::read_to_string(self.dir.join("vrrp.pid")).ok()?;
        text.trim().parse::<i32>().ok().map(Pid::from_raw)
    }

    /// The whole log so far.
    pub fn log(&self) -> String {
        self.daemon.log()
    }

    /// The log from byte `offset` on (an offset taken from `log().len()` earlier).
    pub fn log_since(&self, offset: usize) -> String {
        self.daemon.log_since(offset)
    }

    pub fn log_contains(&self, needle: &str) -> bool {
        self.daemon.log_contains(needle)
    }

    pub fn log_tail(&self, lines: usize) -> String {
        self.daemon.log_tail(lines)
    }

    /// Log lines saying it rejected an advertisement (see [`KA_REJECTS`]).
    pub fn rejects(&self) -> Vec<String> {
        matching_lines(&self.log(), KA_REJECTS)
    }

    /// Its statistics now: SIGUSR2 to the VRRP process, which writes them to its `/tmp`.
    pub fn stats(&self) -> KaStats {
        let path = self.dir.join("keepalived.stats");
        let _ = std::fs::remove_file(&path);
        let pid = self
            .vrrp_pid()
            .unwrap_or_else(|| panic!("keepalived {} has no VRRP process", self.name()));
        kill(pid, Signal::SIGUSR2)
            .unwrap_or_else(|e| panic!("SIGUSR2 to keepalived {}: {e}", self.name()));
        // Written to a temporary file and renamed: once it exists, it is whole.
        if let Err(e) = wait_for(Duration::from_secs(5), || path.exists()) {
            panic!(
                "keepalived {} wrote no {}: {e}",
                self.name(),
                path.display()
            );
        }
        let text = std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
        KaStats::parse(&text)
    }

    /// A crash: SIGKILL to the VRRP process, then to the parent (in that order, so the
    /// parent cannot tell the child to stop gracefully). Its addresses stay behind.
    pub fn crash(&self) {
        if let Some(pid) = self.vrrp_pid() {
            let _ = kill(pid, Signal::SIGKILL);
        }
        self.daemon.kill();
    }
}

impl Drop for Keepalived {
    fn drop(&mut self) {
        // The VRRP child first; the Daemon's own drop then kills the parent (and prints
        // the log tail if the test is failing).
        if self.daemon.exited().is_none()
            && let Some(pid) = self.vrrp_pid()
        {
            let _ = kill(pid, Signal::SIGKILL);
        }
    }
}
