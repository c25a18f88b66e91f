"""GitHub edge: the sticky PR comment and the `model-gate` check, behind a narrow interface.

`GitHubClient` is the only place that talks to GitHub. It does three things: find-or-update one
PR comment by its hidden marker, post a check run, post a commit status. Every call goes through
one bounded retry loop (5xx, connection errors, secondary and primary rate limits, with backoff
and `Retry-After`), and every error it raises is a one-line `GitHubUnavailable` (exit 3) whose
text has the token scrubbed out. PyGithub's own retry and throttling are switched off, so the
budget here is the whole budget.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal, TypeVar

import github
import requests
from github import Auth, Github, GithubException

from gate.errors import ConfigError, GitHubUnavailable
from gate.github.actions import check_credential
from gate.github.comment import CHECK_TEXT_LIMIT
from gate.text import clip, redact

DEFAULT_API_URL = "https://api.github.com"
State = Literal["success", "failure", "neutral"]
STATES: tuple[State, ...] = ("success", "failure", "neutral")
STATUS_DESCRIPTION_LIMIT = 140  # GitHub rejects longer commit-status descriptions

T = TypeVar("T")


@dataclass(frozen=True)
class RetryPolicy:
    """How hard to try: at most `attempts` tries and `budget_s` seconds of waiting in all."""

    attempts: int = 5
    base_delay_s: float = 2.0
    max_delay_s: float = 60.0
    budget_s: float = 180.0

    def backoff(self, attempt: int) -> float:
        return min(self.max_delay_s, self.base_delay_s * 2 ** (attempt - 1))


@dataclass(frozen=True)
class CommentResult:
    id: int
    url: str
    action: Literal["created", "updated", "unchanged"]
    duplicates_removed: int = 0


@dataclass(frozen=True)
class CheckResult:
    kind: Literal["check-run", "status"]
    name: str
    state: str  # as sent: a check-run conclusion or a commit-status state
    url: str


class GitHubClient:
    """A token-authenticated client for one repository.

    >>> gh = GitHubClient("acme/models", token)            # doctest: +SKIP
    >>> gh.upsert_comment(12, "<!-- checkpoint-gate:fast -->", body)
    """

    def __init__(
        self,
        repository: str,
        token: str,
        *,
        api_url: str = DEFAULT_API_URL,
        retry: RetryPolicy = RetryPolicy(),
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.time,
        timeout_s: int = 20,
    ) -> None:
        if not re.fullmatch(r"[\w.-]+/[\w.-]+", repository):
            raise ConfigError(f"repository {repository!r}: expected owner/name, e.g. --repo acme/models")
        if not token:
            raise ConfigError("no GitHub token: set GITHUB_TOKEN (in Actions: env: GITHUB_TOKEN: ${{ github.token }})")
        check_credential("GITHUB_TOKEN", token)
        self.repository = repository
        self._token = token
        self._retry = retry
        self._sleep = sleep
        self._clock = clock
        # lazy: objects are built from URLs without a GET each; every request below is one we mean.
        self._gh = Github(
            base_url=api_url.rstrip("/"),
            auth=Auth.Token(token),
            retry=None,
            seconds_between_requests=None,
            seconds_between_writes=None,
            timeout=timeout_s,
            lazy=True,
        )
        self._repo = self._gh.get_repo(repository)

    def __repr__(self) -> str:  # never show the token
        return f"GitHubClient({self.repository!r})"

    # -- the three operations ---------------------------------------------------------------
    def upsert_comment(self, pr_number: int, marker: str, body: str) -> CommentResult:
        """Edit the one comment whose first line is `marker`, or create it; remove duplicates.

        The whole find-then-write is retried, not the write alone, so a POST that failed with a
        5xx after GitHub had stored it is found on the next attempt instead of posted twice.
        """
        if not body.startswith(marker):
            raise ValueError("the comment body must start with its marker")
        return self._call(f"updating the comment on PR #{pr_number}", lambda: self._upsert(pr_number, marker, body))

    def pr_head(self, pr_number: int) -> str:
        """The PR's head commit now: a report about an older commit says so (a push landed meanwhile)."""
        return self._call(f"reading PR #{pr_number}", lambda: self._repo.get_pull(pr_number).head.sha)

    def post_check_run(
        self, head_sha: str, *, name: str, conclusion: State, title: str, summary: str, details_url: str | None = None
    ) -> CheckResult:
        """Create a completed check run (needs `checks: write`; works with the Actions GITHUB_TOKEN)."""
        if conclusion not in STATES:
            raise ConfigError(f"check conclusion {conclusion!r}: expected one of {', '.join(STATES)}")
        output = {"title": clip(title, 200, one_line=True), "summary": summary[:CHECK_TEXT_LIMIT]}
        kwargs: dict[str, Any] = {"status": "completed", "conclusion": conclusion, "output": output}
        if details_url:
            kwargs["details_url"] = details_url

        def post() -> CheckResult:
            run = self._repo.create_check_run(name, head_sha, **kwargs)
            return CheckResult("check-run", name, conclusion, run.html_url)

        return self._call(f"posting check run {name!r} on {head_sha[:12]}", post)

    def post_status(
        self, head_sha: str, *, context: str, state: State, description: str, target_url: str | None = None
    ) -> CheckResult:
        """Set a commit status (needs `statuses: write`; works with a personal token).

        Commit statuses have no "neutral": an inconclusive verdict that does not block is sent as
        success with a description that says so, matching how branch protection treats a neutral
        check run (it passes).
        """
        if state not in STATES:
            raise ConfigError(f"status state {state!r}: expected one of {', '.join(STATES)}")
        sent = "success" if state == "neutral" else state
        desc = (
            description
            if state != "neutral" or description.lower().startswith("inconclusive")
            else (f"inconclusive: {description}")
        )
        kwargs: dict[str, Any] = {
            "context": context,
            "description": clip(desc, STATUS_DESCRIPTION_LIMIT, one_line=True),
        }
        if target_url:
            kwargs["target_url"] = target_url

        def post() -> CheckResult:
            st = self._repo.get_commit(head_sha).create_status(sent, **kwargs)
            return CheckResult("status", context, sent, st.url)

        return self._call(f"posting status {context!r} on {head_sha[:12]}", post)

    # -- internals ---------------------------------------------------------------------------
    def _upsert(self, pr_number: int, marker: str, body: str) -> CommentResult:
        issue = self._repo.get_issue(pr_number)
        mine = [c for c in issue.get_comments() if _first_line(c.body) == marker]
        if not mine:
            c = issue.create_comment(body)
            return CommentResult(c.id, c.html_url, "created")
        keep, extra = mine[0], mine[1:]
        for dup in extra:  # left by two runs racing before `concurrency` cancelled one
            dup.delete()
        if keep.body == body:
            return CommentResult(keep.id, keep.html_url, "unchanged", len(extra))
        keep.edit(body)
        return CommentResult(keep.id, keep.html_url, "updated", len(extra))

    def _call(self, what: str, fn: Callable[[], T]) -> T:
        waited = 0.0
        last = ""
        for attempt in range(1, self._retry.attempts + 1):
            try:
                return fn()
            except github.BadCredentialsException:
                raise GitHubUnavailable(
                    f"GitHub refused the token while {what} (401 Bad credentials); "
                    "check that GITHUB_TOKEN is set, current and for this repository"
                ) from None
            except github.RateLimitExceededException as e:
                wait, last = self._rate_limit_wait(e, attempt), self._describe(e)
            except GithubException as e:
                if e.status == 429:  # PyGithub only classifies 403s as rate limits
                    wait, last = self._rate_limit_wait(e, attempt), self._describe(e)
                elif e.status is None or e.status < 500:
                    raise self._refused(what, e) from None
                else:
                    wait, last = self._retry.backoff(attempt), self._describe(e)
            except (requests.exceptions.InvalidURL, requests.exceptions.MissingSchema) as e:
                raise ConfigError(
                    self._scrub(f"GitHub API URL is not usable: {e}; check --api-url / GITHUB_API_URL")
                ) from None
            except requests.exceptions.InvalidHeader:
                # A header requests refuses to send never gets better on retry; its message holds the header
                # (the token), so none of it is shown.
                raise ConfigError(
                    "GITHUB_TOKEN cannot be sent in an HTTP header (it holds characters a header cannot); "
                    "set it to the token alone"
                ) from None
            except requests.RequestException as e:  # connection reset, timeout, broken chunked body
                wait, last = self._retry.backoff(attempt), self._scrub(f"{type(e).__name__}: {e}")
            if attempt == self._retry.attempts:
                break
            if waited + wait > self._retry.budget_s:
                raise GitHubUnavailable(
                    f"GitHub unavailable while {what}: {last}; the next wait ({wait:.0f}s) would pass the "
                    f"{self._retry.budget_s:.0f}s retry budget after {attempt} attempts; re-run the job later"
                )
            self._sleep(wait)
            waited += wait
        raise GitHubUnavailable(
            f"GitHub unavailable while {what}: {last} after {self._retry.attempts} attempts "
            f"({waited:.0f}s waited); check https://www.githubstatus.com and re-run the job"
        )

    def _rate_limit_wait(self, e: GithubException, attempt: int) -> float:
        headers = {k.lower(): v for k, v in (e.headers or {}).items()}
        if "retry-after" in headers:  # secondary limit: GitHub says how long
            return float(headers["retry-after"])
        if headers.get("x-ratelimit-remaining") == "0" and "x-ratelimit-reset" in headers:
            return max(1.0, float(headers["x-ratelimit-reset"]) - self._clock())
        # Secondary limit without Retry-After: GitHub asks for at least a minute.
        return max(60.0, self._retry.backoff(attempt))

    def _refused(self, what: str, e: GithubException) -> GitHubUnavailable | ConfigError:
        msg = self._describe(e)
        if e.status == 403:
            return GitHubUnavailable(
                f"GitHub refused {what}: {msg}; the workflow needs `permissions: pull-requests: write, checks: write, "
                "statuses: write`, and pull requests from forks get a read-only token"
            )
        if e.status == 404:
            return GitHubUnavailable(
                f"GitHub answered 404 Not Found while {what}: repository {self.repository} or that number does not "
                "exist, or the token cannot see it"
            )
        if e.status == 422:
            return ConfigError(f"GitHub rejected the request while {what}: {msg}")
        return GitHubUnavailable(f"GitHub refused {what}: {msg}")

    def _describe(self, e: GithubException) -> str:
        data = e.data if isinstance(e.data, dict) else {}
        text = str(data.get("message") or e.message or "")
        errors = data.get("errors") or []
        details = "; ".join(
            str(x.get("message") or f"{x.get('field')} {x.get('code')}") if isinstance(x, dict) else str(x)
            for x in errors
        )
        return self._scrub(clip(f"{e.status} {text}" + (f" ({details})" if details else ""), 300, one_line=True))

    def _scrub(self, text: str) -> str:
        return redact(text, [self._token])


def _first_line(body: str | None) -> str:
    return (body or "").split("\n", 1)[0].strip()
