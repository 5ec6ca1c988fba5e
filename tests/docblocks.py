"""The shell blocks of the README and docs/, so that tests run them as written."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
_BLOCK = re.compile(r"^```bash\n(.*?)^```", re.MULTILINE | re.DOTALL)


def bash_blocks(path: Path) -> list[str]:
    """The ```bash blocks of a markdown file, in order."""
    return _BLOCK.findall(path.read_text())


def readme_block(containing: str) -> str:
    """The README's bash block that contains ``containing``."""
    [block] = [b for b in bash_blocks(REPO / "README.md") if containing in b]
    return block


def commands(block: str) -> list[str]:
    """The commands of a block: continuation lines joined, comments and blank lines dropped."""
    joined = re.sub(r"\\\n\s*", " ", block)
    out, pending = [], ""
    for line in joined.splitlines():
        pending += line + "\n"
        try:
            words = shlex.split(pending, comments=True)
        except ValueError:  # a quote spans lines: read on
            continue
        pending = ""
        if words:
            out.append(shlex.join(words))
    return out


def documented_commands(program: str) -> list[tuple[str, list[str]]]:
    """``(file, argv)`` of every ``program ...`` command in the README and docs/ shell blocks."""
    found = []
    for path in [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]:
        for block in bash_blocks(path):
            for command in commands(block):
                words = shlex.split(command)
                while words and "=" in words[0] and not words[0].startswith("-"):  # VAR=value prefixes
                    words = words[1:]
                if words and words[-1] == "&":
                    words = words[:-1]
                if words and Path(words[0]).name == program:
                    found.append((path.name, words[1:]))
    return found
