"""The whole exam at the seat page, by keyboard alone, with real processes: examgate-server
with the simulator's question bank (`examgate-sim bank`, imported with `bank import`) and
the day's roster (`roster import`, an exam per candidate), three seat PCs with
`sim:fingerprint?format=iso19794-2` and `sim:camera`, each enrolled, approved and linked.

Three candidates log in at their seats (mode b) in Chinese, Arabic and traditional
Mongolian; the server draws their papers at admission and each agent fetches its package.
Each candidate reads the instructions, answers every question by keyboard (digits, letters,
Y/N, arrows in the direction their script reads, PageDown), leaves some unanswered, flags
some, reloads the page halfway and finds the same question with the same answers, checks
the question map, and submits after a confirmation that names the unanswered; the page
says the paper is submitted and safe, then shows the score and pass/fail that
`examgate-server paper score` computes for the same paper and answers. The clock is the
server's: a page whose own clock is set (Playwright's clock) shows the deadline less that
clock and the agent's offset, and the 10-minute reminder as the line is crossed, without
moving the focus. The tests run in file order on one centre."""

import json
import re
import sqlite3
import subprocess
import tempfile
from pathlib import Path

import pytest
from playwright.sync_api import expect

from centre import AGENT, SERVER, SIM, Centre, roster_rows, write_roster
from conftest import messages

WAIT_MS = 30_000  # guards only: the paper comes within a heartbeat or two
SEAT_DEVICES = ["sim:fingerprint?format=iso19794-2", "sim:camera"]
# The simulated roster gives candidate 1 Chinese, 4 Mongolian and 5 Arabic (LANGUAGES in
# simulators/src/roster/people.rs); each gets one of the bank's two exams.
CANDIDATES = {"zh-CN": (1, "c1-subject-one"), "mn-Mong": (4, "subject-four"), "ar": (5, "subject-four")}
# Candidate 3 (Uyghur) takes a one-minute exam of the test's own rules and lets the time run out.
TIMEOUT = {"ug": (3, "e2e-one-minute")}
ONE_MINUTE_RULES = """id = "e2e-one-minute"
name = "Bir minutluq sinaq"
minutes = 1
pass_score = 2

[[section]]
categories = ["C01", "C02", "C03"]
type = "true_false"
count = 3
"""
# The key that goes on to the next question in each, as the page documents (lib/exam.js).
FORWARD = {"zh-CN": "ArrowRight", "ar": "ArrowLeft", "mn-Mong": "ArrowDown"}
BACK = {"zh-CN": "ArrowLeft", "ar": "ArrowRight", "mn-Mong": "ArrowUp"}
KEYCAPS = {"A", "B", "C", "D", "Y", "N", "F", "M", "S", "PgUp", "PgDn", "Enter", "Esc"}


def text(code, key, **params):
    t = messages(code)["messages"][key]
    for k, v in params.items():
        t = t.replace("{" + k + "}", str(v))
    return t


def server_cli(centre, *args):
    out = subprocess.run([SERVER, *map(str, args), "--data-dir", centre.data], text=True, capture_output=True)
    assert out.returncode == 0, f"examgate-server {' '.join(map(str, args))}: {out.stderr}"
    return out.stdout


@pytest.fixture(scope="module")
def centre():
    for binary in (SERVER, AGENT, SIM):
        if not binary.exists():
            pytest.fail(f"{binary} is missing: `make test` builds it")
    with tempfile.TemporaryDirectory(prefix="examgate-exam-") as root:
        root = Path(root)
        bank = root / "bank"
        subprocess.run([SIM, "bank", "--out", bank], check=True, capture_output=True)
        c = Centre(root)
        try:
            c.bank = import_bank(c, bank)
            rules = root / "one-minute.toml"
            rules.write_text(ONE_MINUTE_RULES)
            server_cli(c, "bank", "import", rules)
            roster = c.roster(c.today)
            rows = roster_rows(roster)
            for row in rows:
                row["exam"] = ""
            for code, (n, exam) in {**CANDIDATES, **TIMEOUT}.items():
                assert rows[n - 1]["language"] == code, rows[n - 1]
                rows[n - 1]["exam"] = exam
            write_roster(roster / "roster.csv", rows)
            server_cli(c, "roster", "import", roster / "roster.csv")
            c.rows = rows
            c.seats = {code: c.pc(f"seat-{i}", str(i), SEAT_DEVICES)
                       for i, code in enumerate({**CANDIDATES, **TIMEOUT}, 1)}
            yield c
        finally:
            c.stop()


