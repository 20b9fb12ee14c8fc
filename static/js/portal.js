// Progressive enhancement only: every page works without this file.
(function () {
  "use strict";

  // Options menus (<details>): Escape closes, arrows move, a click outside closes.
  document.querySelectorAll("details[data-menu]").forEach(function (menu) {
    var summary = menu.querySelector("summary");
    var items = function () { return Array.from(menu.querySelectorAll("[role=menuitem]")); };
    menu.addEventListener("toggle", function () {
      summary.setAttribute("aria-expanded", menu.open ? "true" : "false");
      if (menu.open && items().length) items()[0].focus();
    });
    summary.setAttribute("aria-expanded", "false");
    menu.addEventListener("keydown", function (event) {
      var list = items();
      var index = list.indexOf(document.activeElement);
      if (event.key === "Escape" && menu.open) {
        menu.open = false;
        summary.focus();
        event.preventDefault();
      } else if (event.key === "ArrowDown" && list.length) {
        list[(index + 1) % list.length].focus();
        event.preventDefault();
      } else if (event.key === "ArrowUp" && list.length) {
        list[(index - 1 + list.length) % list.length].focus();
        event.preventDefault();
      }
    });
    document.addEventListener("click", function (event) {
      if (menu.open && !menu.contains(event.target)) menu.open = false;
    });
    // Tabbing out of the menu closes it; one menu is open at a time.
    menu.addEventListener("focusout", function (event) {
      if (menu.open && !menu.contains(event.relatedTarget)) menu.open = false;
    });
    summary.addEventListener("click", function () {
      document.querySelectorAll("details[data-menu][open]").forEach(function (other) {
        if (other !== menu) other.open = false;
      });
    });
  });

  // Number of licenses: − and + change the field in place; the preview follows.
  document.querySelectorAll("form[data-preview-url]").forEach(function (form) {
    var input = form.querySelector("input[name=seats]");
    var preview = document.getElementById("preview");
    var timer = null;
    var refresh = function () {
      clearTimeout(timer);
      timer = setTimeout(function () {
        var url = form.dataset.previewUrl + "?seats=" + encodeURIComponent(input.value.trim());
        fetch(url, { headers: { "X-Requested-With": "fetch" }, credentials: "same-origin" })
          .then(function (response) { return response.ok ? response.text() : ""; })
          .then(function (html) { if (html) preview.innerHTML = html; });
      }, 200);
    };
    form.querySelectorAll("button[data-step]").forEach(function (button) {
      button.addEventListener("click", function (event) {
        event.preventDefault();
        var current = parseInt(input.value, 10);
        if (isNaN(current)) current = 0;
        input.value = Math.max(0, current + parseInt(button.dataset.step, 10));
        refresh();
      });
    });
    input.addEventListener("input", refresh);
  });

  // Place order: one click is one submission (the server guarantees it anyway).
  document.querySelectorAll("form[data-once]").forEach(function (form) {
    form.addEventListener("submit", function () {
      var button = form.querySelector("button[type=submit]");
      setTimeout(function () { if (button) button.disabled = true; }, 0);
    });
  });
})();
