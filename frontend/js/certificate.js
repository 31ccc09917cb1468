// Certificate of service hours: confirmed time-bank services, printable (A4) or saved as PDF.
// A manager may open it for a member with ?user_id=.
import { api, handlePageError } from "./api.js";
import { getLang, t } from "./i18n.js";
import { fmtMinutes, h, hoursNumber, initPage } from "./ui.js";

initPage();

const $ = (id) => document.getElementById(id);

function fmtDate(iso, style = "long") {
  const options = style === "long" ? { year: "numeric", month: "long", day: "numeric" }
    : { year: "numeric", month: "2-digit", day: "2-digit" };
  return new Intl.DateTimeFormat(getLang(), options).format(new Date(iso));
}

function render(cert) {
  // Hours are the one definition of domain/timebank Hours: activities + services + adjustments.
  const activities = cert.activities ?? [];
  const total = cert.hours ? cert.hours.total_minutes : cert.served_minutes;
  const count = cert.services.length + activities.length;
  // The sentence comes from the catalogue with {placeholders}; the values are set in bold.
  // Every source of the total has a row, so the rows add up to it: adjustments, and hours
  // no line explains (imported history).
  const extra = [["cert.adjustments", cert.hours?.adjustment_minutes ?? 0], ["cert.other", cert.other_minutes ?? 0]]
    .filter(([, minutes]) => minutes);
  const values = { name: cert.user.name, n: String(count), h: fmtMinutes(total) };
  $("cert-body").replaceChildren(...t("cert.body").split(/\{(\w+)\}/)
    .map((part, i) => (i % 2 ? h("strong", {}, values[part] ?? part) : part)));
  const stars = $("cert-stars");
  stars.replaceChildren(...[1, 2, 3, 4, 5].map((n) => h("span", { class: ["star", n <= cert.stars.stars && "is-on"] }, n <= cert.stars.stars ? "★" : "☆")));
  stars.setAttribute("aria-label", t("tb.stars_label", { n: cert.stars.stars }));
  stars.title = t("cert.stars_note", { h: hoursNumber(cert.stars.earned_minutes) });
  stars.hidden = cert.stars.stars === 0; // five empty stars on a certificate read as a rating of nothing
  $("cert-rows").replaceChildren(...cert.services.map((s) => h("tr", {},
    h("td", { class: "cert-date" }, fmtDate(s.confirmed_at, "short")),
    h("td", { class: "wrap" }, h("div", { class: "cert-service" }, s.title),
      h("div", { class: "cert-service-meta" }, t("cert.service_meta", { who: s.beneficiary, where: s.community_name }))),
    h("td", { class: "num" }, fmtMinutes(s.minutes)))),
    ...activities.map((a) => h("tr", {},
      h("td", { class: "cert-date" }, a.checked_out_at ? fmtDate(a.checked_out_at, "short") : ""),
      h("td", { class: "wrap" }, h("div", { class: "cert-service" }, a.title),
        h("div", { class: "cert-service-meta" }, t("cert.activity_meta", { where: a.community_name }))),
      h("td", { class: "num" }, fmtMinutes(a.minutes)))),
    ...extra.map(([key, minutes]) => h("tr", { class: "cert-extra" }, h("td", {}, ""),
      h("td", { class: "wrap" }, t(key)),
      h("td", { class: "num" }, fmtMinutes(minutes)))));
  $("cert-total").textContent = fmtMinutes(total);
  const rows = count + extra.length;
  $("cert-empty").hidden = rows > 0;
  document.querySelector(".cert-table-wrap").hidden = rows === 0;
  $("cert-issued").textContent = t("cert.issued", { date: fmtDate(cert.issued_at) });
  // The ID number is printed masked only; the volunteer number as entered.
  const identity = [cert.id_number_masked && t("cert.id_number", { id: cert.id_number_masked }),
    cert.volunteer_number && t("cert.volunteer_number", { number: cert.volunteer_number })].filter(Boolean);
  $("cert-identity").textContent = identity.join("　");
  $("cert-identity").hidden = identity.length === 0;
  if (!new URLSearchParams(location.search).get("user_id")) loadHonours();
  document.title = `${t("cert.title")} · ${cert.user.name}`;
  $("loading").hidden = true;
  $("certificate").hidden = false;
}

/** Honours: my commendations, a quarter's selection adds one once final: a line of the certificate. */
async function loadHonours() {
  const { commendations } = await api("GET", "/api/me/records");
  const titles = commendations.map((c) => c.title);
  $("cert-honours").textContent = titles.length ? t("cert.honours", { list: titles.join("、") }) : "";
  $("cert-honours").hidden = titles.length === 0;
}

/** The latest issued certificate of mine (numbered, verifiable): its number and QR to /v/<code>. */
async function loadIssued() {
  if (new URLSearchParams(location.search).get("user_id")) return; // a manager's view of someone else
  try {
    const { items } = await api("GET", "/api/certificates");
    const issued = items.find((c) => c.state === "issued");
    if (!issued) return;
    $("cert-number").textContent = issued.number;
    $("cert-verify-url").textContent = issued.verify_url;
    // The SVG is the server's own QR rendering of our verify URL (domain/core/qr.py), not user input.
    const svg = new DOMParser().parseFromString(issued.qr_svg, "image/svg+xml").documentElement;
    svg.setAttribute("width", "160");
    svg.setAttribute("height", "160");
    $("cert-qr").replaceChildren(document.importNode(svg, true));
    $("cert-verify").hidden = false;
  } catch {
    // no issued certificate to show: the page stays the plain record
  }
}

function load() {
  loadIssued();
  const userId = new URLSearchParams(location.search).get("user_id");
  const query = userId && /^\d+$/.test(userId) ? `?user_id=${userId}` : "";
  api("GET", `/api/timebank/certificate${query}`).then(render, (err) => handlePageError(err, $("loading"), load));
}

$("print").addEventListener("click", () => window.print());
load();
