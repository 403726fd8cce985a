/** Sign-in. Tokens live in this module's memory only: never in localStorage or sessionStorage, so a
 * script injected later cannot read them back from storage, and closing the tab forgets them.
 *
 * On AWS: the Cognito user pool's hosted sign-in, authorization code with PKCE (RFC 7636). Only the
 * PKCE verifier and the state survive the redirect, in sessionStorage; they are useless without the
 * code and removed as soon as it is exchanged.
 * Locally: `tidings dev` and `tidings login USER` print a link carrying a single-use code, exchanged
 * here at the local token endpoint, which answers as Cognito's /oauth2/token does.
 * Either way the access token is refreshed with the refresh token before it expires. */
import type { AppConfig, AuthConfig } from "./config";

interface TokenAnswer {
  access_token: string;
  refresh_token?: string;
  expires_in: number;
}

export interface Session {
  user: string;
  accessToken: string;
}

let session: Session | null = null;
let refreshToken: string | undefined;
let refreshTimer: number | undefined;
let listener: (s: Session | null) => void = () => {};

const VERIFIER = "tidings.pkce.verifier";
const STATE = "tidings.pkce.state";

export function onSessionChange(fn: (s: Session | null) => void): void {
  listener = fn;
}

export function accessToken(): string | null {
  return session?.accessToken ?? null;
}

function tokenUrl(auth: AuthConfig): string {
  return auth.kind === "local" ? auth.tokenUrl : `${auth.domain}/oauth2/token`;
}

function redirectUri(auth: AuthConfig): string {
  if (auth.kind === "cognito" && auth.redirectUri) return auth.redirectUri;
  return new URL(".", document.baseURI).href;
}

function userOf(token: string): string {
  try {
    const payload = token.split(".")[1].replace(/-/g, "+").replace(/_/g, "/");
    const claims = JSON.parse(atob(payload)) as { username?: string; sub?: string };
    return claims.username ?? claims.sub ?? "";
  } catch {
    return "";
  }
}

async function tokenRequest(auth: AuthConfig, form: Record<string, string>): Promise<void> {
  if (auth.kind === "cognito") form.client_id = auth.clientId;
  const response = await fetch(tokenUrl(auth), {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams(form),
  });
  const body = (await response.json().catch(() => ({}))) as Partial<TokenAnswer> & {
    error?: string;
    error_description?: string;
  };
  if (!response.ok || !body.access_token) {
    throw new Error(body.error_description ?? body.error ?? `sign-in failed (${response.status})`);
  }
  refreshToken = body.refresh_token ?? refreshToken;
  session = { user: userOf(body.access_token), accessToken: body.access_token };
  window.clearTimeout(refreshTimer);
  if (refreshToken) {
    // Renew at 80% of the lifetime; a failed renewal signs out.
    const delay = Math.max(5, (body.expires_in ?? 3600) * 0.8) * 1000;
    refreshTimer = window.setTimeout(() => {
      tokenRequest(auth, { grant_type: "refresh_token", refresh_token: refreshToken ?? "" }).catch(() =>
        signOut(),
      );
    }, delay);
  }
  listener(session);
}

function randomText(bytes: number): string {
  const raw = crypto.getRandomValues(new Uint8Array(bytes));
  return base64url(raw);
}

function base64url(raw: Uint8Array): string {
  return btoa(String.fromCharCode(...raw)).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

/** Send the browser to Cognito's hosted sign-in (authorization code with PKCE, S256). */
export async function redirectToSignIn(auth: Extract<AuthConfig, { kind: "cognito" }>): Promise<void> {
  const verifier = randomText(48);
  const state = randomText(16);
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(verifier));
  sessionStorage.setItem(VERIFIER, verifier);
  sessionStorage.setItem(STATE, state);
  const query = new URLSearchParams({
    response_type: "code",
    client_id: auth.clientId,
    redirect_uri: redirectUri(auth),
    scope: auth.scopes ?? "openid",
    state,
    code_challenge_method: "S256",
    code_challenge: base64url(new Uint8Array(digest)),
  });
  window.location.assign(`${auth.domain}/oauth2/authorize?${query}`);
}

/** Exchange the code the URL carries, if any, then take it out of the URL (and the history). */
export async function completeSignIn(config: AppConfig): Promise<Session | null> {
  const url = new URL(window.location.href);
  const code = url.searchParams.get("code");
  if (!code) return session;
  url.searchParams.delete("code");
  const state = url.searchParams.get("state");
  url.searchParams.delete("state");
  window.history.replaceState(null, "", url.pathname + url.search + url.hash);
  const auth = config.auth;
  if (auth.kind === "local") {
    await tokenRequest(auth, { grant_type: "authorization_code", code });
  } else {
    const verifier = sessionStorage.getItem(VERIFIER);
    const expected = sessionStorage.getItem(STATE);
    sessionStorage.removeItem(VERIFIER);
    sessionStorage.removeItem(STATE);
    if (!verifier || state !== expected) throw new Error("the sign-in answer does not match this browser's request");
    await tokenRequest(auth, {
      grant_type: "authorization_code",
      code,
      redirect_uri: redirectUri(auth),
      code_verifier: verifier,
    });
  }
  return session;
}

export function signOut(): void {
  window.clearTimeout(refreshTimer);
  session = null;
  refreshToken = undefined;
  listener(null);
}
