// Live job progress on the case page: polls the job endpoint, reloads when it ends.
(function () {
  "use strict";
  document.addEventListener("DOMContentLoaded", function () {
    var box = document.querySelector("[data-job-url]");
    if (!box) { return; }
    var bar = box.querySelector("progress");
    var label = box.querySelector(".job-status");
    function poll() {
      fetch(box.getAttribute("data-job-url"), { credentials: "same-origin" })
        .then(function (r) { return r.json(); })
        .then(function (job) {
          bar.value = job.progress || 0;
          label.textContent = "Job " + job.id + " (" + job.kind + "): " + job.status +
            (job.error ? " — " + job.error : "");
          if (job.status === "done" || job.status === "failed") {
            if (job.status === "done") {
              var url = new URL(window.location.href);
              url.searchParams.delete("job");
              window.location.replace(url.toString());
            }
            return;
          }
          window.setTimeout(poll, 700);
        })
        .catch(function () { window.setTimeout(poll, 2000); });
    }
    poll();
  });
})();
