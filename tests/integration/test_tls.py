#!/usr/bin/env python3
"""TLS, the login and the ACL against a real mosquitto, with a throwaway CA,
server and client certificates made here with openssl:

(a) `twinctl serve` given the right CA connects over TLS and answers a run
    that `twinctl submit` sends over TLS (the CSV equals `twinctl run`'s);
(b) with the wrong CA (or none, or a certificate for another host name)
    the connection fails with one clear log line that names the CA file;
(c) examples/mosquitto-secure.conf and examples/acl: a controller logged in
    as its id takes its requests (and the pool's) and publishes its
    results; a client logged in as another controller receives nothing of
    twin/ctl-1/request (mosquitto 2.0.11 grants the subscription and then
    delivers nothing) and cannot publish on twin/ctl-1/result/x (the broker
    answers "not authorised" and closes its connection); a response the ACL
    forbids is not used: the answer comes on the controller's own topic;
    a wrong password is refused with a clear log line; no command takes a
    password as a flag; an orchestrator's valid login that connects with
    the controller's client id does not take its connection over
    (use_username_as_clientid); a controller given its password in
    TWIN_MQTT_PASSWORD leaves it out of its runs' environment (and its
    own);
(d) what OpenSSL can tell at start stops the command with its own
    sentence (a CA file that is not PEM, a client key that is not the
    certificate's); a broker certificate that has expired, or is not
    valid yet, is named as such, not as a CA file to check.

Usage: python3 tests/integration/test_tls.py BUILD_DIR"""

import csv
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (HOST, Broker, Client, Controller, HarnessError,  # noqa: E402
                     SOURCE_DIR, Tests, build_dir, free_port, twinctl)

BUILD = build_dir()
TWINCTL = twinctl(BUILD)
EXAMPLES = os.path.join(SOURCE_DIR, "examples")
SCENARIO = os.path.join(SOURCE_DIR, "scenarios", "tank-overflow.json")
PASSWORDS = {"ctl-1": "pw-ctl-1", "ctl-2": "pw-ctl-2",
             "orchestrator": "pw-orchestrator"}

# openssl's configuration for the throwaway certificates, so that nothing
# depends on the system's openssl.cnf.
OPENSSL_CNF = """\
[req]
distinguished_name = dn
[dn]
[ca]
basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
[server]
basicConstraints = CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = serverAuth
subjectAltName = IP:127.0.0.1, DNS:localhost
[elsewhere]
basicConstraints = CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = serverAuth
subjectAltName = DNS:elsewhere.example
[client]
basicConstraints = CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = clientAuth
"""

# `openssl ca`, for server certificates with given dates (openssl 3.0's
# x509 -req only counts days from now).
CA_CNF = """\
[ca]
default_ca = testca
[testca]
database = {dir}/index.txt
new_certs_dir = {dir}
serial = {dir}/serial
default_md = sha256
policy = any
unique_subject = no
[any]
commonName = supplied
"""


def expect(cond, what):
    if not cond:
        raise HarnessError(what)


def run(cmd, timeout=60, env=None, **kw):
    return subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True,
                          text=True, timeout=timeout, env=env, **kw)


