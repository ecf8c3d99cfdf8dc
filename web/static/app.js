// Shuyu pages work without this file; it adds an upload progress bar and column insertion in the console.
// Loaded as a file (the Content-Security-Policy allows no inline script).
"use strict";

function uploadWithProgress(form) {
  const bar = document.getElementById(form.dataset.progress);
  const status = document.getElementById("upload-status");
  const errorBox = document.getElementById("upload-error");
  const button = form.querySelector("button[type=submit]");
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const request = new XMLHttpRequest();
    request.open("POST", form.action);
    request.setRequestHeader("Accept", "application/json");
    const csrf = form.querySelector("input[name=csrf]");
    if (csrf) { request.setRequestHeader("X-CSRF-Token", csrf.value); }
    request.upload.addEventListener("progress", (progress) => {
      if (progress.lengthComputable) {
        bar.value = Math.round((progress.loaded / progress.total) * 100);
      }
    });
    request.addEventListener("load", () => {
      let answer = {};
      try { answer = JSON.parse(request.responseText); } catch (_) { answer = {}; }
      if (request.status < 400 && answer.redirect) {
        bar.value = 100;
        window.location.assign(answer.redirect);
        return;
      }
      showError(errorBox, answer.title || request.statusText, answer.error || request.statusText);
      finish();
    });
    request.addEventListener("error", () => { showError(errorBox, "", request.statusText || "network error"); finish(); });
    bar.hidden = false;
    bar.value = 0;
    status.textContent = status.dataset.uploading;
    button.disabled = true;
    request.send(new FormData(form));
  });
  function finish() { button.disabled = false; status.textContent = ""; }
}

function showError(box, title, detail) {
  box.textContent = "";
  const panel = document.createElement("div");
  panel.className = "problem";
  panel.setAttribute("role", "alert");
  const strong = document.createElement("strong");
  strong.textContent = title;
  const sentence = document.createElement("p");
  sentence.textContent = detail;
  panel.append(strong, sentence);
  box.append(panel);
}

function insertIntoEditor(editor, text) {
  const start = editor.selectionStart ?? editor.value.length;
  const end = editor.selectionEnd ?? editor.value.length;
  editor.setRangeText(text, start, end, "end");
  editor.focus();
}

document.addEventListener("DOMContentLoaded", () => {
  document.querySelectorAll("form[data-progress]").forEach(uploadWithProgress);
  const editor = document.getElementById("sql");
  if (editor) {
    document.querySelectorAll("[data-insert]").forEach((chip) => {
      chip.addEventListener("click", () => insertIntoEditor(editor, chip.dataset.insert));
    });
  }
});

// A payment link the server asks to follow (Stripe Checkout): go there at once; the link stays for no-script use.
document.addEventListener("DOMContentLoaded", () => {
  const link = document.querySelector("a[data-auto-follow]");
  if (link) { window.location.assign(link.href); }
});
