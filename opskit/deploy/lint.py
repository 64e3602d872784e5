"""cfn-lint before every change set, cached by template hash so a no-op deploy stays fast.

A template that cfn-lint passes is remembered under `.opskit/lint/<sha256>` (the hash
covers the template bytes, the cfn-lint version and the region), so an unchanged
template is not linted again. Errors fail the deploy before anything is created;
warnings and informational findings are shown and do not.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

from opskit.errors import CheckFailed

LINT_DIR = "lint"


@dataclass(frozen=True)
class Finding:
    rule: str
    severity: str  # error | warning | informational
    resource: str  # logical id, or the template section
    line: int
    message: str

    def render(self) -> str:
        return f"{self.rule} {self.resource} (line {self.line}): {self.message}"


@dataclass(frozen=True)
class LintResult:
    findings: tuple[Finding, ...]
    cached: bool

    @property
    def errors(self) -> list[Finding]:
        return [f for f in self.findings if f.severity == "error"]

    @property
    def warnings(self) -> list[Finding]:
        return [f for f in self.findings if f.severity != "error"]


def cfn_lint_version() -> str:
    try:
        return metadata.version("cfn-lint")
    except metadata.PackageNotFoundError:
        raise CheckFailed(
            "cannot lint the template",
            "cfn-lint is not installed next to opskit",
            "pip install cfn-lint, or deploy with --no-lint",
        ) from None


def cache_key(text: str, region: str, version: str) -> str:
    return hashlib.sha256(f"{version}\0{region}\0{text}".encode()).hexdigest()


def run_cfn_lint(text: str, region: str) -> list[Finding]:
    from cfnlint.api import ManualArgs, lint  # ~1 s to import: only on a cache miss

    findings = []
    for match in lint(text, config=ManualArgs(regions=[region])):
        path = list(getattr(match, "path", None) or [])
        resource = (
            str(path[1])
            if len(path) > 1 and path[0] == "Resources"
            else str(path[0] if path else "template")
        )
        severity = str(getattr(match.rule, "severity", "error")).lower()
        findings.append(
            Finding(match.rule.id, severity, resource, int(match.linenumber), match.message)
        )
    return sorted(findings, key=lambda f: (f.severity != "error", f.line, f.rule))


def lint_template(text: str, region: str, state_dir: Path) -> LintResult:
    """Lint `text` (from the cache when this exact template passed before)."""
    key = cache_key(text, region, cfn_lint_version())
    cached = state_dir / LINT_DIR / key
    if cached.is_file():
        try:
            stored = json.loads(cached.read_text())
            return LintResult(tuple(Finding(**f) for f in stored), cached=True)
        except (ValueError, TypeError):
            pass  # a damaged entry: lint again
    findings = run_cfn_lint(text, region)
    result = LintResult(tuple(findings), cached=False)
    if not result.errors:  # only a passing template is remembered
        cached.parent.mkdir(parents=True, exist_ok=True)
        cached.write_text(json.dumps([f.__dict__ for f in findings]))
    return result


def lint_failure(result: LintResult) -> CheckFailed:
    """The deploy-stopping error (exit 10): rule, resource and line of the first error."""
    first = result.errors[0]
    more = f" (and {len(result.errors) - 1} more)" if len(result.errors) > 1 else ""
    return CheckFailed(
        f"the template failed cfn-lint with {len(result.errors)} error(s)",
        first.render() + more,
        "fix the template (every error is listed above), or deploy with --no-lint",
    )
