// What the composer counts and sends, as the preview shows it.
import { describe, expect, it } from "vitest";
import { approvalWorkflow, lengthBadge, lines, tags, textLength, xWeightedLength } from "../src/compose";

describe("length per platform", () => {
  it("X weighs a URL as 23, wide characters as 2", () => {
    expect(xWeightedLength("hello")).toBe(5);
    expect(xWeightedLength("see https://example.com/a/very/long/path/to/a/listing")).toBe(4 + 23);
    expect(xWeightedLength("two http://a.example and https://b.example")).toBe("two  and ".length + 46);
    expect(xWeightedLength("日本")).toBe(4);
    expect(xWeightedLength("👍")).toBe(2);
    expect(xWeightedLength("“quoted” — café")).toBe(15);
  });

  it("the other platforms count characters (an emoji is one)", () => {
    expect(textLength("facebook", "👍 https://example.com")).toBe(21);
    expect(textLength("twitter", "👍 https://example.com")).toBe(2 + 1 + 23);
  });

  it("the badge says the count against the limit and when it is over", () => {
    expect(lengthBadge("twitter", "x".repeat(280), 280)).toEqual({ label: "280/280", over: false });
    expect(lengthBadge("twitter", "x".repeat(281), 280)).toEqual({ label: "281/280", over: true });
    expect(lengthBadge("twitter", "日".repeat(141), 280)).toEqual({ label: "282/280", over: true });
    expect(lengthBadge("instagram", "日".repeat(141), 2200)).toEqual({ label: "141/2200", over: false });
  });
});

describe("the form's lists", () => {
  it("media URLs one a line, hashtags without their #", () => {
    expect(lines(" https://a.example/1.jpg \n\n https://a.example/2.jpg\n")).toEqual([
      "https://a.example/1.jpg",
      "https://a.example/2.jpg",
    ]);
    expect(tags("#openhouse, realestate  #justlisted")).toEqual(["openhouse", "realestate", "justlisted"]);
  });
});

describe("saving for approval", () => {
  const draft = {
    content: "Hello {{ firstName }}, homes near ${{ budget }} this week",
    platforms: ["facebook", "linkedin"],
    mediaUrls: [],
    link: null,
    hashtags: ["openhouse"],
  };

  it("renders the text for the client, waits for approval, then schedules it", () => {
    const { definition, parameters } = approvalWorkflow(draft, {
      scheduledTime: "2026-03-08T10:00:00-04:00",
      timezone: "America/New_York",
      clientId: "c-42",
    });
    expect(parameters).toEqual({
      content: draft.content,
      platforms: ["facebook", "linkedin"],
      hashtags: ["openhouse"],
      mediaUrls: [],
      timezone: "America/New_York",
      scheduledTime: "2026-03-08T10:00:00-04:00",
      clientId: "c-42",
    });
    const [approve, schedule] = definition.steps;
    expect(approve).toEqual({
      id: "approve",
      action: "personalize",
      parameters: { template: "${parameters.content}", contentType: "post", clientId: "${parameters.clientId}" },
      gates: [{ type: "approval" }],
    });
    expect(schedule.dependsOn).toEqual(["approve"]);
    expect(schedule.action).toBe("schedule_post");
    expect(Object.keys(schedule.parameters).sort()).toEqual(Object.keys(parameters).sort());
    for (const [name, value] of Object.entries(schedule.parameters)) expect(value).toBe(`\${parameters.${name}}`);
  });

  it("keeps what was written out of the definition (a ${ in the text is no reference)", () => {
    const { definition } = approvalWorkflow(draft, { scheduledTime: null, timezone: "UTC" });
    expect(JSON.stringify(definition.steps)).not.toContain("budget");
  });

  it("without a client or a time: the text as written, at the optimal time", () => {
    const { definition, parameters } = approvalWorkflow(
      { ...draft, content: "Open house\nSunday", link: "https://x.example" },
      { scheduledTime: null, timezone: "UTC" },
    );
    expect(definition.name).toBe("Post: Open house Sunday");
    expect(definition.steps[0].parameters).toEqual({ template: "${parameters.content}", contentType: "post" });
    expect(parameters).not.toHaveProperty("scheduledTime");
    expect(parameters).not.toHaveProperty("clientId");
    expect(definition.steps[1].parameters).not.toHaveProperty("scheduledTime");
    expect(definition.steps[1].parameters).toHaveProperty("link", "${parameters.link}");
    expect(parameters).toHaveProperty("link", "https://x.example");
  });

  it("names a long post by its beginning", () => {
    const { definition } = approvalWorkflow({ ...draft, content: "word ".repeat(40) }, { scheduledTime: null, timezone: "UTC" });
    expect(definition.name.length).toBeLessThanOrEqual(66);
    expect(definition.name.endsWith("…")).toBe(true);
  });
});
