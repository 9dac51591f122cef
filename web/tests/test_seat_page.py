"""The seat page in Debian's chromium, served by the real agent: every exam
language laid out and worded as its message file says (one screenshot
each), the login steps by keyboard alone, the failure path to the examiner,
the ID card on the reader, and the shortcuts that would leave the page."""

import base64
import json
import re
from pathlib import Path

import pytest

from conftest import LANGUAGE_CODES, ROOT, messages

SEAT = ROOT / "web" / "seat"
VALID_ID = "11010519491231002X"
RTL = {"ar", "ug", "kk-Arab"}
VERTICAL = {"mn-Mong"}
LATIN_SCRIPT = {"en", "fr", "de", "es"}
# A 1x1 PNG: stands in for a camera frame.
PIXEL = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
)


def choose(page, code):
    """Pick the exam language with the keyboard: Tab to its tile, then Enter."""
    for _ in range(len(LANGUAGE_CODES) + 1):
        if page.evaluate("document.activeElement?.dataset?.lang") == code:
            break
        page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.dataset.lang") == code
    page.keyboard.press("Enter")
    page.wait_for_selector("#screen-login:not([hidden])")


def active_id(page):
    return page.evaluate("document.activeElement?.id")


def shown_text(page, selector):
    return page.locator(selector).inner_text().strip()


def wait_for_step(page, step):
    page.wait_for_selector(f"#panel-{step}:not([hidden])")


def wait_for_status(page, key):
    page.wait_for_selector(f'#status[data-i18n="{key}"]')


def box(page, selector):
    return page.locator(selector).first.bounding_box()


def fake_server(page, **answers):
    """Replace lib/server.js's calls with canned answers ("unreachable": the server cannot be
    reached; "refused": the agent answered 409); calls are kept in window.serverCalls."""
    page.evaluate(
        """async (answers) => {
            const server = await import("/lib/server.js");
            window.serverCalls = [];
            const answer = (name) => async (request) => {
                window.serverCalls.push([name, JSON.parse(JSON.stringify(request ?? null))]);
                if (answers[name] === "unreachable") throw new server.ServerUnreachable("test");
                if (answers[name] === "refused") throw new server.LoginRefused("no_candidate", "test");
                return answers[name];
            };
            server.useServer({
                lookupCandidate: answer("lookupCandidate"),
                verifyWithServer: answer("verifyWithServer"),
                askExaminer: answer("askExaminer"),
                finishLogin: answer("finishLogin"),
            });
        }""",
        {
            "lookupCandidate": {"status": "deferred"},
            "verifyWithServer": {"verdict": "pending"},
            "askExaminer": None,
            "finishLogin": {"outcome": "waiting_for_examiner"},
            **answers,
        },
    )


def enter_id(page, number=VALID_ID):
    page.keyboard.type(number)
    page.keyboard.press("Enter")
    wait_for_step(page, "finger")


# --------------------------------------------------------------- serving


def test_the_agent_serves_every_file_of_the_page_as_it_is_on_disk(agent):
    for path in sorted(p for p in SEAT.rglob("*") if p.is_file()):
        url = "/" + path.relative_to(SEAT).as_posix()
        status, content_type, body = agent.get("/" if url == "/index.html" else url)
        assert status == 200, url
        assert body == path.read_bytes(), f"{url}: the agent binary is older than web/seat (rebuild it)"
        expected = {".html": "text/html", ".js": "text/javascript", ".css": "text/css", ".json": "application/json"}
        assert content_type.startswith(expected[path.suffix]), (url, content_type)


# --------------------------------------------------------------- the twelve languages


def test_the_language_screen_offers_all_twelve_each_in_its_own_script(page, screenshots):
    tiles = page.locator(".language-tile")
    assert tiles.count() == 12
    for i, code in enumerate(LANGUAGE_CODES):
        meta = messages(code)["meta"]
        tile = tiles.nth(i)
        assert tile.get_attribute("data-lang") == code
        name = tile.locator(".endonym")
        assert name.inner_text().strip() == meta["name"]
        assert name.get_attribute("lang") == code
        assert name.get_attribute("dir") == meta["dir"]
    mongolian = page.locator('.language-tile[data-lang="mn-Mong"] .endonym')
    assert mongolian.evaluate("el => getComputedStyle(el).writingMode") == "vertical-lr"
    assert mongolian.evaluate("el => getComputedStyle(el).direction") == "ltr"
    title = shown_text(page, "#language-title")
    assert messages("zh-CN")["messages"]["language.prompt"] in title
    assert messages("en")["messages"]["language.prompt"] in title
    assert active_id(page) == "" and page.evaluate("document.activeElement.dataset.lang") == LANGUAGE_CODES[0]
    page.screenshot(path=screenshots / "languages.png")


