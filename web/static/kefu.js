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
  // Focus the first field with an error, so a keyboard or phone user lands on it.
  var firstError = document.querySelector(".has-error input, .has-error select, .has-error textarea");
  if (firstError) { firstError.focus(); }
});
