/** Connections: the platform accounts with each token's expiry forecast (GET /accounts/{id}/health:
 * when it expires, whether it renews by itself, the scheduled posts that fall after it), the
 * integrations with their health score, and the alerts, open first (resolved here by hand). A health
 * the API refuses shows its reason in its row. */
import { useEffect, useState } from "preact/hooks";
import { explain, type Api } from "../api";
import type { components } from "../api/schema";
import { PLATFORM_LABEL } from "../platforms";
import { Problem } from "../Problem";
import { readEach, summarize, type EachRead } from "../reads";
import { dateTimeLabel } from "../time";
import { TableHead } from "./parts";
import "./manage.css";

type Account = components["schemas"]["AccountView"];
type AccountHealth = components["schemas"]["AccountHealthView"];
type Integration = components["schemas"]["IntegrationView"];
type IntegrationHealth = components["schemas"]["HealthView"];
type Alert = components["schemas"]["AlertView"];

const when = (iso?: string | null) => (iso ? dateTimeLabel(new Date(iso)) : "—");
const label = (platform: string) => PLATFORM_LABEL[platform] ?? (platform === "whatsapp" ? "WhatsApp" : platform);

/** "in 3 days", "2 hours ago": how far an expiry is. */
function fromNow(seconds: number): string {
  const abs = Math.abs(seconds);
  const [n, unit] =
    abs >= 86400 ? [Math.round(abs / 86400), "day"] : abs >= 3600 ? [Math.round(abs / 3600), "hour"] : [Math.max(1, Math.round(abs / 60)), "minute"];
  const text = `${n} ${unit}${n === 1 ? "" : "s"}`;
  return seconds >= 0 ? `in ${text}` : `${text} ago`;
}

const unread = <T,>(): EachRead<T> => ({ values: new Map(), problems: new Map() });

