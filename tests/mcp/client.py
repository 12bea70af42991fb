#!/usr/bin/env python3
"""Drive Latchkey's OAuth 2.1 authorization server with the official Python MCP SDK's client.

    python client.py --server http://127.0.0.1:P/mcp --latchkey URL \
        --email E --password PW --host-pat HOST_PAT

The SDK's OAuthClientProvider does everything an MCP client does by itself: the 401 from the MCP
server, RFC 9728 protected resource metadata, RFC 8414 authorization server metadata (issuer
checked), dynamic client registration, PKCE (S256), the resource indicator, RFC 9207 `iss`, and
the token exchange. Only the person is simulated: the redirect handler logs into Latchkey with a
cookie jar, opens the authorization URL, reads the consent form and approves it, and takes code,
state and iss from the 303 Location (no callback listener is needed).

Phase "first": initialize, call echo("hello"), expect "hello"; then mark the access token expired
so the SDK refreshes it at Latchkey's token endpoint, and call echo again.
  stdout: {"phase":"first","ok":true}
Phase "after_revoke": revoke the grant with the host PAT, then present the same stored tokens
again (the still-open session, then a fresh session). The MCP server must answer 401 with
resource_metadata in WWW-Authenticate, the refresh token must be refused (400 invalid_grant), and
the SDK, on the 401, tries to re-authorize, which the simulated person refuses, so the failure
surfaces.
  stdout: {"phase":"after_revoke","refused":true}

Exit 0 only when both phases behaved; otherwise 1 with the reason on stderr. Every network wait
is bounded (per-request timeouts and an overall --timeout).
"""

from __future__ import annotations

import argparse
import base64
import json
import logging
import sys
import time
from collections.abc import Awaitable, Callable
from html.parser import HTMLParser
from typing import Any
from urllib.parse import parse_qs, urljoin, urlparse

import anyio
import httpx2
from mcp import Client
from mcp.client.auth import OAuthClientProvider, TokenStorage
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.auth import AuthorizationCodeResult, OAuthClientInformationFull, OAuthClientMetadata, OAuthToken

HTTP_TIMEOUT = httpx2.Timeout(10.0)
MCP_READ_TIMEOUT = 15.0
# Nothing listens here: the redirect is read from the Location header, never followed.
CALLBACK_URL = "http://127.0.0.1:1/callback"


def note(msg: str) -> None:
    print(f"client: {msg}", file=sys.stderr, flush=True)


class Failed(Exception):
    """A phase did not behave; the message says how."""


class ReauthorizationRefused(Exception):
    """Raised by the redirect handler when the SDK asks the person to authorize a second time."""


class InMemoryTokenStorage(TokenStorage):
    def __init__(self) -> None:
        self.tokens: OAuthToken | None = None
        self.client_info: OAuthClientInformationFull | None = None

    async def get_tokens(self) -> OAuthToken | None:
        return self.tokens

    async def set_tokens(self, tokens: OAuthToken) -> None:
        self.tokens = tokens

    async def get_client_info(self) -> OAuthClientInformationFull | None:
        return self.client_info

    async def set_client_info(self, client_info: OAuthClientInformationFull) -> None:
        self.client_info = client_info


