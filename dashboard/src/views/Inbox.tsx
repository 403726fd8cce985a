/** Inbox: the comments on the user's posts by sentiment and status, with what the analysis decided
 * and why; approve, edit or write a reply, hide or dismiss. Above them, an active crisis with its
 * evidence, and "Resume queue" while it holds the scheduled posts. */
import { Fragment } from "preact";
import { useEffect, useState } from "preact/hooks";
import { explain, type Api } from "../api";
import type { components } from "../api/schema";
import { PLATFORM_LABEL } from "../platforms";
import { dateTimeLabel } from "../time";

type Comment = components["schemas"]["CommentView"];
type Crisis = components["schemas"]["CrisisView"];

const STATUSES = ["needs_response", "new", "handled", "hidden", "dismissed"] as const;
const SENTIMENTS = ["negative", "mixed", "neutral", "positive"] as const;
const HIDEABLE = new Set(["facebook", "instagram"]);
const OPEN = new Set(["new", "needs_response"]);
const words = (s: string) => s.replace(/_/g, " ");
const label = (platform: string) => PLATFORM_LABEL[platform] ?? platform;
const when = (iso: string | null | undefined) => (iso ? dateTimeLabel(new Date(iso)) : "");

async function allComments(api: Api): Promise<Comment[]> {
  const out: Comment[] = [];
  let nextToken: string | undefined;
  for (let page = 0; page < 10; page++) {
    const { data, error } = await api.GET("/comments", { params: { query: { limit: 100, nextToken } } });
    if (error) throw new Error(explain(error));
    out.push(...data.comments);
    nextToken = data.nextToken ?? undefined;
    if (!nextToken) break;
  }
  return out;
}

function Evidence({ evidence }: { evidence: Record<string, unknown> }) {
  const shown = (v: unknown) => (typeof v === "number" && !Number.isInteger(v) ? v.toFixed(2) : typeof v === "object" ? JSON.stringify(v) : String(v));
  return (
    <dl class="evidence">
      {Object.entries(evidence).map(([key, value]) => (
        <Fragment key={key}>
          <dt>{key}</dt>
          <dd>{shown(value)}</dd>
        </Fragment>
      ))}
    </dl>
  );
}

function CrisisBanner({ crisis, onResume, onResolve }: { crisis: Crisis; onResume: () => void; onResolve: () => void }) {
  return (
    <section class={`crisis severity-${crisis.severity}`} role="alert" aria-label="Crisis" data-crisis-id={crisis.crisisId}>
      <header>
        <strong>
          Crisis: {crisis.severity} severity, {crisis.status}
        </strong>
        <span>since {when(crisis.openedAt)}</span>
        {crisis.queueHeld && <span class="held">Your scheduled posts are held</span>}
        <span class="actions">
          {crisis.queueHeld && <button onClick={onResume}>Resume queue</button>}
          {crisis.status !== "resolved" && <button onClick={onResolve}>Resolve</button>}
        </span>
      </header>
      <p>Signals: {crisis.signals.length ? crisis.signals.map(words).join(", ") : "none firing now"}</p>
      {Object.entries(crisis.evidence).map(([signal, evidence]) => (
        <details key={signal} open>
          <summary>{words(signal)}</summary>
          <Evidence evidence={evidence} />
        </details>
      ))}
    </section>
  );
}

function Reply({ comment, act }: { comment: Comment; act: (path: "approve" | "reply", text?: string) => Promise<void> }) {
  const reply = comment.reply;
  const [text, setText] = useState(reply?.text ?? "");
  const [busy, setBusy] = useState(false);
  useEffect(() => setText(reply?.text ?? ""), [reply?.text, reply?.state]);
  const run = async (path: "approve" | "reply", body?: string) => {
    setBusy(true);
    await act(path, body).finally(() => setBusy(false));
  };

  if (reply && ["posted", "sending", "unknown", "approved"].includes(reply.state)) {
    return (
      <div class={`reply reply-${reply.state}`}>
        <strong>{reply.state === "posted" ? `Replied ${when(reply.postedAt)}` : `Reply ${reply.state}…`}</strong>
        <p class="reply-text">{reply.text}</p>
      </div>
    );
  }
  if (!reply && !OPEN.has(comment.status)) return null;
  const drafted = reply?.state === "draft" || (reply?.state === "failed" && reply.draft);
  return (
    <div class="reply">
      {reply?.state === "failed" && <p class="reason">The reply was not posted: {reply.lastError}</p>}
      <label>
        {drafted ? `Drafted reply (${reply?.draftedBy ?? "template"}), edit it before approving if you like` : "Write a reply"}
        <textarea rows={3} value={text} onInput={(e) => setText(e.currentTarget.value)} />
      </label>
      {drafted ? (
        <button disabled={busy || !text.trim()} onClick={() => void run("approve", text === reply?.text ? undefined : text)}>
          Approve reply
        </button>
      ) : (
        <button disabled={busy || !text.trim()} onClick={() => void run("reply", text)}>
          Send reply
        </button>
      )}
    </div>
  );
}

type Action = "approve" | "reply" | "hide" | "dismiss";

