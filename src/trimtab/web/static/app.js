// The dashboard's charts: uPlot over the data the page carries in #chart-data.
// Drawn on load, again after HTMX swaps the charts section (a new window), and on resize.
"use strict";
(function () {
  var charts = [];
  var palette = { p50: "#4c8bf5", p95: "#f0a030", p99: "#d64545", errors: "#d64545",
                  volume: "#2a9d8f", cost: "#6a4c93" };

  function when(seconds) {
    return new Date(seconds * 1000).toISOString().replace("T", " ").slice(0, 16) + " UTC";
  }

  function line(label, color, fmt) {
    // Points too: a window with calls in one step only still shows them.
    return { label: label, stroke: color, width: 2, spanGaps: false,
             points: { show: true, size: 5, fill: color },
             value: function (u, v) { return v == null ? "–" : fmt(v); } };
  }

  // Axis numbers with as many digits as the smallest step needs ($0.0004, not 0).
  function ticks(u, values) {
    return values.map(function (v) {
      if (v === 0) return "0";
      var a = Math.abs(v);
      return a >= 100 ? v.toFixed(0) : a >= 1 ? String(+v.toFixed(2)) : String(+v.toPrecision(2));
    });
  }

  function bars(label, color, fmt) {
    return { label: label, stroke: color, fill: color + "55", width: 1,
             paths: uPlot.paths.bars({ size: [0.8, 40] }),
             value: function (u, v) { return v == null ? "–" : fmt(v); } };
  }

  var fixed = function (n) { return function (v) { return v.toFixed(n); }; };
  var kinds = {
    latency: function (d) {
      return { series: [line("p50", palette.p50, fixed(0)), line("p95", palette.p95, fixed(0)),
                        line("p99", palette.p99, fixed(0))],
               data: [d.x, d.p50, d.p95, d.p99], unit: "ms" };
    },
    errors: function (d) {
      return { series: [line("error rate %", palette.errors, fixed(2))],
               data: [d.x, d.error_rate], unit: "%" };
    },
    volume: function (d) {
      return { series: [bars("calls", palette.volume, fixed(0))], data: [d.x, d.calls],
               unit: "" };
    },
    cost: function (d) {
      return { series: [bars("USD", palette.cost, fixed(6))], data: [d.x, d.cost], unit: "$" };
    },
  };

  function draw() {
    charts.forEach(function (c) { c.destroy(); });
    charts = [];
    var island = document.getElementById("chart-data");
    if (!island || typeof uPlot === "undefined") return;
    var data = JSON.parse(island.textContent);
    document.querySelectorAll("[data-chart]").forEach(function (el) {
      var spec = kinds[el.dataset.chart](data);
      el.textContent = "";
      var opts = {
        width: Math.max(el.clientWidth, 240), height: 180,
        series: [{ label: "time", value: function (u, v) { return v == null ? "" : when(v); } }]
          .concat(spec.series),
        scales: { x: { time: true }, y: { range: function (u, lo, hi) { return [0, hi > 0 ? hi * 1.1 : 1]; } } },
        axes: [{}, { size: 60, values: ticks }],
        // Times in UTC, as everywhere else in trimtab.
        tzDate: function (ts) { return uPlot.tzDate(new Date(ts * 1000), "Etc/UTC"); },
        legend: { live: true },
        cursor: { drag: { x: false, y: false } },
      };
      var chart = new uPlot(opts, spec.data, el);
      el.dataset.drawn = "1";
      charts.push(chart);
    });
  }

  var pending = null;
  window.addEventListener("resize", function () {
    clearTimeout(pending);
    pending = setTimeout(draw, 150);
  });
  document.addEventListener("DOMContentLoaded", draw);
  document.addEventListener("htmx:after:settle", draw);
})();

// The review queue, keyboard-first: p/f verdict, 1-5 score, l labels, c comment,
// Esc leaves a field, Enter saves and loads the next call (Ctrl+Enter in the comment).
(function () {
  function check(form, name, value) {
    var input = form.querySelector("input[name='" + name + "'][value='" + value + "']");
    if (input) { input.checked = true; input.focus(); }
  }
  function save(form) {
    if (form.reportValidity()) form.requestSubmit();
  }
  document.addEventListener("keydown", function (event) {
    var form = document.getElementById("review-form");
    if (!form || event.altKey || event.metaKey) return;
    var target = event.target;
    var typing = target.tagName === "TEXTAREA" ||
      (target.tagName === "INPUT" && target.type === "text");
    if (typing) {
      if (event.key === "Escape") { target.blur(); event.preventDefault(); }
      else if (event.key === "Enter" && (target.tagName === "INPUT" || event.ctrlKey)) {
        event.preventDefault();
        save(form);
      }
      return;
    }
    if (event.ctrlKey || target.tagName === "A" || target.tagName === "SELECT") return;
    var key = event.key;
    if (key === "p") check(form, "verdict", "pass");
    else if (key === "f") check(form, "verdict", "fail");
    else if (/^[1-5]$/.test(key)) check(form, "score", key);
    else if (key === "l") form.querySelector("input[name=labels]").focus();
    else if (key === "c") form.querySelector("textarea[name=comment]").focus();
    else if (key === "Enter") save(form);
    else return;
    event.preventDefault();
  });
})();
