/** What happens while the page is open and wants a look: a new comment, an approval waiting, an
 * alert, a crisis. Each shows as a toast linking to its view until it is dismissed (the latest few). */
import { useEffect, useState } from "preact/hooks";
import { CLOSED, OPEN, onLive, type LiveEvent } from "./live";

interface Toast {
  id: string;
  kind: string;
  text: string;
  href: string;
}

const KEEP = 4;

const str = (value: unknown): string => (typeof value === "string" ? value : "");

function toastOf(event: LiveEvent): Toast | null {
  const d = event.data;
  const base = { id: event.id, kind: event.type };
  switch (event.type) {
    case "comment.received":
      return { ...base, text: `New comment from ${str(d.authorName) || "someone"}: ${str(d.text)}`, href: "#/inbox" };
    case "workflow.awaiting_approval":
      return { ...base, text: `Approval waiting: ${str(d.name) || "a workflow"}`, href: "#/workflows" };
    case "alert.raised":
      return { ...base, text: `Alert: ${str(d.message) || str(d.kind)}`, href: "#/connections" };
    case "crisis.detected":
      return { ...base, text: `Crisis detected (${str(d.severity)})`, href: "#/inbox" };
    default:
      return null;
  }
}

/** Whether the page hears changes as they happen. */
export function LiveState() {
  const [open, setOpen] = useState(false);
  useEffect(
    () =>
      onLive((event) => {
        if (event.type === OPEN || event.type === CLOSED) setOpen(event.type === OPEN);
      }),
    [],
  );
  return (
    <span class={`live-state${open ? " open" : ""}`} title={open ? "Changes show as they happen" : "Reconnecting…"}>
      {open ? "● live" : "○ offline"}
    </span>
  );
}

export function Toasts() {
  const [toasts, setToasts] = useState<Toast[]>([]);
  useEffect(
    () =>
      onLive((event) => {
        const toast = toastOf(event);
        if (toast) setToasts((list) => [...list, toast].slice(-KEEP));
      }),
    [],
  );
  const dismiss = (id: string) => setToasts((list) => list.filter((t) => t.id !== id));
  return (
    <aside class="toasts" aria-live="polite" aria-label="Live updates">
      {toasts.map((t) => (
        <div key={t.id} class={`toast toast-${t.kind.split(".")[0]}`}>
          <a href={t.href} onClick={() => dismiss(t.id)}>
            {t.text}
          </a>
          <button aria-label="Dismiss" onClick={() => dismiss(t.id)}>
            ×
          </button>
        </div>
      ))}
    </aside>
  );
}
