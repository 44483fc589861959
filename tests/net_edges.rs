//! The network edges (`floatip::net`) against a real kernel, in network namespaces.
//!
//! Every test builds its own topology with the shared kit (`tests/netns/`): nodes `a`
//! (192.0.2.11/24) and `b` (192.0.2.12/24) on one LAN, the interface called `eth0` in
//! both, torn down on drop, also when the test panics. Objects that must live in a
//! namespace (sockets, netlink connections) are created inside [`in_netns`], on a thread
//! that has entered it, and then used from the test's own tokio runtime
//! ([`netns::edge`]): a socket stays in the namespace it was created in, whichever thread
//! uses it.
//!
//! These tests need root. Without it they fail with a message saying so; they never pass
//! silently.

mod netns;

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use futures::StreamExt;

use floatip::net::{
    Announcer, Malformed, Mode, NetError, NetEvent, Netlink, RECV_BUFFER_LEN, RecvError, VrrpSocket,
};
use floatip::proto::arp::gratuitous_arp;
use floatip::proto::ndisc::unsolicited_na;
use floatip::proto::packet::{
    Advertisement, Auth, ChecksumForm, DecodeOptions, EncodeCtx, Family, RecvMeta, VRRP_GROUP_V4,
    VRRP_GROUP_V6, Version, decode, encode,
};
use floatip::proto::timers::Centisecs;

use netns::edge::{DEADLINE, FrameCapture, poll_until, runtime, within};
use netns::{Topology, in_netns, sysctl};

const A_V4: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 11);
const B_V4: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 12);
const VIP_V4: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 100);
const VIP_V6: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 0x100);
const IFACE: &str = "eth0";

/// Nodes `a` (192.0.2.11) and `b` (192.0.2.12) on one LAN. `dad`: whether IPv6
/// duplicate address detection runs on their interfaces. Tests that do not examine DAD
/// turn it off so the link-local addresses are usable at once.
fn pair(dad: bool) -> Topology {
    let topo = Topology::builder("edges")
        .node("a", 11)
        .node("b", 12)
        .dad(dad)
        .build();
    assert_eq!(topo.node("a").ip4(), A_V4);
    assert_eq!(topo.node("b").ip4(), B_V4);
    topo
}

fn advert(version: Version, addresses: Vec<IpAddr>) -> Advertisement {
    Advertisement {
        version,
        vrid: 51,
        priority: 150,
        interval: Centisecs(100),
        addresses,
        auth: Auth::None,
    }
}

async fn recv_one(socket: &VrrpSocket) -> (Vec<u8>, RecvMeta) {
    let mut buf = vec![0u8; RECV_BUFFER_LEN];
    let (len, meta) = socket
        .recv(&mut buf)
        .await
        .unwrap_or_else(|error| panic!("receive on {}: {error}", socket.iface()));
    buf.truncate(len);
    (buf, meta)
}

/// The (DAD-complete) link-local addresses of `eth0` in `a` and in `b`.
fn link_locals(topo: &Topology, rt: &tokio::runtime::Runtime) -> (Ipv6Addr, Ipv6Addr) {
    let handle = rt.handle().clone();
    let mut found = Vec::new();
    for node in [topo.node("a"), topo.node("b")] {
        let netlink = in_netns(&node.ns, || {
            let _runtime = handle.enter();
            Netlink::new().expect("netlink")
        });
        let addr = rt.block_on(async {
            let index = netlink.link_index(IFACE).await.expect("eth0");
            poll_until("link-local address", || async {
                netlink.primary_address(index, Family::V6, &[]).await.ok()
            })
            .await
        });
        match addr {
            IpAddr::V6(v6) if v6.is_unicast_link_local() => found.push(v6),
            other => panic!(
                "primary IPv6 address {other} in {} is not link-local",
                node.ns
            ),
        }
    }
    (found[0], found[1])
}

// ---------------------------------------------------------------------------------------
// Advertisements
// ---------------------------------------------------------------------------------------

