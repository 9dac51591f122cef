"""Identity verification at login, both of the seeds' modes, end to end with real
processes driven through the console and seat pages in chromium:

- examgate-server; a console PC (`run --console` with `pcsc-idcard`, the card on vpcd
  through a pcscd of our own); three seat PCs with `sim:fingerprint?format=iso19794-2`
  and `sim:camera`; each enrolled, approved and linked (`link run --agent`);
- the dual-login rule, the roster imported through the console page (a bad row shown
  with its line, then the good roster), mode (a) (the card read at the console: card data,
  roster photo and the seat; that seat greets the candidate by name), mode (b) (language,
  booking number, the matching finger, the camera: admitted, and the console shows it),
  and the failure path (three wrong fingers; the examiner sees the roster photo beside each
  attempt's verification snapshot, scores and signature, then admits with a typed reason).

The tests run in file order on one centre: each goes on from where the last stopped."""

import shutil
import tempfile
from pathlib import Path

import pytest
from playwright.sync_api import expect

from centre import AGENT, SERVER, SIM, Centre, SimProcess, pcscd, roster_rows, wait_until, write_roster
from conftest import messages
from test_console_messages import load as console_messages

RESIDENT_CARD = Path(__file__).resolve().parents[2] / "simulators" / "cards" / "resident.toml"
WAIT_MS = 20_000  # guards only: live updates come within a heartbeat (1 s here)
SEAT_DEVICES = ["sim:fingerprint?format=iso19794-2", "sim:camera"]
REASON = "Face and ID card checked by hand"


@pytest.fixture(scope="module")
def centre():
    for binary in (SERVER, AGENT, SIM):
        if not binary.exists():
            pytest.fail(f"{binary} is missing: `make test` builds it")
    with tempfile.TemporaryDirectory(prefix="examgate-login-") as root:
        root = Path(root)
        c = Centre(root)
        try:
            with pcscd(root) as _:
                card_log = (root / "card.log").open("w")
                card = SimProcess(["idcard", "--vpcd", "127.0.0.1:15963", "--card", RESIDENT_CARD], card_log)
                card.script("remove")  # it starts on the reader; the examiner puts it there in mode (a)
                try:
                    c.console = c.pc("console-pc", "90", ["pcsc-idcard"], role="console")
                    wait_until("the console PC's agent seeing the vpcd reader", lambda: c.console.device("idcard"))
                    c.seats = [c.pc(f"seat-{n}", str(n), SEAT_DEVICES) for n in (1, 2, 3)]
                    c.card = card
                    yield c
                finally:
                    card.stop()
                    card_log.close()
        finally:
            c.stop()


@pytest.fixture(scope="module")
def console(browser, centre):
    context = browser.new_context(ignore_https_errors=True, viewport={"width": 1366, "height": 900}, locale="en-US")
    page = context.new_page()
    page.errors = []
    page.on("pageerror", lambda e: page.errors.append(str(e)))
    page.goto(centre.base + "/console/")
    yield page
    assert not page.errors, page.errors
    context.close()


@pytest.fixture(scope="module")
def seat_pages(browser, centre):
    """Each seat's page, open and waiting on its language screen before anything happens."""
    context = browser.new_context(viewport={"width": 1366, "height": 768})
    pages = {}
    for agent in centre.seats:
        page = context.new_page()
        page.errors = []
        page.on("pageerror", lambda e, page=page: page.errors.append(str(e)))
        page.goto(agent.base + "/")
        page.wait_for_selector("html[data-ready=true]")
        pages[agent.seat] = page
    yield pages
    for page in pages.values():
        assert not page.errors, page.errors
    context.close()


@pytest.fixture(scope="module")
def roster(centre):
    return centre.roster(centre.today)


def log_in(page, name):
    page.fill("#login-form input[name=username]", name)
    page.fill("#login-form input[name=password]", USERS_PASSWORDS[name])
    page.press("#login-form input[name=password]", "Enter")


USERS_PASSWORDS = {"examiner1": "examiner-pass", "invigilator1": "invigilator-pass"}


