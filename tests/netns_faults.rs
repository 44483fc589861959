//! Host-level faults and misleading behaviour of issue 13, each reproduced with real
//! daemons in network namespaces: announcements from the MAC of the wrong device, logs
//! that say the wrong thing (or nothing) about other VRIDs, a start that passes through
//! Fault, and a stop that a reload or a long interval keeps from ending.
//! Needs root; fails (does not skip) without it.

mod netns;

use std::io::{BufRead, BufReader};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use netns::{Advert, Config, Router, STARTUP, Topology, VIP4, master_down, takeover_bound, web};

/// Adverts on a heartbeat LAN (eth0, 192.0.2.0/24), the address on the public LAN
/// (eth1, 198.51.100.0/24, where the client is): keepalived's common layout.
const PUBLIC_VIP: &str = "198.51.100.100";

/// A config of router `web` advertising on eth0 with its address on eth1.
fn public_web(priority: u8) -> String {
    Config::one(Router::new("web", 51, priority, &[]))
        .to_yaml()
        .replace(
            "addresses: []",
            &format!("addresses: [{{address: \"{PUBLIC_VIP}/24\", device: eth1}}]"),
        )
}

#[test]
fn an_announcement_for_an_address_on_another_device_carries_that_devices_mac() {
    let topo = netns::pair_on_two_lans("garp-device");
    let (a, b, c) = (topo.node("a"), topo.node("b"), topo.node("c"));
    let da = a.spawn_floatip(&public_web(150));
    let _db = b.spawn_floatip(&public_web(100));
    topo.expect_holders(PUBLIC_VIP, &["a"], STARTUP + takeover_bound(150));

    // The client knows the address at a's public NIC (stale: any announcement may
    // change it). a crashes and its public NIC goes away.
    c.set_neighbour_on(1, PUBLIC_VIP, a.mac_on(1));
    da.kill();
    a.link_set(1, "down");
    topo.expect_holders(PUBLIC_VIP, &["b"], takeover_bound(100));

    // b's announcements must point the client at b's public NIC. (A neighbour entry
    // changed less than a second ago ignores an announcement - the kernel's locktime -
    // so the repeat burst, 2 s after b became master, is the one that may land.)
    let (public, heartbeat) = (b.mac_on(1), b.mac_on(0));
    let mut seen = Vec::new();
    let took = topo.try_within(
        Duration::from_secs(5),
        "client learns b's public MAC",
        || {
            let entry = c.neighbour(PUBLIC_VIP);
            if let Some(mac) = &entry
                && seen.last() != Some(mac)
            {
                seen.push(mac.clone());
            }
            entry.as_deref() == Some(public)
        },
    );
    assert!(
        !seen.iter().any(|m| m == heartbeat),
        "the client was pointed at b's heartbeat NIC {heartbeat}, which is not on its LAN; \
         entries seen: {seen:?}"
    );
    took.unwrap_or_else(|e| panic!("{e}; entries seen: {seen:?}"));
    c.reach(&topo, PUBLIC_VIP, Duration::from_secs(2));
}

