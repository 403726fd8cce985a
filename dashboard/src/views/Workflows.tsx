/** Workflows: the runs waiting for someone's approval, with what their steps produced, approved or
 * rejected with a reason here (POST /workflows/{id}/steps/{stepId}/approve|reject); below, every
 * workflow with its steps. A decided run is read again until it ends or waits again; a run that comes
 * to wait for an approval while the page is open (the live `workflow.awaiting_approval`) is read and
 * shown at once. */
import { useEffect, useRef, useState } from "preact/hooks";
import { explain, type Api } from "../api";
import type { components } from "../api/schema";
import { onLive } from "../live";
import { Problem } from "../Problem";
import { dateTimeLabel } from "../time";
import { withWorkflow, workflowAction, worthRetrying } from "../workflows";
import { StatusSelect, TableHead } from "./parts";
import "./manage.css";

type Workflow = components["schemas"]["WorkflowView"];
type Step = components["schemas"]["StepView"];

const FINAL = ["completed", "failed", "cancelled"];
const STATUSES = ["draft", "active", "paused", ...FINAL];
const when = (iso?: string | null) => (iso ? dateTimeLabel(new Date(iso)) : "—");
const waitingStep = (wf: Workflow) => wf.steps.find((s) => s.status === "awaiting_approval");

/** Every workflow of the user, page after page (newest first). */
async function allWorkflows(api: Api): Promise<Workflow[]> {
  const out: Workflow[] = [];
  let nextToken: string | undefined;
  for (let page = 0; page < 10; page++) {
    const { data, error } = await api.GET("/workflows", { params: { query: { limit: 100, nextToken } } });
    if (error) throw new Error(explain(error));
    out.push(...data.workflows);
    nextToken = data.nextToken ?? undefined;
    if (!nextToken) break;
  }
  return out;
}

export function Workflows({ api }: { api: Api }) {
  const [list, setList] = useState<Workflow[] | null>(null);
  const [status, setStatus] = useState("");
  const [problem, setProblem] = useState<string | null>(null);
  // a workflow read again (after a decision, or when it comes to wait) that could not be
  const [readProblem, setReadProblem] = useState<string | null>(null);
  const alive = useRef(true);

  const load = () =>
    allWorkflows(api)
      .then((found) => {
        setProblem(null);
        setList(found);
      })
      .catch((e: Error) => setProblem(e.message));
  useEffect(() => {
    void load();
    return () => {
      alive.current = false;
    };
  }, []);

  const put = (wf: Workflow) => setList((old) => withWorkflow(old, wf));

  /** The workflow as it is now, put in the list; null when it could not be read (the reason shown),
   * `retry` whether trying again later may help. */
  async function read(workflowId: string, name: string): Promise<{ wf: Workflow | null; retry: boolean }> {
    try {
      const { data, error, response } = await api.GET("/workflows/{workflowId}", { params: { path: { workflowId } } });
      if (error) {
        setReadProblem(`Could not read the workflow ${name} again: ${explain(error)}`);
        return { wf: null, retry: worthRetrying(response.status) };
      }
      setReadProblem(null);
      put(data);
      return { wf: data, retry: false };
    } catch (e) {
      setReadProblem(`Could not read the workflow ${name} again: ${explain(e)}`);
      return { wf: null, retry: true };
    }
  }

  // a workflow that comes to wait for an approval is read and shown; after a reconnection, all of them
  useEffect(
    () =>
      onLive((event) => {
        const action = workflowAction(event);
        if (action?.kind === "reload") return void load();
        if (action?.kind === "read") void read(action.workflowId, String(event.data.name ?? action.workflowId));
      }),
    [],
  );

  /** After a decision: read the workflow again until it ends or waits for another approval (or a
   * read is refused for good). */
  async function follow(wf: Workflow) {
    put(wf);
    for (let i = 0; i < 180 && alive.current; i++) {
      await new Promise((r) => window.setTimeout(r, 1000));
      const { wf: now, retry } = await read(wf.workflowId, wf.name);
      if (!now && !retry) return;
      if (now && (FINAL.includes(now.status) || waitingStep(now))) return;
    }
  }

  const waiting = (list ?? []).filter((w) => !FINAL.includes(w.status) && waitingStep(w));
  const shown = (list ?? []).filter((w) => !status || w.status === status);
  return (
    <section class="manage workflows">
      <div class="toolbar">
        <h2>Waiting for approval</h2>
        <button onClick={() => void load()}>Refresh</button>
      </div>
      <Problem error={problem} />
      <Problem error={readProblem} />
      {list === null ? (
        <p>Loading…</p>
      ) : !waiting.length ? (
        <p class="empty">Nothing waits for your approval.</p>
      ) : (
        waiting.map((wf) => <Approval key={wf.workflowId} api={api} workflow={wf} onDecided={follow} />)
      )}
      <div class="toolbar">
        <h2>All workflows</h2>
        <StatusSelect label="Status" every="Every status" options={STATUSES} value={status} onChange={setStatus} />
      </div>
      {list && !shown.length && <p class="empty">No workflows{status ? ` ${status}` : ""}.</p>}
      {shown.map((wf) => (
        <WorkflowCard key={wf.workflowId} workflow={wf} />
      ))}
    </section>
  );
}

