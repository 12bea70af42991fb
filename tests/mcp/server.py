#!/usr/bin/env python3
"""An MCP server (the official Python SDK, Streamable HTTP at /mcp) protected by Latchkey.

    python server.py --port P --latchkey URL --resource http://127.0.0.1:P/mcp \
        --introspect-with SERVICE_PAT

One tool, `echo(text) -> text`. Every request needs a bearer access token that Latchkey issued
for this resource:

* offline: an EdDSA JWT with header typ "at+jwt", signed by a key from URL/.well-known/jwks.json,
  with iss == URL (exact string), aud == the resource identifier, and exp in the future;
* online: URL/v1/introspect (authenticated with the service PAT) must answer "active": true,
  so a grant revoked in Latchkey is refused on the very next request (nothing is cached).

The SDK's own auth plumbing does the rest: AuthSettings makes it serve RFC 9728 metadata at
/.well-known/oauth-protected-resource/mcp naming Latchkey as the authorization server, and answer
an unauthenticated request with 401 and `WWW-Authenticate: Bearer ... resource_metadata="..."`.

Binds 127.0.0.1 only; prints `ready` (flushed) on stdout once it is listening. Diagnostics go to
stderr.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
import time
from typing import Any

import httpx2
import jwt
import uvicorn
from mcp.server.auth.provider import AccessToken
from mcp.server.auth.settings import AuthSettings
from mcp.server.mcpserver import MCPServer

log = logging.getLogger("latchkey-mcp-server")

HTTP_TIMEOUT = httpx2.Timeout(5.0)
# A kid we do not know triggers a JWKS refetch (key rotation), but not more often than this.
JWKS_REFETCH_INTERVAL = 5.0
ACCEPTED_TYP = ("at+jwt", "application/at+jwt")  # RFC 9068 section 4; media types are case-insensitive


class LatchkeyTokenVerifier:
    """mcp.server.auth.provider.TokenVerifier for Latchkey access tokens: JWT first, then introspection."""

    def __init__(self, issuer: str, resource: str, service_pat: str, http: httpx2.AsyncClient):
        self.issuer = issuer
        self.resource = resource
        self.service_pat = service_pat
        self.http = http
        self.jwks_url = issuer.rstrip("/") + "/.well-known/jwks.json"
        self.introspect_url = issuer.rstrip("/") + "/v1/introspect"
        self._keys: dict[str, jwt.PyJWK] = {}
        self._fetched_at = 0.0
        self._lock = asyncio.Lock()

    async def _refresh_keys(self) -> None:
        response = await self.http.get(self.jwks_url)
        response.raise_for_status()
        keys: dict[str, jwt.PyJWK] = {}
        for entry in response.json().get("keys", []):
            # Only Ed25519 signing keys are acceptable; anything else in the set is ignored.
            if entry.get("kty") != "OKP" or entry.get("crv") != "Ed25519" or not entry.get("kid"):
                continue
            if entry.get("use", "sig") != "sig" or entry.get("alg", "EdDSA") != "EdDSA":
                continue
            keys[entry["kid"]] = jwt.PyJWK(entry, algorithm="EdDSA")
        self._keys = keys
        self._fetched_at = time.monotonic()

    async def _key_for(self, kid: str) -> jwt.PyJWK | None:
        async with self._lock:
            if kid not in self._keys and time.monotonic() - self._fetched_at >= JWKS_REFETCH_INTERVAL:
                await self._refresh_keys()
            return self._keys.get(kid)

    def _check_jwt(self, token: str, key: jwt.PyJWK) -> dict[str, Any]:
        return jwt.decode(
            token,
            key=key,
            algorithms=["EdDSA"],
            audience=self.resource,  # aud may be a string or a list containing the resource
            issuer=self.issuer,  # PyJWT compares iss as an exact string
            leeway=5,
            options={
                "require": ["iss", "sub", "aud", "exp", "iat", "jti", "client_id"],
                "verify_signature": True,
                "verify_exp": True,
                "verify_iat": True,
                "verify_aud": True,
                "verify_iss": True,
            },
        )

    async def _introspect(self, token: str) -> dict[str, Any]:
        response = await self.http.post(
            self.introspect_url,
            data={"token": token},
            headers={"Authorization": f"Bearer {self.service_pat}", "Accept": "application/json"},
        )
        if response.status_code != 200:
            raise RuntimeError(f"introspection answered {response.status_code}: {response.text[:300]}")
        return response.json()

    async def verify_token(self, token: str) -> AccessToken | None:
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError as e:
            log.warning("refused: not a JWT (%s)", e)
            return None
        if header.get("alg") != "EdDSA":
            log.warning("refused: alg %r is not EdDSA", header.get("alg"))
            return None
        if str(header.get("typ", "")).lower() not in ACCEPTED_TYP:
            log.warning("refused: typ %r is not at+jwt", header.get("typ"))
            return None
        kid = header.get("kid")
        if not isinstance(kid, str) or not kid:
            log.warning("refused: no kid in the JWT header")
            return None
        try:
            key = await self._key_for(kid)
        except Exception as e:  # the JWKS could not be fetched: fail closed
            log.warning("refused: JWKS fetch failed (%s)", e)
            return None
        if key is None:
            log.warning("refused: kid %r is not in Latchkey's JWKS", kid)
            return None
        try:
            claims = self._check_jwt(token, key)
        except jwt.PyJWTError as e:
            log.warning("refused: JWT check failed: %s", e)
            return None

        # Online check: a revoked grant (or disabled agent) must stop working at once.
        try:
            info = await self._introspect(token)
        except Exception as e:  # fail closed
            log.warning("refused: introspection failed (%s)", e)
            return None
        if info.get("active") is not True:
            log.info("refused: introspection says the token is not active: %s", info)
            return None
        for claim in ("sub", "client_id", "jti"):
            if claim in info and info[claim] != claims.get(claim):
                log.warning("refused: introspection %s %r != JWT %r", claim, info[claim], claims.get(claim))
                return None
        aud = info.get("aud", self.resource)
        if aud != self.resource and not (isinstance(aud, list) and self.resource in aud):
            log.warning("refused: introspection aud %r is not %s", aud, self.resource)
            return None

        log.info(
            "accepted: sub %s, client_id %s, jti %s, scope %r, iat %s, exp %s; introspection %s",
            claims["sub"], claims["client_id"], claims["jti"], claims.get("scope"), claims["iat"], claims["exp"], info,
        )
        scope = claims.get("scope") or ""
        return AccessToken(
            token=token,
            client_id=str(claims["client_id"]),
            scopes=scope.split() if isinstance(scope, str) else list(scope),
            expires_at=int(claims["exp"]),
            resource=self.resource,  # verified equal to (or contained in) aud above
            subject=str(claims["sub"]),
            claims={k: v for k, v in claims.items() if k in ("iss", "sub", "aud", "client_id", "jti", "act")},
        )


def build_server(args: argparse.Namespace, http: httpx2.AsyncClient) -> MCPServer:
    verifier = LatchkeyTokenVerifier(args.latchkey, args.resource, args.introspect_with, http)
    auth = AuthSettings(
        issuer_url=args.latchkey,
        resource_server_url=args.resource,
        required_scopes=[args.scope] if args.scope else None,
        # The verifier reports the resource it checked aud against; let the SDK check it too.
        validate_token_resource=True,
    )
    mcp = MCPServer(name="latchkey-echo", token_verifier=verifier, auth=auth, log_level="WARNING")

    @mcp.tool()
    def echo(text: str) -> str:
        """Echo the text back."""
        return text

    return mcp


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--latchkey", required=True, help="Latchkey's issuer URL, exactly")
    parser.add_argument("--resource", required=True, help="this server's resource identifier (.../mcp)")
    parser.add_argument("--introspect-with", required=True, metavar="SERVICE_PAT")
    parser.add_argument("--scope", default="tools:call", help="scope every request needs ('' for none)")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="server: %(levelname)s %(name)s: %(message)s")

    async with httpx2.AsyncClient(timeout=HTTP_TIMEOUT) as http:
        mcp = build_server(args, http)
        app = mcp.streamable_http_app(host="127.0.0.1")
        config = uvicorn.Config(app, host="127.0.0.1", port=args.port, log_level="warning", lifespan="on")
        server = uvicorn.Server(config)
        task = asyncio.create_task(server.serve())
        loop = asyncio.get_running_loop()  # uvicorn handles SIGTERM/SIGINT itself
        deadline = loop.time() + 15
        while not server.started:
            if task.done() or loop.time() > deadline:
                print("server: failed to start listening", file=sys.stderr, flush=True)
                server.should_exit = True
                await asyncio.wait([task], timeout=5)
                return 1
            await asyncio.sleep(0.05)
        print("ready", flush=True)
        await task
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
