"""The exam screen's rules that need no exam (web/seat/lib/exam.js), run in Debian's
chromium on the module the real agent serves: which key picks which choice, what a
pick does to an answer, which way the arrows move in each writing mode, the clock
read from the server's deadline and offset, and when a reminder is due. The whole
exam with a real centre is test_exam_e2e.py."""

import pytest

from conftest import LANGUAGE_CODES, VIEWPORT, messages

RTL = {"ar", "ug", "kk-Arab"}
VERTICAL = {"mn-Mong"}


@pytest.fixture(scope="module")
def rules(browser, agent):
    """One seat page for the pure checks (a page per check would load the page each time)."""
    context = browser.new_context(viewport=VIEWPORT)
    page = context.new_page()
    page.goto(agent.base + "/")
    page.wait_for_selector("html[data-ready=true]")
    yield page
    context.close()


def run(page, expression, arg=None):
    """Evaluate `expression` (a function of the module `exam` and `arg`) in the page."""
    return page.evaluate(
        f"""async (arg) => {{ const exam = await import("/lib/exam.js"); return ({expression})(exam, arg); }}""",
        arg,
    )


TRUE_FALSE = {"kind": "true_false", "choices": [{"id": "F", "text": "错误"}, {"id": "T", "text": "正确"}]}
SINGLE = {"kind": "single", "choices": [{"id": c, "text": c} for c in ("c1", "c2", "c3", "c4")]}
MULTIPLE = {"kind": "multiple", "choices": [{"id": c, "text": c} for c in ("A", "B", "C", "D")]}


@pytest.mark.parametrize(
    "item, code, choice",
    [
        (SINGLE, "Digit1", "c1"),
        (SINGLE, "Numpad4", "c4"),
        (SINGLE, "KeyC", "c3"),
        (SINGLE, "Digit5", None),  # no fifth choice
        (SINGLE, "KeyY", None),  # Y and N are for true/false only
        (SINGLE, "KeyF", None),  # F flags, never chooses
        (TRUE_FALSE, "KeyY", "T"),  # by the item's identifiers, not by the order shown
        (TRUE_FALSE, "KeyN", "F"),
        (TRUE_FALSE, "Digit1", "F"),  # the first shown
        (TRUE_FALSE, "KeyB", "T"),
        (MULTIPLE, "KeyD", "D"),
    ],
)
def test_a_key_picks_a_choice_by_the_keycap_whatever_the_layout(rules, item, code, choice):
    assert run(rules, "(exam, [item, code]) => exam.choiceForKey(item, code)", [item, code]) == choice


def test_true_false_without_telling_identifiers_takes_the_order_shown(rules):
    item = {"kind": "true_false", "choices": [{"id": "x1", "text": "对"}, {"id": "x2", "text": "错"}]}
    assert run(rules, "(exam, item) => exam.trueFalseChoices(item)", item) == ["x1", "x2"]


@pytest.mark.parametrize(
    "item, before, choice, after",
    [
        (SINGLE, [], "c2", ["c2"]),
        (SINGLE, ["c2"], "c3", ["c3"]),  # one answer: the new one replaces it
        (SINGLE, ["c3"], "c3", ["c3"]),  # pressing it again does not clear it by accident
        (TRUE_FALSE, ["F"], "T", ["T"]),
        (MULTIPLE, ["C"], "A", ["A", "C"]),  # kept in the order shown
        (MULTIPLE, ["A", "C"], "A", ["C"]),  # pressed again: taken back
        (MULTIPLE, ["A"], "A", []),
    ],
)
def test_picking_replaces_one_answer_and_toggles_in_multiple_choice(rules, item, before, choice, after):
    assert run(rules, "(exam, [i, b, c]) => exam.pick(i, b, c)", [item, before, choice]) == after


@pytest.mark.parametrize("code", LANGUAGE_CODES)
def test_arrows_keep_their_meaning_in_reading_order(rules, code):
    meta = messages(code)["meta"]
    layout = {"dir": meta["dir"], "writingMode": meta["writing_mode"]}
    moves = run(rules, """(exam, layout) => Object.fromEntries(
        ["ArrowLeft", "ArrowRight", "ArrowUp", "ArrowDown", "PageUp", "PageDown", "Home"]
            .map((k) => [k, exam.moveForKey(k, layout)]))""", layout)
    assert (moves["PageDown"], moves["PageUp"], moves["Home"]) == (1, -1, 0)
    if code in VERTICAL:
        # Lines run top to bottom and follow each other left to right: down and right go on.
        assert moves == {**moves, "ArrowDown": 1, "ArrowRight": 1, "ArrowUp": -1, "ArrowLeft": -1}
    elif code in RTL:
        # The next question lies to the left, where the Next button is.
        assert moves == {**moves, "ArrowLeft": 1, "ArrowRight": -1, "ArrowUp": 0, "ArrowDown": 0}
    else:
        assert moves == {**moves, "ArrowRight": 1, "ArrowLeft": -1, "ArrowUp": 0, "ArrowDown": 0}


def test_the_time_left_is_the_servers_deadline_less_the_pc_clock_moved_to_the_servers(rules):
    # The PC's clock is 90 s behind the server's: the candidate gets no extra 90 s.
    exam = {"deadline": 1_700_002_700_000, "server_offset_ms": 90_000}
    now = 1_700_002_700_000 - 90_000 - 45 * 60_000
    assert run(rules, "(exam, [e, now]) => exam.remainingMs(e, now)", [exam, now]) == 45 * 60_000
    assert run(rules, "(exam, [e, now]) => exam.remainingMs(e, now)", [exam, now + 90_000]) == 45 * 60_000 - 90_000


@pytest.mark.parametrize(
    "ms, text",
    [(45 * 60_000, "45:00"), (61_001, "1:02"), (59_000, "0:59"), (0, "0:00"), (-4_000, "0:00"), (2 * 3600_000 + 5_000, "2:00:05")],
)
def test_the_clock_rounds_seconds_up_and_never_goes_below_zero(rules, ms, text):
    assert run(rules, "(exam, ms) => exam.clockText(ms)", ms) == text


@pytest.mark.parametrize(
    "before, after, due",
    [
        (600_001, 600_000, 10),
        (600_000, 599_000, None),  # said once, as the line is crossed
        (300_500, 299_500, 5),
        (60_200, 59_900, 1),
        (700_000, 30_000, 1),  # a PC that slept past two reminders gets the later one
        (400_000, 399_000, None),
        (1_000, -500, None),  # the end is not a reminder: the time is up
    ],
)
def test_reminders_at_ten_five_and_one_minutes_left(rules, before, after, due):
    assert run(rules, "(exam, [b, a]) => exam.reminderDue(b, a)", [before, after]) == due


def test_media_paths_are_escaped_segment_by_segment(rules):
    assert run(rules, "(exam, p) => exam.mediaUrl(p)", "media/ab 12#.png") == "/v1/exam/media/media/ab%2012%23.png"


def test_the_exam_screen_stays_hidden_and_its_keys_idle_during_the_login(page):
    page.keyboard.press("Tab")
    page.keyboard.press("Enter")  # a language
    page.wait_for_selector("#screen-login:not([hidden])")
    for key in ("f", "m", "s", "PageDown"):
        page.keyboard.press(key)
    assert page.locator("#screen-exam").is_hidden()
    assert not page.evaluate("document.getElementById('exam-map').open")
    assert not page.evaluate("document.getElementById('exam-confirm').open")
