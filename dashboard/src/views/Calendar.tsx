/** The week or month of scheduled and published posts, in the user's time zone. A scheduled post
 * can be dragged to another hour (week) or day (month): PATCH /posts/{id}; a refusal is shown with
 * the API's reason and the post stays where it was. */
import { createContext } from "preact";
import { useContext, useEffect, useRef, useState } from "preact/hooks";
import { allPosts, explain, type Api, type Post } from "../api";
import { addMonths, atHour, byDay as postsByDay, liveAction, monthDays, weekDays, withPost } from "../calendar";
import { onLive } from "../live";
import { PLATFORM_LABEL, PLATFORMS } from "../platforms";
import { Problem } from "../Problem";
import { summarize } from "../reads";
import { LayerCard, layerAt, useScheduleLayer } from "./scheduleLayer";
import {
  addDays,
  dayKey,
  dayLabel,
  dayOf,
  instantAt,
  fromLocalInput,
  isoWithOffset,
  localInputValue,
  sameDay,
  timeLabel,
  userZone,
  weekday,
  zoned,
  type Day,
} from "../time";

type Mode = "week" | "month";
const HOURS = Array.from({ length: 24 }, (_, h) => h);

/** Why a post (or one of its platforms) failed, as the API tells it. */
function failures(post: Post): string[] {
  const out = post.results
    .filter((r) => r.lastError && r.status !== "published")
    .map((r) => `${PLATFORM_LABEL[r.platform] ?? r.platform}: ${r.lastError?.message}`);
  if (post.finalReason && !out.length) out.push(post.finalReason);
  return out;
}

function PostCard({ post }: { post: Post }) {
  const when = new Date(post.scheduledTime);
  const draggable = post.status === "scheduled";
  const why = failures(post);
  return (
    <article
      class={`post status-${post.status}`}
      data-post-id={post.postId}
      draggable={draggable}
      title={draggable ? "Drag to another time" : undefined}
      onDragStart={(e) => {
        e.dataTransfer?.setData("text/plain", post.postId);
        if (e.dataTransfer) e.dataTransfer.effectAllowed = "move";
      }}
    >
      <header>
        <time dateTime={post.scheduledTime}>{timeLabel(when)}</time>
        <span class="status">{post.status.replace(/_/g, " ")}</span>
      </header>
      <p class="content">
        <a href={`#/posts/${encodeURIComponent(post.postId)}`} title="Open the post">
          {post.content}
        </a>
      </p>
      <ul class="platforms">
        {post.results.map((r) => (
          <li key={r.platform} class={`platform result-${r.status}`} title={r.status}>
            {PLATFORM_LABEL[r.platform] ?? r.platform}
          </li>
        ))}
      </ul>
      {draggable && <MoveAction post={post} />}
      {why.map((text) => (
        <p key={text} class="reason">
          {text}
        </p>
      ))}
    </article>
  );
}

/** Moves a post to a given instant (the Calendar's `moveTo`). */
const MoveTo = createContext<(postId: string, when: Date) => Promise<void>>(async () => {});

/** The keyboard's way to move a scheduled post (dragging needs a pointer): "Move…" opens a date and
 * time field in the user's zone, focused; Enter moves the post. */
function MoveAction({ post }: { post: Post }) {
  const moveTo = useContext(MoveTo);
  const [open, setOpen] = useState(false);
  const [value, setValue] = useState("");
  const field = useRef<HTMLInputElement>(null);
  useEffect(() => {
    if (open) field.current?.focus();
  }, [open]);
  if (!open)
    return (
      <button
        type="button"
        class="move"
        onClick={() => {
          setValue(localInputValue(new Date(post.scheduledTime)));
          setOpen(true);
        }}
      >
        Move…
      </button>
    );
  return (
    <form
      class="move-form"
      onSubmit={(e) => {
        e.preventDefault();
        const when = fromLocalInput(value);
        if (!when) return;
        setOpen(false);
        void moveTo(post.postId, when);
      }}
    >
      <label>
        New time
        <input ref={field} type="datetime-local" required value={value} onInput={(e) => setValue(e.currentTarget.value)} />
      </label>
      <button type="submit">Move</button>
      <button type="button" onClick={() => setOpen(false)}>Cancel</button>
    </form>
  );
}

