//! Network-namespace test kit: topologies of namespaces on bridges, real `floatip`
//! daemons inside them, and the probes the scenarios assert with.
//!
//! Owns: creating and tearing down namespaces, veth pairs and bridges; starting and
//! signalling daemons and running one-shot commands under a deadline; polling
//! conditions with deadlines; pinging; forging VRRP advertisements (also with a wrong
//! TTL or checksum); nftables fault injection; for tests of `floatip::net` itself, a
//! tokio runtime, deadlines for futures and an in-process frame capture ([`edge`]). Must not touch the root namespace's
//! network, nor send traffic to any address outside the documentation ranges
//! (192.0.2.0/24, 198.51.100.0/24, 203.0.113.0/24, 2001:db8::/32) inside namespaces it
//! created itself.
//!
//! Every test file using it starts with `mod netns;`. Not every file uses every helper.
//!
//! Running: as root, `cargo test --test 'netns_*'` (not root: every test fails with a
//! message saying so; none is skipped). Each topology's daemon configs and logs are
//! kept in `$CARGO_TARGET_TMPDIR/netns/<tag>-<pid>-<n>/` (`<role>-<n>.yaml/.log`); when a
//! test fails, the tail of each of its daemons' logs is printed. `FLOATIP_TEST_LOG`
//! sets the daemons' log filter (default `debug`); `FLOATIP_TEST_BIN` another floatip
//! binary (default: the one cargo built for the tests).
//!
//! A typical scenario:
//! ```ignore
//! let topo = pair("crash");                      // a .11, b .12, client c .200
//! let (a, b, c) = (topo.node("a"), topo.node("b"), topo.node("c"));
//! let da = a.start(&Config::one(web(150)));      // floatip run -c <yaml> in a
//! let _db = b.start(&Config::one(web(100)));
//! topo.expect_holders(VIP4, &["a"], STARTUP + takeover_bound(150));
//! da.kill();
//! a.link_down();
//! topo.expect_holders(VIP4, &["b"], takeover_bound(100));
//! c.reach(&topo, VIP4, Duration::from_secs(2));
//! ```
//!
//! Tools used (Debian packages): iproute2 (`ip`) and nftables (`nft`); the interop
//! scenarios also keepalived and tcpdump ([`keepalived`], [`capture`]).
//! Pings, sysctls, forged advertisements and gratuitous-ARP capture ([`arp`]) are done
//! in Rust, from a thread that has entered the namespace (see [`in_netns`]), so no
//! ping/fping/procps/tcpdump is needed for them.

#![allow(dead_code)]

mod arp;
pub mod capture;
mod config;
mod daemon;
pub mod edge;
mod haproxy;
mod http;
mod icmp;
pub mod keepalived;
mod oneshot;
pub mod prometheus;
mod vrrp;

#[allow(unused_imports)]
pub use arp::{Announcement, ArpListener};
#[allow(unused_imports)]
pub use config::{Config, Router, Unicast, master_down};
#[allow(unused_imports)]
pub use daemon::Daemon;
#[allow(unused_imports)]
pub use http::HttpProber;
#[allow(unused_imports)]
pub use icmp::{PingReport, Pinger};
#[allow(unused_imports)]
pub use oneshot::OneShot;
#[allow(unused_imports)]
pub use vrrp::{Advert, Checksum, Forgery, Listener, Seen};

use std::cell::RefCell;
use std::fs::File;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::os::fd::AsRawFd;
use std::path::PathBuf;
use std::process::{Command, Output};
use std::rc::{Rc, Weak};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

/// How often conditions are polled.
const POLL: Duration = Duration::from_millis(5);

/// The subnets of the LANs a topology may have: LAN `n` is `ethN` on every node.
const LANS: [(Ipv4Addr, Ipv6Addr); 3] = [
    (
        Ipv4Addr::new(192, 0, 2, 0),
        Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 0),
    ),
    (
        Ipv4Addr::new(198, 51, 100, 0),
        Ipv6Addr::new(0x2001, 0xdb8, 1, 0, 0, 0, 0, 0),
    ),
    (
        Ipv4Addr::new(203, 0, 113, 0),
        Ipv6Addr::new(0x2001, 0xdb8, 2, 0, 0, 0, 0, 0),
    ),
];

/// Fails the test (never skips it) when it cannot do what it is meant to.
pub fn require_root() {
    if !nix::unistd::Uid::effective().is_root() {
        panic!(
            "the network-namespace tests need root (they create namespaces, veths and \
             bridges and run floatip with raw sockets). They do not skip: run them as \
             root, e.g. `sudo -E cargo test --test 'netns_*'`, or through .ci/run."
        );
    }
}

