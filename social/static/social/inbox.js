// Keyboard shortcuts for triage in the social inbox: j / k move between cases, Enter opens the
// focused one (links do that already), / focuses the search box. Ignored while typing.
(function () {
  "use strict";
  function links() { return Array.prototype.slice.call(document.querySelectorAll(".moot-case__link")); }
  document.addEventListener("keydown", function (event) {
    var target = event.target;
    if (event.ctrlKey || event.metaKey || event.altKey) { return; }
    if (target && (target.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(target.tagName))) { return; }
    var all = links();
    var index = all.indexOf(document.activeElement);
    if (event.key === "j" || event.key === "k") {
      if (!all.length) { return; }
      var next = event.key === "j" ? Math.min(index + 1, all.length - 1) : Math.max(index - 1, 0);
      all[next].focus();
      event.preventDefault();
    } else if (event.key === "/") {
      var search = document.getElementById("id_q");
      if (search) { search.focus(); event.preventDefault(); }
    }
  });
})();
