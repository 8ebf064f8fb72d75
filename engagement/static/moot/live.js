// Real-time streams over the htmx ws extension (see engagement/realtime/consumers.py).
// The page renders <span hidden id="moot-seq-..." data-moot-stream data-moot-seq> markers;
// every pushed fragment replaces its stream's marker out of band; other parts of the fragment
// carry their own hx-swap-oob targets. On (re)connect we send the
// last number we hold for each stream, and the server replays what we missed from the database.
(function () {
  "use strict";
  function markers(root) {
    return root.querySelectorAll("[data-moot-stream][data-moot-seq]");
  }
  document.body.addEventListener("htmx:wsOpen", function (evt) {
    var socket = evt.detail.socketWrapper;
    markers(evt.detail.elt).forEach(function (marker) {
      socket.send(JSON.stringify({
        type: "resume",
        stream: marker.dataset.mootStream,
        after: parseInt(marker.dataset.mootSeq, 10) || 0
      }));
    });
  });
  document.body.addEventListener("htmx:wsBeforeMessage", function (evt) {
    var message = evt.detail.message;
    if (message.indexOf("data-moot-reload") !== -1) {
      evt.preventDefault();
      window.location.reload();
      return;
    }
    var match = /data-moot-stream="([^"]+)" data-moot-seq="(\d+)"/.exec(message);
    if (!match) { return; }
    var current = document.getElementById("moot-seq-" + match[1].replace(/\./g, "-"));
    evt.preventDefault();
    if (current && parseInt(current.dataset.mootSeq, 10) >= parseInt(match[2], 10)) {
      return;  // already applied (a replay overlapping a live message)
    }
    // Apply it through htmx's own out-of-band swap, which (unlike the ws extension's loop)
    // also unwraps <template> so table rows survive HTML parsing.
    window.htmx.swap(document.body, message, { swapStyle: "none" });
  });
})();
