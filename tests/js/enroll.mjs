// Agent enrollment with the `jose` library, as docs/API.md §5.4 describes:
// make an ES256 key pair, register the public JWK with a one-time bootstrap
// secret, then trade a signed client assertion (RFC 7523) for an access
// token and call the API with it. Prints whoami's JSON.
//
//   LATCHKEY_URL=http://127.0.0.1:8080 BOOTSTRAP_SECRET=lk_bs_… node enroll.mjs
import { SignJWT, exportJWK, generateKeyPair } from 'jose';

const base = process.env.LATCHKEY_URL;
const bootstrapSecret = process.env.BOOTSTRAP_SECRET;

async function must(res, what) {
  if (!res.ok) throw new Error(`${what}: ${res.status} ${await res.text()}`);
  return res.json();
}

const { publicKey, privateKey } = await generateKeyPair('ES256');
const jwk = await exportJWK(publicKey);

const { agentId } = await must(
  await fetch(`${base}/v1/agents/bootstrap`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ bootstrapSecret, publicKey: jwk }),
  }),
  'bootstrap',
);

const assertion = await new SignJWT({})
  .setProtectedHeader({ alg: 'ES256', typ: 'JWT' })
  .setIssuer(agentId)
  .setSubject(agentId)
  .setAudience(base)
  .setIssuedAt()
  .setExpirationTime('60s')
  .setJti(crypto.randomUUID())
  .sign(privateKey);

const { access_token: accessToken } = await must(
  await fetch(`${base}/v1/agents/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({
      grant_type: 'client_credentials',
      client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer',
      client_assertion: assertion,
    }),
  }),
  'token',
);

const whoami = await must(
  await fetch(`${base}/v1/auth/whoami`, { headers: { authorization: `Bearer ${accessToken}` } }),
  'whoami',
);
console.log(JSON.stringify(whoami));