def open_console(page):
    if page.is_visible("#console"):
        return
    log_in(page, "examiner1")
    expect(page.locator("#roles li[data-role=examiner]")).to_have_attribute("data-in", "true")
    log_in(page, "invigilator1")
    expect(page.locator("#console")).to_be_visible()


def files_of(directory):
    return sorted(str(p) for p in directory.rglob("*") if p.is_file())


def choose(page, code):
    page.locator(f'.language-tile[data-lang="{code}"]').focus()
    page.keyboard.press("Enter")
    page.wait_for_selector("#screen-login:not([hidden])")


IMAGES_LOADED = """([selector, count]) => {
    const images = [...document.querySelectorAll(selector)];
    return images.length === count && images.every((i) => !i.hidden && i.complete && i.naturalWidth > 0);
}"""


def expect_evidence(page, evidence, selector):
    """The roster photo and three failed attempts, each with its scores (ISO: re-checked by
    the server), a valid seat signature and its verification snapshot, every image loaded."""
    attempts = evidence.locator("tbody tr[data-attempt]")
    expect(attempts).to_have_count(3, timeout=WAIT_MS)
    for n in (1, 2, 3):
        row = evidence.locator(f"tbody tr[data-attempt='{n}']")
        expect(row).to_have_attribute("data-verdict", "no_match")
        expect(row).to_have_attribute("data-signature", "valid")
        expect(row.locator("td.signature")).to_have_text("valid")
        expect(row.locator("td.verdict")).to_have_text("no match")
        assert 0 < int(row.locator("td.score").inner_text()) <= 800
        assert 0 < int(row.locator("td.server-score").inner_text()) <= 800
    page.wait_for_function(IMAGES_LOADED, arg=[f"{selector} img", 4], timeout=WAIT_MS)
    expect(evidence.locator("figure.roster")).to_have_attribute("data-photo", "shown")
    for n in (1, 2, 3):
        expect(evidence.locator(f"tbody tr[data-attempt='{n}']")).to_have_attribute("data-snapshot", "shown")
        expect(evidence.locator(f"tbody tr[data-attempt='{n}'] img.snapshot")).to_have_attribute(
            "alt", f"verification snapshot taken at attempt {n}")


def text(code, key, **params):
    t = messages(code)["messages"][key]
    for k, v in params.items():
        t = t.replace("{" + k + "}", v)
    return t


# --------------------------------------------------------------- the examiner's console


def test_the_console_opens_only_with_both_logins_and_locks_when_one_logs_out(console, screenshots):
    page = console
    log_in(page, "examiner1")
    expect(page.locator("#who")).to_contain_text("examiner: examiner1")
    expect(page.locator("#roles li[data-role=examiner]")).to_have_attribute("data-in", "true")
    expect(page.locator("#roles li[data-role=invigilator]")).to_have_attribute("data-in", "false")
    assert page.is_visible("#login") and not page.is_visible("#console")
    # The server agrees: one login opens nothing.
    assert page.evaluate("fetch('/api/v1/seats').then(r => r.status)") == 403

    log_in(page, "invigilator1")
    expect(page.locator("#console")).to_be_visible()
    expect(page.locator("#who")).to_contain_text("invigilator: invigilator1")
    expect(page.locator("article.seat")).to_have_count(4, timeout=WAIT_MS)
    expect(page.locator("article.seat[data-seat='90']")).to_have_attribute("data-role", "console")

    # Either logs out: the console locks for both, on the page and at the server.
    page.click("#logout")
    expect(page.locator("#login")).to_be_visible()
    assert not page.is_visible("#console")
    expect(page.locator("#login-notice")).to_contain_text("locked")
    assert page.evaluate("fetch('/api/v1/seats').then(r => r.status)") == 401

    open_console(page)
    for seat in ("1", "2", "3", "90"):
        expect(page.locator(f"article.seat[data-seat='{seat}']")).to_have_attribute("data-state", "online", timeout=WAIT_MS)
    page.screenshot(path=str(screenshots / "console-open.png"), full_page=True)


