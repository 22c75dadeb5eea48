"""Words every dialog understands, whichever skill owns it: stop what we're doing, show what I can do,
yes and no to a question, "edit" to a summary; and :func:`fold`, how typed words are compared."""

from __future__ import annotations

import re
import unicodedata

CANCEL_RE = re.compile(r"^\s*(cancel|stop|abort|quit|never ?mind|forget it)\b[.!]*\s*$", re.I)
HELP_RE = re.compile(r"^\s*(help|\?|commands|what can you do\??|menu)\s*[.!?]*\s*$", re.I)
YES_RE = re.compile(
    r"^\s*(yes|y|yep|yeah|confirm|ok|okay|sure|correct|submit|go ahead|do it|looks good)\b", re.I
)
NO_RE = re.compile(r"^\s*(no|n|nope|not really)\b", re.I)
EDIT_RE = re.compile(r"^\s*(edit|change|fix)\s*$", re.I)
NEW_RE = re.compile(r"^\s*(?:a\s+)?new\b|^\s*register\b", re.I)  # "a new one", "register it anyway"


def fold(text: str) -> str:
    """Lower case without accents; the same length as ``text`` for Latin text (spans stay valid)."""
    out = []
    for ch in text:
        base = unicodedata.normalize("NFKD", ch)
        kept = "".join(c for c in base if not unicodedata.combining(c)) or ch
        out.append(kept[0].lower())
    return "".join(out)