#[test]
fn ipv4_multicast_advert_arrives_with_ttl_255_tos_c0_and_decodes() {
    let topo = pair(false);
    let (a, b) = (topo.node("a"), topo.node("b"));
    let rt = runtime();
    let handle = rt.handle().clone();
    let (socket_a, index_a) = in_netns(&a.ns, || {
        let _runtime = handle.enter();
        let socket = VrrpSocket::open(IFACE, Family::V4, IpAddr::V4(A_V4), Mode::Multicast)
            .expect("VRRP socket in a");
        let index = socket.ifindex();
        (socket, index)
    });
    let (socket_b, capture_b) = in_netns(&b.ns, || {
        let _runtime = handle.enter();
        let socket = VrrpSocket::open(IFACE, Family::V4, IpAddr::V4(B_V4), Mode::Multicast)
            .expect("VRRP socket in b");
        (socket, FrameCapture::new(libc::ETH_P_IP as u16))
    });
    let sent = advert(Version::V3, vec![IpAddr::V4(VIP_V4)]);

    rt.block_on(async {
        let ctx = EncodeCtx {
            src: socket_a.source(),
            dst: socket_a.group(),
            checksum_form: ChecksumForm::WithPseudoHeader,
        };
        let bytes = encode(&sent, &ctx).expect("encode");
        socket_a
            .send_to(&bytes, socket_a.group())
            .await
            .expect("send from a");

        let (received, meta) = within("advert in b", recv_one(&socket_b)).await;
        assert_eq!(meta.src, IpAddr::V4(A_V4));
        assert_eq!(meta.dst, IpAddr::V4(VRRP_GROUP_V4));
        assert_eq!(meta.ttl, 255);
        assert_eq!(meta.ifindex, socket_b.ifindex());
        assert_eq!(received, bytes, "the IP header is stripped, nothing else");
        let decoded = decode(&received, &meta, &DecodeOptions::default()).expect("decodes");
        assert_eq!(decoded.advert, sent);
        assert_eq!(decoded.checksum_form, ChecksumForm::WithPseudoHeader);

        // Multicast loop is off: the first thing `a` hears is `b`'s answer, not its own
        // advertisement.
        let answer = encode(
            &advert(Version::V3, vec![IpAddr::V4(VIP_V4)]),
            &EncodeCtx {
                src: socket_b.source(),
                dst: socket_b.group(),
                checksum_form: ChecksumForm::WithPseudoHeader,
            },
        )
        .expect("encode");
        socket_b
            .send_to(&answer, socket_b.group())
            .await
            .expect("send from b");
        let (_, meta_a) = within("answer in a", recv_one(&socket_a)).await;
        assert_eq!(meta_a.src, IpAddr::V4(B_V4), "a heard itself");
        assert_eq!(meta_a.ifindex, index_a);
    });

    // On the wire: TOS 0xc0 and TTL 255 in the IPv4 header (bytes 14 + 1 and 14 + 8).
    let frame = in_netns(&b.ns, || {
        capture_b.expect("IPv4 VRRP frame from a", |frame| {
            frame.len() > 34 && frame[14 + 9] == 112 && frame[14 + 12..14 + 16] == A_V4.octets()
        })
    });
    assert_eq!(frame[14 + 1], 0xc0, "TOS");
    assert_eq!(frame[14 + 8], 255, "TTL");
    assert_eq!(
        frame[14 + 16..14 + 20],
        VRRP_GROUP_V4.octets(),
        "destination"
    );
}

