/* citygrid map wiring. Every piece of user text goes into the page as a text node, never as HTML. */
(function () {
  "use strict";

  function el(tag, cls, text) {
    var node = document.createElement(tag);
    if (cls) node.className = cls;
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }

  function featureLabel(props) {
    return el("span", null, props.name + " " + props.code);
  }

  var LIGHT = { red: "超期 overdue", yellow: "预警 due soon", green: "正常 on time" };

  function casePopup(props) {
    var box = el("dl", "citygrid-popup");
    [["案件 Case", "#" + props.id], ["类别 Category", props.category], ["状态 Status", props.status],
     ["网格 Grid", props.grid], ["时间 Reported", props.created_at], ["部门 Department", props.department],
     ["时限 Deadline", props.deadline + (props.light ? " (" + LIGHT[props.light] + ")" : "")],
     ["描述 Description", props.description]]
      .forEach(function (row) { box.appendChild(el("dt", null, row[0])); box.appendChild(el("dd", null, row[1])); });
    return box;
  }

  function init(map, layers, meta) {
    ["streets", "communities", "grids"].forEach(function (key) {
      if (!layers[key]) return;
      layers[key].eachLayer(function (f) {
        f.bindTooltip(featureLabel(f.feature.properties), { sticky: true });
      });
    });
    if (layers.cases) {
      layers.cases.eachLayer(function (f) { f.bindPopup(casePopup(f.feature.properties)); });
    }
    var title = el("div", "citygrid-title", meta.title);
    map.getContainer().appendChild(title);
    window.citygrid.map = map;
    window.citygrid.layers = layers;
    window.citygrid.meta = meta;
    window.citygrid.ready = true;
  }

  window.citygrid = { init: init, ready: false };
})();