def import_bank(centre, out):
    """Import what `examgate-sim bank --out` wrote (its QTI package) and return `bank list --json`."""
    packages = sorted(out.glob("*.zip")) or [out]
    for package in packages:
        server_cli(centre, "bank", "import", package)
    return json.loads(server_cli(centre, "bank", "list", "--json"))


@pytest.fixture(scope="module")
def seat_pages(browser, centre):
    """Each seat's page in a context of its own (a kiosk browser per PC), opened before the logins."""
    pages = {}
    contexts = []
    for code, agent in centre.seats.items():
        context = browser.new_context(viewport={"width": 1366, "height": 768})
        contexts.append(context)
        page = context.new_page()
        watch(page)
        page.goto(agent.base + "/")
        page.wait_for_selector("html[data-ready=true]")
        pages[code] = page
    yield pages
    for page in pages.values():
        assert not page.errors, page.errors
    for context in contexts:
        context.close()


def watch(page):
    page.errors = []
    page.on("pageerror", lambda e: page.errors.append(str(e)))
    # The seat page asks before it is left (beforeunload); a reload here is the test's own.
    page.on("dialog", lambda dialog: dialog.accept())


# --------------------------------------------------------------- helpers


def log_in(page, agent, code, candidate):
    n = {**CANDIDATES, **TIMEOUT}[code][0]
    agent.finger(n)  # the candidate's own finger, on the reader before the step
    page.locator(f'.language-tile[data-lang="{code}"]').focus()
    page.keyboard.press("Enter")
    page.wait_for_selector("#screen-login:not([hidden])")
    page.keyboard.type(candidate["booking_number"])
    page.keyboard.press("Enter")
    page.wait_for_selector("#panel-finger:not([hidden])", timeout=WAIT_MS)
    page.keyboard.press("Enter")
    page.wait_for_selector("#panel-camera:not([hidden])", timeout=WAIT_MS)
    page.keyboard.press("Enter")
    # Admitted: the exam screen follows as soon as the agent has the paper (it may already have it).
    page.wait_for_selector("#screen-exam:not([hidden])", timeout=WAIT_MS)
    assert page.locator("#panel-result").get_attribute("data-result") == "admitted"


def question_shown(page, item, total, code):
    expect(page.locator("#question-number")).to_have_text(
        text(code, "exam.question.number", number=item["number"], total=total))
    expect(page.locator("#exam-question")).to_have_attribute("data-item", item["id"])


def chosen(page):
    return page.eval_on_selector_all(
        "#question-choices button[aria-pressed=true]", "bs => bs.map((b) => b.dataset.choice)")


def keys_for(item, i):
    """The keys pressed on the `i`th question and the answer they leave (None: unanswered).
    Every way in: digits, letters, Y/N, a multiple-choice letter taken back."""
    ids = [c["id"] for c in item["choices"]]
    if i % 7 == 3:
        return [], None
    if item["kind"] == "true_false":
        tf = {"T": "y", "F": "n"}
        target = ids[i % 2]
        return ([tf[target]] if target in tf else [str(ids.index(target) + 1)]), [target]
    if item["kind"] == "single":
        first, second = i % len(ids), (i + 1) % len(ids)
        # A first choice, then another by its letter: the second replaces the first.
        return [str(first + 1), "abcd"[second]], [ids[second]]
    # Multiple: A and C, A taken back, B added: B and C in the order shown.
    return ["a", "c", "a", "b"], [ids[1], ids[2]]


