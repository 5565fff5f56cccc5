"""Integration-test harness: a real mosquitto broker, a real `twinctl serve`,
and an MQTT v5 client that speaks the wire contract (docs/contract.md).

Standard library plus Debian's python3-paho-mqtt (1.6.1).  Every wait is
bounded in time and every address is 127.0.0.1.

    with Broker() as broker, Controller(broker, "ctl-1") as ctl, \
            Client(broker) as client:
        accepted, final, columns, rows, events = client.run_scenario(
            "tank-overflow", controller="ctl-1")

The build directory comes from $TWIN_BUILD_DIR or from build_dir() given a
command-line argument; the source tree is the one holding this file.

A Broker can also open a TLS listener (tls_conf: its settings, its own
login and ACL), beside the plain one that the harness's own clients use;
a Client connects to it with tls= and username=/password=.

Every message a Client receives from a controller (a twin.response,
twin.result, twin.event or twin.status, or anything on a controller's
response, result, event or status topic) is validated against the JSON
Schemas of docs/schema/ (tests/schema_check.py, python3-jsonschema) when
the client closes; a violation fails the test there (HarnessError) and
in Tests.summary(), with the message and what is wrong.  Result messages
are validated in full once per run, columns and row shape (which values
are integers, reals or null): the rest of a run's results only for
their row lengths, so 86 401 results cost no more than a few.

A message whose MQTT v5 content type is application/cbor (a result of a
run that asked for "encoding": "cbor") is read with python3-cbor2, an
independent decoder: its rows (RFC 8746 tag 86, float64 little-endian,
row-major) become lists of floats, a value that is not finite None as in
the JSON form, so the checks above apply to both encodings alike.
"""

import csv
import json
import math
import os
import struct
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid

import cbor2
import paho.mqtt.client as mqtt
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

HOST = "127.0.0.1"
SOURCE_DIR = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
FINAL = ("finished", "failed", "cancelled", "rejected")

sys.path.insert(0, os.path.join(SOURCE_DIR, "tests"))
import schema_check  # noqa: E402

# What the controllers sent that does not fit docs/schema/, over every
# Client of this process: (topic, problems, first bytes).
SCHEMA_VIOLATIONS = []
SENT_KINDS = ("twin.response", "twin.result", "twin.event", "twin.status")


class HarnessError(Exception):
    """A check of the harness failed (the test fails with its message)."""


def build_dir(argv=None):
    """The build directory: argv[1] if given, else $TWIN_BUILD_DIR, else
    SOURCE_DIR/build."""
    argv = sys.argv if argv is None else argv
    d = argv[1] if len(argv) > 1 else os.environ.get("TWIN_BUILD_DIR")
    d = d or os.path.join(SOURCE_DIR, "build")
    return os.path.abspath(d)


def twinctl(build):
    return os.path.join(build, "controller", "twinctl")


def sanitized(build):
    """Is the build instrumented by a sanitizer (meson's b_sanitize, as
    scripts/sanitize sets it)?  AddressSanitizer keeps freed memory in its
    quarantine and never gives it back, so resident-memory figures of such
    a build say nothing about leaks (LeakSanitizer checks those at exit)."""
    path = os.path.join(build, "meson-info", "intro-buildoptions.json")
    try:
        with open(path) as f:
            opts = json.load(f)
    except (OSError, ValueError):
        return False
    for o in opts:
        if o.get("name") == "b_sanitize":
            v = o.get("value")
            return bool(v) and v not in ("none", ["none"])
    return False


def _deadline(timeout):
    return time.monotonic() + timeout


def _left(deadline):
    return max(0.0, deadline - time.monotonic())


def _stop_process(proc, timeout, stacks=False):
    """SIGTERM, then SIGKILL after timeout; returns (returncode, killed).
    With stacks, a process that outlives its timeout first has the stacks
    of all its threads printed (gdb, when there is one), so that a wedged
    controller says where it is stuck."""
    if proc.poll() is not None:
        return proc.returncode, False
    proc.send_signal(signal.SIGTERM)
    try:
        return proc.wait(timeout), False
    except subprocess.TimeoutExpired:
        if stacks:
            _print_stacks(proc.pid)
        proc.kill()
        return proc.wait(5), True


def _print_stacks(pid):
    gdb = shutil.which("gdb")
    if gdb is None:
        return
    try:
        out = subprocess.run([gdb, "-p", str(pid), "-batch", "-nx",
                              "-ex", "thread apply all bt"],
                             stdin=subprocess.DEVNULL, capture_output=True,
                             text=True, timeout=60).stdout
    except (OSError, subprocess.SubprocessError) as e:
        out = "gdb failed: %s" % e
    print("stacks of pid %d, which did not stop:\n%s" % (pid, out),
          file=sys.stderr, flush=True)


def _tail(path, n=40):
    try:
        with open(path, errors="replace") as f:
            return "".join(f.readlines()[-n:])
    except OSError:
        return ""


# --------------------------------------------------------------------------
# Broker

