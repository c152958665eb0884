// upload.js: the evidence forms' enhancement: several files by drag and drop, sent
// with XMLHttpRequest to the JSON API with a progress bar per file, the native file
// control replaced by a "Choose files" button beside the list. Without it (or without
// JavaScript) the same forms post as plain multipart forms.
(function () {
  'use strict';
  var form = document.querySelector('form[data-upload-form]');
  if (!form || !window.FormData || !window.XMLHttpRequest || !('files' in document.createElement('input'))) {
    return;
  }
  var input = form.querySelector('input[type=file][name=file]');
  var zone = form.querySelector('[data-dropzone]');
  var list = form.querySelector('[data-upload-list]');
  var submit = form.querySelector('[data-upload-submit]');
  var summary = document.querySelector('[data-upload-summary]');
  var chosen = []; // File objects, in the order they will be sent
  var busy = false;

  function humanSize(n) {
    if (n < 1024) return n + ' bytes';
    if (n < 1048576) return (n / 1024).toFixed(1) + ' KB';
    if (n < 1073741824) return (n / 1048576).toFixed(1) + ' MB';
    return (n / 1073741824).toFixed(2) + ' GB';
  }

  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined) e.textContent = text;
    return e;
  }

  function render() {
    list.textContent = '';
    chosen.forEach(function (f, i) {
      var li = el('li', 'upload-item');
      var name = el('span', 'upload-item__name', f.name);
      var size = el('span', 'upload-item__size muted', ' (' + humanSize(f.size) + ')');
      var bar = el('progress', 'upload-item__bar');
      bar.max = 100;
      bar.value = 0;
      bar.setAttribute('aria-label', 'Upload of ' + f.name);
      var pct = el('span', 'upload-item__pct muted', '');
      var rm = el('button', 'link-button upload-item__remove', 'Remove');
      rm.type = 'button';
      rm.setAttribute('aria-label', 'Remove ' + f.name);
      rm.addEventListener('click', function () {
        if (busy) return;
        chosen.splice(i, 1);
        render();
      });
      li.appendChild(name);
      li.appendChild(size);
      li.appendChild(bar);
      li.appendChild(pct);
      li.appendChild(rm);
      f._bar = bar;
      f._pct = pct;
      list.appendChild(li);
    });
  }

  // Files over the server's limit are refused here, before any byte is sent.
  function add(files) {
    var maxBytes = Number(form.getAttribute('data-max-bytes')) || 0;
    var tooBig = [];
    for (var i = 0; i < files.length; i++) {
      if (maxBytes && files[i].size > maxBytes) tooBig.push(files[i]);
      else chosen.push(files[i]);
    }
    render();
    if (tooBig.length) {
      showErrors('Some files are too large.', tooBig.map(function (f) {
        return {field: 'file', message: f.name + ' is ' + humanSize(f.size) + ': the limit is ' +
          humanSize(maxBytes) + ' for each file'};
      }));
    }
  }

  // Once the script keeps the list of files, the native control's own words
  // ("No file chosen") would contradict it: hide the control and offer a
  // button that opens the same picker.
  var pick = el('button', 'button button--secondary button--small upload-pick', 'Choose files');
  pick.type = 'button';
  pick.setAttribute('aria-describedby', input.getAttribute('aria-describedby') || '');
  pick.addEventListener('click', function () { input.click(); });
  input.classList.add('file-input--taken');
  input.setAttribute('tabindex', '-1');
  input.setAttribute('aria-hidden', 'true');
  input.parentNode.insertBefore(pick, input);

  // The file input: what is picked joins the list (so several picks add up).
  input.addEventListener('change', function () {
    add(input.files);
    input.value = '';
  });

  if (zone) {
    zone.classList.add('dropzone--enhanced');
    ['dragenter', 'dragover'].forEach(function (t) {
      zone.addEventListener(t, function (e) {
        e.preventDefault();
        zone.classList.add('dropzone--active');
      });
    });
    ['dragleave', 'drop'].forEach(function (t) {
      zone.addEventListener(t, function (e) {
        e.preventDefault();
        zone.classList.remove('dropzone--active');
      });
    });
    zone.addEventListener('drop', function (e) {
      if (e.dataTransfer && e.dataTransfer.files) add(e.dataTransfer.files);
    });
  }

  function showErrors(message, errors) {
    if (!summary) {
      window.alert(message);
      return;
    }
    summary.textContent = '';
    summary.className = 'error-summary';
    summary.setAttribute('role', 'alert');
    summary.setAttribute('tabindex', '-1');
    summary.appendChild(el('h2', 'error-summary__title', 'There is a problem'));
    summary.appendChild(el('p', '', message));
    if (errors && errors.length) {
      var ul = el('ul', 'error-summary__list');
      errors.forEach(function (er) {
        var li = el('li');
        var a = el('a', '', er.message);
        a.href = '#' + (er.field || 'title');
        li.appendChild(a);
        ul.appendChild(li);
      });
      summary.appendChild(ul);
    }
    summary.hidden = false;
    summary.focus();
  }

  function setProgress(loaded) {
    // Fields come first in the body, then the files in order; share out the
    // file bytes received so far.
    chosen.forEach(function (f) {
      var got = Math.max(0, Math.min(f.size, loaded));
      loaded -= f.size;
      var p = f.size ? Math.floor((got * 100) / f.size) : 100;
      if (f._bar) f._bar.value = p;
      if (f._pct) f._pct.textContent = ' ' + p + '%';
    });
  }

  form.addEventListener('submit', function (e) {
    e.preventDefault();
    if (busy) return;
    var fd = new FormData();
    var csrf = '';
    Array.prototype.forEach.call(form.elements, function (f) {
      if (!f.name || f.disabled || f.type === 'file' || f.type === 'submit') return;
      if ((f.type === 'checkbox' || f.type === 'radio') && !f.checked) return;
      if (f.name === 'csrf_token') csrf = f.value;
      fd.append(f.name, f.value);
    });
    var total = 0;
    chosen.forEach(function (f) {
      fd.append('file', f, f.name);
      total += f.size;
    });
    var xhr = new XMLHttpRequest();
    xhr.open('POST', form.getAttribute('data-api'));
    xhr.setRequestHeader('X-CSRF-Token', csrf);
    xhr.setRequestHeader('Accept', 'application/json');
    xhr.upload.addEventListener('progress', function (ev) {
      if (!ev.lengthComputable) return;
      var overhead = Math.max(0, ev.total - total);
      setProgress(ev.loaded - overhead);
    });
    xhr.addEventListener('load', function () {
      busy = false;
      submit.disabled = false;
      var data = null;
      try { data = JSON.parse(xhr.responseText); } catch (err) { data = null; }
      if (xhr.status >= 200 && xhr.status < 300 && data) {
        setProgress(Number.MAX_SAFE_INTEGER);
        // The page after it confirms what was done (pages.c's ?done= banners).
        var next = data.next_url || data.url || '/evidence';
        var done = form.getAttribute('data-done');
        if (done) next += (next.indexOf('?') < 0 ? '?' : '&') + 'done=' + encodeURIComponent(done);
        window.location.assign(next);
        return;
      }
      var msg = data && data.error ? data.error.message : 'The upload failed (HTTP ' + xhr.status + ').';
      setProgress(0);
      showErrors(msg, data && data.errors);
    });
    xhr.addEventListener('error', function () {
      busy = false;
      submit.disabled = false;
      showErrors('The upload stopped before the server answered. Check your connection and try again; if it keeps happening, the files together may be over the limit for one upload.');
    });
    busy = true;
    submit.disabled = true;
    if (summary) summary.hidden = true; // earlier problems are answered again by this attempt
    xhr.send(fd);
  });
})();