#[test]
fn ipv4_unicast_advert_reaches_the_peer_and_not_the_group_socket_only() {
    let topo = pair(false);
    let (a, b) = (topo.node("a"), topo.node("b"));
    let rt = runtime();
    let handle = rt.handle().clone();
    let (multicast_a, unicast_a) = in_netns(&a.ns, || {
        let _runtime = handle.enter();
        (
            VrrpSocket::open(IFACE, Family::V4, IpAddr::V4(A_V4), Mode::Multicast)
                .expect("multicast socket in a"),
            VrrpSocket::open(IFACE, Family::V4, IpAddr::V4(A_V4), Mode::Unicast)
                .expect("unicast socket in a"),
        )
    });
    // `b` has a group member too: with IP_MULTICAST_ALL left on, the unicast socket
    // would receive the group's traffic because of it.
    let (_multicast_b, unicast_b) = in_netns(&b.ns, || {
        let _runtime = handle.enter();
        (
            VrrpSocket::open(IFACE, Family::V4, IpAddr::V4(B_V4), Mode::Multicast)
                .expect("multicast socket in b"),
            VrrpSocket::open(IFACE, Family::V4, IpAddr::V4(B_V4), Mode::Unicast)
                .expect("unicast socket in b"),
        )
    });
    let sent = advert(Version::V3, vec![IpAddr::V4(VIP_V4)]);

    rt.block_on(async {
        let group = multicast_a.group();
        let to_group = encode(
            &sent,
            &EncodeCtx {
                src: IpAddr::V4(A_V4),
                dst: group,
                checksum_form: ChecksumForm::WithPseudoHeader,
            },
        )
        .expect("encode");
        multicast_a
            .send_to(&to_group, group)
            .await
            .expect("multicast send");

        let peer = IpAddr::V4(B_V4);
        let to_peer = encode(
            &sent,
            &EncodeCtx {
                src: unicast_a.source(),
                dst: peer,
                checksum_form: ChecksumForm::WithoutPseudoHeader,
            },
        )
        .expect("encode");
        unicast_a
            .send_to(&to_peer, peer)
            .await
            .expect("unicast send");

        let (received, meta) = within("unicast advert in b", recv_one(&unicast_b)).await;
        assert_eq!(
            meta.dst, peer,
            "the unicast socket's first packet is the unicast one, not the group's"
        );
        assert_eq!(meta.src, IpAddr::V4(A_V4));
        assert_eq!(meta.ttl, 255, "IP_TTL 255 applies to unicast sends");
        let decoded = decode(&received, &meta, &DecodeOptions::default()).expect("decodes");
        assert_eq!(decoded.advert, sent);
        assert_eq!(decoded.checksum_form, ChecksumForm::WithoutPseudoHeader);

        // A packet larger than the caller's buffer is reported, not cut short or panicked
        // on, and the socket carries on.
        unicast_a
            .send_to(&to_peer, peer)
            .await
            .expect("unicast send");
        let mut small = [0u8; 16];
        let error = within("truncated advert", unicast_b.recv(&mut small))
            .await
            .expect_err("36 bytes do not fit in 16");
        match error {
            RecvError::Malformed {
                reason: Malformed::Truncated { len, buffer },
                ..
            } => assert_eq!((len, buffer), (20 + to_peer.len(), 16)),
            other => panic!("expected Truncated, got {other:?}"),
        }
        unicast_a
            .send_to(&to_peer, peer)
            .await
            .expect("unicast send");
        let (again, _) = within("advert after the truncated one", recv_one(&unicast_b)).await;
        assert_eq!(again, to_peer);
    });
}

#[test]
fn ipv6_multicast_advert_comes_from_the_link_local_with_hop_limit_255() {
    let topo = pair(false);
    let (a, b) = (topo.node("a"), topo.node("b"));
    let rt = runtime();
    let handle = rt.handle().clone();
    let (link_local_a_v6, link_local_b_v6) = link_locals(&topo, &rt);
    let link_local_a = IpAddr::V6(link_local_a_v6);
    let link_local_b = IpAddr::V6(link_local_b_v6);

    let socket_a = in_netns(&a.ns, || {
        let _runtime = handle.enter();
        VrrpSocket::open(IFACE, Family::V6, link_local_a, Mode::Multicast).expect("socket in a")
    });
    let (socket_b, capture_b) = in_netns(&b.ns, || {
        let _runtime = handle.enter();
        (
            VrrpSocket::open(IFACE, Family::V6, link_local_b, Mode::Multicast)
                .expect("socket in b"),
            FrameCapture::new(libc::ETH_P_IPV6 as u16),
        )
    });
    let sent = advert(Version::V3, vec![IpAddr::V6(VIP_V6)]);

    rt.block_on(async {
        let bytes = encode(
            &sent,
            &EncodeCtx {
                src: socket_a.source(),
                dst: socket_a.group(),
                checksum_form: ChecksumForm::WithPseudoHeader,
            },
        )
        .expect("encode");
        socket_a
            .send_to(&bytes, socket_a.group())
            .await
            .expect("send from a");
        let (received, meta) = within("IPv6 advert in b", recv_one(&socket_b)).await;
        assert_eq!(meta.src, link_local_a, "source is a's link-local");
        assert_eq!(meta.dst, IpAddr::V6(VRRP_GROUP_V6));
        assert_eq!(meta.ttl, 255, "hop limit");
        assert_eq!(meta.ifindex, socket_b.ifindex());
        let decoded = decode(&received, &meta, &DecodeOptions::default()).expect("decodes");
        assert_eq!(decoded.advert, sent);
    });

    // On the wire: traffic class 0xc0, hop limit 255, next header 112.
    let frame = in_netns(&b.ns, || {
        capture_b.expect("IPv6 VRRP frame from a", |frame| {
            frame.len() > 54
                && frame[14 + 6] == 112
                && frame[14 + 8..14 + 24] == link_local_a_v6.octets()
        })
    });
    let traffic_class = (frame[14] & 0x0f) << 4 | frame[15] >> 4;
    assert_eq!(traffic_class, 0xc0, "traffic class");
    assert_eq!(frame[14 + 7], 255, "hop limit");
    assert_eq!(
        frame[14 + 24..14 + 40],
        VRRP_GROUP_V6.octets(),
        "destination"
    );
}

