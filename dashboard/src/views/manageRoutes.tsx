/** The Campaigns, Workflows and Connections views: their routes (#/campaigns, #/workflows,
 * #/connections) and their code, loaded on first visit so a first visit of the app does not load
 * them. */
import type { ComponentType } from "preact";
import { useEffect, useState } from "preact/hooks";
import type { Api } from "../api";

type ViewProps = { api: Api };

const VIEWS = {
  campaigns: { label: "Campaigns", load: () => import("./Campaigns").then((m) => m.Campaigns) },
  workflows: { label: "Workflows", load: () => import("./Workflows").then((m) => m.Workflows) },
  connections: { label: "Connections", load: () => import("./Connections").then((m) => m.Connections) },
} satisfies Record<string, { label: string; load: () => Promise<ComponentType<ViewProps>> }>;

export type ManageName = keyof typeof VIEWS;

const nameOf = (hash: string): ManageName | null => {
  const name = hash.replace(/^#\//, "").split("/")[0];
  return name in VIEWS ? (name as ManageName) : null;
};

/** Which of these views the address shows, if one. */
export function useManageView(): ManageName | null {
  const [name, setName] = useState(nameOf(location.hash));
  useEffect(() => {
    const onHash = () => setName(nameOf(location.hash));
    window.addEventListener("hashchange", onHash);
    return () => window.removeEventListener("hashchange", onHash);
  }, []);
  return name;
}

export function ManageLinks({ current }: { current: ManageName | null }) {
  return (
    <>
      {(Object.keys(VIEWS) as ManageName[]).map((name) => (
        <a key={name} href={`#/${name}`} aria-current={current === name ? "page" : undefined}>
          {VIEWS[name].label}
        </a>
      ))}
    </>
  );
}

export function ManageView({ name, api }: { name: ManageName; api: Api }) {
  const [view, setView] = useState<{ name: ManageName; Component: ComponentType<ViewProps> } | null>(null);
  const [problem, setProblem] = useState<string | null>(null);
  useEffect(() => {
    let live = true;
    VIEWS[name]
      .load()
      .then((Component) => live && setView({ name, Component }))
      .catch((e: Error) => live && setProblem(`The view cannot load: ${e.message}`));
    return () => {
      live = false;
    };
  }, [name]);
  if (problem) return <p class="problem" role="alert">{problem}</p>;
  if (!view || view.name !== name) return <p>Loading…</p>;
  return <view.Component api={api} />;
}
