// Forms that help as you type: the listing form checks each field at once (never changing what was typed),
// and the review form lists only the reasons that fit the chosen decision. Pages work without this file.
"use strict";

const zh = document.documentElement.lang === "zh-CN";
const say = (chinese, english) => (zh ? chinese : english);

function parseAmount(text) {
  const cleaned = text.trim().toUpperCase().replace(/^(RMB|CNY)/, "").replace(/[,，¥￥元\s]/g, "");
  return /^\d+(\.\d{1,2})?$/.test(cleaned || "0") ? Number(cleaned || "0") : null;
}

const CHECKS = {
  epsilon: (v) => (Number.isFinite(Number(v)) && Number(v) > 0 && Number(v) <= 10 ? "" :
    say("ε 须大于 0 且不超过 10", "ε must be above 0 and at most 10")),
  positive: (v) => (Number.isFinite(Number(v)) && Number(v) > 0 ? "" : say("须为大于 0 的数", "must be a number above 0")),
  whole: (v) => (/^\d+$/.test(v.trim()) ? "" : say("须为不小于 0 的整数", "must be a whole number")),
  money: (v) => (parseAmount(v) === null ? say("请写成 8000、8,000元、¥8000 或 8000.00 这样的金额",
    "write an amount such as 8000, 8,000, ¥8000 or 8000.00") : ""),
};

function checkField(input) {
  const box = document.getElementById(input.id + "-error");
  let message = input.value.trim() === "" && input.id === "default_epsilon" ? "" : CHECKS[input.dataset.check](input.value);
  const cap = document.getElementById("max_epsilon_per_query");
  const dflt = document.getElementById("default_epsilon");
  if (!message && input === dflt && dflt.value.trim() && Number(dflt.value) > Number(cap.value)) {
    message = say(`默认 ε（${dflt.value}）高于单次查询 ε 上限（${cap.value}）：请调低默认 ε 或调高上限`,
      `the default ε (${dflt.value}) is above the cap per query (${cap.value})`);
  }
  input.setAttribute("aria-invalid", message ? "true" : "false");
  if (box) { box.textContent = message; }
  return !message;
}

function liveChecks(form) {
  const inputs = Array.from(form.querySelectorAll("[data-check]"));
  inputs.forEach((input) => input.addEventListener("input", () => {
    checkField(input);
    if (input.id === "max_epsilon_per_query") { checkField(document.getElementById("default_epsilon")); }
  }));
  form.addEventListener("submit", (event) => {
    const bad = inputs.filter((input) => !checkField(input));
    if (bad.length) { event.preventDefault(); bad[0].focus(); }
  });
}

function filterReasons(select) {
  const form = select.form;
  const radios = Array.from(form.querySelectorAll(`input[name="${select.dataset.filterBy}"]`));
  const apply = () => {
    const chosen = radios.find((r) => r.checked);
    select.querySelectorAll("optgroup").forEach((group) => {
      const fits = chosen && group.dataset.action === chosen.value;
      group.hidden = !fits;
      group.disabled = !fits;
    });
    const current = select.selectedOptions[0];
    if (!current || current.parentElement.disabled) { select.value = ""; }
  };
  radios.forEach((r) => r.addEventListener("change", apply));
  apply();
}

document.addEventListener("DOMContentLoaded", () => {
  const form = document.getElementById("listing-form");
  if (form) { liveChecks(form); }
  document.querySelectorAll("select[data-filter-by]").forEach(filterReasons);
  document.querySelectorAll("[data-print]").forEach((b) => b.addEventListener("click", () => window.print()));
});
