"""The seat page's message files (web/seat/i18n/): one per exam language,
every key in every file, nothing empty, no English left where a translation
belongs, each language in its own script, and every key the page uses
defined. Pure file checks: no browser."""

import json
import re
from pathlib import Path

import pytest

SEAT = Path(__file__).resolve().parents[1] / "seat"
I18N = SEAT / "i18n"

# The twelve exam languages of the seeds, in the order the page offers them,
# with the layout each must declare.
LANGUAGES = {
    "zh-CN": ("ltr", "horizontal-tb"),
    "en": ("ltr", "horizontal-tb"),
    "fr": ("ltr", "horizontal-tb"),
    "de": ("ltr", "horizontal-tb"),
    "ru": ("ltr", "horizontal-tb"),
    "es": ("ltr", "horizontal-tb"),
    "ar": ("rtl", "horizontal-tb"),
    "ja": ("ltr", "horizontal-tb"),
    "ko": ("ltr", "horizontal-tb"),
    "mn-Mong": ("ltr", "vertical-lr"),
    "ug": ("rtl", "horizontal-tb"),
    "kk-Arab": ("rtl", "horizontal-tb"),
}

# Latin text allowed in any language: the names printed on the keys.
KEY_NAMES = re.compile(r"(?<![A-Za-z])(?:Tab|Enter|X)(?![A-Za-z])")
PLACEHOLDER = re.compile(r"\{(\w+)\}")

# Each language's script: every message has letters of its block, and the
# file as a whole has the letters that tell look-alikes apart (kana for
# Japanese, Uyghur's and Kazakh's own letters).
SCRIPTS = {
    "zh-CN": (r"[\u4e00-\u9fff]", r"[\u4e00-\u9fff]"),
    "ru": (r"[\u0400-\u04ff]", r"[ыэё]"),
    "ar": (r"[\u0600-\u06ff]", r"[ةأإ]"),
    "ja": (r"[\u3040-\u30ff\u4e00-\u9fff]", r"[\u3040-\u30ff]"),
    "ko": (r"[\uac00-\ud7af]", r"[\uac00-\ud7af]"),
    "mn-Mong": (r"[\u1820-\u18af]", r"[\u1820-\u18af]"),
    "ug": (r"[\u0600-\u06ff]", r"[ئېۆۈڭھ]"),
    "kk-Arab": (r"[\u0600-\u06ff]", r"[ٴەۋ]"),
}
# Words that are English and not French, German or Spanish.
ENGLISH_WORDS = re.compile(
    r"\b(?:the|your|you|please|and|with|enter|press|card|number|wait|check|"
    r"confirm|clear|again|not|this|will|key|screen|exam|identity|booking|reader|raise|"
    r"left|back|seat)\b",
    re.IGNORECASE,
)


def load(code):
    return json.loads((I18N / f"{code}.json").read_text(encoding="utf-8"))


ENGLISH = load("en")["messages"]


def test_the_twelve_languages_each_have_one_file_listed_in_order():
    listed = json.loads((I18N / "languages.json").read_text(encoding="utf-8"))
    assert listed == list(LANGUAGES)
    on_disk = sorted(p.stem for p in I18N.glob("*.json") if p.name != "languages.json")
    assert on_disk == sorted(LANGUAGES)


@pytest.mark.parametrize("code", LANGUAGES)
def test_meta_declares_the_layout(code):
    meta = load(code)["meta"]
    assert meta["lang"] == code
    assert meta["name"].strip()
    assert (meta["dir"], meta["writing_mode"]) == LANGUAGES[code]


@pytest.mark.parametrize("code", LANGUAGES)
def test_every_key_is_in_every_file(code):
    messages = load(code)["messages"]
    missing = sorted(set(ENGLISH) - set(messages))
    extra = sorted(set(messages) - set(ENGLISH))
    assert not missing, f"{code}.json lacks {missing}"
    assert not extra, f"{code}.json has keys en.json lacks: {extra}"


@pytest.mark.parametrize("code", LANGUAGES)
def test_no_message_is_empty_and_placeholders_match(code):
    for key, text in load(code)["messages"].items():
        assert isinstance(text, str) and text.strip(), f"{code} {key} is empty"
        assert text == text.strip(), f"{code} {key} has stray spaces"
        assert sorted(PLACEHOLDER.findall(text)) == sorted(PLACEHOLDER.findall(ENGLISH[key])), f"{code} {key}"


@pytest.mark.parametrize("code", [c for c in LANGUAGES if c != "en"])
def test_no_english_is_left(code):
    doc = load(code)
    for key, text in [("meta.name", doc["meta"]["name"]), *doc["messages"].items()]:
        if key != "meta.name":
            assert text != ENGLISH[key], f"{code} {key} is the English text"
        bare = PLACEHOLDER.sub("", KEY_NAMES.sub("", text))
        if code in SCRIPTS:
            assert not re.search(r"[A-Za-z]", bare), f"{code} {key} has Latin letters: {text!r}"
        else:
            assert not ENGLISH_WORDS.search(bare), f"{code} {key} looks English: {text!r}"


@pytest.mark.parametrize("code", SCRIPTS)
def test_each_language_is_written_in_its_own_script(code):
    doc = load(code)
    block, marker = (re.compile(r) for r in SCRIPTS[code])
    texts = [("meta.name", doc["meta"]["name"]), *doc["messages"].items()]
    for key, text in texts:
        assert block.search(text), f"{code} {key} is not in its script: {text!r}"
    assert marker.search("".join(text for _, text in texts)), f"{code} lacks its own letters {marker.pattern}"


def test_look_alike_scripts_are_not_mixed():
    kazakh = "".join(load("kk-Arab")["messages"].values())
    uyghur = "".join(load("ug")["messages"].values())
    mongolian = "".join(load("mn-Mong")["messages"].values())
    assert "ئ" not in kazakh, "Kazakh in Arabic script marks front vowels with ٴ, not Uyghur's ئ"
    assert "ٴ" not in uyghur
    assert not re.search(r"[\u0400-\u04ff]", mongolian), "traditional script, not Cyrillic Mongolian"


def keys_used_by_the_page():
    html = (SEAT / "index.html").read_text(encoding="utf-8")
    used = set(re.findall(r'data-i18n(?:-alt|-aria-label)?="([^"]+)"', html))
    for script in [SEAT / "seat.js", *sorted((SEAT / "lib").glob("*.js"))]:
        source = script.read_text(encoding="utf-8")
        used |= {k for k in re.findall(r'"([a-z]+(?:\.[a-z_]+)+)"', source) if not k.endswith((".js", ".json"))}
    return used


def test_every_key_the_page_uses_is_defined():
    used = keys_used_by_the_page()
    assert {"result.admitted.title", "result.waiting.title", "result.examiner.title", "id.invalid"} <= used
    undefined = sorted(used - set(ENGLISH))
    assert not undefined, f"the page uses keys no message file defines: {undefined}"
