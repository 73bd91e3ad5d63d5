// A form sent back with errors (issue 19: every action's message in view after it). On load, focus moves to
// the first invalid field, and the field with its message is scrolled to the middle of the window: on a
// 390 px phone the first error may be far below the fold. With no invalid field, a form-level error alert
// (.alert-danger[role=alert]) is scrolled into view when it is not. A page without errors is left alone:
// focus stays where the browser put it. Progressive enhancement: without JavaScript the page is the same, its
// errors beside their fields.
(function () {
  "use strict";

  function inView(element) {
    var box = element.getBoundingClientRect();
    return box.top >= 0 && box.bottom <= (window.innerHeight || document.documentElement.clientHeight);
  }

  function show(element) {
    if (!inView(element)) {
      element.scrollIntoView({block: "center"});
    }
  }

  function start() {
    // .is-invalid too: a few hand-written fields (a search box, a consent checkbox) carry only the class.
    var invalid = document.querySelectorAll("main [aria-invalid=\"true\"], main .is-invalid");
    var field = null;
    for (var i = 0; i < invalid.length && !field; i++) {
      // Not one hidden (a kind kept as a hidden select when a declaration is edited): it cannot take the focus.
      if (invalid[i].getClientRects().length) {
        field = invalid[i];
      }
    }
    if (field) {
      // preventScroll: focus() alone would bring the field to the window's edge, its message below it unseen.
      field.focus({preventScroll: true});
      // The smallest box holding the field and its message (aria-describedby's first id: the error), else the
      // field's wrapper.
      var message = document.getElementById((field.getAttribute("aria-describedby") || "").split(" ")[0]);
      var around = message ? field.parentElement : field.closest(".mb-3, .form-check, td");
      while (message && around && !around.contains(message)) {
        around = around.parentElement;
      }
      // A box taller than most of the window cannot be shown whole: then the message, which is what to read.
      show(around && around.offsetHeight < window.innerHeight * 0.8 ? around : (message || field));
      return;
    }
    var alert = document.querySelector("main .alert-danger[role=\"alert\"]");
    if (alert) {
      show(alert);
    }
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
