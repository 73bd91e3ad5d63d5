// Asks before a form is submitted when the form, or the button that submits it, carries
// data-confirm="…question…". Progressive enhancement: without JavaScript the form submits as before.
(function () {
  "use strict";
  // Safari before 15.4 has no event.submitter: the submit button last clicked stands in for it, so that a
  // button's own question (驳回 beside 批准) is still asked. A click on the button, by mouse, Enter or Space,
  // and the implicit submission of Enter in a text field (which clicks the default button) all pass here.
  var clicked = null;
  document.addEventListener("click", function (event) {
    var target = event.target;
    var button = target && target.closest ? target.closest("button, input[type=submit], input[type=image]") : null;
    clicked = button && button.form && (button.type === "submit" || button.type === "image") ? button : null;
  }, true);
  document.addEventListener("submit", function (event) {
    var form = event.target;
    var button = "submitter" in event ? event.submitter : (clicked && clicked.form === form ? clicked : null);
    clicked = null;
    var question = (button && button.getAttribute("data-confirm")) || form.getAttribute("data-confirm");
    if (question && !window.confirm(question)) {
      event.preventDefault();
    }
  });
})();