BROKER_CONF = """\
# Generated by tests/integration/harness.py for one test run.
listener {port} 127.0.0.1
allow_anonymous true
persistence false
# Result streams are many QoS 1 messages in a burst.  With mosquitto's
# defaults (max_queued_messages 1000, max_inflight_messages 20) messages
# beyond the queue of a slow subscriber are silently dropped; 0 means no
# maximum for both (the byte limits default to 0, no maximum, too).
max_queued_messages 0
max_inflight_messages 0
set_tcp_nodelay true
log_dest stderr
log_type error
log_type warning
log_type notice
log_type information
connection_messages true
"""


def free_port():
    """A loopback port that was free a moment ago (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


class Broker:
    """A private mosquitto on a free loopback port, for one test run.

    On exit it is stopped by its PID (SIGTERM, then SIGKILL); if it had
    died before that, __exit__ raises HarnessError with its log.

    tls_conf, when given, is the configuration of a second listener, with
    "{port}" where its port goes (a free one, in tls_port and tls_url):
    typically "listener {port} 127.0.0.1" and cafile, certfile, keyfile,
    and its own allow_anonymous, password_file and acl_file.  The broker
    then runs with per_listener_settings, so those settings hold for that
    listener only, and the first listener (url) stays open to the
    harness's own anonymous clients, which watch the controllers' status.
    """

    def __init__(self, mosquitto="mosquitto", start_timeout=10.0,
                 stop_timeout=5.0, extra_conf="", tls_conf=None):
        self.mosquitto = shutil.which(mosquitto) or \
            ("/usr/sbin/mosquitto" if os.path.exists("/usr/sbin/mosquitto")
             else mosquitto)
        self.start_timeout = start_timeout
        self.stop_timeout = stop_timeout
        self.extra_conf = extra_conf
        self.tls_conf = tls_conf
        self.dir = None
        self.proc = None
        self.port = None
        self.tls_port = None
        self.log = None

    @property
    def url(self):
        return "tcp://%s:%d" % (HOST, self.port)

    @property
    def tls_url(self):
        return "ssl://%s:%d" % (HOST, self.tls_port)

    def _accepts(self, port):
        try:
            with socket.create_connection((HOST, port), timeout=1):
                return True
        except OSError:
            return False

    def _start_once(self, port=None, tls_port=None):
        self.port = port or free_port()
        if self.tls_conf is not None:
            self.tls_port = tls_port or free_port()
        conf = os.path.join(self.dir, "mosquitto.conf")
        with open(conf, "w") as f:
            if self.tls_conf is not None:
                # Must come before any listener and security setting.
                f.write("per_listener_settings true\n")
            f.write(BROKER_CONF.format(port=self.port))
            f.write(self.extra_conf)
            if self.tls_conf is not None:
                f.write("\n" + self.tls_conf.replace("{port}",
                                                     str(self.tls_port)))
        self.log = os.path.join(self.dir, "mosquitto.log")
        logf = open(self.log, "ab")
        try:
            self.proc = subprocess.Popen(
                [self.mosquitto, "-c", conf], stdin=subprocess.DEVNULL,
                stdout=logf, stderr=subprocess.STDOUT)
        finally:
            logf.close()
        deadline = _deadline(self.start_timeout)
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                return False            # died: port taken, or a bad conf
            if self._accepts(self.port) and (
                    self.tls_port is None or self._accepts(self.tls_port)):
                return True
            time.sleep(0.02)
        _stop_process(self.proc, self.stop_timeout)
        raise HarnessError("mosquitto did not accept on port %d within %g s:"
                           "\n%s" % (self.port, self.start_timeout,
                                     _tail(self.log)))

    def start(self):
        self.dir = tempfile.mkdtemp(prefix="twin-broker-")
        for _ in range(5):              # the rare race for the free port
            if self._start_once():
                return self
        raise HarnessError("mosquitto would not start (exit %s):\n%s"
                           % (self.proc.returncode, _tail(self.log)))

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def outage(self, seconds, kill=False, freeze=0.0):
        """Stop the broker (SIGTERM, or SIGKILL with kill=True), keep it
        down for `seconds`, start it again on the same port.  freeze > 0:
        first SIGSTOP it for that long (its clients' sockets fill: their
        writes end part-way), then SIGKILL it."""
        if freeze > 0:
            self.proc.send_signal(signal.SIGSTOP)
            time.sleep(freeze)
            kill = True
        if kill:
            self.proc.kill()
            self.proc.wait(self.stop_timeout)
        else:
            _stop_process(self.proc, self.stop_timeout)
        time.sleep(seconds)
        if not self._start_once(self.port, self.tls_port):
            raise HarnessError("mosquitto would not start again on port %d:"
                               "\n%s" % (self.port, _tail(self.log)))

    def stop(self):
        """Stop it; returns a problem sentence, or None."""
        if self.proc is None:
            return None
        problem = None
        if self.proc.poll() is not None:
            problem = ("mosquitto died unexpectedly (exit %s):\n%s"
                       % (self.proc.returncode, _tail(self.log)))
        else:
            rc, killed = _stop_process(self.proc, self.stop_timeout)
            if killed:
                problem = "mosquitto ignored SIGTERM and was killed"
        self.proc = None
        if problem is None:
            shutil.rmtree(self.dir, ignore_errors=True)
        return problem

    def __enter__(self):
        return self.start()

    def __exit__(self, etype, value, tb):
        problem = self.stop()
        if problem:
            if etype is None:
                raise HarnessError(problem)
            print("harness: " + problem, file=sys.stderr)
        return False


# --------------------------------------------------------------------------
# Client


def cbor_result(raw):
    """A CBOR twin.result/1 message as its JSON form: rows (tag 86 over
    float64 little-endian, row-major, as many per row as columns) as lists
    of floats, a value that is not finite None.  Raises ValueError when it
    does not have that shape."""
    p = cbor2.loads(raw)
    if not isinstance(p, dict):
        raise ValueError("not a map")
    rows = p.get("rows")
    n = len(p.get("columns") or ())
    if not isinstance(rows, cbor2.CBORTag) or rows.tag != 86 or \
            not isinstance(rows.value, bytes) or n == 0 or \
            len(rows.value) % (8 * n):
        raise ValueError("rows are not a tag 86 typed array of whole rows")
    values = struct.unpack("<%dd" % (len(rows.value) // 8), rows.value)
    p["rows"] = [[v if math.isfinite(v) else None for v in values[i:i + n]]
                 for i in range(0, len(values), n)]
    return p


class Message:
    """One received message: topic, payload (parsed JSON, or CBOR as its
    JSON form, see cbor_result; None when it is neither), raw bytes, retain
    flag, MQTT v5 properties, content type, arrival time."""

    __slots__ = ("topic", "payload", "raw", "retain", "properties", "time",
                 "content_type")

    def __init__(self, msg):
        self.topic = msg.topic
        self.raw = msg.payload
        self.retain = bool(msg.retain)
        self.properties = getattr(msg, "properties", None)
        self.content_type = getattr(self.properties, "ContentType", None)
        self.time = time.monotonic()
        try:
            if self.content_type == "application/cbor":
                self.payload = cbor_result(msg.payload)
            else:
                self.payload = json.loads(msg.payload.decode("utf-8"))
        except (ValueError, UnicodeDecodeError, cbor2.CBORDecodeError):
            self.payload = None

    @property
    def correlation(self):
        p = self.properties
        return getattr(p, "CorrelationData", None) if p is not None else None

    def __repr__(self):
        return "<%s %s>" % (self.topic, self.raw[:200])


def topic_matches(pattern, topic):
    return mqtt.topic_matches_sub(pattern, topic)


def _controller_topic(topic):
    """Is topic one a controller publishes to (P/C/response/..., result,
    event, status)?"""
    parts = topic.split("/")
    return (len(parts) >= 3 and parts[2] in ("response", "result", "event")
            and len(parts) >= 4) or (len(parts) == 3 and parts[2] == "status")


class SchemaWatch:
    """Validates what controllers sent among a Client's messages (see the
    module's docstring)."""

    def __init__(self):
        self.checked = 0
        self.seen = 0
        self.result_shapes = set()

    @staticmethod
    def _shape(row):
        return tuple("n" if v is None else "i" if isinstance(v, int) and
                     not isinstance(v, bool) else "f" if isinstance(v, float)
                     else type(v).__name__ for v in row) \
            if isinstance(row, list) else type(row).__name__

    def _result_key(self, p):
        rows = p.get("rows")
        shapes = frozenset(self._shape(r) for r in rows) \
            if isinstance(rows, list) else None
        seq = p.get("seq")
        rest = {k: v for k, v in p.items() if k not in ("rows", "seq")}
        return (json.dumps(rest, sort_keys=True), shapes,
                isinstance(seq, int) and not isinstance(seq, bool)
                and seq >= 0)

    def problems(self, m):
        """What is wrong with message m, as schema_check says ([] when it
        is fine or not the controllers')."""
        p = m.payload
        kind = schema_check.kind_of(p)
        if kind not in SENT_KINDS:
            if _controller_topic(m.topic) and not (
                    isinstance(p, dict) and kind is not None):
                return ["not a twin message (no response, result, event or "
                        "status contract)"]
            return []
        self.seen += 1
        if kind == "twin.result":
            key = self._result_key(p)
            if key in self.result_shapes:
                return schema_check.wire_rules(kind, p)
            problems = schema_check.validate(kind, p)
            if not problems:
                self.result_shapes.add(key)
            return problems
        return schema_check.validate(kind, p)

    def check(self, messages):
        """Validate the messages not checked yet; returns the violations
        (and records them in SCHEMA_VIOLATIONS)."""
        found = []
        for m in messages[self.checked:]:
            bad = self.problems(m)
            if bad:
                found.append((m.topic, bad[:5], m.raw[:300]))
        self.checked = len(messages)
        SCHEMA_VIOLATIONS.extend(found)
        return found