@pytest.mark.parametrize("code", LANGUAGE_CODES)
def test_each_language_lays_out_and_words_the_page_from_its_file(page, code, screenshots):
    doc = messages(code)
    text = doc["messages"]
    choose(page, code)
    page.keyboard.type(VALID_ID[:10])

    # Direction and writing mode, as the file declares them.
    html = page.locator("html")
    assert html.get_attribute("lang") == code
    assert html.get_attribute("dir") == doc["meta"]["dir"]
    style = page.evaluate("(() => { const s = getComputedStyle(document.body); return [s.direction, s.writingMode]; })()")
    assert style == [
        "rtl" if code in RTL else "ltr",
        "vertical-lr" if code in VERTICAL else "horizontal-tb",
    ]

    # Every visible text element shows its message, and the words are the file's.
    shown = page.evaluate(
        """() => [...document.querySelectorAll('[data-i18n]')]
            .filter((el) => el.checkVisibility())
            .map((el) => [el.dataset.i18n, el.textContent])"""
    )
    assert len(shown) >= 12
    for key, value in shown:
        assert value == text[key], (code, key)
    body = page.locator("body").inner_text()
    for key in ["app.title", "step.id.name", "step.finger.name", "step.camera.name", "id.label", "id.hint"]:
        assert text[key] in body, (code, key)

    # No fallback: no raw keys, no English on a page in another language.
    assert not re.search(r"\b[a-z]+(?:\.[a-z_]+)+\b", body), body
    if code != "en":
        for key, english in messages("en")["messages"].items():
            if len(english) > 3:
                assert not re.search(rf"(?<!\w){re.escape(english)}(?!\w)", body), (code, key)
    if code not in LATIN_SCRIPT:
        latin = re.findall(r"[A-Za-z]+", body)
        assert set(latin) <= {"Tab", "Enter", "X"}, (code, latin)

    # The layout follows the script: mirrored for right to left, columns for Mongolian.
    first, second = box(page, '#steps li[data-step="id"]'), box(page, '#steps li[data-step="finger"]')
    header, nav, panel = box(page, ".top-bar"), box(page, ".steps"), box(page, ".panel")
    title, change = box(page, ".titles"), box(page, "#change-language")
    if code in VERTICAL:
        assert second["y"] > first["y"] + first["height"] - 1 and abs(second["x"] - first["x"]) < 40
        assert header["x"] + header["width"] <= nav["x"] + 1 <= panel["x"] + 1
        assert change["y"] > title["y"] + title["height"] - 1
        assert page.locator("html").get_attribute("dir") == "ltr"
    elif code in RTL:
        assert second["x"] + second["width"] <= first["x"]
        assert change["x"] + change["width"] <= title["x"]
        assert box(page, "#id-instruction")["x"] + box(page, "#id-instruction")["width"] > 1366 - 100
    else:
        assert first["x"] + first["width"] <= second["x"]
        assert title["x"] + title["width"] <= change["x"]
        assert header["y"] + header["height"] <= nav["y"] + 1 <= panel["y"] + 1

    page.screenshot(path=screenshots / f"{code}.png")


# --------------------------------------------------------------- keyboard only


