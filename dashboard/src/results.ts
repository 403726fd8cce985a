/** What the Results view computes from the readings of a period (GET /analytics/readings): every
 * page of them, the pooled engagement rate, the rate by day of publishing and the heat map's cells by
 * weekday and hour, in the user's zone. */
import type { components } from "./api/schema";
import { addDays, dayKey, dayOf, userZone, weekday, zoned, type Day } from "./time";

type ReadingRow = components["schemas"]["ReadingView"];

/** One platform's reading of one post: when it went out and its latest numbers. */
export interface Reading {
  postId: string;
  platform: string;
  publishedAt: Date;
  source: string; // collected or imported
  engagements: number;
  audience: number | null; // reach, or views where reach is not reported
}

export const toReading = (row: ReadingRow): Reading => ({
  postId: row.postId,
  platform: row.platform,
  publishedAt: new Date(row.publishedAt),
  source: row.source,
  engagements: row.engagements,
  audience: row.audience,
});

/** One page as the API answered it: its rows and the token of the next, or its refusal. */
export interface Page<T> {
  rows?: T[];
  nextToken?: string | null;
  error?: unknown;
}

/** Pages read at most for one period: past it the charts would be partial, and that is said. */
export const MAX_PAGES = 200;

/** Every page, following nextToken until it is null (a page may hold no rows and still a token).
 * Stops at the first refusal, answering it; `wanted` false (the period changed meanwhile) stops
 * without reading further. */
export async function everyPage<T>(
  read: (nextToken: string | undefined) => Promise<Page<T>>,
  wanted: () => boolean = () => true,
  maxPages = MAX_PAGES,
): Promise<{ rows: T[]; error?: unknown }> {
  const rows: T[] = [];
  let token: string | undefined;
  for (let page = 0; page < maxPages; page++) {
    if (!wanted()) return { rows };
    const answer = await read(token);
    if (answer.error !== undefined && answer.error !== null) return { rows, error: answer.error };
    rows.push(...(answer.rows ?? []));
    token = answer.nextToken ?? undefined;
    if (!token) return { rows };
  }
  return { rows, error: `more than ${maxPages} pages of readings: the charts would leave some out` };
}

/** The engagement rate as the summary computes it: engagements over the audience of the readings
 * that report one; null when none does. */
export function pooledRate(items: Reading[]): number | null {
  const counted = items.filter((r) => r.audience);
  const audience = counted.reduce((n, r) => n + (r.audience ?? 0), 0);
  return audience ? counted.reduce((n, r) => n + r.engagements, 0) / audience : null;
}

/** The days from `start`'s to `end`'s (in the zone), both included. */
export function daysOf(start: Date, end: Date, zone = userZone): Day[] {
  const days: Day[] = [];
  const last = dayKey(dayOf(end, zone));
  for (let day = dayOf(start, zone); dayKey(day) <= last; day = addDays(day, 1)) days.push(day);
  return days;
}

/** The pooled rate of each of `days`, by day of publishing in the zone (null: no reading that day
 * reports an audience). */
export function rateByDay(items: Reading[], days: Day[], zone = userZone): (number | null)[] {
  const groups = new Map<string, Reading[]>();
  for (const r of items) {
    const key = dayKey(dayOf(r.publishedAt, zone));
    groups.set(key, [...(groups.get(key) ?? []), r]);
  }
  return days.map((day) => {
    const group = groups.get(dayKey(day));
    return group ? pooledRate(group) : null;
  });
}

/** A heat map cell's key: weekday (0 = Monday) and hour of publishing in the zone. */
export const cellKey = (weekdayIndex: number, hour: number) => `${weekdayIndex}-${hour}`;

/** The readings by the weekday and hour (in the zone) their post went out. */
export function heatCells(items: Reading[], zone = userZone): Map<string, Reading[]> {
  const cells = new Map<string, Reading[]>();
  for (const r of items) {
    const z = zoned(r.publishedAt, zone);
    const key = cellKey(weekday({ y: z.y, m: z.m, d: z.d }), z.h);
    cells.set(key, [...(cells.get(key) ?? []), r]);
  }
  return cells;
}

/** A cell as the heat map shows it: the posts behind it (a post on two platforms is one) and their
 * pooled rate. */
export function cellFigures(group: Reading[]): { posts: number; rate: number | null } {
  return { posts: new Set(group.map((r) => r.postId)).size, rate: group.length ? pooledRate(group) : null };
}