def schema_report(violations, show=5):
    lines = ["%d message(s) sent by a controller do not fit docs/schema/:"
             % len(violations)]
    for topic, bad, raw in violations[:show]:
        lines.append("  %s: %s\n    %r" % (topic, "; ".join(bad), raw))
    return "\n".join(lines)


class Request:
    """What request() returns: the request as sent and where its answers
    arrive.  `controller` is the one addressed (None for the pool until a
    response names one)."""

    def __init__(self, client, obj, controller, response_topic, correlation,
                 first_index):
        self.client = client
        self.obj = obj
        self.id = obj.get("id")
        self.run = obj.get("run", self.id) if obj.get("type") == "run" \
            else obj.get("run")
        self.controller = controller
        self.response_topic = response_topic
        self.correlation = correlation
        self.first_index = first_index

    def _is_response(self, m):
        if not topic_matches(self.response_topic, m.topic):
            return False
        if self.correlation is not None and m.correlation != self.correlation:
            return False
        p = m.payload
        return isinstance(p, dict) and p.get("id") == self.id

    def responses(self, count=1, timeout=10.0):
        """The first `count` responses (waits for them)."""
        got = self.client.wait(self._is_response, count, timeout,
                               self.first_index)
        for m in got:
            c = m.payload.get("controller")
            if self.controller is None and c is not None:
                self.controller = c
        return got

    def received(self):
        """Every response to this request received so far (no waiting)."""
        return [m.payload for m in self.client.messages(self._is_response,
                                                        self.first_index)]

    def response(self, timeout=10.0):
        return self.responses(1, timeout)[0].payload

    def final(self, timeout=60.0):
        """The first response whose status is final (or `ok` for a request
        that is not a run)."""
        want = FINAL if self.obj.get("type") == "run" else FINAL + ("ok",)

        def pred(m):
            return self._is_response(m) and m.payload.get("status") in want
        m = self.client.wait(pred, 1, timeout, self.first_index)[0]
        self.controller = self.controller or m.payload.get("controller")
        return m.payload


