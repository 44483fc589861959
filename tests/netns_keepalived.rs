//! Interop with a real keepalived (Debian 12's 2.2.7): operators migrate one node at a
//! time, so a floatip node and a keepalived node must form one virtual router. One test
//! per mode: VRRPv2 without and with a password, VRRPv3 over IPv4 (keepalived puts the
//! IPv4 pseudo-header in the checksum; floatip's `checksum: auto` must answer in kind),
//! VRRPv3 over IPv6, and unicast (VRRPv3 over IPv4).
//!
//! Each runs the same story on nodes a (floatip, .11) and b (keepalived, .12), with
//! tcpdump on a's switch port the whole time:
//!  1. keepalived (200) is master; floatip (150) joins and stays backup;
//!  2. keepalived crashes (SIGKILL + link down): floatip takes over;
//!  3. keepalived comes back and preempts floatip;
//!  4. floatip comes back with 250 and preempts keepalived;
//!  5. floatip crashes (SIGKILL + link down): keepalived takes over;
//!  6. floatip comes back and preempts again;
//!  7. 60 s of steady state: a alone holds the address; no election event in either
//!     log; keepalived accepted exactly the adverts that crossed the wire;
//!  8. floatip stops gracefully and keepalived takes over from its priority 0.
//!
//! Then, over the whole run: neither side ever rejected an advertisement (floatip's
//! logs and exit counters, keepalived's log and statistics), and every advertisement on
//! the wire, from either side, has TTL 255, the configured version, VRID and interval,
//! and the checksum in keepalived's form.
//!
//! Bounds are three master-down intervals plus a second: generous, for a noisy shared
//! machine; the protocol bound is one. Needs root and keepalived (and tcpdump); fails
//! (does not skip) without them.

mod netns;

use std::net::IpAddr;
use std::time::{Duration, Instant};

use netns::capture::{Capture, Packet};
use netns::keepalived::{KA_TRANSITIONS, KaRouter, Keepalived};
use netns::{
    Config, Daemon, Node, Router, STARTUP, Topology, VIP4, VIP6, master_down, matching_lines, pair,
};

/// The steady-state window.
const STEADY: Duration = Duration::from_secs(60);
/// The VRRPv3 advertisement interval: short enough for quick failovers, long enough
/// that a scheduling hiccup of a loaded two-core machine is not a missed advert.
const V3_INTERVAL: Duration = Duration::from_millis(500);
/// VRRPv2 counts whole seconds.
const V2_INTERVAL: Duration = Duration::from_secs(1);
/// The VRID of every scenario.
const VRID: u8 = 51;
const PASSWORD: &str = "s3cret";

/// Priorities of the story.
const KA_PRIO: u8 = 200;
const FIP_LOW: u8 = 150;
const FIP_HIGH: u8 = 250;

/// floatip log fragments (lowercase) that mark an election event.
const FIP_TRANSITIONS: &[&str] = &["state change", "effective priority"];

/// floatip log fragments (lowercase) saying it dropped an advertisement.
const FIP_REJECTS: &[&str] = &["dropped advertisement", "lists other virtual addresses"];

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Mode {
    V2,
    V2Password,
    V3Ipv4,
    V3Ipv6,
    Unicast,
}

