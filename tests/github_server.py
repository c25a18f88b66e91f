"""A stateful local server that speaks the part of GitHub's REST API that `gate.github.client` calls.

Every response body is built from a real recorded exchange in the fixtures folder
(`../shared/github/`, or `$GATE_GITHUB_FIXTURES`; its README says which PyGithub 2.10 call sends
each request). Object shapes are copied from the modern (2025) recordings and only the fields
that identify the object are set (id, url, body, name, state, timestamps), so PyGithub parses
exactly what it parses from github.com. As the README prescribes, `https://api.github.com` is
rewritten to this server's base URL in bodies and `Link` headers, and the wire-only headers
(Content-Encoding, Transfer-Encoding, Content-Length, Connection, Status) are dropped.

State: issue comments per PR, check runs and commit statuses per sha. Checks GitHub makes are
made here too: the token must match (else the recorded 401), an issue comment body may hold at
most 65,536 characters and a status description 140 (else a 422 shaped like the recorded one).

Faults: `fail(method, path_regex, status=502, times=1)` answers the next matching requests with
an error (a recorded one where GitHub's real answer was recorded: 401, 403 rate limits, 404).
"""

from __future__ import annotations

import copy
import json
import os
import re
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

DROP_HEADERS = {"content-encoding", "transfer-encoding", "content-length", "connection", "status"}
GITHUB_API = "https://api.github.com"
COMMENT_LIMIT = 65536
REPO_ID = 3544490  # the id in the recorded pagination Link headers

# The github-actions[bot] user, as GitHub shows it on comments made with an Actions GITHUB_TOKEN.
ACTIONS_BOT = {"login": "github-actions[bot]", "id": 41898282, "node_id": "MDM6Qm90NDE4OTgyODI=", "type": "Bot"}


def fixtures_dir() -> Path:
    env = os.environ.get("GATE_GITHUB_FIXTURES")
    if env:
        return Path(env)
    return Path(__file__).resolve().parents[1].parent / "shared" / "github"


def load_fixture(name: str, folder: Path | None = None) -> dict[str, Any]:
    path = (folder or fixtures_dir()) / f"{name}.json"
    if not path.is_file():
        raise FileNotFoundError(f"{path}: GitHub fixture missing; set GATE_GITHUB_FIXTURES to the recordings folder")
    return json.loads(path.read_text())


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: Any


