/** Write a post: content, platforms, media URLs, link, hashtags. As it is typed, each platform's
 * preview and the problems a dry run finds come from POST /posts/preview; the best time to post
 * (with its confidence and alternatives) from GET /optimal-time. Then schedule it or publish now. */
import { useEffect, useState } from "preact/hooks";
import { explain, type Api, type DraftPreview, type OptimalTime, type Post } from "../api";
import { PLATFORM_LABEL, PLATFORMS } from "../platforms";
import { dateTimeLabel, fromLocalInput, isoWithOffset, localInputValue, userZone } from "../time";

const lines = (text: string) => text.split(/\s*\n\s*/).filter(Boolean);
const tags = (text: string) =>
  text
    .split(/[\s,]+/)
    .map((t) => t.replace(/^#/, ""))
    .filter(Boolean);

export function Compose({ api, onDone }: { api: Api; onDone: (post: Post) => void }) {
  const [content, setContent] = useState("");
  const [platforms, setPlatforms] = useState<string[]>(["facebook"]);
  const [media, setMedia] = useState("");
  const [link, setLink] = useState("");
  const [hashtags, setHashtags] = useState("");
  const [when, setWhen] = useState(() => localInputValue(new Date(Date.now() + 3600_000)));
  const [preview, setPreview] = useState<DraftPreview | null>(null);
  const [best, setBest] = useState<OptimalTime | null>(null);
  const [problem, setProblem] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  const draft = {
    content,
    platforms,
    mediaUrls: lines(media),
    link: link.trim() || null,
    hashtags: tags(hashtags),
  };
  const instant = fromLocalInput(when);

  // The live preview, a moment after the last keystroke.
  useEffect(() => {
    if (!platforms.length) return setPreview(null);
    const timer = window.setTimeout(async () => {
      const { data } = await api.POST("/posts/preview", {
        body: { ...draft, scheduledTime: instant ? isoWithOffset(instant) : null },
      });
      setPreview(data ?? null);
    }, 300);
    return () => window.clearTimeout(timer);
  }, [content, platforms.join(), media, link, hashtags, when]);

  // The best time for the first platform chosen.
  useEffect(() => {
    if (!platforms.length) return setBest(null);
    let live = true;
    api
      .GET("/optimal-time", { params: { query: { platform: platforms[0], timezone: userZone } } })
      .then(({ data }) => live && setBest(data ?? null));
    return () => {
      live = false;
    };
  }, [platforms[0]]);

  const toggle = (p: string) =>
    setPlatforms((list) => (list.includes(p) ? list.filter((x) => x !== p) : [...list, p]));

  async function submit(now: boolean) {
    setBusy(true);
    setProblem(null);
    const result = now
      ? await api.POST("/posts/publish-now", { body: draft })
      : await api.POST("/posts", {
          body: { ...draft, scheduledTime: instant ? isoWithOffset(instant) : null, timezone: userZone },
        });
    setBusy(false);
    if (result.error) return setProblem(explain(result.error));
    onDone("post" in result.data ? result.data.post : result.data);
  }

  return (
    <section class="compose">
      <form
        onSubmit={(e) => {
          e.preventDefault();
          void submit(false);
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
        {problem && <p class="problem" role="alert">{problem}</p>}
        <div class="actions">
          <button type="submit" disabled={busy || !platforms.length}>Schedule</button>
          <button type="button" disabled={busy || !platforms.length} onClick={() => void submit(true)}>
            Publish now
          </button>
        </div>
      </form>
      <aside class="previews" aria-label="Preview">
        {preview?.platforms.map((p) => {
          const issues = preview.problems.filter((x) => x.platform === p.platform);
          return (
            <div key={p.platform} class={`preview${issues.some((x) => x.severity === "error") ? " has-error" : ""}`} data-platform={p.platform}>
              <h3>
                {PLATFORM_LABEL[p.platform] ?? p.platform}{" "}
                <span class={p.length > p.limit ? "over" : "count"}>
                  {p.length}/{p.limit}
                </span>
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
