/** Email campaigns: the list with each one's status and audience; a campaign's emails with their
 * results (GET /campaigns/{id}/stats), the per-recipient sends (GET /campaigns/{id}/sends), and
 * pause, resume and cancel. */
import { useEffect, useState } from "preact/hooks";
import { explain, type Api } from "../api";
import type { components } from "../api/schema";
import { dateTimeLabel } from "../time";
import { StatusSelect, TableHead } from "./parts";
import "./manage.css";

type Summary = components["schemas"]["CampaignSummaryView"];
type Campaign = components["schemas"]["CampaignView"];
type Stats = components["schemas"]["CampaignStatsView"];
type EmailStats = components["schemas"]["EmailStatsView"];
type Send = components["schemas"]["SendView"];
type Window = NonNullable<Summary["window"]>;

const STATUSES = ["draft", "scheduled", "active", "paused", "completed", "cancelled", "failed"];
const RUNNING = ["scheduled", "active", "paused"];

const when = (iso?: string | null) => (iso ? dateTimeLabel(new Date(iso)) : "—");
const count = (n: number | null | undefined) => (n === null || n === undefined ? "—" : String(n));
const percent = (r: number | null | undefined) => (r === null || r === undefined ? "" : `${(r * 100).toFixed(1)}%`);

function windowLabel(w: Window | null | undefined): string {
  if (!w) return "not scheduled";
  const time = `${String(w.sendTime.hour).padStart(2, "0")}:${String(w.sendTime.minute).padStart(2, "0")}`;
  return `from ${w.startDate} at ${time} ${w.recipientLocalTime ? "each recipient's time" : w.timezone}`;
}

function reasons(map: Record<string, number>): string {
  return Object.entries(map)
    .map(([why, n]) => `${why} ×${n}`)
    .join(", ");
}

export function Campaigns({ api }: { api: Api }) {
  const [status, setStatus] = useState("");
  const [list, setList] = useState<Summary[] | null>(null);
  const [cursor, setCursor] = useState<string | null>(null);
  const [open, setOpen] = useState<string | null>(null);
  const [problem, setProblem] = useState<string | null>(null);

  async function load(more = false) {
    setProblem(null);
    const { data, error } = await api.GET("/campaigns", {
      params: { query: { status: status || undefined, limit: 50, cursor: more ? (cursor ?? undefined) : undefined } },
    });
    if (error) return setProblem(explain(error));
    setList((old) => (more ? [...(old ?? []), ...data.campaigns] : data.campaigns));
    setCursor(data.nextCursor ?? null);
  }
  useEffect(() => {
    void load();
  }, [status]);

  const changed = (c: { campaignId: string; status: string }) =>
    setList((old) => (old ?? []).map((s) => (s.campaignId === c.campaignId ? { ...s, status: c.status } : s)));

  return (
    <section class="manage campaigns">
      <div class="toolbar">
        <h2>Campaigns</h2>
        <StatusSelect label="Status" every="Every status" options={STATUSES} value={status} onChange={setStatus} />
        <button onClick={() => void load()}>Refresh</button>
      </div>
      {problem && <p class="problem" role="alert">{problem}</p>}
      {list === null ? (
        <p>Loading…</p>
      ) : !list.length ? (
        <p class="empty">No campaigns{status ? ` ${status}` : ""} yet.</p>
      ) : (
        <table class="grid" aria-label="Campaigns">
          <TableHead cols={["Name", "Status", "Emails", "Recipients", "When", "Created"]} />
          <tbody>
            {list.map((c) => [
              <tr key={c.campaignId} class="campaign" data-campaign-id={c.campaignId}>
                <td>
                  <button class="link" aria-expanded={open === c.campaignId} onClick={() => setOpen(open === c.campaignId ? null : c.campaignId)}>
                    {c.name}
                  </button>
                  <div class="sub">{c.template}</div>
                </td>
                <td>
                  <span class={`badge state-${c.status}`}>{c.status}</span>
                </td>
                <td>{c.emailCount}</td>
                <td>{c.recipientCount}</td>
                <td>{windowLabel(c.window)}</td>
                <td>{when(c.createdAt)}</td>
              </tr>,
              open === c.campaignId && (
                <tr key={`${c.campaignId}-detail`} class="detail">
                  <td colSpan={6}>
                    <CampaignDetail api={api} campaignId={c.campaignId} onChange={changed} />
                  </td>
                </tr>
              ),
            ])}
          </tbody>
        </table>
      )}
      {cursor && <button onClick={() => void load(true)}>More campaigns</button>}
    </section>
  );
}

