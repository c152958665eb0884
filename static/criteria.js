// criteria.js: the mapping page's live filter: hides criteria (and empty outcomes
// and units) that do not match what is typed (without it the filter form reloads
// the page with ?q=, which the server applies), and keeps the "N of M ticked"
// count current as boxes are ticked.
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
  // Ticking a box opens its note (CSS does that without this script too) and
  // updates the count; focus stays on the box, so a phone keeps its keyboard shut.
  var count = document.querySelector('[data-checked-count]');
  function recount() {
    if (!count) return;
    count.textContent = String(document.querySelectorAll('[data-criterion] input[type=checkbox]:checked').length +
      document.querySelectorAll('form.criteria-form > input[type=hidden][name=criterion]').length);
  }
  rows.forEach(function (row) {
    var cb = row.querySelector('input[type=checkbox]');
    if (!cb) return;
    cb.addEventListener('change', function () {
      row.classList.toggle('criterion--checked', cb.checked);
      recount();
    });
  });
})();
