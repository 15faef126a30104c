// The "blank screen" key (seeds 001/002: screens locked when unattended). On any page with
// pupils' names, Esc or the header button covers the page at once; any key or a click
// brings it back. No framework, no network: this file is the only script.
(function () {
  "use strict";
  if (!document.body || !document.body.dataset.hasNames) return;
  var blank = document.getElementById("blank");
  var button = document.getElementById("blank-button");
  if (!blank) return;
  var shownAt = 0;
  function hide() {
    blank.hidden = false;
    blank.setAttribute("aria-hidden", "false");
    document.title = "Blank";
    shownAt = Date.now();
  }
  function show() {
    blank.hidden = true;
    blank.setAttribute("aria-hidden", "true");
    document.title = document.body.dataset.title || document.title;
  }
  document.body.dataset.title = document.title;
  document.addEventListener("keydown", function (event) {
    if (!blank.hidden) {
      // The key that blanked the screen must not also unblank it.
      if (Date.now() - shownAt > 150) show();
      event.preventDefault();
      return;
    }
    if (event.key === "Escape") {
      hide();
      event.preventDefault();
    }
  });
  blank.addEventListener("click", show);
  if (button) button.addEventListener("click", hide);
})();
