// The accept form's figures, live: as the SME picks a voucher or types an amount, ask the
// server for the split (the same computation as the "show the amounts" step, which works
// without this script) and show it. The server stays the only place the rule lives.
(function () {
  "use strict";
  var form = document.querySelector("form[data-accept-preview]");
  if (!form) { return; }
  var box = form.querySelector("[data-testid=split]");
  if (!box) { return; }
  var voucher = form.querySelector("select[name=voucher_id]");
  var requested = form.querySelector("input[name=requested]");
  var timer = null;
  var previewButton = form.querySelector("[data-preview-button]");
  if (previewButton) { previewButton.hidden = true; }
  function refresh() {
    var query = new URLSearchParams({
      voucher_id: voucher ? voucher.value : "",
      requested: requested ? requested.value : ""
    });
    fetch(form.getAttribute("data-accept-preview") + "?" + query.toString(), {
      headers: { "Accept": "application/json" }, credentials: "same-origin"
    }).then(function (response) {
      return response.json();
    }).then(function (data) {
      if (data.error) {
        box.querySelector("[data-field=why]").textContent = data.error;
        return;
      }
      ["voucher", "copay", "remaining_after", "why"].forEach(function (name) {
        var cell = box.querySelector("[data-field=" + name + "]");
        if (!cell) { return; }
        var strong = cell.querySelector("strong");
        (strong || cell).textContent = data[name];
      });
    }).catch(function () {
      if (previewButton) { previewButton.hidden = false; }
    });
  }
  function later() { window.clearTimeout(timer); timer = window.setTimeout(refresh, 250); }
  if (voucher) { voucher.addEventListener("change", refresh); }
  if (requested) { requested.addEventListener("input", later); }
})();
