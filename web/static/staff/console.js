// Staff console behaviour, loaded as a file (the CSP forbids inline script).
// Forms marked data-confirm ask before submitting.
document.addEventListener("submit", (event) => {
  const form = event.target;
  if (!(form instanceof HTMLFormElement)) return;
  const question = form.dataset.confirm;
  if (question && !window.confirm(question)) event.preventDefault();
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