class Pki:
    """A CA, a server certificate for 127.0.0.1 and localhost, one for
    another host name, a client certificate, another CA that signed none of
    them, and mosquitto's password file — all in a temporary directory."""

    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="twin-tls-")
        # Started as root, mosquitto drops to the user "mosquitto" before it
        # reads the key, the password file and the ACL.
        os.chmod(self.dir, 0o755)
        self.cnf = self.path("openssl.cnf")
        with open(self.cnf, "w") as f:
            f.write(OPENSSL_CNF)
        self._ca("ca", "twinctl test CA")
        self._ca("other-ca", "twinctl other CA")
        self._leaf("server", "127.0.0.1", "server")
        self._leaf("elsewhere", "elsewhere.example", "elsewhere")
        self._leaf("client", "twinctl test client", "client")
        # A broker certificate that expired, one not valid yet.
        with open(self.path("ca-db.cnf"), "w") as f:
            f.write(CA_CNF.format(dir=self.dir))
        open(self.path("index.txt"), "w").close()
        with open(self.path("serial"), "w") as f:
            f.write("1000\n")
        self._dated("expired", "20200101000000Z", "20200102000000Z")
        self._dated("future", "20991231000000Z", "21000101000000Z")
        # The CA in DER form: not what a CA file holds.
        self._openssl("x509", "-in", self.path("ca.crt"), "-outform", "der",
                      "-out", self.path("ca.der"))
        self.passwd = self.path("passwd")
        for i, (user, pw) in enumerate(sorted(PASSWORDS.items())):
            r = run(["mosquitto_passwd"] + (["-c"] if i == 0 else [])
                    + ["-b", self.passwd, user, pw])
            expect(r.returncode == 0, "mosquitto_passwd: " + r.stderr)
            with open(self.path(user + ".pw"), "w") as f:
                f.write(pw + "\n")
        with open(self.path("wrong.pw"), "w") as f:
            f.write("not-the-password\n")
        for name in os.listdir(self.dir):
            os.chmod(self.path(name), 0o644)

    def path(self, name):
        return os.path.join(self.dir, name)

    def _openssl(self, *args):
        r = run(["openssl"] + list(args))
        expect(r.returncode == 0, "openssl %s: %s" % (args[0], r.stderr))

    def _ca(self, name, cn):
        self._openssl("req", "-x509", "-config", self.cnf, "-extensions",
                      "ca", "-newkey", "ec", "-pkeyopt",
                      "ec_paramgen_curve:P-256", "-nodes", "-keyout",
                      self.path(name + ".key"), "-out",
                      self.path(name + ".crt"), "-days", "2", "-subj",
                      "/CN=" + cn)

    def _leaf(self, name, cn, ext):
        self._openssl("req", "-new", "-config", self.cnf, "-newkey", "ec",
                      "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                      "-keyout", self.path(name + ".key"), "-out",
                      self.path(name + ".csr"), "-subj", "/CN=" + cn)
        self._openssl("x509", "-req", "-in", self.path(name + ".csr"),
                      "-CA", self.path("ca.crt"), "-CAkey",
                      self.path("ca.key"), "-set_serial",
                      str(uuid.uuid4().int >> 65), "-days", "2",
                      "-extfile", self.cnf, "-extensions", ext, "-out",
                      self.path(name + ".crt"))

    def _dated(self, name, start, end):
        self._openssl("req", "-new", "-config", self.cnf, "-newkey", "ec",
                      "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                      "-keyout", self.path(name + ".key"), "-out",
                      self.path(name + ".csr"), "-subj", "/CN=127.0.0.1")
        self._openssl("ca", "-batch", "-config", self.path("ca-db.cnf"),
                      "-cert", self.path("ca.crt"), "-keyfile",
                      self.path("ca.key"), "-in", self.path(name + ".csr"),
                      "-startdate", start, "-enddate", end, "-notext",
                      "-extfile", self.cnf, "-extensions", "server", "-out",
                      self.path(name + ".crt"))

    def client_tls(self):
        """paho (Python) tls_set() arguments for a client of the broker."""
        return {"ca_certs": self.path("ca.crt"),
                "certfile": self.path("client.crt"),
                "keyfile": self.path("client.key")}

    def remove(self):
        shutil.rmtree(self.dir, ignore_errors=True)


def plain_tls_conf(pki, second_port, first="server", second="elsewhere"):
    """A TLS listener with anonymous clients and the certificate `first`
    (test a and b: one for 127.0.0.1), and a second one with `second`
    (one that names another host)."""
    return ("listener {port} 127.0.0.1\n"
            "cafile %s\ncertfile %s\nkeyfile %s\nallow_anonymous true\n"
            "listener %d 127.0.0.1\n"
            "cafile %s\ncertfile %s\nkeyfile %s\nallow_anonymous true\n"
            % (pki.path("ca.crt"), pki.path(first + ".crt"),
               pki.path(first + ".key"), second_port, pki.path("ca.crt"),
               pki.path(second + ".crt"), pki.path(second + ".key")))