/// Fails the test with an install hint when a tool is missing.
pub fn require_tool(tool: &str, package: &str) {
    let found = std::env::var_os("PATH")
        .map(|paths| std::env::split_paths(&paths).any(|dir| dir.join(tool).is_file()))
        .unwrap_or(false);
    if !found {
        panic!("the network-namespace tests need `{tool}`: apt-get install -y {package}");
    }
}

/// Runs a command, returning its output; panics only when it cannot be started.
pub fn run(args: &[&str]) -> Output {
    Command::new(args[0])
        .args(&args[1..])
        .output()
        .unwrap_or_else(|e| panic!("cannot run {args:?}: {e}"))
}

/// Runs a command and panics with its stderr unless it succeeds. Returns stdout.
pub fn run_ok(args: &[&str]) -> String {
    let out = run(args);
    if !out.status.success() {
        panic!(
            "{:?} failed ({}): {}{}",
            args.join(" "),
            out.status,
            String::from_utf8_lossy(&out.stderr),
            String::from_utf8_lossy(&out.stdout)
        );
    }
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// [`run_ok`] on a command line split at whitespace (no quoting: the words of the
/// commands built here never contain spaces).
pub fn sh(line: &str) -> String {
    run_ok(&line.split_whitespace().collect::<Vec<_>>())
}

/// Polls `cond` every few milliseconds until it holds; returns how long that took.
pub fn wait_for(timeout: Duration, mut cond: impl FnMut() -> bool) -> Result<Duration, String> {
    let start = Instant::now();
    loop {
        if cond() {
            return Ok(start.elapsed());
        }
        if start.elapsed() >= timeout {
            return Err(format!("condition not met within {timeout:?}"));
        }
        std::thread::sleep(POLL);
    }
}

/// Polls `cond` for the whole of `period`; fails at the first poll where it is false.
pub fn holds_for(period: Duration, mut cond: impl FnMut() -> bool) -> Result<(), String> {
    let start = Instant::now();
    loop {
        if !cond() {
            return Err(format!("condition broke after {:?}", start.elapsed()));
        }
        if start.elapsed() >= period {
            return Ok(());
        }
        std::thread::sleep(POLL);
    }
}

/// Lines of `text` (a daemon's or keepalived's log) containing any of `fragments`,
/// which must be lowercase: the lines are compared lowercased.
pub fn matching_lines(text: &str, fragments: &[&str]) -> Vec<String> {
    text.lines()
        .filter(|l| {
            let l = l.to_lowercase();
            fragments.iter().any(|f| l.contains(f))
        })
        .map(str::to_string)
        .collect()
}

/// Runs `f` on a fresh thread that has entered the network namespace `ns`, and returns
/// its result. Sockets and netlink connections created there stay in that namespace and
/// may be used from any thread afterwards. `f` may borrow from the caller (the thread is
/// scoped): to create tokio objects, enter a runtime handle inside `f`.
pub fn in_netns<T: Send>(ns: &str, f: impl FnOnce() -> T + Send) -> T {
    let (path, file) = open_netns(ns);
    std::thread::scope(|scope| {
        scope
            .spawn(move || {
                enter_netns(&path, &file);
                f()
            })
            .join()
            .unwrap_or_else(|e| std::panic::resume_unwind(e))
    })
}

/// Like [`in_netns`], but returns at once: `f` runs in the background on its own thread.
pub fn spawn_in_netns<T: Send + 'static>(
    ns: &str,
    f: impl FnOnce() -> T + Send + 'static,
) -> std::thread::JoinHandle<T> {
    let (path, file) = open_netns(ns);
    std::thread::spawn(move || {
        enter_netns(&path, &file);
        f()
    })
}

fn open_netns(ns: &str) -> (String, File) {
    let path = format!("/run/netns/{ns}");
    let file = File::open(&path).unwrap_or_else(|e| panic!("open {path}: {e}"));
    (path, file)
}

/// Moves the calling thread (a fresh one, private to [`in_netns`] or
/// [`spawn_in_netns`]) into the namespace `file` refers to.
fn enter_netns(path: &str, file: &File) {
    // SAFETY: `file` is an open namespace file for the duration of the call, and
    // setns(CLONE_NEWNET) only changes this (new, private) thread's namespace.
    let rc = unsafe { libc::setns(file.as_raw_fd(), libc::CLONE_NEWNET) };
    if rc != 0 {
        panic!("setns({path}): {}", std::io::Error::last_os_error());
    }
}

/// Sets network sysctls of namespace `ns` (paths under /proc/sys, e.g.
/// `net/ipv6/conf/all/accept_dad`): /proc/sys/net shows the namespace of the thread
/// that opens it.
pub fn sysctl(ns: &str, settings: &[(&str, &str)]) {
    let settings: Vec<(String, String)> = settings
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let ns_name = ns.to_string();
    let result = in_netns(ns, move || -> Result<(), String> {
        for (key, value) in &settings {
            let path = format!("/proc/sys/{key}");
            std::fs::write(&path, value).map_err(|e| format!("{path} = {value}: {e}"))?;
        }
        Ok(())
    });
    if let Err(e) = result {
        panic!("sysctl in {ns_name}: {e}");
    }
}