impl Mode {
    fn tag(self) -> &'static str {
        match self {
            Mode::V2 => "ka-v2",
            Mode::V2Password => "ka-v2pass",
            Mode::V3Ipv4 => "ka-v3v4",
            Mode::V3Ipv6 => "ka-v3v6",
            Mode::Unicast => "ka-ucast",
        }
    }

    fn version(self) -> u8 {
        match self {
            Mode::V2 | Mode::V2Password => 2,
            _ => 3,
        }
    }

    fn interval(self) -> Duration {
        match self.version() {
            2 => V2_INTERVAL,
            _ => V3_INTERVAL,
        }
    }

    /// The interval field of an advert: seconds (v2) or centiseconds (v3).
    fn interval_field(self) -> u16 {
        match self.version() {
            2 => self.interval().as_secs() as u16,
            _ => (self.interval().as_millis() / 10) as u16,
        }
    }

    fn vip(self) -> &'static str {
        match self {
            Mode::V3Ipv6 => VIP6,
            _ => VIP4,
        }
    }

    fn vip_with_prefix(self) -> &'static str {
        match self {
            Mode::V3Ipv6 => "2001:db8::100/64",
            _ => "192.0.2.100/24",
        }
    }

    /// floatip's router on node `a`, peer `b`.
    fn floatip(self, priority: u8, a: &Node, b: &Node) -> Router {
        let r = Router::new("web", VRID, priority, &[self.vip_with_prefix()])
            .advert_interval(self.interval());
        match self {
            Mode::V2 => r.with("version: 2"),
            Mode::V2Password => r
                .with("version: 2")
                .with(&format!("password: \"{PASSWORD}\"")),
            Mode::V3Ipv4 => r.with("checksum: auto"),
            Mode::V3Ipv6 => r,
            Mode::Unicast => r.unicast(&a.ip4().to_string(), &[&b.ip4().to_string()]),
        }
    }

    /// keepalived's instance on node `b`, peer `a`.
    fn keepalived(self, priority: u8, a: &Node, b: &Node) -> KaRouter {
        let r = KaRouter::new(VRID, priority, &[self.vip_with_prefix()])
            .version(self.version())
            .advert_interval(self.interval());
        match self {
            Mode::V2Password => r.password(PASSWORD),
            Mode::Unicast => r.unicast(&b.ip4().to_string(), &[&a.ip4().to_string()]),
            _ => r,
        }
    }

    /// The generous bound on "a backup of `priority` takes over".
    fn takeover(self, priority: u8) -> Duration {
        3 * master_down(priority, self.interval()) + Duration::from_secs(1)
    }

    /// The address each side sends from.
    fn source(self, node: &Node) -> IpAddr {
        match self {
            Mode::V3Ipv6 => IpAddr::V6(node.link_local_on(0).expect("a link-local address")),
            _ => IpAddr::V4(node.ip4()),
        }
    }
}

/// Sets eth0 up again and waits until it can carry VRRP (carrier and, for IPv6, the
/// link-local address back: Linux flushed it on link down).
fn link_up(topo: &Topology, node: &Node) {
    node.link_up();
    topo.expect_within(
        Duration::from_secs(5),
        "eth0 up with a link-local address",
        || node.link_ready(0),
    );
}

/// How often keepalived has entered BACKUP state so far.
fn backups(k: &Keepalived) -> usize {
    k.log().matches("Entering BACKUP STATE").count()
}

/// Panics with the offending lines if `text` has lines containing any of `fragments`.
#[track_caller]
fn assert_no_lines(what: &str, text: &str, fragments: &[&str]) {
    let lines = matching_lines(text, fragments);
    assert!(lines.is_empty(), "{what}:\n{}", lines.join("\n"));
}

/// Fails at once, with the lines, when either side has rejected an advertisement so
/// far: the clearest diagnosis of an interop bug, before its effect on the election.
#[track_caller]
fn assert_no_rejects(floatips: &[Daemon], keepaliveds: &[Keepalived]) {
    for d in floatips {
        assert_no_lines(
            &format!("floatip {} dropped advertisements", d.name()),
            &d.log(),
            FIP_REJECTS,
        );
    }
    for k in keepaliveds {
        let rejects = k.rejects();
        assert!(
            rejects.is_empty(),
            "keepalived {} rejected adverts:\n{}",
            k.name(),
            rejects.join("\n")
        );
    }
}

/// floatip's per-router counters line at exit: `(received, sent, dropped)`.
fn exit_counters(daemon: &Daemon) -> (u64, u64, String) {
    let log = daemon.log();
    let line = log
        .lines()
        .rev()
        .find(|l| l.contains("advertisements: dropped"))
        .unwrap_or_else(|| {
            panic!(
                "{} logged no counters at exit:\n{}",
                daemon.name(),
                daemon.log_tail(20)
            )
        });
    let field = |name: &str| -> u64 {
        line.split_whitespace()
            .find_map(|w| w.strip_prefix(&format!("{name}=")))
            .and_then(|v| v.trim_matches(|c: char| !c.is_ascii_digit()).parse().ok())
            .unwrap_or_else(|| panic!("no {name}= in {line:?}"))
    };
    // "... advertisements: dropped [(\"reason\", n)] received=.. sent=.. ..."
    let dropped = line
        .split("advertisements: dropped ")
        .nth(1)
        .and_then(|rest| rest.split(" received=").next())
        .unwrap_or_default()
        .trim()
        .to_string();
    (field("received"), field("sent"), dropped)
}