function CommentCard(props: { api: Api; comment: Comment; onChange: (c: Comment) => void; onProblem: (p: string) => void }) {
  const { api, comment, onChange, onProblem } = props;
  const a = comment.analysis;
  async function act(action: Action, text?: string) {
    const path = { params: { path: { commentId: comment.commentId } } };
    const answer =
      action === "approve"
        ? await api.POST("/comments/{commentId}/reply/approve", { ...path, body: text === undefined ? null : { text } })
        : action === "reply"
          ? await api.POST("/comments/{commentId}/reply", { ...path, body: { text: text ?? "" } })
          : action === "hide"
            ? await api.POST("/comments/{commentId}/hide", path)
            : await api.POST("/comments/{commentId}/dismiss", path);
    if (answer.error) onProblem(`Could not ${action === "approve" ? "approve the reply" : action}: ${explain(answer.error)}`);
    else if (answer.data) onChange(answer.data);
  }

  return (
    <article class={`comment sentiment-${a?.sentiment ?? "unknown"}`} data-comment-id={comment.commentId}>
      <header>
        <strong>{comment.authorName ?? comment.authorId ?? "someone"}</strong>
        <span class="muted">
          on {label(comment.platform)} · {when(comment.createdAt)}
        </span>
        {comment.postId && <a href={`#/posts/${encodeURIComponent(comment.postId)}`}>the post</a>}
        <span class={`badge sentiment sentiment-${a?.sentiment ?? "unknown"}`}>{a ? a.sentiment : "not analysed yet"}</span>
        <span class={`badge comment-status status-${comment.status}`}>{words(comment.status)}</span>
      </header>
      <p class="comment-text">{comment.text}</p>
      {a && (
        <p class="analysis muted">
          {words(a.decision)}
          {a.reasons.length ? `: ${a.reasons.map(words).join(", ")}` : ""}
          {a.spam ? ` · spam (${a.spamReasons.map(words).join(", ")})` : ""}
          {a.toxicityLabels.length ? ` · ${a.toxicityLabels.map(words).join(", ").toLowerCase()}` : ""}
        </p>
      )}
      <Reply comment={comment} act={act} />
      <div class="actions">
        {HIDEABLE.has(comment.platform) && comment.status !== "hidden" && <button onClick={() => void act("hide")}>Hide</button>}
        {OPEN.has(comment.status) && <button onClick={() => void act("dismiss")}>Dismiss</button>}
      </div>
    </article>
  );
}

export function Inbox({ api }: { api: Api }) {
  const [comments, setComments] = useState<Comment[] | null>(null);
  const [crises, setCrises] = useState<Crisis[]>([]);
  const [status, setStatus] = useState("");
  const [sentiment, setSentiment] = useState("");
  const [problem, setProblem] = useState<string | null>(null);
  const [notice, setNotice] = useState<string | null>(null);

  const load = () => {
    setProblem(null);
    allComments(api)
      .then(setComments)
      .catch((e: Error) => setProblem(`Comments: ${e.message}`));
    api.GET("/crises", { params: { query: { limit: 10 } } }).then(({ data, error }) => {
      if (error) setProblem(`Crises: ${explain(error)}`);
      else setCrises(data.crises.filter((c) => c.status !== "resolved" || c.queueHeld));
    });
  };
  useEffect(load, []);

  async function resume(crisis: Crisis) {
    setNotice(null);
    const { data, error } = await api.POST("/crises/{crisisId}/resume-queue", { params: { path: { crisisId: crisis.crisisId } } });
    if (error) return setProblem(`Could not resume the queue: ${explain(error)}`);
    const n = data.releasedPosts.length;
    setNotice(`Queue resumed: ${n} held post${n === 1 ? "" : "s"} released; those whose time passed go out now.`);
    setCrises((list) => list.map((c) => (c.crisisId === crisis.crisisId ? data.crisis : c)).filter((c) => c.status !== "resolved" || c.queueHeld));
  }

  async function resolve(crisis: Crisis) {
    setNotice(null);
    const { data, error } = await api.POST("/crises/{crisisId}/resolve", { params: { path: { crisisId: crisis.crisisId } } });
    if (error) return setProblem(`Could not resolve the crisis: ${explain(error)}`);
    setCrises((list) => list.map((c) => (c.crisisId === crisis.crisisId ? data : c)).filter((c) => c.status !== "resolved" || c.queueHeld));
  }

  const all = comments ?? [];
  const count = (key: "status" | "sentiment", value: string) =>
    all.filter((c) => (key === "status" ? c.status : c.analysis?.sentiment) === value).length;
  const shown = all.filter((c) => (!status || c.status === status) && (!sentiment || c.analysis?.sentiment === sentiment));

  return (
    <section class="inbox">
      {crises.map((c) => (
        <CrisisBanner key={c.crisisId} crisis={c} onResume={() => void resume(c)} onResolve={() => void resolve(c)} />
      ))}
      <div class="toolbar">
        <h2>Inbox</h2>
        <select value={status} onChange={(e) => setStatus(e.currentTarget.value)} aria-label="Status">
          <option value="">Every status ({all.length})</option>
          {STATUSES.map((s) => (
            <option key={s} value={s}>
              {words(s)} ({count("status", s)})
            </option>
          ))}
        </select>
        <select value={sentiment} onChange={(e) => setSentiment(e.currentTarget.value)} aria-label="Sentiment">
          <option value="">Every sentiment</option>
          {SENTIMENTS.map((s) => (
            <option key={s} value={s}>
              {s} ({count("sentiment", s)})
            </option>
          ))}
        </select>
        <button onClick={load}>Refresh</button>
      </div>
      {problem && <p class="problem" role="alert">{problem}</p>}
      {notice && <p class="notice" role="status">{notice}</p>}
      {comments === null ? (
        <p>Loading…</p>
      ) : !shown.length ? (
        <p class="muted">No comments{status || sentiment ? " with these filters" : " yet"}.</p>
      ) : (
        shown.map((c) => (
          <CommentCard
            key={c.commentId}
            api={api}
            comment={c}
            onChange={(next) => setComments((list) => (list ?? []).map((x) => (x.commentId === next.commentId ? next : x)))}
            onProblem={setProblem}
          />
        ))
      )}
    </section>
  );
}
