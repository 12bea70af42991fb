#!/usr/bin/env node
// Drive Latchkey's OAuth 2.1 authorization server with the official TypeScript MCP SDK's client.
//
//     node client.mjs --server http://127.0.0.1:P/mcp --latchkey URL \
//         --email E --password PW --host-pat HOST_PAT [--timeout 120] [--verbose]
//
// The SDK (@modelcontextprotocol/sdk, StreamableHTTPClientTransport + auth()) does what an MCP client
// does by itself: the 401 from the MCP server, RFC 9728 protected resource metadata, RFC 8414
// authorization server metadata, dynamic client registration, PKCE (S256), the resource indicator,
// the token exchange and the refresh. Only the person is simulated: redirectToAuthorization() logs
// into Latchkey with a cookie jar, opens the authorization URL, approves the consent form and reads
// code, state and iss off the 303 Location (no callback listener: the redirect URI is never contacted).
// This SDK version hands finishAuth() the code only, so state and iss (RFC 9207) are checked here.
//
// Phase "first": connect (401 -> authorization -> UnauthorizedError), finishAuth(code), reconnect with
// a fresh transport as the SDK's examples do, call echo("hello"); then let the SDK's auth() refresh the
// tokens at Latchkey's token endpoint and call echo again on the same session.
//   stdout: {"phase":"first","ok":true}
// Phase "after_revoke": revoke the grant with the host PAT (GET /v1/oauth/grants, POST
// /v1/oauth/grants/{id}/revoke). The MCP server must answer 401 (with resource_metadata) to the stored
// access token, Latchkey must refuse the refresh token (400 invalid_grant), and a tool call on the
// open session and on a fresh session (same stored tokens) must fail through the SDK's
// 401 -> refresh (refused) -> re-authorize path, which the simulated person declines.
//   stdout: {"phase":"after_revoke","refused":true}
//
// Exit 0 only when both phases behaved; otherwise 1 with the reason on stderr. Every wait is bounded:
// per-HTTP-request timeouts, per-MCP-request timeouts and an overall --timeout.

import { randomBytes } from 'node:crypto';
import { parseArgs } from 'node:util';

import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { auth, UnauthorizedError } from '@modelcontextprotocol/sdk/client/auth.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';

const HTTP_TIMEOUT_MS = 10_000;
const MCP_TIMEOUT_MS = 15_000;
// Nothing listens here: the redirect is read from the Location header, never followed.
const CALLBACK_URL = 'http://127.0.0.1:1/callback';

let verbose = false;
const note = msg => process.stderr.write(`client: ${msg}\n`);
const debug = msg => verbose && note(msg);

class Failed extends Error {}
class ReauthorizationRefused extends Error {}

// ---------------------------------------------------------------------------------------------
// Small helpers: bounded fetch, HTML forms, cookie jar, JWT parts.

function boundedSignal(signal, ms = HTTP_TIMEOUT_MS) {
  const timeout = AbortSignal.timeout(ms);
  return signal ? AbortSignal.any([signal, timeout]) : timeout;
}

function decodeEntities(s) {
  const named = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'", nbsp: '\u00a0' };
  return s.replace(/&(#x[0-9a-f]+|#[0-9]+|[a-z]+);/gi, (m, e) => {
    if (e[0] === '#') {
      const code = e[1] === 'x' || e[1] === 'X' ? parseInt(e.slice(2), 16) : parseInt(e.slice(1), 10);
      return Number.isFinite(code) ? String.fromCodePoint(code) : m;
    }
    return named[e.toLowerCase()] ?? m;
  });
}

function attrs(tag) {
  const out = {};
  const body = tag.replace(/^<\s*[a-z0-9]+/i, '').replace(/\/?>$/, '');
  const re = /([^\s=/>]+)(?:\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s>]+)))?/g;
  for (const m of body.matchAll(re)) {
    out[m[1].toLowerCase()] = decodeEntities(m[2] ?? m[3] ?? m[4] ?? '');
  }
  return out;
}

