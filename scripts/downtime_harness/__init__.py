"""Downtime harness: how long clients lose a floating IP when its load balancer fails.

    sudo scripts/downtime --demo                      # two floatip nodes, narrated
    sudo scripts/downtime --daemon both --trials 10 --interval 1s,100ms
    scripts/downtime --self-test                      # parsers and statistics, no root

Method (after the published keepalived measurement this project starts from: fping at
1 ms against the VIP while the active load balancer fails, 1,787 ms mean over 50
trials): every trial builds a fresh topology of network namespaces on one bridge:

    client 192.0.2.50 --+
    lb1    192.0.2.11 --+  (HAProxy, VRRP priority 150)
    lb2    192.0.2.12 --+-- bridge    VIP 192.0.2.100, vrid 51, VRRPv3
    [lb3   192.0.2.13 --+] (HAProxy, priority 50, with --lbs 3)
    be     192.0.2.20 --+  (the backend: an HAProxy answering 200)

Each LB's HAProxy listens on :80 and forwards to the backend. The chosen daemon
(floatip or keepalived, same vrid, priorities and advert interval, VRRPv3) runs on
each LB. Once lb1 holds the VIP, the client probes it with
`fping -p 1 -i 1 -t 50 -D -l` (ICMP) and with an HTTP GET through the VIP every 5 ms
(service). After a steady second and a uniformly random delay within one advert
interval (so the failure lands at a random point of the advertisement cycle) one
failure is injected on the master:

    crash     SIGKILL of the daemon (its whole process group) and link down
    link      link down only (the daemon lives on, cut off)
    graceful  SIGTERM of the daemon
    haproxy   SIGKILL of the master's HAProxy (needs health checks in the daemon)
    drain     `1` written to the drain file (weight -100)
    failback  lb1's daemon is started while lb2 holds the VIP (lb1 preempts)

Downtime of a trial = the longest run of lost probes that ends after the injection, in
ms of sending time: (send time of the first answered probe after the run - send time of
the last one before it) - one probe period. A late answer is not a loss, so a trial
without a lost probe measures 0. A trial counts only if every probe of the second before
the injection was answered; otherwise it is discarded and retried (at most
--max-discards times a cell).

The client also captures the adverts (tcpdump). For crash and link that gives the phase
of each failure (the old master's last advert) and so what RFC 9568 allows for that very
trial: `excess` = measured outage - (last advert + master_down - start of the outage).
The bound printed for floatip is the worst case over phases (3 x interval + skew of lb2
for crash and link, skew for haproxy, 0 for graceful, drain and failback); with random
injection a crash loses between bound - interval and bound.

keepalived gets the same vrid, priorities, VRRPv3 and advert_int; otherwise its defaults
(5 gratuitous ARPs, no real-time scheduling). It is started with --namespace (not inside
`ip netns exec`, where its process-event listener fails), so vrrp_track_process sees
HAProxy die at once, as floatip's pidfd check does; its vrrp_script alternative
(--keepalived-haproxy-check script) cannot poll faster than once a second.

Results go to --out (default ./downtime-results/<UTC time>/): trials.jsonl (one line
per trial, discarded ones included), summary.json, one SVG per scenario, and logs/.
Everything the harness creates (namespaces fdt<pid>-*, processes, files in a temp dir)
is removed on every path: normal end, error, Ctrl-C, SIGTERM, and --max-time.

Exit status: 0 done; 1 some requested scenario x daemon has no counted trial (e.g. the
daemon refuses its configuration: floatip before health checks), a counted trial's
clients never got the VIP back, or floatip exited non-zero when stopped; 2 not root or a
tool missing; 3 stopped early (signal or --max-time), with the table of what was measured.

Python 3 standard library only. Needs root, iproute2, fping, haproxy, tcpdump, and
keepalived for --daemon keepalived|both.

The package, one job a module (scripts/downtime is only the entry point):

    common       addresses, priorities, scenarios, run id, durations, errors
    protocol     RFC 9568 timers: skew, master_down, the bounds a trial is held to
    stats        min/median/p95/max/mean of a cell
    measurement  parsing fping, HTTP probe, tcpdump and floatip output; outages
    daemons      floatip YAML and keepalived.conf, their checks, how each is started
    lab          namespaces, veth, bridge, HAProxy, processes, VIP holders, teardown
    http_probe   the HTTP client run in the client namespace (--http-probe)
    trial        one trial: build, probe, inject, measure, tear down
    report       tables, narration, summary.json, footnotes
    plot         the SVG strip plots
    run          preflight, the floatip binary, cells and retries, exit status
    cli          argument parsing, --self-test, main
    tests/       unit tests of the pure parts (python3 -m unittest discover -s scripts)

This package owns the harness's logic; it must not leave anything behind on the host
(see Lab) nor send traffic outside the namespaces it creates.
"""