def test_the_login_steps_by_keyboard_alone(page, screenshots):
    text = messages("en")["messages"]
    choose(page, "en")
    assert active_id(page) == "id-number"
    field = page.locator("#id-number")

    # Focus is visible: a ring around the focused control.
    ring = page.evaluate("getComputedStyle(document.activeElement).boxShadow")
    assert ring != "none"

    # Digits go into the field; letters do not; X only as the 18th character.
    page.keyboard.type("11a0x")
    assert field.input_value() == "110"
    # Tab order: field, Confirm, Clear; Shift+Tab back to the language button in the header.
    page.keyboard.press("Tab")
    assert active_id(page) == "id-confirm"
    assert page.evaluate("getComputedStyle(document.activeElement).boxShadow") != "none"
    page.keyboard.press("Tab")
    assert active_id(page) == "id-clear"
    # Digits typed while a button has the focus still go into the field, and Backspace takes one back.
    page.keyboard.type("105")
    assert field.input_value() == "110105"
    assert active_id(page) == "id-number"
    page.keyboard.press("Tab")
    page.keyboard.press("Backspace")
    assert field.input_value() == "11010" and active_id(page) == "id-number"
    page.keyboard.press("Shift+Tab")
    assert active_id(page) == "change-language"
    page.keyboard.press("Tab")
    assert active_id(page) == "id-number"

    # A wrong number is refused in words; Clear (Space) empties the field.
    page.keyboard.press("Enter")
    wait_for_status(page, "id.invalid")
    assert shown_text(page, "#status") == text["id.invalid"]
    page.keyboard.press("Tab")
    page.keyboard.press("Tab")
    page.keyboard.press("Space")
    assert field.input_value() == "" and active_id(page) == "id-number"

    # Step 1 -> 2 with a valid ID number ending in X.
    page.keyboard.type(VALID_ID.lower())
    assert field.input_value() == VALID_ID
    page.keyboard.press("Enter")
    wait_for_step(page, "finger")
    assert active_id(page) == "finger-start"
    assert page.locator('#steps li[data-step="id"]').get_attribute("class") == "done"
    assert page.locator('#steps li[data-step="finger"]').get_attribute("aria-current") == "step"

    # Step 2: the simulated reader has a finger on it; the server's verdict is
    # "waiting for the examiner" until the server is connected.
    page.keyboard.press("Enter")
    wait_for_step(page, "camera")
    wait_for_status(page, "finger.waiting_examiner")
    assert shown_text(page, "#status") == text["finger.waiting_examiner"]
    assert active_id(page) == "camera-continue"
    # No camera on this agent: the page says so and goes on.
    page.wait_for_selector("#camera-unavailable:not([hidden])")
    assert shown_text(page, "#camera-unavailable") == text["camera.unavailable"]
    page.screenshot(path=screenshots / "en-camera.png")

    # Step 3 -> the result: wait for the examiner.
    page.keyboard.press("Enter")
    wait_for_step(page, "result")
    assert shown_text(page, "#result-title") == text["result.waiting.title"]
    assert active_id(page) == "result-title"
    page.screenshot(path=screenshots / "en-result-waiting.png")


def test_a_matching_fingerprint_and_the_camera_admit_the_candidate(page, screenshots):
    text = messages("zh-CN")["messages"]
    snapshots = []
    page.route("**/v1/camera/preview", lambda route: route.fulfill(status=200, content_type="image/png", body=PIXEL))

    def snapshot(route):
        snapshots.append(json.loads(route.request.post_data))
        route.fulfill(json={"jpeg": None, "record": {"id": 1, "reason": "identity_verification", "sha256": "ab" * 32}})

    page.route("**/v1/camera/snapshot", snapshot)
    choose(page, "zh-CN")
    fake_server(
        page,
        lookupCandidate={"status": "found", "name": "张三"},
        verifyWithServer={"verdict": "match", "score": 912},
        finishLogin={"outcome": "admitted"},
    )
    enter_id(page)
    assert shown_text(page, "#candidate") == "考生：张三"
    page.keyboard.press("Enter")
    wait_for_step(page, "camera")
    wait_for_status(page, "finger.matched")
    page.wait_for_selector("#camera-preview:not([hidden])")
    assert page.locator("#camera-unavailable").is_hidden()
    page.screenshot(path=screenshots / "zh-CN-camera.png")
    page.keyboard.press("Enter")
    wait_for_step(page, "result")
    assert shown_text(page, "#result-title") == text["result.admitted.title"]
    assert snapshots == [{"reason": "identity_verification"}]
    calls = page.evaluate("window.serverCalls")
    assert [name for name, _ in calls] == ["lookupCandidate", "verifyWithServer", "finishLogin"]
    assert calls[0][1] == {"kind": "id_number", "value": VALID_ID, "source": "keyboard"}
    assert calls[1][1]["capture"]["template"] and calls[1][1]["attempt"] == 1
    assert calls[2][1]["verdict"] == "match" and calls[2][1]["snapshot"]["record"]["sha256"] == "ab" * 32