#[test]
fn ipv6_unicast_advert_reaches_the_peer_link_local_and_not_the_group_socket_only() {
    let topo = pair(false);
    let (a, b) = (topo.node("a"), topo.node("b"));
    let rt = runtime();
    let (link_local_a, link_local_b) = link_locals(&topo, &rt);
    let handle = rt.handle().clone();
    let (multicast_a, unicast_a) = in_netns(&a.ns, || {
        let _runtime = handle.enter();
        let source = IpAddr::V6(link_local_a);
        (
            VrrpSocket::open(IFACE, Family::V6, source, Mode::Multicast).expect("multicast in a"),
            VrrpSocket::open(IFACE, Family::V6, source, Mode::Unicast).expect("unicast in a"),
        )
    });
    let (_multicast_b, unicast_b) = in_netns(&b.ns, || {
        let _runtime = handle.enter();
        let source = IpAddr::V6(link_local_b);
        (
            VrrpSocket::open(IFACE, Family::V6, source, Mode::Multicast).expect("multicast in b"),
            VrrpSocket::open(IFACE, Family::V6, source, Mode::Unicast).expect("unicast in b"),
        )
    });
    let sent = advert(Version::V3, vec![IpAddr::V6(VIP_V6)]);

    rt.block_on(async {
        for (socket, dst) in [
            (&multicast_a, multicast_a.group()),
            (&unicast_a, IpAddr::V6(link_local_b)),
        ] {
            let ctx = EncodeCtx {
                src: socket.source(),
                dst,
                checksum_form: ChecksumForm::WithPseudoHeader,
            };
            let bytes = encode(&sent, &ctx).expect("encode");
            socket.send_to(&bytes, dst).await.expect("send from a");
        }
        let (received, meta) = within("unicast IPv6 advert in b", recv_one(&unicast_b)).await;
        assert_eq!(
            meta.dst,
            IpAddr::V6(link_local_b),
            "the unicast socket's first packet is the unicast one, not the group's"
        );
        assert_eq!(meta.src, IpAddr::V6(link_local_a));
        assert_eq!(
            meta.ttl, 255,
            "IPV6_UNICAST_HOPS 255 applies to unicast sends"
        );
        let decoded = decode(&received, &meta, &DecodeOptions::default()).expect("decodes");
        assert_eq!(decoded.advert, sent);
    });
}

