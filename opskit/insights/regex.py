"""Logs Insights regular expressions, as CloudWatch reads them, for both backends.

CloudWatch's dialect (Java-like) allows what neither engine takes as is:
* named groups `(?<name>...)`, with names that may contain `@` or `.`;
* inline flags anywhere, `/^(?i)Exception$/` (Python only takes global flags at the start):
  for Python a flag group applies, as in Java and RE2, from where it stands to the end of
  its group, so `a(?i)b|c` becomes `a(?i:b)|(?i:c)`;
* POSIX classes inside brackets, `[[:upper:]]` (RE2 has them, Python does not).
`to_python` and `to_re2` give the two spellings; capture groups keep their numbers.
"""

from __future__ import annotations

import re

POSIX_CLASSES = {
    "alpha": "a-zA-Z",
    "digit": "0-9",
    "alnum": "a-zA-Z0-9",
    "upper": "A-Z",
    "lower": "a-z",
    "space": " \\t\\n\\r\\f\\v",
    "blank": " \\t",
    "punct": "!-/:-@\\[-`{-~",
    "xdigit": "0-9A-Fa-f",
    "word": "a-zA-Z0-9_",
    "cntrl": "\\x00-\\x1f\\x7f",
    "print": " -~",
    "graph": "!-~",
    "ascii": "\\x00-\\x7f",
}
_NAMED = re.compile(r"\(\?<([A-Za-z_@][A-Za-z0-9_@.]*)>")
_POSIX = re.compile(r"\[:(\^?)([a-z]+):\]")
_FLAGS = re.compile(r"\(\?([imsx]+)\)")


def mangle(name: str) -> str:
    return name.replace("@", "__at__").replace(".", "__dot__")


def unmangle(name: str) -> str:
    return name.replace("__at__", "@").replace("__dot__", ".")


def _named(pattern: str) -> str:
    return _NAMED.sub(lambda m: f"(?P<{mangle(m.group(1))}>", pattern)


def to_re2(pattern: str) -> str:
    return _named(pattern)


def to_python(pattern: str) -> str:
    return _scoped_flags(_posix(_named(pattern)))


def _posix(pattern: str) -> str:
    out, i, n = [], 0, len(pattern)
    in_class = False
    while i < n:
        char = pattern[i]
        if char == "\\":
            out.append(pattern[i : i + 2])
            i += 2
            continue
        if in_class:
            match = _POSIX.match(pattern, i)
            if match:
                negated, name = match.groups()
                if name not in POSIX_CLASSES:
                    raise re.error(f"unknown POSIX class [:{name}:]")
                if negated:
                    raise re.error("negated POSIX classes [:^name:] are not supported")
                out.append(POSIX_CLASSES[name])
                i = match.end()
                continue
            if char == "]":
                in_class = False
        elif char == "[":
            in_class = True
            out.append(char)
            i += 1
            if i < n and pattern[i] == "^":
                out.append("^")
                i += 1
            if i < n and pattern[i] == "]":
                out.append("\\]")
                i += 1
            continue
        out.append(char)
        i += 1
    return "".join(out)


def _scoped_flags(pattern: str) -> str:
    """Turn each inline `(?i)` not at the very start into scoped groups up to its group's end."""
    if not _FLAGS.search(pattern, 1):
        return pattern
    tokens = _tokens(pattern)
    out, _ = _rewrite(tokens, 0, at_start=True)
    return "".join(out)


def _tokens(pattern: str) -> list[str]:
    """Atoms of a pattern: escapes, classes, group openers, ')', '|', flag groups, chars."""
    tokens, i, n = [], 0, len(pattern)
    while i < n:
        char = pattern[i]
        if char == "\\":
            tokens.append(pattern[i : i + 2])
            i += 2
        elif char == "[":
            j = i + 1
            if j < n and pattern[j] == "^":
                j += 1
            if j < n and pattern[j] == "]":
                j += 1
            while j < n and pattern[j] != "]":
                j += 2 if pattern[j] == "\\" else 1
            tokens.append(pattern[i : j + 1])
            i = j + 1
        elif char == "(":
            flags = _FLAGS.match(pattern, i)
            if flags:
                tokens.append(flags.group())
                i = flags.end()
                continue
            match = re.match(r"\((\?(?:P<[^>]+>|[:=!]|<[=!]|[imsx-]+:))?", pattern[i:])
            opener = match.group() if match else "("
            tokens.append(opener)
            i += len(opener)
        else:
            tokens.append(char)
            i += 1
    return tokens


def _rewrite(tokens: list[str], index: int, at_start: bool) -> tuple[list[str], int]:
    """Rewrite one group's body (until its ')'); returns (text pieces, index after it)."""
    out: list[str] = []
    flags = ""  # flags switched on so far in this group, applied to each later alternative
    open_scope = False
    first = True
    while index < len(tokens):
        token = tokens[index]
        if token == ")":
            break
        if _FLAGS.fullmatch(token):
            if at_start and first:
                out.append(token)  # leading global flags: Python takes them as they are
            else:
                if open_scope:
                    out.append(")")
                flags += _FLAGS.fullmatch(token).group(1)  # type: ignore[union-attr]
                out.append(f"(?{flags}:")
                open_scope = True
            index += 1
            first = False
            continue
        first = False
        if token == "|":
            if open_scope:
                out.append(")")
            out.append("|")
            if flags:
                out.append(f"(?{flags}:")
                open_scope = True
            else:
                open_scope = False
            index += 1
            continue
        if token.startswith("("):
            inner, index = _rewrite(tokens, index + 1, at_start=False)
            out.append(token)
            out.extend(inner)
            out.append(")")
            index += 1  # past ')'
            continue
        out.append(token)
        index += 1
    if open_scope:
        out.append(")")
    return out, index