# --------------------------------------------------------------- failures


def test_three_unclear_fingerprints_send_the_candidate_to_the_examiner(page, agent, screenshots):
    text = messages("ar")["messages"]
    choose(page, "ar")
    fake_server(page)
    enter_id(page)
    agent.sim("poor-quality 3")
    for left in (2, 1):
        page.keyboard.press("Enter")
        page.wait_for_selector(f'#attempts:has-text("{left}")')
        assert shown_text(page, "#status") == text["finger.poor_quality"]
        assert shown_text(page, "#attempts") == text["attempts.left"].replace("{count}", str(left))
        assert active_id(page) == "finger-start"
    page.screenshot(path=screenshots / "ar-finger-retry.png")
    page.keyboard.press("Enter")
    wait_for_step(page, "result")
    assert shown_text(page, "#result-title") == text["result.examiner.title"]
    assert shown_text(page, "#result-body") == text["result.examiner.body"]
    assert "failed" in page.locator('#steps li[data-step="finger"]').get_attribute("class")
    assert page.locator("#change-language").is_hidden()
    page.wait_for_function("window.serverCalls.some(([name]) => name === 'askExaminer')")
    ask = [request for name, request in page.evaluate("window.serverCalls") if name == "askExaminer"]
    assert ask == [{"identity": {"kind": "id_number", "value": VALID_ID, "source": "keyboard"},
                    "failures": 3, "reason": "three_failures"}]
    page.screenshot(path=screenshots / "ar-result-examiner.png")


def test_three_mismatches_from_the_server_send_the_candidate_to_the_examiner(page, screenshots):
    text = messages("mn-Mong")["messages"]
    choose(page, "mn-Mong")
    fake_server(page, verifyWithServer={"verdict": "no_match", "score": 120})
    enter_id(page)
    page.screenshot(path=screenshots / "mn-Mong-finger.png")
    for _ in range(2):
        page.keyboard.press("Enter")
        wait_for_status(page, "finger.no_match")
        page.evaluate("document.getElementById('status').removeAttribute('data-i18n')")
    page.keyboard.press("Enter")
    wait_for_step(page, "result")
    assert shown_text(page, "#result-title") == text["result.examiner.title"]
    assert page.evaluate("getComputedStyle(document.getElementById('result-title')).writingMode") == "vertical-lr"
    page.screenshot(path=screenshots / "mn-Mong-result-examiner.png")


# --------------------------------------------------------------- the ID card


def card_events(page):
    """Route the page's event socket through the test, which can add events to it."""
    sockets = []

    def handle(ws):
        ws.connect_to_server()
        sockets.append(ws)

    page.route_web_socket(re.compile(r"/v1/events$"), handle)
    return sockets


def insert_card(sockets):
    sockets[-1].send(json.dumps({"type": "card_inserted", "device": "pcsc-0", "timestamp": "2026-11-25T08:00:00.000Z"}))


def test_a_card_on_the_reader_fills_in_the_number(context, agent):
    page = context.new_page()
    sockets = card_events(page)
    card = {"name": "张三", "id_number": VALID_ID, "id_number_valid": True, "source": "pcsc-decoded"}
    page.route("**/v1/idcard/read", lambda route: route.fulfill(json=card))
    page.goto(agent.base + "/")
    page.wait_for_selector("html[data-ready=true]")
    choose(page, "zh-CN")
    assert sockets, "the page opened no event socket"
    insert_card(sockets)
    wait_for_step(page, "finger")
    assert page.locator("#id-number").input_value() == VALID_ID
    assert shown_text(page, "#status") == messages("zh-CN")["messages"]["id.card_read"]
    assert shown_text(page, "#candidate") == "考生：张三"


def test_a_card_the_agent_cannot_read_leaves_typing_the_number(context, agent):
    # The agent under test may have no /v1/idcard/read yet, or no card reader: either way the page carries on.
    page = context.new_page()
    sockets = card_events(page)
    page.goto(agent.base + "/")
    page.wait_for_selector("html[data-ready=true]")
    choose(page, "ug")
    insert_card(sockets)
    wait_for_status(page, "id.card_failed")
    assert shown_text(page, "#status") == messages("ug")["messages"]["id.card_failed"]
    assert page.locator("#panel-id").is_visible()
    page.keyboard.type(VALID_ID)
    page.keyboard.press("Enter")
    wait_for_step(page, "finger")


