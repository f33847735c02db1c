/* UrbanOps civil-service chat widget: no dependencies, no CDN.
 *
 * Embed:  <div data-urbanops-chat data-api="https://city.example"></div>
 *         <script src="https://city.example/civic/widget.js" defer></script>
 * The server must allow public chats (URBANOPS_CIVIC_PUBLIC_CHAT=1), or the page gives
 * data-key (only on a kiosk or an intranet page: a key in a public page is not secret).
 */
(function () {
  "use strict";
  var TEXT = {
    ko: { title: "민원 상담", placeholder: "무엇이든 물어보세요", send: "보내기", where: "내 위치 보내기",
          error: "연결에 문제가 있습니다. 잠시 후 다시 시도해 주세요." },
    en: { title: "City help", placeholder: "Ask anything", send: "Send", where: "Send my position",
          error: "Something went wrong. Please try again." }
  };
  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text) e.textContent = text;  /* textContent only: replies are never parsed as HTML */
    return e;
  }
  function mount(root) {
    var lang = (root.getAttribute("data-lang") || document.documentElement.lang || "ko").slice(0, 2);
    var t = TEXT[lang] || TEXT.en;
    var api = (root.getAttribute("data-api") || "").replace(/\/$/, "");
    var key = root.getAttribute("data-key");
    var conversation = null;
    var box = el("div", "uo-chat");
    box.setAttribute("role", "log");
    box.setAttribute("aria-live", "polite");
    var head = el("div", "uo-chat-head", t.title);
    var log = el("div", "uo-chat-log");
    var form = el("form", "uo-chat-form");
    var input = el("input", "uo-chat-input");
    input.type = "text";
    input.maxLength = 2000;
    input.placeholder = t.placeholder;
    input.setAttribute("aria-label", t.placeholder);
    var send = el("button", "uo-chat-send", t.send);
    send.type = "submit";
    var where = el("button", "uo-chat-where", t.where);
    where.type = "button";
    where.hidden = true;
    form.appendChild(input);
    form.appendChild(send);
    box.appendChild(head);
    box.appendChild(log);
    box.appendChild(form);
    box.appendChild(where);
    root.appendChild(box);

    function add(role, text, kind) {
      var line = el("div", "uo-msg uo-" + role + (kind ? " uo-" + kind : ""), text);
      log.appendChild(line);
      log.scrollTop = log.scrollHeight;
      return line;
    }
    function post(body) {
      if (conversation) body.conversation_id = conversation;
      var headers = { "Content-Type": "application/json" };
      if (key) headers.Authorization = "Bearer " + key;
      return fetch(api + "/api/v1/civic/chat", {
        method: "POST", headers: headers, body: JSON.stringify(body)
      }).then(function (r) {
        return r.json().then(function (data) {
          if (!r.ok) throw new Error(data.detail || t.error);
          return data;
        });
      }).then(function (data) {
        conversation = data.conversation_id;
        add("bot", data.reply, data.kind);
        where.hidden = !(data.missing && data.missing.indexOf("location") >= 0 && navigator.geolocation);
        root.dispatchEvent(new CustomEvent("urbanops-chat-reply", { detail: data }));
        return data;
      }).catch(function (err) {
        add("bot", err && err.message ? err.message : t.error, "error");
      });
    }
    function ask(text) {
      text = (text || "").trim();
      if (!text) return;
      add("resident", text);
      input.value = "";
      return post({ message: text });
    }
    form.addEventListener("submit", function (ev) { ev.preventDefault(); ask(input.value); });
    where.addEventListener("click", function () {
      navigator.geolocation.getCurrentPosition(function (p) {
        post({ message: t.where, lat: p.coords.latitude, lon: p.coords.longitude });
      });
    });
    root.urbanopsAsk = ask;
    var first = root.getAttribute("data-ask");
    if (first) ask(first);
  }
  function start() {
    var roots = document.querySelectorAll("[data-urbanops-chat]");
    for (var i = 0; i < roots.length; i++) mount(roots[i]);
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
