// The page a community's join QR opens (/j/<code>): the community's name and a
// "申请加入<社区名>" button. Logged out: log in or register first, then come back here.
import { api, ApiError, requireLogin } from "./api.js";
import { t } from "./i18n.js";
import { h, initPage } from "./ui.js";
import { askToJoin, describe, watch } from "./join-request.js";

initPage();

const $ = (id) => document.getElementById(id);
const match = location.pathname.match(/^\/j\/([^/?#]+)/);
const code = match ? decodeURIComponent(match[1]) : "";

function state(text, actions = []) {
  $("join-state").textContent = text;
  $("join-actions").replaceChildren(...actions);
}

const homeLink = () => h("a", { class: "btn btn-secondary btn-block", href: "/" }, t("common.back_home"));

function showRequest(request) {
  const view = describe(request);
  state([view.title, view.note].filter(Boolean).join(" "), [homeLink()]);
}

async function ask(button) {
  button.disabled = true;
  try {
    const request = await askToJoin({ join_code: code });
    showRequest(request);
    watch(request, showRequest);
  } catch (err) {
    button.disabled = false;
    if (err instanceof ApiError && err.status === 401) requireLogin();
    else state(err.message || t("error.generic"), [homeLink()]);
  }
}

async function load() {
  let preview;
  try {
    preview = await api("GET", `/api/join/${encodeURIComponent(code)}`);
  } catch (err) {
    $("join-loading").textContent = err.message || t("error.generic");
    return;
  }
  $("join-loading").hidden = true;
  $("join-body").hidden = false;
  $("join-community").textContent = preview.community_name;
  $("join-street").textContent = preview.street_name ?? "";
  if (preview.is_member) {
    state(t("join.already_member", { community: preview.community_name }), [homeLink()]);
    return;
  }
  if (preview.request) {
    showRequest(preview.request);
    watch(preview.request, showRequest);
    return;
  }
  const button = h("button", { type: "button", class: "btn btn-primary btn-block", id: "join-button" },
    t("join.button", { community: preview.community_name }));
  // Logged out (is_member null): the button leads through login and back to this page.
  button.addEventListener("click", () => (preview.is_member === null ? requireLogin() : ask(button)));
  state(t(preview.is_member === null ? "join.intro_logged_out" : "join.intro"), [button]);
}

load();
