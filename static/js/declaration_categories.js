// The declaration form: only the categories the chosen kind may be declared as are offered. Each option of
// the kind select names its categories (data-categories="public professional", from the rules in force for
// the learner); the others are hidden and disabled, and a category the kind cannot have gives way to the
// first it can. Progressive enhancement: without JavaScript every category is offered and the server refuses
// a wrong one beside the field.
(function () {
  "use strict";
  var form = document.querySelector("form[data-declaration-form]");
  if (!form) {
    return;
  }
  var kind = form.querySelector("select[name=kind]");
  var category = form.querySelector("select[name=category]");
  if (!kind || !category) {
    return;
  }

  function offer() {
    var chosen = kind.options[kind.selectedIndex];
    var names = chosen && chosen.getAttribute("data-categories");
    if (names === null || names === undefined) {
      return; // nothing said about this kind: leave every category to the server's judgement
    }
    var allowed = names.split(" ").filter(Boolean);
    var first = null;
    Array.prototype.forEach.call(category.options, function (option) {
      var ok = allowed.indexOf(option.value) !== -1;
      option.disabled = !ok;
      option.hidden = !ok;
      if (ok && first === null) {
        first = option;
      }
    });
    var current = category.options[category.selectedIndex];
    if ((!current || current.disabled) && first !== null) {
      category.value = first.value;
    }
  }

  kind.addEventListener("change", offer);
  offer();
})();