@dataclass
class Fault:
    method: str
    pattern: re.Pattern[str]
    status: int
    times: int
    headers: dict[str, str] = field(default_factory=dict)
    message: str | None = None


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class GitHubServer:
    """`with GitHubServer(token="t") as gh: Github(base_url=gh.base_url, ...)`."""

    def __init__(self, token: str = "test-token", owner: str = "acme", repo: str = "models") -> None:
        self.token = token
        self.owner, self.repo = owner, repo
        self.fixtures = {p.stem: json.loads(p.read_text()) for p in fixtures_dir().glob("*.json")}
        if "get-issue-comment" not in self.fixtures:
            raise FileNotFoundError(f"{fixtures_dir()}: GitHub fixtures missing; set GATE_GITHUB_FIXTURES")
        self.comments: dict[int, dict[str, Any]] = {}  # id -> comment object
        self.comment_issue: dict[int, int] = {}  # comment id -> PR number
        self.check_runs: dict[int, dict[str, Any]] = {}
        self.statuses: list[dict[str, Any]] = []
        self.pr_heads: dict[int, str] = {}  # PR number -> its head sha now (GET /pulls/N); others answer 404
        self.requests: list[Request] = []
        self.faults: list[Fault] = []
        self._next_id = 1_000_000_001
        self._lock = threading.Lock()
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.base_url = f"http://127.0.0.1:{self._httpd.server_address[1]}"
        self._thread = threading.Thread(target=self._httpd.serve_forever, args=(0.05,), daemon=True)

    # -- lifecycle -------------------------------------------------------------------------
    def __enter__(self) -> GitHubServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()

    # -- test helpers ----------------------------------------------------------------------
    def fail(
        self,
        method: str,
        path_regex: str,
        status: int = 502,
        times: int = 1,
        headers: dict[str, str] | None = None,
        message: str | None = None,
    ) -> None:
        """Answer the next `times` matching requests with an error instead.

        401, 404 and the 403 rate limits (primary; secondary when `headers` has Retry-After) send
        the recorded answers. `message` sends a GitHub-shaped error with that message instead:
        no real recording exists of e.g. 403 "Resource not accessible by integration" or of 5xx.
        """
        self.faults.append(Fault(method.upper(), re.compile(path_regex), status, times, headers or {}, message))

    def add_comment(self, pr: int, body: str, user: dict[str, Any] | None = None) -> int:
        with self._lock:
            return self._create_comment(pr, body, user)["id"]

    def add_recorded_comments(self, pr: int) -> list[int]:
        """Put the four real comments of list-issue-comments.json on `pr` (people talking)."""
        ids = []
        for c in self.fixtures["list-issue-comments"]["response"]["body"]:
            ids.append(self.add_comment(pr, c["body"], user=c["user"]))
        return ids

    def comments_on(self, pr: int) -> list[dict[str, Any]]:
        return [c for cid, c in sorted(self.comments.items()) if self.comment_issue[cid] == pr]

    def requests_to(self, method: str, path_regex: str) -> list[Request]:
        return [r for r in self.requests if r.method == method and re.fullmatch(path_regex, r.path)]

    # -- shapes ----------------------------------------------------------------------------
    def _rewrite(self, obj: Any) -> Any:
        return json.loads(json.dumps(obj).replace(GITHUB_API, self.base_url))

    def _headers(self, fixture: str) -> dict[str, str]:
        recorded = self.fixtures[fixture]["response"]["headers"]
        return {k: str(v) for k, v in recorded.items() if k.lower() not in DROP_HEADERS | {"link", "location"}}

    def _repo_api(self) -> str:
        return f"{GITHUB_API}/repos/{self.owner}/{self.repo}"

    def _new_id(self) -> int:
        self._next_id += 1
        return self._next_id

    def _create_comment(self, pr: int, body: str, user: dict[str, Any] | None) -> dict[str, Any]:
        c = copy.deepcopy(self.fixtures["get-issue-comment"]["response"]["body"])
        cid = self._new_id()
        c.update(
            id=cid,
            node_id=f"IC_kwDOADYVqs{cid}",
            url=f"{self._repo_api()}/issues/comments/{cid}",
            html_url=f"https://github.com/{self.owner}/{self.repo}/pull/{pr}#issuecomment-{cid}",
            issue_url=f"{self._repo_api()}/issues/{pr}",
            body=body,
            created_at=_now(),
            updated_at=_now(),
            author_association="NONE",
        )
        c["reactions"]["url"] = f"{self._repo_api()}/issues/comments/{cid}/reactions"
        c["user"] = copy.deepcopy(user) if user else {**c["user"], **ACTIONS_BOT}
        self.comments[cid] = c
        self.comment_issue[cid] = pr
        return c

    def _check_run(self, data: dict[str, Any], run: dict[str, Any] | None) -> dict[str, Any]:
        if run is None:
            run = copy.deepcopy(self.fixtures["get-check-run"]["response"]["body"])
            rid = self._new_id()
            run.update(
                id=rid,
                node_id=f"CR_kwDOADYVqs{rid}",
                url=f"{self._repo_api()}/check-runs/{rid}",
                html_url=f"https://github.com/{self.owner}/{self.repo}/runs/{rid}",
                details_url=f"https://github.com/{self.owner}/{self.repo}/runs/{rid}",
                external_id="",
                status="queued",
                conclusion=None,
                started_at=_now(),
                completed_at=None,
                pull_requests=[],
            )
            run["output"] = {
                "title": None,
                "summary": None,
                "text": None,
                "annotations_count": 0,
                "annotations_url": f"{self._repo_api()}/check-runs/{rid}/annotations",
            }
        for key in ("name", "head_sha", "details_url", "external_id", "status", "conclusion", "started_at"):
            if key in data:
                run[key] = data[key]
        if "conclusion" in data and "status" not in data:
            run["status"] = "completed"  # GitHub: giving a conclusion completes the run
        if run["status"] == "completed":
            run["completed_at"] = data.get("completed_at", _now())
        if "output" in data:
            out = data["output"]
            run["output"].update(title=out.get("title"), summary=out.get("summary"), text=out.get("text"))
            run["output"]["annotations_count"] += len(out.get("annotations", []))
        return run

    # -- handler ---------------------------------------------------------------------------
    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:  # keep pytest output clean
                pass

            def _send(self, status: int, body: Any, headers: dict[str, str]) -> None:
                raw = b"" if body is None else json.dumps(server._rewrite(body)).encode()
                self.send_response(status)
                for k, v in headers.items():
                    self.send_header(k, v.replace(GITHUB_API, server.base_url))
                self.send_header("Content-Length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)

            def _error(self, fixture: str, status: int | None = None, body: Any = None) -> None:
                rec = server.fixtures[fixture]["response"]
                self._send(status or rec["status"], body if body is not None else rec["body"], server._headers(fixture))

            def _validation(self, resource: str, field_: str, message: str) -> None:
                body = copy.deepcopy(server.fixtures["error-422"]["response"]["body"])
                body["errors"] = [{"resource": resource, "code": "custom", "field": field_, "message": message}]
                self._error("error-422", body=body)

            def _handle(self) -> None:
                url = urlsplit(self.path)
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                body = json.loads(raw) if raw else None
                req = Request(self.command, url.path, parse_qs(url.query), dict(self.headers.items()), body)
                with server._lock:
                    server.requests.append(req)
                    if self.headers.get("Authorization") != f"token {server.token}":
                        return self._error("error-401")
                    for f in server.faults:
                        if f.times > 0 and f.method == req.method and f.pattern.search(req.path):
                            f.times -= 1
                            return self._fault(f)
                    return self._route(req)

            def _fault(self, f: Fault) -> None:
                named = {401: "error-401", 404: "error-404", 422: "error-422"}
                if f.message is not None:
                    body = {
                        "message": f.message,
                        "documentation_url": "https://docs.github.com/rest",
                        "status": str(f.status),
                    }
                    self._send(f.status, body, {**server._headers("error-404"), **f.headers})
                elif f.status == 403 and "Retry-After" in f.headers:
                    self._send(
                        403,
                        server.fixtures["error-403-secondary-rate-limit"]["response"]["body"],
                        {**server._headers("error-403-secondary-rate-limit"), **f.headers},
                    )
                elif f.status == 403:
                    self._send(
                        403,
                        server.fixtures["error-403-rate-limit"]["response"]["body"],
                        {**server._headers("error-403-rate-limit"), **f.headers},
                    )
                elif f.status in named:
                    self._error(named[f.status])
                else:  # 5xx: no recording exists; GitHub's API answers with this JSON message
                    body = {"message": "Server Error"}
                    self._send(f.status, body, {"Content-Type": "application/json; charset=utf-8", **f.headers})

            def _route(self, req: Request) -> None:
                m = req.method
                repo = rf"/repos/{re.escape(server.owner)}/{re.escape(server.repo)}"
                p = req.path
                if m == "GET" and (mt := re.fullmatch(rf"(?:{repo}|/repositories/{REPO_ID})/issues/(\d+)/comments", p)):
                    return self._list_comments(int(mt[1]), req)
                if m == "POST" and (mt := re.fullmatch(rf"{repo}/issues/(\d+)/comments", p)):
                    text = (req.body or {}).get("body", "")
                    if len(text) > COMMENT_LIMIT:
                        return self._validation(
                            "IssueComment", "body", "Body is too long (maximum is 65536 characters)"
                        )
                    c = server._create_comment(int(mt[1]), text, None)
                    hdrs = {**server._headers("get-issue-comment"), "Location": c["url"]}
                    return self._send(201, c, hdrs)
                if (mt := re.fullmatch(rf"{repo}/issues/comments/(\d+)", p)) and int(mt[1]) in server.comments:
                    cid = int(mt[1])
                    if m == "GET":
                        return self._send(200, server.comments[cid], server._headers("get-issue-comment"))
                    if m == "PATCH":
                        text = (req.body or {}).get("body", "")
                        if len(text) > COMMENT_LIMIT:
                            return self._validation(
                                "IssueComment", "body", "Body is too long (maximum is 65536 characters)"
                            )
                        server.comments[cid].update(body=text, updated_at=_now())
                        return self._send(200, server.comments[cid], server._headers("get-issue-comment"))
                    if m == "DELETE":
                        del server.comments[cid], server.comment_issue[cid]
                        return self._send(204, None, server._headers("delete-issue-comment"))
                if m == "GET" and (mt := re.fullmatch(rf"{repo}/pulls/(\d+)", p)) and int(mt[1]) in server.pr_heads:
                    pull = copy.deepcopy(server.fixtures["get-pull"]["response"]["body"])
                    pull["number"] = int(mt[1])
                    pull["head"]["sha"] = server.pr_heads[int(mt[1])]
                    return self._send(200, pull, server._headers("get-pull"))
                if m == "POST" and p == f"{repo}/check-runs":
                    data = req.body or {}
                    if not data.get("name") or not data.get("head_sha"):
                        return self._validation("CheckRun", "head_sha", "name and head_sha are required")
                    if len((data.get("output") or {}).get("summary") or "") > 65535:
                        return self._validation(
                            "CheckRun", "output.summary", "is too long (maximum is 65535 characters)"
                        )
                    run = server._check_run(data, None)
                    server.check_runs[run["id"]] = run
                    return self._send(201, run, {**server._headers("get-check-run"), "Location": run["url"]})
                if (
                    m == "PATCH"
                    and (mt := re.fullmatch(rf"{repo}/check-runs/(\d+)", p))
                    and int(mt[1]) in server.check_runs
                ):
                    run = server._check_run(req.body or {}, server.check_runs[int(mt[1])])
                    return self._send(200, run, server._headers("get-check-run"))
                if m == "POST" and (mt := re.fullmatch(rf"{repo}/statuses/([0-9a-f]{{40}})", p)):
                    return self._create_status(mt[1], req.body or {})
                return self._error("error-404")

            def _list_comments(self, pr: int, req: Request) -> None:
                per_page = int(req.query.get("per_page", ["30"])[0])
                page = int(req.query.get("page", ["1"])[0])
                items = server.comments_on(pr)
                chunk = items[(page - 1) * per_page : page * per_page]
                last = max(1, -(-len(items) // per_page))
                base = f"{GITHUB_API}/repositories/{REPO_ID}/issues/{pr}/comments?per_page={per_page}&page="
                links = []
                if page > 1:
                    links.append(f'<{base}{page - 1}>; rel="prev"')
                if page < last:
                    links += [f'<{base}{page + 1}>; rel="next"', f'<{base}{last}>; rel="last"']
                if page > 1:
                    links.append(f'<{base}1>; rel="first"')
                headers = server._headers("list-issue-comments-paginated-page-2")
                if links:
                    headers["Link"] = ", ".join(links)
                self._send(200, chunk, headers)

            def _create_status(self, sha: str, data: dict[str, Any]) -> None:
                if data.get("state") not in ("error", "failure", "pending", "success"):
                    return self._validation("Status", "state", "state is not included in the list")
                if len(data.get("description") or "") > 140:
                    return self._validation(
                        "Status", "description", "description is too long (maximum is 140 characters)"
                    )
                st = copy.deepcopy(server.fixtures["create-commit-status"]["response"]["body"])
                st.update(
                    url=f"{server._repo_api()}/statuses/{sha}",
                    id=server._new_id(),
                    state=data["state"],
                    description=data.get("description"),
                    target_url=data.get("target_url"),
                    context=data.get("context", "default"),
                    created_at=_now(),
                    updated_at=_now(),
                )
                server.statuses.append({**st, "sha": sha})  # the sha is kept for tests only, not sent
                self._send(201, st, {**server._headers("create-commit-status"), "Location": st["url"]})

            do_GET = do_POST = do_PATCH = do_DELETE = _handle

        return Handler