export function Calendar({ api }: { api: Api }) {
  const today = dayOf(new Date());
  const [mode, setMode] = useState<Mode>("week");
  const [anchor, setAnchor] = useState<Day>(today);
  const [platform, setPlatform] = useState("");
  const [posts, setPosts] = useState<Post[] | null>(null);
  const [problem, setProblem] = useState<string | null>(null);
  const [notice, setNotice] = useState<string | null>(null);
  // campaign emails and scheduled tasks, hidden while one platform's posts are shown
  const second = useScheduleLayer(api);
  const layer = second.items.filter(() => !platform);

  const reload = () =>
    allPosts(api)
      .then(setPosts)
      .catch((e: Error) => setProblem(e.message));
  useEffect(() => {
    reload();
  }, []);
  // a post published or failed while the page is open is read again; after a reconnection, all of them
  useEffect(
    () =>
      onLive((event) => {
        const action = liveAction(event);
        if (action?.kind === "reload") return void reload();
        if (action?.kind !== "read") return;
        void api.GET("/posts/{postId}", { params: { path: { postId: action.postId } } }).then(({ data, error }) => {
          if (error) setProblem(`Could not read a post again: ${explain(error)}`);
          else setPosts((list) => withPost(list, data));
        });
      }),
    [],
  );

  const shown = (posts ?? []).filter((p) => !platform || p.platforms.includes(platform));
  const byDay = postsByDay(shown);

  async function move(postId: string, day: Day, hour?: number) {
    const post = posts?.find((p) => p.postId === postId);
    if (!post || post.status !== "scheduled") return;
    const old = zoned(new Date(post.scheduledTime));
    await moveTo(postId, instantAt(day, hour ?? old.h, old.min));
  }

  async function moveTo(postId: string, when: Date) {
    setProblem(null);
    setNotice(null);
    const { data, error } = await api.PATCH("/posts/{postId}", {
      params: { path: { postId } },
      body: { scheduledTime: isoWithOffset(when) },
    });
    if (error) {
      setProblem(`Could not move the post: ${explain(error)}`);
      return;
    }
    setPosts((list) => (list ?? []).map((p) => (p.postId === postId ? data : p)));
    setNotice(`Moved to ${when.toLocaleString(undefined, { timeZone: userZone, dateStyle: "medium", timeStyle: "short" })}`);
  }

  function dropTarget(day: Day, hour?: number) {
    return {
      onDragOver: (e: DragEvent) => e.preventDefault(),
      onDrop: (e: DragEvent) => {
        e.preventDefault();
        const id = e.dataTransfer?.getData("text/plain");
        if (id) void move(id, day, hour);
      },
    };
  }

  const days = weekDays(anchor);
  const step = (n: number) => setAnchor(mode === "week" ? addDays(anchor, 7 * n) : addMonths(anchor, n));
  const title =
    mode === "week"
      ? `${dayLabel(days[0], { day: "numeric", month: "short" })} – ${dayLabel(days[6], { day: "numeric", month: "short", year: "numeric" })}`
      : dayLabel({ ...anchor, d: 1 }, { month: "long", year: "numeric" });

  return (
    <MoveTo.Provider value={moveTo}>
    <section class="calendar">
      <div class="toolbar">
        <button onClick={() => step(-1)} aria-label="Previous">‹</button>
        <button onClick={() => setAnchor(today)}>Today</button>
        <button onClick={() => step(1)} aria-label="Next">›</button>
        <h2>{title}</h2>
        <span class="zone">{userZone}</span>
        <select value={platform} onChange={(e) => setPlatform(e.currentTarget.value)} aria-label="Platform">
          <option value="">All platforms</option>
          {PLATFORMS.map((p) => (
            <option key={p} value={p}>
              {PLATFORM_LABEL[p]}
            </option>
          ))}
        </select>
        <div class="modes" role="group">
          <button aria-pressed={mode === "week"} onClick={() => setMode("week")}>Week</button>
          <button aria-pressed={mode === "month"} onClick={() => setMode("month")}>Month</button>
        </div>
      </div>
      {problem && <p class="problem" role="alert">{problem}</p>}
      {!platform && <Problem error={summarize(second.problems)} doing="Not all campaign emails and tasks are shown" />}
      {notice && <p class="notice" role="status">{notice}</p>}
      {posts === null ? (
        <p>Loading…</p>
      ) : mode === "week" ? (
        <div class="week">
          <div class="corner" />
          {days.map((day) => (
            <div key={dayKey(day)} class={`dayhead${sameDay(day, today) ? " today" : ""}`}>
              {dayLabel(day, { weekday: "short", day: "numeric" })}
            </div>
          ))}
          {HOURS.map((hour) => [
            <div key={`h${hour}`} class="hour">{String(hour).padStart(2, "0")}:00</div>,
            ...days.map((day) => (
              <div key={`${dayKey(day)}-${hour}`} class="slot" data-day={dayKey(day)} data-hour={hour} {...dropTarget(day, hour)}>
                {atHour(byDay.get(dayKey(day)) ?? [], hour).map((p) => (
                    <PostCard key={p.postId} post={p} />
                  ))}
                {layerAt(layer, day, hour).map((item) => (
                  <LayerCard key={item.key} item={item} />
                ))}
              </div>
            )),
          ])}
        </div>
      ) : (
        <div class="month">
          {days.map((day) => (
            <div key={`w${weekday(day)}`} class="dayhead">{dayLabel(day, { weekday: "short" })}</div>
          ))}
          {monthDays(anchor).map((day) => (
            <div key={dayKey(day)} class={`slot${day.m === anchor.m ? "" : " other"}${sameDay(day, today) ? " today" : ""}`} data-day={dayKey(day)} {...dropTarget(day)}>
              <span class="date">{day.d}</span>
              {(byDay.get(dayKey(day)) ?? []).map((p) => (
                <PostCard key={p.postId} post={p} />
              ))}
              {layerAt(layer, day).map((item) => (
                <LayerCard key={item.key} item={item} />
              ))}
            </div>
          ))}
        </div>
      )}
    </section>
    </MoveTo.Provider>
  );
}
