"""The lab: network namespaces (a switch with one bridge, a client, a backend and two or
three LBs, each joined to the bridge by a veth born in its namespace), HAProxy on the
backend and the LBs, the processes of a trial in their own process groups, polling which
LB holds the VIP, and teardown.

Owns everything a run creates on the host and removes it on every path; must not
decide what a trial measures."""

import os
import shutil
import signal
import subprocess
import time

from .common import (BACKEND_ADDR, CLIENT_ADDR, LB_ADDR, PREFIX_LEN, RUN_ID, VIP, TrialError,
                     haproxy_name, write_file)


def copy_haproxy_binaries(work):
    """One copy of haproxy per host in work/bin, named by haproxy_name (see there)."""
    os.makedirs(os.path.join(work, "bin"))
    for host in ["be", "lb1", "lb2", "lb3"]:
        shutil.copy(shutil.which("haproxy"), os.path.join(work, "bin", haproxy_name(host)))


def _killpg(pid, sig):
    try:
        os.killpg(pid, sig)
    except ProcessLookupError:
        pass


def haproxy_lb_config():
    return """global
  maxconn 4000
defaults
  mode http
  timeout connect 100ms
  timeout client 2s
  timeout server 2s
frontend fe
  bind *:80
  default_backend be
backend be
  server be1 %s:80
""" % BACKEND_ADDR


def haproxy_backend_config():
    return """global
  maxconn 4000
defaults
  mode http
  timeout connect 1s
  timeout client 2s
  timeout server 2s
frontend fe
  bind *:80
  http-request return status 200 content-type text/plain string ok
"""


