/* xietong desk: the one script. It follows a background evaluation (GET /api/jobs/{id} once a
   second) and shows its state and progress; the page works without it (reload to see). */
(function () {
  "use strict";
  var box = document.getElementById("job");
  if (!box) return;
  var url = box.getAttribute("data-url");
  var words = JSON.parse(box.getAttribute("data-words") || "{}");
  var state = document.getElementById("job-state");
  var progress = document.getElementById("job-progress");
  var bar = document.getElementById("job-bar");
  var message = document.getElementById("job-message");
  var next = document.getElementById("job-next");
  function show(job) {
    state.textContent = words[job.state] || job.state;
    state.className = "job-" + job.state;
    box.setAttribute("data-state", job.state);
    var p = job.progress;
    if (p) {
      progress.textContent = p.phase + " " + p.done + (p.total ? "/" + p.total : "") + " " + (p.unit || "");
      if (p.total) { bar.max = p.total; bar.value = p.done; } else { bar.removeAttribute("value"); }
    }
    if (job.state === "done" || job.state === "failed") {
      bar.max = 1; bar.value = 1;
      message.textContent = job.message || "";
      if (job.state === "done") next.hidden = false;
      return true;
    }
    return false;
  }
  function poll() {
    fetch(url, {credentials: "same-origin", headers: {"Accept": "application/json"}})
      .then(function (r) { return r.json(); })
      .then(function (job) { if (!show(job)) setTimeout(poll, 1000); })
      .catch(function () { setTimeout(poll, 3000); });
  }
  var s = box.getAttribute("data-state");
  if (s !== "done" && s !== "failed") poll();
})();