/** Every <form> with its inputs, selects (with options) and buttons. Enough for Latchkey's pages. */
function parseForms(html) {
  const forms = [];
  for (const m of html.matchAll(/<form\b[^>]*>([\s\S]*?)<\/form\s*>/gi)) {
    const form = { attrs: attrs(m[0].match(/^<form\b[^>]*>/i)[0]), inputs: [], selects: [], buttons: [] };
    const inner = m[1];
    for (const t of inner.matchAll(/<input\b[^>]*>/gi)) form.inputs.push(attrs(t[0]));
    for (const t of inner.matchAll(/<button\b[^>]*>/gi)) form.buttons.push(attrs(t[0]));
    for (const s of inner.matchAll(/(<select\b[^>]*>)([\s\S]*?)<\/select\s*>/gi)) {
      const options = [...s[2].matchAll(/<option\b[^>]*>/gi)].map(o => attrs(o[0]));
      form.selects.push({ name: attrs(s[1]).name ?? '', options });
    }
    forms.push(form);
  }
  return forms;
}

function hiddenFields(form) {
  const fields = {};
  for (const i of form.inputs) {
    if ((i.type ?? '').toLowerCase() === 'hidden' && i.name) fields[i.name] = i.value ?? '';
  }
  return fields;
}

/** A cookie jar for one loopback origin: name -> value, honouring Max-Age=0 / past Expires. */
class CookieJar {
  constructor() {
    this.cookies = new Map();
  }
  store(response) {
    for (const line of response.headers.getSetCookie()) {
      const [pair, ...params] = line.split(';');
      const eq = pair.indexOf('=');
      if (eq < 1) continue;
      const name = pair.slice(0, eq).trim();
      const value = pair.slice(eq + 1).trim();
      const gone = params.some(p => {
        const [k, v = ''] = p.split('=').map(x => x.trim());
        return (k.toLowerCase() === 'max-age' && Number(v) <= 0) || (k.toLowerCase() === 'expires' && Date.parse(v) < Date.now());
      });
      if (gone) this.cookies.delete(name);
      else this.cookies.set(name, value);
    }
  }
  header() {
    return [...this.cookies].map(([k, v]) => `${k}=${v}`).join('; ');
  }
}

function jwtParts(token) {
  const part = s => JSON.parse(Buffer.from(s, 'base64url').toString('utf8'));
  const [h, p] = token.split('.');
  return [part(h), part(p)];
}

function chain(e) {
  const out = [];
  const todo = [e];
  while (todo.length) {
    const x = todo.pop();
    if (x == null || out.includes(x)) continue;
    out.push(x);
    if (x instanceof AggregateError) todo.push(...x.errors);
    if (x.cause) todo.push(x.cause);
  }
  return out;
}

const describe = e =>
  chain(e)
    .map(x => `${x?.constructor?.name ?? typeof x}: ${x?.message ?? x}`)
    .join(' <- ')
    .slice(0, 2000);

// ---------------------------------------------------------------------------------------------
// What the SDK sends: a fetch that bounds each request and keeps a trace of the OAuth traffic.

class Trace {
  constructor() {
    this.events = []; // {method, url, status, body?}
    this.asMetadata = undefined; // the RFC 8414 document the SDK fetched
    this.prm = undefined; // the RFC 9728 document the SDK fetched
  }

