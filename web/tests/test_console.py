"""The examiner console (web/console) in Debian's chromium, served by the real
examgate-server over its own TLS, with real agents enrolling through
`examgate-agent enrol` and talking through `examgate-agent link run`.

The console opens only once the examiner and the invigilator have both
logged in; then a waiting PC is approved as a seat, comes online live, a
PC that enrols meanwhile appears live, and a spare takes the seat over
while the old PC's refusal shows up as an alert, all without a reload.

Environment: EXAMGATE_SERVER / EXAMGATE_AGENT (default $CARGO_TARGET_DIR/debug/...)."""

import os
import re
import subprocess
import tempfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
TARGET = ROOT / os.environ.get("CARGO_TARGET_DIR", "target")
SERVER = Path(os.environ.get("EXAMGATE_SERVER", TARGET / "debug" / "examgate-server"))
AGENT = Path(os.environ.get("EXAMGATE_AGENT", TARGET / "debug" / "examgate-agent"))
USERS = {"examiner1": ("examiner", "examiner-pass"), "invigilator1": ("invigilator", "invigilator-pass")}
WAIT_MS = 15_000  # live updates normally arrive within a heartbeat (1 s here)


class Centre:
    """A running examgate-server and the agents enrolled with it."""

    def __init__(self, root):
        self.root = root
        self.data = root / "server"
        self.processes = []
        for name, (role, password) in USERS.items():
            subprocess.run(
                [SERVER, "user", "add", name, "--role", role, "--data-dir", self.data],
                input=password + "\n", text=True, check=True, capture_output=True,
            )
        server = subprocess.Popen(
            [SERVER, "serve", "--listen", "127.0.0.1:0", "--data-dir", self.data],
            stdout=subprocess.PIPE, stderr=(root / "server.log").open("w"), text=True,
        )
        self.processes.append(server)
        self.base = self.pin = None
        for line in server.stdout:
            if m := re.search(r"listening on (https://[0-9.:]+)/", line):
                self.base = m.group(1)
            if m := re.search(r"certificate pin: ([0-9a-f]{64})", line):
                self.pin = m.group(1)
                break
        assert self.base and self.pin, "the server did not start; see server.log"

    def enrol(self, name):
        """Enrols a new PC (its own key in its own state directory); returns its key id."""
        state = self.root / name
        out = subprocess.run(
            [AGENT, "enrol", "--server", self.base, "--pin", self.pin, "--state-dir", state],
            text=True, check=True, capture_output=True,
        ).stdout
        return re.search(r"key ([0-9a-f]{32})", out).group(1)

    def link(self, name):
        """Starts `link run` for an enrolled PC: heartbeats every second, the push socket."""
        p = subprocess.Popen(
            [AGENT, "link", "run", "--heartbeat-secs", "1", "--state-dir", self.root / name],
            stdout=subprocess.DEVNULL, stderr=(self.root / f"{name}.log").open("w"),
        )
        self.processes.append(p)
        return p

    def stop(self):
        for p in reversed(self.processes):
            p.kill()
            p.wait()


@pytest.fixture
def centre():
    for binary in (SERVER, AGENT):
        if not binary.exists():
            pytest.fail(f"{binary} is missing: `make test` builds it")
    with tempfile.TemporaryDirectory(prefix="examgate-console-") as root:
        c = Centre(Path(root))
        yield c
        c.stop()


def log_in(page, name):
    page.fill("input[name=username]", name)
    page.fill("input[name=password]", USERS[name][1])
    page.click("#login-form button[type=submit]")


