// Pieces shared by the dashboard, rankings and posting pages: the manager's community picker,
// quarter labels and the SVG helper.
import { api } from "./api.js";
import { getLang, t } from "./i18n.js";
import { h } from "./ui.js";

const SVG_NS = "http://www.w3.org/2000/svg";
const STORE_KEY = "linli.manage.community";

/** An SVG element: svg("rect", {x: 1, class: "bar"}, child...). Text children become text nodes. */
export function svg(tag, attrs = {}, ...children) {
  const el = document.createElementNS(SVG_NS, tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value != null && value !== false) el.setAttribute(name, String(value));
  }
  for (const child of children.flat()) {
    if (child == null || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

function remembered() {
  try {
    return localStorage.getItem(STORE_KEY);
  } catch {
    return null; // storage blocked: the first community is chosen
  }
}

export function remember(communityId) {
  try {
    localStorage.setItem(STORE_KEY, String(communityId));
  } catch {
    // nothing to do: the choice just is not kept
  }
}

/**
 * The communities this person manages, and the one to show first: ?community_id= in the URL,
 * else the last one chosen, else the first. Admins may open any community by its id in the URL.
 */
export async function managedCommunities() {
  const me = await api("GET", "/api/me");
  const list = [...(me.manages ?? [])];
  const wanted = new URLSearchParams(location.search).get("community_id");
  if (wanted && me.is_admin && !list.some((c) => String(c.id) === wanted)) {
    try {
      const org = await api("GET", `/api/orgs/${encodeURIComponent(wanted)}`);
      if (org.kind === "community") list.unshift({ id: org.id, name: org.name });
    } catch {
      // an unknown id: fall back to the communities the person manages
    }
  }
  const pick = [wanted, remembered()].find((id) => id && list.some((c) => String(c.id) === id));
  return { me, list, current: pick ? Number(pick) : list[0]?.id ?? null };
}

/** Fill a <select> with the communities; hide its field when there is only one. */
export function fillCommunitySelect(select, list, current) {
  select.replaceChildren(...list.map((c) => h("option", { value: c.id, selected: c.id === current }, c.name)));
  const field = select.closest(".field");
  if (field) field.hidden = list.length < 2;
}

/** "2026Q4" → "2026年第四季度" / "Q4 2026". */
export function quarterLabel(quarter) {
  const match = /^(\d{4})Q([1-4])$/.exec(quarter ?? "");
  if (!match) return quarter ?? "";
  return t("rank.quarter_label", { year: match[1], q: match[2], qzh: "一二三四"[Number(match[2]) - 1] });
}

/** The current period in the deployment's time zone (GET /api/periods/current): today, this month and
 * quarter. Asked once when a page loads, so a phone whose clock or zone differs still offers the
 * server's quarter (at a quarter's end the two can differ for hours). Null when it could not be read:
 * the page's own requests then show the error. */
export const period = await api("GET", "/api/periods/current").catch(() => null);

/** The current quarter and the `count - 1` before it, newest first (the server's, at most 8). */
export function recentQuarters(count = 8) {
  return (period?.recent_quarters ?? []).slice(0, count);
}

/** A date (ISO) as "2026-11-26" style local day in the reader's language. */
export function fmtDay(iso) {
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return "";
  return new Intl.DateTimeFormat(getLang(), { year: "numeric", month: "2-digit", day: "2-digit" }).format(date);
}
