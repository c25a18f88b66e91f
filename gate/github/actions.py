"""Where am I reporting to: repository, PR number, head sha and links, from Actions or from flags.

Inside GitHub Actions these come from the `GITHUB_*` environment and the event payload at
`GITHUB_EVENT_PATH`; outside, from flags; a flag always wins. The PR's *head* sha is used, not
`GITHUB_SHA` (on `pull_request` events that is a temporary merge commit, and a check posted there
never shows on the PR). The token is read separately and never stored here, so no repr of this
object can leak it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gate.errors import ConfigError

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
    try:
        data = json.loads(Path(path).read_text())
    except FileNotFoundError:
        raise ConfigError(f"{path}: GITHUB_EVENT_PATH names a file that does not exist") from None
    except json.JSONDecodeError as e:
        raise ConfigError(f"{path}: the event payload is not valid JSON ({e.msg})") from None
    return data if isinstance(data, dict) else {}


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
    summary = env.get("GITHUB_STEP_SUMMARY")
    return ActionsContext(
        repository=repo,
        head_sha=sha,
        pr_number=number,
        server_url=env.get("GITHUB_SERVER_URL", "https://github.com").rstrip("/"),
        api_url=(api_url or env.get("GITHUB_API_URL") or "https://api.github.com").rstrip("/"),
        run_id=env.get("GITHUB_RUN_ID"),
        run_attempt=env.get("GITHUB_RUN_ATTEMPT"),
        event_name=env.get("GITHUB_EVENT_NAME"),
        step_summary=Path(summary) if summary else None,
    )


def token(env: Mapping[str, str]) -> str:
    """The token from GITHUB_TOKEN (or GH_TOKEN); ConfigError when neither is set."""
    value = env.get("GITHUB_TOKEN") or env.get("GH_TOKEN")
    if not value:
        raise ConfigError(
            "no GitHub token: set GITHUB_TOKEN (in a workflow: env: GITHUB_TOKEN: ${{ github.token }}); "
            "tokens are never taken from flags, so they stay out of shell history and process lists"
        )
    return value.strip()
