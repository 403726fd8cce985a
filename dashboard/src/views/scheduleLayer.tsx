/** The calendar's second layer: what else goes out besides posts. Campaign emails come from the
 * planned sends of each running campaign (GET /campaigns/{id}/sends?n=&status=planned: one page per
 * email, grouped by send time, so a zone's step is one entry); scheduled tasks from GET /tasks (their
 * next run). Read apart from the posts, which never wait for it, one request at a time; a read the
 * API refuses leaves its part out and says why (the API's message), the other parts still shown. */
import { useEffect, useState } from "preact/hooks";
import { explain, type Api } from "../api";
import type { components } from "../api/schema";
import { dayOf, sameDay, timeLabel, zoned, type Day } from "../time";
import "./scheduleLayer.css";

type Task = components["schemas"]["TaskView"];

export interface LayerItem {
  kind: "campaign" | "task";
  key: string;
  at: string;
  title: string;
  detail: string;
  held: boolean;
}

export interface Layer {
  items: LayerItem[];
  /** What could not be read, and why. */
  problems: string[];
}

async function campaignItems(api: Api, problems: string[]): Promise<LayerItem[]> {
  const items: LayerItem[] = [];
  for (const status of ["scheduled", "active", "paused"]) {
    const { data: list, error: listError } = await api.GET("/campaigns", { params: { query: { status, limit: 100 } } });
    if (listError) problems.push(`campaigns: ${explain(listError)}`);
    for (const c of list?.campaigns ?? []) {
      for (let n = 1; n <= c.emailCount; n++) {
        const { data, error } = await api.GET("/campaigns/{campaignId}/sends", {
          params: { path: { campaignId: c.campaignId }, query: { n, status: "planned", limit: 100 } },
        });
        if (error) {
          problems.push(`${c.name}, email ${n}: ${explain(error)}`);
          continue;
        }
        const byTime = new Map<string, { count: number; held: boolean }>();
        for (const send of data?.sends ?? []) {
          if (!send.sendAt) continue;
          const slot = byTime.get(send.sendAt) ?? { count: 0, held: false };
          byTime.set(send.sendAt, { count: slot.count + 1, held: slot.held || send.paused });
        }
        const more = data?.nextCursor ? "+" : "";
        for (const [at, { count, held }] of byTime) {
          items.push({
            kind: "campaign",
            key: `${c.campaignId}-${n}-${at}`,
            at,
            title: `${c.name} · email ${n}/${c.emailCount}`,
            detail: `${count}${more} recipient${count === 1 && !more ? "" : "s"}${held ? ", held while paused" : ""}`,
            held,
          });
        }
      }
    }
  }
  return items;
}

function taskTitle(task: Task): string {
  const c = task.config as Record<string, unknown>;
  if (task.type === "action") return `Task: ${String(c.action ?? "action")}`;
  const what = c.template ?? (c.definition as { name?: string } | undefined)?.name ?? "workflow";
  return `Task: ${String(what)}`;
}

async function taskItems(api: Api, problems: string[]): Promise<LayerItem[]> {
  const tasks: Task[] = [];
  for (const status of ["pending", "running"]) {
    const { data, error } = await api.GET("/tasks", { params: { query: { status } } });
    if (error) problems.push(`tasks: ${explain(error)}`);
    tasks.push(...(data?.tasks ?? []));
  }
  return tasks
    .map((t) => ({
      kind: "task" as const,
      key: t.taskId,
      at: t.nextRunAt,
      title: taskTitle(t),
      detail: `${t.status}${t.attempts ? `, attempt ${t.attempts + 1}` : ""}${t.lastError ? `: ${t.lastError}` : ""}`,
      held: false,
    }));
}

/** Campaign emails and tasks still to come; a part that cannot be read is left out, and said. */
export async function scheduleLayer(api: Api): Promise<Layer> {
  const problems: string[] = [];
  const failed = (what: string) => (e: unknown) => {
    problems.push(`${what}: ${explain(e)}`);
    return [];
  };
  const campaigns = await campaignItems(api, problems).catch(failed("campaign emails"));
  const tasks = await taskItems(api, problems).catch(failed("tasks"));
  return { items: [...campaigns, ...tasks].sort((a, b) => Date.parse(a.at) - Date.parse(b.at)), problems };
}

export function LayerCard({ item }: { item: LayerItem }) {
  return (
    <div class={`layer ${item.kind}${item.held ? " held" : ""}`} data-layer={item.kind} title={`${item.title}\n${item.detail}`}>
      <time dateTime={item.at}>{timeLabel(new Date(item.at))}</time> {item.title} <span class="sub">{item.detail}</span>
    </div>
  );
}

/** The layer, read once when the calendar opens. */
export function useScheduleLayer(api: Api): Layer {
  const [layer, setLayer] = useState<Layer>({ items: [], problems: [] });
  useEffect(() => {
    let live = true;
    void scheduleLayer(api).then((found) => live && setLayer(found));
    return () => {
      live = false;
    };
  }, []);
  return layer;
}

/** The items of a day, or of one hour of it, in the user's zone. */
export function layerAt(items: LayerItem[], day: Day, hour?: number): LayerItem[] {
  return items.filter((item) => {
    const at = new Date(item.at);
    return sameDay(dayOf(at), day) && (hour === undefined || zoned(at).h === hour);
  });
}
