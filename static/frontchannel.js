// Front-channel logout: once every site's logout page has loaded (or after 3 s), continue.
(function () {
  var frames = document.querySelectorAll("iframe.frontchannel");
  var next = document.getElementById("continue");
  if (!next) { return; }
  var left = frames.length;
  function go() { window.location.assign(next.href); }
  if (!left) { go(); return; }
  frames.forEach(function (frame) { frame.addEventListener("load", function () { if (--left === 0) { go(); } }); });
  window.setTimeout(go, 3000);
})();
