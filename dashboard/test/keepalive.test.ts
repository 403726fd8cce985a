// The live connection's keepalive: a ping every 5 minutes while open, none once closed or stopped.
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { keepAlive, PING, PING_EVERY_MS, startLive } from "../src/live";

const MINUTE = 60_000;

beforeEach(() => {
  vi.useFakeTimers();
});

afterEach(() => {
  vi.useRealTimers();
  vi.unstubAllGlobals();
});

describe("keepAlive", () => {
  it("sends every 5 minutes, well within API Gateway's 10 idle minutes, until stopped", () => {
    expect(PING_EVERY_MS).toBe(5 * MINUTE);
    const send = vi.fn();
    const stop = keepAlive(send);
    vi.advanceTimersByTime(5 * MINUTE - 1);
    expect(send).not.toHaveBeenCalled();
    vi.advanceTimersByTime(1);
    expect(send).toHaveBeenCalledTimes(1);
    vi.advanceTimersByTime(10 * MINUTE);
    expect(send).toHaveBeenCalledTimes(3);
    stop();
    vi.advanceTimersByTime(60 * MINUTE);
    expect(send).toHaveBeenCalledTimes(3);
  });
});

/** A WebSocket the test opens and closes by hand; what the page sends is kept. */
class FakeSocket {
  static readonly OPEN = 1;
  static made: FakeSocket[] = [];
  readyState = 0;
  sent: string[] = [];
  onopen: (() => void) | null = null;
  onmessage: ((m: { data: string }) => void) | null = null;
  onclose: (() => void) | null = null;

  constructor(readonly url: string) {
    FakeSocket.made.push(this);
  }

  send(text: string): void {
    this.sent.push(text);
  }

  open(): void {
    this.readyState = FakeSocket.OPEN;
    this.onopen?.();
  }

  close(): void {
    this.readyState = 3;
    this.onclose?.();
  }
}

function stubBrowser(): void {
  FakeSocket.made = [];
  vi.stubGlobal("WebSocket", FakeSocket);
  vi.stubGlobal("window", {
    setTimeout: (fn: () => void, ms: number) => setTimeout(fn, ms),
    clearTimeout: (id: ReturnType<typeof setTimeout>) => clearTimeout(id),
    addEventListener: () => {},
    removeEventListener: () => {},
  });
}

describe("the live connection", () => {
  it("pings while open, stops when the connection drops, and pings again once reconnected", () => {
    stubBrowser();
    const stop = startLive("ws://live.example", () => "token-1");
    const first = FakeSocket.made[0];
    expect(first.url).toBe("ws://live.example?token=token-1");

    vi.advanceTimersByTime(6 * MINUTE); // not open yet: nothing to keep alive
    expect(first.sent).toEqual([]);
    first.open();
    vi.advanceTimersByTime(10 * MINUTE);
    expect(first.sent).toEqual([PING, PING]);
    expect(JSON.parse(first.sent[0])).toEqual({ action: "ping" });

    first.close(); // API Gateway closed it: reconnect after the back-off
    vi.advanceTimersByTime(1000);
    const second = FakeSocket.made[1];
    expect(second).toBeDefined();
    second.open();
    vi.advanceTimersByTime(5 * MINUTE);
    expect(first.sent).toHaveLength(2); // the closed one is never pinged again
    expect(second.sent).toEqual([PING]);

    stop();
    vi.advanceTimersByTime(30 * MINUTE);
    expect(second.sent).toEqual([PING]);
  });
});
