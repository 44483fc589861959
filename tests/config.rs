//! The configuration file: the example parses, defaults are applied, every rule reports
//! file:line:column, the key path, the line and what would be valid.

use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use floatip::config::{self, Announce, ChecksumMode, ConfigError, Severity, VirtualAddress};
use floatip::proto::packet::{Auth, ChecksumForm, Family, Version};
use floatip::proto::timers::Centisecs;
use proptest::prelude::*;

mod config_kit;
use config_kit::*;

fn example_path() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("packaging/examples/floatip.yaml")
}

fn ip(text: &str) -> IpAddr {
    text.parse().unwrap()
}

// ------------------------------------------------------------------------------------
// The example
// ------------------------------------------------------------------------------------

#[test]
fn example_parses_without_warnings() {
    let config = config::load(&example_path()).unwrap_or_else(|e| panic!("{e}"));
    let names: Vec<&str> = config.routers.iter().map(|r| r.name.as_str()).collect();
    assert_eq!(names, ["web", "web6"]);
    assert!(config.warnings.is_empty(), "{:#?}", config.warnings);
    assert_eq!(config.sync_groups.len(), 1);
    assert_eq!(config.sync_groups[0].name, "lb");
    assert_eq!(config.sync_groups[0].routers, ["web", "web6"]);

    let web6 = config.router("web6").unwrap();
    assert_eq!(web6.family(), Family::V6);
    assert_eq!(web6.advert_interval, Centisecs(10));
    assert_eq!(web6.preempt_delay, Duration::from_secs(5));
    let unicast = web6.unicast.as_ref().unwrap();
    assert_eq!(unicast.source, Some(ip("2001:db8::10")));
    assert_eq!(unicast.peers, [ip("2001:db8::11")]);
    assert_eq!(config.sync_group_of("web").unwrap().name, "lb");
}

/// The example's first router writes every optional key at its default: the same router
/// with only its required keys must come out identical, or the example lies.
#[test]
fn example_states_the_true_defaults() {
    let example = config::load(&example_path()).unwrap();
    let minimal = ok(&yaml(&[
        "routers:",
        "  - name: web",
        "    interface: eth0",
        "    vrid: 51",
        "    addresses:",
        "      - 192.0.2.100/24",
        "      - {address: 192.0.2.101/24, device: eth0, label: \"eth0:web\"}",
    ]));
    let mut web = example.router("web").cloned().unwrap();
    // Its sync group's checks apply to it (see the group); the router itself tracks none.
    assert_eq!(
        web.track,
        ["haproxy", "haproxy-http", "haproxy-port", "drain"]
    );
    web.track.clear();
    assert_eq!(Some(&web), minimal.router("web"));
}

#[test]
fn example_uses_only_documentation_addresses() {
    let config = config::load(&example_path()).unwrap();
    for router in &config.routers {
        assert_eq!(router.interface, "eth0");
        let mut all = router.virtual_ips();
        if let Some(u) = &router.unicast {
            all.extend(u.source);
            all.extend(&u.peers);
        }
        for address in all {
            let doc = match address {
                IpAddr::V4(v4) => v4.octets()[..3] == [192, 0, 2],
                IpAddr::V6(v6) => v6.segments()[..2] == [0x2001, 0x0db8],
            };
            assert!(doc, "{address} is not a documentation address");
        }
    }
}

#[test]
fn check_summarises_the_example() {
    let path = example_path();
    let summary = config::check(&path).unwrap();
    assert_eq!(
        summary,
        format!(
            "{}: OK, 2 routers (web: eth0 vrid 51 v3 IPv4, web6: eth0 vrid 51 v3 IPv6 unicast), \
             1 sync group (lb: web, web6), 4 checks (haproxy: process, haproxy-http: http, \
             haproxy-port: tcp, drain: file)",
            path.display()
        )
    );
}

#[test]
fn check_reports_a_missing_file() {
    let err = config::check(Path::new("/nonexistent/floatip.yaml")).unwrap_err();
    assert!(matches!(err, ConfigError::Read { .. }));
    assert!(
        err.to_string()
            .starts_with("/nonexistent/floatip.yaml: cannot read the configuration"),
        "{err}"
    );
}

// ------------------------------------------------------------------------------------
// Defaults and mapping onto the core
// ------------------------------------------------------------------------------------

#[test]
fn defaults_are_applied() {
    let config = ok(&router_with(&[]));
    assert!(config.sync_groups.is_empty());
    let r = &config.routers[0];
    assert_eq!(r.version, Version::V3);
    assert_eq!(r.priority, 100);
    assert_eq!(r.advert_interval, Centisecs(100));
    assert!(r.preempt);
    assert_eq!(r.preempt_delay, Duration::ZERO);
    assert!(r.accept_mode);
    assert_eq!(r.checksum, ChecksumMode::Auto);
    assert_eq!(r.unicast, None);
    assert_eq!(r.password, None);
    assert_eq!(
        r.announce,
        Announce {
            burst: 3,
            burst_interval: Duration::from_millis(10),
            repeat_after: Some(Duration::from_secs(2)),
            refresh_every: Some(Duration::from_secs(60)),
        }
    );
    assert_eq!(
        r.addresses,
        [VirtualAddress {
            address: ip("192.0.2.100"),
            prefix_len: 24,
            device: None,
            label: None
        }]
    );
}

