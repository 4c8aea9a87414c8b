// The progress bar of a background job: poll the job's status until it has finished, then
// reload the page, which the server renders with the outcome and the per-row report.
// Without JavaScript the page offers a refresh link instead.
(function () {
  "use strict";
  var panel = document.querySelector("[data-job-status-url]");
  if (!panel || panel.getAttribute("data-finished") === "true") { return; }
  var url = panel.getAttribute("data-job-status-url");
  var bar = panel.querySelector("progress");
  var count = panel.querySelector("[data-testid=job-count]");
  var badge = panel.querySelector("[data-testid=job-status]");
  var delay = 500;

  function poll() {
    fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (response) { return response.ok ? response.json() : null; })
      .then(function (job) {
        if (!job) { window.setTimeout(poll, 3000); return; }  // a hiccup: ask again later
        if (job.total) {
          bar.value = job.percent;
          bar.textContent = job.percent + "%";
          count.textContent = job.done + " / " + job.total;
        } else {
          count.textContent = String(job.done);
        }
        badge.textContent = job.status_label;
        if (job.finished) { window.location.reload(); return; }
        delay = Math.min(delay * 1.5, 3000);
        window.setTimeout(poll, delay);
      })
      .catch(function () { window.setTimeout(poll, 3000); });
  }
  window.setTimeout(poll, delay);
})();
