// The courier's page: one big button per kind, a short form (text, place, photo), an outbox that
// keeps unsent reports and retries them with the same idempotency key, my reports, points and rank.
import { api, ApiError, handlePageError, newIdempotencyKey, showError, clearErrors, toast } from "./api.js";
import { t } from "./i18n.js";
import { fmtPoints, fmtTime, h, initPage, setBusy } from "./ui.js";
import { listOutbox, removeOutbox, saveOutbox } from "./report-outbox.js";
import { kindTag, reportIcon, reviewNote, stateBadge } from "./report-parts.js";

initPage();

const $ = (id) => document.getElementById(id);
const KINDS = ["hazard", "civility", "service"];
const PHOTO_REQUIRED = new Set(["hazard"]);
const MAX_SIDE = 1600;          // the server keeps at most this; sending more only costs the courier data
const JPEG_QUALITY = 0.82;
const MAX_UPLOAD = 10 * 1024 * 1024;
const RETRY_EVERY_MS = 20000;

const state = {
  summary: null,
  kind: null,
  photo: null,          // the compressed Blob to send
  photoUrl: null,       // its preview object URL
  position: null,       // {lat, lng, accuracy} when the browser allowed it
  geoRequest: 0,        // ignore a late position for a form that was closed since
  sending: false,
};

// ---- small pieces ---------------------------------------------------------------------------

function reportItem(report) {
  const meta = [report.place, fmtTime(report.created_at)].filter(Boolean).join(" · ");
  return h("li", { class: "report-item", id: `report-${report.id}`, tabindex: "-1",
    dataset: { id: report.id, state: report.state } },
    h("div", { class: "report-body" },
      h("div", { class: "report-head" },
        kindTag(report.kind), stateBadge(report)),
      h("p", { class: "report-text" }, report.text),
      h("div", { class: "report-meta" }, meta),
      reviewNote(report)),
    report.photo_url && h("a", { class: "report-thumb", href: report.photo_url, target: "_blank", rel: "noopener" },
      h("img", { src: report.photo_url, alt: t("report.photo_alt"), loading: "lazy", width: 64, height: 64 })));
}

// ---- summary --------------------------------------------------------------------------------

function renderSummary(summary) {
  state.summary = summary;
  $("loading").hidden = true;
  if (!summary.grid) {
    $("not-courier").hidden = false;
    $("courier-head").hidden = true;
    $("courier").hidden = true;
    return;
  }
  $("courier-head").hidden = false;
  $("courier").hidden = false;
  $("grid-name").textContent = summary.grid.name;
  $("stat-points").textContent = fmtPoints(summary.points.available);
  const rank = summary.rank;
  $("stat-rank").replaceChildren(rank.points > 0
    ? h("span", {}, t("courier.rank_value", { position: rank.position }),
      h("small", {}, t("courier.rank_of", { of: rank.of })))
    : h("span", { class: "courier-stat-none" }, t("courier.rank_none")));
  $("stat-rank-label").title = rank.quarter;
  $("stat-today").replaceChildren(h("span", {}, fmtPoints(summary.today.points),
    h("small", {}, `/${fmtPoints(summary.today.daily_cap)}`)));
  renderKinds(summary.kinds);
  $("mine").replaceChildren(...summary.recent.map(reportItem));
  $("mine-empty").hidden = summary.recent.length > 0;
}

function renderKinds(points) {
  $("kinds").replaceChildren(...KINDS.map((kind) =>
    h("button", { type: "button", class: ["kind-button", `kind-${kind}`], dataset: { kind }, onclick: () => openForm(kind) },
      h("span", { class: "kind-button-icon" }, reportIcon(kind)),
      h("span", { class: "kind-button-text" },
        h("span", { class: "kind-button-name" }, t(`report.kind.${kind}`)),
        h("span", { class: "kind-button-hint" }, t(`report.kind_hint.${kind}`))),
      h("span", { class: "kind-button-points" }, t("courier.plus_points", { n: points[kind] ?? 0 })))));
}

async function loadSummary() {
  const summary = await api("GET", "/api/couriers/me");
  renderSummary(summary);
}