def test_the_roster_is_imported_through_the_console_a_bad_row_named_by_its_line(console, centre, roster, screenshots):
    page = console
    open_console(page)
    rows = roster_rows(roster)
    assert len(rows) >= 3 and rows[0]["name"] == "张伟"

    # The third candidate's ID number gets a wrong check character: line 4 (the header is line 1).
    bad = Path(tempfile.mkdtemp(dir=centre.root, prefix="bad-roster-"))
    shutil.copytree(roster, bad, dirs_exist_ok=True)
    broken = [dict(r) for r in rows]
    last = broken[2]["id_number"][-1]
    broken[2]["id_number"] = broken[2]["id_number"][:-1] + ("1" if last != "1" else "2")
    write_roster(bad / "roster.csv", broken)
    page.set_input_files("#roster-files", files_of(bad))
    page.click("#roster-form button[type=submit]")
    error_row = page.locator("#roster-errors tr[data-line='4']")
    expect(error_row).to_be_visible(timeout=WAIT_MS)
    expect(error_row).to_contain_text(rows[2]["booking_number"])
    expect(page.locator("#roster-result")).to_contain_text("not imported")
    # Nothing of a failed import is stored.
    expect(page.locator("#candidates tbody tr")).to_have_count(0)
    page.locator("#roster-errors").screenshot(path=str(screenshots / "console-roster-errors.png"))

    page.set_input_files("#roster-files", files_of(roster))
    page.click("#roster-form button[type=submit]")
    expect(page.locator("#roster-result")).to_contain_text(f"Imported {len(rows)} row(s)", timeout=WAIT_MS)
    assert page.is_hidden("#roster-errors")
    expect(page.locator("#candidates tbody tr")).to_have_count(len(rows))
    first = page.locator(f"#candidates tr[data-booking='{rows[0]['booking_number']}']")
    expect(first).to_contain_text("张伟")
    expect(first).to_have_attribute("data-state", "booked")


# --------------------------------------------------------------- mode (a): the card at the console


def test_mode_a_the_card_read_at_the_console_assigns_a_seat_that_greets_the_candidate(
        console, centre, roster, seat_pages, screenshots):
    page = console
    open_console(page)
    booking = roster_rows(roster)[0]["booking_number"]
    centre.card.script("insert")

    panel = page.locator("#card-panel")
    expect(panel).to_be_visible(timeout=WAIT_MS)
    expect(panel).to_have_attribute("data-accepted", "true")
    expect(page.locator("#card-fields dd[data-field='name']")).to_have_text("张伟")
    expect(page.locator("#card-fields dd[data-field='id_number']")).to_have_text("110105199003071239")
    expect(page.locator("#card-problems li")).to_have_count(0)
    # The roster photo beside the card's data, really loaded.
    page.wait_for_function("(() => { const i = document.getElementById('roster-photo'); "
                           "return !i.hidden && i.complete && i.naturalWidth > 0; })()", timeout=WAIT_MS)
    seat = page.locator("#card-seat").get_attribute("data-seat")
    assert seat in seat_pages, seat
    expect(page.locator(f"article.seat[data-seat='{seat}']")).to_have_attribute(
        "data-candidate-state", "assigned", timeout=WAIT_MS)
    panel.screenshot(path=str(screenshots / "console-card.png"))

    # That seat greets 张伟 by name, in the roster's language, with no fingerprint step.
    seat_page = seat_pages[seat]
    seat_page.wait_for_selector("#panel-greet:not([hidden])", timeout=WAIT_MS)
    assert seat_page.locator("html").get_attribute("lang") == "zh-CN"
    expect(seat_page.locator("#greet-title")).to_have_text(text("zh-CN", "greeting.title", name="张伟"))
    seat_page.screenshot(path=str(screenshots / "seat-mode-a-greeting.png"))
    seat_page.keyboard.press("Enter")
    seat_page.wait_for_selector("#panel-camera:not([hidden])")
    seat_page.wait_for_selector("#camera-preview:not([hidden])", timeout=WAIT_MS)
    seat_page.keyboard.press("Enter")
    seat_page.wait_for_selector("#panel-result:not([hidden])", timeout=WAIT_MS)
    expect(seat_page.locator("#result-title")).to_have_text(text("zh-CN", "result.admitted.title"))
    expect(page.locator(f"article.seat[data-seat='{seat}']")).to_have_attribute(
        "data-candidate-state", "admitted", timeout=WAIT_MS)
    expect(page.locator(f"#candidates tr[data-booking='{booking}']")).to_have_attribute(
        "data-state", "admitted", timeout=WAIT_MS)
    centre.card.script("remove")

    # A seat page opened afresh (a restarted browser) asks the agent who sits there.
    again = seat_page.context.new_page()
    again.goto(next(a.base for a in centre.seats if a.seat == seat) + "/")
    again.wait_for_selector("html[data-ready=true]")
    again.wait_for_selector("#panel-result[data-result='admitted']:not([hidden])")
    assert again.locator("html").get_attribute("lang") == "zh-CN"
    expect(again.locator("#candidate")).to_have_text(text("zh-CN", "candidate.greeting", name="张伟"))
    again.close()


