import { render } from "preact";
import { useEffect, useState } from "preact/hooks";
import { makeApi, type Api } from "./api";
import { accessToken, completeSignIn, onSessionChange, redirectToSignIn, signOut, type Session } from "./auth";
import { loadConfig, type AppConfig } from "./config";
import { startLive } from "./live";
import { LiveState, Toasts } from "./Toasts";
import { Calendar } from "./views/Calendar";
import { Compose } from "./views/Compose";
import { ManageLinks, ManageView, useManageView } from "./views/manageRoutes";
import { Inbox } from "./views/Inbox";
import { PostDetail } from "./views/PostDetail";
import { Results } from "./views/Results";
import { userZone } from "./time";
import "./styles.css";

type View = "calendar" | "compose" | "results" | "inbox" | "post";
const viewOf = (hash: string): View =>
  hash === "#/compose"
    ? "compose"
    : hash === "#/results"
      ? "results"
      : hash === "#/inbox"
        ? "inbox"
        : hash.startsWith("#/posts/")
          ? "post"
          : "calendar";

function SignIn({ config, error }: { config: AppConfig; error: string | null }) {
  const auth = config.auth;
  return (
    <main class="signin">
      <h1>Tidings</h1>
      {error && <p class="problem" role="alert">{error}</p>}
      {auth.kind === "cognito" ? (
        <button onClick={() => void redirectToSignIn(auth)}>Sign in</button>
      ) : (
        <p>
          Open the sign-in link <code>tidings dev</code> printed, or get a new one with{" "}
          <code>{auth.loginCommand}</code>. Each link works once.
        </p>
      )}
    </main>
  );
}

function App({ config, api }: { config: AppConfig; api: Api }) {
  const [session, setSession] = useState<Session | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [ready, setReady] = useState(false);
  const [view, setView] = useState<View>(viewOf(location.hash));
  const manage = useManageView();

  useEffect(() => {
    onSessionChange(setSession);
    completeSignIn(config)
      .catch((e: Error) => setError(`Sign-in failed: ${e.message}`))
      .finally(() => setReady(true));
    const onHash = () => setView(viewOf(location.hash));
    window.addEventListener("hashchange", onHash);
    return () => window.removeEventListener("hashchange", onHash);
  }, []);
  const signedIn = session !== null;
  useEffect(() => (signedIn && config.liveUrl ? startLive(config.liveUrl, accessToken) : undefined), [signedIn]);

  if (!ready) return <p>Signing in…</p>;
  if (!session) return <SignIn config={config} error={error} />;
  return (
    <>
      <nav class="top">
        <strong>Tidings</strong>
        <a href="#/calendar" aria-current={view === "calendar" && !manage ? "page" : undefined}>Calendar</a>
        <a href="#/compose" aria-current={view === "compose" ? "page" : undefined}>Compose</a>
        <a href="#/results" aria-current={view === "results" ? "page" : undefined}>Results</a>
        <a href="#/inbox" aria-current={view === "inbox" ? "page" : undefined}>Inbox</a>
        <ManageLinks current={manage} />
        {config.liveUrl && <LiveState />}
        <span class="who">
          {session.user} · {userZone}
        </span>
        <button onClick={signOut}>Sign out</button>
      </nav>
      <main>
        {manage ? (
          <ManageView name={manage} api={api} />
        ) : view === "calendar" ? (
          <Calendar api={api} />
        ) : view === "results" ? (
          <Results api={api} />
        ) : view === "inbox" ? (
          <Inbox api={api} />
        ) : view === "post" ? (
          <PostDetail api={api} postId={decodeURIComponent(location.hash.slice("#/posts/".length))} />
        ) : (
          <Compose api={api} onDone={() => (location.hash = "#/calendar")} />
        )}
      </main>
      <Toasts />
    </>
  );
}

const root = document.getElementById("app")!;
loadConfig()
  .then((config) => render(<App config={config} api={makeApi(config.apiUrl)} />, root))
  .catch((e: Error) => render(<p class="problem">The dashboard cannot start: {e.message}</p>, root));
