// My member card: the personal QR a manager scans at a station; printable; re-issuable when lost.
import { api, handlePageError, showError, toast } from "./api.js";
import { t } from "./i18n.js";
import { displayCode, fmtTime, h, initPage, setBusy } from "./ui.js";
import { setQrImage } from "./qr-camera.js";

initPage();

const $ = (id) => document.getElementById(id);

/** "abcdefghijklmnop" → "abcd efgh ijkl mnop": easier to read out or type at a station. */
function grouped(code) {
  return displayCode(code);
}

function render(card, name) {
  if (name) $("name").textContent = name;
  setQrImage($("qr-image"), card.svg);
  $("qr-image").alt = t("card.qr_alt");
  $("code").textContent = grouped(card.code);
  $("loading").hidden = true;
  $("card").hidden = false;
  $("actions").hidden = false;
}

/** 勋章: on the card itself (what is held), and listed below with any revoked. */
function renderMedals(items) {
  const held = items.filter((m) => !m.revoked_at);
  $("medal-badges").replaceChildren(...held.map((m) => h("li", { class: "badge badge-accent" }, m.name)));
  $("medal-list").replaceChildren(...items.map((m) => h("li", {}, h("strong", {}, m.name), " ",
    h("span", { class: "muted small" }, m.revoked_at ? t("recog.revoked", { reason: m.revoke_reason }) : fmtTime(m.awarded_at)))));
  $("medals-empty").hidden = items.length > 0;
  $("medals").hidden = false;
}

async function load() {
  $("loading").textContent = t("common.loading");
  try {
    const [card, me, medals] = await Promise.all([api("GET", "/api/me/card"), api("GET", "/api/me"),
      api("GET", "/api/me/medals")]);
    render(card, me.name);
    renderMedals(medals.items);
  } catch (err) {
    handlePageError(err, $("loading"), load);
  }
}

$("print").addEventListener("click", () => window.print());
$("reissue").addEventListener("click", async (event) => {
  if (!window.confirm(t("card.reissue_confirm"))) return;
  const button = event.currentTarget;
  setBusy(button, true);
  try {
    render(await api("POST", "/api/me/card/reissue"));
    toast(t("card.reissued"), "success");
  } catch (err) {
    showError(err);
  } finally {
    setBusy(button, false);
  }
});

load();