/// Checks every advert on the wire from `src` (floatip or keepalived) against `mode`.
#[track_caller]
fn check_wire(mode: Mode, who: &str, packets: &[Packet]) {
    assert!(!packets.is_empty(), "no advert from {who} on the wire");
    for p in packets {
        let what = format!("{who}'s advert {p:?}");
        assert_eq!(p.ttl, 255, "{what}: TTL / hop limit");
        assert_eq!(p.version, mode.version(), "{what}: version");
        assert_eq!(p.vrid, VRID, "{what}: VRID");
        assert_eq!(p.interval, mode.interval_field(), "{what}: interval");
        assert!(
            p.checksum_as_keepalived(),
            "{what}: checksum not in keepalived's form (plain ok: {}, with pseudo-header ok: {})",
            p.sum_plain,
            p.sum_pseudo
        );
        if mode == Mode::V2Password {
            assert_eq!(
                &p.vrrp[p.vrrp.len() - 8..],
                b"s3cret\0\0",
                "{what}: password, NUL-padded"
            );
            assert_eq!(p.vrrp[4], 1, "{what}: auth type PASS");
        }
        if matches!(mode, Mode::V3Ipv4 | Mode::Unicast) {
            // The two forms differ (else the check above proves nothing).
            assert!(
                !p.sum_plain,
                "{what}: checksum also right without pseudo-header"
            );
        }
        if mode == Mode::Unicast {
            assert!(
                !p.dst.is_multicast(),
                "{what}: unicast mode sent to a group"
            );
        }
    }
}

