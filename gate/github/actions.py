"""Where am I reporting to: repository, PR number, head sha and links, from Actions or from flags.

Inside GitHub Actions these come from the `GITHUB_*` environment and the event payload at
`GITHUB_EVENT_PATH`; outside, from flags; a flag always wins. The PR's *head* sha is used, not
`GITHUB_SHA` (on `pull_request` events that is a temporary merge commit, and a check posted there
never shows on the PR). The token is read separately and never stored here, so no repr of this
object can leak it; its shape is checked (`check_credential`) before it is ever sent. Every value is
checked before anything is posted: URLs, the sha, the PR number, the job summary file.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from gate.errors import ConfigError
from gate.files import parse_json, read_text

SHA_RE = re.compile(r"[0-9a-f]{40}|[0-9a-f]{64}")
REPO_RE = re.compile(r"[\w.-]+/[\w.-]+")


@dataclass(frozen=True)
class ActionsContext:
    repository: str
    head_sha: str | None
    pr_number: int | None
    server_url: str = "https://github.com"
    api_url: str = "https://api.github.com"
    run_id: str | None = None
    run_attempt: str | None = None
    event_name: str | None = None
    step_summary: Path | None = None

    @property
    def workflow_run_url(self) -> str | None:
        if not self.run_id:
            return None
        url = f"{self.server_url}/{self.repository}/actions/runs/{self.run_id}"
        return f"{url}/attempts/{self.run_attempt}" if self.run_attempt not in (None, "", "1") else url


def _event(env: Mapping[str, str]) -> dict[str, Any]:
    path = env.get("GITHUB_EVENT_PATH")
    if not path:
        return {}
    if not Path(path).exists():
        raise ConfigError(f"{path}: GITHUB_EVENT_PATH names a file that does not exist")
    data = parse_json(read_text(path, "event payload (GITHUB_EVENT_PATH)"), path, "GitHub event payload")
    return data if isinstance(data, dict) else {}


def _http_url(url: str, what: str) -> str:
    """`url` without a trailing slash, or ConfigError naming `what` when it is not an http(s) URL."""
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname or any(c.isspace() for c in url.strip()):
        raise ConfigError(f"{what} {url!r}: not an http(s) URL; e.g. https://api.github.com")
    if parts.username or parts.password:
        raise ConfigError(f"{what}: holds a user name or password; the token comes from GITHUB_TOKEN only")
    return url.strip().rstrip("/")


def _step_summary(env: Mapping[str, str]) -> Path | None:
    """GITHUB_STEP_SUMMARY, checked before anything is posted: a file the gate can append to."""
    summary = env.get("GITHUB_STEP_SUMMARY")
    if not summary:
        return None
    p = Path(summary)
    if p.is_dir():
        raise ConfigError(f"GITHUB_STEP_SUMMARY {p}: is a folder; it must name the job summary file")
    if not p.parent.is_dir():
        raise ConfigError(f"GITHUB_STEP_SUMMARY {p}: folder {p.parent} does not exist")
    return p


def resolve(
    env: Mapping[str, str],
    *,
    repository: str | None = None,
    head_sha: str | None = None,
    pr_number: int | None = None,
    api_url: str | None = None,
) -> ActionsContext:
    """Build the context from `env` (pass `os.environ`), with flags overriding it."""
    event = _event(env)
    pr = event.get("pull_request") if isinstance(event.get("pull_request"), dict) else {}
    repo = repository or env.get("GITHUB_REPOSITORY")
    if not repo:
        raise ConfigError("no repository: pass --repo owner/name, or run inside GitHub Actions (GITHUB_REPOSITORY)")
    if not REPO_RE.fullmatch(repo):
        raise ConfigError(f"repository {repo!r}: expected owner/name, e.g. --repo acme/models")
    number = pr_number if pr_number is not None else pr.get("number")
    if number is not None and (not isinstance(number, int) or number < 1):
        raise ConfigError(f"PR number {number!r}: expected a positive integer, e.g. --pr 12")
    sha = head_sha or (pr.get("head") or {}).get("sha") or env.get("GITHUB_SHA")
    if sha is not None and not SHA_RE.fullmatch(sha):
        raise ConfigError(f"commit sha {sha!r}: expected 40 lower-case hex digits, e.g. --sha $(git rev-parse HEAD)")
    api_what = "--api-url" if api_url else "GITHUB_API_URL"
    return ActionsContext(
        repository=repo,
        head_sha=sha,
        pr_number=number,
        server_url=_http_url(env.get("GITHUB_SERVER_URL") or "https://github.com", "GITHUB_SERVER_URL"),
        api_url=_http_url(api_url or env.get("GITHUB_API_URL") or "https://api.github.com", api_what),
        run_id=env.get("GITHUB_RUN_ID"),
        run_attempt=env.get("GITHUB_RUN_ATTEMPT"),
        event_name=env.get("GITHUB_EVENT_NAME"),
        step_summary=_step_summary(env),
    )


def check_credential(name: str, value: str) -> str:
    """`value` without surrounding whitespace, or ConfigError naming the variable (never its value).

    A credential is one word of printable ASCII: a space, tab or newline inside it (a copy-paste
    accident) would make the HTTP library echo it back whole in an error about the header.
    """
    v = value.strip()
    if not v:
        raise ConfigError(f"{name} is set but empty; set it to the credential alone, or unset it")
    if any(c.isspace() or not c.isprintable() or not c.isascii() for c in v):
        raise ConfigError(
            f"{name} holds whitespace or control characters inside it (a copy-paste accident?); set it to the "
            "credential alone, on one line"
        )
    return v


def check_credentials(env: Mapping[str, str], names: Iterable[str]) -> None:
    """Check the shape of every credential among `names` that `env` sets (`check_credential`)."""
    for name in names:
        if env.get(name):
            check_credential(name, env[name])


def token(env: Mapping[str, str]) -> str:
    """The token from GITHUB_TOKEN (or GH_TOKEN), checked for shape; ConfigError when neither is set."""
    for name in ("GITHUB_TOKEN", "GH_TOKEN"):
        if env.get(name):
            return check_credential(name, env[name])
    raise ConfigError(
        "no GitHub token: set GITHUB_TOKEN (in a workflow: env: GITHUB_TOKEN: ${{ github.token }}); "
        "tokens are never taken from flags, so they stay out of shell history and process lists"
    )
