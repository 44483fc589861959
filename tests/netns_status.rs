//! `floatip status` and `floatip reload` against real daemons in namespaces: what a pair
//! reports, the JSON schema, `--check`, reloads through the control socket, and that a
//! hostile client of the control socket does not stall advertisements. Needs root;
//! fails (does not skip) without it.

mod netns;

use std::path::Path;
use std::process::{Command, Output};
use std::time::Duration;

use netns::{ADV, Config, STARTUP, VIP4, pair, takeover_bound, wait_for, web};

fn floatip(args: &[&str], socket: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_floatip"))
        .args(args)
        .arg("--socket")
        .arg(socket)
        .env_remove("FLOATIP_CONTROL_SOCKET")
        .output()
        .expect("run floatip")
}

fn text(output: &Output) -> String {
    format!(
        "exit {:?}\nstdout:\n{}\nstderr:\n{}",
        output.status.code(),
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// Validate a JSON document against docs/status.schema.json with python3-jsonschema.
fn validate_against_schema(json: &[u8]) {
    let schema = concat!(env!("CARGO_MANIFEST_DIR"), "/docs/status.schema.json");
    let mut child = Command::new("python3")
        .args([
            "-c",
            "import json, sys, jsonschema\n\
             schema = json.load(open(sys.argv[1]))\n\
             jsonschema.Draft202012Validator.check_schema(schema)\n\
             jsonschema.Draft202012Validator(schema).validate(json.load(sys.stdin))\n\
             print('valid')",
            schema,
        ])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("python3 (with python3-jsonschema)");
    use std::io::Write;
    child.stdin.take().unwrap().write_all(json).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success() && out.stdout.starts_with(b"valid"),
        "status --json does not validate against {schema}:\n{}",
        text(&out)
    );
}

#[test]
fn a_pair_reports_its_state_and_check_fails_on_fault() {
    let topo = pair("status");
    let (a, b) = (topo.node("a"), topo.node("b"));
    let down = topo.dir().join("down");
    let checks = format!(
        "checks:\n  - name: down\n    file: {}\n    weight: 0",
        down.display()
    );
    let da = a.start(&Config::one(web(150).with("track: [down]")).top(&checks));
    let db = b.start(&Config::one(web(100)));
    topo.expect_holders(VIP4, &["a"], STARTUP + takeover_bound(150));
    let (sa, sb) = (da.control_socket(), db.control_socket());
    // b has heard a.
    topo.expect_within(takeover_bound(100), "b reports a as its master", || {
        String::from_utf8_lossy(&floatip(&["status"], &sb).stdout)
            .contains("master heard: 192.0.2.11 priority 150")
    });

    let out_a = floatip(&["status"], &sa);
    let out_b = floatip(&["status"], &sb);
    println!(
        "floatip status on a:\n{}",
        String::from_utf8_lossy(&out_a.stdout)
    );
    println!(
        "floatip status on b:\n{}",
        String::from_utf8_lossy(&out_b.stdout)
    );
    assert!(out_a.status.success(), "{}", text(&out_a));
    let human_a = String::from_utf8_lossy(&out_a.stdout);
    let human_b = String::from_utf8_lossy(&out_b.stdout);
    assert!(human_a.contains("web: MASTER for "), "{human_a}");
    assert!(
        human_a.contains("192.0.2.100/24 on eth0 present"),
        "{human_a}"
    );
    assert!(
        human_a.contains("priority 150 (configured 150)"),
        "{human_a}"
    );
    assert!(human_a.contains("check down (file): value"), "{human_a}");
    assert!(human_b.contains("web: BACKUP for "), "{human_b}");
    assert!(
        human_b.contains("192.0.2.100/24 on eth0 absent"),
        "{human_b}"
    );
    assert!(human_b.contains("checksum with-pseudo-header"), "{human_b}");
    // One screen for a pair.
    assert!(human_a.lines().count() <= 12, "{human_a}");

    for (socket, state) in [(&sa, "master"), (&sb, "backup")] {
        let out = floatip(&["status", "--json"], socket);
        assert!(out.status.success(), "{}", text(&out));
        validate_against_schema(&out.stdout);
        let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        let web = &report["routers"][0];
        assert_eq!(web["state"], state, "{report}");
        assert_eq!(
            web["addresses"][0]["present"],
            state == "master",
            "{report}"
        );
        assert!(
            web["counters"]["adverts_sent"].as_u64().is_some(),
            "{report}"
        );
        let check = floatip(&["status", "--check"], socket);
        assert_eq!(check.status.code(), Some(0), "{}", text(&check));
    }
    // Only one router, by name; an unknown one is refused.
    let one = floatip(&["status", "web", "--json"], &sa);
    assert!(one.status.success(), "{}", text(&one));
    let unknown = floatip(&["status", "nosuch"], &sa);
    assert_eq!(unknown.status.code(), Some(65), "{}", text(&unknown));
    assert!(String::from_utf8_lossy(&unknown.stderr).contains("no router `nosuch`"));

    // The weight-0 file check fails: a goes to Fault, b takes over, and --check on a
    // fails, naming the Fault.
    std::fs::write(&down, "1\n").unwrap();
    topo.expect_holders(VIP4, &["b"], takeover_bound(100) + Duration::from_secs(2));
    topo.expect_within(Duration::from_secs(3), "a reports FAULT", || {
        String::from_utf8_lossy(&floatip(&["status"], &sa).stdout).contains("web: FAULT")
    });
    let check = floatip(&["status", "--check"], &sa);
    assert_eq!(check.status.code(), Some(1), "{}", text(&check));
    assert!(
        String::from_utf8_lossy(&check.stderr).contains("web: in FAULT"),
        "{}",
        text(&check)
    );
    let human = String::from_utf8_lossy(&floatip(&["status"], &sa).stdout).to_string();
    assert!(human.contains("down FAULT"), "{human}");
    assert!(human.contains("fault: health check"), "{human}");
    let check_b = floatip(&["status", "--check"], &sb);
    assert_eq!(check_b.status.code(), Some(0), "{}", text(&check_b));
}

#[test]
fn check_fails_while_a_master_misses_an_address() {
    let topo = pair("stmiss");
    let a = topo.node("a");
    // The address lives on a second interface (a veth end) that the test then deletes:
    // the router, on eth0, stays master, and its address cannot come back.
    a.ip(&[
        "link", "add", "vip0", "type", "veth", "peer", "name", "vip0p",
    ]);
    a.ip(&["link", "set", "vip0", "up"]);
    a.ip(&["link", "set", "vip0p", "up"]);
    let yaml = Config::one(netns::Router::new("web", 51, 150, &["198.51.100.100/24"]))
        .to_yaml()
        .replace(
            "addresses: [\"198.51.100.100/24\"]",
            "addresses: [{address: 198.51.100.100/24, device: vip0}]",
        );
    assert!(yaml.contains("device: vip0"), "{yaml}");
    let da = a.spawn_floatip(&yaml);
    let socket = da.control_socket();
    topo.expect_within(
        STARTUP + takeover_bound(150),
        "a is master with its address",
        || {
            floatip(&["status", "--check"], &socket).status.success()
                && String::from_utf8_lossy(&floatip(&["status"], &socket).stdout)
                    .contains("198.51.100.100/24 on vip0 present")
        },
    );
    a.ip(&["link", "del", "vip0"]);
    let mut last = String::new();
    let failed = wait_for(Duration::from_secs(5), || {
        let out = floatip(&["status", "--check"], &socket);
        last = text(&out);
        out.status.code() == Some(1)
    });
    assert!(failed.is_ok(), "--check kept passing: {last}");
    assert!(
        last.contains("web: MASTER but 198.51.100.100/24 is missing on vip0")
            || last.contains("web: in FAULT"),
        "{last}"
    );
    println!("{last}");
}

#[test]
fn reload_through_the_control_socket_reports_the_outcome() {
    let topo = pair("streload");
    let a = topo.node("a");
    let da = a.start(&Config::one(web(150)));
    topo.expect_holders(VIP4, &["a"], STARTUP + takeover_bound(150));
    let socket = da.control_socket();

    // A valid file: taken.
    std::fs::write(da.config_path(), Config::one(web(160)).to_yaml()).unwrap();
    let ok = floatip(&["reload"], &socket);
    assert_eq!(ok.status.code(), Some(0), "{}", text(&ok));
    let status = String::from_utf8_lossy(&floatip(&["status"], &socket).stdout).to_string();
    assert!(status.contains("priority 160 (configured 160)"), "{status}");
    assert!(status.contains("last reload: ok"), "{status}");

    // An invalid file: rejected with file:line:column, the old configuration stays.
    let config = da.config_path().display().to_string();
    let invalid = Config::one(web(160))
        .to_yaml()
        .replace("priority: 160", "priority: 999");
    std::fs::write(da.config_path(), invalid).unwrap();
    let rejected = floatip(&["reload"], &socket);
    assert_eq!(rejected.status.code(), Some(1), "{}", text(&rejected));
    let stderr = String::from_utf8_lossy(&rejected.stderr);
    assert!(
        stderr.contains("the previous configuration still runs"),
        "{stderr}"
    );
    let located = stderr.lines().any(|l| {
        l.contains(&format!("{config}:"))
            && l.split(':')
                .filter(|p| p.trim().parse::<u32>().is_ok())
                .count()
                >= 2
    });
    assert!(located, "no file:line:column in:\n{stderr}");
    let status = String::from_utf8_lossy(&floatip(&["status"], &socket).stdout).to_string();
    assert!(status.contains("web: MASTER"), "{status}");
    assert!(status.contains("priority 160 (configured 160)"), "{status}");
    assert!(status.contains("last reload: REJECTED"), "{status}");
    // The raw protocol: the same answer as JSON, with its version.
    let raw = raw_request(&socket, b"{\"version\":1,\"command\":\"reload\"}\n");
    let answer: serde_json::Value = serde_json::from_str(&raw).unwrap();
    assert_eq!(answer["version"], 1);
    assert_eq!(answer["ok"], false);
    assert_eq!(answer["reload"]["kept_running"], true);
    assert_eq!(answer["error"]["code"], "reload_rejected");
    let unknown = raw_request(&socket, b"{\"version\":1,\"command\":\"handover\"}\n");
    assert!(unknown.contains("\"not_supported\""), "{unknown}");
}

fn raw_request(socket: &Path, request: &[u8]) -> String {
    use std::io::{BufRead, BufReader, Write};
    let mut stream = std::os::unix::net::UnixStream::connect(socket).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    stream.write_all(request).unwrap();
    let mut line = String::new();
    BufReader::new(stream).read_line(&mut line).unwrap();
    line
}

#[test]
fn an_unreachable_daemon_has_its_own_exit_code() {
    let dir = std::env::temp_dir().join(format!("floatip-status-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let absent = floatip(&["status"], &dir.join("absent.sock"));
    assert_eq!(absent.status.code(), Some(69), "{}", text(&absent));
    // A socket file nobody listens on.
    let stale = dir.join("stale.sock");
    drop(std::os::unix::net::UnixListener::bind(&stale).unwrap());
    let refused = floatip(&["status", "--check"], &stale);
    assert_eq!(refused.status.code(), Some(69), "{}", text(&refused));
    let reload = floatip(&["reload"], &stale);
    assert_eq!(reload.status.code(), Some(69), "{}", text(&reload));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn hostile_clients_do_not_stall_advertisements() {
    let topo = pair("sthostile");
    let (a, b) = (topo.node("a"), topo.node("b"));
    let da = a.start(&Config::one(web(150)));
    let db = b.start(&Config::one(web(100)));
    topo.expect_holders(VIP4, &["a"], STARTUP + takeover_bound(150));
    let socket = da.control_socket();
    let transitions_before = db.log().matches("state change").count();

    // Clients that connect and send nothing, up to and beyond the cap, and clients that
    // send an endless line.
    let silent: Vec<_> = (0..40)
        .filter_map(|_| std::os::unix::net::UnixStream::connect(&socket).ok())
        .collect();
    let flooders: Vec<_> = (0..4)
        .map(|_| {
            let socket = socket.clone();
            std::thread::spawn(move || {
                use std::io::Write;
                let Ok(mut stream) = std::os::unix::net::UnixStream::connect(&socket) else {
                    return;
                };
                let chunk = vec![b'x'; 16 * 1024];
                // Until the daemon closes the connection.
                for _ in 0..1024 {
                    if stream.write_all(&chunk).is_err() {
                        return;
                    }
                }
            })
        })
        .collect();
    // Well past b's master-down: had a's adverts stalled, b would have taken over.
    topo.expect_holders_stay(VIP4, &["a"], 10 * ADV + 3 * netns::master_down(100, ADV));
    for flooder in flooders {
        flooder.join().unwrap();
    }
    drop(silent);
    assert_eq!(
        db.log().matches("state change").count(),
        transitions_before,
        "b changed state while a's control socket was under load:\n{}",
        db.log_tail(20)
    );
    // And the socket serves again once they are gone.
    topo.expect_within(Duration::from_secs(15), "status answers again", || {
        floatip(&["status", "--check"], &socket).status.success()
    });
}
