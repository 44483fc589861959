//! The configuration: one YAML file turned into a validated, typed `Config`.
//!
//! Owns the YAML schema (`schema`, serde with unknown keys refused), the rules of what is
//! valid (`validate`), the defaults, and error reporting that names file, line, column and
//! key, shows the line and says what would be valid (`error`). Must not touch the network
//! or need privileges: `check` runs as any user on any machine, so nothing here looks up
//! interfaces or addresses. Whether `eth0` exists is the daemon's business at start.
//!
//! The example with every key and its default is `packaging/examples/floatip.yaml`.

mod error;
mod locate;
mod schema;
mod validate;

use std::fmt;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

pub use crate::common::duration::{DurationError, format_duration, parse_duration};
pub use crate::common::security::{DEFAULT_SCRIPT_USER, FALLBACK_SCRIPT_USER};
pub use error::{ConfigError, Diagnostic, MAX_DIAGNOSTICS, Severity};

use crate::proto::fsm::RouterConfig;
use crate::proto::packet::{Auth, ChecksumForm, Family, Version};
use crate::proto::timers::Centisecs;

/// Priority when none is configured.
pub const DEFAULT_PRIORITY: u8 = 100;
/// Advertisement interval when none is configured (both versions).
pub const DEFAULT_ADVERT_INTERVAL: Centisecs = Centisecs(100);
/// Longest preempt delay accepted.
pub const MAX_PREEMPT_DELAY: Duration = Duration::from_secs(3600);
/// Gratuitous ARP / NA frames sent on becoming master.
pub const DEFAULT_ANNOUNCE_BURST: u8 = 3;
/// Spacing of the frames of a burst.
pub const DEFAULT_ANNOUNCE_BURST_INTERVAL: Duration = Duration::from_millis(10);
/// One more announcement this long after becoming master.
pub const DEFAULT_ANNOUNCE_REPEAT_AFTER: Duration = Duration::from_secs(2);
/// Re-announce this often while master (keepalived's `garp_master_refresh`, off there by
/// default; on here because a switch or peer that lost its entry otherwise never relearns
/// the VIP's location until the next failover).
pub const DEFAULT_ANNOUNCE_REFRESH_EVERY: Duration = Duration::from_secs(60);
/// Longest interface name Linux accepts (IFNAMSIZ - 1), also the limit of address labels.
pub const MAX_INTERFACE_NAME: usize = 15;

/// A validated configuration file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// The file it came from, as named by the caller.
    pub path: PathBuf,
    pub global: Global,
    pub routers: Vec<RouterSpec>,
    pub sync_groups: Vec<SyncGroupSpec>,
    /// Health checks, referenced by name from routers' and sync groups' `track`.
    pub checks: Vec<CheckSpec>,
    /// Things that load but are probably not what was meant (e.g. a sync group of one).
    pub warnings: Vec<Diagnostic>,
}

/// One virtual router, with every default applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouterSpec {
    /// Unique among the routers; used in logs, status, metrics and notify hooks.
    pub name: String,
    /// The interface advertisements are sent and received on.
    pub interface: String,
    /// 1..=255, unique per (interface, family).
    pub vrid: u8,
    /// Default V3.
    pub version: Version,
    /// 1..=255 (255: owner of the addresses); default 100.
    pub priority: u8,
    /// Default 1 s. V3: 10 ms..40.95 s in 10 ms steps; V2: whole seconds 1..=255.
    pub advert_interval: Centisecs,
    /// Default true.
    pub preempt: bool,
    /// Default 0, at most `MAX_PREEMPT_DELAY`.
    pub preempt_delay: Duration,
    /// Default true (unlike RFC 9568): a load balancer must receive traffic for its VIPs.
    pub accept_mode: bool,
    /// At least one, all of one family (IPv4 only for V2), no duplicates.
    pub addresses: Vec<VirtualAddress>,
    /// Unicast mode; `None` is multicast (224.0.0.18 / ff02::12).
    pub unicast: Option<Unicast>,
    /// How many hosts run this virtual router, this one included (2..=255), when the
    /// operator says so; with unicast, the peers plus one. `Some(2)` (or unicast with one
    /// peer) makes a backup take over at once when the master leaves (priority 0).
    pub hosts: Option<u8>,
    /// The v3/IPv4 checksum form; always `Auto` for v2 and IPv6 (where it is fixed).
    pub checksum: ChecksumMode,
    pub announce: Announce,
    /// The VRRPv2 simple-text password, 1..=8 bytes; never set for V3.
    pub password: Option<String>,
    /// Names of checks (in `Config::checks`) this router tracks, its sync group's
    /// included.
    pub track: Vec<String>,
    pub notify: Option<NotifySpec>,
}

