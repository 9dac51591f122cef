"""Fixtures for the seat page's browser tests: the real agent binary serving
the page on a free loopback port with a simulated fingerprint reader, and
Debian's chromium driven by Playwright (no browser download).

Environment: EXAMGATE_AGENT (default $CARGO_TARGET_DIR/debug/examgate-agent), CHROMIUM
(default /usr/bin/chromium), SEAT_SCREENSHOTS (default: a new temp dir)."""

import json
import os
import socket
import subprocess
import tempfile
import time
import urllib.request
from pathlib import Path

import pytest
from playwright.sync_api import sync_playwright

ROOT = Path(__file__).resolve().parents[2]
I18N = ROOT / "web" / "seat" / "i18n"
TARGET = ROOT / os.environ.get("CARGO_TARGET_DIR", "target")  # an absolute CARGO_TARGET_DIR replaces ROOT
AGENT = Path(os.environ.get("EXAMGATE_AGENT", TARGET / "debug" / "examgate-agent"))
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
VIEWPORT = {"width": 1366, "height": 768}  # the common exam-PC screen

LANGUAGE_CODES = json.loads((I18N / "languages.json").read_text(encoding="utf-8"))


def messages(code):
    return json.loads((I18N / f"{code}.json").read_text(encoding="utf-8"))


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Agent:
    def __init__(self, process, base):
        self.process = process
        self.base = base

    def get(self, path):
        with urllib.request.urlopen(self.base + path, timeout=5) as r:
            return r.status, r.headers.get("content-type"), r.read()

    def post(self, path, body):
        request = urllib.request.Request(
            self.base + path, data=json.dumps(body).encode(), headers={"content-type": "application/json"}
        )
        with urllib.request.urlopen(request, timeout=5) as r:
            return r.status

    def sim(self, command):
        """Script the simulated fingerprint reader (`poor-quality 3`, `finger 1`, ...)."""
        _, _, body = self.get("/v1/devices")
        device = json.loads(body)["devices"][0]["id"]
        assert self.post(f"/v1/sim/{device}/command", {"command": command}) == 204


@pytest.fixture(scope="session")
def agent(tmp_path_factory):
    if not AGENT.exists():
        pytest.fail(f"{AGENT} is missing: `make test-web` builds it (or set EXAMGATE_AGENT)")
    port = free_port()
    log = (tmp_path_factory.mktemp("agent") / "agent.log").open("w")
    process = subprocess.Popen(
        [str(AGENT), "run", "--listen", f"127.0.0.1:{port}", "--device", "sim:fingerprint"],
        stdout=log, stderr=subprocess.STDOUT, cwd=tmp_path_factory.getbasetemp(),
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 20
    while True:
        try:
            urllib.request.urlopen(base + "/v1/health", timeout=1).read()
            break
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                process.kill()
                pytest.fail(f"the agent did not start; see {log.name}")
            time.sleep(0.05)
    yield Agent(process, base)
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
    log.close()


@pytest.fixture(scope="session")
def browser():
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: `make deps` installs Debian's chromium")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield browser
        browser.close()


@pytest.fixture(scope="session")
def screenshots():
    path = Path(os.environ.get("SEAT_SCREENSHOTS") or tempfile.mkdtemp(prefix="seat-screenshots-"))
    path.mkdir(parents=True, exist_ok=True)
    os.environ["SEAT_SCREENSHOTS_USED"] = str(path)
    return path


@pytest.fixture
def context(browser):
    context = browser.new_context(viewport=VIEWPORT)
    yield context
    context.close()


@pytest.fixture
def page(context, agent):
    """A fresh seat page, loaded and ready, with page errors collected."""
    page = context.new_page()
    page.errors = []
    page.on("pageerror", lambda e: page.errors.append(str(e)))
    page.goto(agent.base + "/")
    page.wait_for_selector("html[data-ready=true]")
    yield page
    assert not page.errors, page.errors


def pytest_terminal_summary(terminalreporter):
    shots = os.environ.get("SEAT_SCREENSHOTS_USED")
    if shots:
        terminalreporter.write_line(f"seat page screenshots: {shots}")