/// What the daemon takes before acting on an expired timer: packets already queued on
/// the socket, read without waiting, each with the kernel's receive time (SO_TIMESTAMPNS),
/// in order; then nothing, at once.
#[test]
fn queued_packets_are_taken_without_waiting_with_the_kernel_receive_time() {
    let topo = pair(false);
    let (a, b) = (topo.node("a"), topo.node("b"));
    let rt = runtime();
    let handle = rt.handle().clone();
    let (link_local_a, link_local_b) = link_locals(&topo, &rt);
    let sockets_a = in_netns(&a.ns, || {
        let _runtime = handle.enter();
        [
            VrrpSocket::open(IFACE, Family::V4, IpAddr::V4(A_V4), Mode::Multicast),
            VrrpSocket::open(IFACE, Family::V6, IpAddr::V6(link_local_a), Mode::Multicast),
        ]
        .map(|socket| socket.expect("VRRP socket in a"))
    });
    let sockets_b = in_netns(&b.ns, || {
        let _runtime = handle.enter();
        [
            VrrpSocket::open(IFACE, Family::V4, IpAddr::V4(B_V4), Mode::Multicast),
            VrrpSocket::open(IFACE, Family::V6, IpAddr::V6(link_local_b), Mode::Multicast),
        ]
        .map(|socket| socket.expect("VRRP socket in b"))
    });
    for (socket_a, socket_b) in sockets_a.iter().zip(&sockets_b) {
        let vip = match socket_a.family() {
            Family::V4 => IpAddr::V4(VIP_V4),
            Family::V6 => IpAddr::V6(VIP_V6),
        };
        let mut buf = vec![0u8; RECV_BUFFER_LEN];
        assert_eq!(
            socket_b.try_recv(&mut buf).expect("empty socket"),
            None,
            "nothing queued yet"
        );
        let before = std::time::SystemTime::now();
        rt.block_on(async {
            for priority in [101, 102, 103] {
                let mut sent = advert(Version::V3, vec![vip]);
                sent.priority = priority;
                let ctx = EncodeCtx {
                    src: socket_a.source(),
                    dst: socket_a.group(),
                    checksum_form: ChecksumForm::WithPseudoHeader,
                };
                let bytes = encode(&sent, &ctx).expect("encode");
                socket_a
                    .send_to(&bytes, socket_a.group())
                    .await
                    .expect("send from a");
            }
        });
        let mut taken = Vec::new();
        let start = std::time::Instant::now();
        while taken.len() < 3 {
            assert!(
                start.elapsed() < DEADLINE,
                "only {} of 3 adverts queued",
                taken.len()
            );
            match socket_b.try_recv(&mut buf).expect("receive") {
                Some(datagram) => {
                    let message = buf[..datagram.len].to_vec();
                    let decoded = decode(&message, &datagram.meta, &DecodeOptions::default())
                        .expect("decodes");
                    taken.push((decoded.advert.priority, datagram.kernel_time));
                }
                None => std::thread::sleep(std::time::Duration::from_millis(1)),
            }
        }
        let after = std::time::SystemTime::now();
        assert_eq!(
            taken.iter().map(|(p, _)| *p).collect::<Vec<_>>(),
            [101, 102, 103],
            "{:?}: in the order sent",
            socket_a.family()
        );
        let times: Vec<_> = taken
            .iter()
            .map(|(_, t)| t.expect("a kernel receive time"))
            .collect();
        assert!(
            times.windows(2).all(|w| w[0] <= w[1]),
            "receive times in order: {times:?}"
        );
        assert!(
            times[0] >= before && times[2] <= after,
            "receive times {times:?} between the send ({before:?}) and the read ({after:?})"
        );
        assert_eq!(socket_b.try_recv(&mut buf).expect("drained"), None);
    }
}

