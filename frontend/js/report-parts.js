// Pieces both report pages draw: the kind tag with its icon, the state badge, the review outcome.
import { t } from "./i18n.js";
import { h, icon } from "./ui.js";

/** An icon from /img/reports.svg (civility, hazard, service, camera, pin, ...), decorative. */
export function reportIcon(name, className = "icon") {
  return icon(name, className, "/img/reports.svg");
}

export function kindTag(kind) {
  return h("span", { class: ["kind-tag", `kind-${kind}`] }, reportIcon(kind), t(`report.kind.${kind}`));
}

export function stateBadge(report) {
  const tone = { pending: "badge-warn", verified: "badge-ok", rejected: "badge-danger" }[report.state];
  return h("span", { class: ["badge", tone] }, t(`report.state.${report.state}`));
}

/** What came of the review, in the words the courier reads. */
export function reviewNote(report) {
  if (report.state === "rejected") {
    return h("p", { class: "report-note is-rejected" }, t("report.reject_reason", { reason: report.reject_reason }));
  }
  if (report.state === "verified") {
    const text = report.points_withheld
      ? t("report.capped", { points: report.points, withheld: report.points_withheld })
      : t("report.awarded", { points: report.points });
    return h("p", { class: ["report-note", report.points ? "is-awarded" : "is-capped"] }, text);
  }
  return h("p", { class: "report-note" }, t("report.waiting_review"));
}