fn scenario(mode: Mode) {
    let started = Instant::now();
    let topo = pair(mode.tag());
    let (a, b, c) = (topo.node("a"), topo.node("b"), topo.node("c"));
    let vip = mode.vip();
    let fip = |priority| Config::one(mode.floatip(priority, a, b));
    let ka = |priority| mode.keepalived(priority, a, b);
    let wire: Capture = topo.capture_vrrp(a, 0);
    let (src_a, src_b) = (mode.source(a), mode.source(b));
    let mut floatips: Vec<Daemon> = Vec::new();
    let mut keepaliveds: Vec<Keepalived> = Vec::new();

    // 1. keepalived higher: master; floatip joins as backup and stays backup.
    keepaliveds.push(b.start_keepalived(&ka(KA_PRIO)));
    topo.expect_holders(vip, &["b"], STARTUP + mode.takeover(KA_PRIO));
    floatips.push(a.start(&fip(FIP_LOW)));
    topo.expect_within(STARTUP, "floatip logs it is backup", || {
        floatips[0].log_contains("-> BACKUP")
    });
    topo.expect_holders_stay(vip, &["b"], 2 * master_down(FIP_LOW, mode.interval()));
    assert!(
        keepaliveds[0].log_contains("Entering MASTER STATE"),
        "keepalived says it is master:\n{}",
        keepaliveds[0].log_tail(20)
    );

    assert_no_rejects(&floatips, &keepaliveds);

    // 2. keepalived crashes: floatip takes over.
    keepaliveds[0].crash();
    b.link_down();
    let took = topo.expect_holders(vip, &["a"], mode.takeover(FIP_LOW));
    eprintln!("{mode:?}: floatip took over from crashed keepalived in {took:?}");

    assert_no_rejects(&floatips, &keepaliveds);

    // 3. keepalived comes back, higher: it preempts floatip.
    link_up(&topo, b);
    keepaliveds.push(b.start_keepalived(&ka(KA_PRIO)));
    let took = topo.expect_holders(vip, &["b"], STARTUP + mode.takeover(KA_PRIO));
    eprintln!("{mode:?}: restarted keepalived preempted floatip in {took:?}");
    topo.expect_within(STARTUP, "floatip logs it went back to backup", || {
        floatips[0].log_contains("MASTER -> BACKUP")
    });

    assert_no_rejects(&floatips, &keepaliveds);

    // 4. floatip comes back higher than keepalived: it preempts keepalived.
    floatips[0].term(Duration::from_secs(5)).unwrap();
    topo.expect_holders_stay(vip, &["b"], 2 * mode.interval());
    floatips.push(a.start(&fip(FIP_HIGH)));
    let took = topo.expect_holders(vip, &["a"], STARTUP + mode.takeover(FIP_HIGH));
    eprintln!("{mode:?}: floatip with higher priority preempted keepalived in {took:?}");
    // Its first BACKUP is the one it starts in.
    topo.expect_within(STARTUP, "keepalived logs it went back to backup", || {
        backups(&keepaliveds[1]) >= 2
    });

    assert_no_rejects(&floatips, &keepaliveds);

    // 5. floatip crashes: keepalived takes over.
    floatips[1].kill();
    a.link_down();
    let took = topo.expect_holders(vip, &["b"], mode.takeover(KA_PRIO));
    eprintln!("{mode:?}: keepalived took over from crashed floatip in {took:?}");

    assert_no_rejects(&floatips, &keepaliveds);

    // 6. floatip comes back and preempts again.
    link_up(&topo, a);
    floatips.push(a.start(&fip(FIP_HIGH)));
    let took = topo.expect_holders(vip, &["a"], STARTUP + mode.takeover(FIP_HIGH));
    eprintln!("{mode:?}: restarted floatip preempted keepalived in {took:?}");
    topo.expect_within(STARTUP, "keepalived logs it went back to backup", || {
        backups(&keepaliveds[1]) >= 3
    });
    topo.expect_holders_stay(vip, &["a"], 3 * mode.interval());

    assert_no_rejects(&floatips, &keepaliveds);

    // 7. Steady state.
    let (fip_now, ka_now) = (&floatips[2], &keepaliveds[1]);
    let fip_mark = fip_now.log().len();
    let ka_mark = ka_now.log().len();
    let stats_before = ka_now.stats();
    let wire_before = wire.from(src_a).len();
    let window_start = Instant::now();
    topo.expect_holders_stay(vip, &["a"], STEADY);
    let window = window_start.elapsed();
    let stats_after = ka_now.stats();
    let wire_after = wire.from(src_a).len();
    assert_no_lines(
        "floatip logged election events in the steady state",
        &fip_now.log_since(fip_mark),
        FIP_TRANSITIONS,
    );
    assert_no_lines(
        "floatip dropped advertisements in the steady state",
        &fip_now.log_since(fip_mark),
        FIP_REJECTS,
    );
    assert_no_lines(
        "keepalived logged election events in the steady state",
        &ka_now.log_since(ka_mark),
        KA_TRANSITIONS,
    );
    // Every advert floatip sent in the window reached keepalived and was accepted.
    let accepted = stats_after.received() - stats_before.received();
    let sent = (wire_after - wire_before) as u64;
    let expected = (window.as_secs_f64() / mode.interval().as_secs_f64()) as u64;
    eprintln!(
        "{mode:?}: steady {window:?}: {sent} adverts from floatip on the wire, keepalived \
         accepted {accepted}, {expected} expected"
    );
    // The two reads are not simultaneous with the wire: two adverts of slack.
    assert!(
        accepted + 2 >= sent && accepted <= sent + 2,
        "keepalived accepted {accepted} of floatip's {sent} adverts in the window"
    );
    assert!(
        sent + 2 >= expected,
        "floatip sent {sent} adverts in {window:?} at {:?}: fewer than {expected}",
        mode.interval()
    );
    let gaps: Vec<f64> = wire
        .from(src_a)
        .windows(2)
        .skip(wire_before)
        .map(|w| w[1].time - w[0].time)
        .collect();
    let max_gap = gaps.iter().copied().fold(0.0, f64::max);
    assert!(
        max_gap < 1.9 * mode.interval().as_secs_f64(),
        "floatip skipped an advert in the window: gap of {max_gap:.3} s at {:?}",
        mode.interval()
    );
    c.reach(&topo, vip, Duration::from_secs(3));

    assert_no_rejects(&floatips, &keepaliveds);

    // 8. floatip stops gracefully: keepalived takes over from its priority 0.
    floatips[2].term(Duration::from_secs(10)).unwrap();
    let took = topo.expect_holders(vip, &["b"], mode.takeover(KA_PRIO));
    eprintln!("{mode:?}: keepalived took over from floatip's priority 0 in {took:?}");
    assert!(
        keepaliveds[1].log_contains("Backup received priority 0 advertisement"),
        "keepalived heard floatip's priority 0:\n{}",
        keepaliveds[1].log_tail(20)
    );

    // Over the whole run: nobody rejected anything.
    let (received, sent, dropped) = exit_counters(&floatips[2]);
    assert_eq!(dropped, "[]", "floatip's exit counters: dropped");
    assert!(received > 0, "floatip received keepalived's adverts");
    assert!(sent > 0, "floatip sent adverts");
    let (received, _, dropped) = exit_counters(&floatips[0]);
    assert_eq!(dropped, "[]", "first floatip's exit counters: dropped");
    assert!(received > 0, "first floatip received keepalived's adverts");
    assert_no_rejects(&floatips, &keepaliveds);
    let stats = keepaliveds[1].stats();
    assert_eq!(
        stats.errors(),
        vec![],
        "keepalived's error counters: {stats:?}"
    );
    assert!(
        stats.received() > 0,
        "keepalived received floatip's adverts"
    );
    if matches!(mode, Mode::V3Ipv4 | Mode::Unicast) {
        // auto mode learnt keepalived's form.
        let learnt = format!(
            "peer's VRRPv3 checksum form peer={} form=WithPseudoHeader",
            b.ip4()
        );
        for d in &floatips {
            assert!(
                d.log_contains(&learnt),
                "floatip {} logged no {learnt:?}:\n{}",
                d.name(),
                d.log_tail(20)
            );
        }
    }
    let packets = wire.packets();
    let from = |src| -> Vec<Packet> { packets.iter().filter(|p| p.src == src).cloned().collect() };
    check_wire(mode, "floatip", &from(src_a));
    check_wire(mode, "keepalived", &from(src_b));
    assert!(
        packets.iter().all(|p| p.src == src_a || p.src == src_b),
        "adverts from a third party: {:?}",
        packets
            .iter()
            .filter(|p| p.src != src_a && p.src != src_b)
            .collect::<Vec<_>>()
    );
    eprintln!("{mode:?}: whole scenario took {:?}", started.elapsed());
}

