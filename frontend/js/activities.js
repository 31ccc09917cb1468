// Activities: managers list and create their community's activities and open one (?id=) to run it;
// volunteers see the upcoming activities of their communities and whether they took part.
import { joinHint } from "./join-hint.js";
import { api, clearErrors, handlePageError, showError } from "./api.js";
import { t } from "./i18n.js";
import { h, initPage, setBusy, toast } from "./ui.js";
import { activityMeta, rulesBadges, showDetail, stateBadge } from "./activity-detail.js";

initPage();

const $ = (id) => document.getElementById(id);
const DAY = 24 * 3600 * 1000;
const detailId = new URLSearchParams(location.search).get("id");

function myStateBadge(state) {
  if (!state) return null;
  const tone = { inside: "badge-accent", done: "badge-ok", annulled: "badge-muted" }[state];
  return h("span", { class: ["badge", tone] }, t(`act.my_${state}`));
}

function item(activity, { manager }) {
  const body = [
    h("div", { class: "activity-item-head" },
      h("span", { class: "activity-item-title" }, activity.title),
      manager ? stateBadge(activity.state) : myStateBadge(activity.my_state)),
    activityMeta(activity),
    h("div", { class: "activity-rules" }, rulesBadges(activity),
      manager && activity.state !== "draft" &&
        h("span", { class: "badge badge-info" }, t("act.counts", { inside: activity.inside, done: activity.attended }))),
  ];
  return h("li", {}, h("a", { class: "activity-item",
    href: manager ? `/activities.html?id=${activity.id}` : `/activity.html?id=${activity.id}` }, body));
}

/** 我的活动: what I signed up for, and what I attended with the hours and points it gave. */
async function renderMine() {
  const [upcoming, past] = await Promise.all([api("GET", "/api/me/activities"),
    api("GET", "/api/me/activities?when=past")]);
  const row = (a, extra) => h("li", {}, h("a", { class: "activity-item", href: `/activity.html?id=${a.id}` },
    h("span", { class: "activity-item-title" }, a.title), activityMeta(a), extra));
  const section = (titleKey, items, emptyKey, extra) => h("section", { class: "card" },
    h("h2", {}, t(titleKey)),
    items.length ? h("ul", { class: "activity-list" }, ...items.map((a) => row(a, extra(a))))
      : h("p", { class: "muted" }, t(emptyKey)));
  $("mine").replaceChildren(
    section("signup.upcoming", upcoming, "signup.none_upcoming", (a) =>
      h("span", { class: ["badge", a.signup === "waiting" ? "badge-warn" : "badge-ok"] },
        a.signup === "waiting" ? t("signup.join_queue") : t("signup.confirmed"))),
    section("signup.past", past, "signup.none_past", (a) =>
      h("span", { class: "muted" }, t("signup.gave", { hours: (a.minutes / 60).toFixed(1), points: a.points }))));
  $("mine").hidden = false;
}

function renderList(items, { manager }) {
  $("activity-list").replaceChildren(...items.map((a) => item(a, { manager })));
  $("list-empty").hidden = items.length > 0;
  $("list-empty").textContent = t(manager ? "act.empty_manager" : "act.empty_volunteer");
}

async function loadManagerList() {
  const query = new URLSearchParams({ community_id: $("community").value, limit: "100",
    from: new Date(Date.now() - 30 * DAY).toISOString() });
  const page = await api("GET", `/api/activities?${query}`);
  renderList(page.items, { manager: true });
}

// ---- create -------------------------------------------------------------------------------

