// The manager's joining page: join requests (approve / reject with a reason), the join
// QR and the auto-approve policy, bulk import (dry run, then commit), residents without phones and
// their printed member cards.
import { api, clearErrors, handlePageError, newIdempotencyKey, showError, toast } from "./api.js";
import { t, tOr } from "./i18n.js";
import { fmtTime, h, initPage, setBusy } from "./ui.js";

initPage();

const $ = (id) => document.getElementById(id);
const state = { community: null, report: null, file: null, cursor: null };

const base = () => `/api/communities/${state.community}`;

// ---- join requests ----------------------------------------------------------------------------

function requestItem(r) {
  const reject = h("form", { class: "reject-form", hidden: true, novalidate: true },
    h("div", { class: "field" },
      h("label", { for: `reason-${r.id}` }, t("joining.reject_reason")),
      h("textarea", { id: `reason-${r.id}`, name: "reason", maxlength: 500, required: true })),
    h("button", { type: "submit", class: "btn btn-primary btn-block" }, t("joining.reject_confirm")));
  reject.addEventListener("submit", async (event) => {
    event.preventDefault();
    clearErrors(reject);
    const reason = reject.elements.reason.value.trim();
    if (!reason) {
      showError({ message: t("error.required") }, reject, "reason");
      return;
    }
    try {
      await api("POST", `/api/join-requests/${r.id}/reject`, { reason });
      toast(t("joining.rejected", { name: r.name }));
      loadRequests();
    } catch (err) {
      showError(err, reject);
    }
  });
  const approve = h("button", { type: "button", class: "btn btn-primary", "data-approve": r.id }, t("joining.approve"));
  approve.addEventListener("click", async () => {
    setBusy(approve, true);
    try {
      await api("POST", `/api/join-requests/${r.id}/approve`);
      toast(t("joining.approved", { name: r.name }), "success");
      loadRequests();
    } catch (err) {
      setBusy(approve, false);
      toast(err.message, "error");
    }
  });
  const showReject = h("button", { type: "button", class: "btn btn-secondary" }, t("joining.reject"));
  showReject.addEventListener("click", () => {
    reject.hidden = false;
    reject.elements.reason.focus();
  });
  const home = [r.building, r.unit_no].filter(Boolean).join(" ");  // where they say they live
  const meta = [home, r.phone, fmtTime(r.created_at), r.activity_title && t("joining.at_activity", { title: r.activity_title })];
  return h("li", { class: "request-item" },
    h("div", { class: "request-name" }, r.name),
    h("p", { class: "request-meta" }, meta.filter(Boolean).join(" · ")),
    h("div", { class: "request-actions" }, approve, showReject),
    reject);
}

async function loadRequests() {
  const queue = await api("GET", `${base()}/join-requests`);
  $("pending-count").textContent = String(queue.pending);
  $("pending-count").classList.toggle("is-zero", queue.pending === 0);
  $("requests").replaceChildren(...queue.items.map(requestItem));
  $("requests-empty").hidden = queue.items.length > 0;
}

// ---- join code and policy ---------------------------------------------------------------------

async function loadCode() {
  const [code, policy] = await Promise.all([api("GET", `${base()}/join-code`), api("GET", `${base()}/join-policy`)]);
  $("join-url").textContent = code.url;
  $("poster-svg").href = `${base()}/join-poster.svg`;
  $("poster-png").href = `${base()}/join-poster.png`;
  $("auto-approve").checked = policy.auto_approve;
}

$("auto-approve").addEventListener("change", async (event) => {
  const box = event.currentTarget;
  try {
    await api("PUT", `${base()}/join-policy`, { auto_approve: box.checked });
    toast(t(box.checked ? "joining.auto_on" : "joining.auto_off"), "success");
  } catch (err) {
    box.checked = !box.checked;
    toast(err.message, "error");
  }
});

// ---- import -----------------------------------------------------------------------------------

const STATUSES = ["new", "updated", "member", "error"];

