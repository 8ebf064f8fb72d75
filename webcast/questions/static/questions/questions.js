// "Now answering" in step with the video: a viewer whose player runs seconds (or hours) behind
// live sees the question once their video reaches the moment it was taken, not before.
// The banner carries that moment in data-at; the player (webcast/player.js) says what time is
// playing. Without the player, or without JavaScript, the banner simply shows at once.
(function () {
  "use strict";
  function sync() {
    var now = document.getElementById("questions-now");
    var player = window.mootPlayer;
    if (!now) { return; }
    var at = now.dataset.at ? new Date(now.dataset.at) : null;
    var playing = player && player.playingDate ? player.playingDate() : null;
    var waiting = Boolean(at && playing && playing < at);
    if (waiting) { now.dataset.waiting = "true"; } else { delete now.dataset.waiting; }
    now.hidden = waiting;
  }
  document.addEventListener("DOMContentLoaded", function () {
    var video = document.getElementById("moot-video");
    if (video) {
      video.addEventListener("timeupdate", sync);
      video.addEventListener("seeked", sync);
    }
    sync();
  });
  document.body.addEventListener("htmx:oobAfterSwap", sync);

  // A vote refused (rate limit, closed, no longer open) comes back as a 4xx carrying the vote
  // button with the reason under it: show it rather than drop it.
  document.body.addEventListener("htmx:beforeSwap", function (evt) {
    var elt = evt.detail.requestConfig && evt.detail.requestConfig.elt;
    var status = evt.detail.xhr.status;
    if (elt && elt.closest && elt.closest(".moot-question__vote") && status >= 400 && status < 500) {
      evt.detail.shouldSwap = true;
      evt.detail.isError = false;
    }
  });
})();