  fetch = async (input, init = {}) => {
    const url = new URL(typeof input === 'string' || input instanceof URL ? input : input.url);
    const method = (init.method ?? 'GET').toUpperCase();
    const accept = new Headers(init.headers ?? {}).get('accept') ?? '';
    // The standalone GET SSE stream is long-lived: bound only by the transport's own abort signal.
    const sse = method === 'GET' && accept.includes('text/event-stream') && !url.pathname.includes('/.well-known/');
    const response = await fetch(input, { ...init, signal: sse ? init.signal : boundedSignal(init.signal) });
    const event = { method, url: url.href, status: response.status };
    const oauth = url.pathname.startsWith('/.well-known/') || url.pathname.startsWith('/oauth/');
    let text = '';
    if (oauth) {
      text = await response.clone().text();
      event.body = text.slice(0, 600);
      if (response.ok && url.pathname.startsWith('/.well-known/oauth-authorization-server')) this.asMetadata = JSON.parse(text);
      if (response.ok && url.pathname.startsWith('/.well-known/oauth-protected-resource')) this.prm = JSON.parse(text);
    }
    if (response.status === 401) event.wwwAuthenticate = response.headers.get('www-authenticate');
    this.events.push(event);
    let detail = '';
    if (url.pathname.startsWith('/oauth/token')) {
      // Error bodies in full; a token response by its member names only (no secrets on stderr).
      let members = '?';
      try {
        members = Object.keys(JSON.parse(text)).sort().join(',');
      } catch {
        // not JSON: the SDK will say so
      }
      detail = response.ok ? ` members ${members}` : ` ${event.body}`;
    }
    debug(`sdk http: ${method} ${url.href} -> ${response.status}${detail}`);
    return response;
  };

  since(n) {
    return this.events.slice(n);
  }
}

// ---------------------------------------------------------------------------------------------
// The person at the browser.

class Person {
  constructor(latchkey, email, password) {
    this.latchkey = latchkey;
    this.email = email;
    this.password = password;
    this.jar = new CookieJar();
    this.authorizations = 0; // how many times the SDK sent the person to Latchkey
    this.refusals = 0;
  }

  url(location) {
    return new URL(location, this.latchkey + '/').href;
  }

  async browse(url, { method = 'GET', form } = {}) {
    const headers = { Accept: 'text/html' };
    const cookie = this.jar.header();
    if (cookie) headers.Cookie = cookie;
    let body;
    if (form) {
      body = new URLSearchParams(form);
      headers['Content-Type'] = 'application/x-www-form-urlencoded';
    }
    const response = await fetch(url, { method, headers, body, redirect: 'manual', signal: boundedSignal() });
    this.jar.store(response);
    return { status: response.status, location: response.headers.get('location'), text: await response.text() };
  }

  /** Fill in the login form at loginUrl; returns where Latchkey sends the person next. */
  async login(loginUrl) {
    const page = await this.browse(loginUrl);
    if (page.status !== 200) throw new Failed(`GET ${loginUrl} answered ${page.status}, expected the login form`);
    const form = parseForms(page.text).find(f => (f.attrs.action ?? '').split('?')[0].endsWith('/login'));
    if (!form) throw new Failed(`no login form at ${loginUrl}`);
    const fields = hiddenFields(form);
    for (const needed of ['csrf', 'next']) {
      if (!(needed in fields)) throw new Failed(`the login form has no hidden ${needed} input`);
    }
    const answer = await this.browse(this.url('/login'), {
      method: 'POST',
      form: { ...fields, email: this.email, password: this.password },
    });
    if (answer.status !== 303 || !answer.location) {
      throw new Failed(`POST /login answered ${answer.status} (expected 303): ${answer.text.slice(0, 300)}`);
    }
    if (!this.jar.cookies.size) throw new Failed('POST /login set no session cookie');
    return this.url(answer.location);
  }

