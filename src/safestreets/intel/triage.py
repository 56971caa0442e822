"""Triage, grading and redaction: the rules, as plain functions over plain data.

Categories and urgency are the analyst's call; :func:`suggest` offers a first guess from the words of the
report (a keyword screen, not a model: it is there to raise a possible threat to life at once, and an analyst
confirms or changes it). Grading is the UK 3x5x2 system of the College of Policing's intelligence management
APP: source evaluation (1-3), intelligence assessment (A-E) and handling code (P or C, C with conditions).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from safestreets.errors import ParameterError, unknown

CATEGORIES = {
    "knife": "Knife carrying",
    "weapons": "Weapons (firearms and others)",
    "drug_supply": "Drug supply",
    "county_lines": "County lines and exploitation",
    "gangs": "Gangs",
    "other": "Other",
}
URGENCIES = {"immediate": "Immediate (threat to life)", "priority": "Priority", "routine": "Routine"}
SOURCE_EVAL = {
    "1": "Reliable",
    "2": "Untested",
    "3": "Not reliable",
}
INTEL_ASSESSMENT = {
    "A": "Known directly to the source",
    "B": "Known indirectly to the source but corroborated",
    "C": "Known indirectly to the source",
    "D": "Not known",
    "E": "Suspected to be false",
}
HANDLING = {
    "P": "Lawful sharing permitted",
    "C": "Lawful sharing permitted subject to conditions",
}

_WORDS: dict[str, tuple[str, ...]] = {
    "weapons": ("gun", "guns", "firearm", "pistol", "shotgun", "rifle", "shooting", "shot", "ammo", "bullets",
                "crossbow", "acid", "corrosive"),
    "knife": ("knife", "knives", "blade", "machete", "zombie knife", "stab", "stabbed", "stabbing", "shank"),
    "county_lines": ("county lines", "cuckoo", "cuckooing", "trap house", "going country", "deal line",
                     "exploited", "grooming", "runner", "runners"),
    "drug_supply": ("drugs", "dealing", "dealer", "dealers", "crack", "heroin", "cocaine", "weed", "cannabis",
                    "ket", "spice", "selling"),
    "gangs": ("gang", "gangs", "postcode war", "crew", "beef", "opps", "drill"),
}  # fmt: skip
_THREAT = ("kill", "killed", "murder", "going to stab", "going to shoot", "revenge", "tonight", "hit list",
           "hostage", "kidnap", "petrol bomb", "burn", "threatened to", "in danger", "retaliat")  # fmt: skip


@dataclass(frozen=True)
class Suggestion:
    category: str
    threat_to_life: bool
    urgency: str
    why: tuple[str, ...]


def _has(text: str, phrase: str) -> bool:
    return re.search(r"(?<![a-z])" + re.escape(phrase) + r"(?![a-z])", text) is not None


def suggest(text: str, *, danger_now: bool = False) -> Suggestion:
    """A first guess at category and urgency, with the words that led to it."""
    low = text.lower()
    hits = {cat: [w for w in words if _has(low, w)] for cat, words in _WORDS.items()}
    category = max(hits, key=lambda c: (len(hits[c]), -list(_WORDS).index(c)))
    if not hits[category]:
        category = "other"
    threat = [w for w in _THREAT if _has(low, w)]
    armed = bool(hits["weapons"] or hits["knife"])
    threat_to_life = danger_now or (bool(threat) and armed) or any(
        w in threat for w in ("kill", "murder", "hostage", "kidnap", "going to stab", "going to shoot"))  # fmt: skip
    urgency = (
        "immediate" if threat_to_life else "priority" if armed or category == "county_lines" else "routine"
    )
    why = tuple(sorted({w for ws in hits.values() for w in ws} | set(threat))) + (
        ("danger now",) if danger_now else ()
    )
    return Suggestion(category, threat_to_life, urgency, why)


def check_triage(category: str | None, urgency: str | None) -> None:
    if category is not None and category not in CATEGORIES:
        raise unknown("category", category, CATEGORIES)
    if urgency is not None and urgency not in URGENCIES:
        raise unknown("urgency", urgency, URGENCIES)


@dataclass(frozen=True)
class Grade:
    source_eval: str
    intel_assessment: str
    handling_code: str
    conditions: str | None = None

    @property
    def code(self) -> str:
        return f"{self.source_eval}{self.intel_assessment}{self.handling_code}"


def parse_grade(
    source_eval: str, intel_assessment: str, handling_code: str, conditions: str | None = None
) -> Grade:
    """A 3x5x2 grade, checked: handling code C needs its conditions written down."""
    s, a, h = (
        str(source_eval).strip(),
        str(intel_assessment).strip().upper(),
        str(handling_code).strip().upper(),
    )
    if s not in SOURCE_EVAL:
        raise unknown("source evaluation", s, SOURCE_EVAL)
    if a not in INTEL_ASSESSMENT:
        raise unknown("intelligence assessment", a, INTEL_ASSESSMENT)
    if h not in HANDLING:
        raise unknown("handling code", h, HANDLING)
    cond = (conditions or "").strip() or None
    if h == "C" and not cond:
        raise ParameterError("handling code C needs the conditions of sharing written down (--conditions)")
    return Grade(s, a, h, cond if h == "C" else None)


_PATTERNS = (
    (re.compile(r"[\w.+-]+@[\w-]+\.[\w.-]+"), "[email]"),
    (re.compile(r"(?:\+44\s?|\b0)\d(?:\s?\d){8,9}\b"), "[phone]"),
    (re.compile(r"https?://\S+"), "[link]"),
    (re.compile(r"(?<!\w)@\w{2,}"), "[handle]"),
    (re.compile(r"\b(?:my|our) (?:son|daughter|brother|sister|mum|dad|cousin|neighbour|friend|partner|"
                r"boyfriend|girlfriend|husband|wife)\b", re.I), "[a person close to the source]"),
    (re.compile(r"\bI (?:live|work|go to school|study) (?:at|in|on|near) [^.,;\n]+", re.I),
     "[where the source lives or works]"),
)  # fmt: skip


def redact(text: str, extra: list[str] | None = None) -> str:
    """Text fit to share: contact details, links, handles, and what ties the source to a place or a person
    replaced; ``extra``: more words or phrases the analyst names (names, nicknames, addresses)."""
    out = text
    for phrase in sorted((p.strip() for p in extra or [] if p.strip()), key=len, reverse=True):
        out = re.sub(re.escape(phrase), "[redacted]", out, flags=re.I)
    for pattern, label in _PATTERNS:
        out = pattern.sub(label, out)
    return out
