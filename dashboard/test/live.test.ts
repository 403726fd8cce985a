// The live connection's wait between tries, its duplicate filter, and what the calendar does on an event.
import { describe, expect, it } from "vitest";
import { liveAction, withPost } from "../src/calendar";
import { backoff, firstSight, RESUMED } from "../src/live";

describe("reconnection back-off", () => {
  it("doubles from 1 s, capped at 30 s, jittered down to half", () => {
    const most = () => 0.999999;
    const least = () => 0;
    expect([0, 1, 2, 3, 4].map((n) => Math.round(backoff(n, most)))).toEqual([1000, 2000, 4000, 8000, 16000]);
    expect(Math.round(backoff(5, most))).toBe(30000);
    expect(Math.round(backoff(40, most))).toBe(30000);
    expect(backoff(0, least)).toBe(500);
    expect(backoff(12, least)).toBe(15000);
  });

  it("stays within its bounds for any draw", () => {
    for (let n = 0; n < 10; n++) {
      const wait = backoff(n);
      const full = Math.min(30000, 1000 * 2 ** n);
      expect(wait).toBeGreaterThanOrEqual(full / 2);
      expect(wait).toBeLessThanOrEqual(full);
    }
  });
});

describe("duplicate events", () => {
  it("lets each id through once", () => {
    const fresh = firstSight();
    expect(["e1", "e2", "e1", "e3", "e2"].map(fresh)).toEqual([true, true, false, true, false]);
  });

  it("forgets the oldest beyond what it keeps", () => {
    const fresh = firstSight(2);
    expect(["a", "b", "c", "a", "c"].map(fresh)).toEqual([true, true, true, true, false]);
  });
});

describe("the calendar on a live event", () => {
  const event = (type: string, data: Record<string, unknown> = {}) => ({ id: "x", type, data });

  it("reads a published or failed post again, everything after a reconnection, nothing else", () => {
    expect(liveAction(event("post.published", { postId: "p1" }))).toEqual({ kind: "read", postId: "p1" });
    expect(liveAction(event("post.failed", { postId: "p2" }))).toEqual({ kind: "read", postId: "p2" });
    expect(liveAction(event(RESUMED))).toEqual({ kind: "reload" });
    expect(liveAction(event("post.published"))).toBeNull();
    expect(liveAction(event("comment.received", { postId: "p1" }))).toBeNull();
  });

  it("puts the post read again in place of the old one", () => {
    const list = [
      { postId: "p1", scheduledTime: "2026-03-08T14:00:00Z", status: "scheduled" },
      { postId: "p2", scheduledTime: "2026-03-08T15:00:00Z", status: "scheduled" },
    ];
    const published = { ...list[0], status: "published" };
    expect(withPost(list, published)).toEqual([published, list[1]]);
    expect(list[0].status).toBe("scheduled"); // a new list: the old one is not changed
    const other = { postId: "p3", scheduledTime: "2026-03-09T15:00:00Z", status: "published" };
    expect(withPost(list, other)).toEqual([...list, other]);
    expect(withPost(null, other)).toEqual([other]);
  });
});