/** A datetime-local value ("2026-06-14T09:00") for a Date, in the browser's time zone. */
function localInput(date) {
  const pad = (n) => String(n).padStart(2, "0");
  return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}T${pad(date.getHours())}:${pad(date.getMinutes())}`;
}

function resetForm() {
  const form = $("new-form");
  form.reset();
  clearErrors(form);
  const start = new Date();
  start.setMinutes(0, 0, 0);
  start.setHours(start.getHours() + 1);
  $("f-starts").value = localInput(start);
  $("f-ends").value = localInput(new Date(start.getTime() + 2 * 3600 * 1000));
}

function numberOrNull(value) {
  return value === "" ? null : Number(value);
}

async function create(event) {
  event.preventDefault();
  const form = event.currentTarget;
  clearErrors(form);
  const data = Object.fromEntries(new FormData(form));
  for (const name of ["title", "starts_at", "ends_at"]) {
    if (!String(data[name] ?? "").trim()) {
      showError({ message: t("error.required") }, form, name);
      return;
    }
  }
  const body = {
    community_id: Number($("community").value), title: data.title.trim(), description: data.description,
    place: data.place.trim(), starts_at: new Date(data.starts_at).toISOString(),
    ends_at: new Date(data.ends_at).toISOString(), points: Number(data.points || 0),
    points_per_hour: Number(data.points_per_hour || 0), capacity: numberOrNull(data.capacity),
    max_minutes: numberOrNull(data.max_minutes), rotation_seconds: Number(data.rotation_seconds || 30),
    rotating_only: $("f-rotating-only").checked, one_step_checkout: $("f-one-step").checked,
    lat: numberOrNull(data.lat), lng: numberOrNull(data.lng), radius_m: numberOrNull(data.radius_m),
  };
  if (data.daily_points_cap !== "") body.daily_points_cap = Number(data.daily_points_cap);
  // Under a rulebook the points come from its item: the server sets them from it.
  if (!$("rule-field").hidden && data.rule_item_id) body.rule_item_id = Number(data.rule_item_id);
  const button = form.querySelector("[type=submit]");
  setBusy(button, true);
  try {
    const activity = await api("POST", "/api/activities", body);
    location.assign(`/activities.html?id=${activity.id}`);
  } catch (err) {
    showError(err, form);
    setBusy(button, false);
  }
}

// Where the community's rulebook (积分细则) lists what earns, an activity earns by one of its items.
async function loadRules() {
  const book = await api("GET", `/api/orgs/${$("community").value}/rulebook`);
  const earn = book.items.filter((i) => i.kind === "earn" && !i.applies_to);  // the rest pay for reports, cases
  $("f-rule").replaceChildren(...earn.map((i) => h("option", { value: i.id },
    `${i.code} ${i.title}（+${i.points}${i.daily_cap ? ` ≤${i.daily_cap}` : ""}）`)));
  $("rule-field").hidden = earn.length === 0;
}

function openCreate() {
  loadRules().catch((err) => handlePageError(err));
  resetForm();
  $("new-form").hidden = false;
  $("new-toggle").hidden = true;
  $("f-title").focus();
}

function setUpCreate() {
  $("new-toggle").hidden = false;
  $("new-toggle").addEventListener("click", openCreate);
  $("new-cancel").addEventListener("click", () => {
    $("new-form").hidden = true;
    $("new-toggle").hidden = false;
  });
  $("new-form").addEventListener("submit", create);
  // "here": the phone's own location fills the fence; nothing leaves the phone but the two numbers
  $("f-here").addEventListener("click", () => {
    if (!navigator.geolocation) {
      toast(t("act.f_here_unavailable"), "error");
      return;
    }
    navigator.geolocation.getCurrentPosition((pos) => {
      $("f-lat").value = pos.coords.latitude.toFixed(6);
      $("f-lng").value = pos.coords.longitude.toFixed(6);
      if (!$("f-radius").value) $("f-radius").value = "200";
    }, () => toast(t("act.f_here_unavailable"), "error"), { enableHighAccuracy: true, timeout: 15000 });
  });
}

// ---- start ----------------------------------------------------------------------------------

async function start() {
  try {
    const me = await api("GET", "/api/me");
    const manages = me.manages ?? [];
    if (detailId) {
      await showDetail(Number(detailId));
      $("loading").hidden = true;
      $("detail-view").hidden = false;
      return;
    }
    if (manages.length) {
      $("community").replaceChildren(...manages.map((o) => h("option", { value: o.id }, o.name)));
      $("community-field").hidden = manages.length < 2;
      $("community").addEventListener("change", () => loadManagerList().catch((err) => handlePageError(err)));
      setUpCreate();
      await loadManagerList();
      // 首页 "新建活动" (/activities.html#new) lands on the form, open.
      if (location.hash === "#new") {
        $("loading").hidden = true;
        $("list-view").hidden = false;
        openCreate();
        $("new-form").scrollIntoView({ block: "start" });
      }
    } else {
      $("list-title").textContent = t("act.upcoming");
      const query = new URLSearchParams({ state: "published", limit: "50", from: new Date().toISOString() });
      renderList((await api("GET", `/api/activities?${query}`)).items, { manager: false });
      if (!(me.memberships ?? []).length) $("list-empty").replaceWith(joinHint());  // empty because not joined
      await renderMine();
    }
    $("loading").hidden = true;
    $("list-view").hidden = false;
  } catch (err) {
    handlePageError(err, $("loading"), start);
  }
}

start();
