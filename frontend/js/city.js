// A city loads itself: an admin loads the org tree; admins and street or district managers
// load managers, work units and party members for their part of the tree. A dry run lists every
// row's problem by its row number; the commit loads the valid rows and invites the people named.
import { api } from "./api.js";
import { t } from "./i18n.js";
import { clearErrors, h, initPage, setBusy, showError, toast } from "./ui.js";

initPage();

const $ = (id) => document.getElementById(id);
const STATUSES = ["new", "same", "updated", "error"];
const state = { report: null, file: null };

function setKind() {
  const kind = $("kind").value;
  $("kind-hint").textContent = t(`city.hint.${kind}`);
  $("template-xlsx").href = `/api/city-imports/${kind}/template?format=xlsx`;
  $("template-csv").href = `/api/city-imports/${kind}/template?format=csv`;
  $("report").hidden = true;
}

function reasonText(e) {
  const text = t(`city.reason.${e.reason}`);
  return e.first_row ? `${text}（${t("city.first_row", { row: e.first_row })}）` : text;
}

function render(report) {
  const box = $("report");
  box.hidden = false;
  const counts = h("div", { class: "report-counts" }, STATUSES.map((s) =>
    h("div", { class: ["report-count", s === "error" && "is-error"], "data-status": s },
      h("strong", {}, String(report.counts[s])), t(`city.status.${s}`))));
  const errors = report.errors.length
    ? [h("h3", {}, t("city.errors_title", { n: report.errors.length })),
      h("ul", { class: "report-errors", id: "errors" }, report.errors.map((e) =>
        h("li", { "data-row": e.row }, t("city.error_line", { row: e.row, key: e.key || "—", name: e.name || "—",
          reason: reasonText(e) }))))]
    : [];
  const changes = report.counts.new + report.counts.updated;
  let action;
  if (report.committed) {
    action = h("p", { class: "code-note", role: "status", id: "done" },
      t("city.done", { new: report.counts.new, updated: report.counts.updated, invites: report.invites }));
  } else if (changes > 0) {
    action = h("button", { type: "button", class: "btn btn-primary btn-block", id: "commit" },
      t("city.commit", { n: changes }));
    action.addEventListener("click", () => commit(action));
  } else {
    action = h("p", { class: "muted", id: "nothing" }, t("city.nothing"));
  }
  box.replaceChildren(h("h3", {}, t(report.committed ? "city.report_done" : "city.report_title")), counts,
    ...errors, action);
}

$("check-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const form = event.currentTarget;
  clearErrors(form);
  const file = $("file").files[0];
  if (!file) {
    showError({ message: t("error.required") }, form, "file");
    return;
  }
  const button = $("check");
  setBusy(button, true);
  try {
    const body = new FormData();
    body.append("file", file);
    state.report = await api("POST", `/api/city-imports/${$("kind").value}/dry-run`, body, { timeout: 300000 });
    state.file = file;
    render(state.report);
  } catch (err) {
    showError(err, form, "file");
  } finally {
    setBusy(button, false);
  }
});

async function commit(button) {
  setBusy(button, true);
  try {
    const body = new FormData();
    body.append("file", state.file);
    body.append("file_sha256", state.report.file_sha256);
    render(await api("POST", `/api/city-imports/${$("kind").value}`, body, { timeout: 300000 }));
  } catch (err) {
    setBusy(button, false);
    toast(err.message, "error");
  }
}

$("kind").addEventListener("change", setKind);

try {
  const me = await api("GET", "/api/me");
  $("status").hidden = true;
  const admin = me.is_admin || (me.roles ?? []).includes("admin");
  if (!admin && !(me.levels ?? []).length) {
    $("none").hidden = false;
  } else {
    if (!admin) $("kind").querySelector("option[value=tree]").remove();  // the tree is the platform's
    setKind();
    $("page").hidden = false;
  }
} catch (err) {
  $("status").textContent = err.message;
}