# --------------------------------------------------------------- mode (b): at the seat


def free_seats(page, centre):
    taken = {s.get_attribute("data-seat") for s in page.locator("article.seat[data-candidate-state]").all()}
    return [a for a in centre.seats if a.seat not in taken]


def log_in_at_seat(seat_page, code, booking):
    choose(seat_page, code)
    seat_page.keyboard.type(booking)
    seat_page.keyboard.press("Enter")
    seat_page.wait_for_selector("#panel-finger:not([hidden])", timeout=WAIT_MS)


def test_mode_b_language_booking_number_finger_and_camera_admit_the_candidate(
        console, centre, roster, seat_pages, screenshots):
    page = console
    open_console(page)
    candidate = roster_rows(roster)[1]
    agent = free_seats(page, centre)[0]
    seat_page = seat_pages[agent.seat]
    agent.finger(2)  # candidate 2's finger, on the reader before the step (no event to race with)

    log_in_at_seat(seat_page, "fr", candidate["booking_number"])
    expect(seat_page.locator("#candidate")).to_have_text(text("fr", "candidate.greeting", name=candidate["name"]))
    expect(page.locator(f"article.seat[data-seat='{agent.seat}']")).to_have_attribute(
        "data-candidate-state", "verifying", timeout=WAIT_MS)
    seat_page.keyboard.press("Enter")
    seat_page.wait_for_selector("#panel-camera:not([hidden])", timeout=WAIT_MS)
    expect(seat_page.locator("#status")).to_have_text(text("fr", "finger.matched"))
    seat_page.wait_for_selector("#camera-preview:not([hidden])", timeout=WAIT_MS)
    seat_page.keyboard.press("Enter")
    seat_page.wait_for_selector("#panel-result:not([hidden])", timeout=WAIT_MS)
    expect(seat_page.locator("#result-title")).to_have_text(text("fr", "result.admitted.title"))
    seat_page.screenshot(path=str(screenshots / "seat-mode-b-admitted.png"))
    expect(page.locator(f"article.seat[data-seat='{agent.seat}']")).to_have_attribute(
        "data-candidate-state", "admitted", timeout=WAIT_MS)


