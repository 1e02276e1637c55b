"""User text made safe for where it is printed: a terminal, Markdown. (HTML uses `html.escape`.)

Answers, evidence quoted from them, user names and anything a model wrote may hold bytes a
terminal obeys (ESC sequences clear the screen, retitle the window, plant OSC-8 links) or Markdown
that escapes its block (a ``` in an answer ends the export's fence, and raw HTML runs when the
export is rendered). These functions keep the text and drop or neutralise only what acts.
"""

from __future__ import annotations

import re

_ESCAPE_SEQUENCES = re.compile(
    r"\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?"      # OSC (titles, OSC-8 links, clipboard), BEL or ST ended
    r"|\x1b[P^_X][^\x1b]*(?:\x1b\\)?"          # DCS, PM, APC, SOS strings
    r"|\x1b\[[0-?]*[ -/]*[@-~]?"                # CSI (cursor moves, screen clears, colours)
    r"|\x9b[0-?]*[ -/]*[@-~]?"                  # 8-bit CSI
    r"|\x9d[^\x07\x9c]*[\x07\x9c]?"             # 8-bit OSC
    r"|\x1b[ -/]*[0-~]?"                        # any other ESC sequence
)
_CONTROLS = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
"""C0 and C1 controls except tab and newline, DEL, and the bidirectional overrides that reorder
what is shown (a carriage return would let text overwrite its own line)."""


def terminal_text(text: str) -> str:
    """`text` without escape sequences or control characters; newlines and tabs stay."""
    return _CONTROLS.sub("", _ESCAPE_SEQUENCES.sub("", text))


_MD_SPECIAL = re.compile(r"([\\`*_\[\]<>&~|])")
_MD_BLOCK_START = re.compile(r"^(\d+)([.)])|^([#+=>-])")


def md_inline(text: str) -> str:
    """Text for a Markdown line: one line, every character Markdown or HTML could act on escaped
    (emphasis, code, links, raw HTML, entities, tables), and a start that would open a block."""
    line = _MD_SPECIAL.sub(r"\\\1", " ".join(terminal_text(text).split()))
    return _MD_BLOCK_START.sub(lambda m: f"{m[1]}\\{m[2]}" if m[1] else f"\\{m[3]}", line)


def md_code_block(text: str, info: str = "text") -> list[str]:
    """A fenced block that `text` cannot close: the fence is longer than any backtick run inside."""
    body = terminal_text(text)
    longest = max((len(run) for run in re.findall(r"`+", body)), default=0)
    fence = "`" * max(3, longest + 1)
    return [fence + info, body, fence]


def md_code_span(text: str) -> str:
    """Inline code that `text` cannot close (CommonMark: a longer backtick run, padded by spaces)."""
    body = " ".join(terminal_text(text).split())
    longest = max((len(run) for run in re.findall(r"`+", body)), default=0)
    ticks = "`" * (longest + 1)
    return f"{ticks} {body} {ticks}" if longest else f"`{body}`"
