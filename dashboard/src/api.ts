/** The API client, typed from the API's own OpenAPI document (src/api/schema.d.ts is generated from
 * it at build time: a field the app reads that the API no longer has fails the build). */
import createClient from "openapi-fetch";
import type { components, paths } from "./api/schema";
import { accessToken } from "./auth";

export type Post = components["schemas"]["PostView"];
export type DraftPreview = components["schemas"]["DraftPreviewView"];
export type Draft = components["schemas"]["DraftRequest"];
export type OptimalTime = components["schemas"]["OptimalTimeView"];
export type ApiError = components["schemas"]["ErrorBody"];

export type Api = ReturnType<typeof createClient<paths>>;

export function makeApi(baseUrl: string): Api {
  const api = createClient<paths>({ baseUrl });
  api.use({
    onRequest({ request }) {
      const token = accessToken();
      if (token) request.headers.set("Authorization", `Bearer ${token}`);
      return request;
    },
  });
  return api;
}

/** A refusal as a user reads it: the API's message, and its code. */
export function explain(error: unknown): string {
  if (error && typeof error === "object" && "message" in error) {
    const e = error as Partial<ApiError> & { message: string };
    return e.code ? `${e.message} (${e.code})` : e.message;
  }
  return "the request failed";
}

/** Every post of the queue (all statuses), page after page. */
export async function allPosts(api: Api): Promise<Post[]> {
  const posts: Post[] = [];
  let nextToken: string | undefined;
  for (let page = 0; page < 20; page++) {
    const { data, error } = await api.GET("/posts", { params: { query: { limit: 100, nextToken } } });
    if (error) throw new Error(explain(error));
    posts.push(...data.posts);
    nextToken = data.nextToken ?? undefined;
    if (!nextToken) break;
  }
  return posts;
}
