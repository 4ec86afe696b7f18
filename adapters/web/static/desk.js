// desk.js — the web desk's only script of its own (the Content-Security-
// Policy allows no inline script). A form being sent says so and cannot
// be sent again by a second click; its command would run once anyway
// (the form's token), but a long payroll step should not look stalled.
(function () {
  'use strict';
  function busy(form, on) {
    form.classList.toggle('busy', on);
    if (on) {
      form.setAttribute('aria-busy', 'true');
    } else {
      form.removeAttribute('aria-busy');
    }
    var note = form.querySelector('.busy-note');
    if (on && !note) {
      note = document.createElement('p');
      note.className = 'busy-note';
      note.setAttribute('role', 'status');
      note.textContent = '正在处理，请稍候……';
      form.appendChild(note);
    }
    if (!on && note) {
      note.remove();
    }
    form.querySelectorAll('button[type="submit"], button:not([type])').forEach(function (b) { b.disabled = on; });
  }
  document.addEventListener('submit', function (e) {
    var form = e.target;
    if (e.defaultPrevented || (form.method || '').toLowerCase() !== 'post' || form.hasAttribute('data-download')) {
      return;
    }
    // After the submission has started: a disabled button sends nothing.
    setTimeout(function () { busy(form, true); }, 0);
  });
  // A page shown again from the back-forward cache is ready again.
  window.addEventListener('pageshow', function (e) {
    if (e.persisted) {
      document.querySelectorAll('form.busy').forEach(function (f) { busy(f, false); });
    }
  });
})();
