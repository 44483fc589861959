"""The daemons under test: floatip YAML and keepalived.conf for one LB (the same vrid,
priorities, VRRPv3 and advert interval for both), their configuration checks, and how
each daemon is started in the lab.

Config generation is pure; must not decide scenarios or measure anything."""

import os
import subprocess

from .common import LB_PRIO, PREFIX_LEN, VIP, VRID, drain_path, haproxy_name, write_file


def floatip_config(lb, interval_ms, work, with_checks, hosts=None):
    """floatip YAML for one LB. with_checks adds the HAProxy process check and drain;
    hosts, when given, is written as `hosts:` (how many LBs run the router: with 2, the
    backup takes over as soon as a leaving master's priority 0 arrives)."""
    lines = []
    if with_checks:
        lines += [
            "checks:",
            "  - name: haproxy",
            f"    process: {{ name: {haproxy_name(lb)}, min: 1 }}",
            "    weight: 0",
            "  - name: drain",
            f"    file: {drain_path(work, lb)}",
            "    weight: -100",
        ]
    lines += [
        "routers:",
        "  - name: web",
        "    interface: eth0",
        f"    vrid: {VRID}",
        "    version: 3",
        f"    priority: {LB_PRIO[lb]}",
        f"    advert_interval: {int(interval_ms)}ms",
        "    preempt: true",
    ]
    if hosts is not None:
        lines += [f"    hosts: {int(hosts)}"]
    lines += [
        "    addresses:",
        f"      - {VIP}/{PREFIX_LEN}",
    ]
    if with_checks:
        lines += ["    track: [haproxy, drain]", "global:", "  script_user: nobody"]
    return "\n".join(lines) + "\n"


def keepalived_config(lb, interval_ms, work, with_checks, haproxy_check="process"):
    """keepalived.conf for one LB, the same VRRP timers as floatip_config.

    HAProxy death is watched with vrrp_track_process (netlink process events, seen at
    once, like floatip's pidfd; this needs keepalived started with --namespace rather
    than inside `ip netns exec`, where the process connector refuses it with ECONNREFUSED)
    or, with haproxy_check "script" (--keepalived-haproxy-check script), a vrrp_script running `pgrep -x` every
    second (keepalived's minimum script interval is 1 s, integers only). The drain file
    is a track_file."""
    out = [
        "global_defs {",
        f"  router_id {lb}",
        "  script_user nobody nogroup",
        "  enable_script_security",
        "}",
    ]
    if with_checks:
        if haproxy_check == "process":
            out += [
                "vrrp_track_process haproxy {",
                f"  process {haproxy_name(lb)}",
                "  quorum 1",
                "}",
            ]
        else:
            out += [
                "vrrp_script haproxy {",
                f'  script "/usr/bin/pgrep -x {haproxy_name(lb)}"',
                "  interval 1",
                "  timeout 1",
                "  fall 1",
                "  rise 1",
                "}",
            ]
        out += [
            "track_file drain {",
            f"  file {drain_path(work, lb)}",
            "  weight -100",
            "}",
        ]
    out += [
        "vrrp_instance web {",
        "  state BACKUP",
        "  interface eth0",
        f"  virtual_router_id {VRID}",
        "  version 3",
        f"  priority {LB_PRIO[lb]}",
        f"  advert_int {interval_ms / 1000:g}",
        "  virtual_ipaddress {",
        f"    {VIP}/{PREFIX_LEN} dev eth0",
        "  }",
    ]
    if with_checks:
        kind = "track_process" if haproxy_check == "process" else "track_script"
        out += [f"  {kind} {{", "    haproxy weight 0", "  }",
                "  track_file {", "    drain weight -100", "  }"]
    out += ["}"]
    return "\n".join(out) + "\n"


def floatip_hosts(args, lbs):
    """floatip's `hosts:` for a lab of `lbs` load balancers: the true count (the lab is
    exactly that), or None with --floatip-no-hosts."""
    return None if getattr(args, "floatip_no_hosts", False) else lbs


class Daemon:
    """The daemon under test on the LBs of a lab: writes each LB's configuration and
    starts it (floatip inside the LB's namespace, keepalived with --namespace)."""

    def __init__(self, kind, floatip_bin, interval_ms, lab, checks, keepalived_check,
                 floatip_hosts=None):
        self.kind, self.bin, self.interval_ms, self.lab, self.checks = (
            kind, floatip_bin, interval_ms, lab, checks)
        # floatip's `hosts:` (None: left out).
        self.floatip_hosts = floatip_hosts
        # How keepalived watches HAProxy: "process" (vrrp_track_process) or "script" (pgrep).
        self.keepalived_check = keepalived_check

    def write_config(self, lb):
        d = os.path.join(self.lab.work, lb)
        os.makedirs(d, exist_ok=True)
        if self.kind == "floatip":
            path = os.path.join(d, "floatip.yaml")
            text = floatip_config(lb, self.interval_ms, self.lab.work, self.checks,
                                  self.floatip_hosts)
        else:
            path = os.path.join(d, "keepalived.conf")
            text = keepalived_config(lb, self.interval_ms, self.lab.work, self.checks,
                                     self.keepalived_check)
        write_file(path, text)
        return path

    def argv(self, lb):
        path = self.write_config(lb)
        if self.kind == "floatip":
            return [self.bin, "run", "-c", path]
        d = os.path.join(self.lab.work, lb)
        # --namespace, not `ip netns exec`: keepalived enters the namespace itself and its
        # process-event listener (track_process) then works.
        return ["keepalived", "--namespace", self.lab.ns(lb), "--dont-fork", "--log-console", "--no-syslog", "--vrrp",
                "--use-file", path, "--pid", os.path.join(d, "keepalived.pid"),
                "--vrrp_pid", os.path.join(d, "vrrp.pid")]

    def start(self, lb):
        host = None if self.kind == "keepalived" else lb
        return self.lab.start(self.name(lb), host, self.argv(lb))

    def name(self, lb):
        return f"{self.kind}-{lb}"


def _config_test(argv, path, text):
    """Write text to path and run argv on it: (exit code, stdout and stderr)."""
    write_file(path, text)
    r = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                       timeout=20)
    return r.returncode, r.stdout


def check_floatip_config(floatip_bin, text, work):
    path = os.path.join(work, "check.yaml")
    rc, out = _config_test([floatip_bin, "check", path], path, text)
    return rc == 0, out


def check_keepalived_config(text, work):
    path = os.path.join(work, "check.conf")
    rc, out = _config_test(["keepalived", "--config-test", "--use-file", path], path, text)
    return rc == 0 and "Unknown keyword" not in out, out