// ---- the form -------------------------------------------------------------------------------

function openForm(kind) {
  state.kind = kind;
  const form = $("report-form");
  clearErrors(form);
  $("form-kind").replaceChildren(reportIcon(kind), t(`report.kind.${kind}`));
  $("form-kind").className = `kind-chip kind-${kind}`;
  $("photo-required").hidden = !PHOTO_REQUIRED.has(kind);
  $("text").placeholder = t(`courier.text_ph.${kind}`);
  $("kinds-card").hidden = true;
  form.hidden = false;
  locate();
  $("text").focus();
  form.scrollIntoView({ block: "start" });
}

/** A message's link (#report-<id>) lands where to act: a report sent back opens the form
 *  again with its words, place and the reason, to add what was missing and send it as a new report;
 *  any other report is shown and focused in "my reports". */
async function openFromLink() {
  const id = Number(/^#report-(\d+)$/.exec(location.hash)?.[1]);
  if (!id) return;
  let report = state.summary.recent.find((r) => r.id === id);
  if (!report) report = (await api("GET", "/api/reports?mine=true&limit=100")).items.find((r) => r.id === id);
  if (!report) return;
  if (report.state === "rejected") {
    openForm(report.kind);
    $("text").value = report.text;
    $("text-count").textContent = String(report.text.length);
    $("place").value = report.place ?? "";
    $("form-again").hidden = false;
    $("form-again").textContent = t("courier.again", { reason: report.reject_reason });
    return;
  }
  const item = document.getElementById(`report-${id}`);
  item?.classList.add("is-linked");
  item?.scrollIntoView({ block: "center" });
  item?.focus();
}

function closeForm() {
  const form = $("report-form");
  $("form-again").hidden = true;
  form.reset();
  clearErrors(form);
  setPhoto(null);
  state.kind = null;
  state.position = null;
  state.geoRequest += 1;
  $("text-count").textContent = "0";
  geoStatus("");
  form.hidden = true;
  $("kinds-card").hidden = false;
}

function geoStatus(text, ok = false) {
  const status = $("geo-status");
  status.replaceChildren(text ? reportIcon("pin") : "", text);
  status.classList.toggle("is-ok", ok);
}

function locate() {
  state.position = null;
  if (!("geolocation" in navigator)) {
    geoStatus(t("courier.geo_unavailable"));
    return;
  }
  const request = ++state.geoRequest;
  geoStatus(t("courier.geo_locating"));
  navigator.geolocation.getCurrentPosition(
    (pos) => {
      if (request !== state.geoRequest) return;
      state.position = {
        lat: Number(pos.coords.latitude.toFixed(6)),
        lng: Number(pos.coords.longitude.toFixed(6)),
        accuracy: Math.round(pos.coords.accuracy || 0),
      };
      geoStatus(t("courier.geo_ok", { m: state.position.accuracy }), true);
    },
    () => {
      if (request !== state.geoRequest) return;
      geoStatus(t("courier.geo_denied"));
    },
    { enableHighAccuracy: true, timeout: 15000, maximumAge: 60000 },
  );
}

function setPhoto(blob) {
  if (state.photoUrl) URL.revokeObjectURL(state.photoUrl);
  state.photo = blob;
  state.photoUrl = blob ? URL.createObjectURL(blob) : null;
  $("photo-preview").hidden = !blob;
  $("photo-pick").hidden = !!blob;
  if (blob) {
    $("photo-img").src = state.photoUrl;
    $("photo-size").textContent = t("courier.photo_size", { kb: Math.max(1, Math.round(blob.size / 1024)) });
  } else {
    $("photo-img").removeAttribute("src");
    $("photo").value = "";
  }
}

async function decodeImage(file) {
  if ("createImageBitmap" in window) {
    try {
      return await createImageBitmap(file, { imageOrientation: "from-image" });
    } catch {
      // fall through: some browsers decode more formats through <img>
    }
  }
  const url = URL.createObjectURL(file);
  try {
    const img = new Image();
    img.src = url;
    await img.decode();
    return img;
  } finally {
    setTimeout(() => URL.revokeObjectURL(url), 0);
  }
}

/** Downscale to at most 1600 px and re-encode as JPEG in the browser: a phone photo of 4 MB becomes
 *  a few hundred KB, which a weak signal can carry. Formats the browser cannot decode go as they are. */
async function compressPhoto(file) {
  let image;
  try {
    image = await decodeImage(file);
  } catch {
    if (file.size <= MAX_UPLOAD) return file;
    throw new Error(t("courier.photo_unreadable"));
  }
  const width = image.width || image.naturalWidth;
  const height = image.height || image.naturalHeight;
  const scale = Math.min(1, MAX_SIDE / Math.max(width, height));
  const canvas = document.createElement("canvas");
  canvas.width = Math.max(1, Math.round(width * scale));
  canvas.height = Math.max(1, Math.round(height * scale));
  const context = canvas.getContext("2d");
  context.fillStyle = "#fff"; // transparent PNGs become white, as on the server
  context.fillRect(0, 0, canvas.width, canvas.height);
  context.drawImage(image, 0, 0, canvas.width, canvas.height);
  image.close?.();
  const blob = await new Promise((resolve) => canvas.toBlob(resolve, "image/jpeg", JPEG_QUALITY));
  if (!blob) throw new Error(t("courier.photo_unreadable"));
  return blob;
}

$("photo").addEventListener("change", async (event) => {
  const file = event.target.files?.[0];
  if (!file) return;
  const pick = $("photo-pick");
  pick.classList.add("is-busy");
  try {
    setPhoto(await compressPhoto(file));
  } catch (err) {
    setPhoto(null);
    showError({ message: err.message, details: { field: "photo" } }, $("report-form"));
  } finally {
    pick.classList.remove("is-busy");
  }
});
$("photo-remove").addEventListener("click", () => setPhoto(null));
$("cancel").addEventListener("click", closeForm);
$("text").addEventListener("input", () => { $("text-count").textContent = String($("text").value.length); });

function validate(form) {
  const text = $("text").value.trim();
  if (!text) {
    showError({ message: t("error.required"), details: { field: "text" } }, form);
    return false;
  }
  if (PHOTO_REQUIRED.has(state.kind) && !state.photo) {
    showError({ message: t("courier.photo_needed"), details: { field: "photo" } }, form);
    return false;
  }
  return true;
}

$("report-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const form = event.currentTarget;
  clearErrors(form);
  if (!validate(form)) return;
  const item = {
    key: newIdempotencyKey(),
    kind: state.kind,
    text: $("text").value.trim(),
    place: $("place").value.trim(),
    lat: state.position?.lat ?? null,
    lng: state.position?.lng ?? null,
    photo: state.photo,
    createdAt: Date.now(),
    attempts: 0,
    error: null,
  };
  const button = $("submit");
  setBusy(button, true);
  try {
    // Saved before the first attempt: if the tab dies mid-upload the report is still on the phone.
    await saveOutbox(item);
    const outcome = await send(item);
    if (outcome === "sent") {
      closeForm();
      toast(t("courier.sent"), "success");
    } else if (outcome === "later") {
      closeForm();
      toast(t("courier.saved_offline"));
    } else {
      // Refused for good (e.g. the photo is not an image): fix it in the form, nothing is queued.
      await removeOutbox(item.key);
      showError(outcome, form, outcome.details?.field);
    }
  } finally {
    setBusy(button, false);
    await renderOutbox();
    refresh();
  }
});

