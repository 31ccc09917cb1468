// "Points expiring soon" for a member's own page: renders nothing unless some points expire at
// the end of this year (communities with the expiry policy). Usage, e.g. in me.js:
//   import { renderExpiring } from "./expiring.js";
//   renderExpiring(document.getElementById("expiring"));   // <section id="expiring" hidden>
import { api } from "./api.js";
import { t } from "./i18n.js";
import { fmtPoints, h } from "./ui.js";
import { fmtDay } from "./rankings-parts.js";

export async function renderExpiring(container) {
  if (!container) return;
  let data;
  try {
    data = await api("GET", "/api/me/expiring");
  } catch {
    return; // a hint, not the page's business: stay hidden
  }
  if (!data.total) {
    container.hidden = true;
    return;
  }
  // The deadline is local midnight starting the next year: show the last day points are usable.
  const lastDay = new Date(new Date(data.expires_at).getTime() - 1000).toISOString();
  container.classList.add("card", "expiring");
  container.replaceChildren(
    h("h2", {}, t("expiring.title")),
    h("p", {}, t("expiring.text", { points: fmtPoints(data.total), date: fmtDay(lastDay) })),
    data.items.length > 1 && h("ul", { class: "muted small" }, data.items.map((item) =>
      h("li", {}, t("expiring.detail", { community: item.community_name, year: item.year,
        points: fmtPoints(item.points) })))),
  );
  container.hidden = false;
}
