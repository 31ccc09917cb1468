// Find your community: a registered resident without a community searches by community,
// street or address (or scans a join code), then asks to join with their building and unit, so the
// approving manager is not deciding blind.
import { api } from "./api.js";
import { t } from "./i18n.js";
import { clearErrors, h, initPage, setBusy, showError } from "./ui.js";

initPage();

const $ = (id) => document.getElementById(id);
const state = { community: null };

function choose(hit) {
  state.community = hit;
  $("ask-community").textContent = [hit.district_name, hit.street_name, hit.community_name].filter(Boolean).join(" · ");
  $("ask-card").hidden = false;
  $("asked").hidden = true;
  $("building").focus();
}

function resultRow(hit) {
  const pick = h("button", { type: "button", class: "btn btn-secondary btn-small" }, t("find.pick"));
  pick.addEventListener("click", () => choose(hit));
  return h("li", { class: "need", "data-community": hit.community_id },
    h("div", { class: "need-head" }, h("strong", {}, hit.community_name), pick),
    h("span", { class: "muted" }, [hit.district_name, hit.street_name, hit.address].filter(Boolean).join(" · ")));
}

$("search-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const form = event.currentTarget;
  clearErrors(form);
  const q = $("q").value.trim();
  if (!q) {
    showError({ message: t("error.required") }, form, "q");
    return;
  }
  const button = $("search");
  setBusy(button, true);
  try {
    const hits = await api("GET", `/api/communities/search?${new URLSearchParams({ q })}`);
    $("results").replaceChildren(...(hits.length ? hits.map(resultRow) : [h("li", { class: "muted" }, t("find.none"))]));
  } catch (err) {
    showError(err, form, "q");
  } finally {
    setBusy(button, false);
  }
});

$("ask-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const form = event.currentTarget;
  clearErrors(form);
  if (!$("building").value.trim()) {
    showError({ message: t("error.required") }, form, "building");
    return;
  }
  const button = $("ask");
  setBusy(button, true);
  try {
    const request = await api("POST", "/api/join-requests", { community_id: state.community.community_id,
      building: $("building").value.trim(), unit_no: $("unit-no").value.trim() || null });
    $("asked-text").textContent = t(request.state === "approved" ? "find.approved" : "find.asked",
      { name: request.community_name });
    $("ask-card").hidden = true;
    $("asked").hidden = false;
  } catch (err) {
    showError(err, form);
  } finally {
    setBusy(button, false);
  }
});
