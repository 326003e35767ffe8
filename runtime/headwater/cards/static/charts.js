// Draws every VegaChart of the page with the inlined Vega and Vega-Lite libraries (SVG).
(function () {
  var charts = document.querySelectorAll(".hw-vega");
  var pending = [];
  charts.forEach(function (el) {
    var view = el.querySelector(".hw-vega-view");
    try {
      var spec = JSON.parse(el.querySelector("script[type='application/json']").textContent);
      var isVega = typeof spec.$schema === "string" && spec.$schema.indexOf("/vega/v") >= 0;
      var vgSpec = isVega ? spec : vegaLite.compile(spec).spec;
      var v = new vega.View(vega.parse(vgSpec), { renderer: "svg", container: view, hover: true });
      pending.push(v.runAsync().then(function () { el.setAttribute("data-rendered", "true"); }));
    } catch (err) {
      el.setAttribute("data-error", String(err));
      view.textContent = "This chart could not be drawn: " + err;
    }
  });
  Promise.all(pending).catch(function (err) { console.error(err); }).then(function () {
    document.body.setAttribute("data-charts-ready", "true");
  });
})();