// ---- sending and the outbox -----------------------------------------------------------------

function formData(item) {
  const body = new FormData();
  body.append("kind", item.kind);
  body.append("text", item.text);
  if (item.place) body.append("place", item.place);
  if (item.lat != null && item.lng != null) {
    body.append("lat", String(item.lat));
    body.append("lng", String(item.lng));
  }
  if (item.photo) body.append("photo", item.photo, "photo.jpg");
  return body;
}

function isTransient(err) {
  return !(err instanceof ApiError) || err.code === "network" || err.status === 0 || err.status === 401
    || err.status === 408 || err.status === 429 || err.status >= 500;
}

/** Send one report: "sent", "later" (kept for a retry) or the ApiError that refused it for good. */
async function send(item) {
  item.attempts += 1;
  try {
    await api("POST", "/api/reports", formData(item), { idempotencyKey: item.key, timeout: 60000 });
    await removeOutbox(item.key);
    return "sent";
  } catch (err) {
    if (isTransient(err)) {
      item.error = err.status === 401 ? t("courier.login_again") : null;
      await saveOutbox(item);
      return "later";
    }
    item.error = err.message;
    item.failed = true;
    await saveOutbox(item);
    return err;
  }
}

async function sendAll() {
  if (state.sending) return;
  state.sending = true;
  let sent = 0;
  try {
    for (const item of await listOutbox()) {
      if (item.failed) continue;
      const outcome = await send(item);
      if (outcome === "sent") sent += 1;
      else if (outcome === "later") break; // still offline: the rest would fail the same way
    }
  } finally {
    state.sending = false;
  }
  await renderOutbox();
  if (sent) {
    toast(t("courier.sent_later", { n: sent }), "success");
    refresh();
  }
}

