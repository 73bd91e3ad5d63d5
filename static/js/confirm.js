// Asks before a form is submitted when the form, or the button that submits it, carries
// data-confirm="…question…". Progressive enhancement: without JavaScript the form submits as before.
(function () {
  "use strict";
  document.addEventListener("submit", function (event) {
    var form = event.target;
    var button = event.submitter;
    var question = (button && button.getAttribute("data-confirm")) || form.getAttribute("data-confirm");
    if (question && !window.confirm(question)) {
      event.preventDefault();
    }
  });
})();
