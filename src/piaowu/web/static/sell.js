// Box-office sale: the total to ask for, and the change due, while the clerk types. The page works without
// this file (the server computes both after "sell"); it never decides anything.
(function () {
  "use strict";
  // The day strip scrolls sideways on a phone: bring the day shown into view.
  var day = document.querySelector(".day-strip [aria-current]");
  if (day && day.scrollIntoView) day.scrollIntoView({ block: "nearest", inline: "center" });
  var form = document.querySelector("[data-sell-form]");
  if (!form) return;
  var money = new Intl.NumberFormat(document.documentElement.lang || "zh-CN", {
    style: "currency", currency: form.dataset.currency || "CNY", currencyDisplay: "narrowSymbol",
  });
  var scale = Math.pow(10, money.resolvedOptions().maximumFractionDigits);
  var total = form.querySelector("[data-total]");
  var change = form.querySelector("[data-change]");
  var tendered = form.querySelector("[name=tendered]");
  var method = form.querySelector("[name=method]");

  function refresh() {
    var sum = 0;
    form.querySelectorAll("input[data-price]").forEach(function (input) {
      var n = parseInt(input.value, 10);
      if (n > 0) sum += n * parseInt(input.dataset.price, 10);
    });
    // Seats picked on the map (seatstaff.js): each at its zone's price for the ticket type chosen for it.
    form.querySelectorAll("select[data-seat-type]").forEach(function (select) {
      var option = select.options[select.selectedIndex];
      if (option) sum += parseInt(option.dataset.price, 10);
    });
    total.textContent = money.format(sum / scale);
    var given = Math.round(parseFloat((tendered.value || "").replace(/,/g, "")) * scale);
    var due = given - sum;
    change.hidden = !(method.value === "cash" && sum > 0 && due > 0);
    if (!change.hidden) change.textContent = change.dataset.template.replace("{amount}", money.format(due / scale));
  }

  form.addEventListener("input", refresh);
  form.addEventListener("change", refresh);
  refresh();
})();