static TOPOLOGY_COUNTER: AtomicU32 = AtomicU32::new(0);

/// State shared by a topology and its nodes.
struct Shared {
    /// `fip-<pid>-<n>`: prefix of every namespace of this topology.
    prefix: String,
    /// Where configs and daemon logs go (kept after the test).
    dir: PathBuf,
    /// Namespaces created so far, in creation order.
    namespaces: RefCell<Vec<String>>,
    /// Daemons started on this topology, to notice one dying unexpectedly.
    daemons: RefCell<Vec<Weak<daemon::Inner>>>,
    /// Names handed out to daemons (for log file names).
    daemon_counter: RefCell<u32>,
}

/// Describes a topology before it exists.
pub struct TopologyBuilder {
    tag: String,
    lans: usize,
    nodes: Vec<(String, u8)>,
    dad: bool,
}

impl TopologyBuilder {
    /// Number of LANs (bridges); every node gets `eth0`..`eth{n-1}`, one on each.
    pub fn lans(mut self, lans: usize) -> Self {
        assert!((1..=LANS.len()).contains(&lans), "1 to {} LANs", LANS.len());
        self.lans = lans;
        self
    }

    /// Keep IPv6 duplicate address detection on in the nodes (default off, so that
    /// link-local addresses are usable at once), for tests that look at DAD itself.
    /// The nodes' own global addresses are added without DAD either way.
    pub fn dad(mut self, on: bool) -> Self {
        self.dad = on;
        self
    }

    /// A node with host number `host`: it gets 192.0.2.`host`/24 and
    /// 2001:db8::`host`/64 on eth0 (198.51.100.`host`, 2001:db8:1::`host` on eth1...).
    pub fn node(mut self, role: &str, host: u8) -> Self {
        assert!(
            !role.is_empty() && role.len() <= 8 && role.chars().all(|c| c.is_ascii_alphanumeric()),
            "role {role:?}: 1-8 alphanumeric characters (it is part of interface names)"
        );
        assert!((2..=254).contains(&host), "host number {host}: 2..=254");
        assert!(
            self.nodes.iter().all(|(r, h)| r != role && *h != host),
            "duplicate node {role}"
        );
        self.nodes.push((role.to_string(), host));
        self
    }

    pub fn build(self) -> Topology {
        require_root();
        require_tool("ip", "iproute2");
        let n = TOPOLOGY_COUNTER.fetch_add(1, Ordering::SeqCst);
        let pid = std::process::id();
        let prefix = format!("fip-{pid}-{n}");
        let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
            .join("netns")
            .join(format!("{}-{pid}-{n}", self.tag));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("create {}: {e}", dir.display()));
        let shared = Rc::new(Shared {
            prefix: prefix.clone(),
            dir,
            namespaces: RefCell::new(Vec::new()),
            daemons: RefCell::new(Vec::new()),
            daemon_counter: RefCell::new(0),
        });
        // From here on, a panic drops `topo` and so deletes whatever was created.
        let mut topo = Topology {
            shared: shared.clone(),
            nodes: Vec::new(),
            switch: format!("{prefix}-sw"),
            lans: self.lans,
        };

        // The switch: one namespace holding a bridge per LAN; no IPv6 of its own, so it
        // adds no traffic of its own to the LANs.
        let sw = topo.switch.clone();
        topo.add_namespace(&sw);
        sysctl(
            &sw,
            &[
                ("net/ipv6/conf/all/disable_ipv6", "1"),
                ("net/ipv6/conf/default/disable_ipv6", "1"),
            ],
        );
        for lan in 0..self.lans {
            // Snooping off: every multicast advertisement reaches every port.
            sh(&format!(
                "ip -n {sw} link add br{lan} type bridge mcast_snooping 0"
            ));
            sh(&format!("ip -n {sw} link set br{lan} up"));
        }

