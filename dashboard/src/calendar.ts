/** The calendar's own rules, apart from the view: the days of a week or a month and the posts of each
 * day and hour in the user's zone, and how the list of posts changes on a live event. */
import type { LiveEvent } from "./live";
import { RESUMED } from "./live";
import { addDays, dayKey, dayOf, startOfWeek, userZone, zoned, type Day } from "./time";

export interface Scheduled {
  postId: string;
  scheduledTime: string;
}

/** The seven days (Monday first) of the week holding `anchor`. */
export function weekDays(anchor: Day): Day[] {
  const first = startOfWeek(anchor);
  return Array.from({ length: 7 }, (_, i) => addDays(first, i));
}

export function addMonths(day: Day, n: number): Day {
  const months = day.y * 12 + day.m - 1 + n;
  return { y: Math.floor(months / 12), m: (months % 12) + 1, d: 1 };
}

/** The whole weeks (Monday first) covering the anchor's month. */
export function monthDays(anchor: Day): Day[] {
  const first = startOfWeek({ y: anchor.y, m: anchor.m, d: 1 });
  const out: Day[] = [];
  for (let day = first; out.length < 42; day = addDays(day, 1)) {
    if (out.length % 7 === 0 && out.length >= 28 && day.m !== anchor.m) break;
    out.push(day);
  }
  return out;
}

/** Posts by the day (`YYYY-MM-DD`) they go out on in the zone. */
export function byDay<P extends Scheduled>(posts: P[], zone = userZone): Map<string, P[]> {
  const out = new Map<string, P[]>();
  for (const post of posts) {
    const key = dayKey(dayOf(new Date(post.scheduledTime), zone));
    out.set(key, [...(out.get(key) ?? []), post]);
  }
  return out;
}

/** The posts of one day that go out in one hour of the zone's clock. */
export function atHour<P extends Scheduled>(posts: P[], hour: number, zone = userZone): P[] {
  return posts.filter((p) => zoned(new Date(p.scheduledTime), zone).h === hour);
}

/** What a live event asks of the calendar: read every post again (after a reconnection), read one
 * post again (published or failed), or nothing. */
export type LiveAction = { kind: "reload" } | { kind: "read"; postId: string } | null;

export function liveAction(event: LiveEvent): LiveAction {
  if (event.type === RESUMED) return { kind: "reload" };
  const postId = event.data.postId;
  if ((event.type !== "post.published" && event.type !== "post.failed") || typeof postId !== "string") return null;
  return { kind: "read", postId };
}

/** The list with `post` in place of the one it was (or added). */
export function withPost<P extends Scheduled>(list: P[] | null, post: P): P[] {
  const old = list ?? [];
  return old.some((p) => p.postId === post.postId)
    ? old.map((p) => (p.postId === post.postId ? post : p))
    : [...old, post];
}