def secure_example_conf(pki):
    """examples/mosquitto-secure.conf with this test's files and port, and
    examples/acl as it is (copied where mosquitto may read it)."""
    acl = pki.path("acl")
    shutil.copy(os.path.join(EXAMPLES, "acl"), acl)
    os.chmod(acl, 0o644)
    with open(os.path.join(EXAMPLES, "mosquitto-secure.conf")) as f:
        text = f.read()
    subst = {
        "listener 8883": "listener {port} 127.0.0.1",
        "/etc/mosquitto/certs/ca.crt": pki.path("ca.crt"),
        "/etc/mosquitto/certs/server.crt": pki.path("server.crt"),
        "/etc/mosquitto/certs/server.key": pki.path("server.key"),
        "/etc/mosquitto/twinctl.passwd": pki.passwd,
        "/etc/mosquitto/twinctl.acl": acl,
    }
    for old, new in subst.items():
        expect(old in text, "examples/mosquitto-secure.conf has no '%s'"
               % old)
        text = text.replace(old, new)
    # mosquitto logs "Denied PUBLISH" at the debug level.
    return text + "\nlog_type debug\n"


def same_csv(a, b):
    with open(a) as fa, open(b) as fb:
        ra, rb = list(csv.reader(fa)), list(csv.reader(fb))
    expect(len(ra) > 2 and len(ra) == len(rb),
           "%s has %d lines, %s %d" % (a, len(ra), b, len(rb)))
    expect(ra[0] == rb[0], "headers differ: %s / %s" % (ra[0], rb[0]))
    for i, (x, y) in enumerate(zip(ra[1:], rb[1:])):
        expect([float(v) for v in x] == [float(v) for v in y],
               "line %d differs: %s / %s" % (i + 2, x, y))


def serve_config(tmp, name, broker_url, security):
    conf = {"id": name, "broker": broker_url,
            "instances": os.path.join(SOURCE_DIR, "instance-library"),
            "scenarios": os.path.join(SOURCE_DIR, "scenarios"),
            "spool": os.path.join(tmp, "spool-" + name),
            "security": security}
    path = os.path.join(tmp, name + ".json")
    with open(path, "w") as f:
        json.dump(conf, f)
    return path


def serve_until(config, pattern, timeout=15.0):
    """Start `twinctl serve --config`, wait (bounded) for a log line that
    matches pattern, stop it with SIGTERM; returns (line, exit status,
    whole log).  Raises HarnessError when the line does not come or it
    does not stop cleanly."""
    log = config + ".log"
    with open(log, "wb") as logf:
        proc = subprocess.Popen([TWINCTL, "serve", "--config", config],
                                stdin=subprocess.DEVNULL, stdout=logf,
                                stderr=subprocess.STDOUT)
    line = None
    deadline = time.monotonic() + timeout
    try:
        while line is None and time.monotonic() < deadline:
            with open(log, errors="replace") as f:
                for ln in f:
                    if re.search(pattern, ln):
                        line = ln.rstrip("\n")
                        break
            if proc.poll() is not None:
                break
            time.sleep(0.05)
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
        try:
            rc = proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)
            rc = "killed"
    with open(log, errors="replace") as f:
        text = f.read()
    expect(line is not None, "no log line like %r within %g s; the log:\n%s"
           % (pattern, timeout, text[-3000:]))
    expect(rc == 0, "twinctl serve exited %s on SIGTERM; the log:\n%s"
           % (rc, text[-3000:]))
    return line, rc, text


# ---- (a) the right CA ---------------------------------------------------------

