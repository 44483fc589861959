//! The health sections of the configuration: `checks:`, `track:`, `notify:`, `global:`.
//! Defaults are applied, every kind parses, every rule reports file:line:column and key.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use floatip::config::{CheckKind, Severity};

mod config_kit;
use config_kit::*;

/// A router on lines 1-6 tracking `haproxy`, then `extra` from line 7 on.
fn with(extra: &[&str]) -> String {
    let mut lines = vec!["    track: [haproxy]"];
    lines.extend_from_slice(extra);
    router_with(&lines)
}

#[test]
fn every_kind_parses_with_its_defaults() {
    let config = ok(&with(&[
        "checks:",
        "  - name: haproxy",
        "    process: haproxy",
        "  - name: quorum",
        "    process: {name: haproxy, min: 2, rescan: 200ms, delay: 2s}",
        "  - name: port",
        "    tcp: {address: 127.0.0.1, port: 80}",
        "  - name: health",
        "    http: {address: 127.0.0.1, port: 8404, path: /healthz, host: lb.example, expect: 204}",
        "    interval: 100ms",
        "    rise: 2",
        "    fall: 3",
        "    weight: -50",
        "  - name: uplink",
        "    interface: eth1",
        "  - name: drain",
        "    file: /run/floatip/drain",
        "    weight: -100",
        "  - name: custom",
        "    script: /bin/true --fast",
        "    timeout: 500ms",
        "    initial: up",
    ]));
    let checks = &config.checks;
    assert_eq!(checks.len(), 7);
    assert_eq!(
        checks[0].kind,
        CheckKind::Process {
            name: "haproxy".into(),
            min: 1,
            rescan: Duration::from_millis(500),
            delay: Duration::ZERO
        }
    );
    assert_eq!(
        (checks[0].weight, checks[0].rise, checks[0].fall),
        (0, 1, 1)
    );
    assert!(
        !checks[0].initially_up,
        "nothing is claimed before it is known"
    );
    assert_eq!(
        checks[1].kind,
        CheckKind::Process {
            name: "haproxy".into(),
            min: 2,
            rescan: Duration::from_millis(200),
            delay: Duration::from_secs(2)
        }
    );
    assert_eq!(
        checks[2].kind,
        CheckKind::Tcp {
            target: "127.0.0.1:80".parse::<SocketAddr>().unwrap(),
            interval: Duration::from_secs(1),
            timeout: Duration::from_secs(1)
        }
    );
    assert_eq!(
        checks[3].kind,
        CheckKind::Http {
            target: "127.0.0.1:8404".parse().unwrap(),
            host: Some("lb.example".into()),
            path: "/healthz".into(),
            expect: 204,
            interval: Duration::from_millis(100),
            timeout: Duration::from_millis(100)
        }
    );
    assert_eq!(
        (checks[3].weight, checks[3].rise, checks[3].fall),
        (-50, 2, 3)
    );
    assert_eq!(
        checks[4].kind,
        CheckKind::Interface {
            name: "eth1".into()
        }
    );
    assert_eq!(
        checks[5].kind,
        CheckKind::File {
            path: PathBuf::from("/run/floatip/drain")
        }
    );
    assert_eq!(
        checks[6].kind,
        CheckKind::Script {
            command: vec!["/bin/true".into(), "--fast".into()],
            interval: Duration::from_secs(1),
            timeout: Duration::from_millis(500)
        }
    );
    assert!(checks[6].initially_up);
    assert_eq!(config.routers[0].track, vec!["haproxy".to_owned()]);
    let unused: Vec<_> = config
        .warnings
        .iter()
        .filter(|w| w.severity == Severity::Warning && w.message.contains("not tracked"))
        .collect();
    assert_eq!(unused.len(), 6, "{unused:#?}");
}

