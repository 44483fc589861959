//! Health checks and notify hooks with real daemons and a real HAProxy (Debian's) in
//! network namespaces: each load balancer namespace runs HAProxy answering on the VIP
//! with its own name, and the client sends HTTP through the VIP.
//! Needs root and haproxy; fails (does not skip) without them. Advert interval 100 ms.

mod netns;

use std::io::{BufRead, BufReader};
use std::net::{IpAddr, SocketAddr};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use netns::{
    ADV, Config, HttpProber, STARTUP, Topology, VIP4, master_down, pair, takeover_bound, web,
};

/// HTTP through the VIP, port 80.
fn vip_http() -> SocketAddr {
    SocketAddr::new(VIP4.parse().unwrap(), 80)
}

/// How often the client sends a request.
const PROBE_EVERY: Duration = Duration::from_millis(5);

/// The process check on HAProxy, weight 0: a dead HAProxy means Fault.
const HAPROXY_CHECK: &str = "checks:\n  - name: haproxy\n    process: haproxy\n    weight: 0";

/// A weight-0 failure makes the master send priority 0 at once: the backup takes over
/// after its skew time; the bound allows a master_down and startup-like slack on top.
fn release_bound() -> Duration {
    master_down(100, ADV) + Duration::from_secs(1)
}

/// A directory for scripts that passes floatip's script security (root-owned, not
/// writable by others, every directory above likewise), and a file in it that the
/// script user (nobody, in tests) may write.
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

/// A file anyone may write, for scripts running as the script user.
fn shared_file(path: &Path) {
    std::fs::write(path, "").unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o666)).unwrap();
}

/// A directory anyone may write (not sticky), for state files of scripts.
fn shared_dir(path: &Path) {
    std::fs::create_dir_all(path).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o777)).unwrap();
}

fn log_count(daemon: &netns::Daemon, needle: &str) -> usize {
    daemon.log().lines().filter(|l| l.contains(needle)).count()
}

#[test]
fn haproxy_death_moves_the_vip_and_its_restart_brings_it_back() {
    let topo = pair("hadeath");
    let (a, b, c) = (topo.node("a"), topo.node("b"), topo.node("c"));
    let ha = a.start_haproxy();
    let _hb = b.start_haproxy();
    let config = |p| Config::one(web(p).with("track: [haproxy]")).top(HAPROXY_CHECK);
    let da = a.start(&config(150));
    let db = b.start(&config(100));
    topo.expect_holders(VIP4, &["a"], STARTUP + takeover_bound(150));
    let http = HttpProber::start(&c.ns, vip_http(), PROBE_EVERY);
    http.wait_served_by("a", Duration::from_secs(3)).unwrap();

    // Counted: what the start logged must not be taken for the new Fault.
    let failing_before = log_count(&da, "check failing");
    let faults_before = log_count(&da, "-> FAULT");
    let t0 = Instant::now();
    ha.kill();
    topo.expect_holders(VIP4, &["b"], release_bound());
    http.wait_served_by("b", Duration::from_secs(2)).unwrap();
    let moved = t0.elapsed();
    // Multicast without `hosts`: a third router could exist, so b waited its skew time.
    topo.expect_within(Duration::from_secs(2), "b says why it took over", || {
        db.log_contains("master sent priority 0 and skew time passed")
    });
    topo.expect_within(
        Duration::from_secs(2),
        "a logs the failing check and a new Fault",
        || {
            log_count(&da, "check failing") > failing_before
                && log_count(&da, "-> FAULT") > faults_before
        },
    );

    // HAProxy back: the check passes, a leaves Fault and preempts (preempt is on).
    let _ha = a.start_haproxy();
    topo.expect_holders(VIP4, &["a"], STARTUP + takeover_bound(150));
    http.wait_served_by("a", Duration::from_secs(3)).unwrap();
    let report = http.stop();
    assert_eq!(
        report.servers(),
        ["a", "b", "a"],
        "served by a, then b, then a again: {report}"
    );
    eprintln!("HAProxy death to b serving: {moved:?}; {report}");
}

