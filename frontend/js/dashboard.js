// The community dashboard for managers: KPI tiles, points issued vs redeemed per week as an
// inline SVG bar chart (drawn here, no chart library), pending queues and top activities.
import { api, handlePageError } from "./api.js";
import { t } from "./i18n.js";
import { fmtHours, fmtPoints, fmtTime, h, hoursNumber, initPage } from "./ui.js";
import { fillCommunitySelect, managedCommunities, remember, svg } from "./rankings-parts.js";

initPage();

const $ = (id) => document.getElementById(id);
const state = { community: null, data: null, generation: 0 };

// ---- the chart ------------------------------------------------------------------------------

/** A round upper bound for the axis: 1, 2, 2.5 or 5 times a power of ten. */
function niceMax(value) {
  if (value <= 0) return 10;
  const power = 10 ** Math.floor(Math.log10(value));
  return [1, 2, 2.5, 5, 10].map((m) => m * power).find((m) => m >= value);
}

function shortDay(isoDate) {
  const [, month, day] = isoDate.split("-").map(Number);
  return `${month}/${day}`;
}

/** Grouped bars, issued and redeemed, one group per week; sized to `width` CSS pixels. */
function barChart(weeks, width) {
  const height = width < 480 ? 210 : 260;
  const m = { top: 14, right: 18, bottom: 28, left: 44 };  // right: half a week's label, centred on the last bar
  const plotW = width - m.left - m.right;
  const plotH = height - m.top - m.bottom;
  const max = niceMax(Math.max(0, ...weeks.flatMap((w) => [w.issued, w.redeemed])));
  const y = (v) => m.top + plotH - (Math.max(v, 0) / max) * plotH;
  const slot = plotW / weeks.length;
  const barW = Math.max(3, Math.min(16, (slot - 8) / 2));
  const labelEvery = slot >= 40 ? 1 : slot >= 22 ? 2 : 3;
  const total = (key) => weeks.reduce((sum, w) => sum + w[key], 0);

  const root = svg("svg", {
    class: "chart-svg", width, height, viewBox: `0 0 ${width} ${height}`, role: "img",
    "aria-label": t("dash.chart_aria", { issued: fmtPoints(total("issued")), redeemed: fmtPoints(total("redeemed")) }),
  });
  for (let i = 0; i <= 4; i += 1) {
    const value = (max * i) / 4;
    root.append(
      svg("line", { class: i === 0 ? "axis" : "gridline", x1: m.left, x2: width - m.right, y1: y(value), y2: y(value) }),
      svg("text", { class: "tick", x: m.left - 6, y: y(value) + 4, "text-anchor": "end" }, fmtPoints(value)));
  }
  weeks.forEach((week, i) => {
    const center = m.left + slot * (i + 0.5);
    const tip = t("dash.bar_tip", { week: shortDay(week.week_start), issued: fmtPoints(week.issued),
      redeemed: fmtPoints(week.redeemed) });
    const bar = (cls, value, x) => svg("rect", {
      class: cls, x, y: y(value), width: barW, height: Math.max(0, m.top + plotH - y(value)), rx: 2,
    }, svg("title", {}, tip));
    root.append(bar("bar-issued", week.issued, center - barW - 1), bar("bar-redeemed", week.redeemed, center + 1));
    if ((weeks.length - 1 - i) % labelEvery === 0) {
      root.append(svg("text", { class: "tick", x: center, y: height - 8, "text-anchor": "middle" },
        shortDay(week.week_start)));
    }
  });
  return root;
}

function drawChart() {
  const box = $("chart");
  if (!state.data || box.clientWidth === 0) return;
  box.replaceChildren(barChart(state.data.weeks, Math.floor(box.clientWidth)));
}

// Redraw at the new size when the window (or the phone's orientation) changes.
let pending = 0;
new ResizeObserver(() => {
  cancelAnimationFrame(pending);
  pending = requestAnimationFrame(drawChart);
}).observe($("chart"));

// ---- the rest -------------------------------------------------------------------------------

const QUEUES = [
  { key: "redemptions", label: "dash.queue_redemptions", href: "/redemptions.html?tab=requested" },
  { key: "reports", label: "dash.queue_reports", href: "/reports.html" },
  { key: "timebank", label: "dash.queue_timebank", href: "/timebank.html" },
];

