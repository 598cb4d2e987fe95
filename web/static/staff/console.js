// Staff console behaviour, loaded as a file (the CSP forbids inline script).
// Forms marked data-confirm ask before submitting. A POST form is sent once: a double click
// would otherwise send a second take/decide/freeze that the server refuses as out of step.
document.addEventListener("submit", (event) => {
  const form = event.target;
  if (!(form instanceof HTMLFormElement)) return;
  const question = form.dataset.confirm;
  if (question && !window.confirm(question)) {
    event.preventDefault();
    return;
  }
  if (form.method.toLowerCase() !== "post") return;
  if (form.dataset.sent === "yes") {
    event.preventDefault();
    return;
  }
  form.dataset.sent = "yes";
  // Sent again after a Back navigation restores the page from the cache.
  window.addEventListener("pageshow", () => { delete form.dataset.sent; }, { once: true });
});

// A full card number typed into the queue search is masked before it leaves the browser, so
// it never reaches a URL, a server log or the browser history.
document.addEventListener("submit", (event) => {
  const form = event.target;
  if (!(form instanceof HTMLFormElement) || form.dataset.testid !== "queue-filters") return;
  const box = form.elements.namedItem("q");
  if (!(box instanceof HTMLInputElement)) return;
  const digits = box.value.replace(/[\s-]/g, "");
  if (/^\d{12,19}$/.test(digits)) box.value = digits.slice(0, 6) + "******" + digits.slice(-4);
});

// A select marked data-reasons-for="ID" picks which group of the select #ID is offered: only
// the optgroup whose data-action matches the chosen value stays visible and selectable.
// Without script every group shows under its label and the server refuses a mismatch.
function offerReasonsFor(chooser) {
  const reasons = document.getElementById(chooser.dataset.reasonsFor || "");
  if (!(reasons instanceof HTMLSelectElement)) return;
  let first = null;
  for (const group of reasons.querySelectorAll("optgroup[data-action]")) {
    const chosen = group.dataset.action === chooser.value;
    group.hidden = !chosen;
    group.disabled = !chosen;
    if (chosen && first === null) first = group.querySelector("option");
  }
  const current = reasons.selectedOptions[0];
  const currentGroup = current ? current.closest("optgroup") : null;
  if (first && (!current || (currentGroup && currentGroup.disabled))) first.selected = true;
}

document.addEventListener("change", (event) => {
  const target = event.target;
  if (target instanceof HTMLSelectElement && target.dataset.reasonsFor) offerReasonsFor(target);
});
document.querySelectorAll("select[data-reasons-for]").forEach(offerReasonsFor);