  /**
   * Approve the authorization request at authorizationUrl (once). Returns {code, state, iss} read
   * off the 303 to the redirect URI. A second request (after the revocation) is refused.
   */
  async authorize(authorizationUrl) {
    this.authorizations += 1;
    if (this.authorizations > 1) {
      this.refusals += 1;
      note('person: re-authorization requested by the SDK; the person refuses');
      throw new ReauthorizationRefused('the person declines to authorize again');
    }
    const requested = Object.fromEntries(authorizationUrl.searchParams);
    note(`person: authorization URL parameters: ${Object.keys(requested).sort().join(', ')}`);
    if (!authorizationUrl.href.startsWith(this.latchkey + '/oauth/authorize?')) {
      throw new Failed(`the SDK sent the person to ${authorizationUrl.href}, not Latchkey's authorization endpoint`);
    }

    // A person without a session is sent to the login page first.
    const first = await this.browse(authorizationUrl.href);
    let consent = first;
    if (first.status === 303) {
      const location = new URL(this.url(first.location ?? ''));
      if (location.pathname !== '/login') {
        throw new Failed(`anonymous GET /oauth/authorize redirected to ${location.href}, expected /login?next=...`);
      }
      const afterLogin = await this.login(location.href);
      consent = await this.browse(afterLogin);
    }
    if (consent.status !== 200) throw new Failed(`consent page answered ${consent.status}: ${consent.text.slice(0, 300)}`);

    const form = parseForms(consent.text).find(
      f => (f.attrs.method ?? '').toLowerCase() === 'post' && (f.attrs.action ?? '').split('?')[0].endsWith('/oauth/authorize'),
    );
    if (!form) throw new Failed(`no consent form on the page: ${consent.text.slice(0, 500)}`);
    const fields = hiddenFields(form);
    for (const needed of ['csrf', 'client_id', 'redirect_uri', 'code_challenge', 'state', 'scope', 'resource']) {
      if (!(needed in fields)) throw new Failed(`the consent form has no hidden ${needed} input (has ${Object.keys(fields).sort()})`);
    }
    for (const name of ['client_id', 'redirect_uri', 'code_challenge', 'state', 'scope', 'resource']) {
      if (name in requested && fields[name] !== requested[name]) {
        throw new Failed(`consent form ${name}=${JSON.stringify(fields[name])} but the SDK requested ${JSON.stringify(requested[name])}`);
      }
    }
    const agent = form.selects.find(s => s.name === 'agent');
    if (!agent || !agent.options.some(o => o.value === 'new')) throw new Failed('the consent form offers no agent=new');
    fields.agent = 'new';
    if (![...form.buttons, ...form.inputs].some(b => b.name === 'decision' && b.value === 'approve')) {
      throw new Failed('the consent form has no decision=approve button');
    }
    fields.decision = 'approve';
    note(`person: consent form fields: ${Object.keys(fields).sort().join(', ')}`);

    const approved = await this.browse(this.url(form.attrs.action), { method: 'POST', form: fields });
    if (approved.status !== 303 || !approved.location) {
      throw new Failed(`POST /oauth/authorize (approve) answered ${approved.status}: ${approved.text.slice(0, 300)}`);
    }
    if (!approved.location.startsWith(CALLBACK_URL + '?')) {
      throw new Failed(`approval redirected to ${approved.location}, not to the registered redirect_uri ${CALLBACK_URL}`);
    }
    const query = Object.fromEntries(new URL(approved.location).searchParams);
    if ('error' in query) throw new Failed(`approval redirected with an error: ${approved.location}`);
    if (!query.code) throw new Failed(`approval redirect has no code: ${approved.location}`);
    note(`person: approved; the redirect carries ${Object.keys(query).sort().join(', ')}`);
    return { code: query.code, state: query.state, iss: query.iss };
  }
}

// ---------------------------------------------------------------------------------------------
// The SDK's OAuthClientProvider, in memory.

class InMemoryOAuthProvider {
  /** `shared` holds what outlives one provider: the client registration (and, on purpose, tokens). */
  constructor(person, trace, shared, { tokens } = {}) {
    this.person = person;
    this.trace = trace;
    this.shared = shared;
    this._tokens = tokens;
    this._codeVerifier = undefined;
    this._state = undefined;
    this.pendingCode = undefined;
    this.invalidated = [];
  }

  get redirectUrl() {
    return CALLBACK_URL;
  }

