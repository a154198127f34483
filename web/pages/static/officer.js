/* citygrid grid officer phone pages: report (/m), my reports (/m/mine), tasks (/m/tasks).
   Every piece of user text enters the page through cg.el / textContent, never as HTML. */
(function () {
  "use strict";
  var root = document.getElementById("m-page");
  if (!root) return;
  var TEXT = JSON.parse(document.getElementById("m-text").textContent);
  var el = cg.el, MAX_PHOTOS = 9, PENDING = "cg.officer.pending";

  function t(key, values) {
    var s = TEXT[key] || key;
    Object.keys(values || {}).forEach(function (k) { s = s.replace("{" + k + "}", values[k]); });
    return s;
  }
  function $(id) { return document.getElementById(id); }
  function statusName(s) { return TEXT["m_st_" + s] || s; }
  function muted(text, tag) { return el(tag || "p", {class: "cg-muted", text: text}); }
  function caseLink(id) { return el("a", {href: "/cases/" + id, text: t("m_case") + " #" + id}); }

  /* photos: each chosen file is uploaded at once; thumbnails from object URLs; at most 9 */
  function photoPicker() {
    var items = [], thumbs = el("div", {class: "cg-photos"}), error = el("p", {class: "cg-error", role: "alert"});
    var input = el("input", {type: "file", accept: "image/*", capture: "environment", multiple: "multiple"});
    input.addEventListener("change", function () {
      error.textContent = "";
      Array.prototype.slice.call(input.files).forEach(add);
      input.value = "";
    });
    function drop(item) {
      var i = items.indexOf(item);
      if (i >= 0) items.splice(i, 1);
      item.node.remove();
      URL.revokeObjectURL(item.url);
    }
    function add(file) {
      if (items.length >= MAX_PHOTOS) { error.textContent = t("m_max_photos"); return; }
      var item = {id: null, url: URL.createObjectURL(file)}, state = el("span", {text: t("m_uploading")});
      item.node = el("div", {class: "m-thumb"}, [el("img", {src: item.url, alt: ""}), state,
        el("button", {type: "button", class: "secondary", text: "×", title: t("m_remove"), "aria-label": t("m_remove"),
                      onclick: function () { drop(item); }})]);
      items.push(item);
      thumbs.appendChild(item.node);
      cg.api("POST", "/api/media", file).then(function (m) { item.id = m.id; state.remove(); })
        .catch(function (e) { drop(item); error.textContent = (file.name ? file.name + ": " : "") + e.message; });
    }
    var button = el("label", {class: "cg-button m-add", text: t("m_add_photo")}, [input]);
    return {node: el("div", {class: "m-photos"}, [button, thumbs, error]),
            ids: function () { return items.filter(function (i) { return i.id; }).map(function (i) { return i.id; }); },
            busy: function () { return items.some(function (i) { return i.id === null; }); },
            clear: function () { items.slice().forEach(drop); error.textContent = ""; }};
  }

  /* The page sends WGS84 (state.point). On a GCJ-02 base map (data-map-crs="gcj02") the pin and the outlines are
     drawn shifted onto it with gcoord, and a pin moved by hand is shifted back before it is kept. */
  var GCJ = root.dataset.mapCrs === "gcj02" && window.gcoord;
  function toMap(p) {
    if (!GCJ) return L.latLng(p.lat, p.lon);
    var xy = gcoord.transform([p.lon, p.lat], gcoord.WGS84, gcoord.GCJ02);
    return L.latLng(xy[1], xy[0]);
  }
  function fromMap(latlng) {
    if (!GCJ) return {lon: latlng.lng, lat: latlng.lat};
    var xy = gcoord.transform([latlng.lng, latlng.lat], gcoord.GCJ02, gcoord.WGS84);
    return {lon: xy[0], lat: xy[1]};
  }

  /* the report page: a pin from GPS (or a tap) on a small offline map */
  function setupMap(state) {
    var map = L.map("m-map", {attributionControl: !!root.dataset.tileUrl}).setView([23.01, 113.08], 12), marker = null;
    if (root.dataset.tileUrl) {
      L.tileLayer(root.dataset.tileUrl, {attribution: root.dataset.tileAttribution, maxZoom: 19}).addTo(map);
    }
    outline(map, "community", {color: "#1565c0", weight: 1, fill: false}, false);  // finer outlines near the pin
    outline(map, "street", {color: "#b71c1c", weight: 2.5, fill: false}, true).then(function (layer) {
      if (layer && !state.point) map.fitBounds(layer.getBounds());
    });
    function place(point, byHand) {  // point: WGS84 {lon, lat}
      state.point = {lon: +point.lon.toFixed(7), lat: +point.lat.toFixed(7)};
      state.byHand = byHand;
      var latlng = toMap(state.point);
      if (!marker) {
        marker = L.marker(latlng, {draggable: true, autoPan: true}).addTo(map);
        marker.on("dragend", function () { place(fromMap(marker.getLatLng()), true); });
      } else marker.setLatLng(latlng);
      if (byHand) $("m-gps").textContent = t("m_pin_moved");
      $("m-coords").textContent = state.point.lon.toFixed(6) + ", " + state.point.lat.toFixed(6);
      describe(state);
    }
    map.on("click", function (e) { place(fromMap(e.latlng), true); });
    window.cgOfficerMap = {map: map, marker: function () { return marker; }};  // for tests and the console
    return {map: map, place: place, toMap: toMap};
  }
  function outline(map, level, style, labelled) {  // a level of the active release, drawn as outlines
    return cg.api("GET", "/api/layers/" + level).then(function (geojson) {
      if (GCJ) geojson = gcoord.transform(geojson, gcoord.WGS84, gcoord.GCJ02);
      return L.geoJSON(geojson, {style: style, interactive: false, onEachFeature: function (f, layer) {
        if (labelled) {  // names as text nodes, like all other text
          layer.bindTooltip(el("span", {text: f.properties.name}),
                            {permanent: true, direction: "center", className: "m-label"});
        }
      }}).addTo(map);
    }).catch(function (e) { $("m-place").textContent = e.message; });
  }
  /* where the pin is; a point outside the district cannot be sent, so 提交 waits until the pin is moved in */
  function describe(state) {
    var box = $("m-place"), point = state.point, asked = state.asked = (state.asked || 0) + 1;
    cg.api("GET", "/api/locate?crs=EPSG:4326&lon=" + point.lon + "&lat=" + point.lat).then(function (loc) {
      if (asked !== state.asked) return;  // the pin moved again meanwhile
      box.textContent = [loc.street.name, loc.community.name, loc.grid.name + " (" + loc.grid.code + ")"].join(" · ");
      box.className = "cg-muted";
      outside(state, false);
    }).catch(function (e) {
      if (asked !== state.asked) return;
      box.textContent = e.code === "OutsideDistrict" ? t("m_outside") : e.message;
      box.className = "cg-error";
      outside(state, e.code === "OutsideDistrict");
    });
  }
  function outside(state, yes) {
    state.outside = yes;
    $("m-submit").disabled = yes || !!state.sending;
    $("m-error").textContent = yes ? t("m_outside") : ($("m-error").textContent === t("m_outside") ? "" :
                                                       $("m-error").textContent);
  }
  function counter(textarea, line) {
    function show() { line.textContent = t("m_chars_left", {n: textarea.maxLength - textarea.value.length}); }
    textarea.addEventListener("input", show);
    show();
    return show;
  }
  function locate(state, pin, force) {
    var gps = $("m-gps");
    if (!navigator.geolocation) { gps.textContent = t("m_gps_failed"); return; }
    gps.textContent = t("m_locating");
    navigator.geolocation.getCurrentPosition(function (pos) {
      if (state.byHand && !force) return;  // the officer already set the pin by hand
      var point = {lon: pos.coords.longitude, lat: pos.coords.latitude};  // the Geolocation API gives WGS84
      pin.place(point, false);
      pin.map.setView(pin.toMap(point), 15);
      gps.textContent = t("m_gps_ok", {m: Math.round(pos.coords.accuracy)});
    }, function (err) {
      gps.textContent = t("m_gps_failed");  // the browser's own message is in English and says nothing more
    }, {enableHighAccuracy: true, timeout: 20000, maximumAge: 0});
  }
  function setupCategories(state) {
    var search = $("m-cat-search"), list = $("m-cat-list"), all = [];
    cg.api("GET", "/api/categories").then(function (cats) { all = cats; show(); })  // typed before they arrived
      .catch(function (e) { list.textContent = e.message; });
    function pick(c) {
      state.category = c;
      $("m-cat-chosen").textContent = c.code + " " + c.name + "（" + c.major_code + " " + c.major_name + "）";
      search.value = "";
      show();
    }
    search.addEventListener("input", show);
    function show() {
      var q = search.value.trim().toLowerCase();
      list.textContent = "";
      if (!q) return;
      var found = all.filter(function (c) {
        return c.code.indexOf(q) === 0 || (c.name + " " + c.major_name).toLowerCase().indexOf(q) >= 0;
      }).slice(0, 30);
      if (!found.length) list.appendChild(muted(t("m_no_match")));
      found.forEach(function (c) {
        list.appendChild(el("button", {type: "button", class: "secondary", "data-code": c.code,
                                       onclick: function () { pick(c); }},
          [el("b", {text: c.code + " " + c.name}), muted(" · " + c.major_code + " " + c.major_name, "span")]));
      });
    }
    return {clear: function () {
      state.category = null;
      $("m-cat-chosen").textContent = search.value = "";
      show();
    }};
  }

  /* one Idempotency-Key per report attempt, kept in sessionStorage until the server confirms */
  function newKey() {
    if (window.crypto && crypto.randomUUID) return crypto.randomUUID();
    return Array.prototype.map.call(crypto.getRandomValues(new Uint8Array(16)), function (b) {
      return (b + 256).toString(16).slice(1);
    }).join("");
  }
  function storedAttempt() {
    try { return JSON.parse(sessionStorage.getItem(PENDING) || "null"); } catch (e) { return null; }
  }
  function reportPage() {
    var state = {point: null, category: null, byHand: false, attempt: null};
    var pin = setupMap(state), cats = setupCategories(state), photos = photoPicker();
    var form = $("m-report"), error = $("m-error"), submit = $("m-submit");
    $("m-photos").appendChild(photos.node);
    locate(state, pin, false);
    $("m-relocate").addEventListener("click", function () { locate(state, pin, true); });
    var recount = counter($("m-desc"), $("m-desc-count"));
    function problem() {
      if (!state.point) return t("m_need_location");
      if (state.outside) return t("m_outside");
      if (!state.category) return t("m_need_category");
      if (photos.busy()) return t("m_wait_upload");
      return photos.ids().length ? "" : t("m_need_photo");
    }
    function clearForm() { cats.clear(); photos.clear(); $("m-desc").value = ""; recount(); $("m-dups").hidden = true; }
    var sender = makeSender(state, {error: error, submit: submit, done: clearForm});
    form.addEventListener("submit", function (ev) {
      ev.preventDefault();
      error.textContent = problem();
      if (error.textContent) return;
      var body = {category: state.category.code, lon: state.point.lon, lat: state.point.lat, crs: "EPSG:4326",
                  description: $("m-desc").value, attachments: photos.ids()};
      var q = "?crs=EPSG:4326&category=" + body.category + "&lon=" + body.lon + "&lat=" + body.lat;
      cg.api("GET", "/api/reports/nearby" + q).then(function (dups) {
        if (dups.length) showDuplicates(dups, function () { sender.send(body); });
        else sender.send(body);
      }).catch(function (e) { error.textContent = e.message; });
    });
    sender.offerStale();
  }
  function showDuplicates(dups, goOn) {
    var box = $("m-dups");
    box.textContent = "";
    box.hidden = false;
    box.appendChild(el("p", {class: "cg-error", text: t("m_duplicates")}));
    dups.forEach(function (d) {
      box.appendChild(el("div", {class: "cg-row m-dup"}, [caseLink(d.id), el("span", {text: statusName(d.status)}),
        el("span", {class: "cg-muted", text: Math.round(d.distance_m) + " m"})]));
    });
    box.appendChild(el("div", {class: "cg-row"}, [
      el("button", {type: "button", class: "danger", id: "m-anyway", text: t("m_report_anyway"),
                    onclick: function () { box.hidden = true; goOn(); }}),
      el("button", {type: "button", class: "secondary", text: t("m_cancel"),
                    onclick: function () { box.hidden = true; }})]));
  }
  function makeSender(state, ui) {
    function post(attempt) {
      ui.submit.disabled = state.sending = true;
      ui.error.textContent = t("m_sending");
      return cg.api("POST", "/api/reports", attempt.body, {"Idempotency-Key": attempt.key}).then(function (out) {
        sessionStorage.removeItem(PENDING);
        state.attempt = null;
        $("m-pending").hidden = true;
        ui.error.textContent = "";
        showResult(out);
        ui.done();
      }, function (e) {
        if (e.status && e.status < 500) {  // refused: sending the same again cannot succeed, so no 重试
          sessionStorage.removeItem(PENDING);
          state.attempt = null;
          ui.error.textContent = t("m_refused") + (e.code === "OutsideDistrict" ? t("m_outside") : e.message);
          return;
        }
        ui.error.textContent = t("m_failed") + e.message + " ";  // no answer, or the server failed: try again
        ui.error.appendChild(el("button", {type: "button", id: "m-retry", text: t("m_retry"),
                                           onclick: function () { post(attempt); }}));
      }).then(function () { state.sending = false; ui.submit.disabled = !!state.outside; });
    }
    function send(body) {
      if (!state.attempt && storedAttempt()) { ui.error.textContent = t("m_pending"); return; }
      state.attempt = state.attempt || {key: newKey()};
      state.attempt.body = body;
      sessionStorage.setItem(PENDING, JSON.stringify(state.attempt));
      post(state.attempt);
    }
    function offerStale() {  // an attempt from an earlier page whose answer never arrived: resend it, or drop it
      var stale = storedAttempt(), box = $("m-pending");
      if (!stale) return;
      box.hidden = false;
      box.appendChild(el("p", {text: t("m_pending")}));
      box.appendChild(el("div", {class: "cg-row"}, [
        el("button", {type: "button", text: t("m_resend"),
                      onclick: function () { state.attempt = stale; post(stale); }}),
        el("button", {type: "button", class: "secondary", text: t("m_discard"), onclick: function () {
          sessionStorage.removeItem(PENDING); box.hidden = true; }})]));
    }
    return {send: send, offerStale: offerStale};
  }
  function showResult(out) {
    var box = $("m-result");
    box.textContent = "";
    box.hidden = false;
    box.dataset.caseId = out.case_id;
    box.appendChild(el("p", {}, [el("b", {text: t("m_done") + " "}), caseLink(out.case_id)]));
    box.appendChild(el("p", {text: t("m_status") + ": " + statusName(out.status)}));
    box.appendChild(el("p", {}, [t("m_department") + ": ", department(out)]));
    (out.notes || []).forEach(function (n) { box.appendChild(muted(n)); });
    box.scrollIntoView({block: "nearest"});
  }

  /* the department by its name (from the case as the API reads it), the code in a tooltip */
  function department(out) {
    var node = el("span", {class: "m-dept", text: out.department_code ? out.department_code : t("m_unassigned")});
    if (!out.department_code) return node;
    node.title = out.department_code;
    cg.api("GET", "/api/cases/" + out.case_id).then(function (c) {
      node.textContent = c.department_name || c.department_code;
    }, function () {});
    return node;
  }

  /* my reports and tasks: one card per case */
  function caseCard(c, extra) {
    return el("article", {class: "cg-card m-case", "data-case-id": c.id}, [
      el("div", {class: "cg-row"}, [caseLink(c.id), el("b", {class: "m-status", text: statusName(c.status)})]
        .concat(c.light ? [cg.light(c.light)] : [])),
      el("div", {text: c.category_code + " " + c.category_name}),
      muted(cg.fmtTime(c.created_at) + " · " + (c.street_name || "") + " " + (c.grid_code || ""), "div"),
      cg.clamped(c.description, "m-desc")].concat(extra || []));
  }
  function listInto(box, path, card) {
    return cg.api("GET", path).then(function (rows) {
      box.textContent = "";
      rows.forEach(function (c) { box.appendChild(card(c)); });
      if (!rows.length) box.appendChild(muted(t("m_none")));
    }).catch(function (e) { box.textContent = ""; box.appendChild(el("p", {class: "cg-error", text: e.message})); });
  }
  function minePage() { listInto($("m-mine"), "/api/cases?queue=mine", function (c) { return caseCard(c); }); }
  function taskCard(c, actions) {
    var task = {c: c, photos: photoPicker(), error: el("p", {class: "cg-error m-task-error", role: "alert"}),
                note: el("textarea", {rows: "2", maxlength: root.dataset.noteMax}),
                row: el("div", {class: "cg-row m-actions"})};
    var note = el("label", {class: "m-note"}, [el("span", {class: "cg-muted", text: t("m_note")}), task.note]);
    task.card = caseCard(c, [note, task.photos.node, task.row, task.error]);
    actions.forEach(function (a) {
      task.row.appendChild(el("button", {type: "button", class: a[1] ? "danger" : "", "data-action": a[0],
                                         text: t("m_" + a[0]),
                                         onclick: function () { runAction(task, a[0], a[1]); }}));
    });
    return task.card;
  }
  function runAction(task, action, needsReason) {
    var buttons = task.row.querySelectorAll("button");
    task.error.textContent = needsReason && !task.note.value.trim() ? t("m_reason_required")
      : task.photos.busy() ? t("m_wait_upload") : "";
    if (task.error.textContent) return;
    buttons.forEach(function (b) { b.disabled = true; });
    cg.api("POST", "/api/cases/" + task.c.id + "/actions/" + action,
           {note: task.note.value, attachments: task.photos.ids(), version: task.c.version}).then(function (out) {
      $("m-flash").textContent = t("m_case") + " #" + task.c.id + " → " + statusName(out.to_status);
      var box = task.card.parentNode;
      task.card.remove();
      if (box && !box.querySelector(".m-case")) box.appendChild(muted(t("m_none")));
    }).catch(function (e) {
      task.error.textContent = e.message;
      buttons.forEach(function (b) { b.disabled = false; });
    });
  }
  function tasksPage() {
    var verify = [["register", false], ["reject", true]], check = [["check_ok", false], ["check_fail", true]];
    listInto($("m-verify"), "/api/cases?queue=verify", function (c) { return taskCard(c, verify); });
    listInto($("m-check"), "/api/cases?queue=check", function (c) { return taskCard(c, check); });
  }

  ({report: reportPage, mine: minePage, tasks: tasksPage})[root.dataset.page]();
})();
