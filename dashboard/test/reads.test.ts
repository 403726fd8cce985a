// Reads that keep the API's refusals: each part's reason, and the calendar's second layer.
import { describe, expect, it } from "vitest";
import type { Api } from "../src/api";
import { readEach, summarize } from "../src/reads";
import { scheduleLayer } from "../src/views/scheduleLayer";

const refusal = (message: string, code: string) => ({ error: { message, code } });

describe("readEach", () => {
  it("keeps what was read, and for each refused or failed id the reason", async () => {
    const answers: Record<string, () => Promise<{ data?: number; error?: unknown }>> = {
      a: async () => ({ data: 1 }),
      b: async () => refusal("the account's token could not be read", "token_unreadable"),
      c: async () => {
        throw new TypeError("Failed to fetch");
      },
    };
    const { values, problems } = await readEach(["a", "b", "c"], (id) => answers[id]());
    expect([...values]).toEqual([["a", 1]]);
    expect(problems.get("b")).toBe("the account's token could not be read (token_unreadable)");
    expect(problems.get("c")).toBe("Failed to fetch");
    expect(problems.has("a")).toBe(false);
  });
});

describe("summarize", () => {
  it("says each reason once, at most three, then how many more", () => {
    expect(summarize([])).toBeNull();
    expect(summarize(["x", "x", "y"])).toBe("x; y");
    expect(summarize(["a", "b", "c", "d", "e"])).toBe("a; b; c; and 2 more");
  });
});

/** An API whose GET answers by path, from `answers` (the API's refusal for a path not there). */
function fakeApi(answers: Record<string, (query: Record<string, unknown>) => unknown>): Api {
  const GET = async (path: string, init: { params?: { query?: Record<string, unknown> } }) => {
    const answer = answers[path];
    if (!answer) return refusal(`no fake for ${path}`, "not_found");
    return answer(init.params?.query ?? {});
  };
  return { GET } as unknown as Api;
}

describe("the calendar's second layer", () => {
  const campaign = { campaignId: "c1", name: "Spring listings", emailCount: 2 };
  const send = (sendAt: string) => ({ sendAt, paused: false });

  it("shows what could be read and says why the rest could not", async () => {
    const api = fakeApi({
      "/campaigns": (q) => ({ data: { campaigns: q.status === "scheduled" ? [campaign] : [] } }),
      "/campaigns/{campaignId}/sends": (q) =>
        q.n === 1
          ? { data: { sends: [send("2026-04-01T09:00:00Z"), send("2026-04-01T09:00:00Z")] } }
          : refusal("Too many requests", "throttled"),
      "/tasks": () => refusal("the task store is unavailable", "unavailable"),
    });
    const { items, problems } = await scheduleLayer(api);
    expect(items.map((i) => [i.kind, i.title, i.detail])).toEqual([["campaign", "Spring listings · email 1/2", "2 recipients"]]);
    expect(problems).toEqual([
      "Spring listings, email 2: Too many requests (throttled)",
      "tasks: the task store is unavailable (unavailable)",
      "tasks: the task store is unavailable (unavailable)",
    ]);
    expect(summarize(problems)).toBe(
      "Spring listings, email 2: Too many requests (throttled); tasks: the task store is unavailable (unavailable)",
    );
  });

  it("says so when a part fails outright, and still shows the other", async () => {
    const api = fakeApi({
      "/campaigns": () => {
        throw new TypeError("Failed to fetch");
      },
      "/tasks": (q) => ({
        data: {
          tasks:
            q.status === "pending"
              ? [{ taskId: "t1", type: "action", config: { action: "validate_content" }, nextRunAt: "2026-04-01T11:00:00Z", status: "pending", attempts: 0 }]
              : [],
        },
      }),
    });
    const { items, problems } = await scheduleLayer(api);
    expect(items.map((i) => i.title)).toEqual(["Task: validate_content"]);
    expect(problems).toEqual(["campaign emails: Failed to fetch"]);
  });
});
