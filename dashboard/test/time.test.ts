// The calendar's days and hours in the user's zone, across the changes of clocks.
import { describe, expect, it } from "vitest";
import { atHour, byDay, monthDays, weekDays } from "../src/calendar";
import { dayKey, fromLocalInput, instantAt, isoWithOffset, localInputValue, zoned } from "../src/time";

const NY = "America/New_York";
const LONDON = "Europe/London";
const post = (postId: string, scheduledTime: string) => ({ postId, scheduledTime });
const keys = (days: { y: number; m: number; d: number }[]) => days.map(dayKey);

describe("New York, 2026-03-08 (02:00 EST becomes 03:00 EDT)", () => {
  it("the week runs Monday to Sunday and holds the day of the change", () => {
    expect(keys(weekDays({ y: 2026, m: 3, d: 8 }))).toEqual([
      "2026-03-02",
      "2026-03-03",
      "2026-03-04",
      "2026-03-05",
      "2026-03-06",
      "2026-03-07",
      "2026-03-08",
    ]);
    expect(keys(weekDays({ y: 2026, m: 3, d: 9 }))[0]).toBe("2026-03-09");
  });

  it("puts each post at its hour on the zone's clock, and none in the skipped hour", () => {
    const day = [post("a", "2026-03-08T06:30:00Z"), post("b", "2026-03-08T07:30:00Z")];
    expect(atHour(day, 1, NY).map((p) => p.postId)).toEqual(["a"]);
    expect(atHour(day, 2, NY)).toEqual([]);
    expect(atHour(day, 3, NY).map((p) => p.postId)).toEqual(["b"]);
  });

  it("files a post under the zone's day, not UTC's", () => {
    const days = byDay([post("late", "2026-03-09T03:30:00Z"), post("early", "2026-03-08T04:30:00Z")], NY);
    expect(days.get("2026-03-08")?.map((p) => p.postId)).toEqual(["late"]);
    expect(days.get("2026-03-07")?.map((p) => p.postId)).toEqual(["early"]);
  });

  it("a wall-clock time becomes the right instant and offset on either side", () => {
    const day = { y: 2026, m: 3, d: 8 };
    expect(instantAt(day, 1, 30, NY).toISOString()).toBe("2026-03-08T06:30:00.000Z");
    expect(instantAt(day, 3, 30, NY).toISOString()).toBe("2026-03-08T07:30:00.000Z");
    // 02:30 does not exist that night: it moves forward an hour
    expect(isoWithOffset(instantAt(day, 2, 30, NY), NY)).toBe("2026-03-08T03:30:00-04:00");
    expect(isoWithOffset(new Date("2026-03-08T06:30:00Z"), NY)).toBe("2026-03-08T01:30:00-05:00");
  });

  it("the composer's time field reads and writes the zone's clock", () => {
    expect(fromLocalInput("2026-03-08T10:00", NY)?.toISOString()).toBe("2026-03-08T14:00:00.000Z");
    expect(fromLocalInput("2026-03-07T10:00", NY)?.toISOString()).toBe("2026-03-07T15:00:00.000Z");
    expect(localInputValue(new Date("2026-03-08T14:00:00Z"), NY)).toBe("2026-03-08T10:00");
    expect(fromLocalInput("not a time", NY)).toBeNull();
  });

  it("the month grid covers March 2026 in whole weeks", () => {
    const days = keys(monthDays({ y: 2026, m: 3, d: 8 }));
    expect(days).toHaveLength(42);
    expect(days[0]).toBe("2026-02-23");
    expect(days.at(-1)).toBe("2026-04-05");
  });
});

describe("London, 2026-10-25 (02:00 BST becomes 01:00 GMT)", () => {
  it("both 01:30s fall in the 01:00 hour of the 25th", () => {
    const day = [post("bst", "2026-10-25T00:30:00Z"), post("gmt", "2026-10-25T01:30:00Z")];
    expect(atHour(day, 1, LONDON).map((p) => p.postId)).toEqual(["bst", "gmt"]);
    expect(atHour(day, 0, LONDON)).toEqual([]);
    expect(zoned(new Date("2026-10-25T02:30:00Z"), LONDON).h).toBe(2);
  });

  it("files a post just after midnight BST under the 25th", () => {
    const days = byDay([post("midnight", "2026-10-24T23:30:00Z")], LONDON);
    expect([...days.keys()]).toEqual(["2026-10-25"]);
  });

  it("a repeated wall-clock time is the later instant", () => {
    const day = { y: 2026, m: 10, d: 25 };
    expect(instantAt(day, 1, 30, LONDON).toISOString()).toBe("2026-10-25T01:30:00.000Z");
    expect(isoWithOffset(instantAt(day, 1, 30, LONDON), LONDON)).toBe("2026-10-25T01:30:00+00:00");
    expect(isoWithOffset(instantAt({ y: 2026, m: 10, d: 24 }, 12, 0, LONDON), LONDON)).toBe(
      "2026-10-24T12:00:00+01:00",
    );
  });

  it("the week and the month around the change", () => {
    expect(keys(weekDays({ y: 2026, m: 10, d: 25 }))).toEqual([
      "2026-10-19",
      "2026-10-20",
      "2026-10-21",
      "2026-10-22",
      "2026-10-23",
      "2026-10-24",
      "2026-10-25",
    ]);
    const month = keys(monthDays({ y: 2026, m: 10, d: 25 }));
    expect(month).toHaveLength(35);
    expect([month[0], month.at(-1)]).toEqual(["2026-09-28", "2026-11-01"]);
  });
});