def take_exam(page, agent, code, screenshots):
    """Answer the whole paper by keyboard; returns (answers, flagged) as the page was told."""
    status = agent.get("/v1/exam")
    paper = agent.get("/v1/exam/paper")
    items = paper["items"]
    total = len(items)
    assert status["state"] == "in_progress" and total == status["total"]
    answers, flagged = {}, set()
    reload_at = total // 3
    pictured = False
    for i, item in enumerate(items):
        question_shown(page, item, total, code)
        expect(page.locator("#question-prompt")).to_have_text(item["prompt"])
        shown = page.eval_on_selector_all("#question-choices .choice-text", "cs => cs.map((c) => c.textContent)")
        assert shown == [c["text"] for c in item["choices"]], item["id"]
        if item.get("media"):
            page.wait_for_function(
                "() => [...document.querySelectorAll('#question-media img')].every((i) => i.complete && i.naturalWidth > 0)")
            if not pictured:
                page.screenshot(path=str(screenshots / f"exam-{code}-picture.png"))
                pictured = True
        keys, answer = keys_for(item, i)
        if i == 4:
            unsaved_answer_survives(page, agent, item, keys, answer, code)
            keys = []
        for key in keys:
            page.keyboard.press(key)
        if answer is not None:
            answers[item["id"]] = answer
        expect(page.locator("#question-choices button[aria-pressed=true]")).to_have_count(len(answer or []))
        assert chosen(page) == (answer or []), item["id"]
        if i % 5 == 1:
            page.keyboard.press("f")
            flagged.add(item["id"])
            expect(page.locator("#exam-flag")).to_have_attribute("aria-pressed", "true")
            expect(page.locator("#question-flagged")).to_be_visible()
        if i == 2:
            page.screenshot(path=str(screenshots / f"exam-{code}-question.png"))
        if i == reload_at:
            reload_and_check(page, item, total, code, answers, flagged)
        if i < total - 1:
            page.keyboard.press(FORWARD[code] if i % 2 == 0 else "PageDown")
    # Back one and forward again: the arrows go both ways.
    page.keyboard.press(BACK[code])
    question_shown(page, items[-2], total, code)
    page.keyboard.press("PageDown")
    question_shown(page, items[-1], total, code)
    return items, answers, flagged


def unsaved_answer_survives(page, agent, item, keys, answer, code):
    """The link from page to agent fails (requests aborted: the agent itself is untouched):
    the page says the change is not saved and keeps trying; a reload meanwhile still shows the
    answer (kept in the browser's storage) and sends it; when the link is back it is saved."""
    def fail(route):
        route.abort("connectionrefused")
    page.route("**/v1/exam/answers/**", fail)
    for key in keys:
        page.keyboard.press(key)
    expect(page.locator("#exam-save")).to_have_attribute("data-kind", "error", timeout=WAIT_MS)
    expect(page.locator("#exam-save")).to_have_text(text(code, "exam.save.failed"))
    assert agent.get("/v1/exam")["answers"].get(item["id"]) != answer
    page.reload()
    page.wait_for_selector("#exam-question:not([hidden])", timeout=WAIT_MS)
    expect(page.locator("#exam-question")).to_have_attribute("data-item", item["id"])
    assert chosen(page) == (answer or [])
    expect(page.locator("#exam-save")).to_have_attribute("data-kind", "error", timeout=WAIT_MS)
    page.unroute("**/v1/exam/answers/**", fail)
    expect(page.locator("#exam-save")).to_have_attribute("data-kind", "saved", timeout=WAIT_MS)
    assert agent.get("/v1/exam")["answers"].get(item["id"]) == answer