class Lab:
    """Owns every namespace and process of this run; teardown() removes them all and is
    safe to call any number of times, from any path."""

    def __init__(self, work, lbs):
        self.prefix = f"fdt{RUN_ID}"
        self.work = work
        self.lbs = [f"lb{i}" for i in range(1, lbs + 1)]
        self.procs = {}      # name -> Popen (each in its own process group)
        self.logs = {}       # name -> open file
        self.hosts = ["client", "be"] + self.lbs

    def ns(self, host):
        return f"{self.prefix}-{host}"

    def sh(self, *args, check=True, timeout=20):
        r = subprocess.run(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                           timeout=timeout)
        if check and r.returncode != 0:
            raise TrialError(f"{' '.join(args)}: {r.stderr.strip() or r.returncode}")
        return r.stdout

    def ip(self, host, *args, check=True):
        return self.sh("ip", "-n", self.ns(host), *args, check=check)

    def build(self):
        self.sh("ip", "netns", "add", self.ns("sw"))
        self.ip("sw", "link", "add", "br0", "type", "bridge")
        self.ip("sw", "link", "set", "br0", "up")
        addrs = {"client": CLIENT_ADDR, "be": BACKEND_ADDR, **{lb: LB_ADDR[lb] for lb in self.lbs}}
        for i, host in enumerate(self.hosts):
            ns = self.ns(host)
            b = f"{self.prefix}s{i}"
            self.sh("ip", "netns", "add", ns)
            # Both ends are born in their namespaces: nothing is ever left in the root one.
            self.sh("ip", "link", "add", "eth0", "netns", ns, "type", "veth",
                    "peer", "name", b, "netns", self.ns("sw"))
            self.ip("sw", "link", "set", b, "master", "br0", "up")
            self.sh("ip", "netns", "exec", ns, "sysctl", "-qw",
                    "net.ipv6.conf.all.disable_ipv6=1", "net.ipv6.conf.default.disable_ipv6=1")
            self.ip(host, "addr", "add", f"{addrs[host]}/{PREFIX_LEN}", "dev", "eth0")
            self.ip(host, "link", "set", "lo", "up")
            self.ip(host, "link", "set", "eth0", "up")

    def start(self, name, host, argv, stdout=None):
        """Start argv in host's namespace (host None: as is), in its own process group;
        output to a log."""
        if name in self.procs and self.procs[name].poll() is None:
            raise TrialError(f"{name} already running")
        logf = open(os.path.join(self.work, f"{name}.log"), "ab")
        self.logs[name] = logf
        prefix = ["ip", "netns", "exec", self.ns(host)] if host else []
        p = subprocess.Popen(prefix + argv,
                             stdout=stdout or logf, stderr=logf, stdin=subprocess.DEVNULL,
                             start_new_session=True)
        self.procs[name] = p
        return p

    def start_haproxies(self):
        """The backend's HAProxy and one in front of it on each LB, each from its own
        copy of the binary (copy_haproxy_binaries)."""
        configs = [("be", haproxy_backend_config())] + [(lb, haproxy_lb_config()) for lb in self.lbs]
        for host, cfg in configs:
            path = os.path.join(self.work, f"haproxy-{host}.cfg")
            write_file(path, cfg)
            binary = os.path.join(self.work, "bin", haproxy_name(host))
            self.start(f"haproxy-{host}", host, [binary, "-db", "-f", path])

    def kill(self, name, sig=signal.SIGKILL, wait=True, timeout=10):
        p = self.procs.get(name)
        if p is None:
            return None
        _killpg(p.pid, sig)
        if wait:
            try:
                return p.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                _killpg(p.pid, signal.SIGKILL)
                return p.wait(timeout=5)
        return None

    def wait_log(self, name, text, timeout_s, poll_s=0.05):
        """Wait until name's log (its stderr) says text; TrialError if it does not within
        timeout_s or the process exits first."""
        path = os.path.join(self.work, f"{name}.log")
        deadline = time.time() + timeout_s
        while True:
            try:
                with open(path, errors="replace") as f:
                    if text in f.read():
                        return
            except OSError:
                pass
            if self.procs[name].poll() is not None:
                raise TrialError(f"{name} exited ({self.procs[name].returncode}) before "
                                 f"saying {text!r}")
            if time.time() >= deadline:
                raise TrialError(f"{name} did not say {text!r} within {timeout_s:g}s")
            time.sleep(poll_s)

    def holders(self):
        """LBs whose eth0 is up and carries the VIP (one `ip` per LB: polling runs during
        the outage being measured, on a small machine, so it stays light)."""
        who = []
        for lb in self.lbs:
            out = self.ip(lb, "-o", "addr", "show", "dev", "eth0", "up", check=False)
            if f" {VIP}/" in out:
                who.append(lb)
        return who

    def wait_holder(self, lb, timeout_s, poll_s=0.05):
        deadline = time.time() + timeout_s
        seen_both = False
        while time.time() < deadline:
            h = self.holders()
            if len(h) > 1:
                seen_both = True
            if h == [lb]:
                return time.time(), seen_both
            time.sleep(poll_s)
        raise TrialError(f"{lb} did not hold {VIP} alone within {timeout_s:.1f}s "
                         f"(holders: {self.holders() or 'nobody'})")

    def stop_all(self):
        for name in list(self.procs):
            try:
                self.kill(name, signal.SIGKILL, wait=True, timeout=5)
            except Exception:
                pass
        self.procs.clear()
        for f in self.logs.values():
            try:
                f.close()
            except Exception:
                pass
        self.logs.clear()

    def teardown(self):
        self.stop_all()
        # Kill anything still inside our namespaces (a forked child outside our groups).
        for host in self.hosts + ["sw"]:
            r = subprocess.run(["ip", "netns", "pids", self.ns(host)], stdout=subprocess.PIPE,
                               stderr=subprocess.DEVNULL, text=True, timeout=10)
            for pid in r.stdout.split():
                try:
                    os.kill(int(pid), signal.SIGKILL)
                except (ProcessLookupError, ValueError):
                    pass
        for host in self.hosts + ["sw"]:
            subprocess.run(["ip", "netns", "del", self.ns(host)], stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL, timeout=20)