  get clientMetadata() {
    return {
      client_name: 'Latchkey TS interop client',
      redirect_uris: [CALLBACK_URL],
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      token_endpoint_auth_method: 'none', // a public client (Latchkey offers none and private_key_jwt)
    };
  }

  state() {
    this._state = randomBytes(16).toString('base64url');
    return this._state;
  }

  clientInformation() {
    return this.shared.clientInformation;
  }

  saveClientInformation(info) {
    this.shared.clientInformation = info; // stored unchanged, with the SDK's `issuer` stamp
  }

  tokens() {
    return this._tokens;
  }

  saveTokens(tokens) {
    this._tokens = tokens;
    this.shared.lastTokens = tokens;
  }

  saveCodeVerifier(v) {
    this._codeVerifier = v;
  }

  codeVerifier() {
    if (!this._codeVerifier) throw new Failed('the SDK asked for a code verifier before saving one');
    return this._codeVerifier;
  }

  invalidateCredentials(scope) {
    this.invalidated.push(scope);
    debug(`sdk: invalidateCredentials(${scope})`);
    if (scope === 'all' || scope === 'client') this.shared.clientInformation = undefined;
    if (scope === 'all' || scope === 'tokens') this._tokens = undefined;
    if (scope === 'all' || scope === 'verifier') this._codeVerifier = undefined;
  }

  async redirectToAuthorization(authorizationUrl) {
    const result = await this.person.authorize(authorizationUrl);
    // finishAuth() takes the code only: state and RFC 9207 iss are the application's to check.
    if (result.state !== this._state) {
      throw new Failed(`the redirect's state ${JSON.stringify(result.state)} is not the one sent (${JSON.stringify(this._state)})`);
    }
    const issuer = this.trace.asMetadata?.issuer;
    if (!issuer) throw new Failed('no authorization server metadata was seen before the authorization request');
    if (this.trace.asMetadata.authorization_response_iss_parameter_supported === true && result.iss !== issuer) {
      throw new Failed(`the redirect's iss ${JSON.stringify(result.iss)} is not the metadata issuer ${JSON.stringify(issuer)}`);
    }
    this.pendingCode = result.code;
  }

  takeCode() {
    const code = this.pendingCode;
    this.pendingCode = undefined;
    if (!code) throw new Failed('no authorization code: the person was never asked');
    return code;
  }
}

// ---------------------------------------------------------------------------------------------
// MCP plumbing.

function newSession(serverUrl, provider, trace) {
  const transport = new StreamableHTTPClientTransport(new URL(serverUrl), { authProvider: provider, fetch: trace.fetch });
  const client = new Client({ name: 'latchkey-ts-interop', version: '0.0.0' }, { capabilities: {} });
  client.onerror = e => debug(`sdk onerror: ${describe(e)}`);
  return { transport, client };
}

/** Connect as the SDK's OAuth example does: on UnauthorizedError, finishAuth(code) and reconnect. */
async function connectWithAuth(serverUrl, provider, trace) {
  const first = newSession(serverUrl, provider, trace);
  try {
    await first.client.connect(first.transport, { timeout: MCP_TIMEOUT_MS });
    return first;
  } catch (e) {
    if (!(e instanceof UnauthorizedError)) throw e;
    note('sdk: connect raised UnauthorizedError (the person was sent to authorize); finishing with the code');
  }
  await first.transport.finishAuth(provider.takeCode());
  await first.client.close();
  const second = newSession(serverUrl, provider, trace);
  await second.client.connect(second.transport, { timeout: MCP_TIMEOUT_MS });
  return second;
}

async function callEcho(client, text) {
  const result = await client.callTool({ name: 'echo', arguments: { text } }, undefined, { timeout: MCP_TIMEOUT_MS });
  if (result.isError) throw new Failed(`echo returned an error result: ${JSON.stringify(result.content)}`);
  const texts = (result.content ?? []).filter(c => c.type === 'text').map(c => c.text);
  if (texts.length !== 1 || texts[0] !== text) throw new Failed(`echo(${JSON.stringify(text)}) returned ${JSON.stringify(result.content)}`);
  return texts[0];
}