#[test]
fn prefix_defaults_to_a_host_route() {
    let config = ok(&yaml(&[
        "routers:",
        "  - {name: a, interface: eth0, vrid: 1, addresses: [192.0.2.1]}",
        "  - {name: b, interface: eth0, vrid: 1, addresses: [\"2001:db8::1\"]}",
    ]));
    assert_eq!(config.routers[0].addresses[0].prefix_len, 32);
    assert_eq!(config.routers[1].addresses[0].prefix_len, 128);
    assert_eq!(config.routers[1].family(), Family::V6);
    assert_eq!(
        config.routers[1].addresses[0].to_string(),
        "2001:db8::1/128"
    );
}

#[test]
fn fsm_config_maps_every_field() {
    let config = ok(&router_with(&[
        "    priority: 200",
        "    advert_interval: 100ms",
        "    preempt: false",
        "    accept_mode: false",
        "    announce: {repeat_after: off, refresh_every: 30s}",
    ]));
    let spec = &config.routers[0];
    let fsm = spec.fsm_config(ip("192.0.2.10"));
    assert_eq!(fsm.vrid, 51);
    assert_eq!(fsm.version, Version::V3);
    assert_eq!(fsm.priority, 200);
    assert_eq!(fsm.advert_interval, Centisecs(10));
    assert!(!fsm.preempt);
    assert_eq!(fsm.preempt_delay, Duration::ZERO);
    assert!(!fsm.accept_mode);
    assert_eq!(fsm.primary_address, ip("192.0.2.10"));
    assert_eq!(fsm.addresses, [ip("192.0.2.100")]);
    assert_eq!(fsm.announce_repeat_after, None);
    assert_eq!(fsm.announce_refresh_every, Some(Duration::from_secs(30)));
    assert_eq!(fsm.family(), Family::V4);
}

#[test]
fn v2_router_with_password() {
    let config = ok(&router_with(&[
        "    version: 2",
        "    advert_interval: 3s",
        "    password: s3cret",
    ]));
    let r = &config.routers[0];
    assert_eq!(r.version, Version::V2);
    assert_eq!(r.advert_interval, Centisecs(300));
    assert_eq!(r.auth(), Auth::password("s3cret").unwrap());
    assert_eq!(ok(&router_with(&[])).routers[0].auth(), Auth::None);
}

#[test]
fn checksum_forms_for_v3_ipv4() {
    for (text, mode, form) in [
        ("auto", ChecksumMode::Auto, None),
        (
            "with-pseudo-header",
            ChecksumMode::WithPseudoHeader,
            Some(ChecksumForm::WithPseudoHeader),
        ),
        (
            "without-pseudo-header",
            ChecksumMode::WithoutPseudoHeader,
            Some(ChecksumForm::WithoutPseudoHeader),
        ),
    ] {
        let line = format!("    checksum: {text}");
        let config = ok(&router_with(&[&line]));
        assert_eq!(config.routers[0].checksum, mode, "{text}");
        assert_eq!(config.routers[0].checksum.fixed(), form, "{text}");
    }
}

#[test]
fn announce_can_be_turned_off() {
    let config = ok(&router_with(&[
        "    announce:",
        "      burst: 1",
        "      burst_interval: 0s",
        "      repeat_after: off",
        "      refresh_every: off",
    ]));
    assert_eq!(
        config.routers[0].announce,
        Announce {
            burst: 1,
            burst_interval: Duration::ZERO,
            repeat_after: None,
            refresh_every: None
        }
    );
}

// ------------------------------------------------------------------------------------
// Semantic errors: position, key, message, help
// ------------------------------------------------------------------------------------

#[test]
fn interval_not_a_multiple_of_10ms_renders_like_a_compiler() {
    let d = one_error(&router_with(&["    advert_interval: 15ms"]));
    assert_diag(
        &d,
        6,
        22,
        "routers[0].advert_interval",
        "15ms is not a multiple of 10ms",
    );
    assert_eq!(d.severity, Severity::Error);
    assert_eq!(
        d.to_string(),
        "/etc/floatip/floatip.yaml:6:22: routers[0].advert_interval: 15ms is not a multiple of 10ms\n\
         \x20  6 |     advert_interval: 15ms\n\
         \x20    |                      ^\n\
         \x20  VRRPv3 intervals are 10ms..40950ms in steps of 10ms"
    );
}

#[test]
fn duration_without_unit() {
    let d = one_error(&router_with(&["    advert_interval: 100"]));
    assert_diag(
        &d,
        6,
        22,
        "routers[0].advert_interval",
        "durations need a unit",
    );
    assert!(d.message.contains("write 100ms or 100s"), "{}", d.message);
    let d = one_error(&router_with(&["    preempt_delay: 1.5"]));
    assert_diag(&d, 6, 20, "routers[0].preempt_delay", "need a unit");
    let d = one_error(&router_with(&["    preempt_delay: 5 sec"]));
    assert_diag(&d, 6, 20, "routers[0].preempt_delay", "unknown unit");
}

