// Follow a promotion live: the server sends its version whenever it changes, and the
// page reloads to show it. Without JavaScript the page is simply reloaded by hand.
(function () {
  "use strict";
  var root = document.getElementById("promotion");
  if (!root || !window.EventSource) { return; }
  var first = null;
  var source = new EventSource(root.getAttribute("data-events"));
  source.onmessage = function (event) {
    var version = JSON.parse(event.data).version;
    if (first === null) { first = version; return; }
    if (version !== first) { source.close(); window.location.reload(); }
  };
})();
