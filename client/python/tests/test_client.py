"""The Python client against a real shegongd: unary calls, streams, errors as exceptions."""
import os
import shutil
import subprocess
import tempfile
import time
import unittest

import shegong_client as sg
from shegong.v1 import units_pb2, workers_pb2

SHEGONGD = os.environ["SHEGONGD"]


def check_char(first17):
    weights = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]
    return "10X98765432"[sum(int(d) * w for d, w in zip(first17, weights)) % 11]


class ClientTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="shegong-py-")
        port_file = os.path.join(cls.tmp, "port")
        cls.log = open(os.path.join(cls.tmp, "log"), "w")
        cls.proc = subprocess.Popen([SHEGONGD, "--data", os.path.join(cls.tmp, "db"), "--listen",
                                     "127.0.0.1:0", "--port-file", port_file],
                                    stdout=cls.log, stderr=cls.log)
        def port():
            try:
                with open(port_file) as f:
                    return f.read().strip()
            except OSError:
                return ""
        for _ in range(100):
            if port():
                break
            time.sleep(0.1)
        cls.port = int(port())
        with open(os.path.join(cls.tmp, "db", "admin.token")) as f:
            cls.token = f.readline().strip()

    @classmethod
    def tearDownClass(cls):
        cls.proc.terminate()
        assert cls.proc.wait(10) == 0
        cls.log.close()
        shutil.rmtree(cls.tmp)

    def client(self, token=None):
        return sg.Client("127.0.0.1", self.port, token=token or self.token)

    def test_1_units_workers_and_errors(self):
        with self.client() as c:
            self.assertEqual(c.call("Admin/Hello").protocol_version, 1)
            for kind, code, name in [(units_pb2.DISTRICT, "320602", "崇川区"),
                                     (units_pb2.TOWN, "320602001", "和平桥街道"),
                                     (units_pb2.COMMUNITY, "320602001001", "桃坞社区")]:
                u = c.call("Units/Create", unit=units_pb2.Unit(kind=kind, code=code, name=name))
                self.assertEqual(u.code, code)
            idno = "32060219900307123"
            idno += check_char(idno)
            w = c.call("Workers/Create", worker=workers_pb2.Worker(
                name="张三", id_number=idno, unit_code="320602001001",
                category=workers_pb2.COMMUNITY_BASED, role=workers_pb2.GENERALIST,
                hire_date="2015-06-01"))
            self.assertEqual(w.version, 1)
            self.assertEqual(w.birth_date, "1990-03-07")
            self.assertEqual(w.town_code, "320602001")
            self.assertEqual(c.call("Workers/Get", id=w.id).name, "张三")
            # statuses become exceptions, with the violations
            with self.assertRaises(sg.InvalidArgument) as e:
                c.call("Workers/Create", worker=workers_pb2.Worker(
                    name="李四", id_number=idno[:-1] + ("0" if idno[-1] != "0" else "1"),
                    unit_code="320602001001", category=workers_pb2.COMMUNITY_BASED,
                    role=workers_pb2.GENERALIST, hire_date="2015-06-01"))
            self.assertIn("worker.id_number", [f for f, _ in e.exception.violations])
            with self.assertRaises(sg.AlreadyExists):
                c.call("Workers/Create", worker=w)
            with self.assertRaises(sg.NotFound):
                c.call("Workers/Get", id=999999)
            with self.assertRaises(sg.Aborted):
                c.call("Workers/Update", id=w.id, expected_version=7,
                       worker=workers_pb2.Worker(phone="13812345678"), update_mask=["phone"])
            with self.assertRaises(ValueError):
                c.call("Workers/Fire")

    def test_2_streams(self):
        with self.client() as c:
            msgs = list(c.stream("Sync/Pull", town_code="320602001", since=0))
            changes = [ch for m in msgs for ch in m.changes]
            self.assertGreaterEqual(len(changes), 3)   # town, community, worker (+ district)
            self.assertEqual(msgs[-1].head_revision, msgs[-1].through_revision)
            snap = list(c.stream("Sync/Snapshot", town_code="320602001"))
            self.assertTrue(snap[-1].last)
            self.assertEqual(sum(len(m.workers) for m in snap), 1)
            with self.assertRaises(sg.OutOfRange):
                list(c.stream("Sync/Pull", town_code="320602001", since=10**6))

    def test_3_tokens(self):
        with self.client(token="sg_not-a-real-token") as c:
            self.assertEqual(c.call("Admin/Hello").protocol_version, 1)   # needs none
            with self.assertRaises(sg.Unauthenticated):
                c.call("Workers/Get", id=1)
        with self.client() as c:
            made = c.call("Tokens/Create", token={"role": 2, "town_code": "320602001"})
        with self.client(token=made.secret) as town:
            w = town.call("Workers/List").workers[0]
            self.assertIn("********", w.id_number)   # no pii: masked
            with self.assertRaises(sg.PermissionDenied):
                town.call("Tokens/Create", token={"role": 1})


if __name__ == "__main__":
    unittest.main()