class Client:
    """A paho MQTT v5 client on the test broker that keeps every message it
    receives (in arrival order) and waits for them with time limits."""

    def __init__(self, broker, prefix="twin", client_id=None,
                 connect_timeout=10.0, url=None, tls=None, username=None,
                 password=None, validate=True):
        """url: where to connect (default: the broker's plain listener);
        tls: a dict of paho's tls_set() arguments (ca_certs, certfile,
        keyfile) for a TLS listener; username and password: the login;
        validate: check what controllers sent against docs/schema/ at
        close (a test that publishes bad ones itself turns it off)."""
        self.schemas = SchemaWatch() if validate else None
        self.url = url or (broker.url if hasattr(broker, "url") else broker)
        host, port = parse_url(self.url)
        self.host, self.port = host, port
        self.prefix = prefix
        self.connect_timeout = connect_timeout
        self.client_id = client_id or "test-" + uuid.uuid4().hex[:12]
        self._cond = threading.Condition()
        self._messages = []
        self._acks = {}
        self._connected = None
        self._subscribed = set()
        self.mqtt = mqtt.Client(client_id=self.client_id,
                                protocol=mqtt.MQTTv5)
        self.mqtt.max_inflight_messages_set(0)
        if tls is not None:
            self.mqtt.tls_set(**tls)
        if username is not None:
            self.mqtt.username_pw_set(username, password)
        self.mqtt.on_connect = self._on_connect
        self.mqtt.on_message = self._on_message
        self.mqtt.on_subscribe = self._on_subscribe

    # callbacks (paho's network thread)
    def _on_connect(self, client, userdata, flags, rc, properties=None):
        with self._cond:
            again = self._connected == 0 and rc == 0
            self._connected = rc
            self._cond.notify_all()
            topics = sorted(self._subscribed) if again else []
        # paho reconnects by itself after a broker outage; with a clean
        # start the subscriptions must be made again.
        for t in topics:
            client.subscribe(t, qos=1)

    def _on_message(self, client, userdata, msg):
        m = Message(msg)
        with self._cond:
            self._messages.append(m)
            self._cond.notify_all()

    def _on_subscribe(self, client, userdata, mid, rcs, properties=None):
        with self._cond:
            self._acks[mid] = rcs
            self._cond.notify_all()

    def connect(self):
        self.mqtt.connect(self.host, self.port, keepalive=30,
                          clean_start=True)
        self.mqtt.loop_start()
        deadline = _deadline(self.connect_timeout)
        with self._cond:
            while self._connected is None and _left(deadline) > 0:
                self._cond.wait(_left(deadline))
            rc = self._connected
        if rc is None or rc != 0:
            self.mqtt.loop_stop()
            raise HarnessError("MQTT connect to %s failed: %s" % (self.url,
                                                                 rc))
        return self

    def close(self):
        self.mqtt.disconnect()
        self.mqtt.loop_stop()
        self.check_schemas()

    def check_schemas(self):
        """Raise HarnessError when a message a controller sent (since the
        last check) does not fit its schema."""
        if self.schemas is None:
            return
        with self._cond:
            ms = list(self._messages)
        found = self.schemas.check(ms)
        if found:
            raise HarnessError(schema_report(found))

    def __enter__(self):
        return self.connect()

    def __exit__(self, *exc):
        self.close()
        return False

    def subscribe(self, *topics, timeout=10.0):
        """Subscribe (QoS 1) and wait for the SUBACK; a topic already
        subscribed is skipped."""
        new = [t for t in topics if t not in self._subscribed]
        if not new:
            return
        rc, mid = self.mqtt.subscribe([(t, 1) for t in new])
        if rc != mqtt.MQTT_ERR_SUCCESS:
            raise HarnessError("subscribe %s: %s" % (new, mqtt.error_string(rc)))
        deadline = _deadline(timeout)
        with self._cond:
            while mid not in self._acks and _left(deadline) > 0:
                self._cond.wait(_left(deadline))
            rcs = self._acks.pop(mid, None)
        if rcs is None:
            raise HarnessError("no SUBACK for %s within %g s" % (new, timeout))
        bad = [str(r) for r in rcs if int(getattr(r, "value", r)) >= 0x80]
        if bad:
            raise HarnessError("subscribe %s refused: %s" % (new, bad))
        self._subscribed.update(new)

    def publish(self, topic, payload, qos=1, retain=False, properties=None,
                timeout=10.0):
        if not isinstance(payload, (bytes, bytearray, str)):
            payload = json.dumps(payload)
        info = self.mqtt.publish(topic, payload, qos=qos, retain=retain,
                                 properties=properties)
        info.wait_for_publish(timeout)
        if qos > 0 and not info.is_published():
            raise HarnessError("publish to %s not acknowledged within %g s"
                               % (topic, timeout))

    def mark(self):
        """An index into the messages received so far (for wait's start)."""
        with self._cond:
            return len(self._messages)

    def messages(self, pred=None, start=0):
        with self._cond:
            ms = self._messages[start:]
        return [m for m in ms if pred is None or pred(m)]

    def wait(self, pred, count=1, timeout=10.0, start=0):
        """Wait until `count` messages from index `start` on satisfy pred;
        return them.  Raises HarnessError on timeout."""
        deadline = _deadline(timeout)
        found, scanned = [], start
        with self._cond:
            while True:
                for m in self._messages[scanned:]:
                    if pred(m):
                        found.append(m)
                scanned = len(self._messages)
                if len(found) >= count:
                    return found[:count]
                if _left(deadline) <= 0:
                    break
                self._cond.wait(_left(deadline))
        raise HarnessError("waited %g s for %d message(s), got %d: %s"
                           % (timeout, count, len(found), found[-3:]))

    # ----- the contract

    def topic(self, controller, *rest):
        return "/".join((self.prefix, controller) + rest)

    def request(self, obj, controller=None, pool=False, response_topic=None,
                correlation=None, timeout=10.0, subscribe_results=None):
        """Publish a request to P/C/request (or P/pool/request) after
        subscribing to where its answers arrive: the response topic if given
        (sent as the MQTT v5 property, with correlation data), else
        P/C/response/<id> (P/+/response/<id> for the pool); for a run also
        P/C/result/<run> and P/C/event/<run> (P/+/... for the pool).

        obj is a dict (an `id` and `contract` are added if missing), or str
        / bytes sent as they are.  Returns a Request."""
        if (controller is None) == (not pool):
            raise ValueError("give a controller or pool=True")
        raw = None
        if isinstance(obj, (str, bytes, bytearray)):
            raw, obj = obj, {}
        else:
            obj = dict(obj)
            obj.setdefault("contract", "twin.request/1")
            obj.setdefault("id", "req-" + uuid.uuid4().hex[:16])
        c = "+" if pool else controller
        rid = obj.get("id")
        rtopic = response_topic or (self.topic(c, "response", rid)
                                    if rid else self.topic(c, "response", "#"))
        topics = [rtopic]
        if subscribe_results is None:
            subscribe_results = obj.get("type") == "run"
        run = obj.get("run", rid)
        if subscribe_results and run:
            topics += [self.topic(c, "result", run), self.topic(c, "event", run)]
        self.subscribe(*topics, timeout=timeout)
        props = None
        if response_topic is not None or correlation is not None:
            props = Properties(PacketTypes.PUBLISH)
            if response_topic is not None:
                props.ResponseTopic = response_topic
            if correlation is not None:
                props.CorrelationData = correlation if isinstance(
                    correlation, bytes) else correlation.encode()
        corr = props.CorrelationData if props is not None and \
            correlation is not None else None
        start = self.mark()
        dest = self.topic("pool", "request") if pool else \
            self.topic(controller, "request")
        self.publish(dest, raw if raw is not None else json.dumps(obj),
                     properties=props, timeout=timeout)
        return Request(self, obj, None if pool else controller, rtopic, corr,
                       start)

    def results(self, controller, run, last_seq, timeout=30.0, start=0):
        """Every result message of a run, seq 0 … last_seq, in seq order.
        Waits (bounded) for missing ones; checks contiguity, no seq beyond
        last_seq, duplicates identical, contract and run members."""
        topic = self.topic(controller, "result", run)
        deadline = _deadline(timeout)
        while True:
            got = {}
            for m in self.messages(lambda m: m.topic == topic, start):
                p = m.payload
                if not isinstance(p, dict):
                    raise HarnessError("result on %s is not JSON: %r"
                                       % (topic, m.raw[:200]))
                if p.get("contract") != "twin.result/1" or p.get("run") != run:
                    raise HarnessError("bad result message: %r" % m.raw[:300])
                seq = p.get("seq")
                if not isinstance(seq, int) or seq < 0 or seq > last_seq:
                    raise HarnessError("result seq %r outside 0..%d"
                                       % (seq, last_seq))
                if seq in got and got[seq] != p:
                    raise HarnessError("seq %d received twice, different" % seq)
                got[seq] = p
            if len(got) == last_seq + 1:
                return [got[s] for s in range(last_seq + 1)]
            if _left(deadline) <= 0:
                missing = [s for s in range(last_seq + 1) if s not in got]
                raise HarnessError("run %s: results seq %s missing after %g s"
                                   % (run, missing[:20], timeout))
            with self._cond:
                self._cond.wait(min(0.1, _left(deadline)))

    def events(self, controller, run, start=0):
        topic = self.topic(controller, "event", run)
        return [m.payload for m in self.messages(lambda m: m.topic == topic,
                                                 start)]

    def run_scenario(self, scenario, controller=None, pool=False, run=None,
                     request_id=None, response_topic=None, correlation=None,
                     timeout=60.0, extra=None):
        """Send a `run` of a scenario (object or stored name), wait for the
        final response and every result.  Returns (accepted, final, columns,
        rows, events); accepted is None (and columns/rows empty) when the
        run was rejected.  Checks the seq contiguity, that every result
        message repeats the accepted columns, and that the row count matches
        `finished`."""
        obj = {"contract": "twin.request/1",
               "id": request_id or "run-" + uuid.uuid4().hex[:16],
               "type": "run", "scenario": scenario}
        if run is not None:
            obj["run"] = run
        obj.update(extra or {})
        req = self.request(obj, controller=controller, pool=pool,
                           response_topic=response_topic,
                           correlation=correlation, timeout=min(timeout, 10))
        first = req.response(timeout=min(timeout, 10))
        if first.get("status") == "rejected":
            return None, first, [], [], []
        if first.get("status") != "accepted":
            raise HarnessError("first response is not accepted/rejected: %r"
                               % first)
        accepted = first
        ctl = accepted.get("controller")
        if not pool and ctl != controller:
            raise HarnessError("accepted by %r, sent to %r" % (ctl, controller))
        runid = accepted.get("run", req.run)
        final = req.final(timeout)
        if final.get("controller") != ctl:
            raise HarnessError("final response from %r, accepted by %r"
                               % (final.get("controller"), ctl))
        last = final.get("last_seq")
        if not isinstance(last, int):
            raise HarnessError("final response without last_seq: %r" % final)
        msgs = self.results(ctl, runid, last, timeout=min(timeout, 30),
                            start=req.first_index)
        columns = accepted.get("columns")
        rows = []
        for p in msgs:
            if columns is not None and p.get("columns") != columns:
                raise HarnessError("seq %s columns %r differ from accepted %r"
                                   % (p.get("seq"), p.get("columns"), columns))
            columns = columns or p.get("columns")
            rows.extend(p.get("rows", []))
        if "rows" in final and final["rows"] != len(rows):
            raise HarnessError("final says %s rows, got %d"
                               % (final["rows"], len(rows)))
        events = self.events(ctl, runid, req.first_index)
        return accepted, final, columns or [], rows, events