/// Daemon-wide settings (the `global:` section).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Global {
    /// Who runs check scripts and notify hooks; `None`: `DEFAULT_SCRIPT_USER`, or
    /// `FALLBACK_SCRIPT_USER` when that user does not exist.
    pub script_user: Option<String>,
    /// A Unix stream socket that gets one JSON line per transition and priority change.
    pub event_socket: Option<PathBuf>,
}

/// One health check (the `checks:` section), with every default applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckSpec {
    /// Unique among the checks; referenced by `track:`.
    pub name: String,
    pub kind: CheckKind,
    /// 0: a failing check puts the routers tracking it in Fault. Positive: added to the
    /// priority while the check passes. Negative: added while it fails. For a `file`
    /// check, multiplied by the file's integer. -254..=254, default 0.
    pub weight: i32,
    /// Consecutive passes that make a failing check pass, 1..=100, default 1.
    pub rise: u32,
    /// Consecutive failures that make a passing check fail, 1..=100, default 1.
    pub fall: u32,
    /// The state before the first result; default false (failing: nothing is claimed
    /// before it is known to be healthy).
    pub initially_up: bool,
}

/// What a check looks at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CheckKind {
    /// Run a command (absolute path, no shell); exit 0 passes. A timeout is a failure
    /// and kills the command's whole process group.
    Script {
        command: Vec<String>,
        interval: Duration,
        timeout: Duration,
    },
    /// At least `min` running processes named `name` (`/proc/PID/comm`), watched by
    /// pidfd: a death is seen at once, a new process within `rescan`.
    Process {
        name: String,
        min: u32,
        rescan: Duration,
        /// How long the count must stay below `min` before the check fails (a restart
        /// of HAProxy within it changes nothing); default 0: at once.
        delay: Duration,
    },
    /// A TCP connect to `target`.
    Tcp {
        target: std::net::SocketAddr,
        interval: Duration,
        timeout: Duration,
    },
    /// An HTTP/1.1 GET of `path` on `target`; passes on status `expect`.
    Http {
        target: std::net::SocketAddr,
        host: Option<String>,
        path: String,
        expect: u16,
        interval: Duration,
        timeout: Duration,
    },
    /// The link state (up with carrier) of an interface.
    Interface { name: String },
    /// An integer read from a file (missing or empty: 0), watched with inotify.
    File { path: PathBuf },
}

impl CheckKind {
    /// The key that names the kind in the file.
    pub fn as_str(&self) -> &'static str {
        match self {
            CheckKind::Script { .. } => "script",
            CheckKind::Process { .. } => "process",
            CheckKind::Tcp { .. } => "tcp",
            CheckKind::Http { .. } => "http",
            CheckKind::Interface { .. } => "interface",
            CheckKind::File { .. } => "file",
        }
    }
}

/// Commands run on transitions (keepalived's `notify*`), as `script_user`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotifySpec {
    /// Run on every transition with `TYPE NAME STATE PRIORITY` appended (TYPE is
    /// INSTANCE for a router, GROUP for a sync group; STATE MASTER, BACKUP, FAULT or STOP).
    pub command: Option<Vec<String>>,
    /// Run, as given, on entering that state (before `command`).
    pub master: Option<Vec<String>>,
    pub backup: Option<Vec<String>>,
    pub fault: Option<Vec<String>>,
    pub stop: Option<Vec<String>>,
    /// A hook still running after this is killed (its process group); default 10 s.
    pub timeout: Duration,
}

/// Default notify hook timeout.
pub const DEFAULT_NOTIFY_TIMEOUT: Duration = Duration::from_secs(10);

/// A virtual address with its prefix and where it goes.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct VirtualAddress {
    pub address: IpAddr,
    /// Default /32 for IPv4, /128 for IPv6.
    pub prefix_len: u8,
    /// The interface to add it to, when not the router's own (keepalived's `dev`).
    pub device: Option<String>,
    /// IPv4 address label (`eth0:vip`), starting with the device name and `:`.
    pub label: Option<String>,
}

impl fmt::Display for VirtualAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.address, self.prefix_len)
    }
}

