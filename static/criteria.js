// criteria.js: the mapping page's live filter: hides criteria (and empty outcomes
// and units) that do not match what is typed. Without it the filter form reloads
// the page with ?q=, which the server applies.
(function () {
  'use strict';
  var box = document.querySelector('[data-criteria-filter]');
  if (!box) return;
  var rows = Array.prototype.slice.call(document.querySelectorAll('[data-criterion]'));
  function apply() {
    var q = box.value.trim().toLowerCase();
    rows.forEach(function (row) {
      var text = (row.getAttribute('data-text') || '').toLowerCase();
      row.hidden = q !== '' && text.indexOf(q) < 0;
    });
    ['[data-criteria-outcome]', '[data-criteria-unit]'].forEach(function (sel) {
      Array.prototype.forEach.call(document.querySelectorAll(sel), function (group) {
        group.hidden = !group.querySelector('[data-criterion]:not([hidden])');
      });
    });
  }
  box.addEventListener('input', apply);
  // Ticking a box opens its note; the page works the same without this.
  rows.forEach(function (row) {
    var cb = row.querySelector('input[type=checkbox]');
    if (!cb) return;
    cb.addEventListener('change', function () {
      row.classList.toggle('criterion--checked', cb.checked);
      if (cb.checked) {
        var note = row.querySelector('textarea');
        if (note) note.focus();
      }
    });
  });
})();