#[test]
fn interval_ranges_per_version() {
    let d = one_error(&router_with(&["    advert_interval: 41s"]));
    assert_diag(
        &d,
        6,
        22,
        "routers[0].advert_interval",
        "longer than 40950ms",
    );
    let d = one_error(&router_with(&["    advert_interval: 0s"]));
    assert_diag(&d, 6, 22, "routers[0].advert_interval", "shorter than 10ms");
    let d = one_error(&router_with(&[
        "    version: 2",
        "    advert_interval: 500ms",
    ]));
    assert_diag(
        &d,
        7,
        22,
        "routers[0].advert_interval",
        "not a whole number of seconds",
    );
    assert_help(&d, "VRRPv2 intervals are whole seconds 1s..255s");
    let d = one_error(&router_with(&[
        "    version: 2",
        "    advert_interval: 256s",
    ]));
    assert_diag(&d, 7, 22, "routers[0].advert_interval", "out of range");
    // 40.95 s is the largest VRRPv3 interval; 255 s the largest VRRPv2 one.
    assert_eq!(
        ok(&router_with(&["    advert_interval: 40.95s"])).routers[0].advert_interval,
        Centisecs(4095)
    );
    assert_eq!(
        ok(&router_with(&[
            "    version: 2",
            "    advert_interval: 4m15s"
        ]))
        .routers[0]
            .advert_interval,
        Centisecs(25500)
    );
}

#[test]
fn vrid_range() {
    let text = router_with(&[]).replace("vrid: 51", "vrid: 0");
    let d = one_error(&text);
    assert_diag(&d, 4, 11, "routers[0].vrid", "vrid 0 is not a valid VRID");
    assert_help(&d, "1..=255");
    let text = router_with(&[]).replace("vrid: 51", "vrid: 256");
    assert_diag(&one_error(&text), 4, 11, "routers[0].vrid", "out of range");
}

#[test]
fn priority_zero_is_reserved() {
    let d = one_error(&router_with(&["    priority: 0"]));
    assert_diag(&d, 6, 15, "routers[0].priority", "priority 0 is reserved");
    assert_help(&d, "1..=254");
    let d = one_error(&router_with(&["    priority: 256"]));
    assert_diag(&d, 6, 15, "routers[0].priority", "out of range");
    assert_eq!(
        ok(&router_with(&["    priority: 255"])).routers[0].priority,
        255
    );
}

#[test]
fn unknown_version() {
    let d = one_error(&router_with(&["    version: 4"]));
    assert_diag(
        &d,
        6,
        14,
        "routers[0].version",
        "VRRP version 4 does not exist",
    );
    assert_help(&d, "write 3");
}

#[test]
fn password_only_for_v2_and_never_echoed() {
    let d = one_error(&router_with(&["    password: hunter2"]));
    assert_diag(&d, 6, 15, "routers[0].password", "VRRPv2 only");
    assert_eq!(d.source_line.as_deref(), Some("    password: ********"));
    assert!(!d.to_string().contains("hunter2"), "{d}");

    let d = one_error(&router_with(&["    version: 2", "    password: 123456789"]));
    assert_diag(&d, 7, 15, "routers[0].password", "9 bytes long");
    assert_help(&d, "1 to 8 bytes");
    assert!(!d.to_string().contains("123456789"), "{d}");
}

#[test]
fn v2_carries_ipv4_only() {
    let text = yaml(&[
        "routers:",
        "  - name: web6",
        "    interface: eth0",
        "    vrid: 51",
        "    version: 2",
        "    addresses: [\"2001:db8::1/64\"]",
    ]);
    let d = one_error(&text);
    assert_diag(
        &d,
        6,
        17,
        "routers[0].addresses[0]",
        "VRRPv2 carries IPv4 addresses only",
    );
    assert_help(&d, "version: 3");
}

#[test]
fn one_family_per_router() {
    let text = yaml(&[
        "routers:",
        "  - name: web",
        "    interface: eth0",
        "    vrid: 51",
        "    addresses:",
        "      - 192.0.2.100/24",
        "      - address: 2001:db8::100/64",
    ]);
    let d = one_error(&text);
    assert_diag(
        &d,
        7,
        18,
        "routers[0].addresses[1].address",
        "2001:db8::100 is IPv6 but the router's first address 192.0.2.100 is IPv4",
    );
    assert_help(&d, "second router");
}

#[test]
fn bad_addresses() {
    let text = yaml(&[
        "routers:",
        "  - name: web",
        "    interface: eth0",
        "    vrid: 51",
        "    addresses:",
        "      - 192.0.2.300",
        "      - 192.0.2.1/33",
        "      - 224.0.0.18",
        "      - 192.0.2.5",
        "      - 192.0.2.5/24",
    ]);
    let errors = errors(&text);
    assert_eq!(errors.len(), 4, "{errors:#?}");
    assert_diag(
        &errors[0],
        6,
        9,
        "routers[0].addresses[0]",
        "`192.0.2.300` is not an IPv4 or IPv6 address",
    );
    assert_diag(
        &errors[1],
        7,
        9,
        "routers[0].addresses[1]",
        "`/33` is not a prefix length",
    );
    assert_diag(
        &errors[2],
        8,
        9,
        "routers[0].addresses[2]",
        "multicast address",
    );
    assert_diag(&errors[3], 10, 9, "routers[0].addresses[4]", "listed twice");
}

#[test]
fn at_least_one_address() {
    let text = router_with(&[]).replace("[192.0.2.100/24]", "[]");
    let d = one_error(&text);
    assert_diag(
        &d,
        5,
        16,
        "routers[0].addresses",
        "at least one virtual address",
    );
}