def test_seat_map_approve_live_updates_and_spare_takeover(browser, centre, screenshots):
    first = centre.enrol("pc-a")
    spare = centre.enrol("pc-spare")

    context = browser.new_context(ignore_https_errors=True, viewport={"width": 1280, "height": 800}, locale="en-US")
    page = context.new_page()
    errors = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(centre.base + "/console/")

    # One login is not enough: the seeds' rule is examiner and invigilator together.
    log_in(page, "examiner1")
    page.locator("#who", has_text="examiner: examiner1").wait_for()
    assert page.is_visible("#login") and not page.is_visible("#console")
    log_in(page, "invigilator1")
    page.wait_for_selector("#console:not([hidden])")
    assert "invigilator1" in page.text_content("#who")

    # Both PCs wait; approve the first as seat 1.
    page.wait_for_selector(f"#pending tr[data-key='{first}']")
    assert page.locator("#pending tbody tr").count() == 2
    row = page.locator(f"#pending tr[data-key='{first}']")
    row.locator("input.seat-input").fill("1")
    row.locator("button.approve").click()
    card = page.locator("article.seat[data-seat='1']")
    card.wait_for()
    assert card.get_attribute("data-key") == first
    assert card.get_attribute("data-state") == "offline"

    # Its agent starts: the card turns online without a reload.
    centre.link("pc-a")
    page.wait_for_selector("article.seat[data-seat='1'][data-state='online']", timeout=WAIT_MS)

    # A PC enrolling now appears in the waiting list live.
    late = centre.enrol("pc-late")
    page.wait_for_selector(f"#pending tr[data-key='{late}']", timeout=WAIT_MS)

    # Spare-PC takeover from the seat card.
    card = page.locator("article.seat[data-seat='1']")
    card.locator("select.rebind-pick").select_option(spare)
    card.locator("button.rebind").click()
    page.wait_for_selector(f"article.seat[data-seat='1'][data-key='{spare}']", timeout=WAIT_MS)
    page.wait_for_selector(f"#pending tr[data-key='{first}'][data-state='replaced']", timeout=WAIT_MS)
    # The old PC's next heartbeat is refused, and the refusal shows as an alert, live.
    page.wait_for_selector("#alerts li[data-kind='replaced_pc']", timeout=WAIT_MS)

    page.screenshot(path=str(screenshots / "console-seat-map.png"), full_page=True)
    assert not errors, errors
    context.close()


def test_the_console_refuses_a_wrong_password(browser, centre):
    context = browser.new_context(ignore_https_errors=True, locale="en-US")
    page = context.new_page()
    page.goto(centre.base + "/console/")
    page.fill("input[name=username]", "examiner1")
    page.fill("input[name=password]", "not the password")
    page.click("#login-form button[type=submit]")
    page.locator("#login-error", has_text="wrong user name or password").wait_for()
    assert not page.is_visible("#console")
    context.close()


def test_the_console_locks_itself_after_the_idle_time_without_input(browser, centre):
    context = browser.new_context(ignore_https_errors=True, locale="en-US")
    page = context.new_page()

    # The server's idle time (idle_ms in the session, [console] idle_minutes) shortened to
    # 1.5 s for this test: everything else is the real server's answer.
    page.add_init_script("""(() => {
        const fetch0 = window.fetch;
        window.fetch = async (input, init) => {
            const response = await fetch0(input, init);
            if (String(input) !== "/api/v1/session" || !response.ok) return response;
            const session = await response.json();
            return new Response(JSON.stringify({ ...session, idle_ms: 1500 }),
                                { status: 200, headers: { "content-type": "application/json" } });
        };
    })()""")
    page.goto(centre.base + "/console/")
    log_in(page, "examiner1")
    page.locator("#who", has_text="examiner: examiner1").wait_for()
    log_in(page, "invigilator1")
    page.wait_for_selector("#console:not([hidden])")
    # Without input the console locks, says why, and the session is over at the server too.
    page.wait_for_selector("#login:not([hidden])", timeout=WAIT_MS)
    assert page.is_hidden("#console")
    assert "without input" in page.text_content("#login-notice")
    assert page.evaluate("fetch('/api/v1/seats').then(r => r.status)") == 401
    context.close()
