// On the activity page (for its managers): the review list of flagged scans (annul, dismiss,
// or credit an automatic check-out's remaining time; each audited by the server) and the venue
// screens paired with a one-time code (revocable).
import { api, showError, toast } from "./api.js";
import { t } from "./i18n.js";
import { fmtMinutes, fmtTime, h, setBusy } from "./ui.js";

const $ = (id) => document.getElementById(id);
let activity = null;
let onChange = () => {};

// ---- flagged scans ----------------------------------------------------------------------------

function flagFacts(flag) {
  const d = flag.details ?? {};
  const facts = [fmtTime(flag.created_at)];
  if (flag.reason === "auto_checkout") {
    facts.push(t("flags.auto_facts", { credited: fmtMinutes(d.credited_minutes ?? 0),
      full: fmtMinutes(d.window_minutes ?? 0) }));
  }
  if (flag.reason === "impossible_travel") facts.push(t("flags.travel_facts", { km: ((d.distance_m ?? 0) / 1000).toFixed(1),
    minutes: d.minutes ?? 0 }));
  if (flag.reason === "device_burst" || flag.reason === "address_burst") {
    facts.push(t("flags.burst_facts", { n: d.people ?? 0, minutes: d.minutes ?? 0 }));
  }
  if (flag.reason === "late_scan") {  // a late scan held for review
    facts.push(t("flags.late_facts", { scanned: fmtTime(d.until ?? d.scanned_at), received: fmtTime(d.received_at) }));
  }
  if (flag.late) facts.push(t("flags.late"));
  return facts.join(" · ");
}

async function resolve(flag, action, input, button) {
  const reason = input.value.trim();
  if (!reason) {
    input.setAttribute("aria-invalid", "true");
    input.focus();
    return;
  }
  setBusy(button, true);
  try {
    await api("POST", `/api/scan-flags/${flag.id}/resolve`, { action, reason });
    toast(t(`flags.done_${action}`), "success");
    await loadFlags();
    onChange();
  } catch (err) {
    showError(err);
  } finally {
    setBusy(button, false);
  }
}

/** Held time or points the manager may pay: an automatic or late check-out once checked out,
 *  a late check-in's points at any time before it is annulled. */
function creditable(flag) {
  if (flag.attendance_state === "annulled") return false;
  if (flag.reason === "late_scan" && flag.details?.step === "check_in") return true;
  return (flag.reason === "auto_checkout" || flag.reason === "late_scan") && flag.attendance_state === "done";
}

function flagItem(flag) {
  const open = !flag.resolved_at;
  const input = h("input", { type: "text", class: "input", maxlength: "500", "aria-label": t("flags.reason"),
    placeholder: t("flags.reason") });
  const button = (action, tone) => h("button", { type: "button", class: ["btn", "btn-small", tone],
    onclick: (e) => resolve(flag, action, input, e.currentTarget) }, t(`flags.${action}`));
  return h("li", { class: ["flag-item", open ? "is-open" : "is-resolved"] },
    h("div", { class: "flag-main" },
      h("strong", {}, flag.user_name),
      h("span", { class: "flag-reason" }, flag.message),
      h("span", { class: "muted small" }, flagFacts(flag))),
    open
      ? h("div", { class: "flag-actions" }, input,
        creditable(flag) ? button("credit", "btn-primary") : null,
        flag.attendance_state !== "annulled" ? button("annul", "btn-danger") : null,
        button("dismiss", "btn-ghost"))
      : h("span", { class: "badge badge-muted" }, t(`flags.resolution_${flag.resolution}`)));
}

export async function loadFlags() {
  const { items } = await api("GET", `/api/activities/${activity.id}/flags`);
  $("flags").replaceChildren(...items.map(flagItem));
  $("flags-empty").hidden = items.length > 0;
}

// ---- paired screens -----------------------------------------------------------------------------

function kioskItem(device) {
  const revoke = device.state === "paired" || device.state === "waiting";
  return h("li", { class: "kiosk-device" },
    h("span", {}, t("kiosks.device", { id: device.id })),
    h("span", { class: "badge badge-muted" }, t(`kiosks.state_${device.state}`)),
    h("span", { class: "muted small" }, fmtTime(device.paired_at ?? device.created_at)),
    revoke ? h("button", { type: "button", class: "btn btn-ghost btn-small", onclick: async (e) => {
      setBusy(e.currentTarget, true);
      try {
        await api("POST", `/api/kiosks/${device.id}/revoke`);
        toast(t("kiosks.revoked"), "success");
        await loadKiosks();
      } catch (err) {
        showError(err);
      }
    } }, t("kiosks.revoke")) : null);
}

async function loadKiosks() {
  const { items } = await api("GET", `/api/activities/${activity.id}/kiosks`);
  $("kiosks").replaceChildren(...items.map(kioskItem));
}

async function pair(event) {
  const button = event.currentTarget;
  setBusy(button, true);
  try {
    const pairing = await api("POST", `/api/activities/${activity.id}/kiosks`);
    const box = $("kiosk-pairing");
    box.replaceChildren(
      h("p", {}, t("kiosks.open_on_screen")),
      h("p", { class: "kiosk-pair-url" }, `${location.origin}/kiosk/pair`),
      h("p", { id: "kiosk-pair-code", class: "kiosk-pair-code" }, pairing.pairing_code),
      h("p", { class: "muted small" }, t("kiosks.valid_until", { time: fmtTime(pairing.expires_at) })));
    box.hidden = false;
    await loadKiosks();
  } catch (err) {
    showError(err);
  } finally {
    setBusy(button, false);
  }
}

/** Fill the two sections for `current` (an activity this manager manages); refresh() after changes. */
export async function showScanning(current, refresh) {
  activity = current;
  onChange = refresh ?? (() => {});
  const live = activity.state !== "draft";
  $("flags-card").hidden = !live;
  $("kiosk-card").hidden = activity.state !== "published";
  if (!live) return;
  $("kiosk-pair").addEventListener("click", pair);
  await Promise.all([loadFlags(), activity.state === "published" ? loadKiosks() : null]);
}
