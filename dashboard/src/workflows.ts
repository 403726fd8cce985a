/** What the Workflows view does with a live event, and with a workflow read again. */
import { RESUMED, type LiveEvent } from "./live";

export const AWAITING_APPROVAL = "workflow.awaiting_approval";

/** Read every workflow again (after a reconnection, since what happened meanwhile was not sent), read
 * the one that now waits for an approval, or nothing. */
export type WorkflowAction = { kind: "reload" } | { kind: "read"; workflowId: string } | null;

export function workflowAction(event: LiveEvent): WorkflowAction {
  if (event.type === RESUMED) return { kind: "reload" };
  const workflowId = event.data.workflowId;
  if (event.type !== AWAITING_APPROVAL || typeof workflowId !== "string") return null;
  return { kind: "read", workflowId };
}

/** The list with `wf` in place of the one it was, or first when it is new (the list is newest first). */
export function withWorkflow<W extends { workflowId: string }>(list: W[] | null, wf: W): W[] {
  const old = list ?? [];
  return old.some((w) => w.workflowId === wf.workflowId)
    ? old.map((w) => (w.workflowId === wf.workflowId ? wf : w))
    : [wf, ...old];
}

/** Whether a read the API refused with `status` is worth trying again a moment later: it was
 * throttled, or failed on the API's side; any other refusal would be the same again. */
export const worthRetrying = (status: number): boolean => status === 429 || status >= 500;
