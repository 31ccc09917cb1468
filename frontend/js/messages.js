// Messages (消息): the inbox, newest first; opening one marks it read and follows its link.
// Below it, the person chooses per kind of message whether a text message or WeChat also goes out.
import { api, handlePageError } from "./api.js";
import { t } from "./i18n.js";
import { fmtTime, h, initPage, setBusy, setUnreadBadge, toast } from "./ui.js";

initPage();

const $ = (id) => document.getElementById(id);
const state = { cursor: null, unread: 0 };

function showUnread(count) {
  state.unread = count;
  setUnreadBadge(count);
  $("read-all").hidden = count === 0;
}

async function open(message, row) {
  if (!message.read) {
    try {
      await api("POST", `/api/me/messages/${message.id}/read`);
      message.read = true;
      row.classList.remove("is-unread");
      showUnread(Math.max(0, state.unread - 1));
    } catch (err) {
      if (!message.link) return handlePageError(err);
    }
  }
  if (message.link) location.assign(message.link);
}

function messageRow(message) {
  const row = h("li", { class: ["message", !message.read && "is-unread"] });
  const body = h("button", { type: "button", class: "message-open", onclick: () => open(message, row) },
    h("span", { class: "message-title" },
      !message.read ? h("span", { class: "badge badge-accent" }, t("messages.unread")) : null,
      message.title),
    h("span", { class: "message-text" }, message.text),
    h("span", { class: "message-time" }, fmtTime(message.created_at)));
  row.append(body);
  return row;
}

async function load() {
  const query = new URLSearchParams({ limit: "20" });
  if (state.cursor) query.set("cursor", state.cursor);
  const page = await api("GET", `/api/me/messages?${query}`);
  $("messages").append(...page.items.map(messageRow));
  state.cursor = page.next_cursor;
  $("more").hidden = !state.cursor;
  const empty = !$("messages").children.length;
  $("status").hidden = !empty;
  if (empty) $("status").textContent = t("messages.empty");
  showUnread(page.unread);
}

function settingRow(item, can) {
  const boxes = ["sms", "wechat"].map((channel) => {
    const input = h("input", { type: "checkbox", checked: item.channels.includes(channel),
      disabled: !can[channel] });
    input.addEventListener("change", async () => {
      const wanted = ["sms", "wechat"].filter((c) => (c === channel ? input.checked : item.channels.includes(c)));
      try {
        await api("PUT", `/api/me/messages/settings/${item.kind}`, { channels: wanted });
        item.channels = wanted;
        toast(t("messages.saved"));
      } catch (err) {
        input.checked = !input.checked;
        handlePageError(err);
      }
    });
    return h("label", { class: "check-line" }, input, h("span", {}, t(`messages.channel.${channel}`)));
  });
  return h("li", { class: "setting" }, h("span", { class: "setting-title" }, item.title),
    h("span", { class: "setting-channels" }, ...boxes));
}

async function loadSettings() {
  const settings = await api("GET", "/api/me/messages/settings");
  $("wechat-unbound").hidden = settings.can_wechat;
  const can = { sms: settings.can_sms, wechat: settings.can_wechat };
  $("settings").replaceChildren(...settings.items.map((item) => settingRow(item, can)));
}

$("more").addEventListener("click", async () => {
  setBusy($("more"), true);
  try {
    await load();
  } catch (err) {
    handlePageError(err);
  } finally {
    setBusy($("more"), false);
  }
});

$("read-all").addEventListener("click", async () => {
  setBusy($("read-all"), true);
  try {
    await api("POST", "/api/me/messages/read-all");
    for (const row of document.querySelectorAll(".message.is-unread")) {
      row.classList.remove("is-unread");
      row.querySelector(".badge")?.remove();
    }
    showUnread(0);
  } catch (err) {
    handlePageError(err);
  } finally {
    setBusy($("read-all"), false);
  }
});

try {
  await Promise.all([load(), loadSettings()]);
} catch (err) {
  handlePageError(err, $("status"), () => location.reload());
}