function reasonText(row) {
  const text = tOr(`joining.reason.${row.reason}`, row.reason ?? "");
  return row.first_row ? `${text}${t("joining.first_row", { row: row.first_row })}` : text;
}

function renderReport(report) {
  const box = $("import-report");
  box.hidden = false;
  const counts = h("div", { class: "report-counts" }, STATUSES.map((s) =>
    h("div", { class: ["report-count", s === "error" && "is-error"], "data-status": s },
      h("strong", {}, String(report.counts[s])), t(`joining.status.${s}`))));
  const errors = report.errors.length
    ? [h("h3", {}, t("joining.errors_title", { n: report.errors.length })),
      h("ul", { class: "report-errors", id: "import-errors" }, report.errors.map((e) =>
        h("li", { "data-row": e.row }, t("joining.error_line", { row: e.row, name: e.name || "—", phone: e.phone || "—",
          reason: reasonText(e) }))))]
    : [];
  const changes = report.counts.new + report.counts.updated;
  let action = null;
  if (report.committed) {
    action = h("p", { class: "code-note", role: "status" }, t("joining.import_done", { new: report.counts.new,
      updated: report.counts.updated }));
  } else if (changes > 0) {
    action = h("button", { type: "button", class: "btn btn-primary btn-block", id: "import-commit" },
      t("joining.import_commit", { n: changes }));
    action.addEventListener("click", () => commitImport(action));
  } else {
    action = h("p", { class: "muted" }, t("joining.import_nothing"));
  }
  box.replaceChildren(h("h3", {}, t(report.committed ? "joining.report_done" : "joining.report_title")), counts,
    ...errors, action);
}

$("import-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const form = event.currentTarget;
  clearErrors(form);
  const file = $("import-file").files[0];
  if (!file) {
    showError({ message: t("error.required") }, form, "file");
    return;
  }
  const button = form.querySelector("[type=submit]");
  setBusy(button, true);
  try {
    const body = new FormData();
    body.append("file", file);
    state.report = await api("POST", `${base()}/imports/dry-run`, body, { timeout: 120000 });
    state.file = file;
    renderReport(state.report);
  } catch (err) {
    showError(err, form, "file");
  } finally {
    setBusy(button, false);
  }
});

async function commitImport(button) {
  setBusy(button, true);
  try {
    const body = new FormData();
    body.append("file", state.file);
    body.append("file_sha256", state.report.file_sha256);
    const report = await api("POST", `${base()}/imports`, body, { timeout: 120000 });
    renderReport(report);
    loadResidents();
  } catch (err) {
    setBusy(button, false);
    toast(err.message, "error");
  }
}

// ---- residents without phones and cards ----------------------------------------------------------

function selected() {
  return [...document.querySelectorAll("#residents input[type=checkbox]:checked")].map((box) => box.value);
}

function syncPrint() {
  const ids = selected();
  const link = $("print-cards");
  link.textContent = ids.length ? t("joining.print_cards_n", { n: ids.length }) : t("joining.print_cards");
  link.setAttribute("aria-disabled", String(!ids.length));
  if (ids.length) link.href = `${base()}/member-cards.pdf?user_ids=${ids.join(",")}`;
  else link.removeAttribute("href");
}

function residentItem(p) {
  const box = h("input", { type: "checkbox", value: String(p.id), id: `resident-${p.id}` });
  box.addEventListener("change", syncPrint);
  const reissue = h("button", { type: "button", class: "btn btn-secondary" }, t("joining.reissue"));
  reissue.addEventListener("click", async () => {
    if (!window.confirm(t("joining.reissue_confirm", { name: p.name }))) return;
    try {
      await api("POST", `${base()}/members/${p.id}/card`, undefined, { idempotencyKey: newIdempotencyKey() });
      toast(t("joining.reissued", { name: p.name }), "success");
    } catch (err) {
      toast(err.message, "error");
    }
  });
  return h("li", { class: "resident-item" },
    h("label", { class: "check-line", for: `resident-${p.id}` }, box, h("span", {}, p.name)),
    h("p", { class: "resident-meta" }, [p.household, p.id_hint && t("joining.id_hint_shown", { hint: p.id_hint })]
      .filter(Boolean).join(" · ") || t("joining.no_household")),
    reissue);
}

