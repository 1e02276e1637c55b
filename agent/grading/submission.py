"""A code submission as the candidate sent it, reduced to the code the sandbox runs.

Candidates paste code the way chat taught them: inside a ```python fence, often with a sentence
before or after it. Every front-end (terminal, Telegram, MCP) hands the text over unchanged and
the coach extracts the code here, once.

    extract_code("Here it is:\\n```python\\ndef f(): ...\\n```\\nO(n).")  ->  "def f(): ..."
"""

from __future__ import annotations

import re

_FENCE = re.compile(r"^[^\n`]*?(`{3,}|~{3,})[ \t]*([\w+#.-]*)[ \t]*$", re.MULTILINE)
"""An opening fence ends its line, maybe after prose ("Here it is: ```python")."""
_CODE_LANGS = {"", "python", "py", "python3", "py3", "pycon"}


def extract_code(text: str) -> str:
    """The code inside the answer's fences (python or untagged blocks, joined in order), or the
    whole text when it has no fence. An unclosed fence runs to the end of the text."""
    blocks: list[tuple[str, str]] = []
    pos = 0
    while (opening := _FENCE.search(text, pos)) is not None:
        marker, lang = opening.group(1), opening.group(2).lower()
        start = opening.end() + 1
        # A closing fence starts its line; prose after it on the same line is dropped.
        closing = re.compile(rf"^[ \t]*{re.escape(marker[0])}{{{len(marker)},}}", re.MULTILINE)
        end_match = closing.search(text, start)
        body = text[start:end_match.start()] if end_match else text[start:]
        blocks.append((lang, body))
        if end_match is None:
            break
        pos = end_match.end()
    if not blocks:
        return _inline_fence(text)
    code = [body for lang, body in blocks if lang in _CODE_LANGS] or [body for _lang, body in blocks]
    return "\n\n".join(body.rstrip() for body in code).strip("\n") + "\n"


def _inline_fence(text: str) -> str:
    """```def f(): return 1``` on one line (or a fence glued to the first line of code)."""
    match = re.search(r"```(?:python3?|py)?[ \t]*(.+?)```", text, re.DOTALL)
    return match.group(1).strip("\n") + "\n" if match else text
