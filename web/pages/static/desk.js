/* citygrid work pages (/queue, /desk, /cases/{id}): case cards, action forms, photo upload, routing and the map.
   Every piece of user text (descriptions, notes, names) enters the page as text (cg.el / textContent), never HTML. */
(function () {
  "use strict";
  var el = cg.el;
  var conf = JSON.parse(document.getElementById("cg-settings").textContent);
  var LIGHT_COLOUR = {red: "#c62828", yellow: "#f9a825", green: "#2e7d32"};
  var DANGER = {reject: true, "return": true, refuse_extension: true, check_fail: true};
  /* fields beyond the reason and photos that the workflow table asks for; "?" marks an optional one */
  var EXTRA = {dispatch: ["dept"], merge: ["into"], request_extension: ["deadline?"], approve_extension: ["deadline"]};

  function T(key) { return conf.text["d_" + key] || key; }
  function label(kind, value) { return conf.text["d_" + kind + "_" + value] || value || "—"; }
  function mine(roles) { return roles.some(function (r) { return conf.roles.indexOf(r) >= 0; }); }

  /* actions the reader's roles allow from the case's status (the list is already limited to their scope) */
  function openActions(c) {
    return Object.keys(conf.steps).filter(function (a) {
      return conf.steps[a].sources.indexOf(c.status) >= 0 && mine(conf.steps[a].roles);
    });
  }

  function place(c) {
    var street = c.street_name || (c.street && c.street.name) || "";
    return [street, c.grid_code || (c.grid && c.grid.code) || ""].filter(Boolean).join(" / ");
  }

  /* a department by its name, the code in a tooltip; what the empty cell means when there is none */
  function department(code, name) {
    if (!code) return el("span", {class: "cg-dept cg-muted", text: T("unassigned")});
    return el("span", {class: "cg-dept", title: T("code") + " " + code, "data-code": code, text: name || code});
  }

  /* a department known only by its code (a history row): named from the department list, fetched once */
  function namedDepartment(code) {
    var node = department(code, null);
    if (!code) return node;
    departments = departments || cg.api("GET", "/api/departments");
    departments.then(function (all) {
      all.forEach(function (x) { if (x.code === code) node.textContent = x.name; });
    }, function () {});
    return node;
  }

  function card(c) {
    var head = el("div", {class: "cg-row cg-case-head"}, [
      el("a", {href: "/cases/" + c.id, class: "cg-case-id", text: "#" + c.id}), cg.light(c.light, c.status),
      el("span", {class: "cg-status", text: label("st", c.status)}),
      el("span", {class: "cg-category", text: c.category_code + " " + (c.category_name || "")}),
      el("span", {class: "cg-muted", text: place(c)})]
      .concat(c.department_code ? [department(c.department_code, c.department_name)] : [])
      .concat(c.deadline ? [el("span", {class: "cg-muted", text: T("deadline") + " " + cg.fmtTime(c.deadline)})] : []));
    return el("div", {class: "cg-card cg-case", "data-case": String(c.id)},
              [head, cg.clamped(c.description, "cg-desc")]);
  }

  /* load one queue into a container; resolves with the rows shown */
  function list(queue, box, render) {
    return cg.api("GET", "/api/cases?queue=" + queue).then(function (rows) {
      box.textContent = "";
      if (!rows.length) box.appendChild(el("p", {class: "cg-muted cg-empty", text: T("none")}));
      rows.forEach(function (c) { box.appendChild(render(c)); });
      return rows;
    }, function (e) {
      box.textContent = "";
      box.appendChild(el("p", {class: "cg-error", text: e.message}));
      return [];
    });
  }

  function fieldsOf(action) {
    var step = conf.steps[action], fields = (EXTRA[action] || []).slice();
    if (step.reason) fields.unshift("note");
    if (step.photo) fields.push("photo");
    return fields;
  }

  function labelled(text, input) { return el("label", {}, [text, input]); }

  function noteField(required) {
    var input = el("textarea", {name: "note", rows: "2", maxlength: String(conf.note_max)});
    return {node: labelled(T("note") + (required ? " *" : ""), input), read: function (body) {
      var value = input.value.trim();
      if (required && !value) throw new Error(T("need_note"));
      body.note = value;
    }};
  }

  /* datetime-local "2026-12-01T17:30" → "2026-12-01T17:30:00+08:00" (the district's time) */
  function withOffset(local) { return local.slice(0, 16) + ":00+08:00"; }

  function deadlineField(required, c, opts) {
    var input = el("input", {type: "datetime-local", name: "new_deadline"});
    if (opts.deadline) input.value = opts.deadline.slice(0, 16);
    return {node: labelled(T(required ? "new_deadline" : "requested_deadline"), input), read: function (body) {
      if (!input.value) { if (required) throw new Error(T("need_deadline")); return; }
      body.new_deadline = withOffset(input.value);
    }};
  }

  var departments = null;
  function deptField() {
    var select = el("select", {name: "department_code"}, [el("option", {value: "", text: T("by_rules")})]);
    departments = departments || cg.api("GET", "/api/departments");
    departments.then(function (all) {
      all.forEach(function (d) {
        select.appendChild(el("option", {value: d.code, text: d.name + "（" + d.code + "）"}));
      });
    });
    return {node: labelled(T("department"), select), read: function (body) {
      if (select.value) body.department_code = select.value;
    }};
  }

  function intoField(required, c, opts) {
    var input = el("input", {type: "number", min: "1", name: "into_case_id", value: opts.into || ""});
    return {node: labelled(T("into_case"), input), read: function (body) {
      var id = parseInt(input.value, 10);
      if (!id) throw new Error(T("need_into"));
      body.into_case_id = id;
    }};
  }

  function photoField() {
    var input = el("input", {type: "file", name: "photos", multiple: "multiple",
                             accept: "image/jpeg,image/png,image/webp"});
    var previews = el("div", {class: "cg-photos"});
    input.addEventListener("change", function () {
      previews.textContent = "";
      Array.prototype.forEach.call(input.files, function (f) {
        previews.appendChild(el("img", {src: URL.createObjectURL(f), alt: f.name}));
      });
    });
    return {node: el("div", {}, [labelled(T("after_photos") + " *", input), previews]), read: function (body) {
      if (!input.files.length) throw new Error(T("need_photo"));
      body._files = Array.prototype.slice.call(input.files);
    }};
  }

  var FIELD = {note: noteField, deadline: deadlineField, dept: deptField, into: intoField, photo: photoField};

  /* upload the photos one by one (raw body), then take the action with their ids and the version we saw */
  function send(c, action, body, status) {
    var files = body._files || [];
    delete body._files;
    if (c.version !== undefined) body.version = c.version;
    if (files.length && status) status.textContent = T("uploading");
    return files.reduce(function (done, f) {
      return done.then(function (ids) {
        return cg.api("POST", "/api/media", f, {"Content-Type": f.type || "image/jpeg"})
          .then(function (m) { return ids.concat([m.id]); });
      });
    }, Promise.resolve([])).then(function (ids) {
      if (ids.length) body.attachments = ids;
      return cg.api("POST", "/api/cases/" + c.id + "/actions/" + action, body);
    });
  }

  function actionForm(c, action, done, opts) {
    var fields = fieldsOf(action).map(function (f) {
      return FIELD[f.replace("?", "")](f.slice(-1) !== "?", c, opts || {});
    });
    var err = el("p", {class: "cg-error", role: "alert"});
    var submit = el("button", {type: "submit", class: DANGER[action] ? "danger" : "", text: label("act", action)});
    var form = el("form", {class: "cg-action-form", "data-action": action},
      fields.map(function (f) { return f.node; }).concat([el("div", {class: "cg-row"}, [submit]), err]));
    form.addEventListener("submit", function (ev) {
      ev.preventDefault();
      var body = {};
      err.textContent = "";
      try { fields.forEach(function (f) { f.read(body); }); } catch (e) { err.textContent = e.message; return; }
      submit.disabled = true;
      send(c, action, body, err).then(done, function (e) { err.textContent = e.message; submit.disabled = false; });
    });
    return form;
  }

  /* one button per action: those that need nothing act at once, the others open their form below */
  function actionBar(c, actions, done, opts) {
    var slot = el("div", {class: "cg-action-slot"}), err = el("p", {class: "cg-error", role: "alert"});
    var buttons = actions.map(function (a) {
      var direct = !fieldsOf(a).length;
      return el("button", {type: "button", "data-action": a, text: label("act", a),
        class: DANGER[a] ? "danger" : (direct ? "" : "secondary"), onclick: function (ev) {
          var button = ev.currentTarget;
          err.textContent = "";
          slot.textContent = "";
          if (!direct) { slot.appendChild(actionForm(c, a, done, opts)); return; }
          button.disabled = true;
          send(c, a, {}).then(done, function (e) { err.textContent = e.message; button.disabled = false; });
        }});
    });
    return el("div", {class: "cg-actions"}, [el("div", {class: "cg-row"}, buttons), err, slot]);
  }

  /* the latest routing decision in one line: the rule that applied, or why none did */
  function routingLine(id) {
    var node = el("p", {class: "cg-routing", text: T("routing") + ": …"});
    cg.api("GET", "/api/cases/" + id + "/routing").then(function (all) {
      var last = all[all.length - 1];
      node.textContent = T("routing") + ": " + (last ? last.explanation : T("routing_none"));
    }, function (e) { node.textContent = e.message; });
    return node;
  }

  /* context for a small map: the unit grids around the cases (handed in by the page) and the streets, named */
  function outlines(map, onBase, own) {
    if (conf.grids) {
      L.geoJSON(onBase(conf.grids), {interactive: false, className: "cg-grid-outline", style: function (f) {
        var mine = f.properties.code === own;  // the case's own grid, filled lightly and named
        return {color: "#1565c0", weight: mine ? 2.5 : 1, opacity: .8, fill: mine, fillOpacity: .08};
      }, onEachFeature: function (f, layer) {
        if (f.properties.code === own) {
          layer.bindTooltip(el("span", {text: f.properties.name}),
                            {permanent: true, direction: "top", className: "cg-map-label cg-grid-label"});
        }
      }}).addTo(map);
    }
    cg.api("GET", "/api/layers/street").then(onBase).then(function (streets) {
      L.geoJSON(streets, {interactive: false, className: "cg-street-outline",
                          style: {color: "#b71c1c", weight: 2.5, fill: false},
                          onEachFeature: function (f, layer) {
                            layer.bindTooltip(el("span", {text: f.properties.name}),
                                              {permanent: true, direction: "center", className: "cg-map-label"});
                          }}).addTo(map);
    }, function () {});
  }

  /* the case page's map: the case as one marker, with the grids and streets around it */
  function pointMap(node, c) {
    var gcj = conf.map_crs === "gcj02" && window.gcoord;
    function onBase(geojson) { return gcj ? gcoord.transform(geojson, gcoord.WGS84, gcoord.GCJ02) : geojson; }
    var xy = onBase({type: "Point", coordinates: [c.lon, c.lat]}).coordinates;
    var map = L.map(node, {attributionControl: !!conf.tile_url}).setView([xy[1], xy[0]], 16);
    if (conf.tile_url) L.tileLayer(conf.tile_url, {attribution: conf.tile_attribution || ""}).addTo(map);
    outlines(map, onBase, c.grid && c.grid.code);
    var marker = L.circleMarker([xy[1], xy[0]], {radius: 9, weight: 3, color: "#fff", fillOpacity: 1,
                                                 fillColor: LIGHT_COLOUR[c.light] || "#455a64"}).addTo(map);
    return {map: map, marker: marker};
  }

  function flash(box, result) {
    var notes = (result.notes || []).join("; ");
    box.textContent = T("done") + "#" + result.case_id + " " + label("act", result.action) + " → " +
      label("st", result.to_status) + (notes ? " (" + notes + ")" : "");
  }

  function thumb(id) {
    var src = "/api/media/" + encodeURIComponent(id);
    return el("a", {href: src, target: "_blank", rel: "noopener"},
              [el("img", {src: src, alt: "#" + id, loading: "lazy"})]);
  }

  /* a small map of cases as circle markers coloured by their light; show(rows) keeps the markers of those rows.
     On a GCJ-02 base map (conf.map_crs) the streets and the cases are shifted onto it with gcoord. */
  function caseMap(node, points) {
    var gcj = conf.map_crs === "gcj02" && window.gcoord;
    function onBase(geojson) { return gcj ? gcoord.transform(geojson, gcoord.WGS84, gcoord.GCJ02) : geojson; }
    var map = L.map(node, {attributionControl: !!conf.tile_url}).setView([23.01, 113.1], 12);
    if (conf.tile_url) L.tileLayer(conf.tile_url, {attribution: conf.tile_attribution || ""}).addTo(map);
    points = onBase(points);
    outlines(map, onBase);
    var markers = {}, layer = L.featureGroup().addTo(map);
    (points.features || []).forEach(function (f) {
      var p = f.properties, xy = f.geometry.coordinates;
      markers[p.id] = L.circleMarker([xy[1], xy[0]], {radius: 8, weight: 2, color: "#fff", fillOpacity: .9})
        .bindTooltip(el("span", {text: "#" + p.id + " " + p.category}))
        .on("click", function () { location.href = "/cases/" + p.id; });
    });
    function show(rows) {
      layer.clearLayers();
      rows.forEach(function (c) {
        var m = markers[c.id];
        if (m) layer.addLayer(m.setStyle({fillColor: LIGHT_COLOUR[c.light] || "#78909c"}));
      });
      if (layer.getLayers().length) map.fitBounds(layer.getBounds().pad(0.3), {maxZoom: 15});
      return rows;
    }
    return {map: map, show: show, markers: markers};
  }

  window.cgDesk = {conf: conf, T: T, label: label, mine: mine, openActions: openActions, place: place, card: card,
                   list: list, actionForm: actionForm, actionBar: actionBar, send: send, routingLine: routingLine,
                   flash: flash, thumb: thumb, caseMap: caseMap, pointMap: pointMap, department: department,
                   namedDepartment: namedDepartment};
})();
