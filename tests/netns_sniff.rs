//! `floatip sniff IFACE -n N` in a namespace: what it prints about real daemons'
//! advertisements and about forged ones it would drop, and that it stops by itself after
//! N packets. Also: the forged packets sniff calls rejected do not move a running
//! master, where the same packet well-formed does (`netns_partition.rs`).
//! Needs root; fails (does not skip) without it.

mod netns;

use std::net::IpAddr;
use std::time::Duration;

use netns::{
    ADV, Advert, Checksum, Config, Forgery, Node, OneShot, STARTUP, Topology, VIP4, takeover_bound,
    web,
};

const BIN: &str = env!("CARGO_BIN_EXE_floatip");

/// Bound on a sniff that should have printed all its packets already.
const SNIFF_DEADLINE: Duration = Duration::from_secs(10);

/// One line of sniff output: `"    12.345 <what describe() says>"`; the elapsed seconds
/// and the description.
fn parse_line(line: &str) -> (f64, &str) {
    let (elapsed, rest) = line
        .trim_start()
        .split_once(' ')
        .unwrap_or_else(|| panic!("sniff line without a description: {line:?}"));
    let elapsed = elapsed
        .parse()
        .unwrap_or_else(|e| panic!("sniff line {line:?}: elapsed seconds {elapsed:?}: {e}"));
    (elapsed, rest)
}

/// Starts `floatip sniff eth0 -n count` on `node` and waits until its sockets are open.
fn start_sniff(topo: &Topology, node: &Node, count: u64) -> OneShot {
    let count = count.to_string();
    let sniff = node.spawn_oneshot(&[BIN, "sniff", "eth0", "-n", &count]);
    let ready = topo.try_within(Duration::from_secs(5), "sniff is listening", || {
        sniff.stderr().contains("listening for VRRP on eth0") || sniff.exited().is_some()
    });
    if let Err(e) = ready {
        panic!("{e}; stderr: {}", sniff.stderr());
    }
    assert!(
        sniff.exited().is_none(),
        "sniff exited before it saw anything ({:?}); stdout:\n{}\nstderr:\n{}",
        sniff.exited(),
        sniff.stdout(),
        sniff.stderr()
    );
    sniff
}

#[test]
fn sniff_prints_the_masters_adverts_and_stops_after_n() {
    let topo = Topology::builder("sniff")
        .node("a", 11)
        .node("b", 12)
        .node("s", 13)
        .build();
    let (a, b, s) = (topo.node("a"), topo.node("b"), topo.node("s"));
    // The master first, alone; the backup only once the master holds the address. Both
    // started together can both time out before either hears the other (their skew
    // times differ by 19 ms, less than the spread of two process starts); the loser then
    // says farewell with priority 0, which is right, but not what this test counts.
    let _da = a.start(&Config::one(web(150)));
    topo.expect_holders(VIP4, &["a"], STARTUP + takeover_bound(150));
    let db = b.start(&Config::one(web(100)));
    topo.try_within(STARTUP, "b starts as backup", || {
        db.log_contains("INIT -> BACKUP")
    })
    .unwrap_or_else(|e| panic!("{e}; b's log:\n{}", db.log_tail(20)));

    let sniff = start_sniff(&topo, s, 5);
    let status = sniff.wait(SNIFF_DEADLINE).unwrap_or_else(|e| panic!("{e}"));
    let out = sniff.stdout();
    assert!(
        status.success(),
        "sniff -n 5 exits 0 ({status}); stdout:\n{out}\nstderr:\n{}",
        sniff.stderr()
    );
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 5, "exactly 5 lines:\n{out}");
    // Only the master advertises; the backup is silent.
    let expected = format!(
        "{} > 224.0.0.18 ttl 255 VRRPv3 vrid 51 prio 150 interval 100ms addrs 192.0.2.100 \
         checksum with-pseudo-header",
        a.ip4()
    );
    let mut times = Vec::new();
    for line in &lines {
        let (elapsed, description) = parse_line(line);
        assert_eq!(description, expected, "in:\n{out}");
        times.push(elapsed);
    }
    assert!(
        times.windows(2).all(|w| w[0] <= w[1]),
        "elapsed times go up:\n{out}"
    );
    // Five adverts 100 ms apart span about 400 ms: five distinct packets, not one
    // printed five times.
    let span = times[4] - times[0];
    assert!(
        span >= (3 * ADV).as_secs_f64(),
        "5 adverts at {ADV:?} spanned only {span:.3} s:\n{out}"
    );
}

fn forged_advert(vrid: u8, priority: u8, address: &str) -> Advert {
    Advert {
        vrid,
        priority,
        interval_cs: 100,
        addresses: vec![address.parse::<IpAddr>().expect("address")],
    }
}