# --------------------------------------------------------------- what the server answers


def seat_page(context, agent):
    """A seat page whose event socket the test can add events to (the agent's own events pass through)."""
    page = context.new_page()
    page.errors = []
    page.on("pageerror", lambda e: page.errors.append(str(e)))
    sockets = card_events(page)
    page.goto(agent.base + "/")
    page.wait_for_selector("html[data-ready=true]")
    assert sockets, "the page opened no event socket"
    return page, sockets


def send_event(sockets, event):
    sockets[-1].send(json.dumps({"timestamp": "2026-11-25T08:00:00.000Z", **event}))


@pytest.mark.parametrize("status, key", [
    ("not_found", "id.not_found"),
    ("not_today", "id.not_today"),
    ("assigned_elsewhere", "id.assigned_elsewhere"),
    ("already_admitted", "id.already_admitted"),
    ("seat_busy", "id.seat_busy"),
    ("unreachable", "server.unreachable"),
])
def test_a_lookup_the_server_refuses_is_explained_and_the_candidate_stays_on_step_one(page, status, key):
    text = messages("es")["messages"]
    choose(page, "es")
    answer = status if status == "unreachable" else {"status": status, "message": "for the log only"}
    fake_server(page, lookupCandidate=answer)
    page.keyboard.type(VALID_ID)
    page.keyboard.press("Enter")
    wait_for_status(page, key)
    assert shown_text(page, "#status") == text[key]
    assert page.locator("#panel-id").is_visible() and active_id(page) == "id-number"
    assert "for the log only" not in page.locator("body").inner_text()


def test_a_candidate_the_examiner_refused_earlier_sees_the_refusal(page):
    text = messages("ru")["messages"]
    choose(page, "ru")
    fake_server(page, lookupCandidate={"status": "refused", "message": "refused by the examiner"})
    page.keyboard.type(VALID_ID)
    page.keyboard.press("Enter")
    wait_for_step(page, "result")
    assert shown_text(page, "#result-title") == text["result.refused.title"]
    assert shown_text(page, "#result-body") == text["result.refused.body"]


def test_an_unreachable_server_during_the_scan_costs_no_attempt(page):
    text = messages("fr")["messages"]
    choose(page, "fr")
    fake_server(page, lookupCandidate={"status": "found", "booking_number": "20261125001", "name": "Léa",
                                       "language": "fr", "state": "verifying", "failures": 0},
                verifyWithServer="unreachable")
    enter_id(page)
    page.keyboard.press("Enter")
    wait_for_status(page, "server.unreachable")
    assert shown_text(page, "#status") == text["server.unreachable"]
    assert page.locator("#attempts").is_hidden() and active_id(page) == "finger-start"


def test_a_scan_the_agent_refuses_sends_the_candidate_to_the_examiner_not_to_a_retry(page):
    # E.g. the agent restarted and lost the login (409 no_candidate): retrying cannot mend it.
    text = messages("es")["messages"]
    choose(page, "es")
    fake_server(page, lookupCandidate={"status": "found", "booking_number": "20261125001", "name": "Lucía",
                                       "language": "es", "state": "verifying", "failures": 0},
                verifyWithServer="refused")
    enter_id(page)
    page.keyboard.press("Enter")
    wait_for_step(page, "result")
    assert shown_text(page, "#result-title") == text["result.examiner.title"]
    page.wait_for_function("window.serverCalls.some(([name]) => name === 'askExaminer')")
    ask = [r for name, r in page.evaluate("window.serverCalls") if name == "askExaminer"]
    assert ask[0]["reason"] == "server_refused"


