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

  // "Most votes first" lists follow the counts pushed about once a second: questions move up
  // as they gain votes (ties keep their order). Not while the keyboard focus is in the list,
  // so nobody loses their place; the next push catches up.
  var pending = null;
  function reorder() {
    pending = null;
    document.querySelectorAll("ol[id^='questions-top-']").forEach(function (list) {
      if (list.contains(document.activeElement)) { return; }
      var items = Array.prototype.slice.call(list.querySelectorAll(":scope > li[id^='question-']"));
      var count = function (li) {
        var span = li.querySelector(".moot-question__count");
        return span ? parseInt(span.dataset.count, 10) || 0 : 0;
      };
      var sorted = items.map(function (li, i) { return { li: li, i: i, n: count(li) }; })
        .sort(function (a, b) { return b.n - a.n || a.i - b.i; });
      var moved = sorted.some(function (entry, i) { return entry.li !== items[i]; });
      if (moved) { sorted.forEach(function (entry) { list.appendChild(entry.li); }); }
    });
  }
  document.body.addEventListener("htmx:oobAfterSwap", function (evt) {
    var target = evt.detail && evt.detail.target;
    if (target && /^question-\d+-votes$/.test(target.id || "") && !pending) {
      pending = setTimeout(reorder, 50);
    }
  });

  // A vote refused (rate limit, closed, no longer open) comes back as a 4xx carrying the vote
  // button with the reason under it; a moderator's or the chair's action refused (someone acted
  // first, the meeting is not live) comes back as the page with the reason on top: show them
  // rather than drop them.
  document.body.addEventListener("htmx:beforeSwap", function (evt) {
    var elt = evt.detail.requestConfig && evt.detail.requestConfig.elt;
    var status = evt.detail.xhr.status;
    var refusable = elt && elt.closest && elt.closest(".moot-question__vote, form.moot-act");
    if (refusable && status >= 400 && status < 500) {
      evt.detail.shouldSwap = true;
      evt.detail.isError = false;
    }
  });
})();