function CampaignDetail({
  api,
  campaignId,
  onChange,
}: {
  api: Api;
  campaignId: string;
  onChange: (c: { campaignId: string; status: string }) => void;
}) {
  const [campaign, setCampaign] = useState<Campaign | null>(null);
  const [stats, setStats] = useState<Stats | null>(null);
  const [problem, setProblem] = useState<string | null>(null);
  const [notice, setNotice] = useState<string | null>(null);
  const [confirmCancel, setConfirmCancel] = useState(false);
  const [busy, setBusy] = useState(false);
  const path = { params: { path: { campaignId } } };

  async function load() {
    const [c, s] = await Promise.all([api.GET("/campaigns/{campaignId}", path), api.GET("/campaigns/{campaignId}/stats", path)]);
    if (c.error || s.error) return setProblem(explain(c.error ?? s.error));
    setCampaign(c.data);
    setStats(s.data);
    onChange(c.data);
  }
  useEffect(() => {
    void load();
  }, [campaignId]);

  async function act(action: "pause" | "resume" | "cancel") {
    setBusy(true);
    setProblem(null);
    setNotice(null);
    setConfirmCancel(false);
    const done =
      action === "pause"
        ? await api.POST("/campaigns/{campaignId}/pause", path)
        : action === "resume"
          ? await api.POST("/campaigns/{campaignId}/resume", path)
          : await api.POST("/campaigns/{campaignId}/cancel", path);
    setBusy(false);
    if (done.error) return setProblem(`Could not ${action} the campaign: ${explain(done.error)}`);
    const state = "campaign" in done.data ? done.data.campaign : done.data;
    const skipped = "skippedSends" in done.data ? ` (${done.data.skippedSends} planned sends skipped)` : "";
    setNotice(`The campaign is ${state.status}${skipped}.`);
    await load();
  }

  if (!campaign || !stats) return problem ? <p class="problem" role="alert">{problem}</p> : <p>Loading…</p>;
  const subjects = new Map(campaign.emails.map((e) => [e.n, e]));
  return (
    <div class="campaign-detail" aria-label={`Campaign ${campaign.name}`}>
      <p class="facts">
        <span class={`badge state-${campaign.status}`} data-testid="campaign-status">{campaign.status}</span>{" "}
        {windowLabel(campaign.window)} · {campaign.recipientCount} recipients · {campaign.emails.length} emails over{" "}
        {campaign.estimatedDuration} days
        {campaign.startedAt && <> · started {when(campaign.startedAt)}</>}
        {campaign.completedAt && <> · ended {when(campaign.completedAt)}</>}
      </p>
      {campaign.finalReason && <p class="reason">{campaign.finalReason}</p>}
      <div class="actions">
        {["scheduled", "active"].includes(campaign.status) && (
          <button disabled={busy} onClick={() => void act("pause")}>Pause</button>
        )}
        {campaign.status === "paused" && (
          <button disabled={busy} onClick={() => void act("resume")}>Resume</button>
        )}
        {RUNNING.includes(campaign.status) &&
          (confirmCancel ? (
            <span class="confirm">
              Cancel for good? Planned sends are skipped.{" "}
              <button class="danger" disabled={busy} onClick={() => void act("cancel")}>Yes, cancel it</button>
              <button onClick={() => setConfirmCancel(false)}>Keep it</button>
            </span>
          ) : (
            <button disabled={busy} onClick={() => setConfirmCancel(true)}>Cancel campaign</button>
          ))}
      </div>
      {problem && <p class="problem" role="alert">{problem}</p>}
      {notice && <p class="notice" role="status">{notice}</p>}
      <table class="grid stats" aria-label="Emails">
        <TableHead cols={["#", "Subject", "After", "Recipients", "Sent", "Skipped", "Failed", "Delivered", "Bounced", "Opened", "Clicked"]} />
        <tbody>
          {stats.emails.map((e) => (
            <EmailRow key={e.n} stats={e} delay={`${subjects.get(e.n ?? 0)?.delay ?? "—"} ${campaign.delayUnit}`} />
          ))}
          <EmailRow stats={stats.totals} delay="" />
        </tbody>
      </table>
      {campaign.recommendations.length > 0 && (
        <ul class="recommendations">
          {campaign.recommendations.map((r) => (
            <li key={r.code + (r.emailNumbers ?? []).join()}>{r.message}</li>
          ))}
        </ul>
      )}
      <Sends api={api} campaignId={campaignId} emails={campaign.emails.map((e) => e.n)} version={campaign.version} />
    </div>
  );
}