#[test]
fn adverts_of_other_vrids_are_reported_as_heard_once_not_as_our_auth_mismatch() {
    let topo = netns::pair("other-vrid");
    let (a, b) = (topo.node("a"), topo.node("b"));
    // Two routers of ours on eth0: VRID 51 and 52.
    let config = Config::new(vec![
        web(150),
        Router::new("web2", 52, 150, &["192.0.2.101/24"]),
    ]);
    let da = a.start(&config);
    topo.expect_holders(VIP4, &["a"], STARTUP + takeover_bound(150));
    topo.expect_holders("192.0.2.101", &["a"], takeover_bound(150));

    let group = "224.0.0.18";
    let advert = |vrid| Advert {
        vrid,
        priority: 1,
        interval_cs: 100,
        addresses: vec!["192.0.2.150".parse().unwrap()],
    };
    // VRID 52 is ours (a peer of web2): nothing to say. VRID 53 is a peer configured
    // with the wrong VRID, heard three times. VRID 54 is someone else's VRRPv2 group
    // with a password: not our authentication problem.
    b.send_advert(group, &advert(52));
    for _ in 0..3 {
        b.send_advert(group, &advert(53));
    }
    b.send_v2_advert(group, &advert(54), Some("secret"));
    let src = b.ip4();
    let last = format!("heard vrid 54 from {src} on eth0, ours are 51, 52");
    let waited = topo.try_within(Duration::from_secs(3), "VRID 54 reported", || {
        da.log().to_lowercase().contains(&last)
    });
    let log = da.log();
    waited.unwrap_or_else(|e| panic!("{e}; log:\n{}", da.log_tail(30)));
    let heard = |vrid: u8| netns::matching_lines(&log, &[&format!("heard vrid {vrid} ")]);
    assert!(
        heard(52).is_empty(),
        "our own VRID 52 is not news: {:?}",
        heard(52)
    );
    let lines53 = heard(53);
    assert_eq!(lines53.len(), 1, "once per sender per 10 s: {lines53:?}");
    assert!(
        lines53[0].to_lowercase().contains(&format!(
            "heard vrid 53 from {src} on eth0, ours are 51, 52"
        )),
        "{lines53:?}"
    );
    assert_eq!(heard(54).len(), 1, "{:?}", heard(54));
    let auth = netns::matching_lines(&log, &["authentication"]);
    assert!(
        auth.is_empty(),
        "another VRID's password reported as ours: {auth:?}"
    );
    topo.expect_holders_stay(VIP4, &["a"], Duration::from_millis(300));
}

/// A directory for scripts that passes floatip's script security (root-owned, not
/// writable by others, every directory above likewise).
fn script_dir(topo: &Topology) -> PathBuf {
    let top = topo.dir();
    std::fs::set_permissions(&top, std::fs::Permissions::from_mode(0o755)).unwrap();
    let dir = top.join("scripts");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
    dir
}

fn write_script(path: &Path, body: &str) {
    std::fs::write(path, format!("#!/bin/sh\n{body}\n")).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
}

/// What one start of a lone router `web` (priority 150) tracking a weight-0 script
/// check shows: the notify hook's calls, the event socket's transitions and the log.
struct StartSeen {
    hooks: Vec<String>,
    events: Vec<String>,
    log: String,
}

/// Starts `web` with a check script whose first result takes a second (so that the
/// event socket is connected before it) and exits with `exit`; returns what was seen
/// once `settled` holds for the hook calls, after a graceful stop.
fn start_with_check(tag: &str, exit: u8, settled: impl Fn(&[String]) -> bool) -> StartSeen {
    let topo = netns::pair(tag);
    let a = topo.node("a");
    let dir = script_dir(&topo);
    let hook_log = dir.join("notify.log");
    std::fs::write(&hook_log, "").unwrap();
    std::fs::set_permissions(&hook_log, std::fs::Permissions::from_mode(0o666)).unwrap();
    let hook = dir.join("notify.sh");
    write_script(&hook, &format!("echo \"$*\" >> {}", hook_log.display()));
    let check = dir.join("check.sh");
    write_script(&check, &format!("sleep 1\nexit {exit}"));
    let events = topo.dir().join("events.sock");
    let top = format!(
        "global:\n  script_user: nobody\n  event_socket: {}\nchecks:\n  - name: app\n    \
         script: [{}]\n    interval: 5s\n    timeout: 2s\n    weight: 0",
        events.display(),
        check.display()
    );
    let da = a.start(
        &Config::one(
            web(150)
                .with("track: [app]")
                .with(&format!("notify: {{command: {}}}", hook.display())),
        )
        .top(&top),
    );
    let stream = netns::connect_events(&events);
    let hooks = || -> Vec<String> {
        std::fs::read_to_string(&hook_log)
            .unwrap_or_default()
            .lines()
            .map(str::to_string)
            .collect()
    };
    let bound = STARTUP + Duration::from_secs(2) + takeover_bound(150);
    topo.try_within(bound, "the start settles", || settled(&hooks()))
        .unwrap_or_else(|e| panic!("{e}; hooks {:?}; log:\n{}", hooks(), da.log_tail(30)));
    let hooks_at_settle = hooks();
    da.term(Duration::from_secs(10)).unwrap();
    let events: Vec<String> = BufReader::new(stream)
        .lines()
        .map(|line| line.unwrap_or_else(|e| panic!("reading the event socket: {e}")))
        .filter_map(|line| {
            let v: serde_json::Value = serde_json::from_str(&line).expect("JSON line");
            let text = |key: &str| v[key].as_str().unwrap_or("?").to_string();
            (v["event"] == "transition" && v["type"] == "INSTANCE")
                .then(|| format!("{} -> {}", text("from"), text("to")))
        })
        .collect();
    StartSeen {
        hooks: hooks_at_settle,
        events,
        log: da.log(),
    }
}