/// A pair that says so (`hosts: 2`): HAProxy dies on the master, its weight-0 check
/// sends priority 0, and the backup takes over as that arrives instead of after its
/// skew time (no other backup can exist to give precedence to). The time itself is the
/// harness's to measure (`scripts/downtime --scenarios haproxy`); here the behaviour:
/// b's reason, a's priority 0 before b's first advertisement, b serving.
#[test]
fn in_a_pair_the_backup_takes_over_as_the_masters_priority_0_arrives() {
    let topo = pair("hapair");
    let (a, b, c) = (topo.node("a"), topo.node("b"), topo.node("c"));
    let ha = a.start_haproxy();
    let _hb = b.start_haproxy();
    let config =
        |p| Config::one(web(p).with("hosts: 2").with("track: [haproxy]")).top(HAPROXY_CHECK);
    let da = a.start(&config(150));
    let db = b.start(&config(100));
    topo.expect_holders(VIP4, &["a"], STARTUP + takeover_bound(150));
    let listener = c.listen_vrrp(0);
    let http = HttpProber::start(&c.ns, vip_http(), PROBE_EVERY);
    http.wait_served_by("a", Duration::from_secs(3)).unwrap();

    ha.kill();
    topo.expect_holders(VIP4, &["b"], release_bound());
    http.wait_served_by("b", Duration::from_secs(2)).unwrap();
    topo.expect_within(Duration::from_secs(2), "b says why it took over", || {
        db.log_contains(
            "master sent priority 0 and no other backup exists (pair): took over at once",
        )
    });
    assert!(
        !db.log_contains("skew time passed"),
        "b waited skew time:\n{}",
        db.log_tail(20)
    );
    topo.expect_within(Duration::from_secs(2), "a logs its Fault", || {
        da.log_contains("MASTER -> FAULT: a weight-0 health check fails")
    });
    // On the wire: a's priority 0, then b's first advertisement as master.
    let (a_src, b_src) = (IpAddr::V4(a.ip4()), IpAddr::V4(b.ip4()));
    topo.expect_within(
        Duration::from_secs(2),
        "b's advertisements are seen",
        || listener.from(b_src).iter().any(|s| s.priority == 100),
    );
    let farewell = listener
        .from(a_src)
        .into_iter()
        .find(|s| s.priority == 0)
        .expect("a sent priority 0");
    let first_of_b = listener
        .from(b_src)
        .into_iter()
        .find(|s| s.priority == 100)
        .expect("b advertised");
    assert!(
        farewell.at <= first_of_b.at,
        "b advertised before a's priority 0 was seen"
    );
    topo.expect_holders_stay(VIP4, &["b"], 5 * ADV);
    let report = http.stop();
    assert_eq!(report.servers(), ["a", "b"], "{report}");
}

#[test]
fn a_reload_keeps_the_verdict_of_retuned_checks() {
    let topo = pair("hareload");
    let (a, b) = (topo.node("a"), topo.node("b"));
    let _ha = a.start_haproxy();
    let _hb = b.start_haproxy();
    let two_checks = format!(
        "{HAPROXY_CHECK}\n  - name: drain\n    file: {}\n    weight: -100",
        topo.dir().join("drain").display()
    );
    let da = a.start(&Config::one(web(150).with("track: [haproxy]")).top(&two_checks));
    let _db = b.start(&Config::one(web(100)));
    topo.expect_holders(VIP4, &["a"], STARTUP + takeover_bound(150));
    let faults_before = log_count(&da, "-> FAULT");

    // A new priority, the drain check now tracked too, and the haproxy check retuned
    // (a faster rescan: a new checker task): it keeps its passing verdict, and a stays
    // master throughout.
    // Plus a new weight-0 check: it counts only from its first result, so it does not
    // put the master in Fault while it starts either.
    let retuned = two_checks.replace(
        "process: haproxy",
        "process: {name: haproxy, rescan: 300ms}",
    ) + "\n  - name: new\n    process: haproxy\n    weight: 0";
    assert!(retuned.contains("rescan: 300ms"));
    da.reload(
        &Config::one(web(160).with("track: [haproxy, drain, new]"))
            .top(&retuned)
            .to_yaml(),
    );
    topo.expect_within(Duration::from_secs(3), "a reloads", || {
        da.log_contains("effective priority 150 -> 160")
    });
    topo.expect_holders_stay(VIP4, &["a"], 5 * ADV);
    assert_eq!(
        log_count(&da, "-> FAULT"),
        faults_before,
        "no Fault across the reload:\n{}",
        da.log_tail(20)
    );
    assert_eq!(
        log_count(&da, "check passing check=haproxy"),
        1,
        "the retuned check never counted as failing:\n{}",
        da.log_tail(20)
    );
}