def check_right_ca(broker, pki, tmp):
    ref = os.path.join(tmp, "ref.csv")
    out = os.path.join(tmp, "tls.csv")
    r = run([TWINCTL, "run", "-q", SCENARIO, "-o", ref])
    expect(r.returncode == 0, "twinctl run: " + r.stderr)
    with Controller(broker, "ctl-tls", build=BUILD, config_extra={
            "broker": broker.tls_url,
            "security": {"ca_file": pki.path("ca.crt")}}):
        r = run([TWINCTL, "submit", "-q", "--broker", broker.tls_url,
                 "--ca-file", pki.path("ca.crt"), "--controller", "ctl-tls",
                 "--timeout", "30", SCENARIO, "-o", out])
        expect(r.returncode == 0, "submit over TLS exited %d: %s"
               % (r.returncode, r.stderr))
        same_csv(ref, out)
        # mqtts:// is the same, and status sees the controller online.
        r = run([TWINCTL, "status", "--broker",
                 "mqtts://%s:%d" % (HOST, broker.tls_port), "--ca-file",
                 pki.path("ca.crt")])
        expect(r.returncode == 0 and "ctl-tls" in r.stdout,
               "status over TLS: %d %s %s" % (r.returncode, r.stdout,
                                              r.stderr))


# ---- (b) the wrong CA ---------------------------------------------------------

def check_wrong_ca(broker, pki, tmp):
    other = pki.path("other-ca.crt")
    conf = serve_config(tmp, "ctl-wrong-ca", broker.tls_url,
                        {"ca_file": other})
    line, _, log = serve_until(conf, r"TLS failed")
    want = ("twinctl serve: cannot connect to %s: TLS failed (certificate "
            "verify failed); check the CA file %s: it must hold the CA that "
            "signed the broker's certificate" % (broker.tls_url, other))
    expect(line.startswith(want), "the log line is\n  %s\nnot\n  %s..."
           % (line, want))
    expect("connected to" not in log, "connected with the wrong CA:\n" + log)
    # submit says the same and gives up (exit 1).
    r = run([TWINCTL, "submit", "--broker", broker.tls_url, "--ca-file",
             other, "--timeout", "10", SCENARIO])
    expect(r.returncode == 1 and "TLS failed (certificate verify failed); "
           "check the CA file " + other in r.stderr,
           "submit with the wrong CA: %d %s" % (r.returncode, r.stderr))


def check_no_ca(broker, pki):
    r = run([TWINCTL, "status", "--broker", broker.tls_url])
    expect(r.returncode == 1 and "TLS failed (certificate verify failed); "
           "the system's CAs do not vouch for the broker's certificate"
           in r.stderr, "status without a CA: %d %s" % (r.returncode,
                                                       r.stderr))


def check_host_name(pki, elsewhere_port):
    # The certificate is signed by the right CA but names another host.
    r = run([TWINCTL, "status", "--broker",
             "ssl://%s:%d" % (HOST, elsewhere_port), "--ca-file",
             pki.path("ca.crt")])
    expect(r.returncode == 1 and "does not name the host" in r.stderr,
           "a certificate for elsewhere.example accepted for 127.0.0.1: "
           "%d %s" % (r.returncode, r.stderr))


