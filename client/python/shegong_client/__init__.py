"""A Python client for shegongd, written from docs/PROTOCOL.md alone.

Frames are a 4-byte big-endian length and a shegong.v1.Frame; every call but
Admin/Hello carries `authorization: Bearer <token>`; statuses other than OK
become ShegongError subclasses (NotFound, InvalidArgument, ...). Methods are
named "Workers/Get" or "/shegong.v1.Workers/Get"; their request and response
types come from the generated modules (protoc --python_out), so there is no
per-method code here.

    c = Client("127.0.0.1", 7420)                 # token from $SHEGONG_TOKEN(_FILE)
    w = c.call("Workers/Get", id=42)              # a shegong.v1.Worker
    for msg in c.stream("Sync/Pull", town_code="320602001", since=0):
        ...
"""

import importlib
import os
import socket
import ssl
import struct

from google.protobuf import symbol_database

END_STREAM, CANCEL = 1, 2
PREAUTH_MAX_FRAME = 256 * 1024
_SERVICES = ("admin", "units", "workers", "sync", "auth", "audit")


def _modules():
    return [importlib.import_module("shegong.v1.%s_pb2" % s) for s in _SERVICES]


_wire = importlib.import_module("shegong.v1.wire_pb2")
_types = importlib.import_module("shegong.v1.types_pb2")


class ShegongError(Exception):
    """A call that ended with a status other than OK."""

    code = None

    def __init__(self, code, message, violations=()):
        super().__init__("%s: %s" % (_types.Code.Name(code), message))
        self.code, self.message, self.violations = code, message, list(violations)


_ERRORS = {}
for _name in _types.Code.keys():
    if _name == "OK":
        continue
    _cls_name = "".join(p.capitalize() for p in _name.split("_"))
    _cls = type(_cls_name, (ShegongError,), {"code": _types.Code.Value(_name)})
    globals()[_cls_name] = _cls
    _ERRORS[_types.Code.Value(_name)] = _cls


def _error(status):
    cls = _ERRORS.get(status.code, ShegongError)
    return cls(status.code, status.message, [(v.field, v.description) for v in status.violations])


class ConnectionLost(ConnectionError):
    """The connection broke, or the server ended it (a status on call 0)."""


def read_token():
    """The secret, as libshegong finds it: $SHEGONG_TOKEN, else $SHEGONG_TOKEN_FILE."""
    if os.environ.get("SHEGONG_TOKEN"):
        return os.environ["SHEGONG_TOKEN"]
    path = os.environ.get("SHEGONG_TOKEN_FILE")
    if not path:
        return None
    with open(path) as f:
        return f.readline().rstrip("\r\n \t")


class Method:
    def __init__(self, desc):
        db = symbol_database.Default()
        self.path = "/%s/%s" % (desc.containing_service.full_name, desc.name)
        self.request = db.GetSymbol(desc.input_type.full_name)
        self.response = db.GetSymbol(desc.output_type.full_name)
        self.streaming = bool(getattr(desc, "server_streaming", False))


def _method_table():
    table = {}
    for mod in _modules():
        for svc in mod.DESCRIPTOR.services_by_name.values():
            for m in svc.methods:
                meth = Method(m)
                table[meth.path] = meth
                table["%s/%s" % (svc.name, m.name)] = meth
    return table


class Client:
    """One connection. Calls are made one at a time; frames of other calls are skipped."""

    def __init__(self, host="127.0.0.1", port=7420, token=None, ca_file=None, timeout=30.0,
                 max_frame=4 * 1024 * 1024 + 65536):
        sock = socket.create_connection((host, port), timeout=timeout)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        ca_file = ca_file or os.environ.get("SHEGONG_TLS_CA")
        if ca_file:
            ctx = ssl.create_default_context(cafile=ca_file)
            ctx.minimum_version = ssl.TLSVersion.TLSv1_2
            sock = ctx.wrap_socket(sock, server_hostname=host)
        self.sock, self.max_frame, self.next_id, self.buf = sock, max_frame, 1, b""
        self.token = token if token is not None else read_token()
        self.methods = _method_table()
        self.authed = False

    def close(self):
        self.sock.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def _method(self, name):
        try:
            return self.methods[name]
        except KeyError:
            raise ValueError("no method %s" % name) from None

    def _send(self, meth, request, timeout_ms=0):
        call_id, self.next_id = self.next_id, self.next_id + 1
        md = [("authorization", "Bearer " + self.token)] if self.token else []
        f = _wire.Frame(call_id=call_id, method=meth.path, flags=END_STREAM, timeout_ms=timeout_ms,
                        payload=request.SerializeToString(),
                        metadata=[_wire.Metadata(key=k, value=v) for k, v in md])
        body = f.SerializeToString()
        if not self.authed and len(body) > PREAUTH_MAX_FRAME and meth.path != "/shegong.v1.Tokens/WhoAmI":
            # before the first authenticated call only small frames are taken (PROTOCOL §2)
            self.call("Tokens/WhoAmI")
        self.sock.sendall(struct.pack(">I", len(body)) + body)
        return call_id

    def _read(self, n):
        while len(self.buf) < n:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionLost("the server closed the connection")
            self.buf += chunk
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def _frame(self):
        (n,) = struct.unpack(">I", self._read(4))
        if n == 0 or n > self.max_frame:
            raise ConnectionLost("bad frame length %d" % n)
        f = _wire.Frame()
        f.ParseFromString(self._read(n))
        if f.call_id == 0:
            raise ConnectionLost("%s: %s" % (_types.Code.Name(f.status.code), f.status.message))
        return f

    def _request(self, meth, request, fields):
        if request is None:
            request = meth.request(**fields)
        elif fields:
            raise ValueError("give a request message or fields, not both")
        return request

    def call(self, method, request=None, timeout_ms=0, **fields):
        """A unary call; returns the response message or raises ShegongError."""
        meth = self._method(method)
        if meth.streaming:
            raise ValueError("%s streams: use stream()" % meth.path)
        call_id = self._send(meth, self._request(meth, request, fields), timeout_ms)
        while True:
            f = self._frame()
            if f.call_id == call_id and f.flags & END_STREAM:
                break
        if meth.path != "/shegong.v1.Admin/Hello" and f.status.code != _types.UNAUTHENTICATED:
            self.authed = True
        if f.status.code != _types.OK:
            raise _error(f.status)
        resp = meth.response()
        resp.ParseFromString(f.payload)
        return resp

    def stream(self, method, request=None, timeout_ms=0, **fields):
        """Yields each message of a server stream; raises ShegongError if it ends badly."""
        meth = self._method(method)
        call_id = self._send(meth, self._request(meth, request, fields), timeout_ms)
        while True:
            f = self._frame()
            if f.call_id != call_id:
                continue
            if not f.flags & END_STREAM:
                m = meth.response()
                m.ParseFromString(f.payload)
                yield m
                continue
            if f.status.code != _types.OK:
                raise _error(f.status)
            return
