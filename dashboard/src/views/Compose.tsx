/** Write a post: content, platforms, media URLs, link, hashtags, and optionally the CRM client it is
 * written for. As it is typed, the text personalised for the client comes from POST /crm/personalize,
 * each platform's preview and the problems a dry run finds from POST /posts/preview; the best time
 * to post (with its confidence and alternatives) from GET /optimal-time. Then schedule it, publish
 * it now, or save it for approval: a workflow (POST /workflows) that waits in the Workflows view and
 * schedules the post once approved. */
import { useEffect, useState } from "preact/hooks";
import type { Api, DraftPreview, OptimalTime, Post } from "../api";
import type { components } from "../api/schema";
import { approvalWorkflow, lengthBadge, lines, tags } from "../compose";
import { PLATFORM_LABEL, PLATFORMS } from "../platforms";
import { Problem } from "../Problem";
import { dateTimeLabel, fromLocalInput, isoWithOffset, localInputValue, userZone } from "../time";

type Client = components["schemas"]["ClientView"];
type Personalized = components["schemas"]["PersonalizedView"];
type Saved = { workflowId: string; name: string };

export function Compose({ api, onDone }: { api: Api; onDone: (post: Post) => void }) {
  const [content, setContent] = useState("");
  const [platforms, setPlatforms] = useState<string[]>(["facebook"]);
  const [media, setMedia] = useState("");
  const [link, setLink] = useState("");
  const [hashtags, setHashtags] = useState("");
  const [when, setWhen] = useState(() => localInputValue(new Date(Date.now() + 3600_000)));
  const [preview, setPreview] = useState<DraftPreview | null>(null);
  const [best, setBest] = useState<OptimalTime | null>(null);
  const [problem, setProblem] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const [clientId, setClientId] = useState("");
  const [client, setClient] = useState<Client | null>(null);
  const [clientProblem, setClientProblem] = useState<unknown>(null);
  const [personalized, setPersonalized] = useState<Personalized | null>(null);
  const [saved, setSaved] = useState<Saved | null>(null);
  const [previewProblem, setPreviewProblem] = useState<unknown>(null);
  const [bestProblem, setBestProblem] = useState<unknown>(null);
  const chosen = clientId.trim();

  const draft = {
    content,
    platforms,
    mediaUrls: lines(media),
    link: link.trim() || null,
    hashtags: tags(hashtags),
  };
  const instant = fromLocalInput(when);

  // The CRM client the post is written for, a moment after its id is typed.
  useEffect(() => {
    setClient(null);
    setClientProblem(null);
    if (!chosen) return;
    let live = true;
    const timer = window.setTimeout(async () => {
      const { data, error } = await api.GET("/crm/clients/{clientId}", { params: { path: { clientId: chosen } } });
      if (!live) return;
      if (error) setClientProblem(error);
      else setClient(data);
    }, 400);
    return () => {
      live = false;
      window.clearTimeout(timer);
    };
  }, [chosen]);

  // The text as that client will read it.
  useEffect(() => {
    setPersonalized(null);
    if (!client || !content.trim()) return;
    let live = true;
    const timer = window.setTimeout(async () => {
      const { data, error } = await api.POST("/crm/personalize", {
        body: { template: content, clientId: client.id, contentType: "post" },
      });
      if (!live) return;
      setClientProblem(error ?? null);
      setPersonalized(data ?? null);
    }, 300);
    return () => {
      live = false;
      window.clearTimeout(timer);
    };
  }, [content, client]);

  // The live preview, a moment after the last keystroke (of the personalised text, for a client).
  const shownContent = personalized?.content ?? content;
  useEffect(() => {
    if (!platforms.length) return setPreview(null);
    let live = true;
    const timer = window.setTimeout(async () => {
      const { data, error } = await api.POST("/posts/preview", {
        body: { ...draft, content: shownContent, scheduledTime: instant ? isoWithOffset(instant) : null },
      });
      if (!live) return;
      setPreview(data ?? null);
      setPreviewProblem(error ?? null);
    }, 300);
    return () => {
      live = false;
      window.clearTimeout(timer);
    };
  }, [shownContent, platforms.join(), media, link, hashtags, when]);

  // The best time for the first platform chosen.
  useEffect(() => {
    if (!platforms.length) return setBest(null);
    let live = true;
    api
      .GET("/optimal-time", { params: { query: { platform: platforms[0], timezone: userZone } } })
      .then(({ data, error }) => {
        if (!live) return;
        setBest(data ?? null);
        setBestProblem(error ?? null);
      });
    return () => {
      live = false;
    };
  }, [platforms[0]]);

  const toggle = (p: string) =>
    setPlatforms((list) => (list.includes(p) ? list.filter((x) => x !== p) : [...list, p]));

  const forClient = chosen ? { clientId: chosen } : {};
  const scheduledTime = instant ? isoWithOffset(instant) : null;

  async function submit(how: "schedule" | "now" | "approval") {
    setBusy(true);
    setProblem(null);
    setSaved(null);
    if (how === "approval") {
      const created = await api.POST("/workflows", {
        body: approvalWorkflow(draft, { scheduledTime, timezone: userZone, clientId: chosen || null }),
      });
      const run = created.data
        ? await api.POST("/workflows/{workflowId}/execute", {
            params: { path: { workflowId: created.data.workflowId } },
            body: { autoApprove: false, notifyOnCompletion: false },
          })
        : null;
      setBusy(false);
      if (created.error || run?.error) return setProblem(created.error ?? run?.error);
      return setSaved({ workflowId: created.data!.workflowId, name: created.data!.name });
    }
    const result =
      how === "now"
        ? await api.POST("/posts/publish-now", { body: { ...draft, ...forClient } })
        : await api.POST("/posts", { body: { ...draft, ...forClient, scheduledTime, timezone: userZone } });
    setBusy(false);
    if (result.error) return setProblem(result.error);
    onDone("post" in result.data ? result.data.post : result.data);
  }

  return (
    <section class="compose">
      <form
        onSubmit={(e) => {
          e.preventDefault();
          void submit("schedule");
        }}
      >
        <label>
          Post
          <textarea rows={6} value={content} onInput={(e) => setContent(e.currentTarget.value)} required />
        </label>
        <fieldset>
          <legend>Platforms</legend>
          {PLATFORMS.map((p) => (
            <label key={p} class="check">
              <input type="checkbox" checked={platforms.includes(p)} onChange={() => toggle(p)} />
              {PLATFORM_LABEL[p]}
            </label>
          ))}
        </fieldset>
        <label>
          Media URLs (one a line)
          <textarea rows={2} value={media} onInput={(e) => setMedia(e.currentTarget.value)} />
        </label>
        <label>
          Link
          <input type="url" value={link} onInput={(e) => setLink(e.currentTarget.value)} />
        </label>
        <label>
          Hashtags
          <input value={hashtags} placeholder="#openhouse #realestate" onInput={(e) => setHashtags(e.currentTarget.value)} />
        </label>
        <label>
          CRM client id
          <input value={clientId} placeholder="as your CRM knows the client" onInput={(e) => setClientId(e.currentTarget.value)} />
        </label>
        {client && (
          <p class="client" aria-label="Client">
            For <strong>{client.fullName ?? ([client.firstName, client.lastName].filter(Boolean).join(" ") || client.id)}</strong>
            {client.email && <> · {client.email}</>}
            {client.preferences.communicationStyle && <> · {client.preferences.communicationStyle}</>}
            <span class="sub"> ({client.source.provider})</span>
          </p>
        )}
        <Problem error={clientProblem} doing={client ? "Cannot personalise for this client" : "Cannot use this client"} />
        <label>
          When ({userZone})
          <input type="datetime-local" value={when} onInput={(e) => setWhen(e.currentTarget.value)} />
        </label>
        {best && (
          <div class="best" aria-label="Best time">
            <p>
              Best time on {PLATFORM_LABEL[best.platform]}:{" "}
              <button type="button" onClick={() => setWhen(localInputValue(new Date(best.recommendedTime)))}>
                {dateTimeLabel(new Date(best.recommendedTime))}
              </button>{" "}
              <span class="confidence">{Math.round(best.confidence * 100)}% confidence</span>
            </p>
            <p class="reasoning">{best.reasoning}</p>
            <p>
              Or:{" "}
              {best.alternatives.map((t) => (
                <button type="button" key={t} onClick={() => setWhen(localInputValue(new Date(t)))}>
                  {dateTimeLabel(new Date(t))}
                </button>
              ))}
            </p>
          </div>
        )}
        <Problem error={bestProblem} doing="No best time" />
        <Problem error={problem} />
        {saved && (
          <p class="notice" role="status" data-workflow-id={saved.workflowId}>
            Saved for approval as “{saved.name}”: approve it in <a href="#/workflows">Workflows</a>, and it is
            scheduled then.
          </p>
        )}
        <div class="actions">
          <button type="submit" disabled={busy || !platforms.length}>Schedule</button>
          <button type="button" disabled={busy || !platforms.length} onClick={() => void submit("now")}>
            Publish now
          </button>
          <button type="button" disabled={busy || !platforms.length} onClick={() => void submit("approval")}>
            Save for approval
          </button>
        </div>
      </form>
      <aside class="previews" aria-label="Preview">
        {personalized && (
          <div class="personalized" aria-label="Personalised">
            <h3>As {client?.firstName ?? personalized.clientId} reads it</h3>
            <p class="text">{personalized.content}</p>
            {personalized.missing.length > 0 && <p class="issue warning">Filled from fallbacks: {personalized.missing.join(", ")}</p>}
          </div>
        )}
        <Problem error={previewProblem} doing="No preview" />
        {preview?.platforms.map((p) => {
          const issues = preview.problems.filter((x) => x.platform === p.platform);
          const count = lengthBadge(p.platform, p.text, p.limit);
          return (
            <div key={p.platform} class={`preview${issues.some((x) => x.severity === "error") ? " has-error" : ""}`} data-platform={p.platform}>
              <h3>
                {PLATFORM_LABEL[p.platform] ?? p.platform}{" "}
                <span class={count.over ? "over" : "count"}>{count.label}</span>
              </h3>
              {p.title && <p class="title">{p.title}</p>}
              <p class="text">{p.text}</p>
              {p.mediaAs && <p class="media">Media sent as {p.mediaAs}</p>}
              {issues.map((x) => (
                <p key={x.code} class={`issue ${x.severity}`}>
                  {x.message}
                </p>
              ))}
            </div>
          );
        })}
      </aside>
    </section>
  );
}
