"""The console in Simplified Chinese and English, in chromium against the real server:
a Chinese browser gets the Chinese console, and nothing English is left in what it
shows outside the data (names, numbers, host names, the server's own messages); in
English no Chinese is left outside the data; the header's switch works by keyboard,
keeps the session and what is typed, and is remembered.

The centre: examgate-server, two seat PCs with their agents and links, one of them
handed to a spare PC so that an alert is open, the day's roster imported through
the page, and a card read at the console drawn from a card_read event."""

import json
import re
import subprocess
import tempfile
from pathlib import Path

import pytest
from playwright.sync_api import expect

from centre import AGENT, SERVER, SIM, Centre
from test_console_messages import CJK_PUNCTUATION, HAN, LATIN_IN_CHINESE, load

WAIT_MS = 20_000  # guards only: live updates come within a heartbeat (1 s here)
SEAT_DEVICES = ["sim:fingerprint?format=iso19794-2", "sim:camera"]
PASSWORDS = {"examiner1": "examiner-pass", "invigilator1": "invigilator-pass"}
LANGUAGE_NAMES = [load(code)["meta"]["name"] for code in ("zh-CN", "en")]

# A card_read event as the server sends it (server/src/hub.rs, CardRead): every problem at once.
CARD = {"name": "张伟", "sex": {"code": "1", "label": "男"}, "nation": {"code": "01", "label": "汉"},
        "birth_date": "1990-03-07", "id_number": "110105199003071239", "address": "北京市朝阳区建国路1号",
        "issuer": "北京市公安局朝阳分局", "valid_from": "2015-01-01", "valid_until": None}
PROBLEMS = ["check_character", "not_yet_valid", "expired", "no_booking_today", "already_admitted", "refused",
            "no_free_seat", "unreadable"]
REFUSED_CARD = {"type": "card_read", "card": CARD, "photo_url": None,
                "check": {"accepted": False, "seat": "1", "problems": PROBLEMS}}
ACCEPTED_CARD = {"type": "card_read", "card": CARD, "photo_url": None,
                 "check": {"accepted": True, "seat": "1", "name": "张伟", "booking_number": "K0001", "problems": []}}


def enrol(centre, name):
    out = subprocess.run([AGENT, "enrol", "--server", centre.base, "--pin", centre.pin, "--state-dir", centre.root / name],
                         text=True, check=True, capture_output=True).stdout
    return re.search(r"key ([0-9a-f]{32})", out).group(1)


@pytest.fixture(scope="module")
def centre():
    for binary in (SERVER, AGENT, SIM):
        if not binary.exists():
            pytest.fail(f"{binary} is missing: `make test` builds it")
    with tempfile.TemporaryDirectory(prefix="examgate-console-lang-") as root:
        c = Centre(Path(root))
        try:
            c.seats = [c.pc(f"seat-{n}", str(n), SEAT_DEVICES) for n in (1, 2)]
            yield c
        finally:
            c.stop()


def open_page(browser, centre, locale):
    context = browser.new_context(ignore_https_errors=True, viewport={"width": 1366, "height": 900}, locale=locale)
    page = context.new_page()
    page.errors = []
    page.on("pageerror", lambda e: page.errors.append(str(e)))
    page.goto(centre.base + "/console/")
    page.wait_for_selector("html[data-ready=true]")
    return page


def log_in(page, name):
    page.fill("#login-form input[name=username]", name)
    page.fill("#login-form input[name=password]", PASSWORDS[name])
    page.press("#login-form input[name=password]", "Enter")


def open_console(page):
    log_in(page, "examiner1")
    expect(page.locator("#roles li[data-role=examiner]")).to_have_attribute("data-in", "true")
    log_in(page, "invigilator1")
    expect(page.locator("#console")).to_be_visible()