class Forms(HTMLParser):
    """Collects every <form> with its inputs, selects and named submit buttons."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.forms: list[dict[str, Any]] = []
        self._form: dict[str, Any] | None = None
        self._select: dict[str, Any] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: (v or "") for k, v in attrs}
        if tag == "form":
            self._form = {"attrs": a, "inputs": [], "selects": [], "buttons": []}
            self.forms.append(self._form)
        elif self._form is None:
            return
        elif tag == "input":
            self._form["inputs"].append(a)
        elif tag == "select":
            self._select = {"name": a.get("name", ""), "options": []}
            self._form["selects"].append(self._select)
        elif tag == "option" and self._select is not None:
            self._select["options"].append(a)
        elif tag == "button":
            self._form["buttons"].append(a)

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self._form = None
        elif tag == "select":
            self._select = None


def parse_forms(html: str) -> list[dict[str, Any]]:
    parser = Forms()
    parser.feed(html)
    return parser.forms


class Person:
    """The human at the browser: logs into Latchkey and approves (once) on the consent page."""

    def __init__(self, latchkey: str, email: str, password: str):
        self.latchkey = latchkey.rstrip("/")
        self.email = email
        self.password = password
        self.browser = httpx2.AsyncClient(timeout=HTTP_TIMEOUT, follow_redirects=False)
        self.authorizations = 0
        self.refused = False
        self.result: AuthorizationCodeResult | None = None
        self.last_authorization_url: str | None = None

    def _url(self, location: str) -> str:
        return urljoin(self.latchkey + "/", location)

    async def _login(self, login_url: str) -> str:
        """Fill in the login form at login_url; returns where Latchkey sends the person next."""
        page = await self.browser.get(login_url)
        if page.status_code != 200:
            raise Failed(f"GET {login_url} answered {page.status_code}, expected the login form")
        forms = [f for f in parse_forms(page.text) if f["attrs"].get("action", "").endswith("/login")]
        if not forms:
            raise Failed(f"no login form at {login_url}")
        fields = {i["name"]: i.get("value", "") for i in forms[0]["inputs"] if i.get("type") == "hidden" and i.get("name")}
        for needed in ("csrf", "next"):
            if needed not in fields:
                raise Failed(f"the login form has no hidden {needed!r} input")
        fields.update(email=self.email, password=self.password)
        answer = await self.browser.post(self._url("/login"), data=fields)
        if answer.status_code != 303 or "location" not in answer.headers:
            raise Failed(f"POST /login answered {answer.status_code} (expected 303): {answer.text[:300]}")
        return self._url(answer.headers["location"])

    async def authorize(self, authorization_url: str) -> None:
        self.authorizations += 1
        self.last_authorization_url = authorization_url
        if self.authorizations > 1:
            # The grant was revoked; the SDK got a 401 and now wants the person again. Refuse, so
            # the refusal surfaces instead of being papered over by a fresh consent.
            self.refused = True
            note("redirect_handler: re-authorization requested by the SDK; the person refuses")
            raise ReauthorizationRefused("the person declines to authorize again")

        requested = parse_qs(urlparse(authorization_url).query)
        note(f"redirect_handler: authorization URL parameters: {sorted(requested)}")
        if not authorization_url.startswith(self.latchkey + "/oauth/authorize?"):
            raise Failed(f"the SDK sent the person to {authorization_url}, not Latchkey's authorization endpoint")

        # A person without a session is sent to the login page first.
        first = await self.browser.get(authorization_url)
        if first.status_code == 303:
            location = self._url(first.headers.get("location", ""))
            if urlparse(location).path != "/login":
                raise Failed(f"anonymous GET /oauth/authorize redirected to {location}, expected /login?next=...")
            after_login = await self._login(location)
            consent = await self.browser.get(after_login)
        else:
            consent = first
        if consent.status_code != 200:
            raise Failed(f"consent page answered {consent.status_code}: {consent.text[:300]}")

        forms = [
            f
            for f in parse_forms(consent.text)
            if f["attrs"].get("method", "").lower() == "post" and f["attrs"].get("action", "").split("?")[0].endswith("/oauth/authorize")
        ]
        if not forms:
            raise Failed(f"no consent form on the page: {consent.text[:500]}")
        form = forms[0]
        fields = {i["name"]: i.get("value", "") for i in form["inputs"] if i.get("type") == "hidden" and i.get("name")}
        for needed in ("csrf", "client_id", "redirect_uri", "code_challenge", "state"):
            if needed not in fields:
                raise Failed(f"the consent form has no hidden {needed!r} input (has {sorted(fields)})")
        for name in ("client_id", "redirect_uri", "code_challenge", "state", "scope", "resource"):
            if name in requested and name in fields and fields[name] != requested[name][0]:
                raise Failed(f"consent form {name}={fields[name]!r} but the SDK requested {requested[name][0]!r}")
        for select in form["selects"]:
            values = [o.get("value", "") for o in select["options"]]
            chosen = "new" if "new" in values else next((o.get("value", "") for o in select["options"] if "selected" in o), values[0] if values else "")
            fields[select["name"]] = chosen
        if not any(b.get("name") == "decision" and b.get("value") == "approve" for b in form["buttons"] + form["inputs"]):
            raise Failed("the consent form has no decision=approve button")
        fields["decision"] = "approve"
        note(f"consent form fields: {sorted(fields)}")
        action = self._url(form["attrs"]["action"])
        approved = await self.browser.post(action, data=fields)
        if approved.status_code != 303 or "location" not in approved.headers:
            raise Failed(f"POST {action} (approve) answered {approved.status_code}: {approved.text[:300]}")
        location = approved.headers["location"]
        if not location.startswith(CALLBACK_URL + "?"):
            raise Failed(f"approval redirected to {location}, not to the registered redirect_uri {CALLBACK_URL}")
        query = parse_qs(urlparse(location).query)
        if "error" in query:
            raise Failed(f"approval redirected with an error: {location}")
        if "code" not in query:
            raise Failed(f"approval redirect has no code: {location}")
        self.result = AuthorizationCodeResult(
            code=query["code"][0],
            state=query.get("state", [None])[0],
            iss=query.get("iss", [None])[0],
        )
        note(f"redirect_handler: approved; redirect carries {sorted(query)}")

    async def callback(self) -> AuthorizationCodeResult:
        if self.result is None:
            raise Failed("callback_handler called with no authorization result")
        result, self.result = self.result, None
        return result


def jwt_parts(token: str) -> tuple[dict[str, Any], dict[str, Any]]:
    def part(s: str) -> dict[str, Any]:
        return json.loads(base64.urlsafe_b64decode(s + "=" * (-len(s) % 4)))

    header, payload, _ = token.split(".")
    return part(header), part(payload)


def flatten(exc: BaseException) -> list[BaseException]:
    """Every exception in exc, its groups and its cause/context chain."""
    out: list[BaseException] = []
    todo = [exc]
    while todo:
        e = todo.pop()
        if e in out:
            continue
        out.append(e)
        if isinstance(e, BaseExceptionGroup):
            todo.extend(e.exceptions)
        for linked in (e.__cause__, e.__context__):
            if linked is not None:
                todo.append(linked)
    return out


def connect(server: str, http: httpx2.AsyncClient) -> Client:
    return Client(
        streamable_http_client(server, http_client=http),
        mode="legacy",  # the initialize handshake
        read_timeout_seconds=MCP_READ_TIMEOUT,
    )


async def call_echo(client: Client, text: str) -> str:
    result = await client.call_tool("echo", {"text": text})
    if result.is_error:
        raise Failed(f"echo returned an error result: {result.content}")
    texts = [c.text for c in result.content if getattr(c, "type", None) == "text"]
    if texts != [text]:
        raise Failed(f"echo({text!r}) returned {result.content!r}")
    return texts[0]


async def revoke_grant(latchkey: str, host_pat: str, client_id: str) -> None:
    headers = {"Authorization": f"Bearer {host_pat}", "Accept": "application/json"}
    async with httpx2.AsyncClient(timeout=HTTP_TIMEOUT, headers=headers) as api:
        listing = await api.get(f"{latchkey}/v1/oauth/grants")
        if listing.status_code == 200:
            items = listing.json().get("items", [])
            ours = [g for g in items if g.get("client_id") == client_id and not g.get("revoked_at")]
            if len(ours) != 1:
                raise Failed(f"expected one live grant for client {client_id}, GET /v1/oauth/grants gave {items}")
            grant = ours[0]
            answer = await api.post(f"{latchkey}/v1/oauth/grants/{grant['id']}/revoke")
            if answer.status_code not in (200, 204):
                raise Failed(f"POST /v1/oauth/grants/{grant['id']}/revoke answered {answer.status_code}: {answer.text[:300]}")
            note(f"revoked grant {grant['id']} via /v1/oauth/grants")
            return
        if listing.status_code != 404:
            raise Failed(f"GET /v1/oauth/grants answered {listing.status_code}: {listing.text[:300]}")
        # Fallback while /v1/oauth/grants does not exist yet: disable the OAuth client's agent.
        note("GET /v1/oauth/grants answered 404; falling back to disabling the oauth_client agent")
        agents = await api.get(f"{latchkey}/v1/agents")
        if agents.status_code != 200:
            raise Failed(f"GET /v1/agents answered {agents.status_code}: {agents.text[:300]}")
        oauth_agents = [a for a in agents.json().get("items", []) if a.get("kind") == "oauth_client"]
        ours = [a for a in oauth_agents if client_id in json.dumps(a)] or oauth_agents
        if len(ours) != 1:
            raise Failed(f"expected one oauth_client agent for {client_id}, GET /v1/agents gave {oauth_agents}")
        agent = ours[0]
        answer = await api.post(f"{latchkey}/v1/agents/{agent['id']}/disable")
        if answer.status_code not in (200, 204):
            raise Failed(f"POST /v1/agents/{agent['id']}/disable answered {answer.status_code}: {answer.text[:300]}")
        note(f"disabled agent {agent['id']} via /v1/agents (fallback)")


async def raw_post(server: str, token: str) -> httpx2.Response:
    """One initialize POST with the stored token and no SDK in between: what does the server say?"""
    body = {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "initialize",
        "params": {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "raw", "version": "0"}},
    }
    async with httpx2.AsyncClient(timeout=HTTP_TIMEOUT) as raw:
        return await raw.post(
            server,
            json=body,
            headers={"Authorization": f"Bearer {token}", "Accept": "application/json, text/event-stream"},
        )


async def expect_refresh_refused(auth: OAuthClientProvider, storage: InMemoryTokenStorage) -> None:
    """After revocation the grant's refresh token must not mint new tokens either (RFC 6749 5.2)."""
    meta = auth.context.oauth_metadata
    if meta is None or storage.tokens is None or storage.tokens.refresh_token is None or storage.client_info is None:
        note("no refresh token to check after revocation")
        return
    form = {
        "grant_type": "refresh_token",
        "refresh_token": storage.tokens.refresh_token,
        "client_id": storage.client_info.client_id,
        "resource": auth.context.get_resource_url(),
    }
    async with httpx2.AsyncClient(timeout=HTTP_TIMEOUT) as raw:
        answer = await raw.post(str(meta.token_endpoint), data=form)
    note(f"refresh after revocation: {answer.status_code} {answer.text[:200]}")
    if answer.status_code == 200:
        raise Failed("the token endpoint refreshed tokens for a revoked grant")
    if answer.status_code != 400 or answer.json().get("error") != "invalid_grant":
        raise Failed(f"refresh after revocation answered {answer.status_code} {answer.text[:300]}, expected 400 invalid_grant")