#[test]
fn drain_file_moves_the_vip_while_it_is_held_throughout() {
    let topo = pair("drain");
    let (a, b, c) = (topo.node("a"), topo.node("b"), topo.node("c"));
    let _ha = a.start_haproxy();
    let _hb = b.start_haproxy();
    let drain = topo.dir().join("drain-a");
    let checks = |file: &Path| {
        format!(
            "checks:\n  - name: drain\n    file: {}\n    weight: -100",
            file.display()
        )
    };
    let da = a.start(&Config::one(web(150).with("track: [drain]")).top(&checks(&drain)));
    let _db = b.start(
        &Config::one(web(100).with("track: [drain]")).top(&checks(&topo.dir().join("drain-b"))),
    );
    topo.expect_holders(VIP4, &["a"], STARTUP + takeover_bound(150));
    let http = HttpProber::start(&c.ns, vip_http(), PROBE_EVERY);
    http.wait_served_by("a", Duration::from_secs(3)).unwrap();

    std::fs::write(&drain, "1\n").unwrap();
    // a advertises 50 at once; b (100) preempts after its master_down interval.
    topo.expect_holders(VIP4, &["b"], master_down(100, ADV) + Duration::from_secs(2));
    http.wait_served_by("b", Duration::from_secs(2)).unwrap();
    assert!(
        da.log_contains("effective priority 150 -> 50"),
        "{}",
        da.log_tail(20)
    );
    // Stays drained.
    topo.expect_holders_stay(VIP4, &["b"], 5 * ADV);

    // Undrain: a is the better router again and preempts.
    std::fs::remove_file(&drain).unwrap();
    topo.expect_holders(VIP4, &["a"], takeover_bound(150));
    http.wait_served_by("a", Duration::from_secs(2)).unwrap();
    let report = http.stop();
    eprintln!("{report}");
    assert_eq!(report.servers(), ["a", "b", "a"], "{report}");
    // The VIP is held throughout (make-before-break): no request is refused or times
    // out. What cannot be avoided without moving connection state: a request in flight
    // at the very moment the client's ARP entry switches sends its remaining packets to
    // the new holder, whose kernel resets them. The prober has one request in flight at
    // a time, so that is at most one reset per move (two moves here).
    let failures = report.failures();
    assert!(
        failures.len() <= 2
            && failures
                .iter()
                .all(|p| matches!(&p.result, Err(e) if e.contains("reset"))),
        "only a request in flight at an ARP switch may fail, by a reset: {report}"
    );
}

/// A drain file with a positive weight holding a huge number: the value times the weight
/// saturates, and so does the sum with the configured priority. The daemon advertises
/// 254 (it used to wrap to 1 in a release build, and to panic in a debug one); the
/// largest negative value gives 1, and the daemon lives on throughout.
#[test]
fn a_huge_drain_value_clamps_the_priority_instead_of_wrapping() {
    let topo = pair("drain-huge");
    let (a, b) = (topo.node("a"), topo.node("b"));
    let drain = topo.dir().join("drain-a");
    let da = a.start(&Config::one(web(150).with("track: [boost]")).top(&format!(
        "checks:\n  - name: boost\n    file: {}\n    weight: 254",
        drain.display()
    )));
    topo.expect_holders(VIP4, &["a"], STARTUP + takeover_bound(150));
    let adverts = b.listen_vrrp(0);
    let advertised = |priority: u8| {
        let from_a = IpAddr::V4(a.ip4());
        topo.expect_within(
            Duration::from_secs(2),
            &format!("a advertises priority {priority}"),
            || {
                adverts
                    .from(from_a)
                    .last()
                    .is_some_and(|s| s.priority == priority)
            },
        );
    };
    advertised(150);
    for (value, priority) in [
        (i64::from(i32::MAX), 254),
        (i64::MAX, 254),
        (i64::MIN, 1),
        (0, 150),
    ] {
        std::fs::write(&drain, format!("{value}\n")).unwrap();
        advertised(priority);
        topo.expect_holders_stay(VIP4, &["a"], 3 * ADV);
    }
    for change in ["150 -> 254", "254 -> 1", "1 -> 150"] {
        assert!(
            da.log_contains(&format!("effective priority {change}")),
            "{change}: {}",
            da.log_tail(20)
        );
    }
}