def reload_and_check(page, item, total, code, answers, flagged):
    """A reload (or a killed browser) comes back to the same question with its answer and flag."""
    # Every change has reached the agent: nothing left in the page's queue.
    expect(page.locator("#exam-save")).to_have_attribute("data-kind", "saved", timeout=WAIT_MS)
    page.reload()
    page.wait_for_selector("html[data-ready=true]")
    page.wait_for_selector("#exam-question:not([hidden])", timeout=WAIT_MS)
    question_shown(page, item, total, code)
    assert chosen(page) == answers.get(item["id"], [])
    assert (page.locator("#exam-flag").get_attribute("aria-pressed") == "true") == (item["id"] in flagged)
    assert page.locator("html").get_attribute("lang") == code


def check_map(page, items, answers, flagged, code, screenshots):
    page.keyboard.press("m")
    dialog = page.locator("#exam-map")
    expect(dialog).to_be_visible()
    cells = page.locator("#map-grid button.map-cell")
    expect(cells).to_have_count(len(items))
    states = page.eval_on_selector_all(
        "#map-grid button",
        "bs => bs.map((b) => [b.dataset.item, b.dataset.answered, b.dataset.flagged, b.getAttribute('aria-current'), b.getAttribute('aria-label')])")
    for (item_id, answered, is_flagged, current, label), item in zip(states, items):
        assert item_id == item["id"]
        assert answered == str(item["id"] in answers).lower(), item_id
        assert is_flagged == str(item["id"] in flagged).lower(), item_id
        assert (current == "true") == (item is items[-1])
        key = f"exam.map.cell.{'answered' if item['id'] in answers else 'unanswered'}{'_flagged' if item['id'] in flagged else ''}"
        assert label == text(code, key, number=item["number"])
    # Focus starts on the current question; the arrows move by where the cells are; Enter goes there.
    assert page.evaluate("document.activeElement.dataset.item") == items[-1]["id"]
    page.screenshot(path=str(screenshots / f"exam-{code}-map.png"))
    page.keyboard.press("ArrowUp" if code != "mn-Mong" else "ArrowLeft")
    target = page.evaluate("document.activeElement.dataset.item")
    assert target != items[-1]["id"]
    page.keyboard.press("Enter")
    expect(dialog).to_be_hidden()
    target_item = next(item for item in items if item["id"] == target)
    question_shown(page, target_item, len(items), code)
    assert chosen(page) == answers.get(target, [])
    # And M, Escape: open and closed again without moving.
    page.keyboard.press("m")
    expect(dialog).to_be_visible()
    page.keyboard.press("Escape")
    expect(dialog).to_be_hidden()
    question_shown(page, target_item, len(items), code)


def paper_seed(centre, paper_id):
    """The seed the server drew `paper_id` from, read from its audit chain as an auditor would."""
    with sqlite3.connect(centre.data / "examgate.db") as db:
        rows = db.execute("SELECT detail FROM audit WHERE action = 'paper_drawn' AND detail LIKE ?",
                          (f"paper {paper_id} drawn %",)).fetchall()
    for (detail,) in rows:
        if m := re.search(r"\bseed (\d+)", detail):
            return int(m.group(1))
    raise AssertionError(f"no audit row names the seed of paper {paper_id}: {rows}")


def expected_score(centre, exam, seed, answers):
    with tempfile.NamedTemporaryFile("w", suffix=".json", dir=centre.root, delete=False) as f:
        json.dump(answers, f)
    return json.loads(server_cli(centre, "paper", "score", "--exam", exam, "--seed", seed, "--answers", f.name, "--json"))


# --------------------------------------------------------------- the exam in three scripts