async def expect_refused(
    what: str, person: Person, before: int, attempt: Callable[[], Awaitable[None]], done: dict[str, bool]
) -> None:
    """Run attempt(); it must fail because the SDK met a 401, tried to re-authorize and the person
    refused (`before` is how many authorizations the person had seen before the revocation).
    `done["call"]` is set by attempt() if the refused call returned after all.

    A failure inside a Streamable HTTP session (the POST's auth flow raising) cancels the
    transport's task group, so it surfaces at the session's exit as an ExceptionGroup rather than
    from call_tool itself; `flatten` digs the cause out of the group and exception chain.
    """
    try:
        with anyio.fail_after(MCP_READ_TIMEOUT + 10):
            await attempt()
    except Exception as e:
        chain = flatten(e)
        failed = [x for x in chain if isinstance(x, Failed)]
        if failed:
            raise failed[0]
        if done.get("call"):
            raise Failed(f"{what}: the tool call succeeded after the grant was revoked") from e
        if any(isinstance(x, ReauthorizationRefused) for x in chain) and person.authorizations > before:
            note(f"{what}: refused as expected (401, the SDK asked to re-authorize, the person declined)")
            return
        if any(isinstance(x, TimeoutError) for x in chain):
            raise Failed(f"{what}: timed out instead of being refused") from e
        descr = "; ".join(f"{type(x).__name__}: {x}" for x in chain)[:800]
        raise Failed(f"{what}: failed, but not through the SDK's 401 -> re-authorization path: {descr}") from e
    raise Failed(f"{what}: the tool call succeeded after the grant was revoked")