#[test]
fn keepalived_vrrp2() {
    scenario(Mode::V2);
}

#[test]
fn keepalived_vrrp2_password() {
    scenario(Mode::V2Password);
}

#[test]
fn keepalived_vrrp3_ipv4() {
    scenario(Mode::V3Ipv4);
}

#[test]
fn keepalived_vrrp3_ipv6() {
    scenario(Mode::V3Ipv6);
}

#[test]
fn keepalived_unicast() {
    scenario(Mode::Unicast);
}

/// The wire checks above rest on the capture decoder; it must read keepalived's own
/// captures (`tests/data/`) as keepalived's checksum forms: v2 over the message only,
/// v3 with the pseudo-header over IPv4 (multicast and unicast) and IPv6. Needs no root.
#[test]
fn capture_decoder_reads_keepalived_captures() {
    let data = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data");
    for (file, version, ipv4) in [
        ("v2-noauth.pcap", 2, true),
        ("v2-pass.pcap", 2, true),
        ("v3-ipv4.pcap", 3, true),
        ("v3-ipv4-unicast.pcap", 3, true),
        ("v3-ipv6.pcap", 3, false),
    ] {
        let bytes = std::fs::read(data.join(file)).unwrap_or_else(|e| panic!("{file}: {e}"));
        let packets = netns::capture::parse_pcap(&bytes);
        assert!(!packets.is_empty(), "{file}: no VRRP packet decoded");
        for p in &packets {
            assert_eq!(p.version, version, "{file}: {p:?}");
            assert_eq!(p.src.is_ipv4(), ipv4, "{file}: {p:?}");
            assert_eq!(p.ttl, 255, "{file}: {p:?}");
            assert!(p.checksum_as_keepalived(), "{file}: {p:?}");
            if version == 3 && ipv4 {
                assert!(
                    !p.sum_plain,
                    "{file}: right without pseudo-header too: {p:?}"
                );
            }
        }
        // Each capture ends with the priority 0 keepalived sends on SIGTERM.
        assert_eq!(packets.last().map(|p| p.priority), Some(0), "{file}");
    }
}