def check_clock(browser, agent, code, screenshots, main):
    """A fresh browser (as after the kiosk browser was killed: nothing in its storage) comes
    back to the question the candidate is at, with its answer. The time left is the server's
    deadline less the server's time now, which the page takes as its own clock plus the
    agent's offset: this page, with its clock set, shows exactly that, and the 10-minute
    reminder when the line is crossed, read out politely while the focus stays on the question."""
    status = agent.get("/v1/exam")
    deadline, offset = status["deadline"], status["server_offset_ms"]
    assert 0 < deadline - status["server_now"] <= status["exam"]["minutes"] * 60_000
    context = browser.new_context(viewport={"width": 1366, "height": 768})

    def left(ms):
        # The page's clock (Playwright takes seconds) half a second short of `ms` left:
        # the clock, which rounds seconds up, shows `ms` exactly.
        page.clock.set_fixed_time((deadline - offset - ms + 500) / 1000)

    try:
        page = context.new_page()
        watch(page)
        left(10 * 60_000 + 30_000)
        page.goto(agent.base + "/")
        page.wait_for_selector("#exam-question:not([hidden])", timeout=WAIT_MS)
        expect(page.locator("#exam-question")).to_have_attribute("data-item", main.locator("#exam-question").get_attribute("data-item"))
        assert chosen(page) == chosen(main)
        expect(page.locator("#exam-clock-time")).to_have_text("10:30")
        expect(page.locator("#exam-reminder")).to_have_text("")
        focused = page.evaluate("document.activeElement.id")
        left(10 * 60_000 - 1_000)
        expect(page.locator("#exam-clock-time")).to_have_text("9:59")
        expect(page.locator("#exam-reminder")).to_have_text(text(code, "exam.reminder.minutes", minutes=10))
        assert page.locator("#exam-reminder").get_attribute("aria-live") == "polite"
        assert page.evaluate("document.activeElement.id") == focused
        left(4 * 60_000 + 59_000)  # past 5 minutes
        expect(page.locator("#exam-reminder")).to_have_text(text(code, "exam.reminder.minutes", minutes=5))
        expect(page.locator("#exam-clock")).to_have_attribute("data-low", "true")
        page.screenshot(path=str(screenshots / f"exam-{code}-reminder.png"))
        assert not page.errors, page.errors
    finally:
        context.close()


@pytest.mark.parametrize("code", list(CANDIDATES))
def test_a_whole_exam_by_keyboard(browser, centre, seat_pages, screenshots, code):
    page = seat_pages[code]
    agent = centre.seats[code]
    n, exam_id = CANDIDATES[code]
    candidate = centre.rows[n - 1]
    log_in(page, agent, code, candidate)

    # The instructions, in the candidate's language, laid out for their script.
    page.wait_for_selector("#exam-instructions:not([hidden])", timeout=WAIT_MS)
    status = agent.get("/v1/exam")
    assert status["state"] == "ready" and status["exam"]["id"] == exam_id
    assert page.locator("html").get_attribute("lang") == code
    assert page.locator("html").get_attribute("dir") == messages(code)["meta"]["dir"]
    expect(page.locator("#exam-name")).to_have_text(status["exam"]["name"])
    expect(page.locator("#fact-questions")).to_have_text(str(status["total"]))
    expect(page.locator("#fact-minutes")).to_have_text(text(code, "exam.fact.minutes_value", minutes=status["exam"]["minutes"]))
    latin = set(re.findall(r"[A-Za-z]+", page.locator("#exam-instructions").inner_text()))
    assert latin <= KEYCAPS, latin  # beyond the keycaps, nothing but the candidate's language
    assert page.evaluate("document.activeElement.id") == "exam-start"
    page.screenshot(path=str(screenshots / f"exam-{code}-instructions.png"))
    page.keyboard.press("Enter")
    page.wait_for_selector("#exam-question:not([hidden])")

    items, answers, flagged = take_exam(page, agent, code, screenshots)
    check_map(page, items, answers, flagged, code, screenshots)
    check_clock(browser, agent, code, screenshots, page)

    # What the agent holds is what was chosen.
    expect(page.locator("#exam-save")).to_have_attribute("data-kind", "saved", timeout=WAIT_MS)
    held = agent.get("/v1/exam")
    assert held["answers"] == answers
    assert set(held["flagged"]) == flagged

    # Submit: the confirmation names how many are unanswered; Escape goes back, Enter submits.
    unanswered = len(items) - len(answers)
    assert unanswered > 0
    page.keyboard.press("s")
    expect(page.locator("#exam-confirm")).to_be_visible()
    expect(page.locator("#confirm-text")).to_have_text(
        text(code, "exam.confirm.unanswered", count=unanswered, total=len(items)))
    page.screenshot(path=str(screenshots / f"exam-{code}-confirm.png"))
    page.keyboard.press("Escape")
    expect(page.locator("#exam-confirm")).to_be_hidden()
    expect(page.locator("#question-number")).to_be_focused()  # where the focus was before S
    page.keyboard.press("s")
    expect(page.locator("#exam-confirm")).to_be_visible()
    page.keyboard.press("Enter")

    page.wait_for_selector("#exam-done:not([hidden])", timeout=WAIT_MS)
    expect(page.locator("#done-title")).to_have_text(text(code, "exam.submitted.title"))
    page.wait_for_selector("#exam-result:not([hidden])", timeout=WAIT_MS)
    score = expected_score(centre, exam_id, paper_seed(centre, status["paper_id"]), answers)
    shown = lambda x: str(round(float(x) * 100) / 100).removesuffix(".0")  # noqa: E731
    expect(page.locator("#result-score")).to_have_text(
        text(code, "exam.result.score", score=shown(score["score"]), max=shown(score["max_score"])))
    verdict = {True: "exam.result.passed", False: "exam.result.failed"}[score["passed"]]
    expect(page.locator("#result-verdict")).to_have_text(text(code, verdict))
    page.screenshot(path=str(screenshots / f"exam-{code}-result.png"))


