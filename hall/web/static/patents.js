/* Patent lookup (LS-3): choosing a match fills the listing form.
 *
 * GET /patents/lookup (hall/web/patents.py, which says how a form wires it) answers a list of
 * buttons, each carrying its patent as JSON in data-patent. A click on one sets each field of
 * the form whose name is a key of that JSON: the button's own form, or the form whose id the
 * nearest data-patent-form attribute names (for a list placed outside the form). Each field
 * filled gets a "change" event (not "input": that would start a new lookup); then the list is
 * removed and the form gets a "patent:picked" event whose detail is the patent.
 */
(function () {
  "use strict";

  function formOf(button) {
    var form = button.closest("form");
    if (form) {
      return form;
    }
    var holder = button.closest("[data-patent-form]");
    return holder ? document.getElementById(holder.getAttribute("data-patent-form")) : null;
  }

  document.addEventListener("click", function (event) {
    var button = event.target instanceof Element ? event.target.closest("button[data-patent]") : null;
    if (!button) {
      return;
    }
    event.preventDefault();
    var form = formOf(button);
    var patent;
    try {
      patent = JSON.parse(button.getAttribute("data-patent"));
    } catch (e) {
      return;
    }
    if (!form || patent === null || typeof patent !== "object") {
      return;
    }
    Object.keys(patent).forEach(function (name) {
      var field = form.elements.namedItem(name);
      if (field && "value" in field) {
        field.value = patent[name] === null ? "" : String(patent[name]);
        var target = field instanceof RadioNodeList ? field[0] : field;
        target.dispatchEvent(new Event("change", { bubbles: true }));
      }
    });
    var results = button.closest("[data-patent-results]");
    if (results) {
      results.remove();
    }
    form.dispatchEvent(new CustomEvent("patent:picked", { bubbles: true, detail: patent }));
  });
})();