function Approval({ api, workflow: wf, onDecided }: { api: Api; workflow: Workflow; onDecided: (wf: Workflow) => void }) {
  const step = waitingStep(wf)!;
  const [reason, setReason] = useState("");
  const [rejecting, setRejecting] = useState(false);
  const [busy, setBusy] = useState(false);
  const [problem, setProblem] = useState<string | null>(null);
  const path = { params: { path: { workflowId: wf.workflowId, stepId: step.stepId } } };
  const produced = wf.steps.filter((s) => s.output && (s.status === "completed" || s === step));

  async function decide(approve: boolean) {
    setBusy(true);
    setProblem(null);
    const done = approve
      ? await api.POST("/workflows/{workflowId}/steps/{stepId}/approve", path)
      : await api.POST("/workflows/{workflowId}/steps/{stepId}/reject", { ...path, body: { reason: reason.trim() } });
    setBusy(false);
    if (done.error) return setProblem(explain(done.error));
    onDecided(done.data);
  }

  return (
    <article class="card approval" data-workflow-id={wf.workflowId} aria-label={`Approve ${wf.name}`}>
      <header>
        <strong>{wf.name}</strong> <span class="sub">{wf.template ?? "custom definition"}</span>
        <span class="sub">started {when(wf.startedAt)}</span>
      </header>
      <p>
        Step <code>{step.stepId}</code> ({step.action}) waits for your decision.
      </p>
      {produced.map((s) => (
        <Output key={s.stepId} step={s} />
      ))}
      {problem && <p class="problem" role="alert">{problem}</p>}
      {rejecting ? (
        <form
          class="reject"
          onSubmit={(e) => {
            e.preventDefault();
            void decide(false);
          }}
        >
          <label>
            Why reject it?
            <textarea rows={2} maxLength={2000} required value={reason} onInput={(e) => setReason(e.currentTarget.value)} />
          </label>
          <div class="actions">
            <button type="submit" class="danger" disabled={busy || !reason.trim()}>Reject</button>
            <button type="button" onClick={() => setRejecting(false)}>Back</button>
          </div>
        </form>
      ) : (
        <div class="actions">
          <button type="button" class="primary" disabled={busy} onClick={() => void decide(true)}>Approve</button>
          <button type="button" disabled={busy} onClick={() => setRejecting(true)}>Reject…</button>
        </div>
      )}
    </article>
  );
}

/** What a step produced: its text as it reads, then the other fields. */
function Output({ step }: { step: Step }) {
  const output = step.output ?? {};
  const text = typeof output.text === "string" ? output.text : null;
  const rest = Object.entries(output).filter(([k, v]) => k !== "text" && v !== null && v !== undefined && v !== "");
  return (
    <div class="output" data-step={step.stepId}>
      <div class="sub">
        {step.stepId} · {step.action}
      </div>
      {text && <blockquote class="produced">{text}</blockquote>}
      {rest.length > 0 && (
        <dl>
          {rest.map(([k, v]) => [
            <dt key={`${k}-t`}>{k}</dt>,
            <dd key={`${k}-d`}>{typeof v === "object" ? JSON.stringify(v) : String(v)}</dd>,
          ])}
        </dl>
      )}
      {step.gateResults.length > 0 && (
        <p class="sub">
          Checks:{" "}
          {step.gateResults
            .map((g) => {
              const why = Array.isArray(g.reasons) && g.reasons.length ? ` (${g.reasons.join("; ")})` : "";
              return `${String(g.gateType ?? "gate")} ${g.passed === false ? "failed" : "passed"}${why}`;
            })
            .join(", ")}
        </p>
      )}
    </div>
  );
}

function WorkflowCard({ workflow: wf }: { workflow: Workflow }) {
  const [open, setOpen] = useState(false);
  const rejected = wf.steps.find((s) => s.approval?.decision === "rejected");
  return (
    <article class="card workflow" data-workflow-id={wf.workflowId}>
      <header>
        <button class="link" aria-expanded={open} onClick={() => setOpen(!open)}>
          {wf.name}
        </button>
        <span class={`badge state-${wf.status}`} data-testid="workflow-status">{wf.status}</span>
        <span class="sub">
          {wf.metrics.completed}/{wf.steps.length} steps done · created {when(wf.createdAt)}
          {wf.completedAt && <> · ended {when(wf.completedAt)}</>}
        </span>
      </header>
      {wf.failureReason && <p class="reason">{wf.failureReason}</p>}
      {rejected?.approval?.reason && (
        <p class="rejection">
          Rejected{rejected.approval.by ? ` by ${rejected.approval.by}` : ""}: {rejected.approval.reason}
        </p>
      )}
      {open && (
        <table class="grid steps" aria-label="Steps">
          <TableHead cols={["Step", "Status", "Attempts", "Took", "Outcome"]} />
          <tbody>
            {wf.steps.map((s) => (
              <tr key={s.stepId}>
                <td>
                  {s.stepId} <span class="sub">{s.action}</span>
                </td>
                <td>
                  <span class={`badge step-${s.status}`}>{s.status.replace(/_/g, " ")}</span>
                </td>
                <td>
                  {s.attempts}
                  {s.fixAttempts > 0 && <span class="sub"> ({s.fixAttempts} fixes)</span>}
                </td>
                <td>{s.durationMs ? `${(s.durationMs / 1000).toFixed(1)} s` : "—"}</td>
                <td>
                  {s.error && <div class="reason">{s.error}</div>}
                  {s.approval && (
                    <div class="sub">
                      {s.approval.decision.replace(/_/g, " ")}
                      {s.approval.reason ? `: ${s.approval.reason}` : ""}
                    </div>
                  )}
                  {s.output && <Output step={s} />}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </article>
  );
}