/// Unicast mode: advertisements go to the listed peers only, and only theirs are
/// accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unicast {
    /// Our source address; `None`: the interface's primary address of the family.
    pub source: Option<IpAddr>,
    /// At least one, of the router's family, not including `source`.
    pub peers: Vec<IpAddr>,
    /// How many routers may sit between us and a peer (0..=254; 0, the default, is the
    /// RFC's same-link rule). Peers' advertisements are accepted with a TTL / hop limit
    /// of at least `255 - max_hops`; ours are still sent with 255.
    pub max_hops: u8,
}

impl Unicast {
    /// The lowest TTL / hop limit accepted from a peer.
    pub fn min_ttl(&self) -> u8 {
        crate::proto::packet::min_ttl(self.max_hops)
    }

    /// The `max_hops` that would have accepted an advertisement from `src` that was
    /// dropped for arriving with `ttl`: `Some` only for a listed peer further away than
    /// `max_hops` allows (the hint to log), `None` for anyone else.
    pub fn hops_needed(&self, src: IpAddr, ttl: u8) -> Option<u8> {
        let hops = crate::proto::packet::hops_travelled(ttl);
        (self.peers.contains(&src) && hops > self.max_hops).then_some(hops)
    }

    /// The peers that are on none of `connected` (address, prefix length) subnets while
    /// `max_hops` is 0: their advertisements cross a router and would all be dropped.
    /// IPv6 link-local peers are on the link by definition.
    pub fn off_link_peers(&self, connected: &[(IpAddr, u8)]) -> Vec<IpAddr> {
        if self.max_hops > 0 {
            return Vec::new();
        }
        self.peers
            .iter()
            .copied()
            .filter(|peer| !matches!(peer, IpAddr::V6(v6) if v6.is_unicast_link_local()))
            .filter(|peer| {
                !connected
                    .iter()
                    .any(|&(net, len)| in_prefix(*peer, net, len))
            })
            .collect()
    }
}

/// `net`/`len` with the host bits cleared (`len` beyond the family's length counts as
/// the full length).
pub fn network(net: IpAddr, len: u8) -> IpAddr {
    match net {
        IpAddr::V4(v4) => {
            let mask = u32::MAX
                .checked_shl(32 - u32::from(len.min(32)))
                .unwrap_or(0);
            IpAddr::V4((u32::from(v4) & mask).into())
        }
        IpAddr::V6(v6) => {
            let mask = u128::MAX
                .checked_shl(128 - u32::from(len.min(128)))
                .unwrap_or(0);
            IpAddr::V6((u128::from(v6) & mask).into())
        }
    }
}

/// Whether `address` is in `net`/`len` (false across families).
pub fn in_prefix(address: IpAddr, net: IpAddr, len: u8) -> bool {
    address.is_ipv4() == net.is_ipv4() && network(address, len) == network(net, len)
}

/// The configured checksum form of VRRPv3 over IPv4.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum ChecksumMode {
    /// Accept both forms; answer each peer in the form it uses (send with the
    /// pseudo-header, as RFC 9568 says, until a peer is heard).
    #[default]
    Auto,
    /// Always send and require the IPv4 pseudo-header form (RFC 9568, keepalived, FRR).
    WithPseudoHeader,
    /// Always send and require the message-only form (some vendors).
    WithoutPseudoHeader,
}

impl ChecksumMode {
    /// The form to use when it is fixed by configuration; `None` for `Auto`.
    pub fn fixed(self) -> Option<ChecksumForm> {
        match self {
            ChecksumMode::Auto => None,
            ChecksumMode::WithPseudoHeader => Some(ChecksumForm::WithPseudoHeader),
            ChecksumMode::WithoutPseudoHeader => Some(ChecksumForm::WithoutPseudoHeader),
        }
    }

    /// The spelling in the YAML file.
    pub fn as_str(self) -> &'static str {
        match self {
            ChecksumMode::Auto => "auto",
            ChecksumMode::WithPseudoHeader => "with-pseudo-header",
            ChecksumMode::WithoutPseudoHeader => "without-pseudo-header",
        }
    }
}

impl fmt::Display for ChecksumMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Gratuitous ARP (IPv4) / unsolicited neighbour advertisement (IPv6) settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Announce {
    /// Frames sent on becoming master, 1..=255; default 3.
    pub burst: u8,
    /// Spacing of the burst's frames, 0..=1 s; default 10 ms.
    pub burst_interval: Duration,
    /// Announce once more this long after becoming master (a switch that was still
    /// converging catches the second round); default 2 s, `None` = off.
    pub repeat_after: Option<Duration>,
    /// Re-announce this often while master; default 60 s, `None` = off.
    pub refresh_every: Option<Duration>,
}

