/** Results: the analytics summary of a period (against the period before) by platform and content
 * type, the engagement rate over time, the best hours and weekdays, and the insights with their
 * impact and confidence (dismiss one).
 *
 * The summary and the insights come from their routes. The curve and the heat map are drawn from the
 * readings of the summary's own period (GET /analytics/readings with its start and end, every page
 * of it): one row per post and platform measured in the period, collected or imported from a CSV, so
 * imported history counts in them as it does in the summary and the insights. Every refusal of the
 * API is shown with its message and code. */
import { useEffect, useMemo, useState } from "preact/hooks";
import type { Api } from "../api";
import type { components } from "../api/schema";
import { LineChart, type LineSpec } from "../charts/LineChart";
import { colorOf, percent } from "../charts/colors";
import { PLATFORM_LABEL, PLATFORMS } from "../platforms";
import { Problem } from "../Problem";
import { cellFigures, cellKey, daysOf, everyPage, heatCells, rateByDay, toReading, type Reading } from "../results";
import { instantAt } from "../time";

type Summary = components["schemas"]["SummaryView"];
type Comparison = components["schemas"]["ComparisonView"];
type Insight = components["schemas"]["InsightView"];

const RANGES = [
  ["7d", "Last 7 days"],
  ["30d", "Last 30 days"],
  ["90d", "Last 90 days"],
] as const;
type Range = (typeof RANGES)[number][0];
const WEEKDAYS = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];
const HOURS = Array.from({ length: 24 }, (_, h) => h);
const PAGE = 1000; // readings a page (the API's most)
const label = (platform: string) => PLATFORM_LABEL[platform] ?? platform;

/** Every reading of the summary's period (and platform), page after page. */
function readings(api: Api, summary: Summary, platform: string, wanted: () => boolean) {
  return everyPage(async (nextToken) => {
    const { data, error } = await api.GET("/analytics/readings", {
      params: { query: { from: summary.start, to: summary.end, platform: platform || undefined, limit: PAGE, nextToken } },
    });
    return error ? { error } : { rows: data.readings.map(toReading), nextToken: data.nextToken };
  }, wanted);
}

function overTime(items: Reading[], start: Date, end: Date): LineSpec | null {
  if (!items.length) return null;
  const days = daysOf(start, end);
  const platforms = [...new Set(items.map((r) => r.platform))].sort();
  return {
    x: days.map((day) => instantAt(day, 0, 0).getTime() / 1000),
    series: [
      { label: "All platforms", color: "#2f6fdb", values: rateByDay(items, days) },
      ...(platforms.length > 1
        ? platforms.map((p) => ({ label: label(p), color: colorOf(p), values: rateByDay(items.filter((r) => r.platform === p), days) }))
        : []),
    ],
    format: (v) => percent(v),
  };
}

/** Weekday and hour (the user's zone) of publishing: the pooled rate and the posts behind it. */
function HeatMap({ items }: { items: Reading[] }) {
  const cells = heatCells(items);
  const rates = [...cells.values()].map((group) => cellFigures(group).rate).filter((v): v is number => v != null);
  const best = Math.max(...rates, 0);
  return (
    <figure class="heatmap-figure" aria-label="Best hours and weekdays">
      <figcaption>Best hours and weekdays: engagement rate by publishing time, with the number of posts in each cell</figcaption>
      <div class="heatmap" role="table">
        <div role="row" class="hm-row">
          <span class="hm-label" />
          {HOURS.map((h) => (
            <span key={h} class="hm-hour" role="columnheader">
              {h}
            </span>
          ))}
        </div>
        {WEEKDAYS.map((name, d) => (
          <div key={name} role="row" class="hm-row">
            <span class="hm-label" role="rowheader">
              {name}
            </span>
            {HOURS.map((h) => {
              const { posts, rate } = cellFigures(cells.get(cellKey(d, h)) ?? []);
              const strength = rate != null && best > 0 ? rate / best : 0;
              return (
                <span
                  key={h}
                  role="cell"
                  class={`hm-cell${posts ? " has-posts" : ""}`}
                  data-weekday={name}
                  data-hour={h}
                  style={posts ? { background: `rgba(31, 138, 76, ${0.15 + 0.85 * strength})` } : undefined}
                  title={posts ? `${name} ${h}:00: ${percent(rate)} over ${posts} post${posts > 1 ? "s" : ""}` : `${name} ${h}:00: no posts`}
                >
                  {posts || ""}
                </span>
              );
            })}
          </div>
        ))}
      </div>
    </figure>
  );
}

