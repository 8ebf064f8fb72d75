// Real-time streams over the htmx ws extension (see engagement/realtime/consumers.py).
// The page renders <span hidden id="moot-seq-..." data-moot-stream data-moot-seq> markers;
// every pushed fragment replaces its stream's marker out of band; other parts of the fragment
// carry their own hx-swap-oob targets. On (re)connect we send the
// last number we hold for each stream, and the server replays what we missed from the database.
// Messages are applied in order: one that arrives ahead of a missing number waits a moment for
// it (two servers can send neighbouring events in either order); if it is still missing, we ask
// the server to replay from the last number we applied.
(function () {
  "use strict";
  var GAP_WAIT_MS = 1500;
  var MARKER = /data-moot-stream="([^"]+)" data-moot-seq="(\d+)"/;
  var waiting = {};  // stream -> {seq: message} arrived ahead of a missing number
  var timers = {};   // stream -> timer asking for a replay
  var sockets = {};  // stream -> the socket wrapper it arrives on

  function markers(root) {
    return root.querySelectorAll("[data-moot-stream][data-moot-seq]");
  }
  function markerOf(stream) {
    return document.getElementById("moot-seq-" + stream.replace(/\./g, "-"));
  }
  function applied(stream) {
    var marker = markerOf(stream);
    return marker ? parseInt(marker.dataset.mootSeq, 10) || 0 : 0;
  }
  function resume(socket, stream) {
    socket.send(JSON.stringify({ type: "resume", stream: stream, after: applied(stream) }));
  }
  function apply(message) {
    // Through htmx's own out-of-band swap, which (unlike the ws extension's loop) also
    // unwraps <template> so table rows survive HTML parsing.
    window.htmx.swap(document.body, message, { swapStyle: "none" });
  }
  function drain(stream) {
    var held = waiting[stream] || {};
    var next = applied(stream) + 1;
    while (held[next] !== undefined) {
      var message = held[next];
      delete held[next];
      apply(message);
      next = applied(stream) + 1;
    }
    Object.keys(held).forEach(function (seq) {
      if (parseInt(seq, 10) < next) { delete held[seq]; }
    });
    if (Object.keys(held).length === 0) {
      clearTimeout(timers[stream]);
      delete timers[stream];
    } else if (!timers[stream]) {
      timers[stream] = setTimeout(function () {
        delete timers[stream];
        if (Object.keys(waiting[stream] || {}).length && sockets[stream]) {
          resume(sockets[stream], stream);
        }
      }, GAP_WAIT_MS);
    }
  }

  document.body.addEventListener("htmx:wsOpen", function (evt) {
    var socket = evt.detail.socketWrapper;
    markers(evt.detail.elt).forEach(function (marker) {
      sockets[marker.dataset.mootStream] = socket;
      resume(socket, marker.dataset.mootStream);
    });
  });
  document.body.addEventListener("htmx:wsBeforeMessage", function (evt) {
    var message = evt.detail.message;
    if (message.indexOf("data-moot-reload") !== -1) {
      evt.preventDefault();
      window.location.reload();
      return;
    }
    // A frame may carry several messages (a busy server batches what waits for a viewer),
    // each starting with its marker.
    var parts = message.split(/(?=<span hidden id="moot-seq-)/);
    if (!MARKER.test(message)) { return; }
    evt.preventDefault();
    parts.forEach(receive);
  });

  function receive(message) {
    var match = MARKER.exec(message);
    if (!match) {
      apply(message);
      return;
    }
    var stream = match[1];
    var seq = parseInt(match[2], 10);
    if (!markerOf(stream)) {
      apply(message);  // a marker this page does not show: nothing to order against
      return;
    }
    if (seq <= applied(stream)) {
      return;  // already applied (a replay overlapping a live message)
    }
    (waiting[stream] = waiting[stream] || {})[seq] = message;
    drain(stream);
  }
})();
