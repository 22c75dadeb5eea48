"""Words every dialog understands, whichever skill owns it: stop what we're doing, or show what I can do."""

from __future__ import annotations

import re

CANCEL_RE = re.compile(r"^\s*(cancel|stop|abort|quit|never ?mind|forget it)\b[.!]*\s*$", re.I)
HELP_RE = re.compile(r"^\s*(help|\?|commands|what can you do\??|menu)\s*[.!?]*\s*$", re.I)