VISIBLE_TEXT = """() => {
    const parts = [document.title, document.body.innerText];
    for (const e of document.querySelectorAll("[placeholder], [aria-label], [title], img[alt]")) {
        if (!e.checkVisibility()) continue;
        for (const a of ["placeholder", "aria-label", "title", "alt"]) if (e.hasAttribute(a)) parts.push(e.getAttribute(a));
    }
    return parts.join("\\n");
}"""

SERVER_DATA = """async () => {
    const get = (p) => fetch(p).then((r) => (r.ok ? r.json() : null));
    return { seats: await get("/api/v1/seats"), roster: await get("/api/v1/roster"), session: await get("/api/v1/session") };
}"""


def mask(id_number):
    return id_number[:6] + "•" * (len(id_number) - 10) + id_number[-4:] if len(id_number) > 8 else id_number


def data_strings(page):
    """What the console shows as data: from the server's answers, the card, the language names."""
    d = page.evaluate(SERVER_DATA)  # null where nobody is logged in
    session = d["session"] or {}
    seats = d["seats"] or {"seats": [], "unbound": [], "alerts": []}
    found = [*LANGUAGE_NAMES, "roster.csv", "K0001", session.get("examiner"), session.get("invigilator")]
    for s in seats["seats"]:
        found += [s["seat"], s["host_name"], s["ip"], *s["macs"], s["key_id"][:12]]
        if s["candidate"]:
            found += [s["candidate"]["name"], s["candidate"]["booking_number"]]
    for m in seats["unbound"]:
        found += [m["host_name"], m["source_ip"], *m["macs"], m["key_id"][:12]]
    for a in seats["alerts"]:
        found += [a["message"], (a.get("key_id") or "")[:12]]
    for c in (d["roster"] or {"candidates": []})["candidates"]:
        found += [c["booking_number"], c["name"], mask(c["id_number"]), c["session"], c["language"]]
    found += [v["label"] if isinstance(v, dict) else v for v in CARD.values() if v]
    return sorted({s for s in found if s}, key=len, reverse=True)


def words_outside_data(page):
    text = page.evaluate(VISIBLE_TEXT)
    for s in data_strings(page):
        text = text.replace(s, " ")
    return text


def assert_chinese_only(page, where):
    text = words_outside_data(page)
    latin = sorted(set(re.findall(r"[A-Za-z]+", text)) - LATIN_IN_CHINESE)
    assert not latin, f"{where}: English left in the Chinese console: {latin}\n{text}"
    assert HAN.search(text)


def assert_english_only(page, where):
    text = words_outside_data(page)
    left = HAN.findall(text) + CJK_PUNCTUATION.findall(text)
    assert not left, f"{where}: Chinese left in the English console: {left}\n{text}"


def show_card(page, event):
    page.evaluate("(ev) => import('/console/lib/card.js').then((m) => m.renderCard(ev))", event)
    expect(page.locator("#card-panel")).to_be_visible()