let outboxUrls = []; // previews of waiting photos, released on each redraw

function outboxItem(item) {
  const status = item.failed
    ? h("span", { class: "badge badge-danger" }, t("courier.send_failed"))
    : h("span", { class: "badge badge-warn" }, t("courier.pending_send"));
  return h("li", { class: "report-item outbox-item", dataset: { key: item.key } },
    h("div", { class: "report-body" },
      h("div", { class: "report-head" },
        kindTag(item.kind), status),
      h("p", { class: "report-text" }, item.text),
      h("div", { class: "report-meta" },
        [item.place, fmtTime(new Date(item.createdAt).toISOString()),
          item.attempts > 1 && t("courier.attempts", { n: item.attempts })].filter(Boolean).join(" · ")),
      item.error && h("p", { class: "report-note is-rejected" }, item.error),
      item.failed && h("button", { type: "button", class: "btn btn-ghost btn-small", onclick: () => discard(item.key) },
        t("courier.discard"))),
    item.photo && h("span", { class: "report-thumb" }, h("img", { src: previewUrl(item.photo), alt: "", width: 64, height: 64 })));
}

function previewUrl(blob) {
  const url = URL.createObjectURL(blob);
  outboxUrls.push(url);
  return url;
}

async function discard(key) {
  await removeOutbox(key);
  await renderOutbox();
}

async function renderOutbox() {
  const items = await listOutbox();
  const waiting = items.filter((i) => !i.failed).length;
  $("outbox-card").hidden = items.length === 0;
  $("outbox-title").textContent = t("courier.outbox_title", { n: items.length });
  $("outbox-hint").textContent = navigator.onLine ? t("courier.outbox_retrying") : t("courier.outbox_offline");
  $("retry-now").hidden = waiting === 0;
  const stale = outboxUrls;
  outboxUrls = [];
  $("outbox").replaceChildren(...items.map(outboxItem));
  stale.forEach((url) => URL.revokeObjectURL(url));
  return items;
}

$("retry-now").addEventListener("click", async (event) => {
  const button = event.currentTarget;
  setBusy(button, true);
  try {
    await sendAll();
  } finally {
    setBusy(button, false);
  }
});

window.addEventListener("online", () => { renderOutbox(); sendAll(); });
window.addEventListener("offline", () => { renderOutbox(); });
setInterval(async () => {
  if (navigator.onLine && (await listOutbox()).some((i) => !i.failed)) sendAll();
}, RETRY_EVERY_MS);

function refresh() {
  loadSummary().catch(() => {}); // offline: keep what is shown; the outbox says what is waiting
}

// ---- start ----------------------------------------------------------------------------------

async function start() {
  $("loading").textContent = t("common.loading");
  await renderOutbox().catch(() => {});
  try {
    await loadSummary();
    await openFromLink();
  } catch (err) {
    handlePageError(err, $("loading"), start);
    return;
  }
  sendAll(); // reports left from an earlier visit go now, with their first key
}

start();
