"""The console's message files (web/console/i18n/): Simplified Chinese and English,
every key in both, nothing empty, each language in its own script, every key the
console uses defined, and a word for every value of the server's enumerations the
console shows. Pure file checks: no browser."""

import json
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CONSOLE = ROOT / "web" / "console"
I18N = CONSOLE / "i18n"
LANGUAGES = ["zh-CN", "en"]
PLACEHOLDER = re.compile(r"\{(\w+)\}")
HAN = re.compile(r"[\u4e00-\u9fff]")
CJK_PUNCTUATION = re.compile(r"[\u3000-\u303f\uff00-\uffef]")
# Latin allowed in the Chinese texts: the product's name, acronyms Chinese staff read
# as they are, and file types.
LATIN_IN_CHINESE = {"examgate", "IP", "MAC", "csv", "json"}


def load(code):
    return json.loads((I18N / f"{code}.json").read_text(encoding="utf-8"))


ENGLISH = load("en")["messages"]
CHINESE = load("zh-CN")["messages"]


def test_one_file_per_language():
    assert sorted(p.stem for p in I18N.glob("*.json")) == sorted(LANGUAGES)


@pytest.mark.parametrize("code", LANGUAGES)
def test_meta_names_the_language(code):
    meta = load(code)["meta"]
    assert meta["lang"] == code
    assert meta["name"].strip()
    assert meta["dir"] == "ltr"


def test_every_key_is_in_both_files():
    assert sorted(set(ENGLISH) - set(CHINESE)) == [], "zh-CN.json lacks these"
    assert sorted(set(CHINESE) - set(ENGLISH)) == [], "en.json lacks these"


@pytest.mark.parametrize("code", LANGUAGES)
def test_no_message_is_empty_and_placeholders_match(code):
    for key, text in load(code)["messages"].items():
        assert isinstance(text, str) and text.strip(), f"{code} {key} is empty"
        assert sorted(PLACEHOLDER.findall(text)) == sorted(PLACEHOLDER.findall(ENGLISH[key])), f"{code} {key}"


def test_the_chinese_is_chinese():
    for key, text in CHINESE.items():
        bare = PLACEHOLDER.sub("", text)
        if key == "list.separator" or not re.search(r"\w", bare):
            continue  # punctuation only
        assert HAN.search(bare), f"zh-CN {key} has no Chinese: {text!r}"
        latin = set(re.findall(r"[A-Za-z]+", bare)) - LATIN_IN_CHINESE
        assert not latin, f"zh-CN {key} has English words {sorted(latin)}: {text!r}"
        assert text != ENGLISH[key] or not re.search(r"[A-Za-z]", bare), f"zh-CN {key} is the English text"


def test_the_english_has_no_chinese():
    for key, text in ENGLISH.items():
        assert not HAN.search(text) and not CJK_PUNCTUATION.search(text), f"en {key}: {text!r}"


def test_the_staff_are_named_as_a_chinese_exam_centre_names_them():
    assert "考试员" in CHINESE["login.examiner"] and "监考员" in CHINESE["login.invigilator"]
    assert "预约号" in CHINESE["col.booking"] and "身份证" in CHINESE["col.id_number"]


# ---------------------------------------------------------------- keys the console uses

KEY = r"[a-z_]+(?:\.[a-z_]+)+"


def sources():
    return [CONSOLE / "app.js", *sorted((CONSOLE / "lib").glob("*.js"))]


def keys_used():
    """Every literal key (in index.html's data-i18n* attributes and in the scripts' strings)
    and every prefix of a key made in a template literal (`state.${state}`)."""
    html = (CONSOLE / "index.html").read_text(encoding="utf-8")
    used = set(re.findall(rf'data-i18n(?:-[a-z-]+)?="({KEY})"', html))
    prefixes = set()
    for script in sources():
        text = script.read_text(encoding="utf-8")
        used |= {k for k in re.findall(rf'"({KEY})"', text) if not k.endswith((".js", ".json"))}
        prefixes |= set(re.findall(r"`([a-z_]+\.)\$\{", text))
    return used, prefixes


def test_every_key_the_console_uses_is_defined():
    used, prefixes = keys_used()
    assert {"app.title", "login.wrong", "card.assigned", "roster.not_imported", "lock.idle"} <= used
    assert not sorted(used - set(ENGLISH)), "the console uses keys no message file defines"
    for prefix in prefixes:
        assert any(k.startswith(prefix) for k in ENGLISH), f"no message starts with {prefix}"


def test_every_defined_key_is_used():
    used, prefixes = keys_used()
    unused = sorted(k for k in ENGLISH if k not in used and not k.startswith(tuple(prefixes)))
    assert not unused, f"messages nothing shows: {unused}"


def rust_enum(path, name):
    """The snake_case serde names of a Rust enum's variants."""
    source = (ROOT / path).read_text(encoding="utf-8")
    body = re.search(rf"pub enum {name} \{{(.*?)\n\}}", source, re.S).group(1)
    variants = re.findall(r"^\s+([A-Z]\w*)", body, re.M)
    return [re.sub(r"(?<!^)([A-Z])", r"_\1", v).lower() for v in variants]


# The server's words the console translates, from the code that sends them where a
# test can read it, else as that code writes them.
ENUMERATIONS = {
    "state.": rust_enum("protocol/src/login.rs", "CandidateState"),
    "device.": rust_enum("protocol/src/agent.rs", "DeviceClassName") + ["plugin"],  # link/commands.rs selector_class
    # a device's state, or (link/commands.rs device_health) a selector's that serves no device
    "device_state.": rust_enum("protocol/src/agent.rs", "DeviceState")
    + [s for s in rust_enum("protocol/src/agent.rs", "SelectorState") if s not in ("ready", "busy")],
    "roster_field.": json.loads(re.search(
        r"CSV_COLUMNS: \[&str; \d+\] = (\[.*?\]);", (ROOT / "server/src/roster/mod.rs").read_text(encoding="utf-8")).group(1)),
    # protocol/src/login.rs, CardCheck::problems
    "problem.": ["check_character", "not_yet_valid", "expired", "no_booking_today", "already_admitted", "refused",
                 "no_free_seat", "unreadable", "already_at_seat"],
    # server/src/api/agent.rs, signed.rs, store/login_sql.rs: NewAlert kinds
    "alert_kind.": ["examiner_needed", "score_disagreement", "replaced_pc", "device", "bad_signature", "replayed",
                    "binding_mismatch", "wrong_seat", "tamper", "device_fault",
                    "exam_unavailable"],  # store/exam.rs
    "pc_state.": ["pending", "bound", "replaced"],  # server/src/store/types.rs, state_str
    "mode.": ["card_at_console", "seat"],  # server/src/login/rules.rs, MODE_*
}


@pytest.mark.parametrize("prefix", ENUMERATIONS)
def test_every_value_the_server_sends_has_words(prefix):
    values = ENUMERATIONS[prefix]
    assert len(values) >= 2, values
    missing = [v for v in values if prefix + v not in ENGLISH]
    assert not missing, f"no message for {prefix}{missing}"
