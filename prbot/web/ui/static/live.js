// Follow a promotion or a run live: the server sends what it is whenever that changes,
// and the page reloads to show it. Without JavaScript the page refreshes itself (runs)
// or is reloaded by hand (promotions).
(function () {
  "use strict";
  var root = document.getElementById("promotion") || document.getElementById("run");
  if (!root || !window.EventSource || root.getAttribute("data-finished") === "yes") { return; }
  var first = null;
  var source = new EventSource(root.getAttribute("data-events"));
  source.onmessage = function (event) {
    var now = event.data;
    if (first === null) { first = now; return; }
    if (now !== first) { source.close(); window.location.reload(); }
  };
})();