def test_three_wrong_fingers_bring_the_examiner_who_admits_with_a_typed_reason(
        console, centre, roster, seat_pages, screenshots):
    page = console
    open_console(page)
    candidate = roster_rows(roster)[2]
    booking = candidate["booking_number"]
    agent = free_seats(page, centre)[0]
    seat_page = seat_pages[agent.seat]
    agent.finger(len(roster_rows(roster)) + 3)  # nobody's finger

    # The snapshots travel through each seat's outbox and may come after their attempt: here
    # the server answers as before they arrive (404) until the console has said so.
    def not_yet(route):
        route.fulfill(status=404, content_type="application/json",
                      body='{"error":{"kind":"not_found","message":"no snapshot"}}')
    page.route("**/api/v1/snapshots/*", not_yet)

    log_in_at_seat(seat_page, "de", booking)
    for left in ("2", "1"):
        seat_page.keyboard.press("Enter")
        expect(seat_page.locator("#attempts")).to_have_text(text("de", "attempts.left", count=left), timeout=WAIT_MS)
        expect(seat_page.locator("#status")).to_have_text(text("de", "finger.no_match"))
    seat_page.keyboard.press("Enter")
    seat_page.wait_for_selector("#panel-result[data-result='examiner']:not([hidden])", timeout=WAIT_MS)

    # The console: the candidate needs the examiner, and an alert says so.
    need = page.locator(f"#needs-examiner li[data-booking='{booking}']")
    expect(need).to_be_visible(timeout=WAIT_MS)
    expect(need).to_contain_text(candidate["name"])
    expect(page.locator("#alerts li[data-kind='examiner_needed']").first).to_be_visible(timeout=WAIT_MS)
    expect(page.locator(f"article.seat[data-seat='{agent.seat}']")).to_have_attribute(
        "data-candidate-state", "waiting_for_examiner")

    # Before deciding, the examiner compares the person at the seat with the roster.
    evidence = need.locator(".evidence")
    expect(evidence.locator("tbody tr[data-attempt]")).to_have_count(3, timeout=WAIT_MS)
    for n in (1, 2, 3):
        row = evidence.locator(f"tbody tr[data-attempt='{n}']")
        expect(row).to_have_attribute("data-snapshot", "missing", timeout=WAIT_MS)
        expect(row.locator("td.snapshot-cell")).to_have_text("not yet received (the seat sends it shortly)")
    page.unroute("**/api/v1/snapshots/*", not_yet)
    # Received: the console fills them in without a reload.
    expect_evidence(page, evidence, f"#needs-examiner li[data-booking='{booking}'] .evidence")
    expect(evidence).to_have_attribute("aria-label", f"evidence for {candidate['name']} (booking {booking})")
    page.screenshot(path=str(screenshots / "console-examiner-needed.png"), full_page=True)
    need.screenshot(path=str(screenshots / "console-evidence.png"))

    # No decision without a reason; then one typed, by keyboard.
    need.locator("button.admit").click()
    expect(need.locator(".error")).to_contain_text("reason")
    assert need.locator("input.reason").evaluate("e => e === document.activeElement")
    page.keyboard.type(REASON)
    page.keyboard.press("Tab")
    page.keyboard.press("Enter")  # Admit
    expect(page.locator(f"article.seat[data-seat='{agent.seat}']")).to_have_attribute(
        "data-candidate-state", "admitted", timeout=WAIT_MS)
    expect(need).to_have_count(0)

    # The seat hears the decision.
    seat_page.wait_for_selector("#panel-result[data-result='examiner_admitted']", timeout=WAIT_MS)
    expect(seat_page.locator("#result-title")).to_have_text(text("de", "result.examiner_admitted.title"))
    seat_page.screenshot(path=str(screenshots / "seat-examiner-admitted.png"))

    # The same evidence from the roster, opened and closed by keyboard, in either language.
    row = page.locator(f"#candidates tbody tr[data-booking='{booking}']")
    expect(row).to_have_attribute("data-state", "admitted", timeout=WAIT_MS)
    toggle = row.locator("button.evidence-toggle")
    expect(toggle).to_have_attribute("aria-expanded", "false")
    toggle.focus()
    page.keyboard.press("Enter")
    expect(toggle).to_have_attribute("aria-expanded", "true")
    expect(toggle).to_be_focused()  # the row is redrawn, its button keeps the focus
    selector = f"#candidates tr.evidence-row[data-evidence-for='{booking}'] .evidence"
    expect_evidence(page, page.locator(selector), selector)
    page.locator("#languages button[data-lang='zh-CN']").click()
    zh = console_messages("zh-CN")["messages"]
    shown = page.locator(selector)
    expect(shown.locator("caption")).to_have_text(zh["evidence.caption"])
    expect(shown.locator("tbody tr[data-attempt='1'] td.signature")).to_have_text(zh["signature.valid"])
    expect(shown.locator("tbody tr[data-attempt='1'] td.verdict")).to_have_text(zh["verdict.no_match"])
    expect(row.locator("button.evidence-toggle")).to_have_text(zh["roster.evidence"])
    page.locator(selector).screenshot(path=str(screenshots / "console-evidence-zh-CN.png"))
    page.locator("#languages button[data-lang='en']").click()
    toggle.focus()
    page.keyboard.press("Enter")
    expect(toggle).to_have_attribute("aria-expanded", "false")
    expect(page.locator(selector)).to_have_count(0)
