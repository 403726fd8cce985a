/** Where the app finds the API and how it signs in, read at run time from config.json beside
 * index.html: `tidings dev` serves one for the local stack, a deployed stack writes its own (the API
 * URL, the Cognito domain and app client id from its outputs), so one build serves both. */
export type AuthConfig =
  | { kind: "local"; tokenUrl: string; loginCommand: string }
  | { kind: "cognito"; domain: string; clientId: string; scopes?: string; redirectUri?: string };

export interface AppConfig {
  apiUrl: string;
  auth: AuthConfig;
  /** The live updates' WebSocket URL (src/live.ts); without it the pages only read on load. */
  liveUrl?: string;
}

export async function loadConfig(): Promise<AppConfig> {
  const response = await fetch(new URL("config.json", document.baseURI), { cache: "no-store" });
  if (!response.ok) throw new Error(`config.json: ${response.status}`);
  return (await response.json()) as AppConfig;
}
