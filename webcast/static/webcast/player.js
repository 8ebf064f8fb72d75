// The webcast player: hls.js where Media Source Extensions exist, native HLS on Safari.
// The agenda follows what *this viewer* is watching: each "now on item" mark has a wall-clock
// time, and every HLS segment carries EXT-X-PROGRAM-DATE-TIME, so the item under discussion is
// the last mark at or before the playing position's program date time (seconds behind live,
// or hours behind when watching back). Without this file the page still has the agenda,
// documents and a link to the stream.
(function () {
  "use strict";
  var video = document.getElementById("moot-video");
  if (!video) { return; }
  var source = video.dataset.hls;
  var state = document.getElementById("moot-player-state");
  var hls = null;

  if (window.Hls && window.Hls.isSupported()) {
    hls = new window.Hls({ enableWorker: false, liveSyncDurationCount: 3 });
    hls.loadSource(source);
    hls.attachMedia(video);
    hls.on(window.Hls.Events.ERROR, function (event, data) {
      if (data.fatal && state) { state.textContent = state.dataset.error; }
    });
  } else if (video.canPlayType("application/vnd.apple.mpegurl")) {
    video.src = source;
  }

  function playingDate() {
    if (hls && hls.playingDate) { return hls.playingDate; }
    if (typeof video.getStartDate === "function") {
      var start = video.getStartDate();
      if (start && !isNaN(start.getTime())) { return new Date(start.getTime() + video.currentTime * 1000); }
    }
    return null;
  }

  function currentItem(at) {
    var agenda = document.getElementById("agenda");
    var timeline = JSON.parse((agenda && agenda.dataset.timeline) || "[]");
    var item = null;
    timeline.forEach(function (mark) { if (new Date(mark.at) <= at) { item = String(mark.item); } });
    return item;
  }

  function highlight() {
    var at = playingDate();
    var agenda = document.getElementById("agenda");
    if (!at || !agenda) { return; }
    var item = currentItem(at);
    agenda.querySelectorAll("[data-item]").forEach(function (li) {
      var on = li.dataset.item === item;
      li.classList.toggle("moot-agenda__item--current", on);
      if (on) { li.setAttribute("aria-current", "true"); } else { li.removeAttribute("aria-current"); }
      var tag = li.querySelector(".moot-now");
      if (tag) { tag.hidden = !on; }
    });
    agenda.dataset.playing = item || "";
  }
  video.addEventListener("timeupdate", highlight);
  video.addEventListener("seeked", highlight);
  document.body.addEventListener("htmx:oobAfterSwap", highlight);

  // "Watch from" links: seek to the mark's program date time instead of reloading the page.
  function seekTo(iso) {
    var target = new Date(iso).getTime();
    var now = playingDate();
    if (!now) { return false; }
    video.currentTime = Math.max(0, video.currentTime + (target - now.getTime()) / 1000);
    video.play().catch(function () {});
    return true;
  }
  document.addEventListener("click", function (evt) {
    var link = evt.target.closest && evt.target.closest("a.moot-jump");
    if (link && seekTo(link.dataset.at)) {
      evt.preventDefault();
      video.focus();
    }
  });
  // ?t=<unix seconds> in the URL: start there once the stream knows its dates.
  var wanted = new URLSearchParams(window.location.search).get("t");
  if (wanted && /^\d+$/.test(wanted)) {
    var once = function () {
      if (seekTo(new Date(parseInt(wanted, 10) * 1000).toISOString())) {
        video.removeEventListener("loadeddata", once);
      }
    };
    video.addEventListener("loadeddata", once);
  }
  // While playing live, say so every 20 s (the control room's viewer count). No cookies, no
  // address kept: a random token for this tab.
  if (video.dataset.watching) {
    var token = sessionStorage.getItem("moot-viewer");
    if (!token) {
      var bytes = new Uint8Array(16);
      crypto.getRandomValues(bytes);
      token = Array.from(bytes, function (b) { return ("0" + b.toString(16)).slice(-2); }).join("");
      sessionStorage.setItem("moot-viewer", token);
    }
    var headers = JSON.parse(document.body.dataset.hxHeaders || "{}");
    var beat = function () {
      if (video.paused) { return; }
      var body = new URLSearchParams({ viewer: token });
      fetch(video.dataset.watching, { method: "POST", body: body, headers: headers, credentials: "same-origin" })
        .catch(function () {});
    };
    video.addEventListener("playing", beat);
    setInterval(beat, 20000);
  }
  window.mootPlayer = { video: video, playingDate: playingDate, highlight: highlight, seekTo: seekTo };
})();
