// One activity for volunteers (activity.html?id=): when and where (with a map link), who organises it,
// the points rule, places left; sign up, join the waiting list, cancel; a link to share in WeChat.
import { api, clearErrors, handlePageError, showError } from "./api.js";
import { t } from "./i18n.js";
import { fmtTime, h, initPage, setBusy, toast } from "./ui.js";

initPage();

const $ = (id) => document.getElementById(id);
// activity.html?id=7, or /a/7: the short link people share into WeChat groups.
const id = Number(new URLSearchParams(location.search).get("id") ?? location.pathname.split("/").pop());

function showStatus(s) {
  $("places").textContent = s.capacity == null ? t("signup.no_limit")
    : s.places_left > 0 ? t("signup.places_left", { n: s.places_left }) : t("signup.full");
  $("my-state").textContent = s.mine === "confirmed" ? t("signup.confirmed")
    : s.mine === "waiting" ? t("signup.waiting", { n: s.my_position }) : "";
  $("sign-up").hidden = Boolean(s.mine);
  $("sign-up").textContent = s.capacity != null && s.places_left === 0 ? t("signup.join_queue") : t("signup.sign_up");
  $("cancel").hidden = !s.mine;
}

function mapLink(a) {
  if (a.lat == null) return null;
  const url = `https://uri.amap.com/marker?position=${a.lng},${a.lat}&name=${encodeURIComponent(a.place || a.title)}`;
  return h("a", { href: url, rel: "noopener", target: "_blank" }, t("signup.map"));
}

async function act(button, path) {
  setBusy(button, true);
  try {
    showStatus(await api("POST", path));
  } catch (err) {
    handlePageError(err);
  } finally {
    setBusy(button, false);
  }
}

// 申请补录: the message about a 0-minute automatic check-out links here with
// ?correction=<attendance id>, the form open at the top; the answer goes to the managers' review list.
const correction = Number(new URLSearchParams(location.search).get("correction"));
if (correction) {
  const form = $("correction-form");
  form.hidden = false;
  $("correction-reason").focus();
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    clearErrors(form);
    const reason = $("correction-reason").value.trim();
    if (!reason) return showError({ message: t("error.required") }, form, "reason");
    const button = form.querySelector("[type=submit]");
    setBusy(button, true);
    try {
      await api("POST", `/api/checkins/${correction}/correction-request`, { reason });
      $("correction-done").textContent = t("signup.correction_sent");
      $("correction-done").hidden = false;
      $("correction-reason").disabled = true;
      button.hidden = true;
    } catch (err) {
      if (err.status === 401) return handlePageError(err);
      showError(err, form, "reason");
      setBusy(button, false);
    }
  });
}

$("sign-up").addEventListener("click", (e) => act(e.currentTarget, `/api/activities/${id}/signup`));
$("cancel").addEventListener("click", (e) => {
  if (confirm(t("signup.cancel_confirm"))) act(e.currentTarget, `/api/activities/${id}/signup/cancel`);
});
$("share").addEventListener("click", async () => {
  const link = `${location.origin}/a/${id}`;
  try {
    await navigator.clipboard.writeText(link);
    toast(t("signup.copied"));
  } catch {
    prompt(t("signup.share"), link); // no clipboard permission: let the person copy it by hand
  }
});

try {
  const [a, s] = await Promise.all([api("GET", `/api/activities/${id}`), api("GET", `/api/activities/${id}/signup`)]);
  document.title = `${a.title} · ${t("app.name")}`;
  $("title").textContent = a.title;
  $("when").textContent = `${fmtTime(a.starts_at)} – ${fmtTime(a.ends_at)}`;
  $("where").replaceChildren(a.place || "–", " ", mapLink(a) ?? "");
  $("organiser").textContent = a.community_name;
  $("rules").textContent = [a.points && t("signup.rule_points", { points: a.points }),
    a.points_per_hour && t("signup.rule_hourly", { n: a.points_per_hour })].filter(Boolean).join("，") || "–";
  $("description").textContent = a.description;
  showStatus(s);
  $("status").hidden = true;
  $("detail").hidden = false;
} catch (err) {
  handlePageError(err, $("status"), () => location.reload());
}