function change(value: number | null | undefined) {
  if (value == null) return <span class="change">–</span>;
  const up = value >= 0;
  return (
    <span class={`change ${up ? "up" : "down"}`}>
      {up ? "▲" : "▼"} {Math.abs(value * 100).toFixed(0)}%
    </span>
  );
}

/** This period's rate against the previous one, per group, as bars. */
function RateBars({ title, groups, name }: { title: string; groups: Record<string, Comparison>; name: (key: string) => string }) {
  const entries = Object.entries(groups);
  const most = Math.max(...entries.flatMap(([, c]) => [c.current.engagementRate ?? 0, c.previous.engagementRate ?? 0]), 0);
  const width = (rate: number | null) => `${most && rate ? (rate / most) * 100 : 0}%`;
  return (
    <figure class="bars" aria-label={title}>
      <figcaption>{title}</figcaption>
      {!entries.length && <p class="muted">No posts in this period.</p>}
      {entries.map(([key, c]) => (
        <div key={key} class="bar-group" data-group={key}>
          <span class="bar-name">{name(key)}</span>
          <span class="bar-track" title={`this period: ${percent(c.current.engagementRate)}`}>
            <span class="bar now" style={{ width: width(c.current.engagementRate) }} />
          </span>
          <span class="bar-value">
            {percent(c.current.engagementRate)} {change(c.change.engagementRate)} · {c.current.posts} posts
          </span>
          <span class="bar-name muted">before</span>
          <span class="bar-track" title={`the period before: ${percent(c.previous.engagementRate)}`}>
            <span class="bar before" style={{ width: width(c.previous.engagementRate) }} />
          </span>
          <span class="bar-value muted">
            {percent(c.previous.engagementRate)} · {c.previous.posts} posts
          </span>
        </div>
      ))}
    </figure>
  );
}

function Totals({ summary }: { summary: Summary }) {
  const o = summary.overall;
  const cards: [string, string, number | null | undefined][] = [
    ["Posts", o.current.posts.toLocaleString(), o.change.posts],
    ["Engagement rate", percent(o.current.engagementRate, 2), o.change.engagementRate],
    ["Engagements", o.current.engagements.toLocaleString(), o.change.engagements],
    ["Reach", o.current.reach.toLocaleString(), o.change.reach],
    ["Views", o.current.views.toLocaleString(), o.change.views],
    ["Site sessions", o.current.siteSessions.toLocaleString(), o.change.siteSessions],
  ];
  return (
    <div class="totals">
      {cards.map(([name, value, delta]) => (
        <div key={name} class="total" data-total={name}>
          <span class="muted">{name}</span>
          <strong>{value}</strong>
          {change(delta)}
        </div>
      ))}
    </div>
  );
}

function InsightCard({ insight, onDismiss }: { insight: Insight; onDismiss: () => void }) {
  return (
    <article class={`insight impact-${insight.impact}`} data-insight-id={insight.id}>
      <header>
        <span class="badge">{insight.type}</span>
        <span class={`badge impact-${insight.impact}`}>{insight.impact} impact</span>
        <span class="muted">confidence {percent(insight.confidence, 0)}</span>
        <button onClick={onDismiss}>Dismiss</button>
      </header>
      <h4>{insight.title}</h4>
      <p>{insight.description}</p>
      {insight.recommendations.length > 0 && (
        <ul>
          {insight.recommendations.map((r) => (
            <li key={r}>{r}</li>
          ))}
        </ul>
      )}
      <details>
        <summary>Evidence</summary>
        <pre>{JSON.stringify(insight.evidence, null, 2)}</pre>
      </details>
    </article>
  );
}