#[test]
fn a_hanging_script_times_out_counts_as_failure_and_is_killed() {
    let topo = pair("hang");
    let (a, b) = (topo.node("a"), topo.node("b"));
    let dir = script_dir(&topo);
    let script = dir.join("hang.sh");
    // Marks itself with a unique argument so the test can look for leftovers; the
    // background sleep checks that the whole process group is killed, not just sh.
    let mark = format!("3{}.5", std::process::id());
    write_script(&script, &format!("sleep {mark} &\nsleep {mark}"));
    let checks = format!(
        "global:\n  script_user: nobody\nchecks:\n  - name: slow\n    script: {}\n    interval: 300ms\n    timeout: 100ms\n    initial: up\n    weight: -60",
        script.display()
    );
    let da = a.start(&Config::one(web(150).with("track: [slow]")).top(&checks));
    let _db = b.start(&Config::one(web(100)));
    // 150 - 60 = 90 < 100: b is master once the script has timed out.
    topo.expect_holders(VIP4, &["b"], STARTUP + takeover_bound(100));
    topo.expect_within(Duration::from_secs(2), "a logs the timeout", || {
        da.log_contains("timed out")
    });
    da.term(Duration::from_secs(5)).unwrap();
    let leftovers = || {
        netns::run(&["pgrep", "-f", &format!("sleep {mark}")])
            .stdout
            .is_empty()
    };
    netns::wait_for(Duration::from_secs(2), leftovers)
        .unwrap_or_else(|e| panic!("the script's processes outlive floatip: {e}"));
    assert!(
        !da.log_contains("panicked"),
        "a timed-out script is a failed check, not a crash"
    );
}

#[test]
fn an_insecure_script_is_refused_at_check_and_at_start() {
    let topo = pair("insecure");
    let a = topo.node("a");
    let top = topo.dir();
    std::fs::set_permissions(&top, std::fs::Permissions::from_mode(0o755)).unwrap();
    let dir = top.join("open");
    shared_dir(&dir);
    let script = dir.join("check.sh");
    write_script(&script, "exit 0");
    let config = Config::one(web(150).with("track: [custom]")).top(&format!(
        "global:\n  script_user: nobody\nchecks:\n  - name: custom\n    script: {}",
        script.display()
    ));
    let path = top.join("insecure.yaml");
    std::fs::write(&path, config.to_yaml()).unwrap();

    let check = netns::run(&[
        env!("CARGO_BIN_EXE_floatip"),
        "check",
        path.to_str().unwrap(),
    ]);
    let stderr = String::from_utf8_lossy(&check.stderr);
    assert_eq!(
        check.status.code(),
        Some(78),
        "check must refuse:\n{stderr}"
    );
    assert!(
        stderr.contains("checks[0].script") && stderr.contains("writable"),
        "the error names the key and why:\n{stderr}"
    );

    let daemon = a.start(&config);
    netns::wait_for(Duration::from_secs(5), || daemon.exited().is_some())
        .expect("the daemon refuses to start");
    assert_eq!(daemon.exited().unwrap().code(), Some(78));
    // Expected to have exited: the topology must not report it as a crash.
    daemon.kill();
    assert!(daemon.log().contains("writable"), "{}", daemon.log());
    assert!(!a.has_address(VIP4), "nothing was touched");
}