async function api(latchkey, hostPat, method, path) {
  const response = await fetch(latchkey + path, {
    method,
    headers: { Authorization: `Bearer ${hostPat}`, Accept: 'application/json' },
    signal: boundedSignal(),
  });
  const text = await response.text();
  return { status: response.status, text, json: () => JSON.parse(text) };
}

async function revokeGrant(latchkey, hostPat, clientId) {
  const listing = await api(latchkey, hostPat, 'GET', '/v1/oauth/grants');
  if (listing.status !== 200) throw new Failed(`GET /v1/oauth/grants answered ${listing.status}: ${listing.text.slice(0, 300)}`);
  const items = listing.json().items ?? [];
  const ours = items.filter(g => g.client_id === clientId && !g.revoked_at);
  if (ours.length !== 1) throw new Failed(`expected one live grant for client ${clientId}, GET /v1/oauth/grants gave ${JSON.stringify(items)}`);
  const grant = ours[0];
  const answer = await api(latchkey, hostPat, 'POST', `/v1/oauth/grants/${encodeURIComponent(grant.id)}/revoke`);
  if (answer.status !== 200 && answer.status !== 204) {
    throw new Failed(`POST /v1/oauth/grants/${grant.id}/revoke answered ${answer.status}: ${answer.text.slice(0, 300)}`);
  }
  note(`revoked grant ${grant.id} via /v1/oauth/grants (${answer.status})`);
}

/** One initialize POST with the stored token and no SDK in between: what does the MCP server say? */
async function rawInitialize(serverUrl, accessToken) {
  const response = await fetch(serverUrl, {
    method: 'POST',
    headers: {
      Authorization: `Bearer ${accessToken}`,
      'Content-Type': 'application/json',
      Accept: 'application/json, text/event-stream',
    },
    body: JSON.stringify({
      jsonrpc: '2.0',
      id: 1,
      method: 'initialize',
      params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'raw', version: '0' } },
    }),
    signal: boundedSignal(),
  });
  await response.text();
  return { status: response.status, www: response.headers.get('www-authenticate') ?? '' };
}

/** After revocation the grant's refresh token must not mint tokens either (RFC 6749 5.2). */
async function expectRefreshRefused(trace, tokens, clientId, resource) {
  const form = new URLSearchParams({ grant_type: 'refresh_token', refresh_token: tokens.refresh_token, client_id: clientId, resource });
  const response = await fetch(trace.asMetadata.token_endpoint, {
    method: 'POST',
    headers: { 'Content-Type': 'application/x-www-form-urlencoded', Accept: 'application/json' },
    body: form,
    signal: boundedSignal(),
  });
  const text = await response.text();
  note(`refresh after revocation (no SDK): ${response.status} ${text.slice(0, 200)}`);
  if (response.status === 200) throw new Failed('the token endpoint refreshed tokens for a revoked grant');
  let error;
  try {
    error = JSON.parse(text).error;
  } catch {
    // not JSON
  }
  if (response.status !== 400 || error !== 'invalid_grant') {
    throw new Failed(`refresh after revocation answered ${response.status} ${text.slice(0, 300)}, expected 400 invalid_grant`);
  }
}

/**
 * attempt() must fail because the SDK met a 401, tried to refresh (refused by Latchkey), then asked
 * the person again, who declined.
 */