#[test]
fn sniff_says_why_it_would_drop_a_forged_advert() {
    let topo = Topology::builder("sniff-forge")
        .node("s", 13)
        .node("x", 14)
        .build();
    let (s, x) = (topo.node("s"), topo.node("x"));
    let v4 = forged_advert(77, 200, "192.0.2.177");
    let v6 = forged_advert(77, 200, "2001:db8::177");
    let x4 = x.ip4();
    let x6 = x.link_local_on(0).expect("x has a link-local address");
    let group4 = "224.0.0.18";
    let group6 = "ff02::12";
    let ttl = |ttl| Forgery {
        ttl,
        ..Forgery::default()
    };
    let checksum = |checksum| Forgery {
        checksum,
        ..Forgery::default()
    };
    let s4 = s.ip4().to_string();
    // (destination, advert, forgery, what sniff prints after the elapsed seconds; a
    // trailing "…" means "starts with").
    let cases: Vec<(&str, &Advert, Forgery, String)> = vec![
        (
            group4,
            &v4,
            Forgery::default(),
            format!(
                "{x4} > {group4} ttl 255 VRRPv3 vrid 77 prio 200 interval 1000ms \
                 addrs 192.0.2.177 checksum with-pseudo-header"
            ),
        ),
        (
            group4,
            &v4,
            checksum(Checksum::WithoutPseudoHeader),
            format!(
                "{x4} > {group4} ttl 255 VRRPv3 vrid 77 prio 200 interval 1000ms \
                 addrs 192.0.2.177 checksum without-pseudo-header"
            ),
        ),
        (
            group4,
            &v4,
            ttl(64),
            format!("{x4} > {group4} ttl 64 version 3 vrid 77 REJECTED bad_ttl: …"),
        ),
        (
            &s4,
            &v4,
            ttl(64),
            format!("{x4} > {s4} ttl 64 version 3 vrid 77 REJECTED bad_ttl: …"),
        ),
        (
            group4,
            &v4,
            checksum(Checksum::Wrong),
            format!("{x4} > {group4} ttl 255 version 3 vrid 77 REJECTED bad_checksum: …"),
        ),
        (
            group6,
            &v6,
            Forgery::default(),
            format!(
                "{x6} > {group6} ttl 255 VRRPv3 vrid 77 prio 200 interval 1000ms \
                 addrs 2001:db8::177"
            ),
        ),
        (
            group6,
            &v6,
            ttl(1),
            format!("{x6} > {group6} ttl 1 version 3 vrid 77 REJECTED bad_ttl: …"),
        ),
        (
            group6,
            &v6,
            checksum(Checksum::Wrong),
            format!("{x6} > {group6} ttl 255 version 3 vrid 77 REJECTED bad_checksum: …"),
        ),
    ];

    let sniff = start_sniff(&topo, s, cases.len() as u64);
    // One at a time, each awaited, so the IPv4 and IPv6 sockets cannot reorder them.
    for (n, (dst, advert, forgery, expected)) in cases.iter().enumerate() {
        x.send_forged_advert(dst, advert, *forgery);
        let printed = topo.try_within(
            Duration::from_secs(2),
            &format!("sniff prints line {} ({forgery:?} to {dst})", n + 1),
            || sniff.stdout().lines().count() > n,
        );
        if let Err(e) = printed {
            panic!("{e}; stdout so far:\n{}", sniff.stdout());
        }
        let out = sniff.stdout();
        let line = out.lines().nth(n).expect("counted above");
        let (_, description) = parse_line(line);
        match expected.strip_suffix('…') {
            Some(prefix) => assert!(
                description.starts_with(prefix),
                "line {}: {description:?} should start with {prefix:?}; all:\n{out}",
                n + 1
            ),
            None => assert_eq!(description, expected, "line {}; all:\n{out}", n + 1),
        }
    }
    let status = sniff.wait(SNIFF_DEADLINE).unwrap_or_else(|e| panic!("{e}"));
    assert!(status.success(), "sniff exits 0 after -n packets: {status}");
    assert_eq!(
        sniff.stdout().lines().count(),
        cases.len(),
        "{}",
        sniff.stdout()
    );
}

/// The packets sniff calls `bad_ttl` / `bad_checksum` claim priority 254 for the running
/// router: heeded, they would make the master step down (as the well-formed one does in
/// `multicast_mode_heeds_the_same_forged_advert`). The daemon drops and counts them.
#[test]
fn a_master_ignores_forged_adverts_with_a_bad_ttl_or_checksum() {
    let topo = Topology::builder("sniff-drop")
        .node("a", 11)
        .node("b", 12)
        .node("x", 14)
        .build();
    let (a, b, x) = (topo.node("a"), topo.node("b"), topo.node("x"));
    let da = a.start(&Config::one(web(150)));
    let db = b.start(&Config::one(web(100)));
    topo.expect_holders(VIP4, &["a"], STARTUP + takeover_bound(150));

    // Both settled (a master, b backup) before the forgeries start.
    topo.expect_holders_stay(VIP4, &["a"], 3 * ADV);
    let (a_log_before, b_log_before) = (da.log().len(), db.log().len());
    let claim = forged_advert(51, 254, VIP4);
    let bad_ttl = Forgery {
        ttl: 64,
        ..Forgery::default()
    };
    let bad_checksum = Forgery {
        checksum: Checksum::Wrong,
        ..Forgery::default()
    };
    // 25 of each over half a second, to the group and to a directly.
    let a_ip = a.ip4().to_string();
    for _ in 0..25 {
        x.send_forged_advert("224.0.0.18", &claim, bad_ttl);
        x.send_forged_advert(&a_ip, &claim, bad_ttl);
        x.send_forged_advert("224.0.0.18", &claim, bad_checksum);
        assert_eq!(topo.holders(VIP4), ["a"], "a forged advert moved the VIP");
        std::thread::sleep(Duration::from_millis(20));
    }
    topo.expect_holders_stay(VIP4, &["a"], takeover_bound(100));
    for d in [&da, &db] {
        for reason in ["bad_ttl", "bad_checksum"] {
            topo.expect_within(
                Duration::from_secs(2),
                &format!("{} logs {reason}", d.name()),
                || d.log_contains(reason),
            );
        }
    }
    for (d, before) in [(&da, a_log_before), (&db, b_log_before)] {
        let since = d.log_since(before);
        assert!(
            !since.contains("state change"),
            "{}: no state change while the forged adverts came:\n{since}",
            d.name(),
        );
    }
}