        for (role, host) in &self.nodes {
            let ns = format!("{prefix}-{role}");
            topo.add_namespace(&ns);
            // Addresses usable at once: no duplicate address detection. Set before the
            // interfaces exist, so they (and their link-local addresses) inherit it.
            if !self.dad {
                sysctl(
                    &ns,
                    &[
                        ("net/ipv6/conf/all/accept_dad", "0"),
                        ("net/ipv6/conf/default/accept_dad", "0"),
                    ],
                );
            }
            sh(&format!("ip -n {ns} link set lo up"));
            let mut macs = Vec::new();
            for (lan, &(net4, net6)) in LANS.iter().enumerate().take(self.lans) {
                // eth<lan> in the node, <role><lan> on the switch. Each end is created
                // in its own namespace, so the names cannot clash with other tests.
                // Deterministic, locally administered MAC: 02:f1:00:00:<lan>:<host>.
                let mac = format!("02:f1:00:00:{lan:02x}:{host:02x}");
                sh(&format!(
                    "ip link add eth{lan} netns {ns} address {mac} type veth \
                     peer name {role}{lan} netns {sw}"
                ));
                sh(&format!(
                    "ip -n {sw} link set {role}{lan} master br{lan} up"
                ));
                let v4 = with_host_v4(net4, *host);
                let v6 = with_host_v6(net6, *host);
                sh(&format!("ip -n {ns} addr add {v4}/24 dev eth{lan}"));
                sh(&format!("ip -n {ns} addr add {v6}/64 dev eth{lan} nodad"));
                sh(&format!("ip -n {ns} link set eth{lan} up"));
                macs.push(mac);
            }
            topo.nodes.push(Node {
                role: role.clone(),
                ns,
                host: *host,
                lans: self.lans,
                macs,
                shared: shared.clone(),
            });
        }
        // Ready means carrier on every link (a packet sent before that is dropped, and
        // a lost first ARP request is only retried a second later) and the IPv6
        // link-local addresses in place (VRRP over IPv6 is sent from them).
        for node in &topo.nodes {
            for lan in 0..topo.lans {
                let ready = wait_for(Duration::from_secs(5), || node.link_ready(lan));
                if let Err(e) = ready {
                    panic!(
                        "{}: eth{lan} not up with a link-local address: {e}",
                        node.ns
                    );
                }
            }
        }
        topo
    }
}

fn with_host_v4(net: Ipv4Addr, host: u8) -> Ipv4Addr {
    let o = net.octets();
    Ipv4Addr::new(o[0], o[1], o[2], host)
}

fn with_host_v6(net: Ipv6Addr, host: u8) -> Ipv6Addr {
    let mut s = net.segments();
    s[7] = u16::from(host);
    Ipv6Addr::from(s)
}

/// Namespaces on bridges. Dropping it kills every process left in its namespaces and
/// deletes them (the veths and bridges go with them), also when a test panics.
pub struct Topology {
    shared: Rc<Shared>,
    nodes: Vec<Node>,
    switch: String,
    lans: usize,
}

impl Topology {
    /// Starts describing a topology; `tag` names its log directory.
    pub fn builder(tag: &str) -> TopologyBuilder {
        TopologyBuilder {
            tag: tag.to_string(),
            lans: 1,
            nodes: Vec::new(),
            dad: false,
        }
    }

    fn add_namespace(&mut self, ns: &str) {
        // Recorded first so a half-made namespace is deleted too.
        self.shared.namespaces.borrow_mut().push(ns.to_string());
        run_ok(&["ip", "netns", "add", ns]);
    }

    /// `fip-<pid>-<n>`: every namespace of this topology starts with it.
    pub fn prefix(&self) -> &str {
        &self.shared.prefix
    }

    /// The namespaces of this topology (switch included).
    pub fn namespaces(&self) -> Vec<String> {
        self.shared.namespaces.borrow().clone()
    }

    /// Where configs and logs of this topology's daemons are kept.
    pub fn dir(&self) -> PathBuf {
        self.shared.dir.clone()
    }

    pub fn node(&self, role: &str) -> &Node {
        self.nodes
            .iter()
            .find(|n| n.role == role)
            .unwrap_or_else(|| panic!("no node {role:?} in this topology"))
    }

    pub fn nodes(&self) -> &[Node] {
        &self.nodes
    }

    /// The namespace holding the bridges.
    pub fn switch_ns(&self) -> &str {
        &self.switch
    }

    /// Roles of the nodes that have `addr` on an interface that is up, in node order.
    /// (A crashed master whose link went down keeps a stale address on it, but does
    /// not hold it in any useful sense.)
    pub fn holders(&self, addr: &str) -> Vec<String> {
        self.nodes
            .iter()
            .filter(|n| n.serves(addr))
            .map(|n| n.role.clone())
            .collect()
    }

    /// Waits until exactly the nodes `roles` hold `addr`; returns how long that took.
    /// Panics (with what it saw) on timeout or when a daemon died unexpectedly.
    #[track_caller]
    pub fn expect_holders(&self, addr: &str, roles: &[&str], timeout: Duration) -> Duration {
        let mut last = Vec::new();
        let what = format!("{addr} held by exactly {roles:?}");
        let took = self.try_within(timeout, &what, || {
            last = self.holders(addr);
            last == roles
        });
        match took {
            Ok(d) => d,
            Err(e) => panic!("{e}; last seen held by {last:?}"),
        }
    }

