// A stand-in for Microsoft Entra ID for the browser tests, the node twin of the .NET tests'
// TestAuthority (ChatFunctions.Tests/TestInfrastructure/TestAuthority.cs): on a loopback port it serves one
// tenant's v2.0 OpenID Connect metadata and JWKS the way login.microsoftonline.com does, and mints RS256
// access tokens with a key made here. The backend runs with sign-in on against it (CHAT_AUTH_INSTANCE), so it
// checks these tokens exactly as it checks Entra's; the page gets them through signInAs (docs/web.md,
// "Signed-in browser tests").
import { createSign, generateKeyPairSync, randomUUID } from "node:crypto";
import { createServer } from "node:http";
import { keepIdleConnections } from "./proxy.mjs";

export const TENANT_ID = "6a3f0c1e-2b4d-4e5f-8a9b-0c1d2e3f4a5b";
export const CLIENT_ID = "2f6e8d4c-1a3b-4c5d-9e7f-a1b2c3d4e5f6";
const KEY_ID = "e2e-key-1";

const base64url = (value) => Buffer.from(typeof value === "string" ? value : JSON.stringify(value)).toString("base64url");

/** @returns {Promise<{ instance: string, settings: Record<string, string>, token: (oid: string) => string, stop: () => Promise<void> }>} */
export async function startAuthority() {
  const { publicKey, privateKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
  const jwk = publicKey.export({ format: "jwk" });
  let instance = "";
  const tenantRoot = () => `${instance}${TENANT_ID}`;
  const server = createServer((req, res) => {
    const json = (body) => {
      res.writeHead(200, { "Content-Type": "application/json" });
      res.end(JSON.stringify(body));
    };
    if (req.url === `/${TENANT_ID}/v2.0/.well-known/openid-configuration`) {
      return json({
        issuer: `${tenantRoot()}/v2.0`,
        jwks_uri: `${tenantRoot()}/discovery/v2.0/keys`,
        authorization_endpoint: `${tenantRoot()}/oauth2/v2.0/authorize`,
        token_endpoint: `${tenantRoot()}/oauth2/v2.0/token`,
        id_token_signing_alg_values_supported: ["RS256"],
        response_types_supported: ["code", "id_token", "code id_token", "id_token token"],
        subject_types_supported: ["pairwise"],
      });
    }
    if (req.url === `/${TENANT_ID}/discovery/v2.0/keys`) {
      return json({ keys: [{ kty: "RSA", use: "sig", kid: KEY_ID, n: jwk.n, e: jwk.e }] });
    }
    res.writeHead(404).end();
  });
  keepIdleConnections(server);
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  instance = `http://127.0.0.1:${server.address().port}/`;

  /** An access token as Entra ID issues it to the SPA for the API's chat scope, for user `oid`. */
  const token = (oid) => {
    const now = Math.floor(Date.now() / 1000);
    const header = base64url({ alg: "RS256", typ: "JWT", kid: KEY_ID });
    const payload = base64url({
      iss: `${tenantRoot()}/v2.0`,
      aud: CLIENT_ID,
      oid,
      tid: TENANT_ID,
      sub: `subject-${oid}`,
      scp: "chat",
      ver: "2.0",
      iat: now,
      nbf: now,
      exp: now + 3600,
      jti: randomUUID(),
    });
    const signature = createSign("RSA-SHA256").update(`${header}.${payload}`).sign(privateKey).toString("base64url");
    return `${header}.${payload}.${signature}`;
  };

  return {
    instance,
    /** Backend settings that turn sign-in on against this authority. */
    settings: {
      CHAT_AUTH_ENABLED: "true",
      CHAT_AUTH_TENANT_ID: TENANT_ID,
      CHAT_AUTH_CLIENT_ID: CLIENT_ID,
      CHAT_AUTH_INSTANCE: instance,
    },
    /** The page's config.json auth section for this authority (what the deploy hook writes for Entra). */
    pageAuth: { clientId: CLIENT_ID, authority: `${tenantRoot()}`, scopes: [`api://${CLIENT_ID}/chat`] },
    token,
    stop: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

/**
 * Signs every page of `context` in as user `oid`: before any of the page's own scripts, sets the window hook
 * that main.tsx uses instead of MSAL when present (src/api/testSession.ts). The token is minted here and
 * checked by the backend like any other; the hook only spares the test Entra's sign-in pages.
 */
export async function signInAs(context, authority, oid, name = `User ${oid.slice(0, 4)}`) {
  const session = { account: { name, username: `${oid}@example.test` }, token: authority.token(oid) };
  await context.addInitScript((injected) => {
    window.__chatFunctionsTestSession = injected;
  }, session);
}
