// Pieces shared by the shop (volunteers) and the redemption console (managers).
import { getLang, t, tOr } from "./i18n.js";
import { displayCode, fmtPoints, h } from "./ui.js";

const STATE_TONES = {
  requested: "badge-warn",
  approved: "badge-ok",
  fulfilled: "badge-info",
  rejected: "badge-danger",
  cancelled: "badge-muted",
  expired: "badge-muted",
};

export function stateBadge(state) {
  return h("span", { class: ["badge", STATE_TONES[state] ?? "badge-muted"], dataset: { state } },
    tOr(`redemption.state.${state}`, state));
}

/** "200 分" / "200 pts". */
export function pointsText(n) {
  return t("unit.points", { n: fmtPoints(n) });
}

/** The reward's picture, or a tile with its first character when it has none. */
export function rewardPicture(url, name, size = "") {
  const className = ["reward-img", size && `reward-img-${size}`];
  if (url) return h("img", { class: className, src: url, alt: "", loading: "lazy", decoding: "async" });
  const first = Array.from((name ?? "").trim())[0] ?? "?";
  // The glyph in a box of its own: one line of text, centred in the square (not a 76 px tall line).
  return h("span", { class: [...className, "reward-img-empty"], "aria-hidden": "true" }, h("span", {}, first));
}

/** A server-made SVG (a QR code) as an image: no markup from the network enters the DOM. */
export function svgImage(svg, alt) {
  return h("img", { src: `data:image/svg+xml;charset=utf-8,${encodeURIComponent(svg)}`, alt });
}

/** "abcd efgh ijkl mnop": easier to read out or type in when a camera fails. */
export function groupCode(code) {
  return displayCode(code);
}

/** A day without the time: "5月3日" / "May 3". */
export function fmtDay(iso) {
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return "";
  const options = { month: "short", day: "numeric" };
  if (date.getFullYear() !== new Date().getFullYear()) options.year = "numeric";
  return new Intl.DateTimeFormat(getLang(), options).format(date);
}

/** Wire a tab list: click and arrow keys select; `select(name)` does the rest. */
export function wireTabs(tabs, select) {
  tabs.forEach((tab, index) => {
    tab.addEventListener("click", () => select(tab.dataset.tab));
    tab.addEventListener("keydown", (event) => {
      const step = { ArrowRight: 1, ArrowLeft: -1 }[event.key];
      if (!step) return;
      const next = tabs[(index + step + tabs.length) % tabs.length];
      select(next.dataset.tab);
      next.focus();
    });
  });
}

export function markTabs(tabs, current) {
  for (const tab of tabs) {
    const active = tab.dataset.tab === current;
    tab.setAttribute("aria-selected", String(active));
    tab.tabIndex = active ? 0 : -1;
    const panel = document.getElementById(tab.getAttribute("aria-controls"));
    if (panel) panel.hidden = !active;
  }
}

/** A small count on a tab (open requests, vouchers to collect); hidden at zero. */
export function setCount(el, n) {
  el.hidden = !n;
  el.textContent = n > 99 ? "99+" : String(n || "");
}