#[test]
fn labels() {
    let v6 = yaml(&[
        "routers:",
        "  - name: web",
        "    interface: eth0",
        "    vrid: 51",
        "    addresses:",
        "      - {address: \"2001:db8::1\", label: \"eth0:v6\"}",
    ]);
    let d = one_error(&v6);
    assert_diag(
        &d,
        6,
        41,
        "routers[0].addresses[0].label",
        "labels are IPv4 only",
    );

    let wrong = router_with(&[]).replace(
        "[192.0.2.100/24]",
        "[{address: 192.0.2.1, device: eth1, label: \"eth0:vip\"}]",
    );
    let d = one_error(&wrong);
    assert_diag(
        &d,
        5,
        59,
        "routers[0].addresses[0].label",
        "does not start with `eth1:`",
    );

    let long = router_with(&[]).replace(
        "[192.0.2.100/24]",
        "[{address: 192.0.2.1, label: \"eth0:abcdefghijk\"}]",
    );
    let d = one_error(&long);
    assert_diag(&d, 5, 45, "routers[0].addresses[0].label", "16 bytes long");
    assert_help(&d, "at most 15");

    let good = router_with(&[]).replace(
        "[192.0.2.100/24]",
        "[{address: 192.0.2.1, device: eth1, label: \"eth1:vip\"}]",
    );
    let config = ok(&good);
    let r = &config.routers[0];
    assert_eq!(r.addresses[0].label.as_deref(), Some("eth1:vip"));
    assert_eq!(r.device_of(&r.addresses[0]), "eth1");
}

#[test]
fn interface_names() {
    let text = router_with(&[]).replace("interface: eth0", "interface: averyveryverylongname0");
    let d = one_error(&text);
    assert_diag(&d, 3, 16, "routers[0].interface", "at most 15");
    let text = router_with(&[]).replace("interface: eth0", "interface: \"eth0:1\"");
    assert_diag(
        &one_error(&text),
        3,
        16,
        "routers[0].interface",
        "contains `:`",
    );
}

#[test]
fn router_names_unique_and_well_formed() {
    let text = yaml(&[
        "routers:",
        "  - {name: web, interface: eth0, vrid: 1, addresses: [192.0.2.1]}",
        "  - {name: web, interface: eth0, vrid: 2, addresses: [192.0.2.2]}",
        "  - {name: \"bad name\", interface: eth0, vrid: 3, addresses: [192.0.2.3]}",
    ]);
    let errors = errors(&text);
    assert_eq!(errors.len(), 2, "{errors:#?}");
    assert_diag(
        &errors[0],
        3,
        12,
        "routers[1].name",
        "router name `web` is already used by the router on line 2",
    );
    assert_diag(
        &errors[1],
        4,
        12,
        "routers[2].name",
        "`bad name` is not a valid router name",
    );
}

#[test]
fn vrid_unique_per_interface_and_family() {
    let text = yaml(&[
        "routers:",
        "  - {name: a, interface: eth0, vrid: 51, addresses: [192.0.2.1]}",
        "  - {name: b, interface: eth0, vrid: 51, addresses: [192.0.2.2]}",
        "  - {name: c, interface: eth1, vrid: 51, addresses: [192.0.2.3]}",
        "  - {name: d, interface: eth0, vrid: 51, addresses: [\"2001:db8::1\"]}",
    ]);
    let d = one_error(&text);
    assert_diag(
        &d,
        3,
        38,
        "routers[1].vrid",
        "vrid 51 on eth0 for IPv4 is already used by routers[0] `a` (line 2)",
    );
}

#[test]
fn a_virtual_address_belongs_to_one_router() {
    let text = yaml(&[
        "routers:",
        "  - {name: a, interface: eth0, vrid: 1, addresses: [192.0.2.1]}",
        "  - {name: b, interface: eth1, vrid: 2, addresses: [192.0.2.1/24]}",
    ]);
    let d = one_error(&text);
    assert_diag(
        &d,
        3,
        53,
        "routers[1].addresses[0]",
        "192.0.2.1 is already a virtual address of routers[0] `a`",
    );
}

#[test]
fn unicast_rules() {
    let text = yaml(&[
        "routers:",
        "  - name: web",
        "    interface: eth0",
        "    vrid: 51",
        "    addresses: [192.0.2.100/24]",
        "    unicast:",
        "      source: 192.0.2.10/24",
        "      peers:",
        "        - 192.0.2.11",
        "        - \"2001:db8::11\"",
        "        - 192.0.2.11",
        "        - 192.0.2.100",
    ]);
    let errors = errors(&text);
    assert_eq!(errors.len(), 4, "{errors:#?}");
    assert_diag(
        &errors[0],
        7,
        15,
        "routers[0].unicast.source",
        "`192.0.2.10/24` is not an IP address",
    );
    assert_help(&errors[0], "without a prefix length");
    assert_diag(
        &errors[1],
        10,
        11,
        "routers[0].unicast.peers[1]",
        "2001:db8::11 is IPv6 but the router's addresses are IPv4",
    );
    assert_diag(
        &errors[2],
        11,
        11,
        "routers[0].unicast.peers[2]",
        "listed twice (first on line 9)",
    );
    assert_diag(
        &errors[3],
        12,
        11,
        "routers[0].unicast.peers[3]",
        "is a virtual address of this router",
    );

    let empty = router_with(&["    unicast: {peers: []}"]);
    assert_diag(
        &one_error(&empty),
        6,
        22,
        "routers[0].unicast.peers",
        "at least one peer",
    );

    let own = router_with(&["    unicast: {source: 192.0.2.10, peers: [192.0.2.10]}"]);
    assert_diag(
        &one_error(&own),
        6,
        43,
        "routers[0].unicast.peers[0]",
        "own unicast source",
    );
}

