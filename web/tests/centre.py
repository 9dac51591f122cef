"""An exam centre in real processes for the browser tests: examgate-server, agents
enrolled with it (`examgate-agent enrol`, approved with `examgate-server seat approve`)
each with its `run --link-dir` and its `link run --agent`, a pcscd of the tests' own
with vsmartcard's vpcd readers, and the ID card simulator on it.

Every process is started here and stopped here, by its own id."""

import csv
import datetime
import fcntl
import json
import os
import re
import socket
import subprocess
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
TARGET = ROOT / os.environ.get("CARGO_TARGET_DIR", "target")
SERVER = Path(os.environ.get("EXAMGATE_SERVER", TARGET / "debug" / "examgate-server"))
AGENT = Path(os.environ.get("EXAMGATE_AGENT", TARGET / "debug" / "examgate-agent"))
SIM = Path(os.environ.get("EXAMGATE_SIM", TARGET / "debug" / "examgate-sim"))
USERS = {"examiner1": ("examiner", "examiner-pass"), "invigilator1": ("invigilator", "invigilator-pass")}
# The exam day of this test run: this machine's date when the tests started. The server is
# given it (`serve --today`, a hidden option for tests), so a run that crosses midnight keeps
# its day instead of finding its roster become yesterday's halfway through a login.
TODAY = datetime.date.today().isoformat()
STARTUP_S = 30  # a guard against a process that never comes up, generous for a loaded machine

# The tests' pcscd, as tests/src/pcscd.rs runs it: vpcd slot 0 on TCP 15963 (below the
# ephemeral port range), one pcscd per machine, so every user holds PCSCD_LOCK throughout.
PCSCD_LOCK = Path("/tmp/examgate-test-pcscd.lock")
VPCD_SLOT0 = "127.0.0.1:15963"
READER_CONF = ('FRIENDLYNAME "Virtual PCD"\nDEVICENAME /dev/null:0x3E5B\n'
               "LIBPATH /usr/lib/pcsc/drivers/serial/libifdvpcd.so\nCHANNELID 0x3E5B\n")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until(what, check, deadline_s=STARTUP_S, interval=0.05):
    """Poll `check()` until it returns something true; fail naming `what` after the deadline."""
    deadline = time.monotonic() + deadline_s
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} did not happen within {deadline_s} s")
        time.sleep(interval)


def stop(process):
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def running(name):
    return subprocess.run(["pgrep", "-x", name], stdout=subprocess.DEVNULL).returncode == 0


