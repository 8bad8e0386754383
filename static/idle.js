// Warns two minutes before an idle session ends; "Stay signed in" counts as activity.
(function () {
  var box = document.getElementById("idle-warning");
  if (!box) { return; }
  var warnBefore = 120;
  var endsAt = Date.now() + parseInt(box.dataset.seconds, 10) * 1000;
  function tick() {
    var left = (endsAt - Date.now()) / 1000;
    if (left <= 0) { window.location.assign(box.dataset.expired); return; }
    box.hidden = left > warnBefore;
    window.setTimeout(tick, 1000);
  }
  document.getElementById("idle-stay").addEventListener("click", function () {
    fetch(box.dataset.keepalive, {method: "POST", credentials: "same-origin",
                                  headers: {"X-CSRFToken": box.dataset.csrf}})
      .then(function (r) { return r.json(); })
      .then(function (body) {
        if (body.signed_in) { endsAt = Date.now() + body.idle_seconds * 1000; box.hidden = true; }
        else { window.location.assign(box.dataset.expired); }
      });
  });
  tick();
})();
