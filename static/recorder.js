// recorder.js: the professional discussion form's audio recorder: record with the
// microphone (MediaRecorder) while a level meter and a timer run, stop, play back, then
// save the record with the recording uploaded beside the form's fields, with a progress
// bar. Without JavaScript, MediaRecorder or the microphone's permission, the form's plain
// file input takes a recording made elsewhere, and the form posts as an ordinary form.
(function () {
  'use strict';
  var box = document.querySelector('[data-recorder]');
  var form = document.querySelector('form[data-record-form]');
  if (!box || !form || !window.MediaRecorder || !navigator.mediaDevices || !navigator.mediaDevices.getUserMedia ||
      !window.FormData || !window.XMLHttpRequest) {
    return;
  }
  var startBtn = box.querySelector('[data-rec-start]');
  var stopBtn = box.querySelector('[data-rec-stop]');
  var timer = box.querySelector('[data-rec-timer]');
  var meter = box.querySelector('[data-rec-level]');
  var status = box.querySelector('[data-rec-status]');
  var playback = box.querySelector('[data-rec-playback]');
  var progressBox = form.querySelector('[data-rec-progress]');
  var progress = progressBox && progressBox.querySelector('progress');
  var recorder = null, stream = null, audioCtx = null, chunks = [], started = 0, tick = null, raf = null;
  var recording = null; // the finished Blob
  var seconds = 0;

  box.hidden = false;

  function clock(s) {
    var m = Math.floor(s / 60), r = Math.floor(s % 60);
    return m + ':' + (r < 10 ? '0' : '') + r;
  }

  function pickType() {
    var types = ['audio/webm;codecs=opus', 'audio/ogg;codecs=opus', 'audio/webm', 'audio/mp4'];
    for (var i = 0; i < types.length; i++) {
      if (MediaRecorder.isTypeSupported && MediaRecorder.isTypeSupported(types[i])) return types[i];
    }
    return '';
  }

  function level(analyser, data) {
    analyser.getByteTimeDomainData(data);
    var sum = 0;
    for (var i = 0; i < data.length; i++) {
      var v = (data[i] - 128) / 128;
      sum += v * v;
    }
    meter.value = Math.min(1, Math.sqrt(sum / data.length) * 3);
    raf = window.requestAnimationFrame(function () { level(analyser, data); });
  }

  function cleanup() {
    if (tick) window.clearInterval(tick);
    if (raf) window.cancelAnimationFrame(raf);
    tick = raf = null;
    meter.value = 0;
    if (stream) stream.getTracks().forEach(function (t) { t.stop(); });
    stream = null;
    if (audioCtx && audioCtx.close) audioCtx.close();
    audioCtx = null;
  }

  startBtn.addEventListener('click', function () {
    status.textContent = 'Asking for the microphone…';
    navigator.mediaDevices.getUserMedia({audio: true}).then(function (s) {
      stream = s;
      var type = pickType();
      recorder = type ? new MediaRecorder(s, {mimeType: type}) : new MediaRecorder(s);
      chunks = [];
      recorder.ondataavailable = function (e) { if (e.data && e.data.size) chunks.push(e.data); };
      recorder.onstop = function () {
        recording = new Blob(chunks, {type: (recorder.mimeType || 'audio/webm').split(';')[0]});
        cleanup();
        playback.src = URL.createObjectURL(recording);
        playback.hidden = false;
        status.textContent = 'Recording of ' + clock(seconds) + ' ready (' + Math.round(recording.size / 1024) +
          ' KB). Listen back, then save the record to upload it.';
        startBtn.textContent = 'Record again';
        startBtn.disabled = false;
        stopBtn.disabled = true;
      };
      try {
        var AC = window.AudioContext || window.webkitAudioContext;
        if (AC) {
          audioCtx = new AC();
          var analyser = audioCtx.createAnalyser();
          analyser.fftSize = 512;
          audioCtx.createMediaStreamSource(s).connect(analyser);
          level(analyser, new Uint8Array(analyser.fftSize));
        }
      } catch (err) { /* the meter is a nicety: recording goes on without it */ }
      recording = null;
      playback.hidden = true;
      recorder.start(1000);
      started = Date.now();
      seconds = 0;
      timer.textContent = '0:00';
      tick = window.setInterval(function () {
        seconds = (Date.now() - started) / 1000;
        timer.textContent = clock(seconds);
      }, 250);
      status.textContent = 'Recording…';
      startBtn.disabled = true;
      stopBtn.disabled = false;
      stopBtn.focus();
    }).catch(function () {
      cleanup();
      status.textContent = 'The microphone is not available. You can choose a recording file below instead.';
    });
  });

  stopBtn.addEventListener('click', function () {
    if (recorder && recorder.state !== 'inactive') recorder.stop();
  });

  function showErrors(json) {
    var old = form.querySelector('[data-rec-errors]');
    if (old) old.remove();
    var div = document.createElement('div');
    div.className = 'error-summary';
    div.setAttribute('role', 'alert');
    div.setAttribute('data-rec-errors', '');
    var h = document.createElement('h2');
    h.className = 'error-summary__title';
    h.textContent = 'There is a problem';
    div.appendChild(h);
    var p = document.createElement('p');
    p.textContent = (json && json.error && json.error.message) || 'The record could not be saved. Please try again.';
    div.appendChild(p);
    var ul = document.createElement('ul');
    ul.className = 'error-summary__list';
    ((json && json.errors) || []).forEach(function (e) {
      var li = document.createElement('li');
      var a = document.createElement('a');
      a.href = '#' + e.field;
      a.textContent = e.message;
      li.appendChild(a);
      ul.appendChild(li);
    });
    div.appendChild(ul);
    form.parentNode.insertBefore(div, form);
    div.tabIndex = -1;
    div.focus();
  }

  form.addEventListener('submit', function (ev) {
    if (!recording) return; // no recording: the plain form post
    ev.preventDefault();
    var fd = new FormData(form);
    var ext = /ogg/.test(recording.type) ? 'ogg' : /mp4/.test(recording.type) ? 'm4a' : 'weba';
    var stamp = new Date().toISOString().slice(0, 16).replace(/[-:T]/g, '');
    fd.append('file', recording, 'discussion-' + stamp + '.' + ext);
    var xhr = new XMLHttpRequest();
    xhr.open('POST', form.getAttribute('data-api'));
    var csrf = form.querySelector('input[name=csrf_token]');
    if (csrf) xhr.setRequestHeader('X-CSRF-Token', csrf.value);
    xhr.setRequestHeader('Accept', 'application/json');
    if (progressBox) progressBox.hidden = false;
    xhr.upload.onprogress = function (e) {
      if (e.lengthComputable && progress) progress.value = Math.round((e.loaded / e.total) * 100);
    };
    xhr.onload = function () {
      var json = null;
      try { json = JSON.parse(xhr.responseText); } catch (err) { json = null; }
      if (xhr.status >= 200 && xhr.status < 300 && json && json.id) {
        if (progress) progress.value = 100;
        window.location.href = '/evidence/' + json.id + '?done=' + (json.status === 'draft' ? 'record_planned' : 'record_saved');
      } else {
        if (progressBox) progressBox.hidden = true;
        showErrors(json);
      }
    };
    xhr.onerror = function () {
      if (progressBox) progressBox.hidden = true;
      showErrors(null);
    };
    xhr.send(fd);
  });
})();