    /// Asserts that exactly `roles` hold `addr` for the whole `period`.
    #[track_caller]
    pub fn expect_holders_stay(&self, addr: &str, roles: &[&str], period: Duration) {
        let mut last = Vec::new();
        let mut died = None;
        let result = holds_for(period, || {
            if let Err(e) = self.check_daemons() {
                died = Some(e);
                return false;
            }
            last = self.holders(addr);
            last == roles
        });
        if let Some(e) = died {
            panic!("while checking that {addr} stays held by {roles:?}: {e}");
        }
        if let Err(e) = result {
            panic!(
                "{addr} should stay held by exactly {roles:?} for {period:?}: {e}; held by {last:?}"
            );
        }
    }

    /// Like [`wait_for`], but also fails at once when a daemon of this topology exits
    /// without having been told to.
    pub fn try_within(
        &self,
        timeout: Duration,
        what: &str,
        mut cond: impl FnMut() -> bool,
    ) -> Result<Duration, String> {
        let mut died = None;
        let r = wait_for(timeout, || {
            if let Err(e) = self.check_daemons() {
                died = Some(e);
                return true;
            }
            cond()
        });
        if let Some(e) = died {
            return Err(format!("while waiting for {what}: {e}"));
        }
        r.map_err(|e| format!("{what}: {e}"))
    }

    /// [`Topology::try_within`] that panics on failure.
    #[track_caller]
    pub fn expect_within(
        &self,
        timeout: Duration,
        what: &str,
        cond: impl FnMut() -> bool,
    ) -> Duration {
        match self.try_within(timeout, what, cond) {
            Ok(took) => took,
            Err(e) => panic!("{e}"),
        }
    }

    /// Err when a daemon that was not stopped by the test has exited.
    pub fn check_daemons(&self) -> Result<(), String> {
        for d in self
            .shared
            .daemons
            .borrow()
            .iter()
            .filter_map(Weak::upgrade)
        {
            d.check_alive()?;
        }
        Ok(())
    }

    /// Blocks VRRP (IP protocol 112) between `a` and `b`, both ways (by MAC, so
    /// multicast and unicast, IPv4 and IPv6 alike).
    pub fn partition_vrrp(&self, a: &Node, b: &Node) {
        a.drop_vrrp_from(b);
        b.drop_vrrp_from(a);
    }

    /// Undoes [`Topology::partition_vrrp`] (and any other nftables rule of the nodes).
    pub fn heal(&self, a: &Node, b: &Node) {
        a.clear_nft();
        b.clear_nft();
    }
}

impl Drop for Topology {
    fn drop(&mut self) {
        let namespaces = self.shared.namespaces.borrow().clone();
        // Nodes first, then the switch.
        for ns in namespaces.iter().rev() {
            let out = run(&["ip", "netns", "pids", ns]);
            for pid in String::from_utf8_lossy(&out.stdout).split_whitespace() {
                if let Ok(pid) = pid.parse::<i32>() {
                    let _ = nix::sys::signal::kill(
                        nix::unistd::Pid::from_raw(pid),
                        nix::sys::signal::Signal::SIGKILL,
                    );
                }
            }
            let out = run(&["ip", "netns", "del", ns]);
            if !out.status.success() {
                // Never panic in drop (it may run while unwinding); say it loudly.
                eprintln!(
                    "netns teardown: `ip netns del {ns}` failed: {}",
                    String::from_utf8_lossy(&out.stderr)
                );
            }
        }
    }
}

/// One namespace on the LAN(s). Its interfaces are `eth0`, `eth1`, ...
pub struct Node {
    pub role: String,
    pub ns: String,
    pub host: u8,
    lans: usize,
    macs: Vec<String>,
    shared: Rc<Shared>,
}

impl Node {
    /// Its IPv4 address on LAN `lan` (eth`lan`).
    pub fn ip4_on(&self, lan: usize) -> Ipv4Addr {
        with_host_v4(LANS[lan].0, self.host)
    }

    /// Its global IPv6 address on LAN `lan`.
    pub fn ip6_on(&self, lan: usize) -> Ipv6Addr {
        with_host_v6(LANS[lan].1, self.host)
    }

    /// Its IPv4 address on eth0.
    pub fn ip4(&self) -> Ipv4Addr {
        self.ip4_on(0)
    }

    /// Its global IPv6 address on eth0.
    pub fn ip6(&self) -> Ipv6Addr {
        self.ip6_on(0)
    }

    /// MAC of eth`lan`.
    pub fn mac_on(&self, lan: usize) -> &str {
        &self.macs[lan]
    }

    /// MAC of eth0.
    pub fn mac(&self) -> &str {
        &self.macs[0]
    }