/// `hosts:` says how many routers share the VRID; with unicast it must agree with the
/// peers. A pair (hosts 2, or unicast with one peer) is what lets the core skip skew.
#[test]
fn hosts_rules() {
    let pair = ok(&router_with(&["    hosts: 2"]));
    assert_eq!(pair.routers[0].hosts, Some(2));
    let fsm = pair.routers[0].fsm_config(ip("192.0.2.10"));
    assert_eq!(fsm.hosts, Some(2));
    assert!(fsm.in_pair());

    let three = ok(&router_with(&["    hosts: 3"]));
    assert!(!three.routers[0].fsm_config(ip("192.0.2.10")).in_pair());
    let unknown = ok(&router_with(&[]));
    assert_eq!(unknown.routers[0].hosts, None);
    assert!(!unknown.routers[0].fsm_config(ip("192.0.2.10")).in_pair());

    // Unicast with one peer is a pair without the key; with two it is not.
    let one_peer = ok(&router_with(&["    unicast: {peers: [192.0.2.11]}"]));
    assert!(one_peer.routers[0].fsm_config(ip("192.0.2.10")).in_pair());
    let two_peers = ok(&router_with(&[
        "    unicast: {peers: [192.0.2.11, 192.0.2.12]}",
        "    hosts: 3",
    ]));
    assert!(!two_peers.routers[0].fsm_config(ip("192.0.2.10")).in_pair());

    for bad in ["1", "0", "256", "-2"] {
        let d = one_error(&router_with(&[&format!("    hosts: {bad}")]));
        assert_diag(
            &d,
            6,
            12,
            "routers[0].hosts",
            &format!("hosts: {bad} is out of range"),
        );
        assert_help(&d, "2..=255");
    }
    let d = one_error(&router_with(&[
        "    unicast: {peers: [192.0.2.11, 192.0.2.12]}",
        "    hosts: 2",
    ]));
    assert_diag(
        &d,
        7,
        12,
        "routers[0].hosts",
        "hosts: 2 but unicast lists 2 peers (3 hosts with this one)",
    );
}

#[test]
fn unicast_max_hops_range_default_and_off_link_warning() {
    // Default 0: the RFC's same-link rule.
    let same_link = ok(&router_with(&["    unicast: {peers: [192.0.2.11]}"]));
    let unicast = same_link.routers[0].unicast.as_ref().unwrap();
    assert_eq!(unicast.max_hops, 0);
    assert_eq!(unicast.min_ttl(), 255);
    assert!(same_link.warnings.is_empty(), "{:#?}", same_link.warnings);

    let routed = ok(&router_with(&[
        "    unicast:",
        "      peers: [198.51.100.12]",
        "      max_hops: 1",
    ]));
    let unicast = routed.routers[0].unicast.as_ref().unwrap();
    assert_eq!((unicast.max_hops, unicast.min_ttl()), (1, 254));
    assert!(routed.warnings.is_empty(), "{:#?}", routed.warnings);

    let too_far = router_with(&[
        "    unicast:",
        "      peers: [198.51.100.12]",
        "      max_hops: 255",
    ]);
    let d = one_error(&too_far);
    assert_diag(
        &d,
        8,
        17,
        "routers[0].unicast.max_hops",
        "max_hops 255 is out of range 0..=254",
    );
    assert_help(&d, "up to N routers");
    assert_diag(
        &one_error(&router_with(&[
            "    unicast: {peers: [198.51.100.12], max_hops: -1}",
        ])),
        6,
        49,
        "routers[0].unicast.max_hops",
        "out of range",
    );

    // A peer outside the subnet of the router's addresses while max_hops is 0: a
    // warning at the peer, with the fix; a peer on it (or a routed setup) is fine.
    let off_link = ok(&router_with(&[
        "    unicast:",
        "      source: 192.0.2.10",
        "      peers: [192.0.2.11, 198.51.100.12]",
    ]));
    assert_eq!(off_link.warnings.len(), 1, "{:#?}", off_link.warnings);
    let w = &off_link.warnings[0];
    assert_diag(
        w,
        8,
        27,
        "routers[0].unicast.peers[1]",
        "peer 198.51.100.12 is not on this router's subnet (192.0.2.0/24)",
    );
    assert_help(w, "set `routers[0].unicast.max_hops`");
    // Host-length addresses say nothing about the subnet: no guess, the daemon checks.
    let unknown = ok(&yaml(&[
        "routers:",
        "  - name: web",
        "    interface: eth0",
        "    vrid: 51",
        "    addresses: [203.0.113.100/32]",
        "    unicast: {peers: [198.51.100.12]}",
    ]));
    assert!(unknown.warnings.is_empty(), "{:#?}", unknown.warnings);
}