async function expectRefused(what, person, provider, trace, attempt) {
  const before = { authorizations: person.authorizations, events: trace.events.length };
  let succeeded = false;
  try {
    await attempt();
    succeeded = true;
  } catch (e) {
    const errors = chain(e);
    const failed = errors.find(x => x instanceof Failed);
    if (failed) throw failed;
    const events = trace.since(before.events);
    const mcp401 = events.find(ev => ev.status === 401);
    const refresh = events.find(ev => ev.method === 'POST' && new URL(ev.url).pathname === new URL(trace.asMetadata.token_endpoint).pathname);
    if (!errors.some(x => x instanceof ReauthorizationRefused) || person.authorizations <= before.authorizations) {
      throw new Failed(`${what}: failed, but not through the SDK's 401 -> re-authorization path: ${describe(e)}`);
    }
    if (!mcp401) throw new Failed(`${what}: the SDK re-authorized without the MCP server answering 401`);
    if (!mcp401.wwwAuthenticate?.includes('resource_metadata=')) {
      throw new Failed(`${what}: 401 without resource_metadata in WWW-Authenticate: ${mcp401.wwwAuthenticate}`);
    }
    if (!refresh) throw new Failed(`${what}: the SDK never tried the refresh token before asking the person`);
    if (refresh.status !== 400 || !/"error"\s*:\s*"invalid_grant"/.test(refresh.body ?? '')) {
      throw new Failed(`${what}: the SDK's refresh got ${refresh.status} ${refresh.body}, expected 400 invalid_grant`);
    }
    if (!provider.invalidated.includes('tokens')) {
      throw new Failed(`${what}: the SDK did not invalidate the tokens after invalid_grant (invalidated: ${provider.invalidated})`);
    }
    note(`${what}: refused as expected (401, SDK refresh -> 400 invalid_grant, tokens invalidated, re-authorization declined)`);
  }
  if (succeeded) throw new Failed(`${what}: the tool call succeeded after the grant was revoked`);
}

// ---------------------------------------------------------------------------------------------

async function run(args) {
  const latchkey = args.latchkey.replace(/\/+$/, '');
  const trace = new Trace();
  const person = new Person(latchkey, args.email, args.password);
  const shared = { clientInformation: undefined, lastTokens: undefined };
  const provider = new InMemoryOAuthProvider(person, trace, shared);

  // Phase "first".
  const { client, transport } = await connectWithAuth(args.server, provider, trace);
  let revokedTokens;
  try {
    await callEcho(client, 'hello');
    const tokens = provider.tokens();
    const info = provider.clientInformation();
    if (!tokens || !info) throw new Failed('the SDK stored no tokens or no client information');
    if (person.authorizations !== 1) throw new Failed(`expected one authorization, the person was asked ${person.authorizations} times`);
    const meta = trace.asMetadata;
    const prm = trace.prm;
    note(`discovery: PRM authorization_servers ${JSON.stringify(prm?.authorization_servers)}, resource ${prm?.resource}; AS issuer ${meta?.issuer}`);
    // RFC 8414 3.3: the issuer must be identical to the authorization server URL the metadata was derived from.
    if (!prm?.authorization_servers?.includes(meta?.issuer)) {
      throw new Failed(`the metadata issuer ${meta?.issuer} is not one of the PRM's authorization_servers ${JSON.stringify(prm?.authorization_servers)}`);
    }
    if (meta.issuer !== latchkey) throw new Failed(`the metadata issuer ${meta.issuer} is not ${latchkey}`);
    const [header, claims] = jwtParts(tokens.access_token);
    note(`access token header ${JSON.stringify(header)}; claims ${Object.keys(claims).sort()}; aud ${JSON.stringify(claims.aud)}`);
    note(
      `token response: type ${tokens.token_type}, expires_in ${tokens.expires_in}, scope ${JSON.stringify(tokens.scope)}, ` +
        `refresh_token ${tokens.refresh_token ? 'yes' : 'no'}; SDK issuer stamp ${JSON.stringify(tokens.issuer)}`,
    );
    note(`registered client ${info.client_id} (token_endpoint_auth_method ${JSON.stringify(info.token_endpoint_auth_method)})`);
    if (!tokens.refresh_token) throw new Failed('Latchkey issued no refresh token');

    // The SDK refreshes only after a 401 (it ignores expires_in); run its refresh path directly.
    const beforeRefresh = tokens;
    const result = await auth(provider, { serverUrl: new URL(args.server), fetchFn: trace.fetch });
    if (result !== 'AUTHORIZED') throw new Failed(`auth() for a refresh returned ${result}`);
    const refreshed = provider.tokens();
    if (!refreshed || refreshed.access_token === beforeRefresh.access_token) throw new Failed('the SDK did not refresh the access token');
    if (person.authorizations !== 1) throw new Failed('the refresh failed and the SDK fell back to a new authorization');
    note(`refresh by the SDK worked; refresh token rotated: ${refreshed.refresh_token !== beforeRefresh.refresh_token ? 'yes' : 'no'}`);
    await callEcho(client, 'hello again'); // the same session, with the refreshed access token
    process.stdout.write(JSON.stringify({ phase: 'first', ok: true }) + '\n');

    // Phase "after_revoke", first half: the still-open session.
    revokedTokens = refreshed;
    await revokeGrant(latchkey, args.hostPat, info.client_id);
    const raw = await rawInitialize(args.server, refreshed.access_token);
    note(`stored access token after revocation, no SDK: ${raw.status}, WWW-Authenticate: ${raw.www}`);
    if (raw.status !== 401) throw new Failed(`the MCP server answered ${raw.status} to the revoked token, expected 401`);
    if (!raw.www.includes('resource_metadata=')) throw new Failed(`401 without resource_metadata in WWW-Authenticate: ${raw.www}`);
    await expectRefreshRefused(trace, refreshed, info.client_id, prm.resource);
    await expectRefused('same session', person, provider, trace, () => callEcho(client, 'again'));
  } finally {
    await client.close().catch(() => {});
    await transport.close().catch(() => {});
  }

  // Phase "after_revoke", second half: a fresh provider and session holding the same stored tokens
  // and client registration (as another process of the same client would).
  const fresh = new InMemoryOAuthProvider(person, trace, shared, { tokens: revokedTokens });
  const session = newSession(args.server, fresh, trace);
  try {
    await expectRefused('fresh session', person, fresh, trace, async () => {
      await session.client.connect(session.transport, { timeout: MCP_TIMEOUT_MS });
      await callEcho(session.client, 'after revoke');
    });
  } finally {
    await session.client.close().catch(() => {});
  }
  process.stdout.write(JSON.stringify({ phase: 'after_revoke', refused: true }) + '\n');
}