def check_option_rules(pki):
    cases = [
        (["status", "--broker", "tcp://127.0.0.1:1", "--ca-file",
          pki.path("ca.crt")], 1, "is not TLS: use ssl://"),
        (["status", "--broker", "ssl://127.0.0.1:1", "--ca-file",
          pki.path("nothing.crt")], 1, "cannot read the CA file "),
        (["status", "--broker", "ssl://127.0.0.1:1", "--key",
          pki.path("client.key")], 1, "needs its certificate"),
        (["status", "--password-file", pki.path("ctl-1.pw")], 1,
         "a password needs a username"),
        (["status", "--username", "u", "--password-file",
          pki.path("missing.pw")], 1, "cannot read the password file "),
        # No command takes a password on its command line, not even as an
        # abbreviation of --password-file.
        (["submit", "--password", "secret", SCENARIO], 2,
         "there is no --password"),
        (["status", "--password=secret"], 2, "there is no --password"),
        (["status", "--pass", "secret"], 2, "ambiguous"),
        (["serve", "--password", "secret"], 2, "unrecognized option"),
    ]
    for args, code, text in cases:
        r = run([TWINCTL] + args, timeout=20)
        expect(r.returncode == code and text in r.stderr,
               "twinctl %s: exit %d (want %d), stderr %r (want %r)"
               % (" ".join(args), r.returncode, code, r.stderr[-400:], text))
        expect("secret" not in r.stderr,
               "twinctl %s echoed the password" % " ".join(args))


# ---- (c) the login and examples/acl -------------------------------------------

def controller_security(pki, user, pw_file):
    return {"ca_file": pki.path("ca.crt"), "cert_file": pki.path("client.crt"),
            "key_file": pki.path("client.key"), "username": user,
            "password_file": pw_file}


def orchestrator_args(pki, broker):
    return ["--broker", broker.tls_url, "--ca-file", pki.path("ca.crt"),
            "--cert", pki.path("client.crt"), "--key", pki.path("client.key"),
            "--username", "orchestrator"]


def orchestrator_env():
    env = dict(os.environ)
    env["TWIN_MQTT_PASSWORD"] = PASSWORDS["orchestrator"]
    return env


def check_acl_own_topics(broker, pki, tmp):
    """ctl-1 takes a request addressed to it and one from the pool, and
    its results reach an orchestrator (who reads them under the ACL)."""
    for where in (["--controller", "ctl-1"], ["--pool"]):
        out = os.path.join(tmp, "acl.csv")
        r = run([TWINCTL, "submit", "-q"] + orchestrator_args(pki, broker)
                + where + ["--timeout", "30", SCENARIO, "-o", out],
                env=orchestrator_env())
        expect(r.returncode == 0, "submit %s under the ACL exited %d: %s"
               % (where[0], r.returncode, r.stderr))
        same_csv(os.path.join(tmp, "ref.csv"), out)


def tls_client(broker, pki, user):
    return Client(broker, url=broker.tls_url, tls=pki.client_tls(),
                  username=user, password=PASSWORDS[user]).connect()


def denied(broker, client_id, topic):
    """How often the broker log says it denied client_id a publish on
    topic."""
    with open(broker.log, errors="replace") as f:
        return len(re.findall(r"Denied PUBLISH from %s .*'%s'"
                              % (re.escape(client_id), re.escape(topic)),
                              f.read()))


def check_acl_other_controller(broker, pki, watch):
    """A client logged in as ctl-2 subscribes to ctl-1's requests (granted,
    but nothing arrives) and publishes on ctl-1's topics (refused: nobody
    receives it, and mosquitto 2.0 closes its connection)."""
    orch = tls_client(broker, pki, "orchestrator")
    intruder = tls_client(broker, pki, "ctl-2")
    try:
        # mosquitto 2.0.11 answers the SUBACK with the QoS granted (subscribe
        # raises on a refusal) and then filters what it delivers.
        intruder.subscribe("twin/ctl-1/request", "twin/ctl-1/#")
        req = orch.request({"type": "describe"}, controller="ctl-1")
        expect(req.response().get("status") == "ok",
               "ctl-1 did not answer the describe")
        # ctl-2 received neither the request ctl-1 took nor its response.
        time.sleep(0.5)
        got = intruder.messages()
        expect(got == [], "ctl-2 received %s" % got[:3])
    finally:
        intruder.close()
    watch.subscribe("twin/ctl-1/#")
    start = watch.mark()
    for topic in ("twin/ctl-1/result/x", "twin/ctl-1/request"):
        # A forged result, a forged request: the broker answers the QoS 1
        # publish with "not authorised" (0x87) and drops the connection.
        intruder = tls_client(broker, pki, "ctl-2")
        dropped = threading.Event()
        # (paho 1.6's is_connected() stays true after a lost connection.)
        intruder.mqtt.on_disconnect = lambda *args: dropped.set()
        try:
            try:
                intruder.publish(topic, '{"forged": true}', timeout=5)
            except (HarnessError, RuntimeError):
                pass
            expect(dropped.wait(5),
                   "mosquitto kept ctl-2 connected after a denied publish")
        finally:
            intruder.close()
        # (Its client id is its username: use_username_as_clientid.)
        expect(denied(broker, "ctl-2", topic) == 1,
               "the broker log has no 'Denied PUBLISH' of %s" % topic)
    time.sleep(0.3)
    forged = watch.messages(lambda m: m.topic in ("twin/ctl-1/result/x",
                                                  "twin/ctl-1/request"),
                            start)
    expect(forged == [], "a forged message was delivered: %s" % forged)
    orch.close()


