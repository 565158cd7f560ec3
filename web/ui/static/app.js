// authz admin console: progressive enhancement only; every page works
// without this file. Copy buttons, confirmation dialogs, the live
// effective-permissions preview, the new-client form's authentication
// fields, and keeping a shown secret out of the browser history.
(function () {
  "use strict";

  // A page that answered a POST (a new secret) takes the client's own URL,
  // so that reloading it is a GET, which never shows a secret.
  var canonical = document.body && document.body.getAttribute("data-canonical");
  if (canonical && window.history && history.replaceState) {
    history.replaceState(null, "", canonical);
  }

  function announce(msg) {
    var s = document.getElementById("copy-status");
    if (s) { s.textContent = msg; }
  }

  // Copy buttons: <button data-copy="ID"> copies the text of element ID.
  document.querySelectorAll("button[data-copy]").forEach(function (btn) {
    var target = document.getElementById(btn.getAttribute("data-copy"));
    if (!target) { return; }
    btn.hidden = false;
    btn.addEventListener("click", function () {
      var text = target.textContent.trim();
      var label = btn.textContent;
      var done = function () {
        announce(label.replace(/^Copy /, "Copied the ") + " to the clipboard.");
        btn.setAttribute("data-copied", "true");
      };
      var fallback = function () {
        var range = document.createRange();
        range.selectNodeContents(target);
        var sel = window.getSelection();
        sel.removeAllRanges();
        sel.addRange(range);
        var ok = false;
        try { ok = document.execCommand("copy"); } catch (e) { ok = false; }
        if (ok) { done(); } else { announce("Press Ctrl+C (or ⌘C) to copy the selected text."); }
      };
      if (navigator.clipboard && window.isSecureContext) {
        navigator.clipboard.writeText(text).then(done, fallback);
      } else {
        fallback();
      }
    });
  });

  // Destructive forms ask first; the server asks again on its own page when
  // this script does not run (no confirm=yes field).
  document.querySelectorAll("form[data-confirm]").forEach(function (form) {
    form.addEventListener("submit", function (ev) {
      if (!window.confirm(form.getAttribute("data-confirm"))) {
        ev.preventDefault();
        return;
      }
      if (!form.querySelector("input[name=confirm]")) {
        var c = document.createElement("input");
        c.type = "hidden";
        c.name = "confirm";
        c.value = "yes";
        form.appendChild(c);
      }
    });
  });

  // A form is sent once: a double click must not create two clients.
  document.querySelectorAll("form[method=post]").forEach(function (form) {
    form.addEventListener("submit", function (ev) {
      if (ev.defaultPrevented) { return; }
      if (form.getAttribute("data-sent") === "true") { ev.preventDefault(); return; }
      form.setAttribute("data-sent", "true");
    });
  });

  // Coming back to a page (back button) must allow sending its forms again.
  window.addEventListener("pageshow", function (ev) {
    if (ev.persisted) {
      document.querySelectorAll("form[data-sent]").forEach(function (f) { f.removeAttribute("data-sent"); });
    }
  });

  // New client and edit: the scopes offered are the (selected) owner's
  // permissions; the preview shows what a token would carry.
  var owner = document.querySelector("[data-owner-select]");
  if (owner) {
    var output = document.getElementById("effective");
    var ownerPerms = document.getElementById("owner-perms");
    var boxes = Array.prototype.slice.call(document.querySelectorAll("[data-scope]"));

    var codeList = function (el, items, empty) {
      el.textContent = "";
      if (items.length === 0) {
        var span = document.createElement("span");
        span.className = "muted";
        span.textContent = empty;
        el.appendChild(span);
        return;
      }
      items.forEach(function (it) {
        var code = document.createElement("code");
        code.className = "scope";
        code.textContent = it;
        el.appendChild(code);
        el.appendChild(document.createTextNode(" "));
      });
    };

    // A select offers owners (creation); any other element is the fixed
    // owner of the client being edited.
    var held = function () {
      var opt = owner.tagName === "SELECT" ? owner.options[owner.selectedIndex] : owner;
      var list = (opt && opt.getAttribute("data-permissions")) || "";
      return list.split(" ").filter(Boolean);
    };

    var update = function () {
      var perms = held();
      var effective = [];
      boxes.forEach(function (wrap) {
        var scope = wrap.getAttribute("data-scope");
        var input = wrap.querySelector("input");
        var ok = perms.indexOf(scope) >= 0;
        wrap.hidden = !ok;
        input.disabled = !ok;
        if (!ok) { input.checked = false; }
        if (ok && input.checked) { effective.push(scope); }
      });
      if (ownerPerms) { codeList(ownerPerms, perms, "no permissions"); }
      codeList(output, effective, "none: tokens carry no permission");
    };

    owner.addEventListener("change", update);
    boxes.forEach(function (wrap) {
      wrap.querySelector("input").addEventListener("change", update);
    });
    update();
  }

  // New client: only the chosen authentication's fields are shown (every
  // one of them without this script).
  var authChoices = document.querySelectorAll("input[name=auth]");
  if (authChoices.length) {
    var showAuth = function () {
      var chosen = document.querySelector("input[name=auth]:checked");
      document.querySelectorAll("[data-auth-for]").forEach(function (el) {
        el.hidden = !chosen || el.getAttribute("data-auth-for") !== chosen.value;
      });
    };
    authChoices.forEach(function (r) { r.addEventListener("change", showAuth); });
    showAuth();
  }

  // Move focus to an error summary so that it is read out first.
  var summary = document.getElementById("error-summary");
  if (summary) { summary.focus(); }
})();