#[test]
fn a_check_has_exactly_one_kind() {
    let d = one_error(&with(&[
        "checks:",
        "  - name: haproxy",
        "    process: haproxy",
        "    tcp: {address: 127.0.0.1, port: 80}",
    ]));
    assert_diag(&d, 10, 10, "checks[0].tcp", "also has `process`");
    let d = one_error(&with(&["checks:", "  - name: haproxy", "    weight: -10"]));
    assert_diag(&d, 8, 5, "checks[0]", "needs one of script, process");
}

#[test]
fn check_names_are_valid_and_unique() {
    let d = one_error(&with(&[
        "checks:",
        "  - name: haproxy",
        "    process: haproxy",
        "  - name: haproxy",
        "    tcp: {address: 127.0.0.1, port: 80}",
    ]));
    assert_diag(
        &d,
        10,
        11,
        "checks[1].name",
        "check name `haproxy` is already used on line 8",
    );
    let errors = errors(&with(&[
        "checks:",
        "  - name: haproxy",
        "    process: haproxy",
        "  - name: \"no spaces\"",
        "    process: haproxy",
    ]));
    assert_diag(
        &errors[0],
        10,
        11,
        "checks[1].name",
        "`no spaces` is not a valid check name",
    );
}

#[test]
fn track_names_must_exist() {
    let d = one_error(&with(&[
        "checks:",
        "  - name: haproxi",
        "    process: haproxy",
    ]));
    assert_diag(
        &d,
        6,
        13,
        "routers[0].track[0]",
        "no check is named `haproxy`",
    );
    assert_help(&d, "did you mean `haproxi`");
}

#[test]
fn out_of_range_values_are_refused_where_they_are() {
    let cases: &[(&str, u64, u64, &str, &str)] = &[
        (
            "    weight: 255",
            10,
            13,
            "checks[0].weight",
            "out of range",
        ),
        ("    rise: 0", 10, 11, "checks[0].rise", "out of range"),
        ("    fall: 101", 10, 11, "checks[0].fall", "out of range"),
        (
            "    interval: 5ms",
            10,
            15,
            "checks[0].interval",
            "shorter than 10ms",
        ),
    ];
    for (line, l, c, key, part) in cases {
        let d = one_error(&with(&[
            "checks:",
            "  - name: haproxy",
            "    tcp: {address: 127.0.0.1, port: 80}",
            line,
        ]));
        assert_diag(&d, *l, *c, key, part);
    }
}

#[test]
fn event_driven_checks_take_no_interval() {
    let d = one_error(&with(&[
        "checks:",
        "  - name: haproxy",
        "    process: haproxy",
        "    interval: 1s",
    ]));
    assert_diag(
        &d,
        10,
        15,
        "checks[0].interval",
        "script, tcp and http checks only",
    );
    let d = one_error(&with(&[
        "checks:",
        "  - name: haproxy",
        "    file: /run/floatip/drain",
        "    fall: 3",
    ]));
    assert_diag(
        &d,
        10,
        11,
        "checks[0].fall",
        "script, tcp and http checks only",
    );
    assert_help(&d, "a file check is event-driven");
}

#[test]
fn commands_need_an_absolute_path() {
    let d = one_error(&with(&[
        "checks:",
        "  - name: haproxy",
        "    script: pidof haproxy",
    ]));
    assert_diag(
        &d,
        9,
        13,
        "checks[0].script",
        "`pidof` is not an absolute path",
    );
    assert_help(&d, "/usr/bin/pidof");
}

#[test]
fn bad_targets_are_all_reported() {
    let text = with(&[
        "checks:",
        "  - name: haproxy",
        "    http: {address: localhost, port: 0, path: healthz, expect: 700}",
    ]);
    let errors = errors(&text);
    let keys: Vec<&str> = errors.iter().map(|d| d.key.as_str()).collect();
    assert_eq!(
        keys,
        [
            "checks[0].http.address",
            "checks[0].http.port",
            "checks[0].http.path",
            "checks[0].http.expect"
        ]
    );
}

