"""Configuration generation: floatip YAML, keepalived.conf and the HAProxy configs."""

import unittest

from downtime_harness.common import drain_path, haproxy_name
from downtime_harness.daemons import floatip_config, floatip_hosts, keepalived_config
from downtime_harness.lab import haproxy_backend_config, haproxy_lb_config


class Configs(unittest.TestCase):
    def test_floatip_without_checks(self):
        y = floatip_config("lb2", 100, "/w", with_checks=False)
        self.assertIn("priority: 100", y)
        self.assertIn("advert_interval: 100ms", y)
        self.assertIn("vrid: 51", y)
        self.assertIn("      - 192.0.2.100/24", y)
        self.assertNotIn("checks", y)
        self.assertNotIn("track", y)
        self.assertTrue(y.startswith("routers:\n"))
        self.assertTrue(y.endswith("\n"))

    def test_floatip_with_checks(self):
        y = floatip_config("lb1", 1000, "/w", with_checks=True)
        self.assertIn("priority: 150", y)
        self.assertIn("advert_interval: 1000ms", y)
        self.assertIn("track: [haproxy, drain]", y)
        self.assertIn("file: /w/lb1/drain", y)
        self.assertIn(f"process: {{ name: {haproxy_name('lb1')}, min: 1 }}", y)
        self.assertIn("    weight: -100", y)
        self.assertIn("script_user: nobody", y)
        self.assertTrue(y.startswith("checks:\n"))

    def test_floatip_hosts(self):
        y = floatip_config("lb1", 1000, "/w", with_checks=True, hosts=2)
        self.assertIn("    preempt: true\n    hosts: 2\n    addresses:\n", y)
        self.assertNotIn("hosts", floatip_config("lb1", 1000, "/w", with_checks=True))

        class Args:
            floatip_no_hosts = False
        self.assertEqual(floatip_hosts(Args, 2), 2)
        self.assertEqual(floatip_hosts(Args, 3), 3)
        Args.floatip_no_hosts = True
        self.assertIsNone(floatip_hosts(Args, 2))

    def test_keepalived(self):
        k = keepalived_config("lb1", 10, "/w", with_checks=True)
        self.assertIn("advert_int 0.01", k)
        self.assertIn("priority 150", k)
        self.assertIn("version 3", k)
        self.assertIn("virtual_router_id 51", k)
        self.assertIn("192.0.2.100/24 dev eth0", k)
        self.assertEqual(k.count("{"), k.count("}"))
        self.assertIn("track_process {", k)
        self.assertIn(f"process {haproxy_name('lb1')}", k)
        self.assertIn("file /w/lb1/drain", k)
        k = keepalived_config("lb1", 10, "/w", with_checks=True, haproxy_check="script")
        self.assertIn("vrrp_script haproxy {", k)
        self.assertIn("track_script {", k)
        self.assertIn(f'script "/usr/bin/pgrep -x {haproxy_name("lb1")}"', k)
        self.assertNotIn("track_process", k)
        self.assertEqual(k.count("{"), k.count("}"))

    def test_keepalived_without_checks(self):
        k = keepalived_config("lb2", 1000, "/w", with_checks=False)
        self.assertIn("advert_int 1", k)
        self.assertIn("priority 100", k)
        self.assertNotIn("track", k)
        self.assertEqual(k.count("{"), k.count("}"))

    def test_haproxy(self):
        self.assertIn("server be1 192.0.2.20:80", haproxy_lb_config())
        self.assertIn("bind *:80", haproxy_lb_config())
        self.assertIn("http-request return status 200", haproxy_backend_config())

    def test_names(self):
        self.assertLessEqual(len(haproxy_name("lb1")), 15)  # the kernel's comm length
        self.assertNotEqual(haproxy_name("lb1"), haproxy_name("lb2"))
        self.assertEqual(drain_path("/w", "lb3"), "/w/lb3/drain")


if __name__ == "__main__":
    unittest.main()