def check_acl_refused_response(broker, pki, ctl):
    """A request whose response topic the ACL does not let ctl-1 write:
    under credentials the controller answers on its own default topic
    instead (a publish the ACL refuses would make mosquitto 2.0 drop its
    connection), so nothing is refused, the connection stays, and the
    orchestrator still gets its answer."""
    def connects():
        with open(ctl.log, errors="replace") as f:
            return f.read().count("twinctl serve: connected to")

    orch = tls_client(broker, pki, "orchestrator")
    try:
        before = connects()
        orch.subscribe("twin/ctl-1/response/refused-reply")
        req = orch.request({"type": "describe", "id": "refused-reply"},
                           controller="ctl-1",
                           response_topic="elsewhere/reply")
        m = orch.wait(lambda m: m.topic ==
                      "twin/ctl-1/response/refused-reply", 1, 10,
                      req.first_index)[0]
        expect(m.payload.get("status") == "ok", m.payload)
        time.sleep(1.0)
        expect(denied(broker, "ctl-1", "elsewhere/reply") == 0,
               "a response was sent to elsewhere/reply")
        expect(connects() == before, "ctl-1 lost its connection")
        expect(ctl.alive(), "ctl-1 died")
    finally:
        orch.close()


def check_wrong_password(broker, pki, tmp):
    conf = serve_config(tmp, "ctl-1", broker.tls_url,
                        controller_security(pki, "ctl-1",
                                            pki.path("wrong.pw")))
    line, _, _ = serve_until(conf, r"refused the connection")
    want = ("twinctl serve: cannot connect to %s: the broker refused the "
            "connection of user 'ctl-1': Not authorized (reason 135); check "
            "the username and the password (its file, or "
            "TWIN_MQTT_PASSWORD)" % broker.tls_url)
    expect(line.startswith(want), "the log line is\n  %s\nnot\n  %s..."
           % (line, want))
    env = orchestrator_env()
    env["TWIN_MQTT_PASSWORD"] = "not-the-password"
    r = run([TWINCTL, "submit"] + orchestrator_args(pki, broker)
            + ["--timeout", "10", SCENARIO], env=env)
    expect(r.returncode == 1 and "refused the connection of user "
           "'orchestrator': Not authorized" in r.stderr,
           "submit with a wrong password: %d %s" % (r.returncode, r.stderr))


def check_no_takeover(broker, pki, ctl, watch):
    """An orchestrator's valid login connecting with ctl-1's client id:
    the broker gives it its username as client id, so ctl-1 keeps its
    connection (no `offline` will, no reconnect) and answers."""
    def lost():
        with open(ctl.log, errors="replace") as f:
            return f.read().count("lost the broker")

    topic = "twin/ctl-1/status"
    watch.subscribe(topic)
    start = watch.mark()
    before = lost()
    thief = Client(broker, url=broker.tls_url, tls=pki.client_tls(),
                   username="orchestrator",
                   password=PASSWORDS["orchestrator"],
                   client_id="ctl-1").connect()
    try:
        time.sleep(2.0)
    finally:
        thief.close()
    offline = watch.messages(lambda m: m.topic == topic and isinstance(
        m.payload, dict) and m.payload.get("state") == "offline", start)
    expect(not offline and lost() == before,
           "a login as 'orchestrator' with client id ctl-1 took ctl-1's "
           "connection over (%d offline wills, %d reconnects)"
           % (len(offline), lost() - before))
    d = watch.request({"type": "describe"}, controller="ctl-1").response()
    expect(d.get("status") == "ok", d)


