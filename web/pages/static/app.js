/* citygrid pages: a small helper shared by every page. User text only ever enters the page as text nodes. */
(function () {
  "use strict";
  var csrf = (document.querySelector('meta[name="csrf-token"]') || {}).content || "";
  var common = document.getElementById("cg-common");
  var TEXT = common ? JSON.parse(common.textContent) : {};
  function T(key, values) {
    var s = TEXT[key] || key;
    Object.keys(values || {}).forEach(function (k) { s = s.replace("{" + k + "}", values[k]); });
    return s;
  }

  function el(tag, attrs, children) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) {
      if (k === "class") node.className = attrs[k];
      else if (k === "text") node.textContent = String(attrs[k]);
      else if (k.slice(0, 2) === "on") node.addEventListener(k.slice(2), attrs[k]);
      else node.setAttribute(k, attrs[k]);
    });
    (children || []).forEach(function (c) {
      node.appendChild(typeof c === "string" ? document.createTextNode(c) : c);
    });
    return node;
  }

  /* fetch JSON from the API with the session cookie and the CSRF header; errors carry the API's message */
  function api(method, path, body, extraHeaders) {
    var headers = Object.assign({"X-CSRF-Token": csrf}, extraHeaders || {});
    var init = {method: method, headers: headers, credentials: "same-origin"};
    if (body instanceof Blob) { init.body = body; }
    else if (body !== undefined) { headers["Content-Type"] = "application/json"; init.body = JSON.stringify(body); }
    return fetch(path, init).then(function (r) {
      if (r.status === 204) return null;
      return r.json().catch(function () { return {}; }).then(function (data) {
        if (!r.ok) {
          var e = new Error(data.message || ("HTTP " + r.status));
          e.status = r.status;
          e.code = data.error;  // the domain error's name (OutsideDistrict…), for pages that explain it
          throw e;
        }
        return data;
      });
    });
  }

  function fmtTime(iso) { return iso ? iso.replace("T", " ").slice(0, 16) : ""; }

  /* the deadline light; a case with no clock running says why (not registered, not dispatched, or stopped) */
  var NO_CLOCK = {reported: "unregistered", awaiting_verification: "unregistered", registered: "undispatched",
                  returned: "undispatched"};
  function light(value, status) {
    var key = value || NO_CLOCK[status] || "stopped";
    return el("span", {class: "cg-light cg-light-" + (value || "none"), text: T("light_" + key),
                       title: T("light_title")});
  }

  /* a long text clamped to a few lines, with 展开/收起 when it does not fit */
  function clamped(text, className) {
    var body = el("p", {class: (className || "") + " cg-clamp", text: text || ""});
    var toggle = el("button", {type: "button", class: "cg-more", hidden: "hidden", "aria-expanded": "false",
                               text: T("expand"), onclick: function () {
      var open = body.classList.toggle("cg-open");
      toggle.textContent = T(open ? "collapse" : "expand");
      toggle.setAttribute("aria-expanded", String(open));
    }});
    var box = el("div", {class: "cg-clamped"}, [body, toggle]);
    requestAnimationFrame(function () { measure(body, toggle); });
    return box;
  }
  function measure(body, toggle) {
    if (!body.isConnected) { requestAnimationFrame(function () { measure(body, toggle); }); return; }
    toggle.hidden = body.scrollHeight <= body.clientHeight + 1 && !body.classList.contains("cg-open");
  }

  /* the unread count next to 消息 in the header */
  function unread() {
    var link = document.querySelector(".cg-inbox"), badge = link && link.querySelector(".cg-badge");
    if (!badge) return Promise.resolve(null);
    return api("GET", "/api/inbox/unread").then(function (answer) {  /* the server's label, as in the header */
      badge.textContent = answer.label;
      badge.hidden = !answer.label;
      if (answer.label) link.setAttribute("aria-label", link.firstChild.textContent + " " +
                                          T("unread", {n: answer.label}));
      else link.removeAttribute("aria-label");
      return answer.label;
    }, function () { return null; });
  }
  unread();

  window.cg = {el: el, api: api, fmtTime: fmtTime, light: light, clamped: clamped, unread: unread, T: T, csrf: csrf};
})();
