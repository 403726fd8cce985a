/** Compose's own rules, kept apart from the view: the length a platform counts (as the preview shows
 * it, X's weighted count included), the form's lists, and the workflow that holds a post for
 * approval before it is scheduled. */

const URL = /https?:\/\/\S+/gi;
// twitter-text v3: these code point ranges weigh 1, every other 2; a URL weighs 23 (as the API counts).
const LIGHT: [number, number][] = [
  [0, 4351],
  [8192, 8205],
  [8208, 8223],
  [8242, 8247],
];
const X_URL_WEIGHT = 23;

/** X's weighted length of a text. */
export function xWeightedLength(text: string): number {
  let length = X_URL_WEIGHT * (text.match(URL)?.length ?? 0);
  for (const ch of text.replace(URL, "")) {
    const cp = ch.codePointAt(0)!;
    length += LIGHT.some(([lo, hi]) => cp >= lo && cp <= hi) ? 1 : 2;
  }
  return length;
}

/** A text's length as the platform counts it: X weighted, the others in characters (code points,
 * as the API counts them). */
export function textLength(platform: string, text: string): number {
  return platform === "twitter" ? xWeightedLength(text) : [...text].length;
}

/** The count a preview shows: `length/limit`, and whether it is over. */
export function lengthBadge(platform: string, text: string, limit: number) {
  const length = textLength(platform, text);
  return { label: `${length}/${limit}`, over: length > limit };
}

/** One value a line (media URLs). */
export const lines = (text: string) =>
  text
    .split("\n")
    .map((line) => line.trim())
    .filter(Boolean);

/** Hashtags as typed (spaces or commas, with or without #), without their #. */
export const tags = (text: string) =>
  text
    .split(/[\s,]+/)
    .map((t) => t.replace(/^#/, ""))
    .filter(Boolean);

export interface PostDraft {
  content: string;
  platforms: string[];
  mediaUrls: string[];
  link: string | null;
  hashtags: string[];
}

/** The workflow that saves a post for approval: step `approve` renders the text (for the CRM client
 * when there is one) and waits at an approval gate, where the Workflows view shows it; once approved,
 * step `schedule` schedules the post at `scheduledTime` (or at the optimal time). What the user wrote
 * goes in the workflow's parameters, which the steps reference whole, so a `${...}` in the text (a
 * template's `${{ budget }}`) is never read as a reference. */
export function approvalWorkflow(
  draft: PostDraft,
  options: { scheduledTime: string | null; timezone: string; clientId?: string | null },
) {
  const given: Record<string, unknown> = {
    content: draft.content,
    platforms: draft.platforms,
    hashtags: draft.hashtags,
    mediaUrls: draft.mediaUrls,
    timezone: options.timezone,
    ...(draft.link ? { link: draft.link } : {}),
    ...(options.scheduledTime ? { scheduledTime: options.scheduledTime } : {}),
    ...(options.clientId ? { clientId: options.clientId } : {}),
  };
  const ref = (names: string[]) =>
    Object.fromEntries(names.filter((n) => n in given).map((n) => [n, `\${parameters.${n}}`]));
  const excerpt = draft.content.replace(/\s+/g, " ").trim();
  return {
    parameters: given,
    definition: {
      name: `Post: ${excerpt.length > 60 ? `${excerpt.slice(0, 59)}…` : excerpt}`,
      description: "A post written in Compose, scheduled once approved",
      steps: [
        {
          id: "approve",
          action: "personalize",
          parameters: { template: "${parameters.content}", contentType: "post", ...ref(["clientId"]) },
          gates: [{ type: "approval" }],
        },
        {
          id: "schedule",
          action: "schedule_post",
          dependsOn: ["approve"],
          parameters: ref([
            "content",
            "platforms",
            "hashtags",
            "mediaUrls",
            "link",
            "timezone",
            "scheduledTime",
            "clientId",
          ]),
        },
      ],
    },
  };
}