function queueRow(item, count, community) {
  const href = `${item.href}${item.href.includes("?") ? "&" : "?"}community_id=${community}`;
  if (count == null) {
    return h("li", { class: "queue" }, h("span", {}, t(item.label)),
      h("span", { class: "badge badge-muted" }, t("dash.not_installed")));
  }
  return h("li", {}, h("a", { class: "queue", href },
    h("span", {}, t(item.label)),
    h("span", { class: ["queue-count", count > 0 ? "is-waiting" : null] }, fmtPoints(count)),
    h("span", { class: "queue-go", "aria-hidden": "true" }, "›")));
}

function topRow(activity) {
  return h("li", { class: "top-item" },
    h("a", { class: "top-title", href: `/activities.html?id=${activity.id}` }, activity.title),
    h("div", { class: "top-meta" },
      fmtTime(activity.starts_at), " · ", t("dash.top_people", { n: activity.people }),
      activity.points ? ` · ${t("unit.points", { n: fmtPoints(activity.points) })}` : "",
      activity.minutes ? ` · ${fmtHours(activity.minutes)}` : ""));
}

function render(data) {
  state.data = data;
  $("dash-sub").textContent = t("dash.subtitle", { name: data.community_name, time: fmtTime(data.generated_at) });
  $("kpi-active").textContent = fmtPoints(data.active_volunteers);
  $("kpi-issued").textContent = fmtPoints(data.points_issued_month);
  $("kpi-redeemed").textContent = fmtPoints(data.points_redeemed_month);
  $("kpi-hours").textContent = hoursNumber(data.minutes_banked_month);
  $("kpi-hours-total").textContent = t("dash.hours_total", { v: fmtHours(data.minutes_banked_total) });
  $("chart-rows").replaceChildren(...data.weeks.map((w) => h("tr", {},
    h("td", {}, w.week_start), h("td", { class: "num" }, fmtPoints(w.issued)),
    h("td", { class: "num" }, fmtPoints(w.redeemed)))));
  $("queues").replaceChildren(...QUEUES.map((q) => queueRow(q, data.queues[q.key], data.community_id)));
  $("top").replaceChildren(...(data.top_activities.length
    ? data.top_activities.map(topRow)
    : [h("li", { class: "muted" }, t("dash.top_empty"))]));
  $("to-rankings").href = `/rankings.html?community_id=${data.community_id}`;
  $("to-merchants").href = `/merchants.html?org=${data.community_id}`;  // the community's merchants
  $("status").hidden = true;
  $("board").hidden = false;
  drawChart();
}

/** The grid loop's year so far: the same figures as /api/cases/figures (tests/cases pins them to a count). */
function renderCases(f) {
  $("cases-opened").textContent = String(f.opened);
  $("cases-closed").textContent = String(f.closed);
  $("cases-in-time").textContent = String(f.closed_in_time);
  $("cases-overdue").textContent = String(f.overdue_open);
  $("cases-satisfaction").textContent = f.satisfaction == null ? "–" : `${f.satisfaction}%`;
}

async function load() {
  const generation = ++state.generation;
  $("status").hidden = false;
  $("status").textContent = t("common.loading");
  try {
    const [data, cases] = await Promise.all([api("GET", `/api/communities/${state.community}/dashboard`),
      api("GET", `/api/cases/figures?org_id=${state.community}`)]);
    if (generation === state.generation) {
      render(data);
      renderCases(cases.total);
    }
  } catch (err) {
    if (generation === state.generation) handlePageError(err, $("status"), load);
  }
}

async function start() {
  try {
    const { list, current } = await managedCommunities();
    if (!current) {
      $("status").hidden = true;
      $("not-manager").hidden = false;
      return;
    }
    state.community = current;
    fillCommunitySelect($("community"), list, current);
    $("community").addEventListener("change", (event) => {
      state.community = Number(event.target.value);
      remember(state.community);
      history.replaceState(null, "", `?community_id=${state.community}`);
      load();
    });
    await load();
  } catch (err) {
    handlePageError(err, $("status"), start);
  }
}

start();