#[test]
fn sources_we_do_not_own_and_tentative_link_locals_are_refused() {
    let topo = pair(true);
    let a = topo.node("a");
    // Restart a's interface with DAD made to last ~50 s, so its new link-local stays
    // tentative for the whole test.
    a.ip(&["link", "set", "dev", IFACE, "down"]);
    sysctl(
        &a.ns,
        &[(&format!("net/ipv6/conf/{IFACE}/dad_transmits"), "50")],
    );
    a.ip(&["link", "set", "dev", IFACE, "up"]);
    let rt = runtime();
    let handle = rt.handle().clone();
    let netlink = in_netns(&a.ns, || {
        let _runtime = handle.enter();
        Netlink::new().expect("netlink in a")
    });
    let (index, tentative) = rt.block_on(async {
        let index = netlink.link_index(IFACE).await.expect("eth0 in a");
        let tentative = poll_until("a tentative link-local in a", || async {
            let entries = netlink.address_entries(index, Family::V6).await.ok()?;
            entries.into_iter().find(|entry| match entry.addr {
                IpAddr::V6(v6) => v6.is_unicast_link_local() && entry.tentative,
                IpAddr::V4(_) => false,
            })
        })
        .await;
        let refused = netlink
            .primary_address(index, Family::V6, &[])
            .await
            .expect_err("only a tentative link-local");
        assert!(
            matches!(refused, NetError::NoAddress { .. })
                && refused.to_string().contains("tentative"),
            "{refused}"
        );
        (index, tentative.addr)
    });

    let (foreign, from_tentative) = in_netns(&a.ns, || {
        let _runtime = handle.enter();
        (
            VrrpSocket::open(
                IFACE,
                Family::V4,
                IpAddr::V4(Ipv4Addr::new(192, 0, 2, 77)),
                Mode::Multicast,
            )
            .expect("socket with a foreign source"),
            VrrpSocket::open(IFACE, Family::V6, tentative, Mode::Multicast)
                .expect("socket with a tentative source"),
        )
    });
    assert_eq!(foreign.ifindex(), index);
    rt.block_on(async {
        let bytes = [0u8; 16];
        let error = foreign
            .send_to(&bytes, foreign.group())
            .await
            .expect_err("192.0.2.77 is not ours");
        assert!(matches!(error, NetError::Send { .. }), "{error:?}");
        let text = error.to_string();
        assert!(
            text.contains("192.0.2.77") && text.contains(IFACE),
            "{text}"
        );
        let error = from_tentative
            .send_to(&bytes, from_tentative.group())
            .await
            .expect_err("a tentative source");
        assert!(matches!(error, NetError::Send { .. }), "{error:?}");
    });
}

#[test]
fn opening_on_a_missing_interface_or_sending_across_families_is_an_error() {
    let rt = runtime();
    let _runtime = rt.enter();
    let missing = VrrpSocket::open(
        "floatip-nope0",
        Family::V4,
        IpAddr::V4(A_V4),
        Mode::Multicast,
    )
    .expect_err("no such interface");
    assert!(
        matches!(missing, NetError::NoSuchInterface { .. }),
        "{missing:?}"
    );
    assert!(missing.to_string().contains("floatip-nope0"), "{missing}");

    let wrong = VrrpSocket::open("lo", Family::V4, IpAddr::V6(VIP_V6), Mode::Unicast)
        .expect_err("IPv6 source on an IPv4 socket");
    assert!(matches!(wrong, NetError::WrongFamily { .. }), "{wrong:?}");
}

// ---------------------------------------------------------------------------------------
// Addresses and links
// ---------------------------------------------------------------------------------------

