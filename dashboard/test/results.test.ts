// What the Results view draws from the readings of a period: every page of them, the pooled rate, the
// rate by day and the heat map's cells in the user's zone.
import { describe, expect, it } from "vitest";
import {
  cellFigures,
  cellKey,
  daysOf,
  everyPage,
  heatCells,
  pooledRate,
  rateByDay,
  toReading,
  type Page,
  type Reading,
} from "../src/results";
import { dayKey } from "../src/time";

const NY = "America/New_York";

function reading(postId: string, publishedAt: string, engagements: number, audience: number | null, platform = "linkedin"): Reading {
  return { postId, platform, publishedAt: new Date(publishedAt), source: "imported", engagements, audience };
}

describe("every page of the readings", () => {
  it("follows nextToken until it is null, through a page with no rows", async () => {
    const pages: Record<string, Page<number>> = {
      first: { rows: [1, 2], nextToken: "b" },
      b: { rows: [], nextToken: "c" },
      c: { rows: [3], nextToken: null },
    };
    const asked: (string | undefined)[] = [];
    const answer = await everyPage(async (token) => {
      asked.push(token);
      return pages[token ?? "first"];
    });
    expect(answer).toEqual({ rows: [1, 2, 3] });
    expect(asked).toEqual([undefined, "b", "c"]);
  });

  it("stops at a refusal and answers it, with what was read before", async () => {
    const refusal = { code: "invalid_next_token", message: "nextToken is not a token this API issued", details: {} };
    const answer = await everyPage<number>(async (token) => (token ? { error: refusal } : { rows: [1], nextToken: "x" }));
    expect(answer).toEqual({ rows: [1], error: refusal });
  });

  it("reads no further once the period is no longer wanted", async () => {
    let wanted = true;
    const answer = await everyPage<number>(async () => {
      wanted = false;
      return { rows: [1], nextToken: "again" };
    }, () => wanted);
    expect(answer).toEqual({ rows: [1] });
  });

  it("says so rather than drawing part of the period when the pages do not end", async () => {
    const answer = await everyPage<number>(async () => ({ rows: [1], nextToken: "more" }), () => true, 3);
    expect(answer.rows).toEqual([1, 1, 1]);
    expect(answer.error).toMatch(/more than 3 pages/);
  });
});

describe("the numbers", () => {
  it("a row of the API becomes a reading", () => {
    const row = {
      postId: "imp_1",
      platform: "linkedin",
      publishedAt: "2026-03-03T10:00:00.000Z",
      contentType: "text",
      source: "imported",
      engagements: 107,
      reach: 1000,
      views: null,
      audience: 1000,
      engagementRate: 0.107,
    };
    expect(toReading(row)).toEqual(reading("imp_1", "2026-03-03T10:00:00.000Z", 107, 1000));
  });

  it("the rate is pooled over the readings that report an audience", () => {
    const items = [reading("a", "2026-03-03T10:00:00Z", 50, 1000), reading("b", "2026-03-03T11:00:00Z", 10, 3000), reading("c", "2026-03-03T12:00:00Z", 99, null)];
    expect(pooledRate(items)).toBeCloseTo(60 / 4000);
    expect(pooledRate([reading("c", "2026-03-03T12:00:00Z", 99, null)])).toBeNull();
    expect(pooledRate([])).toBeNull();
  });

  it("the rate by day of publishing, in the zone: 01:00 UTC is the day before in New York", () => {
    const days = daysOf(new Date("2026-03-02T12:00:00Z"), new Date("2026-03-04T12:00:00Z"), NY);
    expect(days.map(dayKey)).toEqual(["2026-03-02", "2026-03-03", "2026-03-04"]);
    const items = [reading("a", "2026-03-04T01:00:00Z", 30, 1000), reading("b", "2026-03-03T15:00:00Z", 10, 1000)];
    expect(rateByDay(items, days, NY)).toEqual([null, 0.02, null]);
  });
});

describe("the heat map", () => {
  it("puts each reading at its weekday and hour in the zone, across the change of clocks", () => {
    // Tuesday 10:00 UTC: 05:00 EST before 2026-03-08, 06:00 EDT after
    const items = [
      reading("imp_1", "2026-03-03T10:00:00Z", 100, 1000),
      reading("imp_2", "2026-03-10T10:00:00Z", 50, 1000),
      reading("imp_3", "2026-03-17T10:00:00Z", 30, 1000),
      reading("p1", "2026-03-17T10:30:00Z", 10, 1000, "twitter"),
      reading("p1", "2026-03-17T10:30:00Z", 30, 1000, "facebook"),
    ];
    const cells = heatCells(items, NY);
    expect([...cells.keys()].sort()).toEqual([cellKey(1, 5), cellKey(1, 6)]);
    expect(cellFigures(cells.get(cellKey(1, 5))!)).toEqual({ posts: 1, rate: 0.1 });
    // a post on two platforms is one post of its cell; every reading counts in the rate
    const later = cellFigures(cells.get(cellKey(1, 6))!);
    expect(later.posts).toBe(3);
    expect(later.rate).toBeCloseTo(120 / 4000);
    expect(cellFigures([])).toEqual({ posts: 0, rate: null });
  });
});