export function Results({ api }: { api: Api }) {
  const [range, setRange] = useState<Range>("30d");
  const [platform, setPlatform] = useState("");
  const [summary, setSummary] = useState<Summary | null>(null);
  const [items, setItems] = useState<Reading[] | null>(null);
  const [insights, setInsights] = useState<Insight[] | null>(null);
  // each refusal where it belongs, with the API's message and code (Problem, explain)
  const [summaryProblem, setSummaryProblem] = useState<unknown>(null);
  const [readingsProblem, setReadingsProblem] = useState<unknown>(null);
  const [insightsProblem, setInsightsProblem] = useState<unknown>(null);
  const [dismissProblem, setDismissProblem] = useState<unknown>(null);
  const [notice, setNotice] = useState<string | null>(null);

  useEffect(() => {
    api
      .GET("/insights", {})
      .then(({ data, error }) => {
        if (error) setInsightsProblem(error);
        else setInsights(data.insights);
      })
      .catch((e: Error) => setInsightsProblem(e));
  }, []);

  useEffect(() => {
    let current = true;
    const wanted = () => current;
    setSummary(null);
    setItems(null);
    setSummaryProblem(null);
    setReadingsProblem(null);
    api
      .GET("/analytics/summary", { params: { query: { range, platform: platform || undefined } } })
      .then(async ({ data, error }) => {
        if (!current) return;
        if (error) return setSummaryProblem(error);
        setSummary(data);
        try {
          const found = await readings(api, data, platform, wanted);
          if (!current) return;
          if (found.error !== undefined) setReadingsProblem(found.error);
          else setItems(found.rows);
        } catch (e) {
          if (current) setReadingsProblem(e);
        }
      })
      .catch((e: Error) => current && setSummaryProblem(e));
    return () => {
      current = false;
    };
  }, [range, platform]);

  const spec = useMemo(
    () => (summary && items ? overTime(items, new Date(summary.start), new Date(summary.end)) : null),
    [summary, items],
  );

  async function dismiss(insight: Insight) {
    setNotice(null);
    setDismissProblem(null);
    try {
      const { error } = await api.POST("/insights/{insightId}/dismiss", { params: { path: { insightId: insight.id } } });
      if (error) return setDismissProblem(error);
    } catch (e) {
      return setDismissProblem(e);
    }
    setInsights((list) => (list ?? []).filter((i) => i.id !== insight.id));
    setNotice(`Dismissed "${insight.title}": it comes back only if its evidence changes by a quarter or more.`);
  }

  return (
    <section class="results-view">
      <div class="toolbar">
        <h2>Results</h2>
        <select value={range} onChange={(e) => setRange(e.currentTarget.value as Range)} aria-label="Period">
          {RANGES.map(([value, name]) => (
            <option key={value} value={value}>
              {name}
            </option>
          ))}
        </select>
        <select value={platform} onChange={(e) => setPlatform(e.currentTarget.value)} aria-label="Platform">
          <option value="">All platforms</option>
          {PLATFORMS.map((p) => (
            <option key={p} value={p}>
              {label(p)}
            </option>
          ))}
        </select>
      </div>
      <Problem error={summaryProblem} doing="Could not read the summary" />
      {notice && <p class="notice" role="status">{notice}</p>}
      {!summary ? (
        !summaryProblem && <p>Loading…</p>
      ) : (
        <>
          <Totals summary={summary} />
          <div class="charts">
            <Problem error={readingsProblem} doing="Could not read the readings behind the curve and the heat map" />
            {items === null ? (
              !readingsProblem && <p>Reading the posts' analytics…</p>
            ) : spec ? (
              <LineChart title="Engagement rate over time (by day of publishing)" spec={spec} />
            ) : (
              <p class="muted">No post of this period has metrics yet, published by Tidings or imported.</p>
            )}
            {items && <HeatMap items={items} />}
          </div>
          <div class="charts">
            <RateBars title="Engagement rate by platform" groups={summary.byPlatform} name={label} />
            <RateBars title="Engagement rate by content type" groups={summary.byContentType} name={(k) => k} />
          </div>
          {summary.topPosts.length > 0 && (
            <>
              <h3>Top posts</h3>
              <ol class="top-posts">
                {summary.topPosts.map((p) => (
                  <li key={`${p.postId}-${p.platform}`}>
                    <a href={`#/posts/${encodeURIComponent(p.postId)}`}>{label(p.platform)}</a>{" "}
                    {p.contentType && <span class="muted">{p.contentType}</span>} · {p.engagements.toLocaleString()} engagements ·{" "}
                    {percent(p.engagementRate)}
                  </li>
                ))}
              </ol>
            </>
          )}
        </>
      )}
      <h3>Insights</h3>
      <Problem error={insightsProblem} doing="Could not read the insights" />
      <Problem error={dismissProblem} doing="Could not dismiss the insight" />
      {insights === null ? (
        !insightsProblem && <p>Loading…</p>
      ) : !insights.length ? (
        <p class="muted">No insights yet: they need at least 10 posts a group to compare.</p>
      ) : (
        <div class="insights">
          {insights.map((i) => (
            <InsightCard key={i.id} insight={i} onDismiss={() => void dismiss(i)} />
          ))}
        </div>
      )}
    </section>
  );
}
