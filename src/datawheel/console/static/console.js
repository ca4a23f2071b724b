// datawheel console: confirmations, copy buttons, a page that waits for a model card, and the
// playground (calls the public API). Every word it shows comes translated from the page.
"use strict";
(function () {
  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (form.matches && form.matches("form.confirm") && !window.confirm(form.dataset.confirm)) {
      event.preventDefault();
    }
  });
  document.addEventListener("click", function (event) {
    var button = event.target.closest && event.target.closest("[data-copy]");
    if (!button) return;
    var text = document.querySelector(button.dataset.copy).textContent;
    var done = document.body.dataset.copied || "Copied";
    if (navigator.clipboard) navigator.clipboard.writeText(text).then(function () { button.textContent = done; });
  });

  // A model card being drawn: ask again every two seconds, open it when it is there.
  var pending = document.querySelector("[data-reload-when-ready]");
  if (pending) {
    var poll = function () {
      fetch(pending.dataset.reloadWhenReady, { credentials: "same-origin" }).then(function (response) {
        if (response.status === 200) window.location.reload();
        else window.setTimeout(poll, 2000);
      }).catch(function () { window.setTimeout(poll, 5000); });
    };
    window.setTimeout(poll, 2000);
  }

  // A new key is shown once: the playground of this tab may use it.
  var fresh = document.getElementById("new-key");
  if (fresh) sessionStorage.setItem("datawheel.playground.key", fresh.dataset.key);

  var form = document.getElementById("playground");
  if (!form) return;
  var keyInput = document.getElementById("pg-key");
  keyInput.value = sessionStorage.getItem("datawheel.playground.key") || "";

  function row() {
    var out = {};
    form.querySelectorAll("input[data-kind]").forEach(function (input) {
      if (input.value === "") { out[input.name] = null; return; }
      out[input.name] = input.dataset.kind === "number" ? Number(input.value) : input.value;
    });
    return out;
  }
  function call(url, body) {
    return fetch(url, {
      method: "POST",
      headers: { "Authorization": "Bearer " + keyInput.value.trim(), "Content-Type": "application/json" },
      body: JSON.stringify(body)
    }).then(function (response) {
      return response.json().then(function (data) {
        if (!response.ok) {
          var e = data.error || {};
          throw new Error((e.field ? e.field + ": " : "") + (e.message || response.statusText));
        }
        return data;
      });
    });
  }
  function fill(template, values) {
    return template.replace(/\{(\w+)\}/g, function (all, name) { return name in values ? values[name] : all; });
  }
  function bar(container, name, value, scale, signed) {
    var line = document.createElement("div"); line.className = "bar-row";
    var label = document.createElement("span"); label.textContent = name;
    var track = document.createElement("div"); track.className = "bar-track";
    var fillBar = document.createElement("div"); fillBar.className = "bar-fill" + (value < 0 ? " neg" : "");
    var width = Math.min(1, Math.abs(value) / (scale || 1));
    if (signed) {
      var zero = document.createElement("div"); zero.className = "zero"; track.appendChild(zero);
      fillBar.style.width = (width * 50) + "%";
      fillBar.style.left = value < 0 ? (50 - width * 50) + "%" : "50%";
    } else { fillBar.style.width = (width * 100) + "%"; fillBar.style.left = "0"; }
    track.appendChild(fillBar);
    var number = document.createElement("span"); number.className = "num";
    number.textContent = signed ? value.toFixed(3) : (100 * value).toFixed(1) + "%";
    line.append(label, track, number); container.appendChild(line);
  }
  form.addEventListener("submit", function (event) {
    event.preventDefault();
    sessionStorage.setItem("datawheel.playground.key", keyInput.value.trim());
    var error = document.getElementById("pg-error"), result = document.getElementById("pg-prediction");
    error.hidden = true; document.getElementById("pg-empty").hidden = true;
    var body = { rows: [row()] };
    Promise.all([call(form.dataset.predict, body), call(form.dataset.explain, body)]).then(function (both) {
      var prediction = both[0].predictions[0], why = both[1].explanations[0];
      var what = document.getElementById("pg-what"), interval = document.getElementById("pg-interval");
      var probs = document.getElementById("pg-probs"); probs.replaceChildren();
      interval.hidden = true;
      if ("value" in prediction) {  // a regression: the value and its prediction interval
        what.textContent = what.dataset.value;
        document.getElementById("pg-label").textContent = Number(prediction.value).toPrecision(6);
        if (prediction.interval) {
          interval.textContent = fill(interval.dataset.text, {
            low: Number(prediction.interval[0]).toPrecision(6), high: Number(prediction.interval[1]).toPrecision(6)
          });
          interval.hidden = false;
        }
      } else {
        what.textContent = what.dataset.label;
        document.getElementById("pg-label").textContent = prediction.label;
        Object.keys(prediction.probabilities).forEach(function (k) { bar(probs, k, prediction.probabilities[k], 1, false); });
      }
      document.getElementById("pg-version").textContent = fill(form.dataset.model, { version: both[0].model_version });
      var bars = document.getElementById("pg-explain"); bars.replaceChildren();
      var entries = Object.entries(why.values).sort(function (a, b) { return Math.abs(b[1]) - Math.abs(a[1]); });
      var scale = entries.length ? Math.abs(entries[0][1]) : 1;
      entries.forEach(function (e) { bar(bars, e[0], e[1], scale, true); });
      result.hidden = false;
    }).catch(function (e) { error.textContent = e.message; error.hidden = false; result.hidden = true; });
  });
})();