#[test]
fn a_healthy_start_goes_from_init_to_backup_without_passing_through_fault() {
    let seen = start_with_check("start-healthy", 0, |hooks| {
        hooks.iter().any(|h| h.contains("MASTER"))
    });
    assert_eq!(
        seen.hooks,
        ["INSTANCE web BACKUP 150", "INSTANCE web MASTER 150"],
        "notify hook calls"
    );
    assert_eq!(
        seen.events,
        ["INIT -> BACKUP", "BACKUP -> MASTER", "MASTER -> STOP"],
        "event socket transitions"
    );
    let changes = netns::matching_lines(&seen.log, &["state change"]);
    assert!(
        changes
            .first()
            .is_some_and(|l| l.contains("INIT -> BACKUP")),
        "{changes:?}"
    );
    assert!(
        netns::matching_lines(&seen.log, &["-> fault"]).is_empty(),
        "{changes:?}"
    );
}

#[test]
fn a_start_with_a_failing_weight_0_check_enters_fault_once() {
    let seen = start_with_check("start-failing", 1, |hooks| !hooks.is_empty());
    assert_eq!(seen.hooks, ["INSTANCE web FAULT 150"], "notify hook calls");
    assert_eq!(
        seen.events,
        ["INIT -> FAULT", "FAULT -> STOP"],
        "event socket transitions"
    );
    let changes = netns::matching_lines(&seen.log, &["state change"]);
    assert_eq!(
        changes.len(),
        2,
        "INIT -> FAULT, FAULT -> STOP: {changes:?}"
    );
    assert!(changes[0].contains("INIT -> FAULT"), "{changes:?}");
}

#[test]
fn a_reload_during_a_graceful_stop_is_ignored_and_the_daemon_exits() {
    let topo = netns::pair("stop-reload");
    let a = topo.node("a");
    let interval = Duration::from_secs(1);
    let da = a.start(&Config::one(web(150).advert_interval(interval)));
    topo.expect_holders(VIP4, &["a"], STARTUP + 3 * master_down(150, interval));

    // No peer: the handover lasts master_down. A reload that adds a router arrives
    // right after the stop request.
    let more = Config::new(vec![
        web(150).advert_interval(interval),
        Router::new("web2", 52, 150, &["192.0.2.101/24"]).advert_interval(interval),
    ]);
    da.signal(nix::sys::signal::Signal::SIGTERM);
    da.reload(&more.to_yaml());
    let bound = master_down(150, interval) + Duration::from_secs(3);
    let exited = netns::wait_for(bound, || da.exited().is_some());
    let log = da.log_tail(30);
    da.kill(); // reaps it, or stops it if the test failed
    exited.unwrap_or_else(|e| panic!("the daemon did not exit after SIGTERM: {e}; log:\n{log}"));
    assert!(!a.has_address(VIP4), "{VIP4} left behind");
    assert!(
        !a.has_address("192.0.2.101"),
        "192.0.2.101 added and left behind"
    );
    assert!(log.contains("SIGHUP while stopping"), "{log}");
}

#[test]
fn a_graceful_stop_ends_within_the_units_stop_timeout_whatever_the_interval() {
    let topo = netns::pair("stop-long");
    let a = topo.node("a");
    // The owner is master at once; with 10 s adverts its handover would wait
    // master_down (30 s, as long as the unit's TimeoutStopSec) for a successor.
    let interval = Duration::from_secs(10);
    let da = a.start(&Config::one(web(255).advert_interval(interval)));
    topo.expect_holders(VIP4, &["a"], STARTUP);
    // floatip bounds the wait at 15 s; a few more for the exit itself.
    let bound = Duration::from_secs(15 + 5);
    assert!(bound < master_down(255, interval));
    da.term(bound).unwrap();
    assert!(!a.has_address(VIP4), "{VIP4} left behind");
    assert!(
        da.log_contains("no successor heard within 15s"),
        "{}",
        da.log_tail(20)
    );
}
