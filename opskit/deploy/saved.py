"""`deploy --save`: write the `-p KEY=VALUE` parameters into opskit.toml.

tomllib only reads, so the file is edited line by line: comments, order and
formatting stay as they were; the `[env.NAME.parameters]` table gets each key
set (replaced in place, or added), and is created after the `[env.NAME]` table
when missing. The result is parsed again before it is written: if it does not
read back as exactly the intended values, nothing is written.
"""

from __future__ import annotations

import json
import re
import tomllib
from pathlib import Path

from opskit.errors import ConfigError

_BARE_KEY = re.compile(r"^[A-Za-z0-9_-]+$")
_HEADER = re.compile(r"^\s*\[\[?\s*([^\]]+?)\s*\]\]?\s*(#.*)?$")


def _key(name: str) -> str:
    return name if _BARE_KEY.match(name) else json.dumps(name)


def _line(name: str, value: str) -> str:
    return f"{_key(name)} = {json.dumps(value, ensure_ascii=False)}\n"


def _header_name(line: str) -> str | None:
    match = _HEADER.match(line)
    if not match:
        return None
    return ".".join(part.strip().strip('"') for part in match.group(1).split("."))


def set_parameters(text: str, env_name: str, values: dict[str, str]) -> str:
    """`text` with [env.<env_name>.parameters] holding `values` (other keys untouched)."""
    lines = text.splitlines(keepends=True)
    if lines and not lines[-1].endswith("\n"):
        lines[-1] += "\n"
    table, owner = f"env.{env_name}.parameters", f"env.{env_name}"
    headers = [
        (i, name) for i, line in enumerate(lines) if (name := _header_name(line)) is not None
    ]
    start = next((i for i, name in headers if name == table), None)
    if start is None:
        owner_at = next((i for i, name in headers if name == owner), None)
        if owner_at is None:
            insert_at, block = len(lines), [f"\n[{owner}]\n"]
        else:  # after the env's own table and its sub-tables
            later = [i for i, name in headers if i > owner_at and not name.startswith(owner + ".")]
            insert_at, block = (later[0] if later else len(lines)), []
            while insert_at > owner_at + 1 and not lines[insert_at - 1].strip():
                insert_at -= 1
        block += [f"\n[{table}]\n"] + [_line(k, v) for k, v in values.items()]
        new_lines = lines[:insert_at] + block + lines[insert_at:]
    else:
        end = next((i for i, _ in headers if i > start), len(lines))
        new_lines = list(lines)
        last_key = start
        pending = dict(values)
        for i in range(start + 1, end):
            for name in list(pending):
                pattern = rf"^\s*(\"{re.escape(name)}\"|{re.escape(name)})\s*="
                if re.match(pattern, new_lines[i]):
                    new_lines[i] = _line(name, pending.pop(name))
            if new_lines[i].strip() and not new_lines[i].lstrip().startswith("#"):
                last_key = i
        new_lines[last_key + 1 : last_key + 1] = [_line(k, v) for k, v in pending.items()]
    return "".join(new_lines)


def save_parameters(path: Path, env_name: str, values: dict[str, str]) -> None:
    text = path.read_text() if path.is_file() else ""
    updated = set_parameters(text, env_name, values)
    try:
        document = tomllib.loads(updated)
        saved = document["env"][env_name]["parameters"]
    except (tomllib.TOMLDecodeError, KeyError, TypeError) as exc:
        raise ConfigError(
            f"cannot save the parameters to {path}",
            f"the edited file would not read back ({exc})",
            f"add them to [env.{env_name}.parameters] by hand",
        ) from None
    if any(saved.get(k) != v for k, v in values.items()):
        raise ConfigError(
            f"cannot save the parameters to {path}",
            "the edited file reads back different values",
            f"add them to [env.{env_name}.parameters] by hand",
        )
    path.write_text(updated)