#[test]
fn vips_are_added_and_removed_idempotently_and_ipv6_ones_are_not_tentative() {
    // DAD stays on: the IPv6 VIP must still be usable at once, thanks to NODAD.
    let topo = pair(true);
    let a = topo.node("a");
    let rt = runtime();
    let handle = rt.handle().clone();
    let netlink = in_netns(&a.ns, || {
        let _runtime = handle.enter();
        Netlink::new().expect("netlink in a")
    });

    rt.block_on(async {
        let index = netlink.link_index(IFACE).await.expect("eth0 in a");
        let missing = netlink.link_index("nope0").await.expect_err("no nope0");
        assert!(
            matches!(missing, NetError::LinkNotFound { .. }),
            "{missing:?}"
        );
        assert!(netlink.link_is_up(index).await.expect("link state"));
        let mac = netlink.link_mac(index).await.expect("mac");
        let shown = a.ip(&["-o", "link", "show", "dev", IFACE]);
        let mac_text = mac
            .iter()
            .map(|byte| format!("{byte:02x}"))
            .collect::<Vec<_>>()
            .join(":");
        assert!(shown.contains(&mac_text), "{mac_text} not in {shown}");

        for _ in 0..2 {
            netlink
                .add_address(index, IpAddr::V4(VIP_V4), 24, Some("eth0:vip"))
                .await
                .expect("add IPv4 VIP (again)");
            netlink
                .add_address(index, IpAddr::V6(VIP_V6), 64, None)
                .await
                .expect("add IPv6 VIP (again)");
        }

        let v4 = a.ip(&["-o", "-4", "addr", "show", "dev", IFACE]);
        let vip_line = v4
            .lines()
            .find(|line| line.contains("192.0.2.100/24"))
            .unwrap_or_else(|| panic!("192.0.2.100/24 missing:\n{v4}"));
        assert!(vip_line.contains("eth0:vip"), "label: {vip_line}");
        assert!(
            vip_line.contains("secondary"),
            "same subnet as {A_V4}: {vip_line}"
        );
        let v6 = a.ip(&["-o", "-6", "addr", "show", "dev", IFACE]);
        let vip6_line = v6
            .lines()
            .find(|line| line.contains("2001:db8::100/64"))
            .unwrap_or_else(|| panic!("2001:db8::100/64 missing:\n{v6}"));
        assert!(!vip6_line.contains("tentative"), "{vip6_line}");
        assert!(vip6_line.contains("nodad"), "{vip6_line}");

        let entries = netlink
            .address_entries(index, Family::V6)
            .await
            .expect("IPv6 addresses");
        let entry = entries
            .iter()
            .find(|entry| entry.addr == IpAddr::V6(VIP_V6))
            .expect("VIP in the netlink dump");
        assert!(
            !entry.tentative && entry.nodad && entry.prefix_len == 64,
            "{entry:?}"
        );
        let v4_addresses = netlink
            .addresses(index, Family::V4)
            .await
            .expect("IPv4 addresses");
        assert_eq!(
            v4_addresses,
            vec![(IpAddr::V4(A_V4), 24), (IpAddr::V4(VIP_V4), 24)]
        );

        // The VRRP source: the primary, never the VIP, whatever the exclusions.
        let vip_elsewhere = IpAddr::V4(Ipv4Addr::new(198, 51, 100, 10));
        netlink
            .add_address(index, vip_elsewhere, 32, None)
            .await
            .expect("VIP in another subnet");
        for exclude in [&[][..], &[IpAddr::V4(VIP_V4), vip_elsewhere][..]] {
            assert_eq!(
                netlink
                    .primary_address(index, Family::V4, exclude)
                    .await
                    .expect("primary"),
                IpAddr::V4(A_V4)
            );
        }
        let none = netlink
            .primary_address(index, Family::V4, &[IpAddr::V4(A_V4), vip_elsewhere])
            .await
            .expect_err("everything excluded");
        assert!(matches!(none, NetError::NoAddress { .. }), "{none:?}");

        for _ in 0..2 {
            netlink
                .remove_address(index, IpAddr::V4(VIP_V4), 24)
                .await
                .expect("remove IPv4 VIP (again)");
            netlink
                .remove_address(index, IpAddr::V6(VIP_V6), 64)
                .await
                .expect("remove IPv6 VIP (again)");
            netlink
                .remove_address(index, vip_elsewhere, 32)
                .await
                .expect("remove the other VIP (again)");
        }
        let all = a.ip(&["-o", "addr", "show", "dev", IFACE]);
        for gone in ["192.0.2.100", "2001:db8::100", "198.51.100.10"] {
            assert!(!all.contains(gone), "{gone} still there:\n{all}");
        }
        assert!(
            all.contains(&format!("{A_V4}/24")),
            "the primary survived:\n{all}"
        );

        // Removing from an interface that does not exist is success (ENODEV).
        netlink
            .remove_address(999_999, IpAddr::V4(VIP_V4), 24)
            .await
            .expect("no such interface: nothing to remove");
        let invalid = netlink
            .add_address(index, IpAddr::V4(VIP_V4), 33, None)
            .await
            .expect_err("prefix 33");
        assert!(
            matches!(invalid, NetError::InvalidAddress { .. }),
            "{invalid:?}"
        );
    });
}