impl Default for Announce {
    fn default() -> Announce {
        Announce {
            burst: DEFAULT_ANNOUNCE_BURST,
            burst_interval: DEFAULT_ANNOUNCE_BURST_INTERVAL,
            repeat_after: Some(DEFAULT_ANNOUNCE_REPEAT_AFTER),
            refresh_every: Some(DEFAULT_ANNOUNCE_REFRESH_EVERY),
        }
    }
}

/// Routers that change state together: when one becomes master, backup or faulty, so do
/// the others.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyncGroupSpec {
    pub name: String,
    /// Names of routers in `Config::routers`; each router is in at most one group.
    pub routers: Vec<String>,
    /// Checks that apply to every member (also listed in each member's `track`).
    pub track: Vec<String>,
    pub notify: Option<NotifySpec>,
}

impl RouterSpec {
    /// The address family of the router (of all its virtual addresses).
    pub fn family(&self) -> Family {
        // Validation guarantees at least one address; IPv4 is only a fallback for a
        // hand-built spec without any.
        self.addresses
            .first()
            .map(|a| Family::of(&a.address))
            .unwrap_or(Family::V4)
    }

    /// VRRPv2 authentication: the password if one is set, otherwise none.
    pub fn auth(&self) -> Auth {
        match (self.version, &self.password) {
            (Version::V2, Some(password)) => Auth::password(password).unwrap_or(Auth::None),
            _ => Auth::None,
        }
    }

    /// The virtual addresses without prefixes, in configured order.
    pub fn virtual_ips(&self) -> Vec<IpAddr> {
        self.addresses.iter().map(|a| a.address).collect()
    }

    /// The interface a virtual address goes on (its `device`, else the router's).
    pub fn device_of<'a>(&'a self, address: &'a VirtualAddress) -> &'a str {
        address.device.as_deref().unwrap_or(&self.interface)
    }

    /// What the state machine needs. `primary_address` is our address on the interface
    /// (the unicast source when configured, else the interface's primary address of the
    /// router's family, which only the daemon can look up).
    pub fn fsm_config(&self, primary_address: IpAddr) -> RouterConfig {
        RouterConfig {
            vrid: self.vrid,
            version: self.version,
            priority: self.priority,
            advert_interval: self.advert_interval,
            preempt: self.preempt,
            preempt_delay: self.preempt_delay,
            accept_mode: self.accept_mode,
            primary_address,
            addresses: self.virtual_ips(),
            prefix_lens: self.addresses.iter().map(|a| a.prefix_len).collect(),
            announce_burst: self.announce.burst,
            announce_burst_interval: self.announce.burst_interval,
            announce_repeat_after: self.announce.repeat_after,
            announce_refresh_every: self.announce.refresh_every,
            checksum_form: self.checksum.fixed(),
            unicast_peers: self.unicast.as_ref().map(|u| u.peers.clone()),
            hosts: self.hosts,
        }
    }

    /// One line for `floatip check`: `web: eth0 vrid 51 v3 IPv4`.
    pub fn summary(&self) -> String {
        let family = match self.family() {
            Family::V4 => "IPv4",
            Family::V6 => "IPv6",
        };
        let mut line = format!(
            "{}: {} vrid {} v{} {}",
            self.name,
            self.interface,
            self.vrid,
            self.version.number(),
            family
        );
        if self.unicast.is_some() {
            line.push_str(" unicast");
        }
        line
    }
}

impl Config {
    /// The router of that name.
    pub fn router(&self, name: &str) -> Option<&RouterSpec> {
        self.routers.iter().find(|r| r.name == name)
    }

    /// The sync group a router belongs to, if any.
    pub fn sync_group_of(&self, router: &str) -> Option<&SyncGroupSpec> {
        self.sync_groups
            .iter()
            .find(|g| g.routers.iter().any(|r| r == router))
    }