    /// Runs a command inside the namespace (`ip netns exec`).
    pub fn exec(&self, args: &[&str]) -> Output {
        let mut all = vec!["ip", "netns", "exec", &self.ns];
        all.extend_from_slice(args);
        run(&all)
    }

    /// Like [`Node::exec`] but panics unless it succeeds; returns stdout.
    pub fn exec_ok(&self, args: &[&str]) -> String {
        let mut all = vec!["ip", "netns", "exec", &self.ns];
        all.extend_from_slice(args);
        run_ok(&all)
    }

    /// Runs `ip ARGS` in the namespace (`ip -n`), panicking unless it succeeds.
    pub fn ip(&self, args: &[&str]) -> String {
        let mut all = vec!["ip", "-n", &self.ns];
        all.extend_from_slice(args);
        run_ok(&all)
    }

    /// Whether `addr` (written without prefix length) is on one of its interfaces.
    pub fn has_address(&self, addr: &str) -> bool {
        let addr: IpAddr = addr
            .parse()
            .unwrap_or_else(|e| panic!("address {addr:?}: {e}"));
        self.addresses().contains(&addr)
    }

    /// Whether `addr` is on one of its interfaces that is administratively up.
    pub fn serves(&self, addr: &str) -> bool {
        let addr: IpAddr = addr
            .parse()
            .unwrap_or_else(|e| panic!("address {addr:?}: {e}"));
        parse_addresses(&self.ip(&["-o", "addr", "show", "up"])).contains(&addr)
    }

    /// Every address on every interface (lo included).
    pub fn addresses(&self) -> Vec<IpAddr> {
        parse_addresses(&self.ip(&["-o", "addr", "show"]))
    }

    /// Whether `addr` is on eth`lan` and not tentative.
    pub fn has_usable_address_on(&self, lan: usize, addr: &str) -> bool {
        self.ip(&["-o", "addr", "show", "dev", &format!("eth{lan}")])
            .lines()
            .any(|l| l.contains(&format!(" {addr}/")) && !l.contains("tentative"))
    }

    /// Its IPv6 link-local address on eth`lan`, once it exists.
    pub fn link_local_on(&self, lan: usize) -> Option<Ipv6Addr> {
        self.ip(&[
            "-o",
            "-6",
            "addr",
            "show",
            "dev",
            &format!("eth{lan}"),
            "scope",
            "link",
        ])
        .split_whitespace()
        .skip_while(|w| *w != "inet6")
        .nth(1)?
        .split('/')
        .next()?
        .parse()
        .ok()
    }

    /// Whether eth`lan` can carry traffic: carrier (`state UP`) and its IPv6 link-local
    /// address in place (VRRP over IPv6 is sent from it).
    pub fn link_ready(&self, lan: usize) -> bool {
        self.ip(&["-o", "link", "show", "dev", &format!("eth{lan}")])
            .contains("state UP")
            && self.link_local_on(lan).is_some()
    }

    /// Sets eth0 administratively down inside the node (the daemon sees its own
    /// interface go down).
    pub fn link_down(&self) {
        self.link_set(0, "down");
    }

    pub fn link_up(&self) {
        self.link_set(0, "up");
    }

    pub fn link_set(&self, lan: usize, updown: &str) {
        self.ip(&["link", "set", "dev", &format!("eth{lan}"), updown]);
    }

    /// Pulls the cable: the switch-side port goes down, so the node's eth`lan` loses
    /// carrier (LOWER_UP gone) while staying administratively up.
    pub fn unplug(&self, topo: &Topology, lan: usize) {
        run_ok(&[
            "ip",
            "-n",
            topo.switch_ns(),
            "link",
            "set",
            &format!("{}{lan}", self.role),
            "down",
        ]);
    }

    pub fn plug(&self, topo: &Topology, lan: usize) {
        run_ok(&[
            "ip",
            "-n",
            topo.switch_ns(),
            "link",
            "set",
            &format!("{}{lan}", self.role),
            "up",
        ]);
    }

    /// Replaces its nftables ruleset with table `inet fip` holding `input` and
    /// `output` rules.
    pub fn nft(&self, input: &[String], output: &[String]) {
        require_tool("nft", "nftables");
        let script = format!(
            "table inet fip {{\n chain input {{ type filter hook input priority 0; policy accept;\n{}\n }}\n chain output {{ type filter hook output priority 0; policy accept;\n{}\n }}\n}}\n",
            input.join("\n"),
            output.join("\n"),
        );
        self.clear_nft();
        let path = self.shared.dir.join(format!("{}.nft", self.role));
        std::fs::write(&path, &script).unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
        self.exec_ok(&["nft", "-f", path.to_str().expect("utf-8 path")]);
    }