def test_failures_counted_by_the_server_carry_over_and_its_examiner_state_ends_the_attempts(page):
    text = messages("de")["messages"]
    choose(page, "de")
    fake_server(page,
                lookupCandidate={"status": "found", "booking_number": "20261125001", "name": "Jonas",
                                 "language": "de", "state": "verifying", "failures": 1},
                verifyWithServer={"verdict": "no_match", "score": 75, "failures": 2, "state": "verifying"})
    enter_id(page)
    page.keyboard.press("Enter")
    wait_for_status(page, "finger.no_match")
    assert shown_text(page, "#attempts") == text["attempts.left"].replace("{count}", "1")
    fake_server(page, verifyWithServer={"verdict": "no_match", "score": 80, "failures": 3,
                                        "state": "waiting_for_examiner"})
    page.keyboard.press("Enter")
    wait_for_step(page, "result")
    assert shown_text(page, "#result-title") == text["result.examiner.title"]
    page.wait_for_function("window.serverCalls.some(([name]) => name === 'askExaminer')")
    ask = [r for name, r in page.evaluate("window.serverCalls") if name == "askExaminer"]
    assert ask[0]["failures"] == 3 and ask[0]["reason"] == "three_failures"


@pytest.mark.parametrize("roster_language, code", [("ug", "ug"), ("mn", "mn-Mong"), ("zh", "zh-CN")])
def test_a_candidate_assigned_from_the_console_is_greeted_by_name_in_their_language(
        context, agent, screenshots, roster_language, code):
    # Mode (a): the examiner read the card at the console; the server gave this seat to the candidate.
    text = messages(code)["messages"]
    page, sockets = seat_page(context, agent)
    fake_server(page, finishLogin={"outcome": "admitted"})
    send_event(sockets, {"type": "candidate_assigned", "booking_number": "20261125001", "name": "张伟",
                         "language": roster_language})
    wait_for_step(page, "greet")
    assert page.locator("html").get_attribute("lang") == code
    assert shown_text(page, "#greet-title") == text["greeting.title"].replace("{name}", "张伟")
    assert shown_text(page, "#candidate") == text["candidate.greeting"].replace("{name}", "张伟")
    # No identity or fingerprint step: the examiner did those at the console.
    assert page.locator(".steps").is_hidden()
    assert active_id(page) == "greet-continue"
    page.screenshot(path=screenshots / f"{code}-greeting.png")
    page.keyboard.press("Enter")
    wait_for_step(page, "camera")
    page.keyboard.press("Enter")
    wait_for_step(page, "result")
    assert shown_text(page, "#result-title") == text["result.admitted.title"]
    calls = page.evaluate("window.serverCalls")
    assert [name for name, _ in calls] == ["finishLogin"] and calls[0][1]["identity"] is None
    assert not page.errors, page.errors


@pytest.mark.parametrize("decision, result", [("admitted", "examiner_admitted"), ("refused", "refused")])
def test_the_examiners_decision_reaches_the_candidate_waiting_for_it(context, agent, decision, result):
    text = messages("ko")["messages"]
    page, sockets = seat_page(context, agent)
    choose(page, "ko")
    fake_server(page,
                lookupCandidate={"status": "found", "booking_number": "20261125002", "name": "김민준",
                                 "language": "ko", "state": "verifying", "failures": 0},
                verifyWithServer={"verdict": "no_match", "score": 12, "failures": 3, "state": "waiting_for_examiner"})
    enter_id(page)
    page.keyboard.press("Enter")
    wait_for_step(page, "result")
    assert page.locator("#panel-result").get_attribute("data-result") == "examiner"
    # A decision about someone else's booking is not this candidate's.
    send_event(sockets, {"type": "login_decision", "booking_number": "20261125099", "decision": decision})
    send_event(sockets, {"type": "login_decision", "booking_number": "20261125002", "decision": decision})
    page.wait_for_selector(f'#panel-result[data-result="{result}"]')
    assert shown_text(page, "#result-title") == text[f"result.{result}.title"]
    assert shown_text(page, "#result-body") == text[f"result.{result}.body"]
    assert not page.errors, page.errors


def test_a_candidate_released_by_the_examiner_leaves_the_page_to_the_next_one(context, agent):
    # Mode (a) taken back: the examiner released the candidate the console had sent here.
    page, sockets = seat_page(context, agent)
    send_event(sockets, {"type": "candidate_assigned", "booking_number": "20261125001", "name": "张伟",
                         "language": "zh"})
    wait_for_step(page, "greet")
    # A release of someone else's booking is not this candidate's.
    send_event(sockets, {"type": "candidate_released", "booking_number": "20261125099"})
    send_event(sockets, {"type": "candidate_released", "booking_number": "20261125001"})
    page.wait_for_selector("#screen-language", state="visible")
    assert page.locator("#screen-login").is_hidden()
    assert page.locator("html").get_attribute("dir") == "ltr"
    # The next candidate starts from the beginning: no name, nothing typed.
    choose(page, "en")
    wait_for_step(page, "id")
    assert page.locator("#id-number").input_value() == ""
    assert "张伟" not in page.locator("#screen-login").inner_text()
    assert not page.errors, page.errors


