// A person's join request, shared by the scan page (refused with not_member) and the
// join page (/j/<code>): ask, then watch the request until a manager decides. When the request
// came from a refused check-in, approval completes that check-in: the page shows it, no new scan.
import { api } from "./api.js";
import { t, tOr } from "./i18n.js";

const POLL_MS = 3000;
const POLL_FOR_MS = 2 * 60 * 60 * 1000; // a page left open for the morning still learns the answer

/** POST /api/join-requests with {join_code} or {scan_code, nonce}. */
export function askToJoin(body) {
  return api("POST", "/api/join-requests", body);
}

/** How a decided (or pending) request reads: {tone, title, note, amounts?, checkedIn}. */
export function describe(request) {
  const community = request.community_name;
  if (request.state === "pending") {
    return { tone: "info", title: t("join.pending_title"),
      note: t(request.activity_id ? "join.pending_note_checkin" : "join.pending_note", { community }) };
  }
  if (request.state === "rejected") {
    return { tone: "error", title: t("join.rejected_title"),
      note: request.reason ? t("join.rejected_note", { reason: request.reason }) : "" };
  }
  const done = request.checkin;
  if (done?.action === "checked_in" || done?.action?.startsWith("already")) {
    return { tone: "ok", title: t("join.approved_checked_in"), points: done.points, checkedIn: true,
      note: t("join.approved_checked_in_note", { community, title: done.title ?? "" }) };
  }
  if (done?.error) {
    return { tone: "info", title: t("join.approved_title", { community }),
      note: `${tOr(`join.checkin_error.${done.error}`, t("join.checkin_error.other"))} ${t("join.scan_again")}` };
  }
  return { tone: "ok", title: t("join.approved_title", { community }), note: t("join.approved_note") };
}

/** Poll the request until it is decided; `onChange(request)` after each answer. Returns a stop function. */
export function watch(request, onChange) {
  let stopped = false;
  const started = Date.now();
  async function tick() {
    if (stopped || request.state !== "pending" || Date.now() - started > POLL_FOR_MS) return;
    try {
      request = await api("GET", `/api/join-requests/${request.id}`);
      onChange(request);
    } catch {
      // a flaky connection: keep asking
    }
    if (request.state === "pending") setTimeout(tick, POLL_MS);
  }
  setTimeout(tick, POLL_MS);
  return () => { stopped = true; };
}
