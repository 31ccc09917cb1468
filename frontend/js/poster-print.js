// Print several activity posters at once: /poster-print.html?ids=1,2&copies=2 opens with
// those chosen; each poster is the API's A4 SVG on a page of its own (@page A4, css/poster-print.css).
import { api, handlePageError } from "./api.js";
import { t } from "./i18n.js";
import { h, initPage } from "./ui.js";
import { setQrImage } from "./qr-camera.js";

initPage();

const $ = (id) => document.getElementById(id);
const params = new URLSearchParams(location.search);
const wanted = new Set((params.get("ids") ?? "").split(",").filter(Boolean));
const svgs = new Map(); // activity id -> poster SVG text, fetched once

async function poster(id) {
  if (!svgs.has(id)) {
    const response = await api("GET", `/api/activities/${id}/poster.svg`, undefined, { raw: true });
    svgs.set(id, await response.text());
  }
  return svgs.get(id);
}

async function render() {
  const ids = [...document.querySelectorAll("#choices input:checked")].map((i) => i.value);
  const copies = Math.min(20, Math.max(1, Number($("copies").value) || 1));
  const sheets = [];
  for (const id of ids) {
    const svg = await poster(id);
    for (let i = 0; i < copies; i += 1) {
      const img = h("img", { alt: t("print.poster_alt") });
      setQrImage(img, svg); // an inert image: the SVG is never parsed into the page
      sheets.push(h("section", { class: "poster-sheet", dataset: { activity: id } }, img));
    }
  }
  $("sheets").replaceChildren(...sheets);
  $("summary").textContent = t("print.summary", { n: sheets.length });
  $("print").disabled = sheets.length === 0;
  await Promise.all([...document.querySelectorAll(".poster-sheet img")].map((img) => img.decode().catch(() => {})));
  document.body.dataset.ready = "true";
}

async function load() {
  try {
    const me = await api("GET", "/api/me");
    const manages = new Set((me.manages ?? []).map((o) => o.id));
    const page = await api("GET", "/api/activities?state=published&limit=100");
    const items = page.items.filter((a) => me.is_admin || manages.has(a.community_id));
    if (params.get("copies")) $("copies").value = params.get("copies");
    $("choices").replaceChildren(...items.map((a) => h("label", { class: "print-choice" },
      h("input", { type: "checkbox", value: String(a.id), checked: wanted.has(String(a.id)) }),
      h("span", { translate: "no" }, a.title))));  // a title is what its community typed, not interface text
    $("loading").hidden = true;
    $("print-form").hidden = false;
    $("print-form").addEventListener("change", () => render().catch(handlePageError));
    $("print-form").addEventListener("submit", (event) => {
      event.preventDefault();
      window.print();
    });
    await render();
  } catch (err) {
    handlePageError(err, $("loading"), load);
  }
}

load();