    /// Drops every VRRP packet it would receive from `peer` (any family, any LAN).
    pub fn drop_vrrp_from(&self, peer: &Node) {
        let rules: Vec<String> = peer
            .macs
            .iter()
            .map(|mac| format!("  meta l4proto 112 ether saddr {mac} counter drop"))
            .collect();
        self.nft(&rules, &[]);
    }

    /// Drops all VRRP in and out of the node.
    pub fn drop_all_vrrp(&self) {
        let rule = vec!["  meta l4proto 112 counter drop".to_string()];
        self.nft(&rule, &rule);
    }

    /// Removes the node's nftables rules.
    pub fn clear_nft(&self) {
        require_tool("nft", "nftables");
        self.exec_ok(&["nft", "flush", "ruleset"]);
    }

    /// Packets dropped so far by its nftables rules (sum of the counters).
    pub fn nft_dropped(&self) -> u64 {
        let out = self.exec_ok(&["nft", "list", "table", "inet", "fip"]);
        out.split_whitespace()
            .collect::<Vec<_>>()
            .windows(2)
            .filter(|w| w[0] == "packets")
            .filter_map(|w| w[1].parse::<u64>().ok())
            .sum()
    }

    /// One ICMP echo to `target`; whether a reply came within `timeout`.
    pub fn ping_once(&self, target: &str, timeout: Duration) -> bool {
        icmp::ping_once(&self.ns, parse_ip(target), timeout)
    }

    /// Waits until `target` answers a ping; returns how long that took.
    #[track_caller]
    pub fn reach(&self, topo: &Topology, target: &str, timeout: Duration) -> Duration {
        topo.expect_within(timeout, &format!("{} reaches {target}", self.role), || {
            self.ping_once(target, Duration::from_millis(100))
        })
    }

    /// Starts pinging `target` every `interval` in the background.
    pub fn pinger(&self, target: &str, interval: Duration) -> Pinger {
        Pinger::start(&self.ns, parse_ip(target), interval)
    }

    /// The link-layer address its neighbour table (ARP / NDP) has for `addr`, if any.
    pub fn neighbour(&self, addr: &str) -> Option<String> {
        let out = self.ip(&["neigh", "show", "to", addr]);
        out.lines().find_map(|line| {
            let mut words = line.split_whitespace();
            words.find(|w| *w == "lladdr")?;
            words.next().map(str::to_string)
        })
    }

    /// Alias of [`Node::neighbour`] for IPv4 readers.
    pub fn arp_entry(&self, addr: &str) -> Option<String> {
        self.neighbour(addr)
    }

    /// Sets its neighbour entry for `addr` on eth0 to `mac` (state stale, so that any
    /// gratuitous ARP / NA may change it).
    pub fn set_neighbour(&self, addr: &str, mac: &str) {
        self.set_neighbour_on(0, addr, mac);
    }

    /// [`Node::set_neighbour`] on eth`lan`.
    pub fn set_neighbour_on(&self, lan: usize, addr: &str, mac: &str) {
        let dev = format!("eth{lan}");
        self.ip(&[
            "neigh", "replace", addr, "lladdr", mac, "dev", &dev, "nud", "stale",
        ]);
    }

    /// Sends a hand-made VRRPv3 advertisement from eth0 to `dst` (a peer or the
    /// multicast group), with TTL / hop limit 255.
    pub fn send_advert(&self, dst: &str, advert: &Advert) {
        vrrp::send(&self.ns, "eth0", parse_ip(dst), advert);
    }

    /// Sends a hand-made VRRPv2 advertisement from eth0 to `dst` (IPv4), with
    /// `password` (auth type 1) or without (auth type 0).
    pub fn send_v2_advert(&self, dst: &str, advert: &Advert, password: Option<&str>) {
        vrrp::send_v2(&self.ns, "eth0", parse_ip(dst), advert, password);
    }

    /// Sends an advertisement from eth0 to `dst` that breaks the rules as `forgery`
    /// says (TTL / hop limit, checksum form or a wrong checksum).
    pub fn send_forged_advert(&self, dst: &str, advert: &Advert, forgery: Forgery) {
        vrrp::send_forged(&self.ns, "eth0", parse_ip(dst), advert, forgery);
    }

    fn next_daemon_name(&self) -> String {
        let mut c = self.shared.daemon_counter.borrow_mut();
        *c += 1;
        format!("{}-{}", self.role, *c)
    }

    /// Starts recording the gratuitous ARP arriving on any interface of this node (use
    /// a node with one LAN, such as a client).
    pub fn listen_arp(&self) -> ArpListener {
        ArpListener::start(&self.ns)
    }

    /// Starts recording the VRRP advertisements arriving on eth`lan` (it joins the
    /// groups, as a daemon would).
    pub fn listen_vrrp(&self, lan: usize) -> Listener {
        Listener::start(&self.ns, &format!("eth{lan}"))
    }

