// What the Workflows view does on a live event, and with a workflow read again.
import { describe, expect, it } from "vitest";
import { RESUMED } from "../src/live";
import { withWorkflow, workflowAction, worthRetrying } from "../src/workflows";

const event = (type: string, data: Record<string, unknown> = {}) => ({ id: "x", type, data });

describe("the Workflows view on a live event", () => {
  it("reads a workflow that comes to wait for an approval, everything after a reconnection, nothing else", () => {
    expect(workflowAction(event("workflow.awaiting_approval", { workflowId: "w1", stepId: "draft" }))).toEqual({
      kind: "read",
      workflowId: "w1",
    });
    expect(workflowAction(event(RESUMED))).toEqual({ kind: "reload" });
    expect(workflowAction(event("workflow.awaiting_approval"))).toBeNull();
    expect(workflowAction(event("post.published", { workflowId: "w1" }))).toBeNull();
  });

  it("puts the workflow read again in place, or first when it is new", () => {
    const list = [
      { workflowId: "w2", status: "active" },
      { workflowId: "w1", status: "active" },
    ];
    const waiting = { workflowId: "w1", status: "active", waiting: true };
    expect(withWorkflow(list, waiting)).toEqual([list[0], waiting]);
    const fresh = { workflowId: "w3", status: "active" };
    expect(withWorkflow(list, fresh)).toEqual([fresh, ...list]);
    expect(withWorkflow(null, fresh)).toEqual([fresh]);
    expect(list).toHaveLength(2); // a new list: the old one is not changed
  });

  it("tries a refused read again only when throttled or failed on the API's side", () => {
    expect([429, 500, 503].map(worthRetrying)).toEqual([true, true, true]);
    expect([400, 403, 404, 422].map(worthRetrying)).toEqual([false, false, false, false]);
  });
});