async function main() {
  const { values } = parseArgs({
    options: {
      server: { type: 'string' },
      latchkey: { type: 'string' },
      email: { type: 'string' },
      password: { type: 'string' },
      'host-pat': { type: 'string' },
      timeout: { type: 'string', default: '120' },
      verbose: { type: 'boolean', default: false },
    },
    strict: true,
  });
  for (const k of ['server', 'latchkey', 'email', 'password', 'host-pat']) {
    if (!values[k]) {
      note(`usage: node client.mjs --server URL --latchkey URL --email E --password PW --host-pat PAT [--timeout S] [--verbose]`);
      note(`missing --${k}`);
      return 2;
    }
  }
  verbose = values.verbose;
  const timeoutS = Number(values.timeout);
  const args = { server: values.server, latchkey: values.latchkey, email: values.email, password: values.password, hostPat: values['host-pat'] };

  let timer;
  const deadline = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Failed(`did not finish within ${timeoutS}s`)), timeoutS * 1000);
  });
  try {
    await Promise.race([run(args), deadline]);
  } catch (e) {
    const failed = chain(e).find(x => x instanceof Failed);
    note(failed ? `FAILED: ${failed.message}` : `FAILED with an unexpected error: ${describe(e)}`);
    if (verbose && e?.stack) note(e.stack);
    return 1;
  } finally {
    clearTimeout(timer);
  }
  note('PASSED: both phases behaved');
  return 0;
}

// Exit explicitly: an SSE stream or keep-alive socket left behind must not keep the process alive.
process.exit(await main());