    /// `floatip.yaml: OK, 2 routers (web: eth0 vrid 51 v3 IPv4, ...), 1 sync group (lb: web, web6)`.
    pub fn summary(&self) -> String {
        let routers = self
            .routers
            .iter()
            .map(RouterSpec::summary)
            .collect::<Vec<_>>()
            .join(", ");
        let groups = if self.sync_groups.is_empty() {
            "no sync groups".to_owned()
        } else {
            format!(
                "{} ({})",
                plural(self.sync_groups.len(), "sync group"),
                self.sync_groups
                    .iter()
                    .map(|g| format!("{}: {}", g.name, g.routers.join(", ")))
                    .collect::<Vec<_>>()
                    .join("; ")
            )
        };
        let checks = if self.checks.is_empty() {
            String::new()
        } else {
            format!(
                ", {} ({})",
                plural(self.checks.len(), "check"),
                self.checks
                    .iter()
                    .map(|c| format!("{}: {}", c.name, c.kind.as_str()))
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        };
        format!(
            "{}: OK, {} ({routers}), {groups}{checks}",
            self.path.display(),
            plural(self.routers.len(), "router")
        )
    }
}

fn plural(n: usize, noun: &str) -> String {
    if n == 1 {
        format!("1 {noun}")
    } else {
        format!("{n} {noun}s")
    }
}

/// Read and validate a configuration file.
pub fn load(path: &Path) -> Result<Config, ConfigError> {
    use std::io::Read as _;
    let read_error = |source| ConfigError::Read {
        path: path.to_path_buf(),
        source,
    };
    let file = std::fs::File::open(path).map_err(read_error)?;
    // Read one byte more than allowed, to tell "exactly the limit" from "larger".
    let mut text = String::new();
    file.take(MAX_CONFIG_BYTES + 1)
        .read_to_string(&mut text)
        .map_err(read_error)?;
    if text.len() as u64 > MAX_CONFIG_BYTES {
        return Err(read_error(std::io::Error::other(format!(
            "larger than {MAX_CONFIG_BYTES} bytes; that is not a floatip configuration"
        ))));
    }
    parse(&text, path)
}

/// Largest configuration file `load` reads (1 MiB: a configuration with 255 routers of
/// 255 addresses each is a fraction of that).
pub const MAX_CONFIG_BYTES: u64 = 1 << 20;

/// Validate configuration text; `path` names it in diagnostics and in `Config::path`.
/// Every semantic problem is reported, not just the first; a YAML or schema error (bad
/// syntax, unknown key, wrong type) stops at that one.
pub fn parse(text: &str, path: &Path) -> Result<Config, ConfigError> {
    validate::parse(text, path)
}

/// `floatip check FILE`: validate without privileges or network. On success, the
/// warnings (one rendered diagnostic each) followed by the summary line; on failure the
/// error, whose `Display` is the full report.
pub fn check(path: &Path) -> Result<String, ConfigError> {
    let config = load(path)?;
    let mut out: Vec<String> = config.warnings.iter().map(ToString::to_string).collect();
    out.push(config.summary());
    Ok(out.join("\n"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    fn unicast(max_hops: u8) -> Unicast {
        Unicast {
            source: None,
            peers: vec![ip("198.51.100.12"), ip("192.0.2.11"), ip("fe80::2")],
            max_hops,
        }
    }

    #[test]
    fn prefixes() {
        assert!(in_prefix(ip("192.0.2.200"), ip("192.0.2.1"), 24));
        assert!(!in_prefix(ip("192.0.2.200"), ip("192.0.2.1"), 25));
        assert!(in_prefix(ip("198.51.100.1"), ip("192.0.2.1"), 0));
        assert!(!in_prefix(ip("2001:db8::1"), ip("192.0.2.1"), 0));
        assert!(in_prefix(ip("2001:db8::1"), ip("2001:db8::ff"), 64));
        assert_eq!(network(ip("192.0.2.200"), 25), ip("192.0.2.128"));
        assert_eq!(network(ip("192.0.2.200"), 32), ip("192.0.2.200"));
    }

    #[test]
    fn off_link_peers_only_while_max_hops_is_zero() {
        let connected = [(ip("192.0.2.10"), 24), (ip("203.0.113.100"), 32)];
        // fe80:: is on the link by definition; 192.0.2.11 is on the /24.
        assert_eq!(unicast(0).off_link_peers(&connected), [ip("198.51.100.12")]);
        assert!(unicast(1).off_link_peers(&connected).is_empty());
    }

    #[test]
    fn the_hint_is_for_listed_peers_further_than_allowed() {
        assert_eq!(unicast(0).hops_needed(ip("198.51.100.12"), 254), Some(1));
        assert_eq!(unicast(1).hops_needed(ip("198.51.100.12"), 253), Some(2));
        assert_eq!(unicast(1).hops_needed(ip("198.51.100.12"), 254), None);
        // Not a peer: no hint (a stranger's drop must not suggest opening up).
        assert_eq!(unicast(0).hops_needed(ip("198.51.100.13"), 254), None);
    }
}
