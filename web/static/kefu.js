// Kefu: a little progressive enhancement; every page works without it.
"use strict";
document.addEventListener("DOMContentLoaded", function () {
  document.querySelectorAll("[data-print]").forEach(function (button) {
    button.addEventListener("click", function () { window.print(); });
  });
  // Scroll each case diagram so that the current step is in view.
  document.querySelectorAll(".diagram").forEach(function (box) {
    var current = box.querySelector(".node.ready") || box.querySelector(".node.done:last-of-type");
    if (!current || !current.getBBox) { return; }
    var svg = box.querySelector("svg");
    var bbox = current.getBBox();
    var view = svg.viewBox.baseVal;
    var scale = svg.getBoundingClientRect().width / view.width;
    box.scrollLeft = Math.max(0, (bbox.x - view.x) * scale - box.clientWidth / 2);
    box.scrollTop = Math.max(0, (bbox.y - view.y) * scale - box.clientHeight / 2);
  });
  // One click, one action: a form is sent once; its button says it is working. The server
  // also answers a repeat with the first result (web/once.py), for retries JS cannot see.
  document.querySelectorAll('form[method="post"]').forEach(function (form) {
    form.addEventListener("submit", function (event) {
      if (form.dataset.sent) { event.preventDefault(); return; }
      form.dataset.sent = "1";
      var pressed = event.submitter || form.querySelector('button[type="submit"]');
      form.querySelectorAll('button[type="submit"]').forEach(function (button) {
        button.setAttribute("aria-disabled", "true");
        button.classList.add("working");
      });
      if (pressed && document.body.dataset.working) {
        pressed.dataset.label = pressed.textContent;
        pressed.textContent = document.body.dataset.working;
      }
    });
  });
  // A page restored by the browser's back button can be sent again.
  window.addEventListener("pageshow", function (event) {
    if (!event.persisted) { return; }
    document.querySelectorAll('form[data-sent]').forEach(function (form) {
      delete form.dataset.sent;
      form.querySelectorAll("button.working").forEach(function (button) {
        button.removeAttribute("aria-disabled");
        button.classList.remove("working");
        if (button.dataset.label) { button.textContent = button.dataset.label; }
      });
    });
  });
  // A page that asks for it (data-refresh="seconds") looks again for new work, at the same
  // URL, so the filters applied stay applied; never while someone types in a field or has
  // changed a field without sending it. Without JS the page says when it was made.
  var refresh = document.querySelector("[data-refresh]");
  if (refresh) {
    var every = 1000 * Number(refresh.dataset.refresh);
    var changed = function () {
      return Array.prototype.some.call(document.querySelectorAll("input, select, textarea"),
        function (field) {
          if (field.type === "hidden" || field.type === "submit") { return false; }
          if (field.type === "checkbox" || field.type === "radio") {
            return field.checked !== field.defaultChecked;
          }
          if (field.tagName === "SELECT") {
            return Array.prototype.some.call(field.options, function (option, index) {
              var initially = option.defaultSelected ||
                (index === 0 && !field.querySelector("option[selected]"));
              return option.selected !== initially;
            });
          }
          return field.value !== field.defaultValue;
        });
    };
    var busy = function () {
      var active = document.activeElement;
      return document.hidden || changed() ||
        (active && /^(INPUT|SELECT|TEXTAREA)$/.test(active.tagName));
    };
    var paused = document.getElementById("refresh-paused");
    var look = function () {
      if (busy()) {
        if (paused) { paused.hidden = false; }
        window.setTimeout(look, Math.min(every, 10000));
        return;
      }
      window.location.replace(refresh.dataset.refreshUrl || window.location.href);
    };
    if (every > 0) { window.setTimeout(look, every); }
    // In between, it asks whether its lists changed (a digest, not the page), and reloads
    // as soon as they did; an unchanged answer only says when it last looked.
    var poll = 1000 * Number(refresh.dataset.poll || 0);
    if (poll > 0 && refresh.dataset.versionUrl) {
      var ask = function () {
        if (document.hidden) { window.setTimeout(ask, poll); return; }
        window.fetch(refresh.dataset.versionUrl, {credentials: "same-origin", cache: "no-store",
                                                  headers: {"Accept": "application/json"}})
          .then(function (response) { return response.ok ? response.json() : null; })
          .then(function (answer) {
            if (answer && answer.version && answer.version !== refresh.dataset.version) {
              look();
              return;
            }
            if (answer && answer.updated) { refresh.textContent = answer.updated; }
            window.setTimeout(ask, poll);
          }, function () { window.setTimeout(ask, poll); });
      };
      window.setTimeout(ask, poll);
    }
  }
  // A field shown only when another has a value (x-kefu-show-when): hidden otherwise, so
  // a personal leave shows no sick-leave fields. The server ignores what does not apply.
  document.querySelectorAll("form").forEach(function (form) {
    var conditional = form.querySelectorAll("[data-show-when]");
    if (!conditional.length) { return; }
    function valueOf(name) {
      var controls = form.querySelectorAll('[name="' + name + '"]');
      for (var i = 0; i < controls.length; i++) {
        var c = controls[i];
        if (c.closest("[hidden]")) { continue; }
        if (c.type === "radio") { if (c.checked) { return c.value; } continue; }
        if (c.type === "checkbox") { return c.checked ? "true" : "false"; }
        return c.value;
      }
      return null;
    }
    function update() {
      conditional.forEach(function (box) {
        var when = JSON.parse(box.dataset.showWhen);
        box.hidden = false;
        Object.keys(when).forEach(function (name) {
          if (when[name].indexOf(valueOf(name)) < 0) { box.hidden = true; }
        });
        box.querySelectorAll(".hint.when").forEach(function (hint) { hint.hidden = true; });
      });
    }
    form.addEventListener("change", function () { update(); update(); });
    update(); update();  // twice: a field may depend on one that depends on another
  });
  // A colleague typed by name or 工号 is shown as the one person it names, 刘洋（工号 1001）,
  // when exactly one of the picker's list matches (the server resolves it the same way).
  document.querySelectorAll("input[data-person]").forEach(function (input) {
    input.addEventListener("change", function () {
      var typed = input.value.trim();
      if (!typed || !input.list) { return; }
      var found = Array.prototype.filter.call(input.list.options, function (option) {
        var label = option.value;
        return label === typed || label.indexOf(typed + "（") === 0 ||
          label.indexOf(typed + " (") === 0 || label.indexOf(" " + typed + "）") > 0 ||
          label.indexOf(" " + typed + ")") > 0;
      });
      if (found.length === 1) { input.value = found[0].value; }
    });
  });
  // A shift picker of a colleague's shifts (data-shift-of): once the colleague is named,
  // offer their own shifts, asked of the roster.
  document.querySelectorAll("select[data-shift-of]").forEach(function (select) {
    var person = select.form && select.form.querySelector('[name="' + select.dataset.shiftOf + '"]');
    var source = document.body.dataset.shiftsUrl;
    if (!person || !source) { return; }
    person.addEventListener("change", function () {
      if (!person.value.trim()) { return; }
      var url = source + "?value=" + encodeURIComponent(select.dataset.shiftValue) +
        "&who=" + encodeURIComponent(person.value.trim());
      fetch(url, {credentials: "same-origin"}).then(function (r) { return r.json(); })
        .then(function (shifts) {
          if (!shifts.length) { return; }
          var first = select.options[0];
          select.innerHTML = "";
          select.appendChild(first);
          shifts.forEach(function (s) {
            var option = document.createElement("option");
            option.value = s.value;
            option.textContent = s.label;
            select.appendChild(option);
          });
        });
    });
  });
  // Focus the first field with an error, so a keyboard or phone user lands on it.
  var firstError = document.querySelector(".has-error input, .has-error select, .has-error textarea");
  if (firstError) { firstError.focus(); }
});