def children(pid):
    kids = []
    for task in os.listdir("/proc/%d/task" % pid):
        with open("/proc/%d/task/%s/children" % (pid, task)) as f:
            kids += [int(k) for k in f.read().split()]
    return kids


def check_password_not_inherited(broker, pki):
    """ctl-2 takes its password from TWIN_MQTT_PASSWORD: neither its own
    environment (as /proc shows it) nor its run's holds it."""
    secret = PASSWORDS["ctl-2"]
    security = controller_security(pki, "ctl-2", None)
    del security["password_file"]
    ctl = Controller(broker, "ctl-2", build=BUILD, config_extra={
        "broker": broker.tls_url, "security": security})
    os.environ["TWIN_MQTT_PASSWORD"] = secret
    try:
        ctl.start()
    finally:
        del os.environ["TWIN_MQTT_PASSWORD"]
    try:
        with open(SCENARIO) as f:
            scen = json.load(f)
        scen["pace"] = {"realtime": 40}
        orch = tls_client(broker, pki, "orchestrator")
        try:
            req = orch.request({"type": "run", "scenario": scen},
                               controller="ctl-2")
            expect(req.response().get("status") == "accepted",
                   "ctl-2 did not take the run")
            kids = children(ctl.proc.pid)
            expect(kids, "no run process under ctl-2")
            for pid in [ctl.proc.pid] + kids:
                with open("/proc/%d/environ" % pid, "rb") as f:
                    env = f.read()
                expect(secret.encode() not in env,
                       "process %d (%s) has the MQTT password in its "
                       "environment" % (pid, "the daemon" if pid ==
                                        ctl.proc.pid else "a run"))
            req.final(timeout=20)
        finally:
            orch.close()
    finally:
        problems = ctl.stop()
    expect(not problems, "\n".join(problems))


# ---- (d) what OpenSSL can tell -------------------------------------------------

def serve_exits(config, timeout=10.0):
    """`twinctl serve --config` must stop by itself (exit 1) within
    timeout; returns its log."""
    log = config + ".log"
    with open(log, "wb") as logf:
        proc = subprocess.Popen([TWINCTL, "serve", "--config", config],
                                stdin=subprocess.DEVNULL, stdout=logf,
                                stderr=subprocess.STDOUT)
    try:
        rc = proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(5)
        rc = None
    with open(log, errors="replace") as f:
        text = f.read()
    expect(rc == 1, "twinctl serve %s within %g s; the log:\n%s"
           % ("went on" if rc is None else "exited %d" % rc, timeout,
              text[-2000:]))
    return text


def check_bad_files(broker, pki, tmp):
    cases = [
        ("ctl-der-ca", {"ca_file": pki.path("ca.der")},
         ["--ca-file", pki.path("ca.der")],
         "the CA file %s holds no certificate in PEM form"
         % pki.path("ca.der")),
        ("ctl-wrong-key", {"ca_file": pki.path("ca.crt"),
                           "cert_file": pki.path("client.crt"),
                           "key_file": pki.path("server.key")},
         ["--ca-file", pki.path("ca.crt"), "--cert", pki.path("client.crt"),
          "--key", pki.path("server.key")],
         "the client key %s does not belong to the client certificate %s"
         % (pki.path("server.key"), pki.path("client.crt"))),
    ]
    for name, security, flags, want in cases:
        log = serve_exits(serve_config(tmp, name, broker.tls_url, security))
        expect(want in log and "trying again" not in log,
               "serve with %s: the log is\n%s\nnot ...%s..." % (name, log,
                                                               want))
        r = run([TWINCTL, "status", "--broker", broker.tls_url] + flags,
                timeout=20)
        expect(r.returncode == 1 and want in r.stderr,
               "status with %s: %d %s" % (name, r.returncode, r.stderr))