async def run(args: argparse.Namespace) -> None:
    latchkey = args.latchkey.rstrip("/")
    storage = InMemoryTokenStorage()
    person = Person(latchkey, args.email, args.password)
    metadata = OAuthClientMetadata(
        redirect_uris=[CALLBACK_URL],
        client_name="Test MCP Client",
    )

    def provider() -> OAuthClientProvider:
        return OAuthClientProvider(
            server_url=args.server,
            client_metadata=metadata.model_copy(deep=True),
            storage=storage,
            redirect_handler=person.authorize,
            callback_handler=person.callback,
        )

    async with person.browser:
        # Phase "first": the whole OAuth dance, done by the SDK, then a tool call. The session stays
        # open across the revocation (phase "after_revoke", first half).
        first_ok = False
        same_session: dict[str, bool] = {}

        async def first_session() -> None:
            nonlocal first_ok
            auth = provider()
            async with httpx2.AsyncClient(auth=auth, timeout=HTTP_TIMEOUT) as http:
                async with connect(args.server, http) as client:
                    await call_echo(client, "hello")
                    if storage.tokens is None or storage.client_info is None:
                        raise Failed("the SDK stored no tokens or no client information")
                    if person.authorizations != 1:
                        raise Failed(f"expected one authorization, the person was asked {person.authorizations} times")
                    header, claims = jwt_parts(storage.tokens.access_token)
                    note(f"access token header {header}; claims {sorted(claims)}; aud {claims.get('aud')!r}")
                    note(
                        f"token response: type {storage.tokens.token_type}, expires_in {storage.tokens.expires_in}, "
                        f"scope {storage.tokens.scope!r}, refresh_token {'yes' if storage.tokens.refresh_token else 'no'}"
                    )
                    note(
                        f"registered client {storage.client_info.client_id} "
                        f"(token_endpoint_auth_method {storage.client_info.token_endpoint_auth_method!r}, "
                        f"issuer binding {storage.client_info.issuer!r})"
                    )

                    # Let the SDK's refresh path run too: pretend the access token expired.
                    before_refresh = storage.tokens
                    auth.context.token_expiry_time = time.time() - 1
                    await call_echo(client, "hello again")
                    if storage.tokens is None or storage.tokens.access_token == before_refresh.access_token:
                        raise Failed("the SDK did not refresh the expired access token")
                    if person.authorizations != 1:
                        raise Failed("the refresh failed and the SDK fell back to a new authorization")
                    rotated = storage.tokens.refresh_token != before_refresh.refresh_token
                    note(f"refresh by the SDK worked; refresh token rotated: {'yes' if rotated else 'no'}")
                    first_ok = True
                    print(json.dumps({"phase": "first", "ok": True}, separators=(",", ":")), flush=True)

                    # Revoke while this session is open; the next call on it must be refused.
                    await revoke_grant(latchkey, args.host_pat, storage.client_info.client_id)
                    raw = await raw_post(args.server, storage.tokens.access_token)
                    www = raw.headers.get("www-authenticate", "")
                    note(f"stored token after revocation, no SDK: {raw.status_code}, WWW-Authenticate: {www}")
                    if raw.status_code != 401:
                        raise Failed(f"the MCP server answered {raw.status_code} to the revoked token, expected 401")
                    if "resource_metadata=" not in www:
                        raise Failed(f"401 without resource_metadata in WWW-Authenticate: {www!r}")
                    await expect_refresh_refused(auth, storage)
                    await call_echo(client, "again")
                    same_session["call"] = True

        try:
            with anyio.fail_after(3 * MCP_READ_TIMEOUT):
                await first_session()
        except Exception as e:
            if not first_ok:
                failed = [x for x in flatten(e) if isinstance(x, Failed)]
                if failed:
                    raise failed[0]
                descr = "; ".join(f"{type(x).__name__}: {x}" for x in flatten(e))[:2000]
                raise Failed(f"phase first: {descr}") from e

            async def reraise() -> None:
                raise e

            await expect_refused("same session", person, 1, reraise, same_session)
        else:
            raise Failed("same session: the tool call succeeded after the grant was revoked")

        # Phase "after_revoke", second half: a fresh provider and session, the same stored tokens
        # and client registration.
        fresh: dict[str, bool] = {}

        async def fresh_session() -> None:
            auth = provider()
            async with httpx2.AsyncClient(auth=auth, timeout=HTTP_TIMEOUT) as http:
                async with connect(args.server, http) as client:
                    await call_echo(client, "after revoke")
                    fresh["call"] = True

        await expect_refused("fresh session", person, person.authorizations, fresh_session, fresh)
        print(json.dumps({"phase": "after_revoke", "refused": True}, separators=(",", ":")), flush=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--server", required=True, help="the MCP endpoint, http://127.0.0.1:P/mcp")
    parser.add_argument("--latchkey", required=True, help="Latchkey's base URL (its issuer)")
    parser.add_argument("--email", required=True)
    parser.add_argument("--password", required=True)
    parser.add_argument("--host-pat", required=True)
    parser.add_argument("--timeout", type=float, default=120.0, help="overall bound, in seconds")
    parser.add_argument("--verbose", action="store_true", help="SDK debug logging on stderr")
    args = parser.parse_args()
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.WARNING,
        stream=sys.stderr,
        format="client: %(levelname)s %(name)s: %(message)s",
    )
    if not args.verbose:
        # The SDK logs every failed OAuth flow with a traceback, including the refusals this
        # script provokes on purpose; the outcome is reported here instead.
        logging.getLogger("mcp.client.auth.oauth2").setLevel(logging.CRITICAL)

    async def bounded() -> None:
        with anyio.fail_after(args.timeout):
            await run(args)

    try:
        anyio.run(bounded)
    except Failed as e:
        note(f"FAILED: {e}")
        return 1
    except TimeoutError:
        note(f"FAILED: did not finish within {args.timeout}s")
        return 1
    except BaseException as e:  # noqa: BLE001 - report anything else plainly
        descr = "; ".join(f"{type(x).__name__}: {x}" for x in flatten(e))[:2000]
        note(f"FAILED with an unexpected error: {descr}")
        return 1
    note("PASSED: both phases behaved")
    return 0


if __name__ == "__main__":
    sys.exit(main())