def test_a_chinese_browser_gets_the_console_in_chinese_with_no_english_outside_data(browser, centre, screenshots):
    page = open_page(browser, centre, "zh-CN")
    assert page.locator("html").get_attribute("lang") == "zh-CN"
    expect(page.locator("#login-title")).to_have_text("登录")
    # A wrong password is said in Chinese too.
    page.fill("#login-form input[name=username]", "examiner1")
    page.fill("#login-form input[name=password]", "not the password")
    page.press("#login-form input[name=password]", "Enter")
    expect(page.locator("#login-error")).to_have_text(load("zh-CN")["messages"]["login.wrong"])
    assert_chinese_only(page, "login")

    open_console(page)
    # The day's roster, imported through the page.
    roster = centre.roster(centre.today)
    page.set_input_files("#roster-files", sorted(str(p) for p in roster.rglob("*") if p.is_file()))
    page.click("#roster-form button[type=submit]")
    expect(page.locator("#roster-result.ok")).to_be_visible(timeout=WAIT_MS)
    expect(page.locator("#candidates tbody tr").first).to_be_visible()
    # Seat 2 handed to a spare PC: the old PC's next heartbeat is refused, an alert opens.
    spare = enrol(centre, "spare")
    enrol(centre, "waiting")
    expect(page.locator(f"#pending tr[data-key='{spare}']")).to_be_visible(timeout=WAIT_MS)
    card = page.locator("article.seat[data-seat='2']")
    card.locator("select.rebind-pick").select_option(spare)
    card.locator("button.rebind").click()
    expect(page.locator("#alerts li[data-kind='replaced_pc']").first).to_be_visible(timeout=WAIT_MS)
    expect(page.locator("article.seat[data-seat='1'][data-state='online'] .devices", has_text="指纹仪")).to_be_visible(
        timeout=WAIT_MS)
    show_card(page, REFUSED_CARD)
    expect(page.locator("#card-problems li")).to_have_count(len(PROBLEMS))
    page.screenshot(path=str(screenshots / "console-zh-CN.png"), full_page=True)
    assert_chinese_only(page, "the open console")
    show_card(page, ACCEPTED_CARD)
    expect(page.locator("#card-verdict")).to_contain_text("已为 张伟（预约号 K0001）分配 1 号座位")
    assert_chinese_only(page, "the open console, a card accepted")

    # The same console in English: no Chinese outside the data.
    page.locator("#languages button[data-lang='en']").focus()
    page.keyboard.press("Enter")
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(page.locator("#card-verdict")).to_contain_text("Seat 1 assigned to 张伟 (booking K0001)")
    show_card(page, REFUSED_CARD)
    page.screenshot(path=str(screenshots / "console-en.png"), full_page=True)
    assert_english_only(page, "the open console")
    assert not page.errors, page.errors
    page.context.close()


def test_the_switch_works_by_keyboard_keeps_the_session_and_what_is_typed_and_is_remembered(browser, centre):
    page = open_page(browser, centre, "en-US")
    switch = page.locator("#languages")
    assert page.locator("html").get_attribute("lang") == "en"
    expect(switch.locator("button[data-lang='en']")).to_have_attribute("aria-pressed", "true")

    # Half-typed login, then the switch reached from the field by keyboard alone.
    page.fill("#login-form input[name=username]", "examiner1")
    page.focus("#login-form input[name=username]")
    page.keyboard.press("Shift+Tab")
    page.keyboard.press("Shift+Tab")
    assert page.evaluate("document.activeElement.dataset.lang") == "zh-CN"
    page.keyboard.press("Enter")
    expect(page.locator("html")).to_have_attribute("lang", "zh-CN")
    expect(switch.locator("button[data-lang='zh-CN']")).to_have_attribute("aria-pressed", "true")
    expect(page.locator("#login-title")).to_have_text("登录")
    assert page.input_value("#login-form input[name=username]") == "examiner1"

    open_console(page)
    waiting = enrol(centre, "waiting-2")
    row = page.locator(f"#pending tr[data-key='{waiting}']")
    expect(row).to_be_visible(timeout=WAIT_MS)
    row.locator("input.seat-input").fill("7")
    expect(row.locator("td").nth(4)).to_have_text("等待批准")

    for code, state in (("en", "waiting for approval"), ("zh-CN", "等待批准")):
        switch.locator(f"button[data-lang='{code}']").focus()
        page.keyboard.press("Space")
        expect(page.locator("html")).to_have_attribute("lang", code)
        expect(row.locator("td").nth(4)).to_have_text(state)
        assert row.locator("input.seat-input").input_value() == "7"
        expect(page.locator("#console")).to_be_visible()
        assert page.evaluate("fetch('/api/v1/seats').then(r => r.status)") == 200
    expect(page.locator("#who")).to_contain_text("考试员：examiner1")

    # Remembered on this PC over the browser's English, and the session survives a reload.
    page.reload()
    page.wait_for_selector("html[data-ready=true]")
    expect(page.locator("html")).to_have_attribute("lang", "zh-CN")
    expect(page.locator("#console")).to_be_visible()
    expect(page.locator("#seats-title")).to_contain_text("座位")
    assert not page.errors, page.errors
    page.context.close()
