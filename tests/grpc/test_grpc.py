"""Stock gRPC (Debian's python3-grpcio) against shegongd's --grpc-listen.

The stubs are generated from proto/ by grpc_tools and protoc (CMake target
sg_grpc_python); nothing here knows the native framing. Each test names the
behaviour of docs/PROTOCOL.md ("gRPC") that it checks.
"""
import os
import shutil
import socket
import subprocess
import tempfile
import threading
import time
import unittest
import urllib.request

import grpc
from google.protobuf import descriptor_pb2, descriptor_pool

import reflection_pb2
import reflection_pb2_grpc
from shegong.v1 import (admin_pb2, admin_pb2_grpc, auth_pb2, auth_pb2_grpc, sync_pb2,
                        sync_pb2_grpc, types_pb2, units_pb2, units_pb2_grpc, workers_pb2,
                        workers_pb2_grpc)

SHEGONGD = os.environ["SHEGONGD"]


def check_char(first17):
    weights = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]
    return "10X98765432"[sum(int(d) * w for d, w in zip(first17, weights)) % 11]


def id_number(serial):
    s = "320602199003%02d%03d" % (1 + serial % 28, serial % 1000)
    return s + check_char(s)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_file(path, proc, log):
    for _ in range(200):
        try:
            with open(path) as f:
                v = f.read().strip()
            if v:
                return v
        except OSError:
            pass
        if proc.poll() is not None:
            raise RuntimeError("shegongd exited: " + open(log).read())
        time.sleep(0.05)
    raise RuntimeError("shegongd did not start: " + open(log).read())


class Server:
    """A shegongd with a native and a gRPC listener in a temp dir."""

    def __init__(self, extra=()):
        self.tmp = tempfile.mkdtemp(prefix="shegong-grpc-")
        self.db = os.path.join(self.tmp, "db")
        self.log = os.path.join(self.tmp, "log")
        self.metrics_port = free_port()
        with open(self.log, "w") as log:
            self.proc = subprocess.Popen(
                [SHEGONGD, "--data", self.db, "--listen", "127.0.0.1:0",
                 "--port-file", os.path.join(self.tmp, "port"),
                 "--grpc-listen", "127.0.0.1:0", "--grpc-port-file", os.path.join(self.tmp, "gport"),
                 "--metrics-listen", "127.0.0.1:%d" % self.metrics_port, *extra],
                stdout=log, stderr=log)
        self.grpc_port = int(wait_file(os.path.join(self.tmp, "gport"), self.proc, self.log))
        with open(os.path.join(self.db, "admin.token")) as f:
            self.token = f.readline().strip()

    def metric(self, name):
        body = urllib.request.urlopen("http://127.0.0.1:%d/metrics" % self.metrics_port,
                                      timeout=5).read().decode()
        for line in body.splitlines():
            if line.startswith(name + " "):
                return float(line.split()[1])
        raise KeyError(name)

    def stop(self):
        self.proc.terminate()
        rc = self.proc.wait(10)
        shutil.rmtree(self.tmp)
        return rc


class GrpcTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.srv = Server()
        cls.channel = grpc.insecure_channel("127.0.0.1:%d" % cls.srv.grpc_port)
        cls.md = [("authorization", "Bearer " + cls.srv.token)]
        units = units_pb2_grpc.UnitsStub(cls.channel)
        for kind, code, name in [(units_pb2.DISTRICT, "320602", "崇川区"),
                                 (units_pb2.TOWN, "320602001", "和平桥街道"),
                                 (units_pb2.COMMUNITY, "320602001001", "桃坞社区")]:
            units.Create(units_pb2.CreateUnitRequest(
                unit=units_pb2.Unit(kind=kind, code=code, name=name)), metadata=cls.md)

    @classmethod
    def tearDownClass(cls):
        cls.channel.close()
        assert cls.srv.stop() == 0

    def worker(self, serial, name="张三"):
        return workers_pb2.Worker(name=name, id_number=id_number(serial), unit_code="320602001001",
                                  category=workers_pb2.COMMUNITY_BASED,
                                  role=workers_pb2.GENERALIST, hire_date="2015-06-01")

    def test_unary(self):
        hello = admin_pb2_grpc.AdminStub(self.channel).Hello(admin_pb2.HelloRequest())
        self.assertEqual(hello.protocol_version, 1)  # Hello needs no token, as natively
        workers = workers_pb2_grpc.WorkersStub(self.channel)
        w = workers.Create(workers_pb2.CreateWorkerRequest(worker=self.worker(1)), metadata=self.md)
        self.assertEqual(w.version, 1)
        self.assertEqual(w.town_code, "320602001")
        got = workers.Get(workers_pb2.GetWorkerRequest(id=w.id), metadata=self.md)
        self.assertEqual(got.name, "张三")
        self.assertEqual(got.birth_date, "1990-03-02")
        self.assertEqual(got.id_number, id_number(1))  # the admin token has pii
        # without pii the stored record goes out masked on the wire: the same message otherwise
        tokens = auth_pb2_grpc.TokensStub(self.channel)
        for role, town in [(auth_pb2.DISTRICT_ADMIN, ""), (auth_pb2.TOWN_OPERATOR, "320602001")]:
            t = tokens.Create(auth_pb2.CreateTokenRequest(token=auth_pb2.Token(
                role=role, town_code=town, name="no pii")), metadata=self.md)
            masked = workers.Get(workers_pb2.GetWorkerRequest(id=w.id),
                                 metadata=(("authorization", "Bearer " + t.secret),))
            self.assertEqual(masked.id_number, id_number(1)[:6] + "********" + id_number(1)[-4:])
            clear = workers_pb2.Worker()
            clear.CopyFrom(got)
            clear.id_number = masked.id_number
            self.assertEqual(masked, clear)

    def test_errors_carry_status_and_violations(self):
        workers = workers_pb2_grpc.WorkersStub(self.channel)
        with self.assertRaises(grpc.RpcError) as e:
            workers.Get(workers_pb2.GetWorkerRequest(id=10 ** 9), metadata=self.md)
        self.assertEqual(e.exception.code(), grpc.StatusCode.NOT_FOUND)
        self.assertIn("not found", e.exception.details())
        bad = self.worker(2)
        bad.id_number = bad.id_number[:-1] + ("0" if bad.id_number[-1] != "0" else "1")
        bad.name = "王%五"  # a percent sign and Chinese go through grpc-message's encoding
        bad.hire_date = "2015-13-01"
        with self.assertRaises(grpc.RpcError) as e:
            workers.Create(workers_pb2.CreateWorkerRequest(worker=bad), metadata=self.md)
        self.assertEqual(e.exception.code(), grpc.StatusCode.INVALID_ARGUMENT)
        trailers = dict(e.exception.trailing_metadata())
        st = types_pb2.Status.FromString(trailers["shegong-status-bin"])
        self.assertEqual(st.code, types_pb2.INVALID_ARGUMENT)
        fields = [v.field for v in st.violations]
        self.assertIn("worker.id_number", fields)
        self.assertIn("worker.hire_date", fields)
        self.assertEqual(st.message, e.exception.details())

    def test_tokens(self):
        workers = workers_pb2_grpc.WorkersStub(self.channel)
        for md in ([], [("authorization", "Bearer " + "ab" * 32)], [("authorization", "nonsense")]):
            with self.assertRaises(grpc.RpcError) as e:
                workers.Get(workers_pb2.GetWorkerRequest(id=1), metadata=md)
            self.assertEqual(e.exception.code(), grpc.StatusCode.UNAUTHENTICATED, md)
        # an auditor reads but may not write: the same access table as natively
        tokens = auth_pb2_grpc.TokensStub(self.channel)
        aud = tokens.Create(auth_pb2.CreateTokenRequest(
            token=auth_pb2.Token(role=auth_pb2.AUDITOR, name="审计")), metadata=self.md)
        amd = [("authorization", "Bearer " + aud.secret)]
        who = tokens.WhoAmI(auth_pb2.WhoAmIRequest(), metadata=amd)
        self.assertEqual(who.role, auth_pb2.AUDITOR)
        with self.assertRaises(grpc.RpcError) as e:
            workers.Create(workers_pb2.CreateWorkerRequest(worker=self.worker(3)), metadata=amd)
        self.assertEqual(e.exception.code(), grpc.StatusCode.PERMISSION_DENIED)

    def test_server_streaming(self):
        workers = workers_pb2_grpc.WorkersStub(self.channel)
        for i in range(10, 15):
            workers.Create(workers_pb2.CreateWorkerRequest(worker=self.worker(i, "李%d" % i)),
                           metadata=self.md)
        sync = sync_pb2_grpc.SyncStub(self.channel)
        msgs = list(sync.Pull(sync_pb2.PullRequest(town_code="320602001", since=0, limit=3),
                              metadata=self.md))
        self.assertEqual(sum(len(m.changes) for m in msgs), 3)
        self.assertTrue(msgs[-1].more)
        names = set()
        for m in sync.Snapshot(sync_pb2.SnapshotRequest(town_code="320602001"), metadata=self.md):
            names.update(w.name for w in m.workers)
        self.assertTrue({"李10", "李14"} <= names)
        # masked unless the token may see personal data, in streams too
        ids = [w.id_number for m in sync.Snapshot(sync_pb2.SnapshotRequest(town_code="320602001"),
                                                  metadata=self.md) for w in m.workers]
        self.assertTrue(ids and all("*" not in i for i in ids))  # the admin token has pii

    def wait_watches(self, n):
        deadline = time.time() + 5
        while time.time() < deadline:
            if self.srv.metric("shegong_watches") == n:
                return True
            time.sleep(0.05)
        return False

    def test_deadline_ends_a_watch(self):
        sync = sync_pb2_grpc.SyncStub(self.channel)
        t0 = time.time()
        with self.assertRaises(grpc.RpcError) as e:
            for _ in sync.Watch(sync_pb2.WatchRequest(town_code="320602001"), metadata=self.md,
                                timeout=0.5):
                pass
        self.assertEqual(e.exception.code(), grpc.StatusCode.DEADLINE_EXCEEDED)
        self.assertLess(time.time() - t0, 5)
        self.assertTrue(self.wait_watches(0), "the server kept the expired watch open")

    def test_cancel_stops_a_stream(self):
        sync = sync_pb2_grpc.SyncStub(self.channel)
        call = sync.Watch(sync_pb2.WatchRequest(town_code="320602001"), metadata=self.md)
        first = next(call)  # the backlog: the watch is open on the server
        self.assertTrue(first.changes)
        self.assertEqual(self.srv.metric("shegong_watches"), 1)
        call.cancel()
        with self.assertRaises(grpc.RpcError) as e:
            next(call)
        self.assertEqual(e.exception.code(), grpc.StatusCode.CANCELLED)
        self.assertTrue(self.wait_watches(0), "RST_STREAM did not end the watch")
        # and the connection goes on serving
        hello = admin_pb2_grpc.AdminStub(self.channel).Hello(admin_pb2.HelloRequest())
        self.assertEqual(hello.protocol_version, 1)

    def test_watch_sees_a_commit(self):
        sync = sync_pb2_grpc.SyncStub(self.channel)
        head = list(sync.Pull(sync_pb2.PullRequest(town_code="320602001", since=0, limit=10000),
                              metadata=self.md))[-1].head_revision
        call = sync.Watch(sync_pb2.WatchRequest(town_code="320602001", since=head),
                          metadata=self.md, timeout=10)
        got = []

        def read():
            try:
                for m in call:
                    got.extend(c for c in m.changes)
                    if got:
                        call.cancel()
            except grpc.RpcError as e:
                if e.code() != grpc.StatusCode.CANCELLED:
                    raise

        t = threading.Thread(target=read)
        t.start()
        time.sleep(0.3)
        workers_pb2_grpc.WorkersStub(self.channel).Create(
            workers_pb2.CreateWorkerRequest(worker=self.worker(40, "赵四")), metadata=self.md)
        t.join(10)
        self.assertFalse(t.is_alive())
        self.assertTrue(got)
        self.assertGreater(got[0].revision, head)

    def test_oversized_message(self):
        w = self.worker(50)
        w.name = "x" * (5 << 20)  # over the 4 MiB limit
        with self.assertRaises(grpc.RpcError) as e:
            workers_pb2_grpc.WorkersStub(self.channel).Create(
                workers_pb2.CreateWorkerRequest(worker=w), metadata=self.md)
        self.assertEqual(e.exception.code(), grpc.StatusCode.RESOURCE_EXHAUSTED)
        self.assertIn("exceeds the limit", e.exception.details())

    def test_unknown_method(self):
        call = self.channel.unary_unary("/shegong.v1.Workers/Nope")
        with self.assertRaises(grpc.RpcError) as e:
            call(b"", metadata=self.md)
        self.assertEqual(e.exception.code(), grpc.StatusCode.UNIMPLEMENTED)

    def test_many_calls_at_once(self):
        workers = workers_pb2_grpc.WorkersStub(self.channel)
        w = workers.Create(workers_pb2.CreateWorkerRequest(worker=self.worker(60)), metadata=self.md)
        futures = [workers.Get.future(workers_pb2.GetWorkerRequest(id=w.id), metadata=self.md)
                   for _ in range(300)]
        self.assertEqual({f.result(timeout=20).id for f in futures}, {w.id})

    def reflect(self, requests, path=None):
        if path:
            call = self.channel.stream_stream(
                path, request_serializer=reflection_pb2.ServerReflectionRequest.SerializeToString,
                response_deserializer=reflection_pb2.ServerReflectionResponse.FromString)
            return list(call(iter(requests)))
        return list(reflection_pb2_grpc.ServerReflectionStub(self.channel)
                    .ServerReflectionInfo(iter(requests)))

    def test_reflection(self):
        R = reflection_pb2.ServerReflectionRequest
        out = self.reflect([R(list_services=""), R(file_containing_symbol="shegong.v1.Workers"),
                            R(file_containing_symbol="shegong.v1.Nope"),
                            R(file_by_filename="shegong/v1/sync.proto")])
        self.assertEqual(len(out), 4)
        services = {s.name for s in out[0].list_services_response.service}
        for s in ("Admin", "Units", "Workers", "Assessments", "Training", "Policies", "Transfers",
                  "Reports", "Sync", "Tokens", "Audit"):
            self.assertIn("shegong.v1." + s, services)
        self.assertIn("grpc.reflection.v1alpha.ServerReflection", services)
        self.assertEqual(out[2].error_response.error_code, grpc.StatusCode.NOT_FOUND.value[0])
        # the files are enough to build the service and its messages, imports included
        pool = descriptor_pool.DescriptorPool()
        for resp in (out[1], out[3]):
            files = [descriptor_pb2.FileDescriptorProto.FromString(b)
                     for b in resp.file_descriptor_response.file_descriptor_proto]
            added = True
            while added and files:  # imports first, whatever the order
                added = False
                for f in list(files):
                    try:
                        pool.Add(f)
                        files.remove(f)
                        added = True
                    except TypeError:
                        pass
            self.assertFalse(files, "files whose imports were not sent")
        svc = pool.FindServiceByName("shegong.v1.Workers")
        self.assertEqual(svc.FindMethodByName("Create").input_type.full_name,
                         "shegong.v1.CreateWorkerRequest")
        pull = pool.FindServiceByName("shegong.v1.Sync").FindMethodByName("Pull")
        self.assertEqual(pull.output_type.full_name, "shegong.v1.PullResponse")
        # the v1 package serves the same
        v1 = self.reflect([R(list_services="")],
                          path="/grpc.reflection.v1.ServerReflection/ServerReflectionInfo")
        self.assertEqual({s.name for s in v1[0].list_services_response.service}, services)


class GrpcTlsTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmpd = tempfile.mkdtemp(prefix="shegong-grpc-tls-")
        cls.cert = os.path.join(cls.tmpd, "cert.pem")
        key = os.path.join(cls.tmpd, "key.pem")
        subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                        "ec_paramgen_curve:prime256v1", "-nodes", "-days", "2", "-subj",
                        "/CN=localhost", "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1",
                        "-keyout", key, "-out", cls.cert], check=True, capture_output=True)
        cls.srv = Server(["--tls-cert", cls.cert, "--tls-key", key])

    @classmethod
    def tearDownClass(cls):
        assert cls.srv.stop() == 0
        shutil.rmtree(cls.tmpd)

    def test_tls_with_alpn_h2(self):
        with open(self.cert, "rb") as f:
            creds = grpc.ssl_channel_credentials(root_certificates=f.read())
        with grpc.secure_channel("127.0.0.1:%d" % self.srv.grpc_port, creds) as ch:
            tokens = auth_pb2_grpc.TokensStub(ch)
            who = tokens.WhoAmI(auth_pb2.WhoAmIRequest(),
                                metadata=[("authorization", "Bearer " + self.srv.token)], timeout=10)
            self.assertEqual(who.role, auth_pb2.DISTRICT_ADMIN)
        # a plaintext client gets nowhere on the TLS listener
        with grpc.insecure_channel("127.0.0.1:%d" % self.srv.grpc_port) as ch:
            with self.assertRaises(grpc.RpcError) as e:
                admin_pb2_grpc.AdminStub(ch).Hello(admin_pb2.HelloRequest(), timeout=3)
            self.assertIn(e.exception.code(), (grpc.StatusCode.UNAVAILABLE,
                                               grpc.StatusCode.DEADLINE_EXCEEDED))


if __name__ == "__main__":
    unittest.main()
