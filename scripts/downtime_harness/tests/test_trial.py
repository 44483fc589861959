"""Unit tests of trial.py's pure helpers."""

import os
import socket
import tempfile
import unittest

from downtime_harness.trial import not_regular


class NotRegularTest(unittest.TestCase):
    def test_a_socket_is_left_out_files_and_directories_are_kept(self):
        with tempfile.TemporaryDirectory() as d:
            open(os.path.join(d, "floatip.log"), "w").close()
            os.mkdir(os.path.join(d, "sub"))
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            try:
                sock.bind(os.path.join(d, "control.sock"))
                names = sorted(os.listdir(d))
                self.assertEqual(not_regular(d, names), ["control.sock"])
            finally:
                sock.close()


if __name__ == "__main__":
    unittest.main()