def check_broker_dates(broker, future_port, pki, tmp):
    cases = [(broker.tls_port, "expired on 2020-01-02 00:00:00 UTC"),
             (future_port, "is not valid before 2099-12-31 00:00:00 UTC")]
    for port, want in cases:
        url = "ssl://%s:%d" % (HOST, port)
        r = run([TWINCTL, "status", "--broker", url, "--ca-file",
                 pki.path("ca.crt")], timeout=30)
        expect(r.returncode == 1 and "the broker's certificate" in r.stderr
               and want in r.stderr and "check the CA file" not in r.stderr,
               "status against a broker whose certificate %s: %d %s"
               % (want, r.returncode, r.stderr))
        print("     " + r.stderr.strip())
    conf = serve_config(tmp, "ctl-expired", broker.tls_url,
                        {"ca_file": pki.path("ca.crt")})
    line, _, _ = serve_until(conf, r"TLS failed")
    expect("the broker's certificate /CN=127.0.0.1 expired on 2020-01-02" in
           line and "check the CA file" not in line,
           "serve against an expired broker certificate: %s" % line)


def main():
    t = Tests()
    pki = Pki()
    tmp = pki.path("work")
    os.mkdir(tmp)
    try:
        t.check("no password on the command line; option rules",
                check_option_rules, pki)
        elsewhere = free_port()
        with Broker(tls_conf=plain_tls_conf(pki, elsewhere)) as broker:
            t.check("(a) the right CA: serve and submit over TLS",
                    check_right_ca, broker, pki, tmp)
            t.check("(b) the wrong CA: one clear log line", check_wrong_ca,
                    broker, pki, tmp)
            t.check("(b) no CA: the system's CAs do not vouch", check_no_ca,
                    broker, pki)
            t.check("(b) a certificate for another host is refused",
                    check_host_name, pki, elsewhere)
            t.check("(d) a CA file not PEM, a key not the certificate's: "
                    "stopped at start", check_bad_files, broker, pki, tmp)
        future = free_port()
        with Broker(tls_conf=plain_tls_conf(pki, future, "expired",
                                            "future")) as broker:
            t.check("(d) a broker certificate expired or not valid yet: "
                    "said so", check_broker_dates, broker, future, pki, tmp)
        with Broker(tls_conf=secure_example_conf(pki)) as broker, \
                Client(broker) as watch:
            with Controller(broker, "ctl-1", build=BUILD, config_extra={
                    "broker": broker.tls_url,
                    "security": controller_security(
                        pki, "ctl-1", pki.path("ctl-1.pw"))}) as ctl:
                t.check("(c) ACL: ctl-1 takes its and the pool's requests, "
                        "its results arrive", check_acl_own_topics, broker,
                        pki, tmp)
                t.check("(c) ACL: ctl-2 cannot read ctl-1's requests nor "
                        "publish its results", check_acl_other_controller,
                        broker, pki, watch)
                t.check("(c) ACL: a refused response is not sent again",
                        check_acl_refused_response, broker, pki, ctl)
                t.check("(c) another login with ctl-1's client id does not "
                        "take its connection", check_no_takeover, broker,
                        pki, ctl, watch)
            t.check("(c) the password is not in the runs' environment",
                    check_password_not_inherited, broker, pki)
            t.check("(c) a wrong password: one clear log line",
                    check_wrong_password, broker, pki, tmp)
    finally:
        pki.remove()
    return t.summary()


if __name__ == "__main__":
    sys.exit(main())