/** The people to pick cards for: residents without phones, or every member (a page at a time). */
async function loadResidents({ more = false } = {}) {
  let people;
  if ($("card-scope").value === "all") {
    const query = new URLSearchParams({ limit: "100" });
    if (more && state.cursor) query.set("cursor", state.cursor);
    const page = await api("GET", `${base()}/members?${query}`);
    people = page.items.map((m) => ({ id: m.id, name: m.name, household: m.grid_name, id_hint: null }));
    state.cursor = page.next_cursor;
  } else {
    people = await api("GET", `${base()}/residents`);
    state.cursor = null;
  }
  const items = people.map(residentItem);
  if (more) $("residents").append(...items);
  else $("residents").replaceChildren(...items);
  $("residents-more").hidden = !state.cursor;
  $("residents-empty").hidden = $("residents").children.length > 0;
  if (!more) $("select-all").checked = false;
  syncPrint();
}

$("card-scope").addEventListener("change", () => loadResidents().catch((err) => toast(err.message, "error")));
$("residents-more").addEventListener("click", () => loadResidents({ more: true })
  .catch((err) => toast(err.message, "error")));

$("select-all").addEventListener("change", (event) => {
  for (const box of document.querySelectorAll("#residents input[type=checkbox]")) box.checked = event.currentTarget.checked;
  syncPrint();
});

$("print-cards").addEventListener("click", (event) => {
  if (!selected().length) {
    event.preventDefault();
    toast(t("joining.select_first"), "error");
  }
});

$("resident-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const form = event.currentTarget;
  clearErrors(form);
  const data = Object.fromEntries(new FormData(form));
  if (!data.name.trim()) {
    showError({ message: t("error.required") }, form, "name");
    return;
  }
  const body = { name: data.name.trim() };
  if (data.household.trim()) body.household = data.household.trim();
  if (data.id_hint.trim()) body.id_hint = data.id_hint.trim();
  try {
    // one key per filled form: a double tap or a retry after a dropped answer adds the resident once
    form.dataset.key ||= newIdempotencyKey();
    const made = await api("POST", `${base()}/residents`, body, { idempotencyKey: form.dataset.key });
    delete form.dataset.key;
    toast(t("joining.resident_created", { name: made.name }), "success");
    form.reset();
    await loadResidents();
  } catch (err) {
    if (err.code !== "network") delete form.dataset.key; // the answer came: a corrected form is a new request
    showError(err, form);
  }
});

// ---- community --------------------------------------------------------------------------------

async function loadCommunity() {
  $("template-xlsx").href = `${base()}/imports/template.xlsx`;
  $("template-csv").href = `${base()}/imports/template.csv`;
  $("import-report").hidden = true;
  await Promise.all([loadRequests(), loadCode(), loadResidents()]);
}

async function start() {
  try {
    const summary = await api("GET", "/api/console/summary");
    const list = summary.communities;
    if (!list.length) {
      $("loading").textContent = t("joining.no_community");
      return;
    }
    const wanted = Number(new URLSearchParams(location.search).get("community"));
    state.community = list.some((c) => c.id === wanted) ? wanted : list[0].id;
    $("community").replaceChildren(...list.map((c) => h("option", { value: c.id, selected: c.id === state.community },
      c.name)));
    $("community-field").hidden = list.length < 2;
    $("community").addEventListener("change", (event) => {
      state.community = Number(event.currentTarget.value);
      history.replaceState(null, "", `?community=${state.community}`);
      loadCommunity().catch((err) => handlePageError(err, $("page-error")));
    });
    await loadCommunity();
    $("loading").hidden = true;
    $("joining").hidden = false;
  } catch (err) {
    $("loading").hidden = true;
    handlePageError(err, $("page-error"), start);
  }
}

start();
