// Ciclo web form enhancement. Served at /v1/forms/{form}/embed.js after a line that calls
// it with the form's settings. Finds the page's own form (data-ciclo-form="{form}", or the
// form posting to this form's address), adds a submission id, the fill-time token, the
// UTM parameters and the page address, submits with fetch and shows field errors inline.
// Without JavaScript the form posts as it is. No cookies, no storage, no dependencies.
(function (settings) {
  "use strict";
  function ready(fn) {
    if (document.readyState !== "loading") fn();
    else document.addEventListener("DOMContentLoaded", fn);
  }
  function randomId() {
    var bytes = new Uint8Array(16);
    window.crypto.getRandomValues(bytes);
    return Array.prototype.map.call(bytes, function (b) {
      return ("0" + b.toString(16)).slice(-2);
    }).join("");
  }
  function hidden(form, name, value) {
    if (form.elements[name]) return;
    var input = document.createElement("input");
    input.type = "hidden";
    input.name = name;
    input.value = value;
    form.appendChild(input);
  }
  function clearErrors(form) {
    var old = form.querySelectorAll(".ciclo-error");
    for (var i = 0; i < old.length; i++) old[i].parentNode.removeChild(old[i]);
    var invalid = form.querySelectorAll("[aria-invalid]");
    for (var j = 0; j < invalid.length; j++) invalid[j].removeAttribute("aria-invalid");
  }
  function showError(form, field, message) {
    var note = document.createElement("span");
    note.className = "ciclo-error";
    note.setAttribute("role", "alert");
    note.textContent = message;
    var input = field && form.elements[field];
    if (input && input.nodeType === 1) {
      input.setAttribute("aria-invalid", "true");
      input.insertAdjacentElement("afterend", note);
    } else {
      form.insertBefore(note, form.firstChild);
    }
  }
  function enhance(form) {
    var params = new URLSearchParams(window.location.search);
    ["utm_source", "utm_medium", "utm_campaign", "utm_term", "utm_content"].forEach(function (k) {
      if (params.get(k)) hidden(form, k, params.get(k));
    });
    hidden(form, "page_url", window.location.href.split("#")[0]);
    hidden(form, "ciclo_started", settings.started);
    hidden(form, "submission_id", randomId());
    var sending = false;
    form.addEventListener("submit", function (event) {
      if (!window.fetch || !window.URLSearchParams) return;  // the plain post
      event.preventDefault();
      if (sending) return;
      sending = true;
      clearErrors(form);
      var body = new URLSearchParams();
      new FormData(form).forEach(function (value, name) {
        if (typeof value === "string") body.append(name, value);
      });
      fetch(form.action, {
        method: "POST",
        body: body,
        headers: { "Accept": "application/json" },
        credentials: "omit",
        mode: "cors"
      }).then(function (response) {
        return response.json().catch(function () { return {}; }).then(function (answer) {
          sending = false;
          if (response.ok) {
            if (settings.thank_you_url) {
              window.location.assign(settings.thank_you_url);
            } else {
              form.innerHTML = "";
              var thanks = document.createElement("p");
              thanks.className = "ciclo-thanks";
              thanks.textContent = settings.thanks;
              form.appendChild(thanks);
            }
          } else if (answer.errors && answer.errors.length) {
            answer.errors.forEach(function (e) { showError(form, e.field, e.message); });
          } else {
            showError(form, null, answer.detail || settings.failed);
          }
        });
      }, function () {
        sending = false;
        form.submit();  // the network failed: let the browser post the form itself
      });
    });
  }
  ready(function () {
    var path = "/v1/forms/" + settings.form + "/submissions";
    var forms = document.querySelectorAll("form");
    for (var i = 0; i < forms.length; i++) {
      var f = forms[i];
      var action = f.action.split("?")[0];
      if (f.getAttribute("data-ciclo-form") === settings.form ||
          action.slice(-path.length) === path) {
        enhance(f);
      }
    }
  });
})
