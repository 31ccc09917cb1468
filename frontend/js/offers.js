// 爱心商家 for residents: approved offers of merchants where my points may be spent;
// taking one shows a voucher (QR and typed code, valid for minutes) for the merchant's staff to scan.
import { api, handlePageError } from "./api.js";
import { t } from "./i18n.js";
import { displayCode, fmtPoints, fmtTime, h, initPage, setBusy } from "./ui.js";
import { setQrImage } from "./qr-camera.js";

initPage();

const $ = (id) => document.getElementById(id);

function offerItem(o) {
  const take = async (event) => {
    const button = event.currentTarget;
    setBusy(button, true);
    try {
      const v = await api("POST", `/api/offers/${o.id}/vouchers`);
      $("voucher-title").textContent = `${o.merchant_name} · ${o.name}`;
      setQrImage($("voucher-qr"), v.svg);
      $("voucher-qr").alt = t("merchants.voucher_alt");
      $("voucher-code").textContent = displayCode(v.code);
      $("voucher-expires").textContent = t("merchants.valid_until", { at: fmtTime(v.expires_at) });
      $("voucher").hidden = false;
      $("voucher").scrollIntoView();
    } catch (err) {
      handlePageError(err);
    } finally {
      setBusy(button, false);
    }
  };
  return h("li", { class: "card", dataset: { offer: o.id } },
    h("h2", {}, o.name),
    h("p", {}, o.merchant_name, " · ", o.category, " · ", o.merchant_address),
    h("p", {}, h("strong", {}, t("unit.points", { n: fmtPoints(o.price_points) })), " · ",
      t("merchants.remaining", { n: o.my_remaining ?? 0 }), " · ",
      t("merchants.when", { days: o.days.map((d) => t(`merchants.day${d}`)).join(""), opens: o.opens, closes: o.closes })),
    h("button", { type: "button", class: "btn btn-primary btn-block", onclick: take, disabled: !o.my_remaining },
      t("merchants.show_voucher")));
}

$("voucher-close").addEventListener("click", () => { $("voucher").hidden = true; });

async function load() {
  try {
    const offers = await api("GET", "/api/offers");
    $("offer-list").replaceChildren(...offers.map(offerItem));
    $("empty").hidden = offers.length > 0;
    $("status").hidden = true;
  } catch (err) {
    handlePageError(err, $("status"), load);
  }
}

load();
