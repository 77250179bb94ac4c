// Customer shop enhancements. Every page works without this file: the quantity inputs are plain number
// fields, the forms post normally and the server re-checks everything.
(function () {
  "use strict";
  document.documentElement.classList.add("js");

  // ---- quantity steppers and the running total -------------------------------------------------------
  function formatMoney(minor, symbol, digits) {
    var sign = minor < 0 ? "-" : "";
    var value = Math.abs(minor);
    var scale = Math.pow(10, digits);
    var whole = Math.floor(value / scale).toString().replace(/\B(?=(\d{3})+(?!\d))/g, ",");
    var frac = digits ? "." + String(value % scale).padStart(digits, "0") : "";
    return sign + symbol + whole + frac;
  }

  function clampQty(input, box) {
    var min = parseInt(box.dataset.min, 10) || 1;
    var max = parseInt(box.dataset.max, 10) || 0;
    var n = parseInt(input.value, 10);
    if (isNaN(n) || n <= 0) return 0;
    if (n < min) return min;
    return Math.min(n, max);
  }

  function setupBuyForm(form) {
    var steppers = Array.prototype.slice.call(form.querySelectorAll("[data-stepper]"));
    var total = form.querySelector("[data-total]");
    var symbol = form.dataset.currency || "";
    var digits = parseInt(form.dataset.digits, 10);
    if (isNaN(digits)) digits = 2;

    function refresh() {
      var sum = 0;
      steppers.forEach(function (box) {
        var input = box.querySelector("input");
        var n = parseInt(input.value, 10);
        if (!isNaN(n) && n > 0) sum += n * (parseInt(box.dataset.price, 10) || 0);
        var q = isNaN(n) ? 0 : n;
        var max = parseInt(box.dataset.max, 10) || 0;
        box.querySelector('[data-step="-1"]').setAttribute("aria-disabled", q <= 0 ? "true" : "false");
        box.querySelector('[data-step="1"]').setAttribute("aria-disabled", q >= max ? "true" : "false");
      });
      if (total) total.textContent = formatMoney(sum, symbol, digits);
    }

    steppers.forEach(function (box) {
      var input = box.querySelector("input");
      var min = parseInt(box.dataset.min, 10) || 1;
      var max = parseInt(box.dataset.max, 10) || 0;
      box.querySelectorAll("[data-step]").forEach(function (button) {
        button.hidden = false;
        button.addEventListener("click", function () {
          if (button.getAttribute("aria-disabled") === "true") return;
          var n = parseInt(input.value, 10);
          if (isNaN(n)) n = 0;
          if (button.dataset.step === "1") n = n <= 0 ? min : Math.min(n + 1, max);
          else n = n <= min ? 0 : n - 1;
          input.value = n > 0 ? String(n) : "";
          refresh();
        });
      });
      input.addEventListener("input", refresh);
      input.addEventListener("change", function () {
        if (input.value.trim() === "") return refresh();
        var n = clampQty(input, box);
        input.value = n > 0 ? String(n) : "";
        refresh();
      });
    });
    refresh();
  }

  document.querySelectorAll("[data-buy-form]").forEach(setupBuyForm);

  // ---- one submission per click: the server also refuses a second order for the same form token ------
  document.querySelectorAll("form").forEach(function (form) {
    form.addEventListener("submit", function () {
      var button = form.querySelector("[data-once]");
      if (!button) return;
      if (form.dataset.sent === "1") return;
      form.dataset.sent = "1";
      // Disabled on the next tick, so the browser still sends this submission.
      window.setTimeout(function () {
        button.disabled = true;
        button.setAttribute("aria-busy", "true");
      }, 0);
    });
  });

  // Back/forward cache: a page restored after a submission gets its buttons back.
  window.addEventListener("pageshow", function (event) {
    if (!event.persisted) return;
    document.querySelectorAll("form[data-sent]").forEach(function (form) {
      delete form.dataset.sent;
      var button = form.querySelector("[data-once]");
      if (button) { button.disabled = false; button.removeAttribute("aria-busy"); }
    });
  });

  // ---- error summary gets focus, so screen readers and keyboards start there -----------------------
  var summary = document.getElementById("error-summary");
  if (summary) summary.focus();

  // ---- payment countdown: mm:ss every second, spoken only at 5, 2 and 1 minutes and at the end ---------
  var countdown = document.querySelector("[data-countdown]");
  if (countdown) {
    var left = parseInt(countdown.dataset.secondsLeft, 10) || 0;
    var started = Date.now();
    var mmss = countdown.querySelector("[data-mmss]");
    var live = countdown.querySelector("[data-countdown-live]");
    var said = {};
    var tick = function () {
      var remaining = Math.max(0, left - Math.floor((Date.now() - started) / 1000));
      var m = Math.floor(remaining / 60);
      var s = remaining % 60;
      mmss.textContent = (m < 10 ? "0" : "") + m + ":" + (s < 10 ? "0" : "") + s;
      countdown.classList.toggle("is-low", remaining <= 120);
      [[300, "5"], [120, "2"], [60, "1"], [0, "0"]].forEach(function (pair) {
        if (remaining <= pair[0] && left > pair[0] && !said[pair[1]]) {
          said[pair[1]] = true;
          if (remaining > pair[0] - 5) live.textContent = live.getAttribute("data-msg-" + pair[1]);
        }
      });
      if (remaining <= 0) {
        window.clearInterval(timer);
        window.setTimeout(function () { window.location.reload(); }, 2000);
      }
    };
    var timer = window.setInterval(tick, 1000);
    tick();
  }

  // ---- waiting for the payment's confirmation: one held request, answered when the payment commits --------
  // The server holds status.json up to `wait` seconds while the order is pending; an unchanged answer is asked
  // again at once. If the channel fails (an old proxy, the server busy), fall back to polling with back-off
  // and, after a while, to reloading the page as the no-JavaScript version does.
  var waiting = document.querySelector("[data-wait-url]");
  if (waiting && window.fetch) {
    var url = waiting.getAttribute("data-wait-url");
    var failures = 0;
    var ask = function () {
      window.fetch(url + "?wait=25", { credentials: "same-origin", headers: { Accept: "application/json" } })
        .then(function (res) { return res.ok ? res.json() : Promise.reject(res.status); })
        .then(function (body) {
          failures = 0;
          if (body.status !== "pending") window.location.reload();
          else window.setTimeout(ask, 100);
        })
        .catch(function () {
          failures += 1;
          if (failures > 8) window.location.reload();
          else window.setTimeout(ask, Math.min(500 * Math.pow(1.5, failures), 5000));
        });
    };
    ask();
  }
})();
