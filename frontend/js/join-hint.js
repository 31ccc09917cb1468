// The empty state of a page that is empty because the person has joined no community yet:
// it says so, and how to join (search, or scan a community's join code).
import { t } from "./i18n.js";
import { h } from "./ui.js";

export function joinHint() {
  return h("div", { class: "card notice join-hint", id: "join-hint" },
    h("p", {}, t("common.join_hint")),
    h("a", { class: "btn btn-primary", href: "/find.html" }, t("common.join_link")));
}