#[test]
fn notify_hooks_and_the_event_socket_see_every_transition_in_order() {
    let topo = pair("notify");
    let (a, b) = (topo.node("a"), topo.node("b"));
    let dir = script_dir(&topo);
    let log = dir.join("notify.log");
    shared_file(&log);
    let state = topo.dir().join("state");
    shared_dir(&state);
    let hook = dir.join("notify.sh");
    // Slow on purpose: transitions queue up behind it and must still run in order,
    // one at a time (the lock file would show an overlap).
    write_script(
        &hook,
        &format!(
            "[ -e {lock} ] && echo OVERLAP >> {log}\n: > {lock}\nsleep 0.05\necho \"$*\" >> {log}\nrm -f {lock}",
            lock = state.join("lock").display(),
            log = log.display()
        ),
    );
    let events = topo.dir().join("events.sock");
    let top = format!(
        "global:\n  script_user: nobody\n  event_socket: {}\n{HAPROXY_CHECK}",
        events.display()
    );
    let ha = a.start_haproxy();
    let _hb = b.start_haproxy();
    let _db = b.start(&Config::one(web(100)));
    let da = a.start(
        &Config::one(
            web(150)
                .with("track: [haproxy]")
                .with(&format!("notify: {{command: {}}}", hook.display())),
        )
        .top(&top),
    );
    // The socket is read to its end after floatip stops: a hang must fail, not block.
    let stream = netns::connect_events(&events);
    topo.expect_holders(VIP4, &["a"], STARTUP + takeover_bound(150));

    ha.kill();
    topo.expect_holders(VIP4, &["b"], release_bound());
    let _ha = a.start_haproxy();
    topo.expect_holders(VIP4, &["a"], STARTUP + takeover_bound(150));
    da.term(Duration::from_secs(10)).unwrap();

    let lines = std::fs::read_to_string(&log).unwrap();
    let lines: Vec<&str> = lines.lines().collect();
    // Startup: Backup once the check has seen HAProxy (never Fault while it has not
    // looked yet), then Master. HAProxy dies: Fault. Back: Backup, Master. SIGTERM: Stop.
    let expected = [
        "INSTANCE web BACKUP 150",
        "INSTANCE web MASTER 150",
        "INSTANCE web FAULT 150",
        "INSTANCE web BACKUP 150",
        "INSTANCE web MASTER 150",
        "INSTANCE web STOP 150",
    ];
    assert_eq!(
        lines, expected,
        "notify hook calls in order, never overlapping"
    );

    // The event socket got the same transitions after we connected (the start may
    // have happened before), in the same order.
    let reader = BufReader::new(stream);
    let transitions: Vec<String> = reader
        .lines()
        .map(|line| line.unwrap_or_else(|e| panic!("reading the event socket: {e}")))
        .filter_map(|line| {
            let v: serde_json::Value = serde_json::from_str(&line).expect("JSON line");
            (v["event"] == "transition").then(|| v["to"].as_str().unwrap_or("").to_string())
        })
        .collect();
    let tail: Vec<String> = expected
        .iter()
        .map(|l| l.split(' ').nth(2).unwrap().to_string())
        .collect();
    assert!(
        tail.ends_with(&transitions),
        "event socket transitions {transitions:?} are the end of {tail:?}"
    );
    assert!(transitions.len() >= 5, "{transitions:?}");
}

