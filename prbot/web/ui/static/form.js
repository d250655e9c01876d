// The catalog's live parts; everything works without them (the server checks it all).
// - Fields with a condition are shown only while it holds (and disabled when hidden, so
//   the browser does not send them), following the server's rule: eq, not, prefix,
//   suffix, gt, lt, gte, lte on the other field's current value.
// - Each field says what is wrong as one types (the browser's own checks: required,
//   pattern, number), beside the field.
// - The catalog's search filters the cards as one types.
(function () {
  "use strict";

  function valueOf(name) {
    var box = document.getElementById("f-" + name);
    if (!box) { return null; }
    if (box.type === "checkbox") { return box.checked; }
    if (box.disabled) { return null; }
    return box.value === "" ? null : box.value;
  }

  function holds(op, wanted, isNull, value) {
    if (op === "not") {
      if (isNull) { return !value; }
      return String(value) !== wanted;
    }
    if (value === null || value === undefined) { return false; }
    var text = String(value);
    if (op === "eq") { return text === wanted; }
    if (op === "prefix") { return text.indexOf(wanted) === 0; }
    if (op === "suffix") { return text.slice(-wanted.length) === wanted; }
    var left = parseFloat(text), right = parseFloat(wanted);
    if (isNaN(left) || isNaN(right)) { return false; }
    return { gt: left > right, lt: left < right, gte: left >= right, lte: left <= right }[op];
  }

  function refresh() {
    // twice: a field may depend on a field that depends on another
    for (var pass = 0; pass < 2; pass++) {
      document.querySelectorAll("[data-when-field]").forEach(function (field) {
        var other = field.getAttribute("data-when-field");
        var shown = holds(field.getAttribute("data-when-op"), field.getAttribute("data-when-value"),
          field.getAttribute("data-when-null") === "yes", valueOf(other));
        var gate = document.querySelector('[data-field="' + other + '"]');
        if (gate && gate.hidden) { shown = false; }
        field.hidden = !shown;
        var needed = shown && field.getAttribute("data-required-when-shown") === "yes";
        field.querySelectorAll("input, select, textarea").forEach(function (box) {
          box.disabled = !shown;
          box.required = needed;
        });
      });
    }
  }

  // the inputs' patterns are RE2 as the server checks them; a browser's pattern
  // attribute reads them in its own stricter mode, so they are checked here instead
  function patternOk(box) {
    var pattern = box.getAttribute("data-pattern");
    if (!pattern || box.value === "") { return true; }
    try { return new RegExp(pattern, "u").test(box.value); } catch (e) { return true; }
  }

  function check(box) {
    if (!box.setCustomValidity) { return; }
    box.setCustomValidity(patternOk(box) ? "" : "does not match the pattern this field needs");
    var field = box.closest("[data-field]");
    if (!field) { return; }
    var error = document.getElementById("e-" + field.getAttribute("data-field"));
    if (!error) { return; }
    error.textContent = box.validity.valid ? "" : box.validationMessage;
    error.hidden = box.validity.valid;
  }

  var form = document.getElementById("automation-form");
  if (form) {
    form.addEventListener("input", function (event) { refresh(); check(event.target); });
    form.addEventListener("change", function (event) { refresh(); check(event.target); });
    form.querySelectorAll("[data-pattern]").forEach(function (box) {
      box.setCustomValidity(patternOk(box) ? "" : "does not match the pattern this field needs");
    });
    refresh();
  }

  var search = document.querySelector('form.search input[type="search"]');
  if (search) {
    search.addEventListener("input", function () {
      var q = search.value.toLowerCase();
      document.querySelectorAll("a.card").forEach(function (card) {
        card.hidden = q !== "" && card.getAttribute("data-search").indexOf(q) < 0;
      });
    });
  }
})();