    /// Starts `floatip run -c FILE` in this namespace with `config` as FILE. Its
    /// config and log are kept in the topology's directory as `<role>-<n>.yaml/.log`.
    pub fn spawn_floatip(&self, config: &str) -> Daemon {
        let daemon = Daemon::spawn(&self.ns, &self.next_daemon_name(), &self.shared.dir, config);
        self.shared.daemons.borrow_mut().push(daemon.watch());
        daemon
    }

    /// Starts any program in the namespace, handled like a daemon.
    pub fn spawn_process(&self, argv: &[&str]) -> Daemon {
        let name = self.next_daemon_name();
        let daemon = Daemon::spawn_command(&self.ns, &name, &self.shared.dir, argv, PathBuf::new());
        self.shared.daemons.borrow_mut().push(daemon.watch());
        daemon
    }

    /// Starts a command that should exit by itself (e.g. `floatip sniff -n N`); its
    /// stdout and stderr go to `<role>-<n>.out/.err` in the topology's directory. It is
    /// not watched like a daemon: exiting is what it is for. Killed on drop.
    pub fn spawn_oneshot(&self, argv: &[&str]) -> OneShot {
        OneShot::spawn(&self.ns, &self.next_daemon_name(), &self.shared.dir, argv)
    }

    /// Starts a daemon from a typed [`Config`].
    pub fn start(&self, config: &Config) -> Daemon {
        self.spawn_floatip(&config.to_yaml())
    }
}

/// Addresses in `ip -o addr show` output:
/// "2: eth0    inet 192.0.2.11/24 brd 192.0.2.255 scope global eth0\ ..."
fn parse_addresses(text: &str) -> Vec<IpAddr> {
    text.lines()
        .filter_map(|line| {
            let mut words = line.split_whitespace();
            words.find(|w| *w == "inet" || *w == "inet6")?;
            words.next()?.split('/').next()?.parse().ok()
        })
        .collect()
}

fn parse_ip(s: &str) -> IpAddr {
    s.parse().unwrap_or_else(|e| panic!("address {s:?}: {e}"))
}

/// Namespaces named with `prefix` that still exist.
pub fn leftover_namespaces(prefix: &str) -> Vec<String> {
    let out = run_ok(&["ip", "netns", "list"]);
    out.lines()
        .filter_map(|l| l.split_whitespace().next())
        .filter(|n| n.starts_with(&format!("{prefix}-")))
        .map(str::to_string)
        .collect()
}

// ----- Presets shared by the scenarios -----

/// The advertisement interval of most scenarios.
pub const ADV: Duration = Duration::from_millis(100);
/// How long a freshly started daemon may take before it runs its state machine
/// (process start, config, sockets), on top of protocol timers.
pub const STARTUP: Duration = Duration::from_secs(3);
/// The IPv4 virtual address of router `web`.
pub const VIP4: &str = "192.0.2.100";
/// The IPv6 virtual address of router `web6`.
pub const VIP6: &str = "2001:db8::100";

/// Router `web`: vrid 51, 192.0.2.100/24 on eth0, advert interval 100 ms.
pub fn web(priority: u8) -> Router {
    Router::new("web", 51, priority, &["192.0.2.100/24"])
}

/// Router `web6`: vrid 51, 2001:db8::100/64 on eth0, advert interval 100 ms.
pub fn web6(priority: u8) -> Router {
    Router::new("web6", 51, priority, &["2001:db8::100/64"])
}

/// The generous bound for "a backup of `priority` takes over": three master-down
/// intervals at [`ADV`] (about 1.1 s), against a protocol bound of one.
pub fn takeover_bound(priority: u8) -> Duration {
    3 * master_down(priority, ADV)
}

/// Two routers `a` (192.0.2.11) and `b` (192.0.2.12) and a client `c` (192.0.2.100 is
/// the VIP, so the client is .200).
pub fn pair(tag: &str) -> Topology {
    Topology::builder(tag)
        .node("a", 11)
        .node("b", 12)
        .node("c", 200)
        .build()
}

/// [`pair`] on two LANs: every node has `eth0` on the first and `eth1` on the second.
pub fn pair_on_two_lans(tag: &str) -> Topology {
    Topology::builder(tag)
        .lans(2)
        .node("a", 11)
        .node("b", 12)
        .node("c", 200)
        .build()
}

/// Connects to a daemon's event socket once it exists (within [`STARTUP`]), with a 5 s
/// read timeout: a stream read to its end after the daemon stops must fail, not hang.
pub fn connect_events(path: &std::path::Path) -> std::os::unix::net::UnixStream {
    wait_for(STARTUP, || path.exists()).expect("event socket created");
    let stream =
        std::os::unix::net::UnixStream::connect(path).expect("connect to the event socket");
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .expect("set a read timeout on the event socket");
    stream
}