def parse_url(url):
    """tcp://host:port, mqtt://host:port, ssl://host:port, mqtts://host:port
    or host[:port] → (host, port)."""
    for scheme in ("tcp://", "mqtt://", "ssl://", "mqtts://"):
        if url.startswith(scheme):
            url = url[len(scheme):]
    host, _, port = url.rpartition(":")
    if not host:
        return url, 1883
    return host, int(port)


# --------------------------------------------------------------------------
# What a controller's process holds


def proc_status(pid, field):
    """A figure of /proc/<pid>/status in kB (VmRSS, VmHWM: resident memory
    now and at its peak)."""
    with open("/proc/%d/status" % pid) as f:
        for ln in f:
            if ln.startswith(field + ":"):
                return int(ln.split()[1])
    raise HarnessError("no %s for process %d" % (field, pid))


def spool_reservation(prefix, cid, request_id, run, columns, rows,
                      paced_seconds=0.0, event_bytes=1 << 20,
                      batch_rows=500, batch_delay=0.020, reply_topic=None,
                      correlation_len=0, result_topic=None,
                      event_topic=None, functions=()):
    """The bytes a run reserves in its controller's spool, by the formula
    of docs/spool.md ("The spool's bound"), written out here independently
    of the C: its result messages (rows of values of at most 24
    characters, in batches of batch_rows, with the partial batches sent
    early), its events' share and its two responses (functions: the names
    of the scenario's functions, whose values the final one carries)."""
    def ceil_div(a, b):
        return -(-a // b)
    result_topic = result_topic or "%s/%s/result/%s" % (prefix, cid, run)
    event_topic = event_topic or "%s/%s/event/%s" % (prefix, cid, run)
    reply_topic = reply_topic or "%s/%s/response/%s" % (prefix, cid,
                                                        request_id)
    cols = json.dumps(columns, separators=(",", ":"), ensure_ascii=False)
    head = '{"contract":"twin.result/1","run":%s,"seq":' % json.dumps(run)
    middle = ',"columns":%s,"rows":[' % cols
    record = 33                             # a journal record's fixed part
    msg_max = record + len(result_topic) + len(head) + 20 + len(middle) + 2
    row_max = len(columns) * 25 + 2
    full = ceil_div(rows, batch_rows)
    if batch_delay <= 0:
        early = rows
    elif paced_seconds > 0:
        early = math.ceil(paced_seconds / batch_delay)
    else:
        early = full
    early = min(rows, early + 16)
    results = (full + early) * msg_max + rows * row_max
    ev_over = record + len(event_topic)
    events = event_bytes + sum(ev_over + 1024 + 2 * len(c) for c in columns)
    if paced_seconds > 0:
        events += (math.ceil(paced_seconds) + 2) * (ev_over + 320 + len(run))
    withheld = ev_over + 1024
    ids = len(request_id or "") + len(run) + len(cid)
    response = record + len(reply_topic) + correlation_len + ids
    return (results + events + withheld + 2 * response + 1024 + len(cols)
            + 8192 + sum(2304 + 2 * len(f) for f in functions))


def run_csv(scenario, build=None):
    """`twinctl run`'s CSV of a scenario (a dict), as text: the reference
    that results over MQTT are compared with, byte for byte."""
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "s.json")
        with open(path, "w") as f:
            json.dump(scenario, f)
        subprocess.run([twinctl(build or build_dir([])), "run", "-q", path,
                        "-o", os.path.join(d, "ref.csv")], check=True,
                       timeout=120)
        with open(os.path.join(d, "ref.csv")) as f:
            return f.read()