function EmailRow({ stats: e, delay }: { stats: EmailStats; delay: string }) {
  const total = e.n === null || e.n === undefined;
  return (
    <tr class={total ? "email-total" : "email"} data-email={e.n ?? "total"}>
      <td>{total ? "All" : e.n}</td>
      <td>{e.subject ?? ""}</td>
      <td>{delay}</td>
      <td>{e.recipients}</td>
      <td>{e.sent}</td>
      <td title={reasons(e.skippedReasons)}>{e.skipped}</td>
      <td title={reasons(e.failedReasons)}>
        {e.failed}
        {e.failed > 0 && <div class="reason">{reasons(e.failedReasons)}</div>}
      </td>
      <td>
        {count(e.delivered)} <span class="sub">{percent(e.rates.deliveryRate)}</span>
      </td>
      <td>
        {count(e.bounced)} <span class="sub">{percent(e.rates.bounceRate)}</span>
      </td>
      <td>
        {count(e.opened)} <span class="sub">{percent(e.rates.openRate)}</span>
      </td>
      <td>
        {count(e.clicked)} <span class="sub">{percent(e.rates.clickRate)}</span>
      </td>
    </tr>
  );
}

const SEND_STATUSES = ["planned", "sending", "sent", "skipped", "failed"];

/** The sends, read again when the campaign changes (a pause holds them, a cancel skips them). */
function Sends({ api, campaignId, emails, version }: { api: Api; campaignId: string; emails: number[]; version: number }) {
  const [n, setN] = useState("");
  const [status, setStatus] = useState("");
  const [sends, setSends] = useState<Send[] | null>(null);
  const [cursor, setCursor] = useState<string | null>(null);
  const [problem, setProblem] = useState<string | null>(null);

  async function load(more = false) {
    const { data, error } = await api.GET("/campaigns/{campaignId}/sends", {
      params: {
        path: { campaignId },
        query: {
          n: n ? Number(n) : undefined,
          status: status || undefined,
          limit: 50,
          cursor: more ? (cursor ?? undefined) : undefined,
        },
      },
    });
    if (error) return setProblem(explain(error));
    setProblem(null);
    setSends((old) => (more ? [...(old ?? []), ...data.sends] : data.sends));
    setCursor(data.nextCursor ?? null);
  }
  useEffect(() => {
    void load();
  }, [n, status, version]);

  return (
    <div class="sends">
      <div class="toolbar">
        <h3>Sends</h3>
        <select aria-label="Email" value={n} onChange={(e) => setN(e.currentTarget.value)}>
          <option value="">Every email</option>
          {emails.map((k) => (
            <option key={k} value={k}>
              Email {k}
            </option>
          ))}
        </select>
        <StatusSelect label="Send status" every="Every outcome" options={SEND_STATUSES} value={status} onChange={setStatus} />
      </div>
      {problem && <p class="problem" role="alert">{problem}</p>}
      {sends && !sends.length && <p class="empty">No sends{cursor ? " on this page" : ""} (a campaign has sends once it is scheduled).</p>}
      {sends && sends.length > 0 && (
        <table class="grid" aria-label="Sends">
          <TableHead cols={["#", "Recipient", "Status", "Planned", "Their time", "Sent", "Opened", "Clicked"]} />
          <tbody>
            {sends.map((s) => (
              <tr key={`${s.n}-${s.email}`} class="send">
                <td>{s.n}</td>
                <td>{s.email}</td>
                <td>
                  <span class={`badge send-${s.status}`}>{s.paused ? "held (paused)" : s.status}</span>
                  {s.reason && <div class="reason">{s.reason}</div>}
                </td>
                <td>{when(s.sendAt)}</td>
                <td>
                  {s.localTime?.replace("T", " ").slice(0, 16) ?? "—"} <span class="sub">{s.timezone}</span>
                </td>
                <td>{when(s.sentAt)}</td>
                <td>{when(s.openedAt)}</td>
                <td>{when(s.clickedAt)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {cursor && <button onClick={() => void load(true)}>More sends</button>}
    </div>
  );
}
