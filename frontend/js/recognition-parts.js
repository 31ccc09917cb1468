// 公示 and selections of a community, for residents: the home and rankings pages list them.
import { api } from "./api.js";
import { t } from "./i18n.js";
import { h } from "./ui.js";

const STATES = { open: "recog.state_open", proposed: "recog.state_proposed", posted: "recog.state_posted",
  final: "recog.state_final" };

/** Fill `section` (with a <ul> inside) with the community's open 公示 and its selections; hidden when none. */
export async function renderNotices(section, communityId) {
  const [postings, selections] = await Promise.all([
    api("GET", `/api/communities/${communityId}/postings`),
    api("GET", `/api/communities/${communityId}/selections`)]);
  const rows = [
    ...selections.items.map((s) => h("li", { class: "notice-row" },
      h("a", { href: `/selection.html?id=${s.id}` }, t("recog.selection_line", { quarter: s.quarter, title: s.title })),
      " ", h("span", { class: "badge badge-info" }, t(STATES[s.state])))),
    ...postings.items.filter((p) => p.status !== "ended").map((p) => h("li", { class: "notice-row" },
      h("a", { href: `/posting.html?id=${p.id}` }, p.title
        ? t("recog.posting_selection", { quarter: p.quarter, title: p.title })
        : t("recog.posting_ranking", { quarter: p.quarter })),
      " ", h("span", { class: "badge badge-ok" }, t("recog.posting_open")))),
  ];
  section.querySelector("ul").replaceChildren(...rows);
  section.hidden = rows.length === 0;
}