#[test]
fn a_flapping_check_is_damped_by_rise_and_fall() {
    let topo = pair("flap");
    let (a, b) = (topo.node("a"), topo.node("b"));
    let dir = script_dir(&topo);
    let state = topo.dir().join("state");
    shared_dir(&state);
    // Passes and fails alternately, run after run. The timeout is far above the
    // interval: a run that a loaded machine delays must not count as a failure.
    let flip = dir.join("flip.sh");
    write_script(
        &flip,
        r#"f="$1"; if [ -e "$f" ]; then rm -f "$f"; exit 1; else : > "$f"; exit 0; fi"#,
    );
    let check = |name: &str, rise_fall: u32, weight: i32| {
        format!(
            "  - name: {name}\n    script: [{}, {}]\n    interval: 50ms\n    timeout: 2s\n    rise: {rise_fall}\n    fall: {rise_fall}\n    initial: up\n    weight: {weight}",
            flip.display(),
            state.join(name).display()
        )
    };
    let top = format!(
        "global:\n  script_user: nobody\nchecks:\n{}\n{}",
        check("damped", 2, -60),
        check("undamped", 1, -1)
    );
    let da = a.start(&Config::one(web(150).with("track: [damped, undamped]")).top(&top));
    let _db = b.start(&Config::one(web(100)));
    topo.expect_holders(VIP4, &["a"], STARTUP + takeover_bound(150));
    // The undamped check flaps on every run; count until it has flapped 10 times.
    topo.expect_within(Duration::from_secs(10), "the undamped check flaps", || {
        log_count(&da, "INFO check passing check=undamped") >= 10
    });
    // Alternating results never reach rise = fall = 2: after its first result the
    // damped check never changed, a never left Master and its priority only moved by
    // the undamped check's 1.
    let damped: Vec<String> = da
        .log()
        .lines()
        .filter(|l| l.contains("check=damped") && !l.contains("DEBUG"))
        .map(str::to_string)
        .collect();
    assert_eq!(damped.len(), 1, "only the first result: {damped:#?}");
    assert_eq!(
        log_count(&da, "state change"),
        2,
        "Initialize -> Backup -> Master only:\n{}",
        da.log_tail(30)
    );
    topo.expect_holders_stay(VIP4, &["a"], 3 * ADV);
}

/// The figure for the issue's closing note: HAProxy SIGKILLed on the master to the first
/// HTTP response through the VIP (from the backup), over 10 runs, advert interval
/// 100 ms. Not part of the suite:
/// `cargo test --test netns_health -- --ignored --nocapture haproxy_death_figures`.
#[test]
#[ignore = "benchmark: run on demand"]
fn haproxy_death_figures() {
    let runs: usize = 10;
    let mut outages = Vec::new();
    for run in 0..runs {
        let topo = pair("hafig");
        let (a, b, c) = (topo.node("a"), topo.node("b"), topo.node("c"));
        let ha = a.start_haproxy();
        let _hb = b.start_haproxy();
        let config = |p| Config::one(web(p).with("track: [haproxy]")).top(HAPROXY_CHECK);
        let _da = a.start(&config(150));
        let _db = b.start(&config(100));
        topo.expect_holders(VIP4, &["a"], STARTUP + takeover_bound(150));
        let http = HttpProber::start_concurrent(&c.ns, vip_http(), Duration::from_millis(1));
        http.wait_served_by("a", Duration::from_secs(3)).unwrap();
        // A random point in the advertisement cycle.
        let jitter = ADV * ((std::process::id() + run as u32 * 37) % 97) / 97;
        std::thread::sleep(5 * ADV + jitter);
        let t0 = Instant::now();
        ha.kill();
        http.wait_served_by("b", Duration::from_secs(3)).unwrap();
        let report = http.stop();
        // The figure is the first answer from b to a request sent after the kill.
        let first = report
            .probes
            .iter()
            .find(|p| p.sent >= t0 && p.result.as_deref() == Ok("b"))
            .map(|p| p.done - t0)
            .expect("b answered");
        eprintln!("run {run}: first HTTP 200 from b {first:?} after HAProxy's death; {report}");
        outages.push(first);
    }
    outages.sort();
    let median = (outages[runs / 2 - 1] + outages[runs / 2]) / 2;
    let skew = ADV * (256 - 100) / 256;
    let line = format!(
        "HAProxy death -> first HTTP 200 through the VIP, advert 100 ms, {runs} runs: min {:?} median {median:?} max {:?} (skew of the backup {skew:?})",
        outages[0],
        outages[runs - 1],
    );
    eprintln!("{line}");
    append_result(&line);
}

/// Benchmarks append their summary line to `results/figures.txt` in the repository.
fn append_result(line: &str) {
    use std::io::Write as _;
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("results/figures.txt");
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)
        .unwrap();
    writeln!(file, "{line}").unwrap();
}