def run_rows(scenario, build=None, header=False):
    """`twinctl run`'s rows of a scenario (a dict), as floats (and its
    CSV header first, if asked): the independent form a controller's
    results are compared with."""
    rows = list(csv.reader(run_csv(scenario, build).splitlines()))
    values = [[float(x) for x in r] for r in rows[1:]]
    return (rows[0], values) if header else values


def tank_farm(n, hours, speed=None):
    """examples/gen_tank_farm.py's tank-farm-N scenario over `hours`, paced
    at `speed` when given."""
    out = subprocess.run(
        [sys.executable, os.path.join(SOURCE_DIR, "examples",
                                      "gen_tank_farm.py"), str(n), "--stop",
         str(int(hours * 3600))] +
        (["--realtime", str(speed)] if speed else []),
        check=True, capture_output=True, text=True, timeout=60)
    return json.loads(out.stdout)


# --------------------------------------------------------------------------
# Controller


class Controller:
    """`twinctl serve` with a generated config file, for one test.

    Waits (bounded) for its live `online` status; on exit sends SIGTERM and
    checks that it exited 0 within stop_timeout and published `offline`
    (raises HarnessError otherwise).  Its stderr is kept in `log` and shown
    when something goes wrong."""

    def __init__(self, broker, cid="ctl-1", build=None, prefix="twin",
                 group="twin", limits=None, allow=None, extra_args=(),
                 models=None, instances=None, scenarios=None,
                 start_timeout=10.0, stop_timeout=10.0, config_extra=None,
                 preexec_fn=None, env=None):
        self.broker = broker
        self.env = env                 # more environment for the daemon
        self.preexec_fn = preexec_fn   # run in the daemon before exec
        self.id = cid
        self.build = build or build_dir([])
        self.prefix = prefix
        self.group = group
        self.start_timeout = start_timeout
        self.stop_timeout = stop_timeout
        self.extra_args = list(extra_args)
        # A twinctl run from its build tree loads BUILD/models by itself;
        # `models` adds directories to that.
        self.config = {
            "id": cid, "broker": broker.url, "prefix": prefix, "group": group,
            "instances": instances or os.path.join(SOURCE_DIR,
                                                   "instance-library"),
            "scenarios": scenarios or os.path.join(SOURCE_DIR, "scenarios"),
        }
        if models:
            self.config["models"] = list(models)
        if limits:
            self.config["limits"] = limits
        if allow:
            self.config["allow"] = allow
        self.config.update(config_extra or {})
        self.dir = None
        self.proc = None
        self.log = None
        self.watch = None
        self.status = None

    def _status_topic(self):
        return "%s/%s/status" % (self.prefix, self.id)

    def start(self):
        self.dir = tempfile.mkdtemp(prefix="twin-ctl-")
        # A spool of its own, unless the test gives one (a restart test
        # starts a second daemon on the first one's spool).
        self.config.setdefault("spool", os.path.join(self.dir, "spool"))
        conf = os.path.join(self.dir, "config.json")
        with open(conf, "w") as f:
            json.dump(self.config, f, indent=1)
        self.log = os.path.join(self.dir, "serve.log")
        # Subscribe before starting, so the live `online` (retain flag 0)
        # cannot be mistaken for a retained one left by an earlier run.
        self.watch = Client(self.broker, prefix=self.prefix).connect()
        self.watch.subscribe(self._status_topic())
        start = self.watch.mark()
        logf = open(self.log, "ab")
        try:
            self.proc = subprocess.Popen(
                [twinctl(self.build), "serve", "--config", conf]
                + self.extra_args, stdin=subprocess.DEVNULL,
                stdout=logf, stderr=subprocess.STDOUT,
                preexec_fn=self.preexec_fn,
                env=dict(os.environ, **self.env) if self.env else None)
        finally:
            logf.close()
        deadline = _deadline(self.start_timeout)
        topic = self._status_topic()

        def online(m):
            return (m.topic == topic and not m.retain
                    and isinstance(m.payload, dict)
                    and m.payload.get("state") == "online")
        while True:
            ms = self.watch.messages(online, start)
            if ms:
                self.status = ms[0].payload
                return self
            if self.proc.poll() is not None:
                self._fail_start("exited with %s before going online"
                                 % self.proc.returncode)
            if _left(deadline) <= 0:
                self._fail_start("not online within %g s" % self.start_timeout)
            with self.watch._cond:
                self.watch._cond.wait(min(0.05, _left(deadline)))

    def _fail_start(self, why):
        if self.proc.poll() is None:
            _stop_process(self.proc, 2)
        self.watch.close()
        raise HarnessError("twinctl serve %s %s; its log:\n%s"
                           % (self.id, why, _tail(self.log)))

    def stop(self):
        """SIGTERM; returns a list of problem sentences (empty when it
        exited 0 in time and published offline)."""
        if self.proc is None:
            return []
        problems = []
        start = self.watch.mark()
        if self.proc.poll() is not None:
            problems.append("twinctl serve %s died during the test (exit %s)"
                            % (self.id, self.proc.returncode))
        else:
            rc, killed = _stop_process(self.proc, self.stop_timeout,
                                          stacks=True)
            if killed:
                problems.append("twinctl serve %s did not stop within %g s of "
                                "SIGTERM (killed)" % (self.id,
                                                     self.stop_timeout))
            elif rc != 0:
                problems.append("twinctl serve %s exited %s on SIGTERM"
                                % (self.id, rc))
            else:
                topic = self._status_topic()
                try:
                    self.watch.wait(lambda m: m.topic == topic and isinstance(
                        m.payload, dict) and m.payload.get("state") ==
                        "offline", 1, 5.0, start)
                except HarnessError:
                    problems.append("twinctl serve %s stopped without "
                                    "publishing offline" % self.id)
        self.proc = None
        try:
            self.watch.close()
        except HarnessError as e:
            problems.append(str(e))
        if problems:
            problems[-1] += "; its log:\n" + _tail(self.log)
        else:
            shutil.rmtree(self.dir, ignore_errors=True)
        return problems

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def kill(self):
        """SIGKILL, as a crash or a power loss ends it: its spool stays as
        it was left, for a controller started again on it."""
        self.proc.kill()
        self.proc.wait(5)
        self.proc = None
        self.watch.close()
        shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self):
        return self.start()

    def __exit__(self, etype, value, tb):
        problems = self.stop()
        if problems:
            if etype is None:
                raise HarnessError("\n".join(problems))
            print("harness: " + "\n".join(problems), file=sys.stderr)
        return False


# --------------------------------------------------------------------------
# A tiny runner for test scripts


class Tests:
    """Collects named checks; `summary()` prints `N passed, N failed` and
    returns the exit status."""

    def __init__(self):
        self.passed = 0
        self.failed = 0

    def check(self, name, fn, *args, **kw):
        t0 = time.monotonic()
        try:
            fn(*args, **kw)
        except Exception as e:          # a failed check, whatever raised it
            self.failed += 1
            print("FAIL %s: %s: %s" % (name, type(e).__name__, e))
            return False
        self.passed += 1
        print("ok   %s (%.2f s)" % (name, time.monotonic() - t0))
        return True

    def summary(self):
        if SCHEMA_VIOLATIONS:
            self.failed += 1
            print("FAIL every message sent fits docs/schema/: %s"
                  % schema_report(SCHEMA_VIOLATIONS))
        print("%d passed, %d failed" % (self.passed, self.failed))
        return 1 if self.failed or not self.passed else 0
