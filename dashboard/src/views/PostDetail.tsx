/** One post: per platform its result and link, attempts and errors, and the metrics curve from the
 * analytics snapshots (GET /posts/{id} and GET /analytics/posts/{id}; metrics the API refuses show its
 * reason where they would be, the rest of the post still shown). */
import { useEffect, useMemo, useState } from "preact/hooks";
import { explain, type Api, type Post } from "../api";
import type { components } from "../api/schema";
import { LineChart, type LineSpec } from "../charts/LineChart";
import { colorOf, percent } from "../charts/colors";
import { PLATFORM_LABEL } from "../platforms";
import { Problem } from "../Problem";
import { dateTimeLabel } from "../time";

type PostAnalytics = components["schemas"]["PostAnalyticsView"];
type PlatformAnalytics = components["schemas"]["PlatformAnalyticsView"];

const label = (platform: string) => PLATFORM_LABEL[platform] ?? platform;
const when = (iso: string | null | undefined) => (iso ? dateTimeLabel(new Date(iso)) : "–");
const METRICS = ["views", "reach", "likes", "comments", "shares", "saves", "clicks"] as const;

/** Engagements per platform at each snapshot; a platform without a snapshot at an instant has a gap
 * there, drawn across. */
function curve(platforms: PlatformAnalytics[]): LineSpec | null {
  const withHistory = platforms.filter((p) => p.history.length);
  if (!withHistory.length) return null;
  const x = [...new Set(withHistory.flatMap((p) => p.history.map((s) => Date.parse(s.at) / 1000)))].sort((a, b) => a - b);
  return {
    x,
    series: withHistory.map((p) => {
      const at = new Map(p.history.map((s) => [Date.parse(s.at) / 1000, s.metrics.engagements]));
      return { label: label(p.platform), color: colorOf(p.platform), values: x.map((t) => at.get(t) ?? null) };
    }),
    format: (v) => v.toLocaleString(),
  };
}

function Collection({ item }: { item: PlatformAnalytics }) {
  const c = item.collection;
  if (c.status === "stopped") return <span class="reason">stopped: {c.stopReason ?? c.lastError ?? "unknown"}</span>;
  if (c.status === "complete") return <span>complete ({c.pointsTaken} readings)</span>;
  return (
    <span>
      active, {c.pointsTaken} readings{c.nextCollectionAt ? `, next ${when(c.nextCollectionAt)}` : ""}
      {c.failures ? `, ${c.failures} failed` : ""}
    </span>
  );
}

export function PostDetail({ api, postId }: { api: Api; postId: string }) {
  const [post, setPost] = useState<Post | null>(null);
  const [analytics, setAnalytics] = useState<PostAnalytics | null>(null);
  const [problem, setProblem] = useState<string | null>(null);
  const [metricsProblem, setMetricsProblem] = useState<unknown>(null);

  useEffect(() => {
    setPost(null);
    setAnalytics(null);
    setProblem(null);
    setMetricsProblem(null);
    api
      .GET("/posts/{postId}", { params: { path: { postId } } })
      .then(({ data, error }) => {
        if (error) setProblem(`This post cannot be shown: ${explain(error)}`);
        else setPost(data);
      })
      .catch((e: unknown) => setProblem(`This post cannot be shown: ${explain(e)}`));
    api
      .GET("/analytics/posts/{postId}", { params: { path: { postId } } })
      .then(({ data, error }) => {
        if (error) setMetricsProblem(error);
        else setAnalytics(data);
      })
      .catch((e: unknown) => setMetricsProblem(e));
  }, [postId]);

  const spec = useMemo(() => (analytics ? curve(analytics.platforms) : null), [analytics]);

  if (problem) return <p class="problem" role="alert">{problem}</p>;
  if (!post) return <p>Loading…</p>;
  const measured = analytics?.platforms ?? [];
  return (
    <section class="post-detail">
      <p>
        <a href="#/calendar">‹ Calendar</a>
      </p>
      <h2>
        Post <span class={`badge status-${post.status}`}>{post.status.replace(/_/g, " ")}</span>
      </h2>
      <p class="content-full">{post.content}</p>
      <dl class="facts">
        <dt>Scheduled</dt>
        <dd>{when(post.scheduledTime)}</dd>
        {post.completedAt && (
          <>
            <dt>Completed</dt>
            <dd>{when(post.completedAt)}</dd>
          </>
        )}
        <dt>Attempt</dt>
        <dd>
          {post.attempt}
          {post.nextAttemptAt ? `, next ${when(post.nextAttemptAt)}` : ""}
        </dd>
        {post.finalReason && (
          <>
            <dt>Reason</dt>
            <dd class="reason">{post.finalReason}</dd>
          </>
        )}
        {post.heldByCrisis && (
          <>
            <dt>Held</dt>
            <dd class="reason">by a crisis since {when(post.heldAt)} (resume the queue in the Inbox)</dd>
          </>
        )}
      </dl>

      <h3>Per platform</h3>
      <table class="results">
        <thead>
          <tr>
            <th>Platform</th>
            <th>Result</th>
            <th>Published</th>
            <th>Attempts</th>
            <th>Last error</th>
          </tr>
        </thead>
        <tbody>
          {post.results.map((r) => (
            <tr key={r.platform} data-platform={r.platform}>
              <th scope="row">{label(r.platform)}</th>
              <td>
                <span class={`platform result-${r.status}`}>{r.status}</span>{" "}
                {r.url ? (
                  <a href={r.url} target="_blank" rel="noopener noreferrer">
                    Open on {label(r.platform)}
                  </a>
                ) : (
                  r.platformPostId && <code>{r.platformPostId}</code>
                )}
              </td>
              <td>{when(r.publishedAt)}</td>
              <td>{r.attempts ?? 0}</td>
              <td class="reason">{r.lastError ? `${r.lastError.message} (${r.lastError.code})` : ""}</td>
            </tr>
          ))}
        </tbody>
      </table>

      <h3>Metrics</h3>
      {metricsProblem ? (
        <Problem error={metricsProblem} doing="The metrics cannot be shown" />
      ) : !measured.length ? (
        <p class="muted">No metrics yet: they are read 1 hour, 6 hours, 1, 3, 7 and 28 days after publishing.</p>
      ) : (
        <>
          {spec && <LineChart title="Engagements since publishing" spec={spec} />}
          <table class="metrics">
            <thead>
              <tr>
                <th>Platform</th>
                {METRICS.map((m) => (
                  <th key={m}>{m}</th>
                ))}
                <th>engagements</th>
                <th>rate</th>
                <th>collection</th>
              </tr>
            </thead>
            <tbody>
              {measured.map((p) => (
                <tr key={p.platform} data-platform={p.platform}>
                  <th scope="row">{label(p.platform)}</th>
                  {METRICS.map((m) => (
                    <td key={m}>{p.latest?.[m]?.toLocaleString() ?? "–"}</td>
                  ))}
                  <td>{p.latest?.engagements.toLocaleString() ?? "–"}</td>
                  <td>{percent(p.latest?.engagementRate)}</td>
                  <td>
                    <Collection item={p} />
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </>
      )}
    </section>
  );
}
