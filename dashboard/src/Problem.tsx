/** The one way the app shows a refusal: the API's message with its code (`explain`), or a text that
 * already says it, after what was being done. */
import { explain } from "./api";

export function Problem({ error, doing }: { error: unknown; doing?: string }) {
  if (error === null || error === undefined || error === "") return null;
  const text = typeof error === "string" ? error : explain(error);
  return (
    <p class="problem" role="alert">
      {doing ? `${doing}: ${text}` : text}
    </p>
  );
}