def test_when_the_time_runs_out_the_agent_submits_and_the_page_shows_the_result(centre, seat_pages, screenshots):
    """The agent submits by itself at the deadline; its exam_submitted event brings the page
    to "submitted and safe", with the answers given before the time ran out scored."""
    code = "ug"
    page = seat_pages[code]
    agent = centre.seats[code]
    n, exam_id = TIMEOUT[code]
    log_in(page, agent, code, centre.rows[n - 1])
    page.wait_for_selector("#exam-instructions:not([hidden])", timeout=WAIT_MS)
    assert page.locator("html").get_attribute("dir") == "rtl"
    page.keyboard.press("Enter")
    page.wait_for_selector("#exam-question:not([hidden])")
    status = agent.get("/v1/exam")
    item = agent.get("/v1/exam/paper")["items"][0]
    page.keyboard.press("y")
    answer = [next(c["id"] for c in item["choices"] if c["id"] == "T")]
    assert chosen(page) == answer
    expect(page.locator("#exam-save")).to_have_attribute("data-kind", "saved", timeout=WAIT_MS)

    # Nothing pressed any more: the minute runs out (a guard of two minutes, not a timing).
    page.wait_for_selector("#exam-done:not([hidden])", timeout=120_000)
    expect(page.locator("#done-title")).to_have_text(text(code, "exam.submitted.title"))
    page.wait_for_selector("#exam-result:not([hidden])", timeout=WAIT_MS)
    assert agent.get("/v1/exam")["submit_reason"] == "timeout"
    expect(page.locator("#done-body")).to_have_text(text(code, "exam.submitted.timeout_scored"))
    score = expected_score(centre, exam_id, paper_seed(centre, status["paper_id"]), {item["id"]: answer})
    shown = lambda x: str(round(float(x) * 100) / 100).removesuffix(".0")  # noqa: E731
    expect(page.locator("#result-score")).to_have_text(
        text(code, "exam.result.score", score=shown(score["score"]), max=shown(score["max_score"])))
    verdict = {True: "exam.result.passed", False: "exam.result.failed"}[score["passed"]]
    expect(page.locator("#result-verdict")).to_have_text(text(code, verdict))
    page.screenshot(path=str(screenshots / f"exam-{code}-timeout-result.png"))
