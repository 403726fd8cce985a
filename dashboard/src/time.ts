/** Dates in the user's time zone, with the platform's Intl only (no date library): the calendar's
 * days and hours are the user's, wherever the browser's clock is. */

export const userZone = Intl.DateTimeFormat().resolvedOptions().timeZone;

export interface Day {
  y: number;
  m: number; // 1-12
  d: number;
}

const partsFormat = new Map<string, Intl.DateTimeFormat>();

function formatter(zone: string): Intl.DateTimeFormat {
  let f = partsFormat.get(zone);
  if (!f) {
    f = new Intl.DateTimeFormat("en-US", {
      timeZone: zone,
      hourCycle: "h23",
      year: "numeric",
      month: "numeric",
      day: "numeric",
      hour: "numeric",
      minute: "numeric",
      second: "numeric",
    });
    partsFormat.set(zone, f);
  }
  return f;
}

/** The wall-clock fields of an instant in a zone. */
export function zoned(instant: Date, zone = userZone) {
  const p: Record<string, number> = {};
  for (const part of formatter(zone).formatToParts(instant)) {
    if (part.type !== "literal") p[part.type] = Number(part.value);
  }
  return { y: p.year, m: p.month, d: p.day, h: p.hour, min: p.minute, s: p.second };
}

/** The zone's offset from UTC at an instant, in ms. */
function offsetAt(t: number, zone: string): number {
  const z = zoned(new Date(t), zone);
  return Date.UTC(z.y, z.m - 1, z.d, z.h, z.min, z.s) - Math.floor(t / 1000) * 1000;
}

/** The instant at a wall-clock time in a zone (the later one in a repeated hour; a skipped hour
 * moves forward, as the API reads such a time). */
export function instantAt(day: Day, hour: number, minute: number, zone = userZone): Date {
  const wall = Date.UTC(day.y, day.m - 1, day.d, hour, minute);
  // the offsets on either side of the time (a zone changes its clocks at most once in a day)
  const before = offsetAt(wall - 12 * 3600_000, zone);
  const after = offsetAt(wall + 12 * 3600_000, zone);
  const fits = [wall - before, wall - after].filter((t) => t + offsetAt(t, zone) === wall);
  return new Date(fits.length ? Math.max(...fits) : wall - before);
}

export function dayOf(instant: Date, zone = userZone): Day {
  const { y, m, d } = zoned(instant, zone);
  return { y, m, d };
}

export function addDays(day: Day, n: number): Day {
  const t = new Date(Date.UTC(day.y, day.m - 1, day.d + n));
  return { y: t.getUTCFullYear(), m: t.getUTCMonth() + 1, d: t.getUTCDate() };
}

/** 0 = Monday ... 6 = Sunday. */
export function weekday(day: Day): number {
  return (new Date(Date.UTC(day.y, day.m - 1, day.d)).getUTCDay() + 6) % 7;
}

export function startOfWeek(day: Day): Day {
  return addDays(day, -weekday(day));
}

export function dayKey(day: Day): string {
  return `${day.y}-${String(day.m).padStart(2, "0")}-${String(day.d).padStart(2, "0")}`;
}

export function sameDay(a: Day, b: Day): boolean {
  return a.y === b.y && a.m === b.m && a.d === b.d;
}

export function dayLabel(day: Day, options: Intl.DateTimeFormatOptions): string {
  return new Date(Date.UTC(day.y, day.m - 1, day.d, 12)).toLocaleDateString(undefined, {
    ...options,
    timeZone: "UTC",
  });
}

export function timeLabel(instant: Date, zone = userZone): string {
  return instant.toLocaleTimeString(undefined, { timeZone: zone, hour: "2-digit", minute: "2-digit" });
}

export function dateTimeLabel(instant: Date, zone = userZone): string {
  return instant.toLocaleString(undefined, {
    timeZone: zone,
    weekday: "short",
    day: "numeric",
    month: "short",
    hour: "2-digit",
    minute: "2-digit",
  });
}

/** An instant as ISO 8601 with the zone's offset at that instant (what the API wants). */
export function isoWithOffset(instant: Date, zone = userZone): string {
  const z = zoned(instant, zone);
  const offset = Math.round((Date.UTC(z.y, z.m - 1, z.d, z.h, z.min, z.s) - instant.getTime()) / 60000);
  const sign = offset < 0 ? "-" : "+";
  const abs = Math.abs(offset);
  const two = (n: number) => String(n).padStart(2, "0");
  return (
    `${z.y}-${two(z.m)}-${two(z.d)}T${two(z.h)}:${two(z.min)}:${two(z.s)}` +
    `${sign}${two(Math.floor(abs / 60))}:${two(abs % 60)}`
  );
}

/** `YYYY-MM-DDTHH:MM` for an <input type="datetime-local">, in the zone. */
export function localInputValue(instant: Date, zone = userZone): string {
  return isoWithOffset(instant, zone).slice(0, 16);
}

export function fromLocalInput(value: string, zone = userZone): Date | null {
  const m = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})$/.exec(value);
  if (!m) return null;
  return instantAt({ y: +m[1], m: +m[2], d: +m[3] }, +m[4], +m[5], zone);
}
