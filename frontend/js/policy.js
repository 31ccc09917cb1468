// A community's rules (its policy): each value with its unit and whether it is the community's own or
// the system default; a manager changes values and saves, or gives one back to the default.
import { api, clearErrors, handlePageError, showError, toast } from "./api.js";
import { t } from "./i18n.js";
import { h, initPage, setBusy } from "./ui.js";

initPage();

const $ = (id) => document.getElementById(id);
const state = { community: null, policy: null };

// The page's groups, in order; each field with its unit (the server decides the values and bounds).
const GROUPS = [
  ["checkin", [["daily_points_cap", "points"], ["rotation_seconds", "seconds"], ["rotation_grace_seconds", "seconds"],
    ["kiosk_pairing_minutes", "minutes"]]],
  ["offline", [["offline_max_delay_seconds", "seconds"]]],
  ["fraud", [["fraud_max_speed_kmh", "speed"], ["fraud_burst_minutes", "minutes"], ["fraud_burst_per_device", "people"],
    ["fraud_burst_per_address", "people"]]],
  ["redemption", [["redemption_request_days", "days"], ["redemption_voucher_days", "days"]]],
];

const url = () => `/api/communities/${state.community}/policy`;

/** "86400 秒（约 24 小时）": a value with its unit, and hours for long spans of seconds. */
function withUnit(value, unit) {
  const text = `${value} ${t(`policy.unit.${unit}`)}`;
  return unit === "seconds" && value >= 3600 ? `${text}（${t("policy.about_hours", { n: Math.round(value / 360) / 10 })}）` : text;
}

async function reset(name, button) {
  setBusy(button, true);
  try {
    render(await api("PUT", url(), { [name]: null }));
    toast(t("policy.reset_done"), "success");
  } catch (err) {
    setBusy(button, false);
    showError(err, $("policy-form"));
  }
}

function field(policy, name, unit) {
  const own = policy.own.includes(name);
  const [low, high] = policy.limits[name];
  const id = `policy-${name}`;
  return h("div", { class: ["field", "policy-field", own && "is-own"], "data-field": name },
    h("label", { for: id }, t(`policy.field.${name}`)),
    h("div", { class: "policy-input" },
      h("input", { id, name, type: "number", inputmode: "numeric", min: low, max: high, step: 1, required: true,
        value: String(policy[name]), "aria-describedby": `${id}-state ${id}-help` }),
      h("span", { class: "policy-unit" }, t(`policy.unit.${unit}`))),
    h("p", { class: "policy-state", id: `${id}-state` },
      h("span", { class: ["badge", own ? "badge-accent" : "badge-muted"] }, t(own ? "policy.own" : "policy.default")),
      " ", withUnit(policy[name], unit),
      own ? ` · ${t("policy.default_is", { value: withUnit(policy.defaults[name], unit) })}` : ""),
    h("p", { class: "hint", id: `${id}-help` }, t(`policy.help.${name}`), " ",
      t("policy.range", { low, high, unit: t(`policy.unit.${unit}`) })),
    own ? h("button", { type: "button", class: "btn btn-secondary btn-small", "data-reset": name,
      onclick: (e) => reset(name, e.currentTarget) }, t("policy.reset")) : null);
}

function render(policy) {
  state.policy = policy;
  clearErrors($("policy-form"));
  $("groups").replaceChildren(...GROUPS.map(([group, fields]) => h("section", {
    class: "card policy-group", "aria-labelledby": `group-${group}` },
  h("h2", { id: `group-${group}` }, t(`policy.group.${group}`)),
  ...fields.map(([name, unit]) => field(policy, name, unit)))));
}

$("policy-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const form = event.currentTarget;
  clearErrors(form);
  const changes = {};
  for (const [, fields] of GROUPS) {
    for (const [name] of fields) {
      const raw = form.elements[name].value.trim();
      if (raw === "" || !/^-?\d+$/.test(raw)) {
        showError({ message: t("error.required") }, form, name);
        return;
      }
      if (Number(raw) !== state.policy[name]) changes[name] = Number(raw);
    }
  }
  if (!Object.keys(changes).length) {
    toast(t("policy.unchanged"));
    return;
  }
  const button = form.querySelector("button[type=submit]");
  setBusy(button, true);
  try {
    render(await api("PUT", url(), changes));
    toast(t("policy.saved"), "success");
  } catch (err) {
    showError(err, form);
  } finally {
    setBusy(button, false);
  }
});

async function load() {
  $("policy-form").hidden = true;
  render(await api("GET", url()));
  $("policy-form").hidden = false;
}

async function start() {
  try {
    const list = (await api("GET", "/api/console/summary")).communities;
    $("loading").hidden = true;
    if (!list.length) {
      handlePageError({ message: t("policy.no_community") }, $("page-error"));
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
      load().catch((err) => handlePageError(err, $("page-error")));
    });
    await load();
  } catch (err) {
    $("loading").hidden = true;
    handlePageError(err, $("page-error"));
  }
}

start();
