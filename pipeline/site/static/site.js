/* The release site's only script: language switch, number format, Vega charts and the map's selectors.
   It reads the data the page includes with <script src> (window.NTM_CHARTS, window.NTM_MAP), never requests
   anything, so the pages work from file:// as from any static server, with no network. */
(function () {
  "use strict";
  var html = document.documentElement;
  var STORE = "ntm-lang";

  function lang() { return html.getAttribute("data-lang") === "en" ? "en" : "vi"; }
  function locale() { return lang() === "en" ? "en-US" : "vi-VN"; }
  function fmt(v, digits) {
    if (v === null || v === undefined || v === "" || isNaN(v)) return "";
    return new Intl.NumberFormat(locale(), { minimumFractionDigits: digits, maximumFractionDigits: digits })
      .format(Number(v));
  }
  function tr(vi, en) { return lang() === "en" ? en : vi; }

  function formatNumbers(root) {
    (root || document).querySelectorAll(".num[data-value]").forEach(function (el) {
      var d = parseInt(el.getAttribute("data-digits") || "1", 10);
      el.textContent = fmt(parseFloat(el.getAttribute("data-value")), d);
    });
  }

  function setLang(l, remember) {
    html.setAttribute("data-lang", l);
    html.lang = l;
    if (remember) { try { localStorage.setItem(STORE, l); } catch (e) { /* private mode */ } }
    formatNumbers();
    renderCharts();
    if (window.NTM_MAP) { fillMapSelectors(true); renderMap(); }
  }

  // ---- charts ------------------------------------------------------------------------------------------
  var views = {};
  function embed(el, spec) {
    if (!window.vegaEmbed || !spec) return Promise.resolve(null);
    var key = el.id || el.getAttribute("data-chart");
    if (views[key]) { views[key].finalize(); delete views[key]; }
    return window.vegaEmbed(el, spec, { renderer: "svg", actions: false }).then(function (res) {
      views[key] = res.view;
      return res;
    });
  }
  function renderCharts() {
    var charts = window.NTM_CHARTS || {};
    document.querySelectorAll(".chart[data-chart]").forEach(function (el) {
      var c = charts[el.getAttribute("data-chart")];
      if (!c || !c[lang()]) return;
      var spec = Object.assign({}, c[lang()], { datasets: window.NTM_DATASETS || {} });
      embed(el, spec);
    });
  }

  // ---- map ---------------------------------------------------------------------------------------------
  var M = null;
  function layerById(id) {
    for (var i = 0; i < M.layers.length; i++) if (M.layers[i].id === id) return M.layers[i];
    return M.layers[0];
  }
  function fillMapSelectors(keep) {
    var selI = document.getElementById("map-indicator");
    var selP = document.getElementById("map-period");
    var cur = keep ? selI.value : null;
    selI.innerHTML = "";
    var groups = { indicator: tr("Chỉ tiêu", "Indicators"), satisfaction: tr("Sự hài lòng", "Satisfaction") };
    Object.keys(groups).forEach(function (g) {
      var og = document.createElement("optgroup");
      og.label = groups[g];
      M.layers.forEach(function (l) {
        if (l.group !== g) return;
        var o = document.createElement("option");
        o.value = l.id;
        o.textContent = l[lang()];
        og.appendChild(o);
      });
      if (og.children.length) selI.appendChild(og);
    });
    if (cur) selI.value = cur;
    fillPeriods(keep ? selP.value : null);
  }
  function fillPeriods(keepValue) {
    var selP = document.getElementById("map-period");
    var layer = layerById(document.getElementById("map-indicator").value);
    selP.innerHTML = "";
    layer.periods.forEach(function (p) {
      var o = document.createElement("option");
      o.value = p;
      o.textContent = M.periods[p] ? M.periods[p][lang()] : p;
      selP.appendChild(o);
    });
    if (keepValue && layer.periods.indexOf(keepValue) >= 0) selP.value = keepValue;
    else selP.value = layer.periods[layer.periods.length - 1];
  }
  function existsAt(h, end) { return h.from <= end && (!h.to || h.to >= end); }
  function yesNo(v) { return v === null || v === undefined ? "" : (v ? tr("Có", "Yes") : tr("Không", "No")); }

  function renderMap() {
    var layer = layerById(document.getElementById("map-indicator").value);
    var period = document.getElementById("map-period").value;
    var end = M.periods[period] ? M.periods[period].end : "9999-12-31";
    var vals = layer.values[period] || {};
    var isYesNo = layer.value_type === "yesno" && layer.group === "indicator";
    var drawn = M.hamlets.filter(function (h) { return existsAt(h, end); });
    var features = drawn.map(function (h) {
      var v = vals[h.code];
      var state = !v ? "nodata" : (v[7] ? "suppressed" : (v[0] === null ? "nodata" : "value"));
      var tValue = state === "suppressed" ? tr("Ẩn", "Hidden") + " (" + v[7][lang() === "en" ? 1 : 0] + ")"
        : state === "nodata" ? tr("không có số liệu", "no data")
        : isYesNo ? yesNo(v[0] >= 0.5) : fmt(v[0], layer.digits) + " " + layer["unit_" + lang()];
      return {
        type: "Feature", geometry: h.geometry,
        properties: {
          code: h.code, name: h.name, t_change: h.change ? h.change[lang() === "en" ? 1 : 0] : "", label: h.name.replace(/^(Thôn|Tổ dân phố|TDP)\s+/, ""),
          cx: h.cx, cy: h.cy, state: state, value: state === "value" ? v[0] : null,
          t_value: tValue,
          t_nd: state === "value" && v[1] !== null && v[2] !== null ? fmt(v[1], v[1] % 1 ? 1 : 0) + " / " + fmt(v[2], v[2] % 1 ? 1 : 0) : "",
          t_met: state === "value" ? yesNo(v[3]) : "",
          t_unit: state === "value" && v[4] ? v[4] : "",
          t_ontime: state === "value" && v[5] !== null ? (v[5] ? tr("Đúng hạn", "On time") : tr("Muộn ", "Late ") + (v[6] || 0) + tr(" ngày", " days")) : ""
        }
      };
    });
    var spec = JSON.parse(JSON.stringify(M.specs[(isYesNo ? "yesno" : "quant") + ":" + lang()]));
    spec.data = { values: features };
    var el = document.getElementById("map");
    embed(el, spec).then(function () {
      el.setAttribute("data-shapes", String(features.length));
      el.setAttribute("data-period", period);
      el.setAttribute("data-layer", layer.id);
    });
    var body = document.querySelector("#map-table tbody");
    body.innerHTML = "";
    features.forEach(function (f) {
      var p = f.properties;
      var row = document.createElement("tr");
      row.setAttribute("data-hamlet", p.code);
      var cells = [p.name, null, p.t_nd, p.t_met, p.t_unit, p.t_ontime, p.t_change];
      cells.forEach(function (text, i) {
        var td = document.createElement(i === 0 ? "th" : "td");
        if (i === 0) td.scope = "row";
        if (i === 1) {
          td.className = "value";
          if (p.state === "suppressed") {
            var s = document.createElement("span");
            s.className = "suppressed";
            s.textContent = p.t_value;
            td.appendChild(s);
          } else if (p.state === "value" && !isYesNo) {
            var n = document.createElement("span");
            n.className = "num";
            n.setAttribute("data-value", String(p.value));
            n.setAttribute("data-digits", String(layer.digits));
            n.textContent = fmt(p.value, layer.digits);
            td.appendChild(n);
          } else {
            td.textContent = p.t_value;
          }
        } else {
          td.textContent = text;
        }
        row.appendChild(td);
      });
      body.appendChild(row);
    });
    var shown = features.filter(function (f) { return f.properties.state === "value"; }).length;
    var hidden = features.filter(function (f) { return f.properties.state === "suppressed"; }).length;
    document.getElementById("map-summary").textContent =
      tr(features.length + " thôn tồn tại cuối kỳ, " + shown + " có số liệu, " + hidden + " bị ẩn",
         features.length + " hamlets existing at the period end, " + shown + " with data, " + hidden + " hidden");
  }

  function initMap() {
    M = window.NTM_MAP;
    if (!M || !document.getElementById("map")) return;
    var selI = document.getElementById("map-indicator");
    var selP = document.getElementById("map-period");
    fillMapSelectors(false);
    var params = new URLSearchParams(window.location.hash.replace(/^#/, ""));
    if (params.get("indicator")) { selI.value = params.get("indicator"); fillPeriods(params.get("period")); }
    selI.addEventListener("change", function () { fillPeriods(selP.value); renderMap(); });
    selP.addEventListener("change", renderMap);
    renderMap();
  }

  // ---- start -------------------------------------------------------------------------------------------
  document.getElementById("lang-toggle").addEventListener("click", function () {
    setLang(lang() === "vi" ? "en" : "vi", true);
  });
  formatNumbers();
  renderCharts();
  initMap();
})();