#[test]
fn checksum_only_for_v3_ipv4() {
    let v2 = router_with(&["    version: 2", "    checksum: with-pseudo-header"]);
    let d = one_error(&v2);
    assert_diag(
        &d,
        7,
        15,
        "routers[0].checksum",
        "applies only to VRRPv3 over IPv4",
    );
    assert_help(&d, "VRRPv2");

    let v6 = yaml(&[
        "routers:",
        "  - name: web6",
        "    interface: eth0",
        "    vrid: 51",
        "    addresses: [\"2001:db8::1\"]",
        "    checksum: without-pseudo-header",
    ]);
    let d = one_error(&v6);
    assert_diag(
        &d,
        6,
        15,
        "routers[0].checksum",
        "applies only to VRRPv3 over IPv4",
    );
    assert_help(&d, "IPv6 always includes");
    // auto is fine everywhere
    ok(&router_with(&["    version: 2", "    checksum: auto"]));
}

#[test]
fn announce_ranges() {
    let text = router_with(&[
        "    announce:",
        "      burst: 0",
        "      burst_interval: 2s",
        "      repeat_after: 0s",
        "      refresh_every: 100ms",
    ]);
    let errors = errors(&text);
    assert_eq!(errors.len(), 4, "{errors:#?}");
    assert_diag(
        &errors[0],
        7,
        14,
        "routers[0].announce.burst",
        "out of range",
    );
    assert_diag(
        &errors[1],
        8,
        23,
        "routers[0].announce.burst_interval",
        "2s is longer than 1s",
    );
    assert_diag(
        &errors[2],
        9,
        21,
        "routers[0].announce.repeat_after",
        "not a valid period",
    );
    assert_help(&errors[2], "write off");
    assert_diag(
        &errors[3],
        10,
        22,
        "routers[0].announce.refresh_every",
        "100ms is shorter than 1s",
    );
}

#[test]
fn preempt_delay_limit() {
    let d = one_error(&router_with(&["    preempt_delay: 2h"]));
    assert_diag(
        &d,
        6,
        20,
        "routers[0].preempt_delay",
        "2h is longer than 1h",
    );
}

#[test]
fn no_routers() {
    let d = one_error("routers: []\n");
    assert_diag(&d, 1, 10, "routers", "no routers are configured");
}

#[test]
fn sync_group_rules() {
    let text = yaml(&[
        "routers:",
        "  - {name: web, interface: eth0, vrid: 1, addresses: [192.0.2.1]}",
        "  - {name: db, interface: eth0, vrid: 2, addresses: [192.0.2.2]}",
        "sync_groups:",
        "  - name: lb",
        "    routers: [web, dbb]",
        "  - name: lb",
        "    routers: [web, db, db]",
        "  - name: empty",
        "    routers: []",
    ]);
    let errors = errors(&text);
    assert_eq!(errors.len(), 5, "{errors:#?}");
    assert_diag(
        &errors[0],
        6,
        20,
        "sync_groups[0].routers[1]",
        "no router is named `dbb`",
    );
    assert_help(&errors[0], "did you mean `db`?");
    assert_help(&errors[0], "routers defined: web, db");
    assert_diag(
        &errors[1],
        7,
        11,
        "sync_groups[1].name",
        "sync group name `lb` is already used on line 5",
    );
    assert_diag(
        &errors[2],
        8,
        15,
        "sync_groups[1].routers[0]",
        "router `web` is already in sync group `lb` (line 6)",
    );
    assert_diag(
        &errors[3],
        8,
        24,
        "sync_groups[1].routers[2]",
        "listed twice in this group",
    );
    assert_diag(
        &errors[4],
        10,
        14,
        "sync_groups[2].routers",
        "needs routers",
    );
}

#[test]
fn sync_group_of_one_is_a_warning() {
    let config = ok(&router_with(&[
        "sync_groups:",
        "  - {name: lb, routers: [web]}",
    ]));
    assert_eq!(config.sync_groups[0].routers, ["web"]);
    assert_eq!(config.warnings.len(), 1);
    let w = &config.warnings[0];
    assert_eq!(w.severity, Severity::Warning);
    assert_diag(w, 7, 25, "sync_groups[0].routers", "no effect");
    assert!(
        w.to_string().contains(": warning: sync_groups[0].routers:"),
        "{w}"
    );
    let summary = config.summary();
    assert!(summary.contains("1 sync group (lb: web)"), "{summary}");
}

#[test]
fn warnings_for_settings_without_effect() {
    let config = ok(&router_with(&[
        "    priority: 255",
        "    preempt: false",
        "    preempt_delay: 10s",
    ]));
    let keys: Vec<&str> = config.warnings.iter().map(|w| w.key.as_str()).collect();
    assert_eq!(keys, ["routers[0].preempt", "routers[0].preempt_delay"]);

    let config = ok(&router_with(&[]).replace("192.0.2.100/24", "192.0.2.0/24"));
    assert_eq!(config.warnings.len(), 1);
    assert!(config.warnings[0].message.contains("network address"));
}

#[test]
fn all_semantic_errors_are_reported_in_file_order() {
    let text = yaml(&[
        "routers:",
        "  - name: web",
        "    interface: eth0",
        "    vrid: 0",
        "    priority: 0",
        "    advert_interval: 15ms",
        "    addresses: [192.0.2.100/24]",
        "  - name: db",
        "    interface: eth0",
        "    vrid: 52",
        "    password: x",
        "    addresses: [192.0.2.200/24]",
    ]);
    let err = parse(&text).unwrap_err();
    let lines: Vec<u64> = err.diagnostics().iter().map(|d| d.line).collect();
    assert_eq!(lines, [4, 5, 6, 11]);
    let rendered = err.to_string();
    assert!(
        rendered.ends_with("/etc/floatip/floatip.yaml: 4 errors, configuration not loaded"),
        "{rendered}"
    );
}

