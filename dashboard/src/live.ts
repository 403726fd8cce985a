/** Live updates: one WebSocket to the live API (`liveUrl` of config.json), opened with the access
 * token held in memory (a browser's WebSocket cannot send a header, so it is the `token` query
 * parameter the $connect route checks). A connection that drops or is refused (API Gateway closes
 * every connection after 2 hours, and idle ones sooner) is opened again after a growing, jittered
 * wait (1 s doubling to 30 s; at once when the browser comes back online), each time with the token
 * the session holds then, so a renewed token is used. Views subscribe with `onLive`; after a
 * reconnection they hear `live.resumed`, since what happened meanwhile was not sent to them;
 * `live.open` and `live.closed` say whether the page is connected. While open it sends the API's
 * `ping` every 5 minutes: API Gateway closes a connection idle for 10 minutes (its WebSocket quotas,
 * "Idle Connection Timeout"), and live events may be hours apart. */
export interface LiveEvent {
  id: string;
  type: string;
  data: Record<string, unknown>;
}

export const RESUMED = "live.resumed";
export const OPEN = "live.open";
export const CLOSED = "live.closed";
const MAX_WAIT_MS = 30_000;
/** The keepalive: a message the API's `ping` route takes (its route selection is the `action`) and
 * answers with nothing, at half the idle timeout, so a hidden tab's slowed timers still beat it. */
export const PING = JSON.stringify({ action: "ping" });
export const PING_EVERY_MS = 5 * 60_000;

type Listener = (event: LiveEvent) => void;
const listeners = new Set<Listener>();

export function onLive(listener: Listener): () => void {
  listeners.add(listener);
  return () => listeners.delete(listener);
}

function emit(event: LiveEvent): void {
  for (const listener of listeners) listener(event);
}

/** The wait before the next try after `failures` failed ones: 1 s doubling to 30 s, each wait
 * between half and all of it (`random` in [0, 1)), so pages that lost the connection together do
 * not all come back at once. */
export function backoff(failures: number, random: () => number = Math.random): number {
  return Math.min(MAX_WAIT_MS, 1000 * 2 ** failures) * (0.5 + random() / 2);
}

/** A filter that lets each event id through once, remembering the last `keep` ids. */
export function firstSight(keep = 200): (id: string) => boolean {
  const seen: string[] = [];
  return (id) => {
    if (seen.includes(id)) return false;
    seen.push(id);
    if (seen.length > keep) seen.shift();
    return true;
  };
}

/** Call `send` every `every` ms until the returned function is called. */
export function keepAlive(send: () => void, every: number = PING_EVERY_MS): () => void {
  const timer = setInterval(send, every);
  return () => clearInterval(timer);
}

/** Connect and stay connected until the returned function is called. */
export function startLive(url: string, token: () => string | null): () => void {
  let socket: WebSocket | null = null;
  let timer: number | undefined;
  let failures = 0;
  let stopped = false;
  let opened = false;
  let stopPing = () => {};
  const fresh = firstSight(); // a stream batch retried may post an event twice

  const retry = () => {
    if (stopped) return;
    timer = window.setTimeout(connect, backoff(failures++));
  };

  function connect(): void {
    const current = token();
    if (stopped) return;
    if (!current) return retry();
    const ws = new WebSocket(`${url}${url.includes("?") ? "&" : "?"}token=${encodeURIComponent(current)}`);
    socket = ws;
    ws.onopen = () => {
      failures = 0;
      stopPing();
      stopPing = keepAlive(() => {
        if (ws.readyState === WebSocket.OPEN) ws.send(PING);
      });
      emit({ id: "", type: OPEN, data: {} });
      if (opened) emit({ id: "", type: RESUMED, data: {} });
      opened = true;
    };
    ws.onmessage = async (message: MessageEvent) => {
      const text = typeof message.data === "string" ? message.data : await (message.data as Blob).text();
      let event: LiveEvent;
      try {
        event = JSON.parse(text) as LiveEvent;
      } catch {
        return;
      }
      if (!event?.type || !fresh(event.id)) return;
      emit({ ...event, data: event.data ?? {} });
    };
    ws.onclose = () => {
      if (socket !== ws) return;
      stopPing();
      socket = null;
      emit({ id: "", type: CLOSED, data: {} });
      retry();
    };
  }

  const online = () => {
    if (socket || stopped) return;
    window.clearTimeout(timer);
    failures = 0;
    connect();
  };
  window.addEventListener("online", online);
  connect();
  return () => {
    stopped = true;
    stopPing();
    window.clearTimeout(timer);
    window.removeEventListener("online", online);
    const ws = socket;
    socket = null;
    ws?.close(1000);
  };
}