#[test]
fn notify_hooks_parse_and_need_a_command() {
    let config = ok(&router_with(&[
        "    notify:",
        "      command: /bin/true",
        "      master: [/bin/echo, became master]",
        "      timeout: 2s",
    ]));
    let notify = config.routers[0].notify.as_ref().unwrap();
    assert_eq!(notify.command, Some(vec!["/bin/true".to_owned()]));
    assert_eq!(
        notify.master,
        Some(vec!["/bin/echo".to_owned(), "became master".to_owned()])
    );
    assert_eq!(notify.backup, None);
    assert_eq!(notify.timeout, Duration::from_secs(2));

    let d = one_error(&router_with(&["    notify: {timeout: 2s}"]));
    assert_diag(&d, 6, 13, "routers[0].notify", "no command");
}

#[test]
fn a_sync_groups_checks_apply_to_its_members() {
    let config = ok(&yaml(&[
        "checks:",
        "  - name: haproxy",
        "    process: haproxy",
        "  - name: drain",
        "    file: /run/floatip/drain",
        "    weight: -100",
        "routers:",
        "  - {name: web, interface: eth0, vrid: 51, addresses: [192.0.2.100/24], track: [drain]}",
        "  - {name: web6, interface: eth0, vrid: 51, addresses: ['2001:db8::100/64']}",
        "sync_groups:",
        "  - name: lb",
        "    routers: [web, web6]",
        "    track: [haproxy, drain]",
        "    notify: {command: /bin/true}",
    ]));
    assert_eq!(config.routers[0].track, vec!["drain", "haproxy"]);
    assert_eq!(config.routers[1].track, vec!["haproxy", "drain"]);
    assert!(config.warnings.is_empty(), "{:#?}", config.warnings);
}

#[test]
fn global_settings() {
    let config = ok(&yaml(&[
        "global:",
        "  script_user: nobody",
        "  event_socket: /run/floatip/events.sock",
        "routers:",
        "  - {name: web, interface: eth0, vrid: 51, addresses: [192.0.2.100/24]}",
    ]));
    assert_eq!(config.global.script_user.as_deref(), Some("nobody"));
    assert_eq!(
        config.global.event_socket.as_deref(),
        Some(Path::new("/run/floatip/events.sock"))
    );
    let d = one_error(&yaml(&[
        "global:",
        "  event_socket: events.sock",
        "routers:",
        "  - {name: web, interface: eth0, vrid: 51, addresses: [192.0.2.100/24]}",
    ]));
    assert_diag(
        &d,
        2,
        17,
        "global.event_socket",
        "not an absolute file path",
    );
}

#[test]
fn metrics_endpoint_is_off_by_default_and_listens_where_told() {
    let base = "  - {name: web, interface: eth0, vrid: 51, addresses: [192.0.2.100/24]}";
    let off = ok(&yaml(&["routers:", base]));
    assert_eq!(off.global.metrics, None);
    let default = ok(&yaml(&["global:", "  metrics: {}", "routers:", base]));
    assert_eq!(
        default
            .global
            .metrics
            .map(|m| m.listen.to_string())
            .as_deref(),
        Some("127.0.0.1:9650")
    );
    let v6 = ok(&yaml(&[
        "global:",
        "  metrics: {listen: '[2001:db8::1]:9100'}",
        "routers:",
        base,
    ]));
    assert_eq!(
        v6.global.metrics.map(|m| m.listen.to_string()).as_deref(),
        Some("[2001:db8::1]:9100")
    );
    for (bad, column) in [
        ("localhost:9650", 13),
        ("127.0.0.1", 13),
        ("127.0.0.1:0", 13),
    ] {
        let d = one_error(&yaml(&[
            "global:",
            "  metrics:",
            &format!("    listen: {bad}"),
            "routers:",
            base,
        ]));
        assert_diag(
            &d,
            3,
            column,
            "global.metrics.listen",
            "is not an address:port",
        );
    }
    let d = one_error(&yaml(&[
        "global:",
        "  metrics: {port: 9650}",
        "routers:",
        base,
    ]));
    assert!(d.to_string().contains("port"), "{d}");
}