// ------------------------------------------------------------------------------------
// Schema-level errors (from serde-saphyr): unknown keys, types, syntax
// ------------------------------------------------------------------------------------

#[test]
fn unknown_top_level_key() {
    let text = format!("globals:\n  x: 1\n{}", router_with(&[]));
    let d = one_error(&text);
    assert_diag(&d, 1, 1, "globals", "unknown key `globals`");
    assert_help(&d, "did you mean `global`?");
    assert_help(&d, "valid keys here: routers, sync_groups, checks, global");
}

#[test]
fn unknown_nested_key_suggests_the_closest() {
    let d = one_error(&router_with(&["    advert_intervl: 1s"]));
    assert_diag(
        &d,
        6,
        5,
        "routers[0].advert_intervl",
        "unknown key `advert_intervl`",
    );
    assert_help(&d, "did you mean `advert_interval`?");
    assert_help(&d, "valid keys here: name, interface, vrid");
    let rendered = d.to_string();
    assert!(
        rendered.contains("\n   6 |     advert_intervl: 1s\n     |     ^\n"),
        "{rendered}"
    );

    let d = one_error(&router_with(&["    announce: {burts: 2}"]));
    assert_diag(
        &d,
        6,
        16,
        "routers[0].announce.burts",
        "unknown key `burts`",
    );
    assert_help(&d, "did you mean `burst`?");
}

#[test]
fn unknown_key_in_an_address_map() {
    let text = router_with(&[]).replace(
        "[192.0.2.100/24]",
        "\n      - address: 192.0.2.100/24\n        devic: eth1",
    );
    let d = one_error(&text);
    assert_diag(
        &d,
        7,
        9,
        "routers[0].addresses[0].devic",
        "unknown key `devic`",
    );
    assert_help(&d, "did you mean `device`?");
}

#[test]
fn keepalived_key_names_are_translated() {
    let d = one_error(&router_with(&["    virtual_router_id: 51"]));
    assert_diag(&d, 6, 5, "routers[0].virtual_router_id", "unknown key");
    assert_help(&d, "keepalived's `virtual_router_id` is `vrid` here");
    let d = one_error(&router_with(&["    nopreempt: true"]));
    assert_help(&d, "`preempt: false`");
}

#[test]
fn missing_required_key() {
    let text = yaml(&[
        "routers:",
        "  - name: web",
        "    interface: eth0",
        "    addresses: [192.0.2.100/24]",
    ]);
    let d = one_error(&text);
    assert_diag(&d, 2, 5, "routers[0].vrid", "missing required key `vrid`");
    assert_help(&d, "1..=255");
}

#[test]
fn wrong_types() {
    let d = one_error(&router_with(&[]).replace("vrid: 51", "vrid: abc"));
    assert_diag(&d, 4, 11, "routers[0].vrid", "`abc` is not a whole number");
    assert_help(&d, "1..=255");

    let d = one_error(&router_with(&["    preempt: yes"]));
    assert_diag(&d, 6, 14, "routers[0].preempt", "`yes` is not a boolean");
    assert_help(&d, "true or false");

    let d = one_error(&router_with(&[]).replace("[192.0.2.100/24]", "[[192.0.2.1]]"));
    assert_diag(&d, 5, 17, "routers[0].addresses[0]", "expected an address");
    assert_help(&d, "a list of virtual addresses");

    let d = one_error("routers: web\n");
    assert_diag(&d, 1, 10, "routers", "expected a list, found `web`");
}

#[test]
fn unknown_checksum_value() {
    let d = one_error(&router_with(&["    checksum: with-pseudo"]));
    assert_diag(
        &d,
        6,
        15,
        "routers[0].checksum",
        "`with-pseudo` is not a valid value",
    );
    assert_help(&d, "did you mean `with-pseudo-header`?");
    assert_help(
        &d,
        "valid values: auto, with-pseudo-header, without-pseudo-header",
    );
}

#[test]
fn yaml_syntax_error() {
    let text = yaml(&[
        "routers:",
        "  - name: web",
        "    interface: eth0",
        "    addresses: [192.0.2.100/24",
        "    vrid: 51",
    ]);
    let d = one_error(&text);
    assert!(d.line >= 4, "{d}");
    assert!(d.key.starts_with("routers[0].addresses"), "{d}");
    assert!(d.source_line.is_some(), "{d}");

    let d = one_error("routers:\n - name: a\n   vrid: 1\n  bad: 2\n");
    assert_eq!((d.line, d.column), (4, 3), "{d}");
    assert!(d.message.contains("did not find expected"), "{d}");
}

#[test]
fn duplicate_key() {
    let d = one_error(&router_with(&["    vrid: 52"]));
    assert_diag(&d, 6, 5, "routers[0].vrid", "duplicate key `vrid`");
}

#[test]
fn empty_file() {
    for text in ["", "# nothing yet\n"] {
        let err = parse(text).unwrap_err();
        let d = &err.diagnostics()[0];
        assert_eq!(d.message, "the file is empty", "{d}");
        assert_help(d, "routers:");
    }
}