def test_an_examiners_warning_is_shown_as_text(context, agent):
    text = messages("ar")["messages"]
    page, sockets = seat_page(context, agent)
    choose(page, "ar")
    words = "<b>Keep</b> your eyes on your own screen <img src=x onerror=alert(1)>"
    send_event(sockets, {"type": "warning", "text": words})
    page.wait_for_selector("#warning[open]")
    assert shown_text(page, "#warning-title") == text["warning.title"]
    assert page.locator("#warning-text").inner_text() == words
    assert page.locator("#warning-text *").count() == 0
    assert active_id(page) == "warning-close"
    page.keyboard.press("Enter")
    page.wait_for_selector("#warning:not([open])", state="attached")
    assert not page.errors, page.errors


# --------------------------------------------------------------- staying on the page

BLOCKED = ["F5", "Control+r", "Control+Shift+r", "Control+w", "Control+t", "Control+n", "Alt+ArrowLeft",
           "Alt+ArrowRight", "F11", "F12", "Control+Shift+i", "Control+p", "Control+s", "Control+o", "Control+u",
           "Control+Equal", "Control+Minus", "Control+0", "Control+f", "Control+l", "F6", "F7"]


def record_default_prevented(page):
    # Registered after the page's own capture listeners on window, so it sees their verdict.
    page.evaluate(
        """() => {
            window.seen = [];
            for (const type of ["keydown", "contextmenu", "wheel", "drop"]) {
                window.addEventListener(type, (e) => window.seen.push([type, e.key ?? "", e.defaultPrevented]),
                                        { capture: true, passive: false });
            }
            window.stillHere = true;
        }"""
    )


def test_shortcuts_that_leave_the_page_are_blocked(page):
    choose(page, "de")
    page.keyboard.press("Tab")  # focus on a button, where Backspace would navigate back
    record_default_prevented(page)
    url = page.url
    for combo in [*BLOCKED, "Backspace"]:
        page.keyboard.press(combo)
    page.mouse.click(300, 400, button="right")
    page.keyboard.down("Control")
    page.mouse.wheel(0, -200)
    page.keyboard.up("Control")
    seen = page.evaluate("window.seen")
    assert len([s for s in seen if s[0] == "keydown"]) >= len(BLOCKED) + 1
    let_through = [s for s in seen if s[0] == "keydown" and not s[2] and s[1] not in ("Control", "Shift", "Alt")]
    assert not let_through, let_through
    assert ["contextmenu", "", True] in seen
    assert ["wheel", "", True] in seen
    # Back: the page stays, the same document.
    page.go_back()
    assert page.url == url and page.evaluate("window.stillHere") is True
    # The candidate is told, in the exam language.
    assert shown_text(page, "#toast") == messages("de")["messages"]["keys.blocked"]


def test_ordinary_keys_still_work(page):
    choose(page, "fr")
    record_default_prevented(page)
    page.keyboard.type("123")
    page.keyboard.press("Backspace")  # in the field: deletes
    assert page.locator("#id-number").input_value() == "12"
    page.keyboard.press("Tab")
    assert page.evaluate("window.seen.filter(([t, k, p]) => t === 'keydown' && p && k !== 'Backspace').length") == 0


def test_leaving_full_screen_brings_a_prompt_to_return(page):
    text = messages("ko")["messages"]
    choose(page, "ko")  # the choice (Enter) enters full screen
    page.wait_for_function("document.fullscreenElement !== null")
    page.evaluate("document.exitFullscreen()")
    page.wait_for_selector("#fullscreen-prompt[open]")
    assert shown_text(page, "#fullscreen-lost") == text["fullscreen.lost"]
    assert active_id(page) == "fullscreen-return"
    page.keyboard.press("Escape")  # does not dismiss it
    assert page.locator("#fullscreen-prompt").get_attribute("open") is not None
    page.keyboard.press("Enter")
    page.wait_for_function("document.fullscreenElement !== null")
    page.wait_for_selector("#fullscreen-prompt:not([open])", state="attached")