#[test]
fn watch_reports_address_changes_carrier_loss_and_link_down() {
    let topo = pair(false);
    let a = topo.node("a");
    let rt = runtime();
    let handle = rt.handle().clone();
    let (netlink, mut events) = in_netns(&a.ns, || {
        let _runtime = handle.enter();
        (
            Netlink::new().expect("netlink in a"),
            Netlink::watch().expect("watch in a"),
        )
    });

    rt.block_on(async {
        let index = netlink.link_index(IFACE).await.expect("eth0 in a");
        let mut next_matching = async |what: &str, wanted: &dyn Fn(&NetEvent) -> bool| {
            within(what, async {
                loop {
                    let event = events.next().await.expect("the watch stream ended");
                    if wanted(&event) {
                        return event;
                    }
                }
            })
            .await
        };

        let extra = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 50));
        a.ip(&["addr", "add", "192.0.2.50/24", "dev", IFACE]);
        next_matching("AddressAdded", &|event| {
            *event == NetEvent::AddressAdded { index, addr: extra }
        })
        .await;
        // An operator deletes an address behind our back.
        a.ip(&["addr", "del", "192.0.2.50/24", "dev", IFACE]);
        next_matching("AddressRemoved", &|event| {
            *event == NetEvent::AddressRemoved { index, addr: extra }
        })
        .await;

        // Carrier loss: the cable is pulled (a's switch port goes down), our side stays
        // administratively up.
        a.unplug(&topo, 0);
        next_matching("LinkChanged down on carrier loss", &|event| {
            *event == NetEvent::LinkChanged { index, up: false }
        })
        .await;
        assert!(!netlink.link_is_up(index).await.expect("link state"));

        a.plug(&topo, 0);
        next_matching("LinkChanged up", &|event| {
            *event == NetEvent::LinkChanged { index, up: true }
        })
        .await;
        assert!(netlink.link_is_up(index).await.expect("link state"));

        // Administrative down on our side.
        a.ip(&["link", "set", "dev", IFACE, "down"]);
        next_matching("LinkChanged down", &|event| {
            *event == NetEvent::LinkChanged { index, up: false }
        })
        .await;
        assert!(!netlink.link_is_up(index).await.expect("link state"));

        a.ip(&["link", "del", "dev", IFACE]);
        next_matching("LinkRemoved", &|event| {
            *event == NetEvent::LinkRemoved { index }
        })
        .await;
    });
}

// ---------------------------------------------------------------------------------------
// Announcements
// ---------------------------------------------------------------------------------------

#[test]
fn gratuitous_arp_and_unsolicited_na_reach_the_other_namespace_byte_for_byte() {
    let topo = pair(false);
    let (a, b) = (topo.node("a"), topo.node("b"));
    let rt = runtime();
    let handle = rt.handle().clone();
    let netlink = in_netns(&a.ns, || {
        let _runtime = handle.enter();
        Netlink::new().expect("netlink in a")
    });
    let (index, mac, link_local) = rt.block_on(async {
        let index = netlink.link_index(IFACE).await.expect("eth0 in a");
        let mac = netlink.link_mac(index).await.expect("mac of a");
        let link_local = poll_until("link-local address in a", || async {
            netlink.primary_address(index, Family::V6, &[]).await.ok()
        })
        .await;
        (index, mac, link_local)
    });
    let IpAddr::V6(link_local) = link_local else {
        panic!("{link_local} is not IPv6");
    };
    let garp = gratuitous_arp(mac, VIP_V4).to_vec();
    let na = unsolicited_na(mac, link_local, VIP_V6).to_vec();

    let (arp_capture, ipv6_capture) = in_netns(&b.ns, || {
        (
            FrameCapture::new(libc::ETH_P_ARP as u16),
            FrameCapture::new(libc::ETH_P_IPV6 as u16),
        )
    });
    let announcer = in_netns(&a.ns, || {
        let _runtime = handle.enter();
        Announcer::open(index).expect("AF_PACKET socket in a")
    });
    rt.block_on(async {
        announcer
            .send_frames(&[garp.clone(), na.clone()])
            .await
            .expect("send GARP and NA");
        let short = announcer
            .send_frames(&[vec![0u8; 10]])
            .await
            .expect_err("a 10-byte frame");
        assert!(matches!(short, NetError::BadFrame { .. }), "{short:?}");
    });

    let received_arp = in_netns(&b.ns, || {
        arp_capture.expect("gratuitous ARP for 192.0.2.100", |frame| {
            frame.len() >= garp.len() && frame[22..28] == mac && frame[28..32] == VIP_V4.octets()
        })
    });
    assert_eq!(
        received_arp[..garp.len()],
        garp[..],
        "the frame arrives as built"
    );
    let received_na = in_netns(&b.ns, || {
        ipv6_capture.expect("unsolicited NA for 2001:db8::100", |frame| {
            frame.len() >= na.len() && frame[54] == 136 && frame[62..78] == VIP_V6.octets()
        })
    });
    assert_eq!(
        received_na[..na.len()],
        na[..],
        "the frame arrives as built"
    );
}