// ------------------------------------------------------------------------------------
// Robustness: hostile files never panic
// ------------------------------------------------------------------------------------

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn never_panics_on_arbitrary_text(text in ".{0,400}") {
        let _ = parse(&text);
    }

    #[test]
    fn never_panics_on_a_mutated_example(
        at in 0usize..10_000,
        len in 0usize..40,
        insert in "[ -~\n]{0,20}",
    ) {
        let example = std::fs::read_to_string(example_path()).unwrap();
        let chars: Vec<char> = example.chars().collect();
        let start = at % chars.len();
        let end = (start + len).min(chars.len());
        let mutated: String = chars[..start]
            .iter()
            .chain(insert.chars().collect::<Vec<_>>().iter())
            .chain(chars[end..].iter())
            .collect();
        if let Err(err) = parse(&mutated) {
            // Every diagnostic renders and names the file.
            for d in err.diagnostics() {
                prop_assert!(d.to_string().starts_with(FILE));
            }
        }
    }
}

#[test]
fn routers_can_share_settings_with_a_merge_key() {
    let config = ok(&yaml(&[
        "routers:",
        "  - &base",
        "    name: web",
        "    interface: eth0",
        "    vrid: 51",
        "    priority: 150",
        "    advert_interval: 100ms",
        "    addresses: [192.0.2.100/24]",
        "  - <<: *base",
        "    name: db",
        "    vrid: 52",
        "    addresses: [192.0.2.200/24]",
    ]));
    let db = config.router("db").unwrap();
    assert_eq!(db.priority, 150);
    assert_eq!(db.advert_interval, Centisecs(10));
    assert_eq!(db.vrid, 52);
    assert_eq!(db.virtual_ips(), [ip("192.0.2.200")]);
}

#[test]
fn byte_order_mark_and_crlf_are_accepted() {
    let text = format!("\u{feff}{}", router_with(&[]).replace('\n', "\r\n"));
    ok(&text);
    let d = one_error(&router_with(&["    priority: 0"]).replace('\n', "\r\n"));
    assert_eq!((d.line, d.column), (6, 15));
    assert_eq!(d.source_line.as_deref(), Some("    priority: 0"));
}

#[test]
fn deep_nesting_is_refused_quickly() {
    let depth = 100_000;
    let text = format!("routers: {}{}\n", "[".repeat(depth), "]".repeat(depth));
    let started = std::time::Instant::now();
    let err = parse(&text).unwrap_err();
    assert_eq!(err.diagnostics().len(), 1);
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
}

/// Uncomment the block starting with the comment line `{indent}# {first}` and its
/// continuation lines (`{indent}#   ...`).
fn uncomment_block(text: &str, indent: &str, first: &str) -> String {
    let head = format!("{indent}# {first}");
    let continuation = format!("{indent}#   ");
    let mut out = Vec::new();
    let mut inside = false;
    let mut found = false;
    for line in text.lines() {
        if line == head {
            inside = true;
            found = true;
            out.push(format!("{indent}{first}"));
        } else if inside && line.starts_with(&continuation) {
            out.push(format!("{indent}{}", &line[indent.len() + 2..]));
        } else {
            inside = false;
            out.push(line.to_owned());
        }
    }
    assert!(found, "no line {head:?} in the example");
    out.join("\n") + "\n"
}

#[test]
fn commented_out_variants_in_the_example_are_valid() {
    let example = std::fs::read_to_string(example_path()).unwrap();
    let text = uncomment_block(&example, "  ", "- name: legacy");
    let text = uncomment_block(&text, "    ", "unicast:");
    let config = ok(&text);
    let legacy = config.router("legacy").unwrap();
    assert_eq!(legacy.version, Version::V2);
    assert_eq!(legacy.auth(), Auth::password("s3cret").unwrap());
    let web = config.router("web").unwrap();
    let unicast = web.unicast.as_ref().unwrap();
    assert_eq!(unicast.source, Some(ip("192.0.2.10")));
    assert_eq!(unicast.peers, [ip("192.0.2.11")]);
    assert_eq!(unicast.max_hops, 0);
}

#[test]
fn thousands_of_errors_on_one_long_line_stay_bounded() {
    // 4,000 duplicate addresses on one line: once 648 MB and 240 MB of output.
    let addresses = vec!["192.0.2.1"; 4000].join(",");
    let text = format!(
        "routers:\n  - name: web\n    interface: eth0\n    vrid: 51\n    addresses: [{addresses}]\n"
    );
    let err = floatip::config::parse(&text, Path::new("big.yaml")).unwrap_err();
    assert_eq!(err.diagnostics().len(), floatip::config::MAX_DIAGNOSTICS);
    let rendered = err.to_string();
    assert!(
        rendered.len() < 64 * 1024,
        "{} bytes of report",
        rendered.len()
    );
    assert!(rendered.contains("more errors not shown"), "{rendered}");
    assert!(
        err.diagnostics().iter().all(|d| d.source_line.is_none()),
        "a 40 kB line is not echoed under each error"
    );
}

#[test]
fn load_refuses_a_file_larger_than_a_mebibyte() {
    let dir = std::env::temp_dir().join(format!("floatip-big-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("huge.yaml");
    let filler = "#".repeat(1 << 20);
    std::fs::write(&path, format!("{filler}\nrouters: []\n")).unwrap();
    let err = floatip::config::load(&path).unwrap_err();
    std::fs::remove_dir_all(&dir).unwrap();
    assert!(
        err.to_string().contains("larger than 1048576 bytes"),
        "{err}"
    );
}
