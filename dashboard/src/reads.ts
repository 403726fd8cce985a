/** Reads of many parts at once that keep, for each part the API refused, its reason. */
import { explain } from "./api";

/** What an API call answers (openapi-fetch): its data, or the API's error. */
export interface Answer<T> {
  data?: T;
  error?: unknown;
}

export interface EachRead<T> {
  values: Map<string, T>;
  /** Per id, why it could not be read: the API's message and code, or the failure's. */
  problems: Map<string, string>;
}

/** Read every id at once; one refused or failed read does not stop the others. */
export async function readEach<T>(ids: string[], read: (id: string) => Promise<Answer<T>>): Promise<EachRead<T>> {
  const values = new Map<string, T>();
  const problems = new Map<string, string>();
  await Promise.all(
    ids.map(async (id) => {
      try {
        const { data, error } = await read(id);
        if (error !== undefined) problems.set(id, explain(error));
        else if (data !== undefined) values.set(id, data);
      } catch (e) {
        problems.set(id, explain(e));
      }
    }),
  );
  return { values, problems };
}

/** Several reasons as one line: each said once, at most `most` of them, then how many more. */
export function summarize(reasons: string[], most = 3): string | null {
  const unique = [...new Set(reasons)];
  if (!unique.length) return null;
  const rest = unique.length - most;
  return unique.slice(0, most).join("; ") + (rest > 0 ? `; and ${rest} more` : "");
}
