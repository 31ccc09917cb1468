// Public check of a certificate of service hours (/v/<code>): valid, revoked, or unknown, said plainly.
import { api, ApiError } from "./api.js";
import { t } from "./i18n.js";
import { fmtMinutes, fmtTime, initPage } from "./ui.js";

initPage({ nav: false });

const $ = (id) => document.getElementById(id);
const code = location.pathname.split("/v/")[1]?.split(/[?#/]/)[0] ?? "";

async function load() {
  try {
    const v = await api("GET", `/api/verify/${encodeURIComponent(code)}`);
    $("verdict").textContent = t(v.state === "revoked" ? "verify.revoked" : "verify.valid");
    $("number").textContent = v.number;
    $("name").textContent = v.masked_name;
    $("hours").textContent = fmtMinutes(v.hours.total_minutes);
    $("issuer").textContent = v.community_name;
    $("date").textContent = fmtTime(v.issued_at);
    $("result").hidden = false;
    $("status").hidden = true;
  } catch (err) {
    $("status").textContent = err instanceof ApiError && err.status === 404 ? t("verify.unknown") : t("verify.failed");
  }
}

load();