export function Connections({ api }: { api: Api }) {
  const [accounts, setAccounts] = useState<Account[] | null>(null);
  const [health, setHealth] = useState<EachRead<AccountHealth>>(unread);
  const [integrations, setIntegrations] = useState<Integration[] | null>(null);
  const [scores, setScores] = useState<EachRead<IntegrationHealth>>(unread);
  const [alerts, setAlerts] = useState<Alert[] | null>(null);
  const [problem, setProblem] = useState<string | null>(null);

  async function load() {
    setProblem(null);
    const [a, i, al] = await Promise.all([api.GET("/accounts"), api.GET("/integrations"), api.GET("/alerts")]);
    const refused = [
      a.error && `accounts: ${explain(a.error)}`,
      i.error && `integrations: ${explain(i.error)}`,
      al.error && `alerts: ${explain(al.error)}`,
    ];
    setProblem(summarize(refused.filter((r): r is string => !!r)));
    if (a.data) {
      setAccounts(a.data.accounts);
      const ids = a.data.accounts.map((x) => x.id);
      setHealth(await readEach(ids, (accountId) => api.GET("/accounts/{accountId}/health", { params: { path: { accountId } } })));
    }
    if (i.data) {
      setIntegrations(i.data.integrations);
      const ids = i.data.integrations.map((x) => x.integrationId);
      setScores(
        await readEach(ids, (integrationId) => api.GET("/integrations/{integrationId}/health", { params: { path: { integrationId } } })),
      );
    }
    if (al.data) setAlerts(al.data.alerts);
  }
  useEffect(() => {
    void load();
  }, []);

  async function resolve(alertId: string) {
    const { data, error } = await api.POST("/alerts/{alertId}/resolve", { params: { path: { alertId } } });
    if (error) return setProblem(`Could not resolve the alert: ${explain(error)}`);
    setAlerts((old) => (old ?? []).map((x) => (x.alertId === alertId ? data : x)));
  }

  const names = new Map((integrations ?? []).map((x) => [x.integrationId, x.name]));
  return (
    <section class="manage connections">
      <div class="toolbar">
        <h2>Platform accounts</h2>
        <button onClick={() => void load()}>Refresh</button>
      </div>
      {problem && <p class="problem" role="alert">{problem}</p>}
      {accounts === null ? (
        <p>Loading…</p>
      ) : !accounts.length ? (
        <p class="empty">No account connected.</p>
      ) : (
        <table class="grid" aria-label="Accounts">
          <TableHead cols={["Platform", "Account", "Health", "Token expires", "Renewal", "Connected"]} />
          <tbody>
            {accounts.map((acc) => {
              const h = health.values.get(acc.id);
              const refused = health.problems.get(acc.id);
              return (
                <tr key={acc.id} class="account" data-platform={acc.platform}>
                  <td>{label(acc.platform)}</td>
                  <td>
                    <code>{acc.accountId}</code> <span class="sub">token {acc.tokenHint}</span>
                  </td>
                  <td>
                    {h ? (
                      <>
                        <span class={`badge health-${h.status}`}>{h.status}</span>
                        <div class="sub">{h.message}</div>
                        {h.postsAfterExpiry.length > 0 && (
                          <div class="reason">
                            {h.postsAfterExpiry.length} scheduled post(s) after the expiry, the first{" "}
                            {when(h.postsAfterExpiry[0].scheduledTime)}
                          </div>
                        )}
                      </>
                    ) : refused ? (
                      <Problem error={refused} doing="Health unknown" />
                    ) : (
                      "…"
                    )}
                  </td>
                  <td class="expiry">
                    {acc.expiresAt ? (
                      <>
                        {when(acc.expiresAt)}
                        {h?.secondsUntilExpiry !== null && h?.secondsUntilExpiry !== undefined && (
                          <div class="sub">{fromNow(h.secondsUntilExpiry)}</div>
                        )}
                      </>
                    ) : (
                      "never"
                    )}
                  </td>
                  <td>
                    {!acc.expiresAt
                      ? "not needed"
                      : acc.renewsAutomatically
                        ? "renews automatically"
                        : acc.hasRefreshToken
                          ? "refresh token, no app client"
                          : "reconnect by hand"}
                    {acc.refreshedAt && <div class="sub">renewed {when(acc.refreshedAt)}</div>}
                  </td>
                  <td>{when(acc.connectedAt)}</td>
                </tr>
              );
            })}
          </tbody>
        </table>
      )}

      <div class="toolbar">
        <h2>Integrations</h2>
      </div>
      {integrations && !integrations.length && <p class="empty">No integration.</p>}
      {integrations && integrations.length > 0 && (
        <table class="grid" aria-label="Integrations">
          <TableHead cols={["Name", "Kind", "Status", "Health", "Expires", "Last sync"]} />
          <tbody>
            {integrations.map((x) => {
              const h = scores.values.get(x.integrationId);
              const refused = scores.problems.get(x.integrationId);
              return (
                <tr key={x.integrationId} class="integration" data-integration-id={x.integrationId}>
                  <td>{x.name}</td>
                  <td>
                    {x.type} <span class="sub">{x.platform}</span>
                  </td>
                  <td>
                    <span class={`badge state-${x.status}`}>{x.status}</span>
                    {x.lastTest && !x.lastTest.ok && <div class="reason">{x.lastTest.error ?? x.lastTest.errorCode}</div>}
                  </td>
                  <td>
                    {h ? (
                      <span title={h.parts.map((p) => `${p.name}: ${p.detail}`).join("\n")}>
                        <span class={`badge health-${h.status}`}>{h.status}</span> {h.score}/100
                        <div class="sub">
                          {h.last24H.requests} requests, {(h.last24H.errorRate * 100).toFixed(1)}% errors in 24 h
                        </div>
                      </span>
                    ) : refused ? (
                      <Problem error={refused} doing="Health unknown" />
                    ) : (
                      "…"
                    )}
                  </td>
                  <td>{x.expiresAt ? when(x.expiresAt) : "never"}</td>
                  <td>
                    {x.lastSync ? (
                      <>
                        {when(x.lastSync.at)} {x.lastSync.ok ? "" : <span class="reason">{x.lastSync.error}</span>}
                      </>
                    ) : (
                      "—"
                    )}
                    <div class="sub">{x.syncEnabled ? `every ${x.syncFrequency}` : "no periodic sync"}</div>
                  </td>
                </tr>
              );
            })}
          </tbody>
        </table>
      )}

      <div class="toolbar">
        <h2>Alerts</h2>
      </div>
      {alerts && !alerts.length && <p class="empty">No alerts.</p>}
      {alerts && alerts.length > 0 && (
        <ul class="alerts" aria-label="Alerts">
          {alerts.map((x) => (
            <li key={x.alertId} class={`alert severity-${x.severity} alert-${x.status}`}>
              <span class={`badge severity-${x.severity}`}>{x.severity}</span> <strong>{names.get(x.integrationId) ?? x.integrationId}</strong>:{" "}
              {x.message}
              <div class="sub">
                {x.kind.replace(/_/g, " ")} · raised {when(x.raisedAt)} · last seen {when(x.lastSeenAt)}
                {x.resolvedAt && ` · resolved ${when(x.resolvedAt)}${x.resolvedBy ? ` by ${x.resolvedBy}` : ""}`}
              </div>
              {x.status === "open" && <button onClick={() => void resolve(x.alertId)}>Resolve</button>}
            </li>
          ))}
        </ul>
      )}
    </section>
  );
}
