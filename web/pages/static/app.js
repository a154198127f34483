/* citygrid pages: a small helper shared by every page. User text only ever enters the page as text nodes. */
(function () {
  "use strict";
  var csrf = (document.querySelector('meta[name="csrf-token"]') || {}).content || "";

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
        if (!r.ok) { var e = new Error(data.message || ("HTTP " + r.status)); e.status = r.status; throw e; }
        return data;
      });
    });
  }

  function fmtTime(iso) { return iso ? iso.replace("T", " ").slice(0, 16) : ""; }

  var LIGHT = {red: "超期 overdue", yellow: "预警 due soon", green: "正常 on time"};
  function light(value) { return el("span", {class: "cg-light cg-light-" + (value || "none"), text: LIGHT[value] || "—"}); }

  window.cg = {el: el, api: api, fmtTime: fmtTime, light: light, csrf: csrf};
})();