@contextmanager
def pcscd(log_dir):
    """A pcscd of our own with the vpcd readers, under the machine-wide lock."""
    with PCSCD_LOCK.open("a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        # Another user's pcscd (the Rust tests', a demo's) ends with its user; ours must be alone.
        wait_until("the other pcscd to exit", lambda: not running("pcscd"), deadline_s=60, interval=0.2)
        conf = log_dir / "reader.conf"
        conf.write_text(READER_CONF)
        log = (log_dir / "pcscd.log").open("w")
        process = subprocess.Popen(["pcscd", "-f", "-i", "-c", str(conf)], stdout=log, stderr=subprocess.STDOUT)
        try:
            yield process
        finally:
            stop(process)
            log.close()


class SimProcess:
    """An `examgate-sim` subcommand scripted line by line (`ready`, then `ok LINE` for each line)."""

    def __init__(self, args, log):
        self.process = subprocess.Popen([str(SIM), *args], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                        stderr=log, text=True, bufsize=1)
        self._await("ready")

    def _await(self, wanted):
        # readline blocks; the simulator answers each line at once or exits (EOF ends the loop).
        for line in self.process.stdout:
            line = line.strip()
            if line.startswith("error"):
                raise AssertionError(f"examgate-sim: {line}")
            if line == wanted:
                return
        raise AssertionError(f"examgate-sim exited before answering {wanted!r}")

    def script(self, line):
        self.process.stdin.write(line + "\n")
        self.process.stdin.flush()
        self._await(f"ok {line}")

    def stop(self):
        stop(self.process)


class Agent:
    """One PC's agent (`run`) and its link (`link run`)."""

    def __init__(self, base, name, seat):
        self.base = base
        self.name = name
        self.seat = seat

    def get(self, path):
        with urllib.request.urlopen(self.base + path, timeout=10) as r:
            return json.loads(r.read() or b"null")

    def post(self, path, body):
        request = urllib.request.Request(self.base + path, data=json.dumps(body).encode(),
                                         headers={"content-type": "application/json"})
        with urllib.request.urlopen(request, timeout=10) as r:
            return r.status

    def device(self, device_class):
        devices = self.get("/v1/devices")["devices"]
        return next((d for d in devices if device_class in d["classes"] and d["state"] != "disconnected"), None)

    def finger(self, n):
        """Put simulated finger `n` on the seat's reader (candidate n's finger, by the roster's seed)."""
        device = self.device("fingerprint")["id"]
        assert self.post(f"/v1/sim/{device}/command", {"command": f"finger {n}"}) == 204


class Centre:
    """examgate-server with its users, and the PCs enrolled with it."""

    def __init__(self, root):
        self.root = root
        self.data = root / "server"
        self.processes = []
        for name, (role, password) in USERS.items():
            subprocess.run([SERVER, "user", "add", name, "--role", role, "--data-dir", self.data],
                           input=password + "\n", text=True, check=True, capture_output=True)
        self.today = TODAY
        server = subprocess.Popen([SERVER, "serve", "--listen", "127.0.0.1:0", "--today", TODAY,
                                   "--data-dir", self.data],
                                  stdout=subprocess.PIPE, stderr=(root / "server.log").open("w"), text=True)
        self.processes.append(server)
        self.base = self.pin = None
        for line in server.stdout:
            if m := re.search(r"listening on (https://[0-9.:]+)/", line):
                self.base = m.group(1)
            if m := re.search(r"certificate pin: ([0-9a-f]{64})", line):
                self.pin = m.group(1)
                break
        assert self.base and self.pin, f"the server did not start; see {root / 'server.log'}"

    def spawn(self, args, log_name):
        p = subprocess.Popen([str(a) for a in args], stdout=subprocess.DEVNULL,
                             stderr=(self.root / log_name).open("w"))
        self.processes.append(p)
        return p

    def pc(self, name, seat, devices, role="seat"):
        """Enrol a PC, approve it as `seat` (or the console), start its agent and its link."""
        state = self.root / name
        out = subprocess.run([AGENT, "enrol", "--server", self.base, "--pin", self.pin, "--state-dir", state],
                             text=True, check=True, capture_output=True).stdout
        key = re.search(r"key ([0-9a-f]{32})", out).group(1)
        approve = [SERVER, "seat", "approve", seat, "--key", key, "--data-dir", self.data]
        if role == "console":
            approve += ["--role", "console"]
        subprocess.run(approve, check=True, capture_output=True)
        port = free_port()
        (state / "snapshots").mkdir(parents=True, exist_ok=True)
        config = state / "agent.toml"
        config.write_text(f'listen = "127.0.0.1:{port}"\n[snapshots]\ndir = "{state / "snapshots"}"\n'
                          f'seat = "{seat}"\nexam = "e2e-k1"\n')
        run = [AGENT, "run", "--config", config, "--link-dir", state]
        if role == "console":
            run.append("--console")
        for d in devices:
            run += ["--device", d]
        agent_process = self.spawn(run, f"{name}-agent.log")
        base = f"http://127.0.0.1:{port}"

        def healthy():
            if agent_process.poll() is not None:
                raise AssertionError(f"the agent {name} exited; see {self.root / (name + '-agent.log')}")
            try:
                urllib.request.urlopen(base + "/v1/health", timeout=1).read()
                return True
            except OSError:
                return False

        wait_until(f"agent {name} answering", healthy)
        self.spawn([AGENT, "link", "run", "--heartbeat-secs", "1", "--state-dir", state, "--agent", base],
                   f"{name}-link.log")
        return Agent(base, name, seat)

    def roster(self, date):
        """`examgate-sim roster` for `date`: the directory with roster.csv, photos/ and templates/."""
        out = self.root / "roster"
        subprocess.run([SIM, "roster", "--date", date, "--out", out], check=True, capture_output=True)
        return out

    def stop(self):
        for p in reversed(self.processes):
            stop(p)


def roster_rows(directory):
    with (directory / "roster.csv").open(newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def write_roster(path, rows):
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
